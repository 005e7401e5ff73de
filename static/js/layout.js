/**
 * Circuit JSON (the /api/circuit body) -> drawable model -> ELK graph -> coordinates.
 * Pure: the text measurer and the ELK instance are passed in, so node's test runner can call it.
 * @module layout
 */
import { fastLayout } from './fastlayout.js';
import { flatten, fmt, fmtShape, norm, shapeSignature, toNumber } from './format.js';
import { statements } from './source.js';

export const LINE = 15; // height of one text row of a wire label
export const GAP = 6; // vertical room left for the wire between the value row and the gradient row
const NAME_GAP = 5;
export const SHORT = 4; // vectors up to this length show their numbers instead of their shape
const BIG = 50; // boxes above which fastlayout.js replaces ELK (polish for speed)
const SPAN = 8; // layers a wire may cross before it is drawn as a reference stub

/** Monospace fallback measurer (node tests, or before fonts load): width of `text` in px. */
export const monoMeasure = (text) => 7.3 * String(text).length;

const isTensor = (n) => Array.isArray(n.shape) && n.shape.length > 0;

/**
 * Text shown for a wire's value and gradient: numbers for scalars, the numbers in brackets for
 * short vectors (the notes' w = [2, -3, -3]), shape and gradient norm for anything bigger.
 */
export function wireTexts(node, precision) {
  if (isTensor(node)) {
    const short = node.shape.length === 1 && node.shape[0] <= SHORT;
    const list = (v) => `[${v.map((x) => fmt(x, precision)).join(', ')}]`;
    const g = node.grad;
    if (short) return { value: list(node.value), grad: Array.isArray(g) ? list(g) : '' };
    return { value: fmtShape(node.shape), grad: Array.isArray(g) ? `‖∇‖ ${fmt(norm(g), precision)}` : '' };
  }
  return { value: fmt(node.value, precision), grad: node.grad === null ? '' : fmt(node.grad, precision) };
}

/** The output's name, as gradients are written (∂loss/∂x); f when the output has none. */
export const outputName = (circuit) => circuit.nodes.find((n) => n.id === circuit.output)?.name || 'f';

/** Where the backward pass starts: given (a gradient other than ones on the output), on many elements. */
function seedOf(circuit) {
  const g = flatten(circuit.nodes.find((n) => n.id === circuit.output)?.grad ?? 1);
  return { given: g.some((x) => x !== 1), many: g.length > 1 };
}

/**
 * What the backward pass takes the gradient of, as the page writes it: the output f itself when
 * it starts from 1 (f a number, or a tensor of one element); ΣD, the sum of a tensor D's elements,
 * when it starts from ones; Σ dD⊙D when it starts from a given gradient dD (the notes' gradient
 * from above), df·f for a number.
 */
export function objective(circuit) {
  const f = outputName(circuit);
  const { given, many } = seedOf(circuit);
  if (given) return many ? `Σ d${f}⊙${f}` : `d${f}·${f}`;
  return many ? `Σ${f}` : f;
}

/** Where the backward pass starts, in words: gradient 1 on the output, ones, or the given dD. */
function seedText(circuit) {
  const f = outputName(circuit);
  const { given, many } = seedOf(circuit);
  if (given) return `the given d${f} on the output ${f}`;
  return many ? `ones on the output ${f}` : 'gradient 1 on the output';
}

/**
 * The gradient on input `name`: ∂f/∂x, ∂ΣD/∂W, or, from a given gradient dD, dW as the notes
 * write it (the gradient of Σ dD⊙D).
 */
export const gradName = (circuit, name) => (seedOf(circuit).given ? `d${name}` : `∂${objective(circuit)}/∂${name}`);

/** What gate `g` sends back into its input `port`: local × upstream (scalars only, else null). */
export function contribution(g, port) {
  if (!g.local || g.local[port] === null || g.local[port] === undefined) return null;
  const local = toNumber(g.local[port]);
  const up = toNumber(g.grad);
  return local * up;
}

/**
 * Build the drawable model: boxes (inputs, consts, gates, fork dots, the output terminal) and
 * wires with their label texts. A node used more than once gets a fork dot: its stem carries the
 * total gradient, each branch the contribution of one consumer, so the sum is visible.
 */
export function buildModel(circuit, { precision = 2, measure = monoMeasure } = {}) {
  const byId = new Map(circuit.nodes.map((n) => [n.id, n]));
  const uses = new Map(circuit.nodes.map((n) => [n.id, []]));
  for (const n of circuit.nodes) n.inputs.forEach((src, port) => uses.get(src)?.push({ gate: n, port }));

  const boxes = [];
  const wires = [];
  const numberRoom = measure(`-0.${'0'.repeat(Math.max(precision, 1))}e-00`);
  const labelSize = (w) => {
    const nameW = w.name ? measure(w.name) + NAME_GAP : 0;
    // Room for any number fmt writes in exponent form (and up to ±9999 in fixed), so a value that
    // moves keeps the layout.
    const textW = Math.max(measure(w.value || ''), measure(w.grad || ''), w.value || w.grad ? numberRoom : 0);
    w.nameW = nameW;
    return textW + nameW > 0 ? { w: Math.ceil(textW + nameW) + 4, h: 2 * LINE + GAP } : null;
  };
  const addWire = (w) => {
    w.label = labelSize(w);
    wires.push(w);
  };

  // Depth of each node (longest path from an input). A wire that would run across more than
  // SPAN layers is drawn as a short reference stub at its gate instead: long wires make the
  // layered layout slow (one dummy node per layer crossed) and the picture unreadable.
  const depth = new Map();
  for (const n of circuit.nodes) {
    depth.set(n.id, n.inputs.length ? 1 + Math.max(...n.inputs.map((i) => depth.get(i) ?? 0)) : 0);
  }
  const nameOf = (n) => n.name ?? (n.kind === 'const' ? fmt(n.value, precision) : n.id);

  for (const n of circuit.nodes) {
    if (n.kind === 'gate') {
      // The circle sits at the top of its box, centred; a tensor gate's shapes ("3×4 @ 4 → 3")
      // take a line under it. Ports are offsets from the box's top; `out` is the output's.
      const r = Math.max(15, measure(n.label) / 2 + 7);
      const sig = shapeSignature(n, byId);
      const ports = n.inputs.map((_, i) => portY(r, n.inputs.length, i));
      boxes.push({
        id: n.id, kind: 'gate', text: n.label, op: n.op, r, sig, ports, out: r,
        w: Math.max(2 * r, sig ? Math.ceil(measure(sig)) + 4 : 0), h: 2 * r + (sig ? LINE : 0),
      });
    } else {
      const text = n.kind === 'input' ? n.name ?? n.id : isTensor(n) ? fmtShape(n.shape) : fmt(n.value, precision);
      boxes.push({ id: n.id, kind: n.kind, text, w: Math.ceil(measure(text)) + 10, h: 22 });
    }
    const texts = wireTexts(n, precision);
    const tensor = isTensor(n);
    const base = { node: n.id, tensor, grad: texts.grad, value: texts.value, gradRaw: n.grad };
    const name = n.kind === 'gate' ? n.name : null;
    const consumers = uses.get(n.id);
    // A constant has no place of its own in the program: it sits by the gate it feeds.
    const far = (c) => n.kind !== 'const' && depth.get(c.gate.id) - depth.get(n.id) > SPAN;
    const isOut = n.id === circuit.output;
    if (isOut) boxes.push({ id: 'out', kind: 'out', w: 12, h: 12 });
    const fanout = consumers.length + (isOut ? 1 : 0);
    if (fanout === 0) {
      // A statement nothing uses still shows its value; its wire ends in a stub.
      boxes.push({ id: `sink:${n.id}`, kind: 'sink', w: 6, h: 6 });
      addWire({ ...base, id: `w:${n.id}`, role: 'stem', name, from: n.id, to: `sink:${n.id}`, port: null });
    } else if (fanout === 1 && !consumers.some(far)) {
      const c = consumers[0];
      addWire({
        ...base, id: `w:${n.id}`, role: isOut ? 'out' : 'stem', name,
        from: n.id, to: isOut ? 'out' : c.gate.id, port: isOut ? null : c.port,
      });
    } else {
      // A fork: the stem carries the total gradient, each branch what one gate sends back.
      const fork = `fork:${n.id}`;
      boxes.push({ id: fork, kind: 'fork', node: n.id, w: 8, h: 8 });
      addWire({ ...base, id: `w:${n.id}`, role: 'stem', name, from: n.id, to: fork, port: null });
      for (const c of consumers) {
        const share = contribution(c.gate, c.port);
        const key = `${n.id}:${c.gate.id}:${c.port}`;
        let from = fork;
        if (far(c)) {
          const text = nameOf(n);
          from = `ref:${key}`;
          boxes.push({ id: from, kind: 'ref', node: n.id, text, w: Math.ceil(measure(text)) + 10, h: 22 });
        }
        addWire({
          id: `b:${key}`, role: from === fork ? 'branch' : 'ref', node: n.id, consumer: c.gate.id,
          tensor, value: '', grad: share === null ? '' : fmt(share, precision),
          gradRaw: share ?? (consumers.length === 1 ? n.grad : null), share,
          from, to: c.gate.id, port: c.port,
        });
      }
    }
  }
  // In a big circuit an input used once (a weight, a bias) is drawn beside the gate it feeds
  // instead of in the first column: an MLP's dozens of weights would otherwise cross every wire.
  const single = new Set(boxes.length > BIG ? circuit.nodes.filter((n) => n.kind === 'input'
    && uses.get(n.id).length === 1 && n.id !== circuit.output).map((n) => n.id) : []);
  return { boxes, wires, byId, output: circuit.output, single };
}

/** Where a gate's input ports sit on the west side of its circle, top to bottom in input order. */
export function portY(r, arity, port) {
  if (arity <= 1) return r;
  const spread = Math.min(1.2 * r, 14 * (arity - 1));
  return r - spread / 2 + (spread * port) / (arity - 1);
}

const LAYOUT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.spacing.nodeNode': '14',
  'elk.spacing.edgeEdge': '8',
  'elk.spacing.edgeNode': '10',
  'elk.spacing.edgeLabel': '2',
  'elk.layered.spacing.nodeNodeBetweenLayers': '14',
  'elk.layered.spacing.edgeNodeBetweenLayers': '8',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.padding': '[top=12,left=12,bottom=12,right=12]',
};

/** The ELK JSON graph for a model: fixed port positions so inputs enter a gate in order. */
export function toElk(model) {
  const children = model.boxes.map((b) => {
    const ports = [];
    const opts = { 'elk.portConstraints': 'FIXED_POS' };
    if (b.kind === 'input') opts['elk.layered.layering.layerConstraint'] = 'FIRST';
    if (b.kind === 'out') opts['elk.layered.layering.layerConstraint'] = 'LAST';
    if (b.kind === 'gate') {
      b.ports.forEach((y, i) => ports.push({ id: `${b.id}.i${i}`, x: 0, y, width: 0, height: 0,
        layoutOptions: { 'elk.port.side': 'WEST' } }));
    } else if (!['input', 'const', 'ref'].includes(b.kind)) {
      ports.push({ id: `${b.id}.i0`, x: 0, y: b.h / 2, width: 0, height: 0,
        layoutOptions: { 'elk.port.side': 'WEST' } });
    }
    if (b.kind !== 'out' && b.kind !== 'sink') {
      ports.push({ id: `${b.id}.o`, x: b.w, y: b.out ?? b.h / 2, width: 0, height: 0,
        layoutOptions: { 'elk.port.side': 'EAST' } });
    }
    return { id: b.id, width: b.w, height: b.h, ports, layoutOptions: opts };
  });
  const edges = model.wires.map((w) => ({
    id: w.id,
    sources: [`${w.from}.o`],
    targets: [`${w.to}.i${w.port ?? 0}`],
    labels: w.label
      ? [{ id: `${w.id}.l`, text: ' ', width: w.label.w, height: w.label.h,
          layoutOptions: { 'elk.edgeLabels.inline': 'true', 'elk.edgeLabels.placement': 'CENTER' } }]
      : [],
  }));
  return { id: 'root', layoutOptions: { ...LAYOUT_OPTIONS }, children, edges };
}

/** Merge ELK's answer back into the model: box positions, wire polylines, label boxes. */
export function fromElk(laid, model) {
  const pos = new Map(laid.children.map((c) => [c.id, c]));
  const boxes = model.boxes.map((b) => ({ ...b, x: pos.get(b.id).x, y: pos.get(b.id).y }));
  const edgeById = new Map(laid.edges.map((e) => [e.id, e]));
  const wires = model.wires.map((w) => {
    const e = edgeById.get(w.id);
    const s = e.sections[0];
    const points = [s.startPoint, ...(s.bendPoints || []), s.endPoint].map((p) => [p.x, p.y]);
    const l = e.labels && e.labels[0];
    const label = l ? { x: l.x, y: l.y, w: l.width, h: l.height } : null;
    return { ...w, points, label };
  });
  return { width: laid.width, height: laid.height, boxes, wires, output: model.output };
}

/** Ports sit on the sides of a gate's box: run each wire on to (and from) the circle itself. */
function ontoCircles(lay) {
  const boxById = new Map(lay.boxes.map((b) => [b.id, b]));
  for (const w of lay.wires) {
    const [source, target] = [boxById.get(w.from), boxById.get(w.to)];
    if (source.kind === 'gate') w.points[0][0] = source.x + source.w / 2 + source.r;
    if (target.kind !== 'gate') continue;
    const r = target.r;
    const last = w.points[w.points.length - 1];
    const dy = Math.min(Math.abs(last[1] - (target.y + r)), r);
    last[0] = target.x + target.w / 2 - Math.sqrt(r * r - dy * dy);
  }
  return lay;
}

/**
 * What the positions of a model depend on: its boxes and their sizes, its wires, their ends and
 * the sizes of their labels (not the numbers in them, which fit the room kept for any number),
 * and which texts a wire has, with every text that is not a number (names, shapes; a short
 * vector's numbers name its heat map). Two models with the same key are laid out alike and
 * drawn alike but for their numbers: the wires' values and gradients, and the constants'.
 */
export function layoutKey(model) {
  const boxes = model.boxes.map((b) => [b.id, b.kind, b.op, b.w, b.h, b.r, b.kind === 'const' ? '' : b.text,
    b.sig, model.single.has(b.id)].join(':'));
  const wires = model.wires.map((w) => [w.id, w.role, w.from, w.to, w.port, w.name, w.label?.w, w.label?.h,
    !!w.value, !!w.grad, w.tensor && w.value].join(':'));
  return `${model.output}|${boxes.join(' ')}|${wires.join(' ')}`;
}

/**
 * Lay out a circuit; resolves to the positioned model, with its layoutKey as `key`. Small
 * circuits go to ELK (`elk`, an ELK instance), big ones to the linear-time fastLayout. When
 * `opts.previous` (an earlier answer of this function) has the same key (only numbers changed:
 * a comment, spaces, a new value), its positions are kept and only the texts are new.
 */
export async function layoutCircuit(circuit, elk, opts = {}) {
  const model = buildModel(circuit, opts);
  const key = layoutKey(model);
  const prev = opts.previous;
  if (prev?.key === key) {
    return {
      ...prev,
      boxes: model.boxes.map((b, i) => ({ ...b, x: prev.boxes[i].x, y: prev.boxes[i].y })),
      wires: model.wires.map((w, i) => ({ ...w, points: prev.wires[i].points, label: prev.wires[i].label })),
    };
  }
  const lay = model.boxes.length > BIG ? fastLayout(model) : fromElk(await elk.layout(toElk(model)), model);
  return { ...ontoCircles(lay), key };
}

/** True when two {x, y, w, h} boxes overlap by more than `tol` px in both directions. */
export function boxesOverlap(a, b, tol = 0.5) {
  return a.x + a.w - tol > b.x && b.x + b.w - tol > a.x && a.y + a.h - tol > b.y && b.y + b.h - tol > a.y;
}

/**
 * Topological steps for the animation: forward gates in order, then the seed (`from`: what the
 * backward pass starts from, in words), then backward.
 */
export function stepPlan(circuit) {
  const gates = circuit.nodes.filter((n) => n.kind === 'gate').map((n) => n.id);
  const forward = new Map(gates.map((id, i) => [id, i + 1]));
  const seed = gates.length + 1;
  const backward = new Map(gates.map((id, i) => [id, seed + gates.length - i]));
  const valueAt = new Map();
  const gradAt = new Map();
  const uses = new Map(circuit.nodes.map((n) => [n.id, []]));
  for (const n of circuit.nodes) for (const src of n.inputs) uses.get(src)?.push(n.id);
  for (const n of circuit.nodes) {
    valueAt.set(n.id, forward.get(n.id) ?? 0);
    // A wire's total gradient is known once every gate that uses it has sent its share back.
    const u = uses.get(n.id).map((g) => backward.get(g));
    gradAt.set(n.id, n.id === circuit.output ? seed : u.length ? Math.max(...u) : seed);
  }
  return {
    total: seed + gates.length, seed, from: seedText(circuit),
    forward, backward, valueAt, gradAt, gates,
  };
}

/**
 * What step `step` of `plan` has computed, as the drawing shows it: a node's value, its total
 * gradient, and what a gate has sent back to its inputs. Step null (everything shown) knows all.
 */
export function knownAt(plan, step) {
  const all = step === null || step === undefined || !plan;
  return {
    value: (id) => all || (plan.valueAt.get(id) ?? 0) <= step,
    grad: (id) => all || (plan.gradAt.get(id) ?? Infinity) <= step,
    sent: (id) => all || (plan.backward.get(id) ?? Infinity) <= step,
  };
}

/**
 * Composite gates drawn expanded: the primitive gates that came from one composite share its
 * source span, so gates with the same span form a group. Returns [{ids, label}] with the
 * source text of the span as the label (shortened).
 */
export function composites(circuit) {
  const bySpan = new Map();
  for (const n of circuit.nodes) {
    if (n.kind !== 'gate' || !n.span) continue;
    const key = n.span.join(':');
    if (!bySpan.has(key)) bySpan.set(key, []);
    bySpan.get(key).push(n);
  }
  const groups = [];
  for (const members of bySpan.values()) {
    if (members.length < 2) continue;
    const [s, e] = members[0].span;
    const text = circuit.expression.slice(s, e).replace(/\s+/g, ' ');
    const call = /^(?:np\.|math\.)?([A-Za-z_]\w*)\(/.exec(text);
    const label = text.length <= 24 ? text : call ? `${call[1]}(…)` : `${text.slice(0, 22)}…`;
    groups.push({ ids: members.map((n) => n.id), label, kind: 'composite' });
  }
  return groups;
}

/** One box per statement of a program that makes two gates or more, labelled by its name. */
export function statementGroups(circuit) {
  return statements(circuit.expression).map((st) => ({
    label: st.name,
    kind: 'statement',
    ids: circuit.nodes.filter((n) => n.kind === 'gate' && n.span && n.span[0] >= st.start
      && n.span[1] <= st.end).map((n) => n.id),
  })).filter((g) => g.ids.length >= 2);
}
