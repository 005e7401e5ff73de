// Bodies of POST /api/circuit as the HTTP contract (README, "The REST API") shapes them.

/** (x + y) * z with x = -2, y = 5, z = -4: the notes' first circuit. */
export const ADD_MUL = {
  expression: '(x + y) * z', output: 'n4', value: -12.0, gradients: { x: -4.0, y: -4.0, z: 3.0 },
  nodes: [
    { id: 'n0', kind: 'input', name: 'x', label: 'x', op: null, inputs: [], value: -2.0, grad: -4.0, shape: [] },
    { id: 'n1', kind: 'input', name: 'y', label: 'y', op: null, inputs: [], value: 5.0, grad: -4.0, shape: [] },
    { id: 'n2', kind: 'gate', name: 'q', label: '+', op: 'add', inputs: ['n0', 'n1'], value: 3.0,
      grad: -4.0, shape: [], local: [1.0, 1.0], span: [0, 7] },
    { id: 'n3', kind: 'input', name: 'z', label: 'z', op: null, inputs: [], value: -4.0, grad: 3.0, shape: [] },
    { id: 'n4', kind: 'gate', name: null, label: '*', op: 'mul', inputs: ['n2', 'n3'], value: -12.0,
      grad: 1.0, shape: [], local: [-4.0, 3.0], span: [0, 11] },
  ],
  warnings: [],
};

/** s = x*x + x; s*y with x = 3, y = 2: x forks three ways (twice into one gate). */
export const FORK = {
  expression: 's = x*x + x; s*y', output: 'n4', value: 24.0, gradients: { x: 14.0, y: 12.0 },
  nodes: [
    { id: 'n0', kind: 'input', name: 'x', label: 'x', op: null, inputs: [], value: 3.0, grad: 14.0, shape: [] },
    { id: 'n1', kind: 'input', name: 'y', label: 'y', op: null, inputs: [], value: 2.0, grad: 12.0, shape: [] },
    { id: 'n2', kind: 'gate', name: null, label: '*', op: 'mul', inputs: ['n0', 'n0'], value: 9.0,
      grad: 2.0, shape: [], local: [3.0, 3.0], span: null },
    { id: 'n3', kind: 'gate', name: 's', label: '+', op: 'add', inputs: ['n2', 'n0'], value: 12.0,
      grad: 2.0, shape: [], local: [1.0, 1.0], span: null },
    { id: 'n4', kind: 'gate', name: null, label: '*', op: 'mul', inputs: ['n3', 'n1'], value: 24.0,
      grad: 1.0, shape: [], local: [2.0, 12.0], span: null },
  ],
  warnings: [],
};

/** A tensor wire: W (2×3) @ x (3) summed. */
export const TENSOR = {
  expression: 'sum(W @ x)', output: 'n3', value: 1.5, gradients: { W: [[1, 2, 3], [1, 2, 3]], x: [2, 2, 2] },
  nodes: [
    { id: 'n0', kind: 'input', name: 'W', label: 'W', op: null, inputs: [], value: [[1, 0, 0], [0, 1, 0]],
      grad: [[1, 2, 3], [1, 2, 3]], shape: [2, 3] },
    { id: 'n1', kind: 'input', name: 'x', label: 'x', op: null, inputs: [], value: [1, 2, 3],
      grad: [1, 1, 1], shape: [3] },
    { id: 'n2', kind: 'gate', name: null, label: '@', op: 'matmul', inputs: ['n0', 'n1'], value: [1, 2],
      grad: [1, 1], shape: [2], local: null, span: [4, 9] },
    { id: 'n3', kind: 'gate', name: null, label: 'sum', op: 'sum', inputs: ['n2'], value: 3.0,
      grad: 1.0, shape: [], local: null, span: [0, 10] },
  ],
  warnings: [],
};

/**
 * A staged tanh layer chain, h(k+1) = tanh(h(k) * w(k mod 5) + b), as bench/render.py generates
 * it: three gates per stage, weights and bias shared, so wires fork and far uses become stubs.
 */
export function tanhChain(stages) {
  const input = (id, name, value) => ({ id, kind: 'input', name, label: name, op: null, inputs: [], value,
    grad: 0.1, shape: [] });
  const gate = (id, label, op, inputs, name = null) => ({ id, kind: 'gate', name, label, op, inputs,
    value: 0.5, grad: 0.25, shape: [], local: inputs.map(() => 0.5) });
  const nodes = [input('n0', 'h0', 0.5), input('n1', 'b', 0.1)];
  for (let i = 0; i < 5; i++) nodes.push(input(`n${2 + i}`, `w${i}`, 0.3 + 0.1 * i));
  let h = 'n0';
  for (let k = 0; k < stages; k++) {
    const id = nodes.length;
    nodes.push(gate(`n${id}`, '*', 'mul', [h, `n${2 + (k % 5)}`]));
    nodes.push(gate(`n${id + 1}`, '+', 'add', [`n${id}`, 'n1']));
    nodes.push(gate(`n${id + 2}`, 'tanh', 'tanh', [`n${id + 1}`], `h${k + 1}`));
    h = `n${id + 2}`;
  }
  const gradients = Object.fromEntries(nodes.filter((n) => n.kind === 'input').map((n) => [n.name, 0.1]));
  return { expression: 'tanh chain', output: h, value: 0.5, gradients, nodes, warnings: [] };
}
