import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  askCircuit, dropGone, inputRows, requestOf, requestValues, rowsOf, shapeOf, sliderSpan, valueProblem,
} from '../../static/js/inputs.js';
import { pageState, encodeState } from '../../static/js/state.js';
import { ADD_MUL } from './fixtures.mjs';

/** A page state for `expression` and `values`, as a link would open it. */
const opened = (expression, values = {}) => pageState(encodeState({ expression, values }));

const STAGED = 'x = 3 # example values\ny = -4\nsigy = 1.0 / (1 + math.exp(-y))\nf = (x + sigy) * z';

test('rows: literals set in the program, free names the user gives, in order of first use', () => {
  assert.deepEqual(inputRows(STAGED), [
    { name: 'x', program: true, value: 3, literal: '3' },
    { name: 'y', program: true, value: -4, literal: '-4' },
    { name: 'z', program: false },
  ]);
});

test('the request sends the user values of free names only: no literal, no leftover', () => {
  const values = { x: -2, y: 5, z: -4, w: 7 }; // the starting example's, and a name now gone
  assert.deepEqual(requestValues(inputRows(STAGED), values), { z: -4 });
  assert.deepEqual(requestValues(inputRows('a * b + c'), values), { a: 1, b: 1, c: 1 });
});

test("the drawn circuit's inputs decide, and names the server asked for get rows", () => {
  assert.deepEqual(inputRows('f = x * k', ['x']).map((r) => r.name), ['x']);
  assert.deepEqual(inputRows('f = g(x)', null, ['q']).map((r) => r.name), ['x', 'q']);
});

test('code that imports a library is run as written: a name it never assigns gets no row', () => {
  const micrograd = 'from micrograd.engine import Value\na = Value(-4.0)\nb = Value(2.0)\n'
    + 'd = a * bb + b**3';
  assert.deepEqual(inputRows(micrograd).map((r) => r.name), ['a', 'b']);
  assert.deepEqual(inputRows('import numpy as np\nf = np.exp(x) * 2').map((r) => r.name), []);
  assert.deepEqual(inputRows('q = x + y\nf = q * z').map((r) => r.name), ['x', 'y', 'z']);
});

test('an input the program computes (a random tensor, 2 * 3) is set in the program and not sent', () => {
  const text = 'X = np.random.randn(4, 3)\nk = 2 * 3\nw = 5\nf = (X * k * w * z).sum()';
  const rows = inputRows(text, ['X', 'k', 'w', 'z']);
  assert.deepEqual(rows, [
    { name: 'X', program: true },
    { name: 'k', program: true },
    { name: 'w', program: true, value: 5, literal: '5' },
    { name: 'z', program: false },
  ]);
  assert.deepEqual(requestValues(rows, {}), { z: 1 });
  // a value given to it all the same (a descent step) is sent
  assert.deepEqual(requestValues(rows, { X: [[1]] }), { X: [[1]], z: 1 });
});

test('slider ranges follow the magnitude of the value', () => {
  assert.equal(sliderSpan(0), 1);
  assert.equal(sliderSpan(3), 10);
  assert.equal(sliderSpan(-40), 100);
  assert.equal(sliderSpan(2000), 10000);
});

test("the page state's rows: the text, the drawn circuit's inputs when drawn from it, asked names", () => {
  const state = opened('(x + y) * z\ndz = x + y', { x: -2, y: 5, z: -4, gone: 1 });
  assert.deepEqual(rowsOf(state).map((r) => r.name), ['x', 'y', 'z'], 'a backward pass names no input');
  assert.deepEqual(requestOf(state), { expression: state.expression, values: { x: -2, y: 5, z: -4 }, expand: false });
  state.asked.add('k');
  assert.deepEqual(rowsOf(state).map((r) => r.name), ['x', 'y', 'z', 'k']);
  // Drawn from this very text, the circuit decides: it has no y (and no k).
  const circuit = { ...ADD_MUL, nodes: ADD_MUL.nodes.filter((n) => n.name !== 'y') };
  state.drawn = { circuit, body: { expression: '(x + y) * z' } };
  assert.deepEqual(rowsOf(state).map((r) => r.name), ['x', 'z']);
  state.drawn.body.expression = 'an older text';
  assert.deepEqual(rowsOf(state).map((r) => r.name), ['x', 'y', 'z', 'k']);
});

test("after an answer, the values and asked names of inputs its program lacks go", () => {
  const state = opened('(x + y) * z', { x: -2, y: 5, z: -4, w: 7 });
  state.asked.add('z').add('k');
  dropGone(state, { circuit: ADD_MUL, body: { values: { x: -2, y: 5, z: -4 } } });
  assert.deepEqual(state.values, { x: -2, y: 5, z: -4 });
  assert.deepEqual([...state.asked], ['z']);
});

/** fetch answering /api/circuit with `answers` in turn, recording the bodies sent. */
function serve(answers) {
  const sent = [];
  globalThis.fetch = async (path, init) => {
    sent.push(JSON.parse(init.body));
    const [status, data] = answers[sent.length - 1];
    const type = status === 200 ? 'application/json' : 'application/problem+json';
    return new Response(JSON.stringify(data), { status, headers: { 'content-type': type } });
  };
  return sent;
}

test('a name the server says has no value gets a row, and the question is asked once more', async (t) => {
  t.after(() => delete globalThis.fetch);
  const state = opened('f(x) * k', { x: 2 });
  const missing = { title: 'Missing value', detail: 'k has no value', missing: ['q'] };
  const sent = serve([[422, missing], [200, ADD_MUL]]);
  const prepare = async (body) => ({ ...body, expression: body.expression.toUpperCase() });
  const answer = await askCircuit(state, prepare);
  assert.deepEqual([...state.asked], ['q']);
  assert.deepEqual(sent[1], { expression: 'F(X) * K', values: { x: 2, k: 1, q: 1 }, expand: false });
  assert.deepEqual(answer, { circuit: ADD_MUL, body: sent[1] });
});

test("the output's gradient check mode gives is in the answer's body: the tools send it too", async (t) => {
  t.after(() => delete globalThis.fetch);
  const sent = serve([[200, ADD_MUL]]);
  const grad = [[1, 0], [0, 2]];
  const answer = await askCircuit(opened('D = W @ X'), async (body) => ({ ...body, grad }));
  assert.deepEqual(sent[0].grad, grad);
  assert.deepEqual(answer.body, sent[0]);
});

test('no retry for a name already asked for, nor once a newer request began', async (t) => {
  t.after(() => delete globalThis.fetch);
  const state = opened('x * q');
  state.asked.add('q');
  const missing = { title: 'Missing value', detail: 'q has no value', missing: ['q'] };
  serve([[422, missing]]);
  await assert.rejects(askCircuit(state, async (b) => b), { title: 'Missing value' });
  const newer = opened('x * k');
  const sent = serve([[422, { ...missing, missing: ['k'] }]]);
  const asking = askCircuit(newer, async (b) => b);
  newer.seq++;
  await assert.rejects(asking, { title: 'Missing value' });
  assert.equal(sent.length, 1);
});

test('no retry for code that imports a library: the name it lacks is the error', async (t) => {
  t.after(() => delete globalThis.fetch);
  const state = opened('import torch\na = torch.tensor(2.0)\nf = a * bb');
  const missing = { title: 'Missing value', detail: 'missing value for bb', missing: ['bb'] };
  const sent = serve([[400, missing]]);
  await assert.rejects(askCircuit(state, async (b) => b), { title: 'Missing value' });
  assert.equal(sent.length, 1);
  assert.deepEqual([...state.asked], []);
});

test('a value the API takes has no problem; any other is named, with what a value looks like', () => {
  for (const v of [1.5, -2, 0, [1, 2], [[1, 2], [3, 4]], { randn: [5, 10], seed: 0 }, { randn: [3] }]) {
    assert.equal(valueProblem('x', v), null, JSON.stringify(v));
  }
  const number = /^x: expected a number or a list of numbers, e\.g\. 1\.5 or \[1, 2\]; got /;
  assert.match(valueProblem('x', 'abc'), number);
  assert.match(valueProblem('x', 'abc'), /got "abc"$/);
  for (const v of [null, true, [1, 'a'], [[1], ['2']], Infinity]) assert.match(valueProblem('x', v), number);
  const tensor = /^W: a random tensor is written \{"randn": \[5, 10\], "seed": 0\}/;
  for (const v of [{ randn: [0] }, { randn: [1.5] }, { randn: [] }, { randn: [1, 1, 1, 1, 1] },
    { randn: [2], seed: -1 }, { randn: [2], seed: 0.5 }, { shape: [2] }, { randn: [2], mean: 1 }]) {
    assert.match(valueProblem('W', v), tensor, JSON.stringify(v));
  }
});

test('a value the API would refuse is not sent: the problem says which input and why', async (t) => {
  t.after(() => delete globalThis.fetch);
  const sent = serve([[200, ADD_MUL]]);
  const state = opened('(x + y) * z', { x: 'abc', y: 5, z: -4 });
  await assert.rejects(askCircuit(state, async (b) => b), {
    title: 'Invalid input value', message: /^x: expected a number or a list of numbers/,
  });
  assert.equal(sent.length, 0);
});

test('shapeOf reads sizes apart by commas, spaces, x or ×, and nothing else', () => {
  assert.deepEqual(shapeOf('5, 10'), [5, 10]);
  assert.deepEqual(shapeOf(' 5 10 '), [5, 10]);
  assert.deepEqual(shapeOf('5x10×2'), [5, 10, 2]);
  assert.deepEqual(shapeOf('7'), [7]);
  for (const bad of ['3, x', 'x', '', '5,,10', '0', '2.5', '5, 0', '-3', '5 x', 'a, b']) {
    assert.equal(shapeOf(bad), null, bad);
  }
});
