/**
 * A layered layout in linear time, for circuits too big for ELK (whose layered algorithm takes
 * about 0.4 s at 300 gates and several seconds at 900). It follows the same picture rules:
 * inputs in the first column (an input used once sits beside its gate), the output in the last, each wire's label on the stretch right
 * after its source, and orthogonal wires that turn only in the gaps between columns, so no wire
 * runs through a label or a box. Pure: model (from layout.js buildModel) in, coordinates out.
 * @module fastlayout
 */

const PAD = 12;
const NODE_GAP = 14; // between two boxes of a column
const EDGE_NODE = 10; // between a box and a wire passing it, and a turn and a column
const EDGE_GAP = 8; // between two wires
const LAYER_GAP = 22; // between columns when no wire turns there

const SOURCES = new Set(['input', 'const', 'ref']);

/** Lay out a drawable model; returns what layout.js fromElk returns for ELK's answer. */
export function fastLayout(model) {
  const { nodes, layers, segs, routes } = buildLayers(model);
  orderLayers(layers);
  placeY(layers);
  const width = placeX(layers, segs);
  return collect(model, layers, nodes, routes, width);
}

/** Input port offsets from a box's top: gates have one per input, in order. */
const inOffset = (n, port) => (n.box?.ports ? n.box.ports[port ?? 0] : n.h / 2);
const outOffset = (n) => n.box?.out ?? n.h / 2;

// ---- 1. layers: longest path from the inputs; every wire label gets a column of its own ------

function buildLayers(model) {
  const nodes = new Map();
  for (const b of model.boxes) {
    const free = b.kind === 'const' || b.kind === 'ref' || model.single?.has(b.id);
    nodes.set(b.id, { box: b, free, w: b.w, h: b.h, ins: [], outs: [] });
  }
  const span = (w) => (w.label ? 2 : 1);
  const outWires = new Map(model.boxes.map((b) => [b.id, []]));
  const indeg = new Map(model.boxes.map((b) => [b.id, 0]));
  for (const w of model.wires) {
    outWires.get(w.from).push(w);
    indeg.set(w.to, indeg.get(w.to) + 1);
  }
  // Kahn's order: the model lists boxes in program order, which is almost but not always
  // topological for the extra boxes (forks, stubs, the output terminal).
  const order = model.boxes.filter((b) => indeg.get(b.id) === 0).map((b) => b.id);
  const layer = new Map(model.boxes.map((b) => [b.id, 0]));
  for (let i = 0; i < order.length; i++) {
    for (const w of outWires.get(order[i])) {
      layer.set(w.to, Math.max(layer.get(w.to), layer.get(order[i]) + span(w)));
      indeg.set(w.to, indeg.get(w.to) - 1);
      if (indeg.get(w.to) === 0) order.push(w.to);
    }
  }
  // Constants, reference stubs and inputs used once (a weight, a bias) sit right before the
  // gate they feed, so their wires cross no others; the output goes last.
  for (const b of model.boxes) {
    if (b.kind !== 'const' && b.kind !== 'ref' && !model.single?.has(b.id)) continue;
    const ws = outWires.get(b.id);
    if (ws.length) layer.set(b.id, Math.max(0, Math.min(...ws.map((w) => layer.get(w.to) - span(w)))));
  }
  const last = Math.max(0, ...layer.values());
  for (const b of model.boxes) if (b.kind === 'out') layer.set(b.id, last);

  const layers = Array.from({ length: last + 1 }, () => []);
  for (const id of order) {
    const n = nodes.get(id);
    n.layer = layer.get(id);
    layers[n.layer].push(n);
  }
  // Each wire becomes a chain through one dummy per column it crosses; the first dummy of a
  // labelled wire is its label's box.
  const segs = [];
  const routes = new Map();
  for (const w of model.wires) {
    let prev = nodes.get(w.from);
    const target = nodes.get(w.to);
    const { free } = prev;
    const route = { hops: [prev], label: null };
    routes.set(w.id, route);
    for (let l = prev.layer + 1; l < target.layer; l++) {
      const isLabel = w.label && l === prev.layer + 1;
      const d = { dummy: true, free, layer: l, w: isLabel ? w.label.w : 0,
        h: isLabel ? w.label.h : 0, ins: [], outs: [] };
      if (isLabel) route.label = d;
      layers[l].push(d);
      route.hops.push(d);
      segs.push(link(prev, d, 0, free));
      prev = d;
    }
    segs.push(link(prev, target, w.port, free));
    route.hops.push(target);
  }
  return { nodes, layers, segs, routes };
}

function link(u, v, port, free) {
  const s = { u, v, port, free };
  u.outs.push(s);
  v.ins.push(s);
  return s;
}

// ---- 2. order within columns: barycentre sweeps, forward, backward, forward -----------------

function orderLayers(layers) {
  const pos = new Map();
  const index = (layer) => layer.forEach((n, i) => pos.set(n, (i + 0.5) / layer.length));
  layers.forEach(index);
  const sweep = (from, to, step, side) => {
    for (let l = from; l !== to; l += step) {
      const layer = layers[l];
      const key = new Map();
      for (const n of layer) {
        const segs = side === 'ins' ? n.ins : n.outs;
        if (!segs.length) {
          key.set(n, pos.get(n));
          continue;
        }
        let sum = 0;
        for (const s of segs) {
          // Going backward, a gate's port order breaks ties: input 0 above input 1.
          const other = side === 'ins' ? s.u : s.v;
          const arity = other.box?.ports?.length ?? 1;
          sum += pos.get(other) + (side === 'outs' ? ((s.port ?? 0) + 1) / (arity + 1) / 1e3 : 0);
        }
        key.set(n, sum / segs.length);
      }
      layer.sort((a, b) => key.get(a) - key.get(b));
      index(layer);
    }
  };
  const n = layers.length;
  sweep(1, n, 1, 'ins');
  sweep(n - 2, 0, -1, 'outs'); // the first column keeps the program's order of inputs
  sweep(1, n, 1, 'ins');
}

// ---- 3. vertical positions: each column as close to its neighbours' ports as order allows ----

const spacing = (a, b) => (a.dummy && b.dummy && !a.h && !b.h ? EDGE_GAP
  : (a.dummy && !a.h) || (b.dummy && !b.h) ? EDGE_NODE : NODE_GAP);

function placeY(layers) {
  for (const layer of layers) {
    let y = 0;
    layer.forEach((n, i) => {
      if (i) y += spacing(layer[i - 1], n);
      n.y = y;
      y += n.h;
    });
  }
  const align = (layer, side) => {
    const want = layer.map((n) => {
      const segs = side === 'ins' ? n.ins : n.outs;
      if (!segs.length) return { y: n.y, weight: 1e-3 };
      let sum = 0;
      let weight = 0;
      for (const s of segs) {
        // Going forward a gate centres on its inputs (aligning input 0 exactly would let a long
        // chain drift down by a port offset per gate); going backward a wire aims at its port.
        const y = side === 'ins' ? s.u.y + outOffset(s.u) - n.h / 2
          : s.v.y + inOffset(s.v, s.port) - outOffset(n);
        const k = side === 'ins' && s.free ? 1e-6 : 1;
        sum += k * y;
        weight += k;
      }
      // Constants and stubs (and their wires) make way: the main line stays straight.
      return { y: sum / weight, weight: n.free ? 1e-3 : weight };
    });
    isotonic(layer, want);
  };
  for (let l = 1; l < layers.length; l++) align(layers[l], 'ins');
  for (let l = layers.length - 2; l >= 0; l--) align(layers[l], 'outs');
  for (let l = 1; l < layers.length; l++) align(layers[l], 'ins');
}

/**
 * Tops for the boxes of one column, in their order, no closer than their spacing, with the least
 * weighted squared distance from the wanted tops (pool-adjacent-violators on top − offset).
 */
function isotonic(layer, want) {
  const offset = [];
  let o = 0;
  layer.forEach((n, i) => {
    if (i) o += layer[i - 1].h + spacing(layer[i - 1], n);
    offset.push(o);
  });
  const blocks = []; // {start, end, weight, mean}
  layer.forEach((n, i) => {
    let b = { start: i, end: i, weight: want[i].weight, mean: want[i].y - offset[i] };
    while (blocks.length && blocks[blocks.length - 1].mean > b.mean) {
      const p = blocks.pop();
      const weight = p.weight + b.weight;
      b = { start: p.start, end: b.end, weight, mean: (p.mean * p.weight + b.mean * b.weight) / weight };
    }
    blocks.push(b);
  });
  for (const b of blocks) for (let i = b.start; i <= b.end; i++) layer[i].y = b.mean + offset[i];
}

// ---- 4. horizontal positions: columns, and one track per turning wire in each gap -------------

function placeX(layers, segs) {
  const gaps = layers.map(() => []);
  for (const s of segs) {
    const y1 = s.u.y + outOffset(s.u);
    const y2 = s.v.y + inOffset(s.v, s.port);
    s.y1 = y1;
    s.y2 = y2;
    if (Math.abs(y1 - y2) > 0.5) gaps[s.u.layer].push(s);
  }
  let x = PAD;
  layers.forEach((layer, l) => {
    const width = Math.max(0, ...layer.map((n) => n.w));
    for (const n of layer) n.x = x + (n.box && SOURCES.has(n.box.kind) ? width - n.w : (width - n.w) / 2);
    x += width;
    const tracks = assignTracks(gaps[l]);
    const gap = tracks ? 2 * EDGE_NODE + (tracks - 1) * EDGE_GAP : LAYER_GAP;
    for (const s of gaps[l]) s.tx = x + gap - EDGE_NODE - s.track * EDGE_GAP;
    x += Math.max(gap, LAYER_GAP);
  });
  return x - LAYER_GAP + PAD;
}

/**
 * Give each turning wire of a gap a vertical track (0 = nearest the next column). Wires from one
 * source share a track. Downward wires from higher sources, and upward ones from lower sources,
 * take the tracks further right, so wires of one direction do not cross.
 */
function assignTracks(segs) {
  const groups = new Map();
  for (const s of segs) {
    const g = groups.get(s.u) ?? { y: s.y1, lo: s.y1, hi: s.y1, down: 0, segs: [] };
    g.lo = Math.min(g.lo, s.y2);
    g.hi = Math.max(g.hi, s.y2);
    g.down += s.y2 > s.y1 ? 1 : -1;
    g.segs.push(s);
    groups.set(s.u, g);
  }
  const list = [...groups.values()];
  const down = list.filter((g) => g.down >= 0).sort((a, b) => a.y - b.y);
  const up = list.filter((g) => g.down < 0).sort((a, b) => b.y - a.y);
  const used = []; // per track: the intervals on it
  for (const g of [...down, ...up]) {
    let t = 0;
    while (used[t]?.some(([lo, hi]) => g.lo < hi + EDGE_GAP && lo < g.hi + EDGE_GAP)) t++;
    (used[t] ??= []).push([g.lo, g.hi]);
    for (const s of g.segs) s.track = t;
  }
  return used.length;
}

// ---- 5. the answer: boxes, wire polylines and label boxes ------------------------------------

function collect(model, layers, nodes, routes, width) {
  let top = Infinity;
  let bottom = -Infinity;
  for (const layer of layers) {
    for (const n of layer) {
      top = Math.min(top, n.y);
      bottom = Math.max(bottom, n.y + n.h);
    }
  }
  const dy = PAD - top;
  const boxes = model.boxes.map((b) => ({ ...b, x: nodes.get(b.id).x, y: nodes.get(b.id).y + dy }));
  const wires = model.wires.map((w) => {
    const { hops, label: l } = routes.get(w.id);
    const [source, target] = [hops[0], hops[hops.length - 1]];
    let y = source.y + outOffset(source) + dy;
    const points = [[source.x + source.w, y]];
    for (let i = 0; i + 1 < hops.length; i++) {
      const s = hops[i].outs.find((x) => x.v === hops[i + 1]);
      if (s.tx === undefined) continue; // within half a pixel: stays straight
      points.push([s.tx, y], [s.tx, s.y2 + dy]);
      y = s.y2 + dy;
    }
    points.push([target.x, y]);
    const label = l ? { x: l.x, y: l.y + dy, w: l.w, h: l.h } : null;
    return { ...w, points, label };
  });
  return { width, height: bottom - top + 2 * PAD, boxes, wires, output: model.output };
}
