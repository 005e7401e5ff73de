import test from 'node:test';
import assert from 'node:assert/strict';
import { codeParts, nudge } from '../../static/js/tools.js';

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
