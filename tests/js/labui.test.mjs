import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApiError } from '../../static/js/api.js';
import { aboutField, plainMessage, problemOf, ratioText, runs } from '../../static/js/labui.js';

test("the schema's messages read as plain words after a field's label", () => {
  assert.equal(plainMessage('Input should be greater than 0'), 'must be greater than 0');
  assert.equal(plainMessage('Input should be greater than or equal to 1'), 'must be at least 1');
  assert.equal(plainMessage('Input should be less than or equal to 100'), 'must be at most 100');
  assert.equal(plainMessage('Input should be a valid integer'), 'must be a whole number');
  assert.equal(plainMessage('Input should be a valid integer, got a number with a fractional part'),
    'must be a whole number');
  assert.equal(plainMessage('Input should be a valid number'), 'must be a number');
  assert.equal(plainMessage('Value error, too many weights'), 'Value error, too many weights');
});

/** A number field as the page reads it: its value, min, max, step and data-min-exclusive. */
const field = (value, { min = '', max = '', step = 'any', exclusive = false } = {}) => ({
  type: 'number', value, min, max, step, hasAttribute: (name) => exclusive && name === 'data-min-exclusive',
});

test('a number field is judged as the server judges it: in bounds, above an exclusive minimum, whole', () => {
  const lr = { min: '0', max: '100', exclusive: true };
  assert.equal(problemOf(field('0', lr)), 'must be greater than 0');
  assert.equal(problemOf(field('-1', lr)), 'must be greater than 0');
  assert.equal(problemOf(field('0.001', lr)), null);
  assert.equal(problemOf(field('101', lr)), 'must be at most 100');
  assert.equal(problemOf(field('0', { min: '0' })), null);
  assert.equal(problemOf(field('', lr)), 'must be a number');
  assert.equal(problemOf(field('2.5', { min: '1', step: '1' })), 'must be a whole number');
  assert.equal(problemOf(field('3', { min: '1', step: '1' })), null);
  assert.equal(problemOf({ ...field('spiral'), type: 'select-one' }), null);
});

test('a limit on the whole request is said in its own words, without the schema\'s prefix', () => {
  const refused = (loc, msg) => new ApiError({ title: 'Request does not match the schema',
    detail: `${loc.join('.')}: ${msg}`, errors: [{ loc, msg }] });
  const err = aboutField(refused(['body'], 'Value error, 150 is more than the limit of 20; use fewer epochs'), {});
  assert.equal(err.title, 'These settings');
  assert.equal(err.message, '150 is more than the limit of 20; use fewer epochs');
  assert.equal(aboutField(refused(['body'], 'Value error, too much'), {}, 'Configuration A').title,
    'Configuration A');
  const other = refused(['body', 'mystery'], 'Input should be a valid number');
  assert.equal(aboutField(other, {}), other); // a field the page does not have: as it came
});

test('a ratio of two reported numbers is said in words where it is not a number', () => {
  const ratio = (a, b, n = 10) => ratioText(a, b, 'layer 1', `layer ${n}`);
  assert.equal(ratio(1e-5, 0.1), 'layer 1 / layer 10 = 1e-4');
  assert.equal(ratio(1e-300, 1e100), 'layer 1 / layer 10 = about 1e-400');
  assert.equal(ratio(0, 0), 'layer 1 / layer 10: no ratio, both are 0');
  assert.equal(ratio(0, 2e-7), 'layer 1 / layer 10: no ratio, layer 1’s is 0');
  assert.equal(ratio('NaN', 'NaN', 100), 'layer 1 / layer 100: no ratio, both are NaN');
  assert.equal(ratio('Infinity', 3, 5), 'layer 1 / layer 5: no ratio, layer 1’s is ∞');
  assert.equal(ratio(0, 'Infinity', 5), 'layer 1 / layer 5: no ratio, layer 1’s is 0 and layer 5’s is ∞');
});

test('layer numbers are said as runs', () => {
  assert.equal(runs([1, 2, 3, 4, 5, 6, 7, 8, 9]), '1–9');
  assert.equal(runs([1, 3, 4, 7]), '1, 3–4, 7');
  assert.equal(runs([10]), '10');
});
