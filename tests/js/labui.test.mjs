import assert from 'node:assert/strict';
import { test } from 'node:test';

import { plainMessage } from '../../static/js/labui.js';

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
