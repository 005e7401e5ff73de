/**
 * The descent lab: StatQuest's dosage network fitted by gradient descent, first b3 alone, then
 * all seven parameters. Curves, SSR and slopes come from /api/circuit and /api/descent (the
 * engine's forward and backward passes); charts are Observable Plot (window.Plot).
 * @module descent_lab
 */

import { getPresets, postCircuit, postDescent } from './api.js';
import { asCode, number, tick } from './format.js';
import { aboutField, fieldError, limitsFromSchema, logY, numberOf, problemOf, putChart,
  showError } from './labui.js';
import { replaceLiteral } from './source.js';
import { encodeState } from './state.js';

const $ = (id) => document.getElementById(id);
const Plot = window.Plot;
const SEVEN = ['w1', 'b1', 'w2', 'b2', 'w3', 'w4', 'b3'];
const GRID = Array.from({ length: 101 }, (_, i) => i / 100); // dosages 0, 0.01, ..., 1
const DATA = [{ dosage: 0, observed: 0 }, { dosage: 0.5, observed: 1 }, { dosage: 1, observed: 0 }];
const COLORS = { blue: '#2457c5', orange: '#d9730d', squiggle: '#2a9d4b', final: '#14532d' };

let expression = ''; // the dosage preset's program, from /api/presets
let fitted = {}; // its own parameter values (b3 = 0)
let params = {}; // the values drawn now
let rows = []; // descent steps on b3 shown in the table
let slope = null; // dSSR/db3 at the current b3, from the backward pass
let timer = null;
// Each walk on b3, fit of the seven and reset takes the next number (stop()); one whose number
// is no longer `run` has been replaced, and stops at its next await without showing anything.
let run = 0;
let landing = null; // the last walk on b3 asked for, until its first step is drawn
// each form's inputs by their place in the request body
const B3_FIELDS = { lr: $('lr'), tol: $('tol') };
const SEVEN_FIELDS = { lr: $('lr7'), steps: $('steps7'), tol: $('tol7') };

/** Normal samples from a seed (mulberry32 and Box-Muller): the same seed, the same start. */
export function seededNormals(seed, n) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [];
  while (out.length < n) {
    const u = 1 - uniform();
    const v = uniform();
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

const num = (v) => Number(v);

let pending = 0;
function busy(text) {
  pending += 1;
  $('busy').hidden = false;
  $('status-text').textContent = text;
  return () => {
    pending -= 1;
    if (pending) return;
    $('busy').hidden = true;
    $('status-text').textContent = '';
  };
}

// --- the curves, from the engine's forward pass over 101 dosages --------------------------------

/** The circuit at 101 dosages: each named wire's values (blue, orange, predicted). */
async function curves(values) {
  const circuit = await postCircuit({ expression, values: { ...values, dosage: GRID,
    observed: GRID.map(() => 0) } });
  const wire = (name) => circuit.nodes.find((n) => n.name === name).value.map(num);
  return { blue: wire('blue'), orange: wire('orange'), predicted: wire('predicted') };
}

async function draw() {
  const mine = run;
  const c = await curves(params);
  if (run !== mine) return;
  const b3 = num(params.b3);
  const lines = GRID.flatMap((d, i) => [
    { dosage: d, y: c.blue[i], curve: 'softplus unit × w3' },
    { dosage: d, y: c.orange[i], curve: 'softplus unit × w4' },
    { dosage: d, y: c.blue[i] + c.orange[i], curve: 'squiggle (sum)' },
    { dosage: d, y: c.predicted[i], curve: 'squiggle + b3' },
  ]);
  const at = DATA.map((p) => ({ ...p, predicted: c.predicted[Math.round(p.dosage * 100)] }));
  const domain = ['softplus unit × w3', 'softplus unit × w4', 'squiggle (sum)', 'squiggle + b3'];
  putChart('chart-curves', Plot.plot({
    width: 500, height: 320, marginLeft: 55,
    x: { label: 'dosage', domain: [0, 1] },
    y: { label: 'efficacy', grid: true, tickFormat: tick },
    color: { domain, range: [COLORS.blue, COLORS.orange, COLORS.squiggle, COLORS.final],
      legend: true },
    marks: [
      Plot.ruleX(at, { x: 'dosage', y1: 'observed', y2: 'predicted', stroke: '#999',
        strokeWidth: 3 }),
      Plot.line(lines, { x: 'dosage', y: 'y', stroke: 'curve',
        strokeDasharray: (d) => (d.curve === 'squiggle (sum)' ? '4 3' : null) }),
      Plot.dot(at, { x: 'dosage', y: 'observed', r: 5, fill: 'currentColor',
        title: (d) => `dosage ${d.dosage}: observed ${d.observed}, predicted ${number(d.predicted)}` }),
    ],
  }));
  // SSR(b) = Σ (observed − (squiggle + b))²: the squiggle at the data is the engine's.
  const squiggle = at.map((p) => p.predicted - b3);
  const ssr = (b) => at.reduce((s, p, i) => s + (p.observed - squiggle[i] - b) ** 2, 0);
  const lo = Math.min(-1, b3 - 1);
  const hi = Math.max(5, b3 + 1);
  const curve = Array.from({ length: 121 }, (_, i) => {
    const b = lo + ((hi - lo) * i) / 120;
    return { b, ssr: ssr(b) };
  });
  const here = { b: b3, ssr: ssr(b3) };
  const marks = [
    Plot.line(curve, { x: 'b', y: 'ssr', stroke: '#c2185b' }),
    Plot.dot([here], { x: 'b', y: 'ssr', r: 5, fill: '#c2185b' }),
  ];
  if (slope !== null) {
    const half = 0.6;
    marks.push(Plot.link([here], { x1: (d) => d.b - half, y1: (d) => d.ssr - slope * half,
      x2: (d) => d.b + half, y2: (d) => d.ssr + slope * half, stroke: 'currentColor',
      strokeWidth: 2 }));
    const right = b3 > (lo + hi) / 2; // the label goes toward the middle, inside the chart
    marks.push(Plot.text([here], { x: 'b', y: 'ssr', dy: -14, dx: right ? -8 : 8,
      textAnchor: right ? 'end' : 'start', text: () => `slope ${number(slope)}` }));
  }
  putChart('chart-ssr', Plot.plot({
    width: 500, height: 320, marginLeft: 55,
    x: { label: 'b3', tickFormat: tick },
    y: { label: 'SSR', grid: true, tickFormat: tick, domain: [0, Math.max(...curve.map((d) => d.ssr))] },
    marks,
  }));
  $('params-line').textContent = SEVEN.map((k) => `${k} = ${number(params[k])}`).join(', ')
    + `; SSR = ${number(here.ssr)}`;
  // the circuit page takes the code as the truth: the program itself states these values
  const program = SEVEN.reduce((text, k) => replaceLiteral(text, k, asCode(params[k])), expression);
  $('circuit-link').href = '/' + encodeState({ expression: program });
}

// --- b3 alone ---------------------------------------------------------------------------------------

/** The number in field `id`; a fieldError when it holds none or one outside the field's limits. */
function readNumber(id) {
  const problem = problemOf($(id));
  if (problem) throw fieldError($(id), problem);
  return Number($(id).value);
}

/** A step's row; `stop` says why its step was not taken, if it was not. */
function addRow(s, stop) {
  const tr = document.createElement('tr');
  const cells = [s.step, number(s.values.b3), number(s.loss), number(s.gradients.b3), number(s.step_sizes.b3),
    stop ? `stop: ${stop}` : number(num(s.values.b3) - num(s.step_sizes.b3))];
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = String(text);
    tr.append(td);
  }
  tr.dataset.step = String(s.step);
  $('steps').tBodies[0].append(tr);
  rows.push(s);
}

/**
 * Descend on b3 from where it is: `steps` updates; each step shown as it comes. A click while
 * the last walk asked for has not landed waits for it, and goes on from where it lands. Each
 * walk resolves to its run's number (see stop()), so the next click can tell it from a reset.
 */
function descendB3(steps) {
  landing = walkB3(steps, landing);
  return landing;
}

async function walkB3(steps, before) {
  const asked = run;
  const landed = await before; // the walk before this click's, if it began one
  if (run !== asked && run !== landed) return undefined; // reset, or a fit begun, meanwhile
  showError(null, 'b3-error');
  const mine = stop();
  let body;
  try {
    body = { expression, values: { ...params }, params: ['b3'], lr: readNumber('lr'),
      tol: readNumber('tol'), steps };
  } catch (err) {
    showError(err, 'b3-error');
    return mine;
  }
  const done = busy('Running the forward and backward passes…');
  let data;
  try {
    data = await postDescent(body);
  } catch (err) {
    if (run === mine) showError(aboutField(err, B3_FIELDS), 'b3-error');
    return mine;
  } finally {
    done();
  }
  if (run !== mine) return mine;
  // After the step budget the last entry is only where the run ends up, not a step taken; after
  // a tolerance or a divergence, the last entry's step is not taken.
  const fresh = data.stopped === 'steps' ? data.steps.slice(0, -1) : data.steps;
  const stopRow = data.stopped === 'steps' ? -1 : fresh.length - 1;
  const why = { tol: '|step size| < tolerance', diverged: 'diverged, not taken' }[data.stopped];
  const next = rows.length;
  const show = async (i) => {
    addRow({ ...fresh[i], step: next + i }, i === stopRow ? why : null);
    const after = data.steps[i + 1]; // the engine's values and slope where this step lands
    if (after && Number.isFinite(num(after.values.b3)) && Number.isFinite(num(after.gradients.b3))) {
      params.b3 = num(after.values.b3);
      slope = num(after.gradients.b3);
    }
    try {
      await draw();
    } catch (err) {
      if (run === mine) showError(err, 'b3-error');
      return;
    }
    if (run !== mine) return;
    if (i + 1 < fresh.length) timer = setTimeout(() => show(i + 1), 150);
    else finish(data, data.steps.at(-1));
  };
  await show(0);
  return mine;
}

function finish(data, end) {
  const at = `b3 = ${number(end.values.b3)}, SSR ${number(end.loss)}, slope ${number(end.gradients.b3)}`;
  // the lowest point only where the slope is near 0: a hundredth of the walk's first slope
  const flat = Math.abs(num(end.gradients.b3)) <= 0.01 * Math.abs(num(rows[0].gradients.b3));
  $('b3-status').textContent = data.stopped === 'tol'
    ? `The step size is below the tolerance: ${at}. `
      + (flat ? 'This b3 is where the SSR is lowest.'
        : 'The slope is not near 0 yet, so the SSR can still go lower: try a smaller tolerance.')
    : data.stopped === 'diverged' ? `Diverged: each step overshoots further than the last and `
      + `the SSR keeps growing, so the walk stops at ${at}, without taking that step. `
      + 'Try a smaller learning rate.'
      : Math.abs(num(end.gradients.b3)) > Math.abs(num(data.steps[0].gradients.b3))
        ? `Each step overshoots further than the last: the learning rate is too large (${at}).`
        : `Now at ${at}.`;
  $('b3-status').dataset.stopped = data.stopped;
}

let ending = null; // ends the busy indicator of the animation playing, if stop() cuts it short

/** Replace the walk or fit under way, if any: returns the number of the one that replaces it. */
function stop() {
  clearTimeout(timer);
  timer = null;
  ending?.();
  run += 1;
  return run;
}

async function resetB3() {
  const mine = stop();
  showError(null);
  showError(null, 'b3-error');
  params = { ...fitted };
  rows = [];
  $('steps').tBodies[0].replaceChildren();
  $('b3-status').textContent = '';
  delete $('b3-status').dataset.stopped;
  // the slope at b3, from a descent of no steps
  const data = await postDescent({ expression, values: { ...params }, params: ['b3'], steps: 0 });
  if (run !== mine) return;
  slope = num(data.steps[0].gradients.b3);
  await draw();
}

// --- all seven -------------------------------------------------------------------------------------

async function fitSeven() {
  showError(null, 'seven-error');
  const mine = stop();
  let body;
  try {
    const seed = numberOf($('seed'));
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) {
      throw fieldError($('seed'), 'must be a whole number from 0 to 4294967295');
    }
    const w = seededNormals(seed, 4);
    const start = { w1: w[0], w2: w[1], w3: w[2], w4: w[3], b1: 0, b2: 0, b3: 0 };
    body = { expression, values: start, params: SEVEN, lr: readNumber('lr7'),
      steps: readNumber('steps7'), tol: readNumber('tol7') };
  } catch (err) {
    showError(err, 'seven-error');
    return;
  }
  const done = busy('Descending on all seven parameters…');
  let data = null;
  try {
    data = await postDescent(body);
  } catch (err) {
    if (run === mine) showError(aboutField(err, SEVEN_FIELDS), 'seven-error');
  }
  if (!data || run !== mine) { // refused, or replaced while it was asked for
    done();
    return;
  }
  const end = () => {
    if (ending !== end) return; // ended already
    ending = null;
    done();
  };
  ending = end;
  const losses = data.steps.map((s) => ({ step: s.step, ssr: num(s.loss) }));
  const ssrY = logY(losses.map((d) => d.ssr), 'SSR');
  // about 30 frames of the squiggle on its way to the data
  const every = Math.max(1, Math.ceil(data.steps.length / 30));
  const frames = data.steps.filter((s, i) => i % every === 0 || i === data.steps.length - 1)
    .filter((s) => SEVEN.every((k) => Number.isFinite(num(s.values[k])))); // none past overflow
  const play = async (i) => {
    const s = frames[i];
    params = Object.fromEntries(SEVEN.map((k) => [k, num(s.values[k])]));
    slope = num(s.gradients.b3);
    try {
      await draw();
    } catch (err) {
      if (run === mine) showError(err, 'seven-error');
      end();
      return;
    }
    if (run !== mine) return; // stop() has ended its busy indicator
    putChart('chart-fit', Plot.plot({
      width: 640, height: 260, marginLeft: 55,
      x: { label: 'step', domain: [0, losses.length - 1] },
      y: ssrY.y,
      marks: [...ssrY.marks, Plot.line(losses.filter((d) => d.step <= s.step && d.ssr > 0),
        { x: 'step', y: 'ssr', stroke: '#c2185b' })],
    }));
    $('seven-status').textContent = `step ${s.step} of ${data.steps.length - 1}: SSR ${number(s.loss)}`;
    if (i + 1 < frames.length) timer = setTimeout(() => play(i + 1), 60);
    else {
      const why = { tol: `: every step is now smaller than the tolerance, ${body.tol}`,
        steps: ', all it was given', diverged: '' }[data.stopped];
      $('seven-status').textContent = `Stopped after ${data.steps.length - 1} steps${why}. `
        + `SSR ${number(data.loss)}. `
        + SEVEN.map((k) => `${k} = ${number(data.final[k])}`).join(', ');
      $('seven-status').dataset.stopped = data.stopped;
      $('seven-status').dataset.ssr = String(num(data.loss));
      $('seven-status').textContent += {
        diverged: ' The steps diverged: try a smaller learning rate.',
        steps: ' It ran out of steps before the steps got small (not converged yet): give it more steps.',
        tol: num(data.loss) > 0.01 ? ' Stuck in a dip that is not the lowest: try another seed.' : '',
      }[data.stopped];
      end();
    }
  };
  await play(0);
}

// --- wiring ------------------------------------------------------------------------------------------

async function start() {
  if (!Plot) {
    showError(new Error('The chart library did not load; reload the page.'));
    return;
  }
  const done = busy('Loading the dosage network…');
  try {
    await Promise.all([limitsFromSchema('DescentRequest', B3_FIELDS),
      limitsFromSchema('DescentRequest', SEVEN_FIELDS)]);
    const preset = (await getPresets()).find((p) => p.id === 'dosage');
    expression = preset.expression;
    // the program assigns every parameter a literal: read them off its input wires
    const circuit = await postCircuit({ expression, values: {} });
    fitted = Object.fromEntries(SEVEN.map((k) => [k,
      num(circuit.nodes.find((n) => n.kind === 'input' && n.name === k).value)]));
    await resetB3();
  } catch (err) {
    showError(err);
  } finally {
    done();
  }
  $('step-b3').addEventListener('click', () => descendB3(1));
  $('run-b3').addEventListener('click', () => descendB3(100));
  $('reset-b3').addEventListener('click', resetB3);
  $('fit-seven').addEventListener('click', fitSeven);
  $('reset-seven').addEventListener('click', () => {
    showError(null, 'seven-error');
    $('seven-status').textContent = '';
    delete $('seven-status').dataset.stopped;
    $('chart-fit').replaceChildren();
    $('chart-fit').dataset.state = 'empty';
    return resetB3();
  });
  for (const form of ['b3-form', 'seven-form']) {
    $(form).addEventListener('submit', (e) => e.preventDefault());
  }
  document.body.dataset.ready = '1';
}

start();
