import assert from 'node:assert/strict';
import { test } from 'node:test';

import { literals, replaceLiteral } from '../../static/js/source.js';

test("literal assignments are found with their characters, as the notes write them", () => {
  const text = 'x = -2; y = 5; z = -4 # set some inputs; b = 3\nq = x + y\nw = [2,-3,-3] # weights\nf = q * z';
  const found = literals(text);
  assert.deepEqual(found.map((l) => [l.name, l.value]), [['x', -2], ['y', 5], ['z', -4], ['w', [2, -3, -3]]]);
  for (const l of found) assert.equal(text.slice(l.start, l.end), l.text);
});

test('only numbers and lists of numbers are literals', () => {
  const text = 'a = 1e-3\nb = [[1, 2], [3, .5]]\nc = x + 1\nd = [1, x]\ne = []\nf = a == 2';
  assert.deepEqual(literals(text).map((l) => [l.name, l.value]), [['a', 0.001], ['b', [[1, 2], [3, 0.5]]]]);
});

test("replacing a literal changes that literal and nothing else", () => {
  const text = 'x = 3 # example values\ny = -4\nf = x * y';
  assert.equal(replaceLiteral(text, 'x', '1.5'), 'x = 1.5 # example values\ny = -4\nf = x * y');
  assert.equal(replaceLiteral(text, 'y', '[1, 2]'), 'x = 3 # example values\ny = [1, 2]\nf = x * y');
  assert.equal(replaceLiteral(text, 'f', '2'), text, 'f is not a literal: nothing to replace');
});

test("micrograd's Value and PyTorch's tensor hold their literal in the first argument", () => {
  const text = "a = Value(-4.0)\nb = Value(2.0, label='b')\nx = torch.tensor([1.0, 2.0], requires_grad=True)\nc = Value(a.data)";
  const found = literals(text);
  assert.deepEqual(found.map((l) => [l.name, l.value]), [['a', -4], ['b', 2], ['x', [1, 2]]]);
  for (const l of found) assert.equal(text.slice(l.start, l.end), l.text);
  assert.equal(replaceLiteral(text, 'b', '2.5').split('\n')[1], "b = Value(2.5, label='b')");
});

test("numpy's np.array holds its literal in its argument", () => {
  const text = 'a = np.array([1, 2, 3])\nA = numpy.array([[1, 2], [3, 4]])\nc = a + a';
  assert.deepEqual(literals(text).map((l) => [l.name, l.value]), [['a', [1, 2, 3]], ['A', [[1, 2], [3, 4]]]]);
  assert.equal(replaceLiteral(text, 'a', '[0, 1, 2]').split('\n')[0], 'a = np.array([0, 1, 2])');
});

test('a constructor followed by more arithmetic is no literal; .double() after it is', () => {
  const text = 'a = np.array([1, 2]) * 2\nb = Value(2.0) + c\nt = torch.Tensor([2.0]).double()';
  assert.deepEqual(literals(text).map((l) => [l.name, l.value]), [['t', [2]]]);
});

test('a literal rewritten keeps its brackets, and a float stays a float, as PyTorch reads it', () => {
  const neuron = 'b = torch.Tensor([6.8813735870195432]).double(); b.requires_grad = True';
  assert.equal(replaceLiteral(neuron, 'b', '7'),
    'b = torch.Tensor([7.0]).double(); b.requires_grad = True');
  const a = 'a = torch.tensor(2.0, requires_grad=True)';
  assert.equal(replaceLiteral(a, 'a', '3'), 'a = torch.tensor(3.0, requires_grad=True)');
  assert.equal(replaceLiteral(a, 'a', '-3.5'), 'a = torch.tensor(-3.5, requires_grad=True)');
  assert.equal(replaceLiteral(a, 'a', '1e-3'), 'a = torch.tensor(1e-3, requires_grad=True)');
  assert.equal(replaceLiteral('w = [[1.0, 2.0]]', 'w', '[[3, 4.5]]'), 'w = [[3.0, 4.5]]');
  assert.equal(replaceLiteral('w = [[1.0]]', 'w', '3'), 'w = [[3.0]]');
  assert.equal(replaceLiteral('x = 2.', 'x', '1e+21'), 'x = 1e+21');
  // whole numbers stay whole
  assert.equal(replaceLiteral('x = 3\nf = x * y', 'x', '7'), 'x = 7\nf = x * y');
  assert.equal(replaceLiteral('w = [2, -3, -3]', 'w', '[1, 2]'), 'w = [1, 2]');
  assert.equal(replaceLiteral('w = [2, -3, -3]', 'w', '5'), 'w = [5]');
});
