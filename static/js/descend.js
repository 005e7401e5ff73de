/**
 * The "descend" panel: plain gradient descent on the inputs of the circuit on show.
 *
 * Tick which inputs are parameters, set the learning rate and the number of steps, then step
 * once, run, or reset. Every step is /api/descent (the engine's forward and backward passes);
 * after each step the page is handed the new values to redraw the circuit with, and a small
 * loss-per-step chart grows. From a run's start until its last values are drawn, step and run
 * are busy (dom.js setBusy: they ignore clicks, and keep the keyboard focus) and the panel says
 * it is running, so the next step starts where the run landed; reset stops them. Self-contained:
 * it builds its own DOM and SVG, needs no chart library, and talks to the page only through the
 * two functions given to `mountDescend`.
 *
 *     const descend = mountDescend(element, {
 *       request: () => lastBody,          // {expression, values, expand, grad?} of the circuit shown
 *       apply: (values) => redraw(values), // new values of the parameters, {name: value};
 *                                          // a promise settled once they are drawn
 *     });
 *     descend.update(circuit);            // after every drawing: the /api/circuit response
 *     descend.reset();                    // a new program: steps of the old one are dropped
 *
 * @module descend
 */

import { ApiError, postDescent } from './api.js';
import { flatten, number } from './format.js';
import { isBusy, setBusy } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const FRAMES = 40; // a run redraws the circuit at most this many times
const FRAME_MS = 120;
/**
 * What a tool says when the circuit on show is not the code's: the code has an error, or the
 * server could not draw it (the note under the circuit says which, and what redraws it).
 */
export const OUT_OF_DATE = 'The circuit on show is not the code\'s (the note under it says why): '
  + 'this works again once the code is drawn.';

const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};


/**
 * Build the panel inside `root`.
 * @param {HTMLElement} root  an empty element (a <details> gets a <summary> too)
 * @param {{request: () => ({expression: string, values: object, expand: boolean, grad?: *} | null),
 *          apply: (values: Object<string, number|Array>) => void}} page
 * @returns {{update: (circuit: object) => void, reset: () => void}}
 */
export function mountDescend(root, page) {
  const params = el('div', { className: 'descend-params' });
  const lr = el('input', { type: 'number', step: 'any', min: '0', value: '0.1', className: 'descend-lr' });
  const steps = el('input', { type: 'number', step: '1', min: '1', max: '10000', value: '50',
    className: 'descend-steps' });
  const stepButton = el('button', { type: 'button', className: 'descend-step' }, 'step once');
  const runButton = el('button', { type: 'button', className: 'descend-run' }, 'run');
  const resetButton = el('button', { type: 'button', className: 'descend-reset' }, 'reset');
  const status = el('p', { className: 'descend-status' });
  status.setAttribute('aria-live', 'polite');
  const chart = document.createElementNS(SVG, 'svg');
  chart.setAttribute('class', 'descend-chart');
  chart.setAttribute('viewBox', '0 0 240 90');
  chart.setAttribute('width', '240');
  chart.setAttribute('height', '90');
  chart.setAttribute('role', 'img');
  chart.setAttribute('aria-label', 'loss per step');
  if (root.tagName === 'DETAILS') root.append(el('summary', {}, 'Descend'));
  root.append(
    el('p', { className: 'hint' }, 'Gradient descent on the ticked inputs: new = old − lr × slope.'),
    params,
    el('div', { className: 'row' }, el('label', {}, 'lr ', lr), el('label', {}, 'steps ', steps)),
    el('div', { className: 'row' }, stepButton, runButton, resetButton),
    chart, status);

  let inputs = []; // [{name, shape}] of the inputs that take a gradient
  let losses = []; // loss per step taken so far
  let start = null; // the parameters' values before the first step
  let timer = null;
  let run = 0; // bumped by clear(): an answer or a frame of an earlier run is dropped

  const ticked = () => [...params.querySelectorAll('input:checked')].map((c) => c.value);
  const say = (text) => {
    status.textContent = text;
  };
  const busy = (on) => {
    setBusy(stepButton, on);
    setBusy(runButton, on);
  };

  function update(circuit) {
    const names = circuit.nodes.filter((n) => n.kind === 'input' && n.grad !== null)
      .map((n) => ({ name: n.name, shape: n.shape }));
    const same = names.length === inputs.length && names.every((n, i) => n.name === inputs[i].name);
    if (!same) {
      const keep = new Set(ticked());
      inputs = names;
      params.replaceChildren(...inputs.map((n) => el('label', { className: 'check' },
        el('input', { type: 'checkbox', value: n.name, checked: keep.has(n.name) }),
        ` ${n.name}${n.shape.length ? ` (${n.shape.join('×')})` : ''}`)));
      if (!inputs.length) params.append(el('span', { className: 'hint' }, 'no input takes a gradient'));
      clear();
    }
    root.dataset.inputs = String(inputs.length);
  }

  function clear() {
    run++;
    clearTimeout(timer);
    busy(false);
    losses = [];
    start = null;
    drawChart();
    say('');
  }

  function drawChart() {
    chart.replaceChildren();
    const ys = losses.filter(Number.isFinite);
    chart.dataset.points = String(losses.length);
    if (!ys.length) return;
    const lo = Math.min(0, ...ys);
    const hi = Math.max(...ys);
    const x = (i) => 8 + (224 * i) / Math.max(1, losses.length - 1);
    const y = (v) => 82 - (74 * (v - lo)) / (hi - lo || 1);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', losses.map((v, i) => (Number.isFinite(v) ? `${x(i)},${y(v)}` : ''))
      .filter(Boolean).join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', 'currentColor');
    line.setAttribute('stroke-width', '1.5');
    const axis = document.createElementNS(SVG, 'line');
    Object.entries({ x1: 8, x2: 232, y1: y(lo), y2: y(lo), stroke: '#999' })
      .forEach(([k, v]) => axis.setAttribute(k, v));
    chart.append(axis, line);
  }

  /** Take `n` steps from the values on show; redraw the circuit along the way. */
  async function descend(n) {
    const body = page.request();
    const names = ticked();
    if (isBusy(runButton)) return;
    if (!body) {
      say(OUT_OF_DATE);
      return;
    }
    if (!names.length) {
      say('Tick at least one input to descend on.');
      return;
    }
    const rate = Number(lr.value);
    if (!(rate > 0) || !Number.isFinite(rate)) {
      say('The learning rate must be a positive number.');
      return;
    }
    busy(true);
    say(n === 1 ? 'running 1 step…' : `running ${n} steps…`);
    clearTimeout(timer);
    const mine = run;
    let data;
    try {
      const { grad, ...loss } = body; // descent takes the output as its loss: no output gradient
      data = await postDescent({ ...loss, params: names, lr: rate, steps: n, tol: 0 });
    } catch (err) {
      if (mine !== run) return;
      busy(false);
      say(err instanceof ApiError ? `${err.title}: ${err.message}` : String(err));
      return;
    }
    if (mine !== run) return; // the circuit changed while the steps were computed
    if (start === null) start = data.steps[0].values;
    const taken = data.steps.slice(0, -1); // the last entry is where the run lands
    const every = Math.max(1, Math.ceil(taken.length / FRAMES));
    let i = 0;
    const frame = () => {
      if (mine !== run) return;
      const upto = Math.min(taken.length, i + every);
      for (; i < upto; i++) losses.push(Number(taken[i].loss));
      drawChart();
      const at = data.steps[i];
      const drawn = page.apply(at.values);
      const last = i === data.steps.length - 1;
      const flat = Object.values(at.gradients).every((g) => flatten(g).every((x) => x === 0));
      say(`step ${losses.length}: loss ${number(at.loss, 4)} (was ${number(losses.at(-1), 4)})`
        + (last && data.stopped === 'diverged' ? ' — diverged: try a smaller learning rate'
          : last && flat ? ': converged, every slope is 0 here, so more steps change nothing'
            : ''));
      if (i < taken.length) timer = setTimeout(frame, FRAME_MS);
      else drawn.then(() => mine === run && busy(false));
    };
    frame();
  }

  stepButton.addEventListener('click', () => descend(1));
  runButton.addEventListener('click', () => {
    const n = Math.round(Number(steps.value));
    if (!(n >= 1 && n <= 10000)) say('Steps must be a whole number from 1 to 10,000.');
    else descend(n);
  });
  resetButton.addEventListener('click', () => {
    const values = start;
    clear();
    if (values) page.apply(values);
  });
  return { update, reset: clear };
}
