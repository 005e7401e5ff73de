/**
 * The exploding and vanishing gradients lab: two gradient-flow configurations side by side,
 * the papers' figures next to ours, and the cliff with and without gradient clipping.
 * Charts are Observable Plot SVG (window.Plot, loaded before this module).
 * @module lab
 */

import { ApiError, postCliff, postGradientFlow } from './api.js';
import { number, tick } from './format.js';
import { aboutField, fieldError, fill, limitsFromSchema, logY, numberOf, problemOf, putChart,
  ratioText, runs, showError as show } from './labui.js';
import { encodeState } from './state.js';

const $ = (id) => document.getElementById(id);
const Plot = window.Plot;
const COLORS = { A: '#2457c5', B: '#d9730d' };

/** Setups the presets and the remedies load into configurations A and B. */
export const PRESETS = {
  glorot: [
    { activation: 'tanh', init: 'standard', depth: 5, width: 1000 },
    { activation: 'tanh', init: 'xavier', depth: 5, width: 1000 },
  ],
  he: [
    { activation: 'relu', init: 'xavier', depth: 30, width: 512 },
    { activation: 'relu', init: 'he', depth: 30, width: 512 },
  ],
  exploding: [
    { activation: 'relu', init: 'normal', depth: 10, width: 256 },
    { activation: 'relu', init: 'he', depth: 10, width: 256, scale: 1.5 },
  ],
  'sigmoid-relu': [
    { activation: 'sigmoid', init: 'xavier', depth: 10, width: 256 },
    { activation: 'relu', init: 'he', depth: 10, width: 256 },
  ],
  'standard-xavier': [
    { activation: 'tanh', init: 'standard', depth: 10, width: 256 },
    { activation: 'tanh', init: 'xavier', depth: 10, width: 256 },
  ],
  'xavier-he': [
    { activation: 'relu', init: 'xavier', depth: 20, width: 256 },
    { activation: 'relu', init: 'he', depth: 20, width: 256 },
  ],
  residual: [
    { activation: 'sigmoid', init: 'xavier', depth: 20, width: 128 },
    { activation: 'sigmoid', init: 'xavier', depth: 20, width: 128, residual: true },
  ],
};
const BASE = { activation: 'tanh', init: 'standard', depth: 5, width: 1000, batch: 64, scale: 1,
  seed: 0, residual: false };

/** The playground link: a 10-deep sigmoid chain with the |gradient| colouring on. */
export function sigmoidChainLink(depth = 10) {
  const expression = 'sigmoid('.repeat(depth) + 'x' + ')'.repeat(depth);
  return '/' + encodeState({ expression, values: { x: 1 }, magnitude: true });
}

/** A response number: finite numbers as they are, "NaN"/"Infinity" strings read back. */
const num = (v) => Number(v);

// --- progress and errors ----------------------------------------------------------------------

let pending = 0;
function busy(text) {
  pending += 1;
  $('busy').hidden = false;
  $('status-text').textContent = text;
  document.querySelector('.lab').setAttribute('aria-busy', 'true');
  return () => {
    pending -= 1;
    if (pending > 0) return;
    $('busy').hidden = true;
    $('status-text').textContent = '';
    document.querySelector('.lab').removeAttribute('aria-busy');
  };
}

/** Show an error in the box next to the charts it concerns ('flow', 'papers' or 'cliff'); null clears. */
const showError = (err, where = 'flow') => show(err, `${where}-error`);

/** Mark charts as showing an earlier run (or clear the mark when `on` is false). */
function markStale(ids, on) {
  for (const id of ids) $(id).classList.toggle('stale', on);
}

// One run at a time: the server has few cores, and two networks at once both hit its time limit.
let queue = Promise.resolve();
function enqueue(job) {
  const run = queue.then(job, job);
  queue = run.catch(() => {});
  return run;
}

// --- configurations A and B --------------------------------------------------------------------

function fieldset(side) {
  return document.querySelector(`fieldset[data-side="${side}"]`);
}

function setConfig(side, config) {
  const c = { ...BASE, ...config };
  const fs = fieldset(side);
  for (const [name, value] of Object.entries(c)) fill(fs.elements[name], value);
}

/**
 * Limits on a configuration's fields taken together, from the server's schema
 * ("x-combined-limits" of GradientFlowRequest): [{name, powers: {field: power}, max, formula, hint}].
 */
let combined = [];

/**
 * A configuration's request body; a field that is not a number, outside its limits, or a
 * combination of fields over a combined limit is reported by name, before anything is sent.
 */
function readConfig(side) {
  const fs = fieldset(side);
  const title = `Configuration ${side.toUpperCase()}`;
  const body = {
    activation: fs.elements.activation.value,
    init: fs.elements.init.value,
    residual: fs.elements.residual.checked,
  };
  checkLimits(fs, title);
  for (const name of ['depth', 'width', 'batch', 'scale', 'seed']) body[name] = numberOf(fs.elements[name], title);
  const n = (v) => v.toLocaleString('en-US');
  for (const limit of combined) {
    const value = Object.entries(limit.powers).reduce((p, [k, e]) => p * body[k] ** e, 1);
    if (value > limit.max) {
      throw new ApiError({ title, detail: `${limit.formula} = ${n(value)} ${limit.name} is more `
        + `than the limit of ${n(limit.max)}; ${limit.hint}` });
    }
  }
  return body;
}

function loadPreset(name) {
  const [a, b] = PRESETS[name];
  setConfig('a', a);
  setConfig('b', b);
  runFlow();
}

// --- gradient-flow charts -----------------------------------------------------------------------

function label(config) {
  return `${config.activation}, ${config.init}${config.scale !== 1 ? ` ×${config.scale}` : ''}`
    + `${config.residual ? ', residual' : ''}, ${config.depth}×${config.width}`;
}

function rows(results) {
  return results.flatMap(({ side, data }) => data.layers.map((layer) => ({ ...layer, side })));
}

/** The legend's colours: each side named by its configuration. */
function colour(results) {
  const names = results.map((r) => `${r.side}: ${label(r.config)}`);
  return { domain: names, range: results.map((r) => COLORS[r.side]), legend: true };
}
const keyOf = (results) => {
  const names = new Map(results.map((r) => [r.side, `${r.side}: ${label(r.config)}`]));
  return (d) => names.get(d.side);
};

/**
 * Values on a log chart, one line per side. A value of 0 or not finite has no place on a log
 * scale: the note under the chart names the layers left out, and the warnings say why.
 */
function logChart(id, data, y, yLabel, results) {
  const shown = (d) => Number.isFinite(num(d[y])) && num(d[y]) > 0;
  const finite = data.filter(shown);
  const out = results.map(({ side }) => [side, data.filter((d) => d.side === side && !shown(d))
    .map((d) => d.layer)]).filter(([, layers]) => layers.length);
  const note = out.length ? `Not drawn: ${out.map(([side, layers]) => `${side}’s layer`
    + `${layers.length > 1 ? 's' : ''} ${runs(layers)}`).join(' and ')} (0 or not finite, which `
    + 'a log scale cannot show; the warnings above say why).' : '';
  const key = keyOf(results);
  const log = logY(finite.map((d) => num(d[y])), yLabel);
  const chart = Plot.plot({
    width: 460, height: 280, marginLeft: 60,
    x: { label: 'layer (1 = nearest the input)', tickFormat: 'd' },
    y: log.y,
    color: colour(results),
    marks: [
      ...log.marks,
      ...sideMarks(finite, (d) => num(d[y]), key, (d) => `${key(d)}, layer ${d.layer}: ${number(d[y])}`),
    ],
  });
  putChart(id, chart, note);
}

function saturationChart(data, results) {
  const key = keyOf(results);
  const chart = Plot.plot({
    width: 460, height: 280, marginLeft: 50,
    x: { label: 'layer', tickFormat: 'd' },
    y: { label: 'saturated fraction', domain: [0, 1], grid: true },
    color: colour(results),
    marks: [
      ...sideMarks(data, 'saturated', key, (d) => `${key(d)}, layer ${d.layer}: ${number(d.saturated)}`),
    ],
  });
  putChart('chart-saturated', chart);
}

/**
 * A's line solid with filled dots, B's dashed with open rings, so that where the two lie on
 * each other both still show.
 */
function sideMarks(data, y, key, title) {
  return ['A', 'B'].flatMap((side) => {
    const mine = data.filter((d) => d.side === side);
    const dashed = side === 'B';
    return [
      Plot.line(mine, { x: 'layer', y, stroke: key, strokeDasharray: dashed ? '6 4' : null }),
      Plot.dot(mine, { x: 'layer', y, title, r: dashed ? 4 : 2.5, strokeWidth: 1.5,
        ...(dashed ? { stroke: key, fill: 'none' } : { fill: key }) }),
    ];
  });
}

/** Where A's and B's saturated fractions are the same at every layer, a sentence that says so. */
function coincide(results) {
  const [a, b] = results.map((r) => r.data.layers.map((l) => l.saturated));
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) return '';
  return 'A and B have the same fraction at every layer: B’s dashed line lies on A’s.';
}

/** At most `n` layers, evenly spread and always including the first and the last. */
export function pickLayers(count, n = 10) {
  if (count <= n) return Array.from({ length: count }, (_, i) => i + 1);
  const picked = new Set();
  for (let k = 0; k < n; k++) picked.add(1 + Math.round((k * (count - 1)) / (n - 1)));
  return [...picked];
}

/**
 * One small histogram per layer (at most 10, see pickLayers), stacked, on one count scale. Where
 * a layer's values span a range of their own (relu and linear layers grow or shrink from layer
 * to layer), the layer gets its own x scale and axis, so its bars fill its row; layers on one
 * range (tanh, sigmoid) share the axis under the last of them. A lone spike (relu's units at
 * 0) would flatten every other bar: the count scale stops above the rest, and a bar cut off at
 * the top says what share of its layer it holds.
 */
function histogramChart(id, side, data) {
  const layers = pickLayers(data.layers.length);
  const hists = layers.map((n) => data.layers[n - 1].histogram);
  const second = (counts) => [...counts].sort((a, b) => b - a)[1] ?? 0;
  const tallest = Math.max(1, ...hists.flatMap((h) => h.counts));
  const rest = Math.max(...hists.map((h) => second(h.counts)));
  const top = tallest > 3 * rest && rest > 0 ? 1.5 * rest : tallest;
  const span = (h) => [num(h.edges[0]), num(h.edges.at(-1))];
  const own = hists.some((h) => String(span(h)) !== String(span(hists[0])));
  const notes = [own && 'Each layer has its own x scale, from its smallest to its largest value:'
    + ' read the numbers under its row.', top < tallest && 'A bar cut off at the top is labelled'
    + ' with its share of the layer’s units.'].filter(Boolean);
  const nodes = [];
  if (notes.length) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = notes.join(' ');
    nodes.push(p);
  }
  hists.forEach((h, i) => {
    const last = i === hists.length - 1;
    const axis = own || last;
    const total = h.counts.reduce((a, b) => a + b, 0);
    const bars = h.counts.map((count, k) => ({ x1: num(h.edges[k]), x2: num(h.edges[k + 1]), count,
      share: `${Math.round((100 * count) / total)}%` }));
    nodes.push(Plot.plot({
      width: 440, height: (axis ? 34 : 8) + 44 + (last ? 14 : 0), marginLeft: 60, marginTop: 8,
      marginBottom: axis ? 26 + (last ? 14 : 0) : 0,
      x: { domain: span(h), axis: axis ? 'bottom' : null, ticks: 4, tickFormat: tick,
        label: last ? 'activation f(s) →' : null, labelAnchor: 'right', labelOffset: 38 },
      y: { axis: null, domain: [0, top] },
      marks: [
        Plot.rectY(bars, { x1: 'x1', x2: 'x2', y: 'count', fill: COLORS[side], insetLeft: 0.5,
          clip: true }),
        Plot.text(bars.filter((b) => b.count > top), { x: (b) => (b.x1 + b.x2) / 2, y: top,
          text: 'share', dy: -1, lineAnchor: 'bottom', textAnchor: 'start', dx: 2, fontSize: 10 }),
        Plot.text([`layer ${layers[i]}`], { frameAnchor: 'left', dx: -8, textAnchor: 'end' }),
      ],
    }));
  });
  putChart(id, nodes, layers.length < data.layers.length
    ? `${layers.length} of ${data.layers.length} layers shown` : '');
}

function summary(results) {
  return results.map(({ side, config, data }) => {
    const n = data.layers.length;
    const ratio = ratioText(data.layers[0].grad_var, data.layers[n - 1].grad_var, 'layer 1',
      `layer ${n}`);
    return `${side} (${label(config)}): loss ${number(data.loss)}, grad variance ${ratio}.`;
  }).join(' ');
}

/** What left float64's range in each run, by side; the list is hidden when nothing did. */
function showWarnings(results) {
  const list = $('flow-warnings');
  list.replaceChildren(...results.flatMap(({ side, data }) => data.warnings.map((w) => {
    const li = document.createElement('li');
    li.textContent = `${side}: ${w}`;
    return li;
  })));
  list.hidden = !list.children.length;
}

// the charts of a run and its summary line, marked while they show an earlier run
const FLOW_CHARTS = ['chart-grad-var', 'chart-grad-norm', 'chart-weight-grad', 'chart-saturated',
  'hist-a', 'hist-b', 'flow-summary'];
let flowRun = 0; // a newer run makes an older one stop before its next request
let flowController = null;

/** Run A, then B (never both at once), and draw both; the charts are marked stale meanwhile. */
/**
 * Both configurations' request bodies, or null when the form asks for what the server refuses:
 * then the error says which field or limit, the charts are marked stale and "run" is disabled.
 */
function flowConfigs() {
  showError(null);
  try {
    const configs = ['a', 'b'].map((side) => ({ side: side.toUpperCase(), config: readConfig(side) }));
    $('run-flow').disabled = false;
    return configs;
  } catch (err) {
    showError(err);
    markStale(FLOW_CHARTS, true);
    $('run-flow').disabled = true;
    return null;
  }
}

function runFlow() {
  const configs = flowConfigs();
  if (!configs) return Promise.resolve();
  const mine = ++flowRun;
  flowController?.abort();
  markStale(FLOW_CHARTS, true);
  return enqueue(async () => {
    if (mine !== flowRun) return;
    flowController = new AbortController();
    const { signal } = flowController;
    const done = busy('Running network A, then B, forward and backward…');
    let side = 'A'; // the configuration on its way
    try {
      const results = [];
      for (const c of configs) {
        if (mine !== flowRun) return;
        side = c.side;
        results.push({ ...c, data: await postGradientFlow(c.config, signal) });
      }
      const data = rows(results);
      logChart('chart-grad-var', data, 'grad_var', 'Var(∂L/∂s)', results);
      logChart('chart-grad-norm', data, 'grad_norm', '‖∂L/∂s‖', results);
      logChart('chart-weight-grad', data, 'weight_grad_norm', '‖∂L/∂W‖', results);
      saturationChart(data, results);
      const [a, b] = results.map((r) => r.data.saturation);
      $('saturation-note').textContent = [a === b ? `A and B: ${a}` : `A: ${a} · B: ${b}`,
        coincide(results)].filter(Boolean).join('. ');
      for (const r of results) histogramChart(`hist-${r.side.toLowerCase()}`, r.side, r.data);
      $('flow-summary').textContent = summary(results);
      showWarnings(results);
      markStale(['flow-summary'], false);
    } catch (err) {
      if (err.name !== 'AbortError' && mine === flowRun) {
        showError(aboutField(err, fieldset(side.toLowerCase()).elements, `Configuration ${side}`));
      }
    } finally {
      done();
    }
  });
}

// --- the papers' table ---------------------------------------------------------------------------

const ratio = (data) => num(data.layers[0].grad_var) / num(data.layers.at(-1).grad_var);
const spread = (data) => {
  const v = data.layers.map((l) => num(l.weight_grad_var));
  return Math.max(...v) / Math.min(...v);
};

function fillPapers() {
  return enqueue(papers);
}

async function papers() {
  const done = busy('Reproducing the papers’ figures…');
  const cell = (row) => document.querySelector(`#papers tr[data-row="${row}"] .ours`);
  try {
    const run = (c) => postGradientFlow({ ...BASE, ...c });
    const [gs, gx] = [await run(PRESETS.glorot[0]), await run(PRESETS.glorot[1])];
    cell('glorot-standard').textContent = `ratio ${number(ratio(gs))}`
      + ` = ${number(ratio(gs) / (1 / 3) ** 4)} × (1/3)⁴`;
    // the same init with linear units: the paper's linear regime, where the ratio is 1
    const gl = await run({ ...PRESETS.glorot[1], activation: 'linear' });
    cell('glorot-xavier').textContent = `ratio ${number(ratio(gx))}, ${number(ratio(gx) / ratio(gs))}×`
      + ` the standard init’s; with linear units ${number(ratio(gl))}`;
    cell('glorot-weights').textContent = `largest / smallest layer: ${number(spread(gs))} (standard),`
      + ` ${number(spread(gx))} (xavier)`;
    const [hx, hh] = [await run(PRESETS.he[0]), await run(PRESETS.he[1])];
    cell('he-xavier').textContent = `ratio ${number(ratio(hx))} = ${number(ratio(hx) / 2 ** -29)}`
      + ' × 2⁻²⁹';
    cell('he-he').textContent = `ratio ${number(ratio(hh))}`;
    // the cliff at its request's defaults (the cliff form's first values), whatever the form holds
    const { wall } = await postCliff({});
    cell('pascanu').textContent = wall ? `step at the wall ${number(wall.unclipped_step)} plain vs `
      + `${number(wall.clipped_step)} clipped` : 'the threshold was never reached';
  } catch (err) {
    showError(err, 'papers');
  } finally {
    done();
  }
}

// --- the cliff ---------------------------------------------------------------------------------------

/** The cliff form's inputs by their place in the request body. */
function cliffFields() {
  const f = $('cliff-form').elements;
  return { 'start.0': f.start_w, 'start.1': f.start_b, lr: f.lr, iterations: f.iterations,
    threshold: f.threshold, grid: f.grid };
}

/** Where the surface is drawn when the start lies on it: the wall and both sides of it. */
const AREA = { w: [0, 10], b: [-6, 2] };
const REACH = 50; // the farthest a coordinate may be from 0 (the schema's limit)

/**
 * The area [low, high] to draw along one axis: AREA's, widened to take in `start` when it lies
 * outside, with a twentieth of the new span to spare beyond it.
 */
function areaFor([low, high], start) {
  if (start >= low && start <= high) return [low, high];
  const [lo, hi] = [Math.min(low, start), Math.max(high, start)];
  const spare = (hi - lo) / 20;
  const round = (x) => Number(x.toPrecision(6));
  return start < low ? [round(Math.max(-REACH, lo - spare)), hi]
    : [lo, round(Math.min(REACH, hi + spare))];
}

function readCliff() {
  checkLimits($('cliff-form'));
  const f = $('cliff-form').elements;
  const value = (name) => numberOf(f[name]);
  const start = [value('start_w'), value('start_b')];
  return { start, w_range: areaFor(AREA.w, start[0]), b_range: areaFor(AREA.b, start[1]),
    lr: value('lr'), iterations: value('iterations'), threshold: value('threshold'),
    grid: value('grid') };
}

/** A sentence when the surface is not drawn over AREA: where the start lies, and why. */
function widened(body) {
  const [w, b] = [body.w_range, body.b_range];
  if (String([w, b]) === String([AREA.w, AREA.b])) return '';
  const span = ([lo, hi]) => `from ${number(lo)} to ${number(hi)}`;
  return `The start (${number(body.start[0])}, ${number(body.start[1])}) lies outside the usual area `
    + `(w ${span(AREA.w)}, b ${span(AREA.b)}): the surface is drawn over w ${span(w)} and b `
    + `${span(b)}. `;
}

function cliffChart(data) {
  const { w, b, loss } = data.surface;
  const cells = loss.flatMap((row, i) => row.map((l, j) => ({ w: w[j], b: b[i], loss: num(l) })));
  const dw = (w.at(-1) - w[0]) / (w.length - 1);
  const db = (b.at(-1) - b[0]) / (b.length - 1);
  const path = (points, name) => points.map((p, i) => ({ ...p, w: num(p.w), b: num(p.b),
    step: i, name }));
  const paths = [...path(data.unclipped, 'without clipping'), ...path(data.clipped, 'with clipping')];
  const xs = [w[0] - dw / 2, w.at(-1) + dw / 2];
  const ys = [b[0] - db / 2, b.at(-1) + db / 2];
  const colour = (d) => (d.name === 'with clipping' ? '#ffffff' : '#ff4d4d');
  // Where both paths take the same step off the chart, one arrow and note say it.
  const exits = [...leaving(path(data.unclipped, 'without clipping'), xs, ys),
    ...leaving(path(data.clipped, 'with clipping'), xs, ys)]
    .filter((e, i, all) => all.findIndex((f) => f.text === e.text && f.fromW === e.fromW) === i);
  const chart = Plot.plot({
    width: 640, height: 480, marginLeft: 50,
    x: { label: 'w', domain: xs },
    y: { label: 'b', domain: ys },
    color: { type: 'sequential', scheme: 'viridis', label: 'loss', legend: true },
    marks: [
      Plot.rect(cells, { x1: (d) => d.w - dw / 2, x2: (d) => d.w + dw / 2,
        y1: (d) => d.b - db / 2, y2: (d) => d.b + db / 2, fill: 'loss',
        shapeRendering: 'crispEdges' }),
      Plot.line(paths, { x: 'w', y: 'b', z: 'name', clip: true, strokeWidth: 2, stroke: colour }),
      Plot.dot(paths, { x: 'w', y: 'b', clip: true, r: 2.5, fill: colour,
        title: (d) => `${d.name}, step ${d.step}: w ${number(d.w)}, b ${number(d.b)}, `
          + `loss ${number(d.loss)}` }),
      // A step that leaves the grid: an arrow to the edge, and where it landed.
      Plot.arrow(exits, { x1: 'fromW', y1: 'fromB', x2: 'w', y2: 'b', stroke: colour, strokeWidth: 2,
        headLength: 12 }),
      ...exits.map((e) => Plot.text([e], { x: 'w', y: 'b', text: 'text', fill: colour,
        stroke: '#14181d', strokeWidth: 3, paintOrder: 'stroke', fontSize: 12, fontWeight: 600,
        textAnchor: e.anchor, dx: e.dx, dy: e.dy })),
    ],
  });
  putChart('chart-cliff', chart);
}

/**
 * Steps of a path that leave the rectangle xs × ys: where the segment crosses the edge, and a
 * note on where the step landed, placed inside the plot away from the edge and the segment.
 */
function leaving(points, xs, ys) {
  const inside = (p) => p.w >= xs[0] && p.w <= xs[1] && p.b >= ys[0] && p.b <= ys[1];
  const out = [];
  for (let i = 1; i < points.length; i++) {
    const [p, q] = [points[i - 1], points[i]];
    if (!inside(p) || inside(q)) continue;
    const finite = Number.isFinite(q.w) && Number.isFinite(q.b);
    // The largest t in (0, 1] that keeps p + t (q - p) inside: where the segment meets the edge.
    let t = 1;
    let edge = 'top';
    const cut = (from, to, lo, hi, low, high) => {
      if (to > hi && (hi - from) / (to - from) < t) [t, edge] = [(hi - from) / (to - from), high];
      if (to < lo && (lo - from) / (to - from) < t) [t, edge] = [(lo - from) / (to - from), low];
    };
    if (finite) {
      cut(p.w, q.w, xs[0], xs[1], 'left', 'right');
      cut(p.b, q.b, ys[0], ys[1], 'bottom', 'top');
    }
    const at = finite ? { w: p.w + t * (q.w - p.w), b: p.b + t * (q.b - p.b) } : { w: p.w, b: p.b };
    // The note goes on the side the segment does not come from, if the plot has room there.
    const frac = (at.w - xs[0]) / (xs[1] - xs[0]);
    let start = edge === 'left' || (edge !== 'right' && p.w <= at.w);
    if (edge === 'top' || edge === 'bottom') start = start ? frac < 0.7 : frac < 0.3;
    out.push({
      ...at, name: q.name, fromW: p.w, fromB: p.b,
      text: `step ${q.step} → (${number(q.w)}, ${number(q.b)})`,
      anchor: start ? 'start' : 'end',
      dx: start ? 8 : -8,
      dy: edge === 'top' ? 14 : edge === 'bottom' ? -14 : 0,
    });
  }
  return out;
}

function cliffSummary(data) {
  const wall = data.wall;
  const end = (p) => `(${number(p.w)}, ${number(p.b)}), loss ${number(p.loss)}`;
  const ends = `After ${data.clipped.length - 1} steps the plain path is at ${end(data.unclipped.at(-1))}`
    + `; the clipped one at ${end(data.clipped.at(-1))}.`;
  if (!wall) return `The gradient never exceeded the threshold, so both paths are the same. ${ends}`;
  // Steps are counted from 1, as the chart counts them: step n lands on point n of a path, so
  // the step taken from the wall's point (iteration, steps taken before it) is iteration + 1.
  return `Step ${wall.iteration + 1} leaves (w, b) = (${number(wall.w)}, ${number(wall.b)}), where `
    + `the gradient's norm is ${number(wall.grad_norm)}: the plain step is `
    + `${number(wall.unclipped_step)} long, the `
    + `clipped one ${number(wall.clipped_step)} `
    + `(${number(num(wall.unclipped_step) / num(wall.clipped_step))}× `
    + `shorter). ${ends}`;
}

function runCliff() {
  showError(null, 'cliff');
  let body;
  try {
    body = readCliff();
  } catch (err) {
    showError(err, 'cliff');
    markStale(['chart-cliff'], true);
    return Promise.resolve();
  }
  markStale(['chart-cliff'], true);
  return enqueue(async () => {
    const done = busy('Computing the loss surface and both descent paths…');
    try {
      const data = await postCliff(body).catch((err) => {
        throw aboutField(err, cliffFields());
      });
      cliffChart(data);
      $('cliff-summary').textContent = widened(body) + cliffSummary(data);
    } catch (err) {
      showError(err, 'cliff');
    } finally {
      done();
    }
  });
}

/** A number field the page finds wrong (labui.problemOf) is named before anything is sent. */
function checkLimits(form, where = '') {
  for (const input of form.querySelectorAll('input[type=number]')) {
    const problem = problemOf(input);
    if (problem) throw fieldError(input, problem, where);
  }
}

const debounced = (fn, ms) => {
  let t = null;
  return () => {
    clearTimeout(t);
    t = setTimeout(fn, ms);
  };
};

// --- wiring ------------------------------------------------------------------------------------------

async function start() {
  if (!Plot) {
    showError(new Error('The chart library did not load; reload the page.'));
    return;
  }
  $('sigmoid-chain').href = sigmoidChainLink(10);
  setConfig('a', PRESETS.glorot[0]);
  setConfig('b', PRESETS.glorot[1]);
  $('flow-form').addEventListener('submit', (e) => {
    e.preventDefault();
    runFlow();
  });
  for (const select of document.querySelectorAll('#flow-form select, #flow-form input[type=checkbox]')) {
    select.addEventListener('change', runFlow);
  }
  // Number fields rerun too, once the typing pauses.
  // A field is checked as it is typed in; the run waits for a pause.
  const flowSoon = debounced(runFlow, 700);
  for (const input of document.querySelectorAll('#flow-form input[type=number]')) {
    input.addEventListener('input', () => {
      if (flowConfigs()) flowSoon();
    });
  }
  const cliffSoon = debounced(runCliff, 700);
  for (const input of document.querySelectorAll('#cliff-form input[type=number]')) {
    input.addEventListener('input', cliffSoon);
  }
  for (const button of document.querySelectorAll('[data-preset]')) {
    button.addEventListener('click', () => {
      loadPreset(button.dataset.preset);
      $('flow-title').scrollIntoView({ behavior: 'smooth' });
    });
  }
  $('cliff-form').addEventListener('submit', (e) => {
    e.preventDefault();
    runCliff();
  });
  $('run-papers').addEventListener('click', fillPapers);
  const flow = await Promise.all([...document.querySelectorAll('#flow-form fieldset')]
    .map((fs) => limitsFromSchema('GradientFlowRequest', fs.elements)));
  combined = flow[0]?.['x-combined-limits'] ?? [];
  await limitsFromSchema('CliffRequest', cliffFields());
  await Promise.all([runFlow(), runCliff()]);
  document.body.dataset.ready = '1';
}

start();
