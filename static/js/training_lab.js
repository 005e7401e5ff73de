/**
 * The training lab: shows the data set chosen (/api/labs/datasets), then streams /api/labs/train
 * and draws loss, accuracy, the decision boundary and the gradient norms as the lines arrive.
 * The controls live in the URL hash.
 * Charts are Observable Plot (window.Plot).
 * @module training_lab
 */

import { getDataset, streamTrain } from './api.js';
import { aboutField, fill, limitsFromSchema, logY, numberOf, problemOf, putChart, showError }
  from './labui.js';
import { number } from './format.js';
import { encodeState } from './state.js';

const $ = (id) => document.getElementById(id);
const Plot = window.Plot;
const form = $('train-form');
const CLASS_COLORS = ['#2457c5', '#d9730d', '#2a9d4b', '#c2185b', '#7b1fa2', '#00838f', '#6d4c41',
  '#558b2f', '#37474f', '#f9a825'];

export const DEFAULTS = Object.freeze({ dataset: 'spiral', hidden: 100, activation: 'relu',
  init: 'small', lr: 1, reg: 0.001, batch: 0, epochs: 10000, seed: 0, bias: true });
const PRESETS = {
  linear: { dataset: 'spiral', hidden: 0, epochs: 200 },
  'two-layer': { dataset: 'spiral', hidden: 100, epochs: 10000 },
  notes: { dataset: 'spiral', hidden: 100, epochs: 10000, bias: false },
  digits: { dataset: 'digits', hidden: 64, init: 'he', lr: 0.5, reg: 0.0001, batch: 100,
    epochs: 10 },
};
const NUMBERS = ['hidden', 'lr', 'reg', 'batch', 'epochs', 'seed'];

/** Controls <-> URL hash ("#dataset=spiral&hidden=100..."): only values off the defaults. */
export function encodeControls(c) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(c)) if (v !== DEFAULTS[k]) p.set(k, String(v));
  return '#' + p.toString();
}

export function decodeControls(hash) {
  const p = new URLSearchParams((hash || '').replace(/^#/, ''));
  const c = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS)) {
    if (!p.has(k)) continue;
    const v = p.get(k);
    if (k === 'bias') c.bias = v === 'true';
    else if (NUMBERS.includes(k)) c[k] = Number.isFinite(Number(v)) ? Number(v) : DEFAULTS[k];
    else c[k] = v;
  }
  return c;
}

/** Show controls `c` in the form; a choice its list does not offer (an old or mistyped URL's) is the default. */
function setControls(c) {
  for (const [k, v] of Object.entries(c)) {
    const el = form.elements[k];
    const offered = !el.options || [...el.options].some((o) => o.value === String(v));
    fill(el, offered ? v : DEFAULTS[k]);
  }
}

function readControls() {
  const c = {};
  for (const k of Object.keys(DEFAULTS)) {
    const el = form.elements[k];
    if (el.type === 'checkbox') c[k] = el.checked;
    else if (NUMBERS.includes(k)) c[k] = numberOf(el);
    else c[k] = el.value;
  }
  return c;
}

// --- a run's state and its charts ----------------------------------------------------------------

let run = null; // {controls, start, lines, controller}
let frame = 0;

function drawCurves() {
  frame = 0;
  const lines = run.lines;
  if (!lines.length) return;
  const loss = lines.map((l) => ({ iteration: l.iteration, loss: Number(l.loss) }))
    .filter((d) => Number.isFinite(d.loss) && d.loss > 0);
  const lossY = logY(loss.map((d) => d.loss), 'loss');
  putChart('chart-loss', Plot.plot({
    width: 460, height: 240, marginLeft: 50,
    x: { label: 'iteration' }, y: lossY.y,
    marks: [...lossY.marks, Plot.line(loss, { x: 'iteration', y: 'loss', stroke: '#c2185b' })],
  }));
  const acc = lines.flatMap((l) => [{ iteration: l.iteration, accuracy: l.accuracy, set: 'training' },
    ...(l.test_accuracy === null ? [] : [{ iteration: l.iteration, accuracy: l.test_accuracy,
      set: 'test' }])]);
  putChart('chart-accuracy', Plot.plot({
    width: 460, height: 240, marginLeft: 50,
    x: { label: 'iteration' }, y: { label: 'accuracy', domain: [0, 1], grid: true },
    color: { domain: run.start?.test_size ? ['training', 'test'] : ['training'],
      range: ['#2457c5', '#d9730d'], legend: true },
    marks: [Plot.line(acc, { x: 'iteration', y: 'accuracy', z: 'set', stroke: 'set' })],
  }));
  const norms = lines.flatMap((l) => Object.entries(l.grad_norms)
    .map(([param, norm]) => ({ iteration: l.iteration, param, norm: Number(norm) })))
    .filter((d) => Number.isFinite(d.norm) && d.norm > 0);
  const normY = logY(norms.map((d) => d.norm), '‖∇‖');
  putChart('chart-grads', Plot.plot({
    width: 460, height: 240, marginLeft: 55,
    x: { label: 'iteration' }, y: normY.y,
    color: { legend: true },
    marks: [...normY.marks, Plot.line(norms, { x: 'iteration', y: 'norm', z: 'param', stroke: 'param' })],
  }));
}

/** What the charts but the boundary will show, said while they wait for a run. */
const WAITING = {
  'chart-loss': 'The loss, iteration by iteration, appears here when the network trains.',
  'chart-accuracy': 'The share of examples classed right appears here when it trains.',
  'chart-grads': "Each parameter's gradient norm appears here when it trains.",
};

function say(id, text) {
  $(id).replaceChildren(Object.assign(document.createElement('p'), { className: 'hint', textContent: text }));
  $(id).dataset.state = 'empty';
}

/** Data that is not 2-D in words: how many examples of what, in how many classes. */
function aboutData(d) {
  const digits = d.dataset === 'digits';
  const held = d.test_size ? ` and ${d.test_size.toLocaleString('en')} held out to test` : '';
  return `Not 2-D data, so no boundary to draw: ${d.train_size.toLocaleString('en')} `
    + `${digits ? 'images of handwritten digits' : 'examples'} to train on${held}, each of `
    + `${d.features} numbers${digits ? ' (8×8 pixels)' : ''}, in ${d.classes} classes.`;
}

/**
 * The boundary box: data set `d` (from /api/labs/datasets or a run's first line), each point in
 * its class's colour, over the classes the network gives the plane once a run has `boundary`.
 */
function drawData(d, b = null) {
  const box = $('chart-boundary');
  delete box.dataset.iteration;
  if (!d.points) {
    say('chart-boundary', aboutData(d));
    return;
  }
  const classes = Array.from({ length: d.classes }, (_, k) => k);
  const colors = CLASS_COLORS.slice(0, classes.length);
  let x; let y; let regions = [];
  if (b) {
    const dx = (b.x[1] - b.x[0]) / (b.size - 1);
    const dy = (b.y[1] - b.y[0]) / (b.size - 1);
    const cells = b.classes.flatMap((row, i) => row.map((k, j) => ({
      x: b.x[0] + j * dx, y: b.y[0] + i * dy, k })));
    [x, y] = [[b.x[0] - dx / 2, b.x[1] + dx / 2], [b.y[0] - dy / 2, b.y[1] + dy / 2]];
    regions = [Plot.rect(cells, { x1: (c) => c.x - dx / 2, x2: (c) => c.x + dx / 2,
      y1: (c) => c.y - dy / 2, y2: (c) => c.y + dy / 2, fill: 'k', fillOpacity: 0.3,
      shapeRendering: 'crispEdges' })];
  } else { // the boundary's extent: the data's, and a tenth more on each side
    [x, y] = [0, 1].map((axis) => {
      const [lo, hi] = window.d3.extent(d.points, (p) => p[axis]);
      return [lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)];
    });
  }
  putChart('chart-boundary', Plot.plot({
    width: 460, height: 420, marginLeft: 40,
    x: { label: 'x₁', domain: x }, y: { label: 'x₂', domain: y },
    color: { type: 'ordinal', domain: classes, range: colors, legend: true, label: 'class' },
    marks: [...regions, Plot.dot(d.points, { x: (p) => p[0], y: (p) => p[1], fill: (p) => p[2],
      r: 2.5, stroke: 'white', strokeWidth: 0.5 })],
  }), b ? '' : "The network's regions appear here as it trains.");
  if (b) box.dataset.iteration = String(run.lines.at(-1)?.iteration ?? 0);
}

let wanted = null; // "dataset seed" of the data on show, or on its way
let fetching = null; // the AbortController of its request

const training = () => Boolean(run) && !$('stop').disabled;

/**
 * Show the form's data set and seed in the boundary box, unless a run is under way. A new choice
 * ends a finished run's charts: they are of other data.
 */
async function showData() {
  const seed = form.elements.seed;
  const dataset = form.elements.dataset.value;
  const wrong = problemOf(seed);
  const key = wrong ? null : `${dataset} ${Number(seed.value)}`;
  if (training() || (key && key === wanted)) return;
  if (run) reset();
  wanted = key;
  fetching?.abort();
  if (wrong) {
    say('chart-boundary', `No data to show: the seed ${wrong}.`);
    return;
  }
  const controller = fetching = new AbortController();
  try {
    const d = await getDataset(dataset, Number(seed.value), controller.signal);
    if (fetching === controller) drawData(d);
  } catch (err) {
    if (err.name !== 'AbortError') say('chart-boundary', `The data could not be loaded: ${err.message}`);
  }
}

/**
 * Under the accuracy: why a net without biases stays near half right on data whose classes
 * share directions from the centre (spiral, circles). Shown for the run, hidden otherwise.
 */
function explainWedges(c) {
  const note = $('wedges');
  const part = c && !c.bias && note.querySelector(`[data-dataset="${c.dataset}"]`);
  note.hidden = !part;
  for (const span of note.querySelectorAll('[data-dataset]')) span.hidden = span !== part;
}

function progressText(l) {
  const test = l.test_accuracy === null ? '' : `, test accuracy ${number(l.test_accuracy)}`;
  return `epoch ${l.epoch} of ${run.start.epochs} (iteration ${l.iteration} of `
    + `${run.start.iterations}), ${number(l.seconds, 2)} s: loss ${number(l.loss)}, accuracy `
    + `${number(l.accuracy)}${test}`;
}

function onLine(line) {
  if (line.start) {
    run.start = line;
    explainWedges(run.controls);
    $('progress').textContent = `${line.dataset}: ${line.train_size} training rows`
      + `${line.test_size ? `, ${line.test_size} held out` : ''}, ${line.iterations} iterations…`;
    drawData(line);
    return;
  }
  if (line.done) {
    finish(line);
    return;
  }
  run.lines.push(line);
  if (line.boundary) drawData(run.start, line.boundary);
  $('progress').textContent = progressText(line);
  $('check').textContent = Object.entries(line.check)
    .map(([k, v]) => `∇${k}: ${number(v, 2)}`).join(', ')
    + ` (iteration ${line.iteration})`;
  if (!frame) frame = requestAnimationFrame(drawCurves);
}

function finish(done) {
  const test = done.test_accuracy === null || done.test_accuracy === undefined ? ''
    : `, test accuracy ${number(done.test_accuracy)}`;
  const why = { epochs: 'done', diverged: 'diverged (the numbers overflowed)',
    'time limit': 'stopped at the time limit', error: 'failed' }[done.stopped] || done.stopped;
  $('progress').textContent = `${why}: ${done.epochs} epochs in ${number(done.seconds, 2)} s, `
    + `loss ${number(done.loss)}, accuracy ${number(done.accuracy)}${test}`;
  $('progress').dataset.stopped = done.stopped;
  if (done.error) showError(new Error(done.error));
  cancelAnimationFrame(frame);
  drawCurves();
}

/**
 * The circuit page's link to this network (its hidden units, activation and biases): 8 random
 * inputs and labels, random N(0, 1) weights and biases. The page says so: they are not the run's.
 */
function circuitLink(c, features, classes) {
  const hidden = c.hidden;
  const b = c.bias;
  let expression;
  const values = { X: { randn: [8, features], seed: 0 }, y: Array.from({ length: 8 }, (_, i) => i % classes) };
  if (hidden) {
    expression = `h = ${c.activation}(X @ W1${b ? ' + b1' : ''})\nloss = softmax_ce(h @ W2${b ? ' + b2' : ''}, y)`;
    Object.assign(values, { W1: { randn: [features, hidden], seed: 1 }, W2: { randn: [hidden, classes], seed: 2 } });
    if (b) Object.assign(values, { b1: { randn: [hidden], seed: 3 }, b2: { randn: [classes], seed: 4 } });
  } else {
    expression = `loss = softmax_ce(X @ W1${b ? ' + b1' : ''}, y)`;
    values.W1 = { randn: [features, classes], seed: 1 };
    if (b) values.b1 = { randn: [classes], seed: 3 };
  }
  return '/' + encodeState({ expression, values });
}

const SHAPES = { spiral: [2, 3], circles: [2, 2], xor: [2, 2], digits: [64, 10] };

function syncUrl() {
  try {
    const c = readControls();
    history.replaceState(null, '', encodeControls(c));
    const [features, classes] = SHAPES[c.dataset];
    $('circuit-link').href = circuitLink(c, features, classes);
  } catch {
    // a field that is not a number yet: the URL keeps the last good controls
  }
}

async function train() {
  showError(null);
  let body;
  try {
    body = readControls();
  } catch (err) {
    showError(err);
    return;
  }
  stop();
  reset(false);
  fetching?.abort(); // the run's first line shows its data
  wanted = `${body.dataset} ${body.seed}`;
  const controller = new AbortController();
  run = { controls: body, start: null, lines: [], controller };
  running(true);
  delete $('progress').dataset.stopped;
  $('progress').textContent = 'starting…';
  try {
    await streamTrain(body, controller.signal, onLine);
  } catch (err) {
    if (err.name === 'AbortError') {
      if (run?.controller === controller) $('progress').textContent += ' — stopped'; // not reset
    } else if (run?.controller === controller) {
      showError(aboutField(err, form.elements));
      broke();
    }
  } finally {
    if (run?.controller === controller) running(false);
  }
}

/** A run that failed before its end (the server refused it, or the stream broke off): where it stopped. */
function broke() {
  const last = run.lines.at(-1);
  if (!run.start) $('progress').textContent = 'not started';
  else {
    $('progress').textContent = `stopped at epoch ${last?.epoch ?? 0} of ${run.start.epochs}`
      + `${last ? ` (iteration ${last.iteration})` : ''}: the run broke off, as the error says`;
    $('progress').dataset.stopped = 'error';
  }
}

/**
 * A run under way: the fields and presets are locked, so the form stays the run's (stop and
 * reset end the run and free them).
 */
function running(on) {
  $('stop').disabled = !on;
  $('train').disabled = on;
  for (const field of form.querySelectorAll('[name], [data-preset]')) field.disabled = on;
}

function stop() {
  run?.controller.abort(); // closing the stream stops the training on the server
}

/** Back to no run: the charts say what they will show (the boundary box is drawData's). */
function reset(clearProgress = true) {
  stop();
  cancelAnimationFrame(frame); // a frame asked for by the run's last lines: no run to draw
  frame = 0;
  run = null;
  wanted = null;
  running(false);
  for (const [id, text] of Object.entries(WAITING)) say(id, text);
  $('check').textContent = '—';
  explainWedges(null);
  if (clearProgress) {
    $('progress').textContent = '';
    delete $('progress').dataset.stopped;
  }
}

async function start() {
  if (!Plot) {
    showError(new Error('The chart library did not load; reload the page.'));
    return;
  }
  setControls(decodeControls(location.hash));
  syncUrl();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    train();
  });
  const changed = () => {
    syncUrl();
    showData();
  };
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  $('stop').addEventListener('click', stop);
  $('reset').addEventListener('click', () => {
    reset();
    showData();
  });
  for (const button of document.querySelectorAll('[data-preset]')) {
    button.addEventListener('click', () => {
      setControls({ ...DEFAULTS, ...PRESETS[button.dataset.preset] });
      changed();
    });
  }
  // A link to other controls, opened on the page while a run is under way, stops the run as Stop
  // does (its charts stay, marked stopped): the form then shows the link's controls, never under a
  // run that trains on others. An anchor (the skip link's #main) names no control: the form and
  // its link stay. An empty hash is the defaults' link (Back to it restores them).
  window.addEventListener('hashchange', () => {
    const named = new URLSearchParams(location.hash.slice(1));
    if (location.hash.length > 1 && !Object.keys(DEFAULTS).some((k) => named.has(k))) {
      syncUrl();
      return;
    }
    const wanted = decodeControls(location.hash);
    let own = null; // the form's own link; none while a field is blank or not a number
    try {
      own = encodeControls(readControls());
    } catch {
      // the link's controls replace the unfinished ones
    }
    if (encodeControls(wanted) === own) return;
    if (training()) {
      stop();
      running(false);
    }
    setControls(wanted);
    showData();
  });
  reset();
  await limitsFromSchema('TrainRequest', form.elements);
  showData();
  document.body.dataset.ready = '1';
}

start();
