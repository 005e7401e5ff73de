import assert from 'node:assert/strict';
import { test } from 'node:test';

import { inputRows, requestValues, sliderSpan } from '../../static/js/inputs.js';

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

test('slider ranges follow the magnitude of the value', () => {
  assert.equal(sliderSpan(0), 1);
  assert.equal(sliderSpan(3), 10);
  assert.equal(sliderSpan(-40), 100);
  assert.equal(sliderSpan(2000), 10000);
});
