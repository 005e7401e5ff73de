import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fastLayout } from '../../static/js/fastlayout.js';
import { boxesOverlap, buildModel, layoutCircuit } from '../../static/js/layout.js';
import { ADD_MUL, FORK, tanhChain } from './fixtures.mjs';

/** Does the axis-parallel segment p-q run through the inside of box r? */
function crosses(p, q, r, tol = 0.5) {
  const [x0, x1, y0, y1] = [r.x + tol, r.x + r.w - tol, r.y + tol, r.y + r.h - tol];
  if (p[1] === q[1]) return y0 < p[1] && p[1] < y1 && Math.min(p[0], q[0]) < x1 && Math.max(p[0], q[0]) > x0;
  return x0 < p[0] && p[0] < x1 && Math.min(p[1], q[1]) < y1 && Math.max(p[1], q[1]) > y0;
}

/** Every rule of the notes' picture that geometry can check; returns the first broken one. */
function problems(lay) {
  const out = [];
  const byId = new Map(lay.boxes.map((b) => [b.id, b]));
  const inputs = lay.boxes.filter((b) => b.kind === 'input');
  const gates = lay.boxes.filter((b) => b.kind === 'gate');
  const end = lay.boxes.find((b) => b.kind === 'out');
  for (const i of inputs) for (const g of gates) if (i.x + i.w > g.x) out.push(`input ${i.id} not left of ${g.id}`);
  for (const g of gates) if (g.x + g.w > end.x) out.push(`gate ${g.id} right of the output`);
  const solids = [...lay.boxes.filter((b) => b.kind !== 'fork').map((b) => ({ ...b, owner: b.id })),
    ...lay.wires.filter((w) => w.label).map((w) => ({ ...w.label, owner: w.id }))];
  for (let i = 0; i < solids.length; i++) {
    for (let j = i + 1; j < solids.length; j++) {
      if (boxesOverlap(solids[i], solids[j])) out.push(`${solids[i].owner} overlaps ${solids[j].owner}`);
    }
  }
  for (const w of lay.wires) {
    const source = byId.get(w.from);
    const target = byId.get(w.to);
    const [first, last] = [w.points[0], w.points[w.points.length - 1]];
    const leaves = source.kind === 'gate' ? source.x + source.w / 2 + source.r : source.x + source.w;
    if (Math.abs(first[0] - leaves) > 0.5) out.push(`${w.id} does not leave ${w.from}`);
    const r = target.r;
    const onCircle = target.kind === 'gate'
      && Math.abs(Math.hypot(last[0] - target.x - target.w / 2, last[1] - target.y - r) - r) < 0.5;
    if (!(target.kind === 'gate' && onCircle) && Math.abs(last[0] - target.x) > 0.5) {
      out.push(`${w.id} does not reach ${w.to}`);
    }
    for (let k = 0; k + 1 < w.points.length; k++) {
      const [p, q] = [w.points[k], w.points[k + 1]];
      if (p[0] !== q[0] && p[1] !== q[1]) out.push(`${w.id} has a slanted segment`);
      for (const s of solids) {
        if (s.owner !== w.id && s.owner !== w.from && s.owner !== w.to && crosses(p, q, s)) {
          out.push(`${w.id} runs through ${s.owner}`);
        }
      }
    }
    if (w.label && !w.points.some((p) => Math.abs(p[1] - (w.label.y + w.label.h / 2)) < 1.5)) {
      out.push(`${w.id} misses its label`);
    }
  }
  return out;
}

for (const [name, circuit] of [['add-mul', ADD_MUL], ['fork', FORK], ['tanh chain of 60 gates', tanhChain(20)],
  ['tanh chain of 300 gates', tanhChain(100)]]) {
  test(`fast layout of the ${name}: inputs left, output right, nothing drawn over a label`, () => {
    const lay = fastLayout(buildModel(circuit));
    assert.deepEqual(problems(lay), []);
  });
}

test('a big circuit is laid out without ELK, its wires run on to the gates\' circles', async () => {
  const lay = await layoutCircuit(tanhChain(100), null);
  assert.deepEqual(problems(lay), []);
  const gate = lay.boxes.find((b) => b.text === '*');
  const last = lay.wires.find((w) => w.to === gate.id).points.at(-1);
  assert.ok(last[0] > gate.x + 0.5, 'the wire ends on the circle, not on its bounding square');
});

test('the main line of a long chain stays level: constants and stubs make way', () => {
  const lay = fastLayout(buildModel(tanhChain(100)));
  // The first stages make room for the forks of the shared weights; from there on it is level.
  const centres = lay.boxes.filter((b) => b.text === 'tanh').slice(10).map((b) => b.y + b.h / 2);
  assert.ok(Math.max(...centres) - Math.min(...centres) < 20, `tanh gates between ${Math.min(...centres)}`
    + ` and ${Math.max(...centres)}`);
});

test('a binary gate fed by two inputs sits between them, input 0 above input 1', () => {
  const lay = fastLayout(buildModel(ADD_MUL));
  const at = (id) => lay.boxes.find((b) => b.id === id);
  const [x, y, add] = [at('n0'), at('n1'), at('n2')];
  assert.ok(x.y < y.y);
  const mid = add.y + add.h / 2;
  assert.ok(x.y + x.h / 2 <= mid && mid <= y.y + y.h / 2);
});

/** A hand-written two-layer tanh MLP with named weights: 3 inputs, 4 hidden units, 1 output. */
function namedMlp() {
  const nodes = [];
  const add = (kind, name, op, inputs, label) => {
    const id = `n${nodes.length}`;
    nodes.push({ id, kind, name, label: label ?? name ?? op, op, inputs, value: 0.5, grad: 0.1, shape: [],
      ...(kind === 'gate' ? { local: inputs.map(() => 1), span: [0, 1] } : {}) });
    return id;
  };
  const input = (name) => add('input', name, null, []);
  const neuron = (ins, prefix, bias) => {
    let sum = null;
    ins.forEach((x, j) => {
      const term = add('gate', null, 'mul', [input(`${prefix}${j + 1}`), x], '*');
      sum = sum === null ? term : add('gate', null, 'add', [sum, term], '+');
    });
    return add('gate', null, 'tanh', [add('gate', null, 'add', [sum, input(bias)], '+')], 'tanh');
  };
  const xs = ['x1', 'x2', 'x3'].map(input);
  const hs = [1, 2, 3, 4].map((k) => neuron(xs, `a${k}`, `b${k}`));
  const y = neuron(hs, 'v', 'c');
  return { expression: 'mlp', output: y, value: 0.5, gradients: {}, nodes, warnings: [] };
}

/** Points where a horizontal segment of one wire crosses a vertical segment of another. */
function crossings(lay) {
  const segs = lay.wires.flatMap((w) => w.points.slice(1).map((q, i) => [w.node, w.points[i], q]));
  const h = segs.filter(([, p, q]) => p[1] === q[1] && p[0] !== q[0]);
  const v = segs.filter(([, p, q]) => p[0] === q[0] && p[1] !== q[1]);
  let n = 0;
  for (const [a, p, q] of h) {
    for (const [b, r, s] of v) {
      if (a === b) continue;
      const [x0, x1] = [Math.min(p[0], q[0]), Math.max(p[0], q[0])];
      const [y0, y1] = [Math.min(r[1], s[1]), Math.max(r[1], s[1])];
      if (x0 < r[0] && r[0] < x1 && y0 < p[1] && p[1] < y1) n++;
    }
  }
  return n;
}

test("a big MLP's weights sit beside the units they feed, and fewer wires cross", () => {
  const model = buildModel(namedMlp());
  assert.ok(model.single.size === 21, `weights and biases used once: ${model.single.size}`);
  const beside = fastLayout(model);
  const allLeft = fastLayout({ ...model, single: new Set() });
  assert.ok(crossings(beside) < crossings(allLeft) / 2, `${crossings(beside)} vs ${crossings(allLeft)}`);
  const byId = new Map(beside.boxes.map((b) => [b.id, b]));
  for (const w of beside.wires) {
    if (!model.single.has(w.from)) continue;
    const gap = byId.get(w.to).x - (byId.get(w.from).x + byId.get(w.from).w);
    assert.ok(gap < 2 * (w.label ? w.label.w : 0) + 80, `${w.from} is ${gap} px from its gate`);
  }
});
