import assert from 'node:assert/strict';
import { test } from 'node:test';

import ELK from '../../node_modules/elkjs/lib/elk.bundled.js';
import { magColor, magnitudeColours } from '../../static/js/circuit.js';
import { layoutCircuit, stepPlan } from '../../static/js/layout.js';
import { stepStatus } from '../../static/js/stepper.js';
import { ADD_MUL, FORK } from './fixtures.mjs';

const elk = new ELK();

test('|gradient| colours come back as a value; the layout is left as it was', async () => {
  const lay = await layoutCircuit(FORK, elk);
  const before = structuredClone(lay);
  const { range, wires } = magnitudeColours(lay);
  assert.deepEqual(lay, before);
  // x's stem carries 14, the output 1: the ends of the log scale.
  assert.equal(range[0], 1);
  assert.ok(Math.abs(range[1] - 14) < 1e-12, range[1]);
  const stem = wires.get('w:n0');
  assert.deepEqual([stem.colour, stem.width, stem.zero, stem.unknown], [magColor(1), 4.5, false, false]);
  assert.deepEqual([wires.get('w:n4').colour, wires.get('w:n4').width], [magColor(0), 1.2]);
  assert.equal(wires.size, lay.wires.length);
});

test('a zero gradient is dashed, a missing one keeps the plain look', async () => {
  const nodes = ADD_MUL.nodes.map((n) => (n.name === 'z' ? { ...n, grad: 0 } : n.name === 'y' ? { ...n, grad: null } : n));
  const { wires } = magnitudeColours(await layoutCircuit({ ...ADD_MUL, nodes }, elk));
  assert.deepEqual([wires.get('w:n3').zero, wires.get('w:n3').unknown], [true, false]);
  assert.deepEqual([wires.get('w:n1').zero, wires.get('w:n1').unknown], [false, true]);
});

test('each step says where the passes are', () => {
  const plan = stepPlan(ADD_MUL);
  const said = Array.from({ length: plan.total + 1 }, (_, k) => stepStatus(plan, k));
  assert.deepEqual(said, ['inputs set', 'forward pass: gate 1 of 2', 'forward pass: gate 2 of 2',
    'backward pass: gradient 1 on the output', 'backward pass: gate 1 of 2', 'backward pass: gate 2 of 2']);
  assert.equal(stepStatus(plan, null), '');
});

test('the seed step says what the backward pass starts from: 1, ones, or a given gradient', () => {
  const seeded = (grad, shape = []) => ({
    ...ADD_MUL,
    nodes: ADD_MUL.nodes.map((n) => (n.id === ADD_MUL.output ? { ...n, grad, shape } : n)),
  });
  const said = (c) => { const plan = stepPlan(c); return stepStatus(plan, plan.seed); };
  assert.equal(said(seeded(1)), 'backward pass: gradient 1 on the output');
  assert.equal(said(seeded(2.5)), 'backward pass: the given df on the output f');
  assert.equal(said(seeded([1, 1], [2])), 'backward pass: ones on the output f');
  assert.equal(said(seeded([0.3, -1], [2])), 'backward pass: the given df on the output f');
});
