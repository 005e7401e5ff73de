import test from 'node:test';
import assert from 'node:assert/strict';
import { checkCell, codeParts, moveText, nudge } from '../../static/js/tools.js';

const circuit = { nodes: [{ id: 'n0', kind: 'input', name: 'x', shape: [3], value: [1, 2, 3] },
  { id: 'n1', kind: 'input', name: 'W', shape: [2, 2], value: [[1, 2], [3, 4]] }] };

test('a nudge of an element out of range says which index and what range to choose', async () => {
  assert.equal(await nudge({ circuit, body: {} }, 'x', 0.1, 2, [5]),
    'x has shape 3: index 5 is out of range; choose 0 to 2.');
  assert.equal(await nudge({ circuit, body: {} }, 'W', 0.1, 2, [1, 2]),
    'W has shape 2×2: index 2 in place 2 is out of range; choose 0 to 1.');
  assert.equal(await nudge({ circuit, body: {} }, 'x', 0.1, 2, [Number('a')]),
    'x has shape 3: an index is not a whole number; choose 0 to 2.');
  assert.equal(await nudge({ circuit, body: {} }, 'x', 0.1, 2, []),
    'Choose an element of x (shape 3), e.g. 0.');
});

test('the staged code folds each helper it defines to its def line, and keeps every character', () => {
  const source = 'import numpy as np\n\ndef softmax_ce(z, labels):\n    """Mean."""\n    return 1\n\n\n'
    + 'def _rows(z):\n    return 2\n\n\n# inputs\nx = 1.0\n\ndef_x = x\n';
  const parts = codeParts(source);
  assert.deepEqual(parts, [
    { text: 'import numpy as np\n\n' },
    { head: 'def softmax_ce(z, labels):\n', body: '    """Mean."""\n    return 1\n' },
    { text: '\n\n' },
    { head: 'def _rows(z):\n', body: '    return 2\n' },
    { text: '\n\n# inputs\nx = 1.0\n\ndef_x = x\n' },
  ]);
  assert.equal(parts.map((p) => p.text ?? p.head + p.body).join(''), source);
  assert.deepEqual(codeParts('x = 1\n'), [{ text: 'x = 1\n' }]);
});

test('the check shows a gradient of up to four elements in full, a bigger one by its worst element', () => {
  assert.equal(checkCell(-4, 1, [], 4), '-4.0000');
  assert.equal(checkCell([2, -3, 'NaN'], 3, [2], 4), '[2.0000, -3.0000, NaN]');
  assert.equal(checkCell([[1, null], [3, 4]], 4, [1, 0], 2), '[[1.00, —], [3.00, 4.00]]');
  assert.equal(checkCell([[1, 2, 3], [4, 5, 6]], 6, [1, 2], 2), '6.00');
  assert.equal(checkCell(null, 2, null, 4), '—');
});

test('a nudge shows its input with enough decimals for the step to show', () => {
  assert.equal(moveText('y', -4, 0.01, 4), 'y: -4.0000 → -3.9900');
  assert.equal(moveText('y', -4, 1e-9, 4), 'y: -4.000000000 → -3.999999999');
  assert.equal(moveText('w[1]', 2.5e-7, 1e-12, 4), 'w[1]: 2.50000e-7 → 2.50001e-7');
  assert.equal(moveText('x', 1e6, 1e-9, 4), 'x: 1.000000000000000e+6 → 1.000000000000001e+6');
});

test('a nudge too small to move its input in float64 says so', async () => {
  const one = { nodes: [{ id: 'n0', kind: 'input', name: 'x', shape: [], value: 1e17 }], gradients: { x: 1 } };
  assert.equal(await nudge({ circuit: one, body: {} }, 'x', 1, 2),
    'x + h is x = 1.00e+17 in float64: choose a larger h.');
});
