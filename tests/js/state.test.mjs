import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULTS, clampPrecision, decodeState, encodeState, pageState } from '../../static/js/state.js';
import { caretFor, freeNames } from '../../static/js/source.js';

test('a state survives the URL hash round trip', () => {
  const s = {
    expression: 'q = x + y\nf = q * z  # a comment & more',
    values: { x: -2, y: 5, W: { randn: [5, 10], seed: 3 } },
    expand: true, precision: 4, magnitude: true, boxes: true, step: 4,
  };
  assert.deepEqual(decodeState(encodeState(s)), s);
  assert.deepEqual(decodeState(encodeState({ ...s, step: 0 })).step, 0, 'step 0 is the inputs set');
});

test('a link keeps the step on show; none, or a malformed one, is the whole circuit', () => {
  assert.equal(decodeState(encodeState({ expression: 'x', step: null })).step, null);
  assert.ok(!encodeState({ expression: 'x', step: null }).includes('s='));
  for (const s of ['-1', '2.5', 'abc', '']) assert.equal(decodeState(`#e=x&s=${s}`).step, null, s);
});

test('an empty or broken hash gives the defaults, never a throw', () => {
  assert.deepEqual(decodeState(''), DEFAULTS);
  assert.deepEqual(decodeState('#garbage'), DEFAULTS);
  const s = decodeState('#e=x*2&v=%7Bnot-json&p=99');
  assert.equal(s.expression, 'x*2');
  assert.deepEqual(s.values, {});
  assert.equal(s.precision, 8);
});

test("the page state holds the link's fields, and the link is made of those fields only", () => {
  const hash = encodeState({ expression: 'x * y', values: { x: 2 }, expand: true, precision: 3, boxes: true });
  const s = pageState(hash);
  assert.deepEqual({ ...decodeState(hash) }, Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, s[k]])));
  assert.deepEqual([s.answer, s.drawn, s.pinned, s.seq, s.asked.size], [null, null, null, 0, 0]);
  s.answer = { circuit: {}, body: {} };
  s.asked.add('k');
  assert.equal(encodeState(s), hash);
  assert.equal(pageState(hash).asked.size, 0, 'each page state has its own sets');
});

test('precision is clamped to 0..8', () => {
  assert.equal(clampPrecision(-3), 0);
  assert.equal(clampPrecision('5'), 5);
  assert.equal(clampPrecision('abc'), 2);
});

test('free names skip functions, attributes, keywords, modules, assigned names and exponents', () => {
  assert.deepEqual(freeNames('(x + y) * z'), ['x', 'y', 'z']);
  assert.deepEqual(freeNames('sigmoid(w0*x0 + w1*x1 + w2)'), ['w0', 'x0', 'w1', 'x1', 'w2']);
  assert.deepEqual(freeNames('sigy = 1.0 / (1 + math.exp(-y))\nnum = x + sigy'), ['y', 'x']);
  assert.deepEqual(freeNames('np.dot(W, x) + b * 1e5 # y is in a comment'), ['W', 'x', 'b']);
  assert.deepEqual(freeNames('x.dot(w.T); x'), ['x', 'w']);
  assert.deepEqual(freeNames('sum(x, axis = 0)'), ['x'], 'a keyword is not an input');
  const micrograd = "a = Value(2.0, label='x1')\nb = a * k; b.label = 'b*k'\n"
    + "print(f'{b.grad}')\nb.backward()";
  assert.deepEqual(freeNames(micrograd), ['k'], 'prints and labels name no input');
  assert.deepEqual(freeNames(`import torch\nfrom micrograd.engine import Value\n${micrograd}`), [],
    'code that imports a library is run as written: k is an error there, as in Python');
  assert.deepEqual(freeNames('x = torch.tensor(2.0)\nx.requires_grad = True\ny = F.relu(x) + z'),
    ['z']);
});

test('the caret sits under the span on its own line', () => {
  const c = caretFor('(x+y)*', 6, 7);
  assert.equal(c.line, '(x+y)*');
  assert.equal(c.caret, '      ^');
  const d = caretFor('a = 1\nb = a +* 2', 14, 15);
  assert.equal(d.lineNo, 2);
  assert.equal(d.line, 'b = a +* 2');
  assert.equal(d.caret, '        ^');
  assert.equal(caretFor('x', 0, 1).caret, '^');
});

test('the column counts characters as the server does: an emoji is one', () => {
  const text = "x = 3\nprint('🌟'); y = (x + 1]";
  const c = caretFor(text, text.indexOf(']'), text.indexOf(']') + 1);
  assert.equal(c.column + 1, 23); // the server's "line 2, column 23"
  assert.equal(c.line[c.caret.indexOf('^')], ']');
});

test('a long line is shown around its error, cut with …, the caret still under it', () => {
  const text = `f = ${'('.repeat(300)}x${')'.repeat(300)}`;
  const c = caretFor(text, 204, 205); // the 201st bracket
  assert.equal(c.column, 204);
  assert.ok(c.line.startsWith('…(') && c.line.endsWith('(…'), c.line);
  assert.equal(c.line.length, 82);
  assert.equal(c.caret.indexOf('^'), 21);
  assert.equal(c.line[c.caret.indexOf('^')], '(');
  const end = caretFor(text, text.length - 1, text.length); // near the end: no … after
  assert.ok(end.line.startsWith('…') && end.line.endsWith(')'));
  assert.equal(end.caret.length, end.line.length);
});
