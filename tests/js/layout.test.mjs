import assert from 'node:assert/strict';
import { test } from 'node:test';

import ELK from '../../node_modules/elkjs/lib/elk.bundled.js';
import {
  boxesOverlap, buildModel, contribution, gradName, knownAt, layoutCircuit, objective, outputName, portY, stepPlan, toElk, wireTexts,
} from '../../static/js/layout.js';
import { ADD_MUL, FORK, TENSOR } from './fixtures.mjs';

const elk = new ELK();

test('each wire carries its value and gradient, named wires carry their name', () => {
  const m = buildModel(ADD_MUL);
  const q = m.wires.find((w) => w.node === 'n2');
  assert.deepEqual([q.value, q.grad, q.name], ['3.00', '-4.00', 'q']);
  const out = m.wires.find((w) => w.role === 'out');
  assert.deepEqual([out.value, out.grad, out.to], ['-12.00', '1.00', 'out']);
});

test('a fork gets a stem with the total and one branch per use with local × upstream', () => {
  const m = buildModel(FORK);
  const stem = m.wires.find((w) => w.node === 'n0' && w.role === 'stem');
  assert.equal(stem.grad, '14.00');
  const shares = m.wires.filter((w) => w.role === 'branch' && w.node === 'n0').map((w) => w.share);
  assert.deepEqual(shares, [6, 6, 2]); // 3·2 twice into x*x, 1·2 into +: 6 + 6 + 2 = 14
  assert.equal(shares.reduce((a, b) => a + b), FORK.nodes[0].grad);
});

test('local × upstream is null for tensor gates', () => {
  assert.equal(contribution(ADD_MUL.nodes[4], 1), 3);
  assert.equal(contribution(TENSOR.nodes[2], 0), null);
});

test('tensor wires show their shape and gradient norm, short vectors their numbers', () => {
  const t = wireTexts(TENSOR.nodes[0], 2);
  assert.equal(t.value, '2×3');
  assert.equal(t.grad, '‖∇‖ 5.29');
  const v = wireTexts(TENSOR.nodes[1], 1);
  assert.equal(v.value, '[1.0, 2.0, 3.0]');
  assert.equal(v.grad, '[1.0, 1.0, 1.0]');
});

test('input ports are ordered top to bottom', () => {
  assert.ok(portY(20, 2, 0) < portY(20, 2, 1));
  assert.equal(portY(20, 1, 0), 20);
});

test('the ELK graph pins inputs to the first layer and the output to the last', () => {
  const g = toElk(buildModel(ADD_MUL));
  const first = g.children.filter((c) => c.layoutOptions['elk.layered.layering.layerConstraint'] === 'FIRST');
  assert.deepEqual(first.map((c) => c.id), ['n0', 'n1', 'n3']);
  assert.equal(g.edges.find((e) => e.id === 'w:n4').targets[0], 'out.i0');
});

for (const [name, circuit] of [['add-mul', ADD_MUL], ['fork', FORK], ['tensor', TENSOR]]) {
  test(`laid-out ${name} circuit: inputs left, output right, no label on a box or another label`, async () => {
    const lay = await layoutCircuit(circuit, elk);
    const boxes = lay.boxes.map((b) => ({ ...b }));
    const labels = lay.wires.filter((w) => w.label).map((w) => w.label);
    const inputs = boxes.filter((b) => b.kind === 'input');
    const gates = boxes.filter((b) => b.kind === 'gate');
    const out = boxes.find((b) => b.kind === 'out');
    for (const i of inputs) for (const g of gates) assert.ok(i.x + i.w <= g.x, 'inputs left of gates');
    for (const g of gates) assert.ok(g.x + g.w <= out.x, 'output right of gates');
    for (const l of labels) for (const b of boxes) assert.ok(!boxesOverlap(l, b), `label on box ${b.id}`);
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) assert.ok(!boxesOverlap(labels[i], labels[j]));
    }
    // The wire runs through the middle of its own label, between value and gradient rows.
    for (const w of lay.wires.filter((x) => x.label)) {
      const mid = w.label.y + w.label.h / 2;
      assert.ok(w.points.some((p) => Math.abs(p[1] - mid) < 1.5), `wire ${w.id} misses its label`);
    }
  });
}

test('the step plan runs values forward, then gradients backward from the seed', () => {
  const p = stepPlan(ADD_MUL);
  assert.equal(p.total, 5);
  assert.deepEqual([p.valueAt.get('n0'), p.valueAt.get('n2'), p.valueAt.get('n4')], [0, 1, 2]);
  assert.equal(p.gradAt.get('n4'), 3); // the seed 1.00 on the output
  assert.equal(p.gradAt.get('n2'), 4); // after the * gate sends back
  assert.equal(p.gradAt.get('n3'), 4);
  assert.equal(p.gradAt.get('n0'), 5); // after the + gate
});

test('a forward step knows values and no gradient; a backward step the gradients sent so far', () => {
  const p = stepPlan(ADD_MUL);
  const forward = knownAt(p, 1); // through +
  assert.deepEqual(['n0', 'n2', 'n4'].map(forward.value), [true, true, false]);
  assert.deepEqual(['n0', 'n3', 'n4'].map(forward.grad), [false, false, false]);
  const back = knownAt(p, 4); // back through *
  assert.deepEqual(['n4', 'n3', 'n2', 'n0'].map(back.grad), [true, true, true, false]);
  assert.deepEqual(['n4', 'n2'].map(back.sent), [true, false]);
  const all = knownAt(p, null);
  assert.ok(all.grad('n0') && all.sent('n2') && all.value('n4'));
});

test('boxes touching at an edge do not overlap', () => {
  assert.ok(!boxesOverlap({ x: 0, y: 0, w: 10, h: 10 }, { x: 10, y: 0, w: 5, h: 5 }));
  assert.ok(boxesOverlap({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 5, w: 10, h: 10 }));
});

test('a wire crossing many layers becomes a reference stub at its gate', async () => {
  // x feeds a chain of 12 negations and, at the end, the final add: a long wire.
  const nodes = [{ id: 'n0', kind: 'input', name: 'x', label: 'x', op: null, inputs: [], value: 1, grad: 2, shape: [] }];
  for (let i = 1; i <= 12; i++) {
    nodes.push({ id: `n${i}`, kind: 'gate', name: null, label: '-', op: 'neg', inputs: [`n${i - 1}`],
      value: (-1) ** i, grad: 1, shape: [], local: [-1] });
  }
  nodes.push({ id: 'n13', kind: 'gate', name: null, label: '+', op: 'add', inputs: ['n12', 'n0'], value: 2,
    grad: 1, shape: [], local: [1, 1] });
  const circuit = { expression: 'chain', output: 'n13', value: 2, gradients: { x: 2 }, nodes, warnings: [] };
  const m = buildModel(circuit);
  const refs = m.boxes.filter((b) => b.kind === 'ref');
  assert.equal(refs.length, 1);
  assert.equal(refs[0].text, 'x');
  const stub = m.wires.find((w) => w.role === 'ref');
  assert.deepEqual([stub.from, stub.to, stub.port, stub.grad], [refs[0].id, 'n13', 1, '1.00']);
  const lay = await layoutCircuit(circuit, elk);
  const x = lay.boxes.find((b) => b.id === 'n0');
  for (const b of lay.boxes.filter((b) => b.kind === 'gate')) assert.ok(x.x + x.w <= b.x);
});

test('a constant feeding a gate deep in the circuit is drawn by that gate, never as a stub', async () => {
  // g = f + 10 / f, f twelve gates deep: the constant 10 has no place of its own in the program.
  const nodes = [{ id: 'n0', kind: 'input', name: 'x', label: 'x', op: null, inputs: [], value: 1, grad: 1, shape: [] }];
  for (let i = 1; i <= 12; i++) {
    nodes.push({ id: `n${i}`, kind: 'gate', name: null, label: '-', op: 'neg', inputs: [`n${i - 1}`],
      value: 1, grad: 1, shape: [], local: [-1] });
  }
  nodes.push({ id: 'c', kind: 'const', name: null, label: '10', op: null, inputs: [], value: 10, grad: 0.1, shape: [] });
  nodes.push({ id: 'div', kind: 'gate', name: null, label: '/', op: 'div', inputs: ['c', 'n12'], value: 10,
    grad: 1, shape: [], local: [1, -10] });
  nodes.push({ id: 'g', kind: 'gate', name: 'g', label: '+', op: 'add', inputs: ['n12', 'div'], value: 11,
    grad: 1, shape: [], local: [1, 1] });
  const circuit = { expression: 'chain', output: 'g', value: 11, gradients: { x: 1 }, nodes, warnings: [] };
  const m = buildModel(circuit);
  assert.equal(m.boxes.filter((b) => b.kind === 'ref').length, 0);
  assert.equal(m.boxes.filter((b) => b.kind === 'fork' && b.node === 'c').length, 0);
  const wire = m.wires.find((w) => w.node === 'c');
  assert.deepEqual([wire.from, wire.to, wire.port, wire.value, wire.grad], ['c', 'div', 0, '10.00', '0.10']);
  const lay = await layoutCircuit(circuit, elk);
  const at = (id) => lay.boxes.find((b) => b.id === id);
  const gates = lay.boxes.filter((b) => b.kind === 'gate' && b.id !== 'div');
  // Right of every gate before the division: in the column next to it, not in the first.
  assert.ok(gates.filter((b) => b.id !== 'g').every((b) => b.x + b.w <= at('c').x), 'by its gate');
  assert.ok(at('c').x + at('c').w <= at('div').x);
});

test('the output is named as the program names it, f when it has no name', () => {
  const named = { ...ADD_MUL, nodes: ADD_MUL.nodes.map((n) => (n.id === ADD_MUL.output ? { ...n, name: 'loss' } : n)) };
  assert.equal(outputName(named), 'loss');
  const bare = { ...ADD_MUL, nodes: ADD_MUL.nodes.map((n) => (n.id === ADD_MUL.output ? { ...n, name: null } : n)) };
  assert.equal(outputName(bare), 'f');
});

test('a gradient is named for what the backward pass differentiates: f, the sum of a tensor, or a given dD', () => {
  const withOutput = (grad, value, name = 'D') => ({ ...ADD_MUL,
    nodes: ADD_MUL.nodes.map((n) => (n.id === ADD_MUL.output ? { ...n, name, grad, value } : n)) });
  assert.equal(gradName(withOutput(1, -12, 'f'), 'x'), '∂f/∂x');
  assert.equal(gradName(withOutput([1], [0.7], 'o'), 'w1'), '∂o/∂w1'); // one element: a number
  const ones = withOutput([[1, 1], [1, 1]], [[1, 2], [3, 4]]);
  assert.equal(objective(ones), 'ΣD');
  assert.equal(gradName(ones, 'W'), '∂ΣD/∂W');
  const given = withOutput([[0.5, -1], [2, 1]], [[1, 2], [3, 4]]);
  assert.equal(objective(given), 'Σ dD⊙D');
  assert.equal(gradName(given, 'W'), 'dW');
  assert.equal(objective(withOutput(2.5, -12, 'f')), 'df·f');
  assert.equal(gradName(withOutput(2.5, -12, 'f'), 'x'), 'dx');
});

/** An ELK that counts the layouts it runs. */
const countingElk = () => ({ runs: 0, layout(g) { this.runs++; return elk.layout(g); } });

test('the same circuit with a comment or new values keeps its layout; only the numbers are new', async () => {
  const counted = countingElk();
  const first = await layoutCircuit(ADD_MUL, counted);
  const commented = { ...ADD_MUL, expression: '(x + y) * z  # a note' };
  const again = await layoutCircuit(commented, counted, { previous: first });
  assert.equal(counted.runs, 1, 'a comment does not lay the circuit out again');
  assert.deepEqual(again.boxes, first.boxes);
  assert.deepEqual(again.wires, first.wires);
  // x = -3 instead of -2: every number moves, no position does.
  const moved = { ...ADD_MUL, nodes: ADD_MUL.nodes.map((n) => ({ ...n, value: n.id === 'n0' ? -3 : n.value,
    grad: n.id === 'n4' ? 1 : n.grad * 2 })) };
  const lay = await layoutCircuit(moved, counted, { previous: again });
  assert.equal(counted.runs, 1);
  assert.equal(lay.wires.find((w) => w.node === 'n0').value, '-3.00');
  assert.equal(lay.wires.find((w) => w.node === 'n1').grad, '-8.00');
  assert.deepEqual(lay.boxes.map((b) => [b.x, b.y]), first.boxes.map((b) => [b.x, b.y]));
  assert.deepEqual(lay.wires.map((w) => [w.points, w.label]), first.wires.map((w) => [w.points, w.label]));
});

test('a new name, more decimals or another gate lay the circuit out again', async () => {
  const counted = countingElk();
  const first = await layoutCircuit(ADD_MUL, counted);
  const renamed = { ...ADD_MUL, nodes: ADD_MUL.nodes.map((n) => (n.id === 'n2' ? { ...n, name: 'sum_xy' } : n)) };
  await layoutCircuit(renamed, counted, { previous: first });
  await layoutCircuit(ADD_MUL, counted, { previous: first, precision: 6 });
  await layoutCircuit(FORK, counted, { previous: first });
  assert.equal(counted.runs, 4);
});
