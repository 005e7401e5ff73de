/**
 * Wires the circuit page together: editor and inputs -> /api/circuit -> layout -> SVG, plus the
 * explain panel, animation, nudge, gradient check, staged code, export and the URL hash.
 * @module main
 */
import { ApiError, getOps, getPresets, postCircuit, postCode, postGradcheck } from './api.js';
import {
  applyMagnitude, applyStep, drawCircuit, exportPng, exportSvg, fitCircuit, heatMap, magColor,
} from './circuit.js';
import { mountDescend } from './descend.js';
import { fmt, fmtShape, toNumber } from './format.js';
import { contribution, layoutCircuit, monoMeasure, stepPlan } from './layout.js';
import { caretFor, freeNames } from './source.js';
import { clampPrecision, decodeState, encodeState } from './state.js';

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};

const svg = $('circuit-svg');
const editor = $('expr');
const state = decodeState(location.hash);
const touched = new Set(Object.keys(state.values)); // names whose value the user chose
const asked = new Set(); // names the server said need a value (in case freeNames missed one)
let ops = new Map();
let presets = [];
let last = null; // last good circuit: {circuit, lay, plan, body}
let seq = 0;
let step = null;
let timer = null;
let elk = null;
let whole = false; // the fit button: the whole circuit in the box, however small
const PASS_RTOL = 1e-4;
const SUM_TERMS = 6; // a fork's gradient is written out as the sum of its branches up to this many

/** Page hooks for tests and the benchmark (bench/render.py times `redraw`). */
const hooks = (window.chainrule = { renders: 0, lastRender: null });
hooks.redraw = async () => {
  const t0 = performance.now();
  await redrawLocal();
  return performance.now() - t0;
};
const descend = mountDescend($('descend-panel'), { request: () => last?.body ?? null, apply: (values) => {
  Object.assign(state.values, values);
  for (const k of Object.keys(values)) touched.add(k);
  $('inputs').querySelector('.input-rows').replaceChildren();
  refresh();
} });

// Measure text with the SVG's font so label boxes fit the glyphs that will be drawn.
const ctx = document.createElement('canvas').getContext('2d');
function measure(text) {
  ctx.font = '12px "DejaVu Sans Mono", ui-monospace, monospace';
  return ctx.measureText(String(text)).width || monoMeasure(text);
}

// ---- request and render -------------------------------------------------------------------

function requestBody(expression = state.expression) {
  const names = new Set([...freeNames(expression), ...asked]);
  for (const n of last?.circuit.nodes ?? []) if (n.kind === 'input' && touched.has(n.name)) names.add(n.name);
  const values = {};
  for (const name of names) values[name] = name in state.values ? state.values[name] : 1.0;
  return { expression, values, expand: state.expand };
}

/** Ask for the circuit of the current state and draw it; stale answers are dropped. */
async function refresh() {
  const mine = ++seq;
  let body = requestBody();
  document.body.dataset.busy = '1';
  try {
    let circuit;
    try {
      circuit = await postCircuit(body);
    } catch (err) {
      // A name the page did not see is missing: give it the default and ask again, no error shown.
      const unseen = err instanceof ApiError ? err.missing.filter((n) => !asked.has(n)) : [];
      if (!unseen.length || mine !== seq) throw err;
      for (const n of unseen) asked.add(n);
      body = requestBody();
      circuit = await postCircuit(body);
    }
    if (mine !== seq) return;
    const t0 = performance.now();
    await render(circuit, body);
    hooks.lastRender = { ms: performance.now() - t0, gates: circuit.nodes.filter((n) => n.kind === 'gate').length };
    showError(null);
  } catch (err) {
    if (mine !== seq) return;
    if (err instanceof ApiError) showError(err);
    else showError(new ApiError({ title: 'Drawing failed', detail: String(err?.message || err) }));
  } finally {
    if (mine === seq) delete document.body.dataset.busy;
    saveHash();
  }
}

async function render(circuit, body) {
  if (!elk) elk = new window.ELK();
  const t0 = performance.now();
  const lay = await layoutCircuit(circuit, elk, { precision: state.precision, measure });
  const t1 = performance.now();
  const plan = stepPlan(circuit);
  drawCircuit(svg, lay, circuit, plan);
  refit();
  hooks.phases = { layoutMs: t1 - t0, drawMs: performance.now() - t1 };
  last = { circuit, lay, plan, body };
  descend.update(circuit);
  for (const n of asked) if (!circuit.nodes.some((x) => x.kind === 'input' && x.name === n)) asked.delete(n);
  if (step !== null) step = Math.min(step, plan.total);
  applyStep(svg, plan, step);
  showLegend(applyMagnitude(svg, lay, state.magnitude));
  syncInputs();
  showResult();
  showStepStatus();
  $('circuit').classList.remove('stale');
  svg.dataset.expression = circuit.expression;
  svg.dataset.renders = String(++hooks.renders);
  if ($('code-panel').open) loadCode();
  $('check-result').replaceChildren();
  $('nudge-result').replaceChildren();
}

/** Redraw from the last answer (precision or toggles changed): no request needed. */
async function redrawLocal() {
  if (last) await render(last.circuit, last.body);
}

/** Size the drawing to the box; offer the fit button when it does not fit at a readable size. */
function refit() {
  const fits = fitCircuit(svg, whole);
  const button = $('fit');
  button.hidden = fits;
  button.textContent = whole ? 'readable size' : 'fit to panel';
  button.setAttribute('aria-pressed', String(whole));
}

let debounce = null;
function schedule(ms = 300) {
  clearTimeout(debounce);
  debounce = setTimeout(refresh, ms);
}

function showError(err) {
  const box = $('error');
  if (!err) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $('circuit').classList.toggle('stale', !!last);
  box.querySelector('.message').textContent = `${err.title}: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  const pre = box.querySelector('.caret-box');
  if (err.position) {
    const c = caretFor(state.expression, err.position.start, err.position.end);
    pre.hidden = false;
    box.querySelector('.caret-line').textContent = c.line;
    box.querySelector('.caret').textContent = c.caret;
    pre.title = `line ${c.lineNo}, column ${c.column + 1}`;
  } else {
    pre.hidden = true;
  }
}

function showResult() {
  const { circuit } = last;
  const p = state.precision;
  const show = (v) => {
    if (!Array.isArray(v)) return fmt(v, p);
    const shape = shapeOf(v);
    return shape.length === 1 && shape[0] <= 4 ? `[${v.map((x) => fmt(x, p)).join(', ')}]` : `[${fmtShape(shape)}]`;
  };
  const kids = [el('span', {}, 'f = ', el('span', { className: 'value', id: 'output-value' }, show(circuit.value)))];
  for (const [name, g] of Object.entries(circuit.gradients)) {
    const node = circuit.nodes.find((n) => n.kind === 'input' && n.name === name);
    const uses = circuit.nodes.flatMap((n) => n.inputs.map((src, port) => ({ n, src, port })))
      .filter((u) => u.src === node?.id);
    let sum = '';
    if (uses.length > SUM_TERMS) sum = ` (the sum of ${uses.length} branches)`;
    else if (uses.length > 1 && !Array.isArray(g)) {
      const parts = uses.map((u) => contribution(u.n, u.port));
      if (parts.every((x) => x !== null)) {
        sum = ' = ' + parts.map((x, i) => {
          const t = fmt(x, p);
          return i === 0 ? t : t.startsWith('-') ? ` − ${t.slice(1)}` : ` + ${t}`;
        }).join('');
      }
    }
    const item = el('span', { className: 'grad-item' },
      `∂f/∂${name} = `, el('span', { className: 'grad' }, g === null ? '—' : show(g)), sum);
    item.dataset.name = name;
    kids.push(item);
  }
  for (const w of circuit.warnings) kids.push(el('span', { className: 'warn' }, '⚠ ' + w));
  $('result').replaceChildren(...kids);
}

const shapeOf = (v) => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);

// ---- inputs -----------------------------------------------------------------------------------

/** One row per input: the free names of the text, plus inputs the program assigns a literal. */
function syncInputs() {
  const inputs = (last?.circuit.nodes ?? []).filter((n) => n.kind === 'input' && n.name).map((n) => n.name);
  const names = freeNames(state.expression);
  names.push(...[...asked].filter((n) => inputs.includes(n) && !names.includes(n)));
  const literal = inputs.filter((n) => !names.includes(n));
  const box = $('inputs').querySelector('.input-rows');
  const wanted = [...names, ...literal];
  for (const row of [...box.children]) if (!wanted.includes(row.dataset.name)) row.remove();
  wanted.forEach((name, i) => {
    let row = box.querySelector(`[data-name="${CSS.escape(name)}"]`);
    if (!row) row = inputRow(name, literal.includes(name));
    if (box.children[i] !== row) box.insertBefore(row, box.children[i] ?? null);
    if (!touched.has(name) && !(name in state.values)) {
      const node = last?.circuit.nodes.find((n) => n.kind === 'input' && n.name === name);
      if (node && Array.isArray(node.value)) row.showList(node.value);
      else if (node) setRowValue(row, toNumber(node.value));
    }
  });
  const sel = $('nudge-input');
  const scalars = (last?.circuit.nodes ?? []).filter((n) => n.kind === 'input' && !n.shape.length);
  const keep = sel.value;
  sel.replaceChildren(...scalars.map((n) => el('option', { value: n.name }, n.name)));
  if (!scalars.length) sel.append(el('option', { value: '' }, 'no number input'));
  sel.disabled = $('nudge').disabled = !scalars.length;
  if (scalars.some((n) => n.name === keep)) sel.value = keep;
}

function setRowValue(row, v) {
  row.querySelector('.num').value = String(v);
  const range = row.querySelector('.range');
  const span = Math.max(10, Math.ceil(Math.abs(v) * 2));
  range.min = String(-span);
  range.max = String(span);
  range.value = String(v);
}

function inputRow(name, fromProgram) {
  const id = `in-${name}`;
  const v = state.values[name];
  const mode = v && typeof v === 'object' && !Array.isArray(v) ? 'randn' : Array.isArray(v) ? 'list' : 'scalar';
  const row = el('div', { className: 'input-row' });
  row.dataset.name = name;
  const num = el('input', { type: 'number', step: 'any', className: 'num', id });
  const range = el('input', { type: 'range', step: '0.01', className: 'range' });
  range.setAttribute('aria-label', `${name} slider`);
  const kind = el('select', { className: 'mode' },
    el('option', { value: 'scalar' }, 'number'), el('option', { value: 'randn' }, 'random tensor'),
    el('option', { value: 'list' }, 'values'));
  kind.setAttribute('aria-label', `${name}: number or tensor`);
  kind.value = mode;
  const shape = el('input', { className: 'shape', placeholder: 'shape, e.g. 5, 10' });
  shape.setAttribute('aria-label', `${name} shape`);
  const seed = el('input', { type: 'number', className: 'seed', value: '0', step: '1' });
  seed.setAttribute('aria-label', `${name} seed`);
  const list = el('input', { className: 'list', placeholder: '[[1, 2], [3, 4]]' });
  list.setAttribute('aria-label', `${name} values (JSON list)`);
  const bad = el('span', { className: 'bad' });
  const label = el('label', { className: 'name', htmlFor: id, title: name }, name);
  const controls = el('div', { className: 'controls' }, num, range, shape, seed, list, kind);
  if (fromProgram) controls.append(el('span', { className: 'from-program' }, 'set in the program'));
  row.append(label, controls, bad);

  if (mode === 'scalar') setRowValue(row, typeof v === 'number' ? v : 1.0);
  else setRowValue(row, 1.0);
  if (mode === 'randn') {
    shape.value = (v.randn || []).join(', ');
    seed.value = String(v.seed ?? 0);
  }
  if (mode === 'list') list.value = JSON.stringify(v);

  const showMode = () => {
    const m = kind.value;
    num.hidden = range.hidden = m !== 'scalar';
    shape.hidden = seed.hidden = m !== 'randn';
    list.hidden = m !== 'list';
  };
  showMode();
  // A list the program assigns is shown as it is, in the values field.
  row.showList = (value) => {
    kind.value = 'list';
    list.value = JSON.stringify(value);
    showMode();
  };
  const commit = (value, ms) => {
    bad.textContent = '';
    state.values[name] = value;
    touched.add(name);
    schedule(ms);
  };
  const readTensor = () => {
    if (kind.value === 'randn') {
      const dims = shape.value.split(/[\s,×x]+/).filter(Boolean).map(Number);
      if (!dims.length || dims.some((d) => !Number.isInteger(d) || d < 1)) {
        bad.textContent = `${name}: the shape must be positive whole numbers, e.g. 5, 10`;
        return;
      }
      commit({ randn: dims, seed: Number.parseInt(seed.value, 10) || 0 }, 300);
    } else if (kind.value === 'list') {
      let parsed;
      try {
        parsed = JSON.parse(list.value);
      } catch {
        parsed = undefined;
      }
      const ok = (x) => (Array.isArray(x) ? x.length > 0 && x.every(ok) : typeof x === 'number');
      if (!ok(parsed)) {
        bad.textContent = `${name}: paste a JSON list of numbers, e.g. [[1, 2], [3, 4]]`;
        return;
      }
      commit(parsed, 300);
    }
  };
  kind.addEventListener('change', () => {
    showMode();
    if (kind.value === 'scalar') commit(Number(num.value) || 0, 0);
    else readTensor();
  });
  num.addEventListener('input', () => {
    if (num.value === '' || !Number.isFinite(Number(num.value))) return;
    range.value = num.value;
    commit(Number(num.value), 250);
  });
  num.addEventListener('change', () => setRowValue(row, Number(num.value) || 0));
  range.addEventListener('input', () => {
    num.value = range.value;
    commit(Number(range.value), 40);
  });
  for (const f of [shape, seed, list]) f.addEventListener('input', readTensor);
  return row;
}

// ---- explain a gate ---------------------------------------------------------------------------

function explainGate(id) {
  if (!last) return;
  const { circuit } = last;
  const byId = new Map(circuit.nodes.map((n) => [n.id, n]));
  const n = byId.get(id);
  if (!n) return;
  const p = state.precision;
  const op = ops.get(n.op) || {};
  const box = $('explain');
  const head = el('h3', {}, `${n.label} gate (${n.op})${n.name ? ` → ${n.name}` : ''}`);
  const formula = el('div', { className: 'formula' });
  if (op.formula && window.katex) {
    window.katex.render(op.formula, formula, { throwOnError: false, displayMode: false });
  } else formula.textContent = op.formula || '';
  const tensor = n.shape.length > 0 || !n.local;
  const up = tensor ? fmtShape(n.shape) || fmt(n.grad, p) : fmt(n.grad, p);
  const rows = [el('tr', {}, el('th', {}, 'input'), el('th', {}, 'value'), el('th', {}, 'local'),
    el('th', {}, '× upstream'), el('th', {}, '= sends back'))];
  n.inputs.forEach((src, i) => {
    const s = byId.get(src);
    const nm = s.name ?? (s.kind === 'const' ? fmt(s.value, p) : s.id);
    const sval = s.shape.length ? fmtShape(s.shape) : fmt(s.value, p);
    if (!tensor) {
      const loc = toNumber(n.local[i]);
      rows.push(el('tr', { className: 'send' }, el('td', {}, nm), el('td', { className: 'value' }, sval),
        el('td', { className: 'local' }, fmt(loc, p)), el('td', { className: 'grad' }, fmt(n.grad, p)),
        el('td', { className: 'grad sends' }, fmt(loc * toNumber(n.grad), p))));
    } else {
      rows.push(el('tr', { className: 'send' }, el('td', {}, nm), el('td', { className: 'value' }, sval),
        el('td', {}, 'Jacobian'), el('td', { className: 'grad' }, up),
        el('td', { className: 'grad sends' }, 'vector–Jacobian product')));
    }
  });
  box.replaceChildren(head,
    el('p', {}, 'local derivative: ', formula),
    el('p', {}, 'upstream gradient: ', el('span', { className: 'grad upstream' }, up)),
    el('table', {}, ...rows),
    el('p', { className: 'pattern' }, op.pattern ? `Pattern: ${op.pattern}` : ''));
  box.dataset.node = id;
  for (const g of svg.querySelectorAll('g.gate.selected')) g.classList.remove('selected');
  svg.querySelector(`g.gate[data-node="${id}"]`)?.classList.add('selected');
}

function explainFork(nodeId) {
  const { circuit } = last;
  const n = circuit.nodes.find((x) => x.id === nodeId);
  const p = state.precision;
  const parts = circuit.nodes.flatMap((g) => g.inputs.map((src, port) => ({ g, src, port })))
    .filter((u) => u.src === nodeId);
  const items = parts.map((u) => {
    const c = contribution(u.g, u.port);
    return el('li', {}, `from the ${u.g.label} gate (${u.g.id}, input ${u.port + 1}): `,
      el('span', { className: 'grad' }, c === null ? 'tensor' : fmt(c, p)));
  });
  const total = n.shape.length ? fmtShape(n.shape) : fmt(n.grad, p);
  $('explain').replaceChildren(el('h3', {}, `fork of ${n.name ?? n.id}`),
    el('p', {}, 'The wire feeds several gates, so the gradients they send back add up:'),
    el('ul', {}, ...items),
    el('p', {}, 'total: ', el('span', { className: 'grad' }, total)));
  $('explain').dataset.node = nodeId;
}

function openHeatMap(nodeId) {
  const n = last.circuit.nodes.find((x) => x.id === nodeId);
  if (!n || !n.shape.length) return;
  const box = $('heatmap');
  const close = el('button', { type: 'button', className: 'close' }, '× close');
  close.addEventListener('click', () => (box.hidden = true));
  const name = n.name ?? n.label ?? n.id;
  const maps = [heatMap(n.value, `${name} value ${fmtShape(n.shape)}`)];
  if (Array.isArray(n.grad)) maps.push(heatMap(n.grad, `∂f/∂${name} ${fmtShape(n.shape)}`));
  box.replaceChildren(close, ...maps);
  box.dataset.node = nodeId;
  box.hidden = false;
}

// ---- animation ----------------------------------------------------------------------------------

function showStepStatus() {
  const s = $('step-status');
  if (!last || step === null) {
    s.textContent = '';
    return;
  }
  const { plan } = last;
  const g = plan.gates.length;
  if (step === 0) s.textContent = 'inputs set';
  else if (step <= g) s.textContent = `forward pass: gate ${step} of ${g}`;
  else if (step === plan.seed) s.textContent = 'backward pass: gradient 1 on the output';
  else s.textContent = `backward pass: gate ${step - plan.seed} of ${g}`;
  svg.dataset.step = String(step);
}

function setStep(k) {
  step = k;
  if (!last) return;
  applyStep(svg, last.plan, step);
  showStepStatus();
  if (step === null) delete svg.dataset.step;
}

function stepOnce() {
  if (!last) return;
  if (step === null || step >= last.plan.total) setStep(0);
  else setStep(step + 1);
}

function play() {
  pause();
  if (!last) return;
  if (step === null || step >= last.plan.total) setStep(0);
  timer = setInterval(() => {
    if (step >= last.plan.total) pause();
    else setStep(step + 1);
  }, 700);
}

function pause() {
  clearInterval(timer);
  timer = null;
}

// ---- tools ----------------------------------------------------------------------------------------

async function nudge() {
  if (!last) return;
  const name = $('nudge-input').value;
  const h = Number($('nudge-h').value);
  const out = $('nudge-result');
  if (!name || !Number.isFinite(h) || h === 0) {
    out.textContent = 'Choose a scalar input and a non-zero h.';
    return;
  }
  const { circuit, body } = last;
  const node = circuit.nodes.find((n) => n.kind === 'input' && n.name === name);
  const x = toNumber(node.value);
  const g = toNumber(circuit.gradients[name]);
  try {
    const moved = await postCircuit({ ...body, values: { ...body.values, [name]: x + h } });
    const actual = toNumber(moved.value) - toNumber(circuit.value);
    const predicted = h * g;
    const p = Math.max(state.precision, 4);
    out.replaceChildren(el('table', { className: 'check-table' },
      el('tr', {}, el('th', {}, `${name}: ${fmt(x, p)} → ${fmt(x + h, p)}`)),
      el('tr', {}, el('td', {}, 'predicted h·∂f/∂' + name), el('td', { id: 'nudge-predicted' }, fmt(predicted, p))),
      el('tr', {}, el('td', {}, 'actual change of f'), el('td', { id: 'nudge-actual' }, fmt(actual, p)))));
  } catch (err) {
    out.textContent = err.message;
  }
}

async function check() {
  if (!last) return;
  const out = $('check-result');
  out.textContent = 'checking…';
  try {
    const res = await postGradcheck(last.body);
    const rows = [el('tr', {}, el('th', {}, 'input'), el('th', {}, 'analytic'), el('th', {}, 'numeric'),
      el('th', {}, 'rel. error'), el('th', {}, ''))];
    for (const [name, r] of Object.entries(res.inputs)) {
      // The engine's rule: relative error within PASS_RTOL (1e-4), or the input sits at a kink.
      const skipped = r.rel_error === null;
      const ok = !skipped && (toNumber(r.rel_error) <= PASS_RTOL || r.kink);
      const verdict = skipped ? 'no gradient' : r.kink ? 'kink' : ok ? 'pass' : 'fail';
      const show = (v) => (Array.isArray(v) ? '[…]' : fmt(v, Math.max(4, state.precision)));
      const row = el('tr', { className: 'check-row' }, el('td', {}, name), el('td', {}, show(r.analytic)),
        el('td', {}, show(r.numeric)), el('td', {}, skipped ? '—' : fmt(r.rel_error, 1)),
        el('td', { className: skipped ? '' : ok ? 'pass' : 'fail' }, verdict));
      row.dataset.name = name;
      rows.push(row);
    }
    out.replaceChildren(el('p', { className: res.passed ? 'pass' : 'fail' },
      res.passed ? `passed (h = ${res.h})` : `failed (h = ${res.h})`), el('table', { className: 'check-table' }, ...rows));
  } catch (err) {
    out.textContent = err.message;
  }
}

async function loadCode() {
  if (!last) return;
  try {
    const res = await postCode(last.body);
    $('code').textContent = res.source;
  } catch (err) {
    $('code').textContent = err.message;
  }
}

async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = 'copied';
  } catch {
    status.textContent = 'select the text and copy it (clipboard not available)';
  }
}

function download(blob, name) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function showLegend(range) {
  const box = $('legend');
  box.hidden = !state.magnitude || !range;
  if (box.hidden) return;
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${magColor(t)} ${t * 100}%`).join(', ');
  const bar = el('span', { className: 'bar' });
  bar.style.background = `linear-gradient(to right, ${stops})`;
  box.replaceChildren(el('span', {}, `|gradient| ${fmt(range[0], 2)}`), bar, el('span', {}, fmt(range[1], 2)),
    el('span', { className: 'hint' }, '(log scale; dashed: zero)'));
}

function saveHash() {
  const hash = encodeState({ ...state, values: requestBody().values });
  if (hash !== location.hash) history.replaceState(null, '', hash);
}

// ---- events ---------------------------------------------------------------------------------------

function applyPreset(id) {
  const p = presets.find((x) => x.id === id);
  $('preset-notes').textContent = p ? p.notes : '';
  if (!p) return;
  state.expression = p.expression;
  state.values = structuredClone(p.values || {});
  touched.clear();
  asked.clear();
  for (const k of Object.keys(state.values)) touched.add(k);
  state.expand = !!p.expand;
  editor.value = p.expression;
  $('expand').checked = state.expand;
  $('inputs').querySelector('.input-rows').replaceChildren();
  last = null;
  setStep(null);
  pause();
  refresh();
}

editor.addEventListener('input', () => {
  state.expression = editor.value;
  schedule(350);
});
editor.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    clearTimeout(debounce);
    refresh();
  }
});
$('preset').addEventListener('change', (e) => applyPreset(e.target.value));
$('expand').addEventListener('change', (e) => {
  state.expand = e.target.checked;
  refresh();
});
$('magnitude').addEventListener('change', (e) => {
  state.magnitude = e.target.checked;
  if (last) showLegend(applyMagnitude(svg, last.lay, state.magnitude));
  saveHash();
});
$('precision').addEventListener('input', (e) => {
  if (e.target.value === '') return;
  state.precision = clampPrecision(e.target.value);
  redrawLocal().then(saveHash);
});
$('play').addEventListener('click', play);
$('pause').addEventListener('click', pause);
$('step').addEventListener('click', () => {
  pause();
  stepOnce();
});
$('show-all').addEventListener('click', () => {
  pause();
  setStep(null);
});
$('fit').addEventListener('click', () => {
  whole = !whole;
  refit();
});
new ResizeObserver(refit).observe($('circuit'));
$('nudge').addEventListener('click', nudge);
$('check').addEventListener('click', check);
$('code-panel').addEventListener('toggle', (e) => e.target.open && loadCode());
$('copy-code').addEventListener('click', () => copyText($('code').textContent, $('copy-status')));
$('copy-link').addEventListener('click', () => copyText(location.href, $('step-status')));
$('download-svg').addEventListener('click', () => {
  download(new Blob([exportSvg(svg)], { type: 'image/svg+xml' }), 'circuit.svg');
});
$('download-png').addEventListener('click', async () => {
  try {
    download(await exportPng(svg), 'circuit.png');
  } catch (err) {
    $('step-status').textContent = err.message;
  }
});

const gateOf = (t) => t.closest?.('g.gate');
svg.addEventListener('mouseover', (e) => {
  const g = gateOf(e.target);
  if (g) explainGate(g.dataset.node);
  else if (e.target.classList?.contains('fork')) explainFork(e.target.dataset.node);
});
svg.addEventListener('focusin', (e) => {
  const g = gateOf(e.target);
  if (g) explainGate(g.dataset.node);
  else if (e.target.classList?.contains('fork')) explainFork(e.target.dataset.node);
});
svg.addEventListener('click', (e) => {
  const w = e.target.closest?.('g.wire.tensor');
  if (w) openHeatMap(w.dataset.node);
});
svg.addEventListener('keydown', (e) => {
  const w = e.target.closest?.('g.wire.tensor');
  if (w && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    openHeatMap(w.dataset.node);
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') $('heatmap').hidden = true;
});
window.addEventListener('hashchange', () => {
  if (location.hash === encodeState({ ...state, values: requestBody().values })) return;
  Object.assign(state, decodeState(location.hash));
  touched.clear();
  for (const k of Object.keys(state.values)) touched.add(k);
  syncControls();
  $('inputs').querySelector('.input-rows').replaceChildren();
  refresh();
});

function syncControls() {
  editor.value = state.expression;
  $('expand').checked = state.expand;
  $('magnitude').checked = state.magnitude;
  $('precision').value = String(state.precision);
}

// ---- start ----------------------------------------------------------------------------------------

async function start() {
  syncControls();
  syncInputs();
  const [opsList, presetList] = await Promise.allSettled([getOps(), getPresets()]);
  if (opsList.status === 'fulfilled') ops = new Map(opsList.value.map((o) => [o.op, o]));
  if (presetList.status === 'fulfilled') {
    presets = presetList.value;
    $('preset').append(...presets.map((p) => el('option', { value: p.id }, p.title)));
    const match = presets.find((p) => p.expression === state.expression);
    if (match) {
      $('preset').value = match.id;
      $('preset-notes').textContent = match.notes;
    }
  }
  await refresh();
  document.body.dataset.ready = '1';
}

// elk.bundled.js and katex load with `defer`, which runs before this module.
start();
