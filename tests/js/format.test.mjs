import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  asCode, flatten, fmt, fmtAll, fmtShape, magnitude, norm, number, plain, shapeSignature, shortest, tick,
  toNumber,
} from '../../static/js/format.js';

test('two decimals by default, as the notes print them', () => {
  assert.equal(fmt(-12), '-12.00');
  assert.equal(fmt(0.7310585786), '0.73');
  assert.equal(fmt(-4, 3), '-4.000');
});

test('negative zero prints as 0.00', () => {
  assert.equal(fmt(-0), '0.00');
  assert.equal(fmt(-0.001, 2), '-1.00e-3');
});

test('tiny and huge numbers switch to exponent form instead of 0.00', () => {
  assert.equal(fmt(1e-7), '1.00e-7');
  assert.equal(fmt(3.2e9), '3.20e+9');
});

test('numbers side by side share one format: all in exponent form when one needs it', () => {
  assert.deepEqual(fmtAll([0.34362, 0.00362, 0.34]), ['3.44e-1', '3.62e-3', '3.40e-1']);
  assert.deepEqual(fmtAll([0.34362, 0.00362, 0.34], 3), ['0.344', '0.004', '0.340']);
  assert.deepEqual(fmtAll([14, 6, 'NaN']), ['14.00', '6.00', 'NaN']);
  assert.deepEqual(fmtAll([2e9, 0, '-Infinity'], 1), ['2.0e+9', '0.0e+0', '-∞']);
});

test('a sum written out: plain, a small part with its digits, a whole part with the decimals', () => {
  assert.deepEqual([0.34362, 0.00362, 0.34].map((x) => plain(x)), ['0.344', '0.00362', '0.34']);
  assert.deepEqual([0.34362, 0.00362].map((x) => plain(x, 3)), ['0.3436', '0.00362']);
  assert.deepEqual([14, 6, -0.0088940, 138.83383].map((x) => plain(x, 4)),
    ['14', '6', '-0.008894', '138.8338']);
  assert.deepEqual([1e-5, 2e9, 1e300, 'NaN', '-Infinity'].map((x) => plain(x)),
    ['1e-5', '2e9', '1e300', 'NaN', '-∞']);
});

test('non-finite numbers sent as strings read back', () => {
  assert.equal(fmt('NaN'), 'NaN');
  assert.equal(fmt('Infinity'), '∞');
  assert.equal(fmt('-Infinity'), '-∞');
  assert.equal(toNumber('-Infinity'), -Infinity);
  assert.equal(fmt(null), '—');
});

test('a number the labs show: its significant digits, plain from 0.001 to 1e5, else an exponent', () => {
  assert.equal(number(6.421e-5), '6.42e-5');
  assert.equal(number(0.0000642), '6.42e-5');
  assert.equal(number(20913.7), '20914'); // never fewer digits than its whole part
  assert.equal(number(2.09e4), '20900');
  assert.equal(number(123456), '1.23e5');
  assert.equal(number(0.001234), '0.00123');
  assert.equal(number(-15.7123), '-15.7');
  assert.equal(number(0.5), '0.5');
  assert.equal(number(2), '2');
  assert.equal(number(1e-300), '1e-300');
  assert.equal(number(1.5e300), '1.5e300');
  assert.equal(number(1.23456e-7, 4), '1.235e-7');
  assert.equal(number(0), '0');
  assert.equal(number(-0), '0');
  assert.equal(number(0.99996), '1');
});

test("a number the labs show that is not finite, or the API's string for one", () => {
  assert.equal(number('NaN'), 'NaN');
  assert.equal(number(Infinity), '∞');
  assert.equal(number('-Infinity'), '-∞');
  assert.equal(number(null), '—');
});

test('an axis tick is such a number with six digits', () => {
  assert.equal(tick(0.7), '0.7');
  assert.equal(tick(1e-7), '1e-7');
  assert.equal(tick(2e5), '2e5');
  assert.equal(tick(-3.5e30), '-3.5e30');
  assert.equal(tick(12345.67), '12345.7');
});

test('shapes print like 5×10', () => {
  assert.equal(fmtShape([5, 10]), '5×10');
  assert.equal(fmtShape([]), '');
});

test("a gate's shapes: a function reads f(3) → 3, an operator or an index its shapes alone", () => {
  const byId = new Map([['a', { shape: [3, 4] }], ['b', { shape: [4] }], ['v', { shape: [3] }]]);
  const gate = (label, inputs, shape) => shapeSignature({ label, inputs, shape }, byId);
  assert.equal(gate('@', ['a', 'b'], [3]), '3×4 @ 4 → 3');
  assert.equal(gate('relu', ['v'], [3]), 'relu(3) → 3');
  assert.equal(gate('Σ', ['v'], []), 'Σ(3) → scalar');
  assert.equal(gate('√', ['v'], [3]), '√(3) → 3');
  // not "[0](3)", "+2(3)", "x²(3)" or "ᵀ(3×4)": the circle above says what the gate does
  assert.equal(gate('[0]', ['v'], []), '3 → scalar');
  assert.equal(gate('+2', ['v'], [3]), '3 → 3');
  assert.equal(gate('x²', ['v'], [3]), '3 → 3');
  assert.equal(gate('ᵀ', ['a'], [4, 3]), '3×4 → 4×3');
  assert.equal(gate('*', [], []), '');
});

test('flatten and norm walk nested lists', () => {
  assert.deepEqual(flatten([[1, 2], [3, [4]]]), [1, 2, 3, 4]);
  assert.equal(norm([[3, 0], [0, 4]]), 5);
  assert.equal(magnitude(-3), 3);
  assert.equal(magnitude([3, 4]), 5);
  assert.equal(magnitude(null), null);
});

test('shortest: a number at 12 significant digits, spelled as briefly as JavaScript can', () => {
  assert.equal(shortest(6.400000000000001), 6.4);
  assert.equal(String(shortest(-1.2000000000000002)), '-1.2');
  assert.equal(shortest(0.1 + 0.2), 0.3);
  assert.equal(shortest(1 / 3), 0.333333333333);
  assert.equal(shortest(123456789.123456789), 123456789.123);
  assert.equal(shortest(-2), -2);
  assert.deepEqual(shortest([[5.800000000000001, 1], [0.30000000000000004, -0]]), [[5.8, 1], [0.3, 0]]); // -0 reads 0
  assert.deepEqual(shortest({ randn: [2], seed: 0 }), { randn: [2], seed: 0 });
});

test('a value written as code: its shortest numbers', () => {
  assert.equal(asCode(-4), '-4');
  assert.equal(asCode(5.800000000000001), '5.8');
  assert.equal(asCode([1, -3.5]), '[1, -3.5]');
  assert.equal(asCode([[1, 2]]), '[[1, 2]]');
  assert.equal(asCode(1e21), '1e+21');
});
