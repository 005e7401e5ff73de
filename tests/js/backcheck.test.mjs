import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  backwardStart, focusOf, forwardPart, gutterMarks, pair, summary,
} from '../../static/js/backcheck.js';

const hasBackwardPass = (text) => backwardStart(text) >= 0;

// the table the server's rule (engine/circuit.py backward_start) is held to too
const STARTS = JSON.parse(readFileSync(new URL('../backward_start.json', import.meta.url), 'utf8'));

test('where a backward pass starts is decided as the server decides', () => {
  for (const { code, starts, why } of STARTS) {
    assert.equal(backwardStart(code), starts === null ? -1 : code.indexOf(starts), why ?? code);
  }
});

const STAGED = `x = 3 # example values
y = -4
sigy = 1.0 / (1 + math.exp(-y))
num = x + sigy
f = num * x`;

test('a program ending with d<name> lines for its own names has a backward pass', () => {
  assert.equal(hasBackwardPass(`${STAGED}\ndnum = x\ndx = num\ndx += (1) * dnum`), true);
  assert.equal(hasBackwardPass('x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndq = z; dz = q\ndx = dq; dy = dq'), true);
  // a free input counts: its gradient is asked for
  assert.equal(hasBackwardPass('f = x * k\ndx = k'), true);
});

test('the backward pass starts at its first statement; the forward part is what comes before', () => {
  const code = `${STAGED}\n\n# backprop f = num * x\n  dnum = x; dx = num\ndx += (1) * dnum`;
  assert.equal(backwardStart(code), code.indexOf('dnum = x'));
  assert.equal(forwardPart(code), `${STAGED}\n\n# backprop f = num * x`, "as the server's forward_end: comments before it stay");
  const inline = 'x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndq = z * df; dz = q * df\ndx = dq; dy = dq';
  assert.equal(forwardPart(inline), 'x = -2; y = 5; z = -4\nq = x + y\nf = q * z');
  assert.equal(forwardPart(`${STAGED}  `), `${STAGED}  `, 'no backward pass: the text as it is');
});

test('forward passes alone have none, whatever their names', () => {
  assert.equal(hasBackwardPass(STAGED), false);
  assert.equal(hasBackwardPass('(x + y) * z'), false);
  // dot is not the gradient of a variable "ot"; d is one letter, not d<name>
  assert.equal(hasBackwardPass('w = [2, -3]\nx = [1, 2]\ndot = w[0]*x[0] + w[1]*x[1]\nf = sigmoid(dot)'), false);
  assert.equal(hasBackwardPass('a = Value(2.0)\nd = a * 2\nd += d * 2\ne = d'), false);
  // a forward statement after a d<name> line: dx is a variable of the forward pass here
  assert.equal(hasBackwardPass('x = 1\ndx = 0.1\nf = x + dx'), false);
  // names in comments do not count
  assert.equal(hasBackwardPass('# x is the input\nf = 2 * y\ndx = 2'), false);
});

// the notes' first code example, as printed
const NOTES = `# set some inputs
x = -2; y = 5; z = -4

# perform the forward pass
q = x + y # q becomes 3
f = q * z # f becomes -12

# perform the backward pass (backpropagation) in reverse order:
# first backprop through f = q * z
dfdz = q # df/dz = q, so gradient on z becomes 3
dfdq = z # df/dq = z, so gradient on q becomes -4
dqdx = 1.0
dqdy = 1.0
# now backprop through q = x + y
dfdx = dfdq * dqdx  # The multiplication here is the chain rule!
dfdy = dfdq * dqdy  `;

test('the notes\' names: d<output>d<name> and d<a>d<b> for an input b of a start a backward pass', () => {
  assert.equal(backwardStart(NOTES), NOTES.indexOf('dfdz = q'));
  assert.equal(forwardPart(NOTES), NOTES.slice(0, NOTES.indexOf('\n\n# perform the backward')) +
    '\n\n# perform the backward pass (backpropagation) in reverse order:\n# first backprop through f = q * z');
  // a local gradient may come first: q is computed from x
  assert.equal(backwardStart('q = x + y\nf = q * z\ndqdx = 1.0\ndfdq = z'), 'q = x + y\nf = q * z\n'.length);
  assert.equal(backwardStart('q = x + y\nf = q * z\ndq = z; dfdz = q'), 'q = x + y\nf = q * z\n'.length);
});

test('a forward pass with a variable named like dfdy has no backward pass', () => {
  // nothing named f or y before it
  assert.equal(hasBackwardPass('x = 3\ndfdy = x * 2'), false);
  // x is neither the last name assigned nor computed from y
  assert.equal(hasBackwardPass('x = 1; y = 2\ndxdy = x * y'), false);
  assert.equal(hasBackwardPass('x = 1; y = 2\nq = x * 3\nf = q + y\ndqdy = f * 2'), false);
  // a forward statement follows it
  assert.equal(hasBackwardPass('x = 3; y = 2\nf = x * y\ndfdy = f + 1\ng = dfdy * 2'), false);
});

test('numbers are shown with the decimals it takes to tell them apart', () => {
  const whole = (got, expected) => ({ at: '', got, expected });
  assert.deepEqual(pair(-0.0357, 1.547, 2), whole('-0.04', '1.55'));
  assert.deepEqual(pair(1.5001, 1.5002, 2), whole('1.5001', '1.5002'));
  assert.deepEqual(pair([0.39, -0.59], [0.39, -0.58], 2), whole('[0.39, -0.59]', '[0.39, -0.58]'));
  assert.deepEqual(pair('Infinity', 1, 2), whole('∞', '1.00'));
});

test('of a big tensor the first element that differs is shown, its index apart', () => {
  const right = [[1, 2, 3], [4, 5, 6]];
  assert.deepEqual(pair([[1, 2, 3], [4, -5, 6]], right, 2), { at: '[1, 1]', got: '-5.00', expected: '5.00' });
  assert.deepEqual(pair([1, 2, 3, 4, 5.0001], [1, 2, 3, 4, 5], 2), { at: '[4]', got: '5.0001', expected: '5.0000' });
  // none differs at 8 decimals, or the shapes differ: the size alone
  assert.deepEqual(pair(right, right, 2), { at: '', got: '6 values', expected: '6 values' });
  assert.deepEqual(pair([[1, 2, 3]], right, 2), { at: '', got: '3 values', expected: '6 values' });
});

const line = (n, name, status, message = null, of = ['f'], v = name.slice(1)) => ({
  line: n, name, var: v, of, ok: status === 'ok', status, got: 1, expected: status === 'ok' ? 1 : 2, message,
  span: [10 * n, 10 * n + 5],
});

const WRONG = {
  output: 'f', value: 1.5, passed: false, first_wrong: 28,
  lines: [line(25, 'dx', 'ok'), line(26, 'dy', 'ok'),
    line(28, 'dx', 'wrong', 'dx was overwritten: it already held the gradient from xpy — use +=.'),
    line(30, 'dx', 'inherits', "this line's own step is right, but it builds on dx, which is wrong since line 28."),
    line(31, 'dsigy', 'ok'), line(31, 'dy', 'inherits', 'builds on dy')],
  gradients: { x: { name: 'dx', got: 0.48, expected: 2.06, ok: false, message: 'dx lost its contribution through xpy' },
    y: { name: 'dy', got: 1.59, expected: 1.59, ok: true, message: null } },
  forward_end: 200, warnings: [],
};

test('each backward line gets one gutter mark, the worst of its statements', () => {
  const marks = gutterMarks(WRONG);
  assert.deepEqual(marks.map((m) => [m.line, m.mark]), [[25, 'ok'], [26, 'ok'], [28, 'wrong'], [30, 'inherits'], [31, 'inherits']]);
  assert.equal(marks[2].title, 'dx: dx was overwritten: it already held the gradient from xpy — use +=.');
  assert.match(marks[3].title, /wrong since line 28/);
  assert.equal(marks[4].title, 'dsigy = 1.00: right\ndy: builds on dy');
});

test('the page points at the first wrong line, else at the first wrong gradient', () => {
  assert.deepEqual(focusOf(WRONG), {
    line: 28, span: [280, 285], name: 'x', gradient: 'dx', got: 1, expected: 2,
    message: 'dx was overwritten: it already held the gradient from xpy — use +=.',
  });
  const dropped = { ...WRONG, first_wrong: null, lines: WRONG.lines.filter((e) => e.status === 'ok') };
  assert.deepEqual(focusOf(dropped), {
    line: null, span: null, name: 'x', gradient: 'dx', got: 0.48, expected: 2.06,
    message: 'dx lost its contribution through xpy',
  });
  const right = { ...dropped, passed: true, gradients: { y: WRONG.gradients.y } };
  assert.equal(focusOf(right), null);
});

// the notes' matrix multiply: dD = np.random.randn(*D.shape) is the output's gradient, given
const MATRIX = {
  output: 'D', value: [[1]], passed: true, first_wrong: null,
  lines: [{ ...line(6, 'dD', 'ok', null, [], 'D'), given: true }, line(7, 'dW', 'ok', null, ['D']),
    line(8, 'dX', 'ok', null, ['D'])],
  gradients: { W: { name: 'dW', got: 1, expected: 1, ok: true, message: null },
    X: { name: 'dX', got: 1, expected: 1, ok: true, message: null } },
  forward_end: 60, warnings: [],
};

test('the output\'s gradient given as data is not counted as a backward line, and is marked given', () => {
  assert.equal(summary(MATRIX), "✓ both backward lines right, from the given dD: dW and dX equal the engine's gradients");
  const marks = gutterMarks(MATRIX);
  assert.deepEqual(marks[0], { line: 6, mark: 'given', title: 'dD: given, the gradient the backward pass starts from' });
  assert.deepEqual(marks.slice(1).map((m) => m.mark), ['ok', 'ok']);
  const one = { ...MATRIX, lines: MATRIX.lines.slice(0, 2), gradients: { W: MATRIX.gradients.W } };
  assert.equal(summary(one), "✓ the backward line is right, from the given dD: dW equals the engine's gradient");
});

test('the verdict in one sentence', () => {
  assert.equal(summary(WRONG), '✗ line 28 is the first wrong line (2 more build on a wrong line)');
  const passed = { ...WRONG, passed: true, first_wrong: null, lines: Array.from({ length: 12 }, (_, k) => line(k + 1, 'dx', 'ok')),
    gradients: { x: WRONG.gradients.x, y: WRONG.gradients.y } };
  assert.equal(summary(passed), "✓ all 12 backward lines right: dx and dy equal the engine's gradients");
  const notes = { ...passed, gradients: { x: { ...WRONG.gradients.y, name: 'dfdx' }, z: { ...WRONG.gradients.y, name: 'dfdz' } } };
  assert.equal(summary(notes), "✓ all 12 backward lines right: dfdx and dfdz equal the engine's gradients");
  const dropped = { ...WRONG, first_wrong: null, lines: WRONG.lines.filter((e) => e.status === 'ok') };
  assert.equal(summary(dropped), "✗ every line's own step is right, but dx is not the engine's gradient");
  // a gradient no line computes is said to be missing, not wrong
  const none = { name: 'dT', got: null, expected: [1, 2], ok: false, message: 'no line computes dT' };
  const data = { ...dropped, gradients: { X: { ...none, name: 'dX' }, T: none, W: WRONG.gradients.y } };
  assert.equal(summary(data), "✗ every line's own step is right, but no line computes dX and dT");
  const both = { ...dropped, gradients: { ...dropped.gradients, T: none, z: { ...WRONG.gradients.x, name: 'dz' } } };
  assert.equal(summary(both),
    "✗ every line's own step is right, but dx and dz are not the engine's gradients, and no line computes dT");
});
