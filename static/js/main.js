/**
 * Wires the circuit page together. One flow: the program text (the truth) and the user's values
 * -> /api/circuit -> layout -> SVG, with the input rows, result, explanation and URL hash drawn
 * from the same state. Inputs, explanations, tools and the editor live in their own modules.
 * @module main
 */
import { ApiError, getOps, getPresets, postCircuit } from './api.js';
import { createChecker, forwardPart } from './backcheck.js';
import {
  applyMagnitude, drawCircuit, magnitudeColours, nearestGate,
} from './circuit.js';
import { mountDescend } from './descend.js';
import { createEditor } from './editor.js';
import { explainFork, explainGate, tensorMaps } from './explain.js';
import { inputRows, renderInputs, requestValues } from './inputs.js';
import { mountPanels } from './panels.js';
import { composites, layoutCircuit, monoMeasure, statementGroups, stepPlan } from './layout.js';
import { caretFor, replaceLiteral } from './source.js';
import { legendView, resultView } from './result.js';
import { createStepper } from './stepper.js';
import { clampPrecision, decodeState, encodeState } from './state.js';
import { zoomView } from './zoom.js';
import { $, editInPlace, el } from './dom.js';

/** What a link holds: the program, the user's values and the view options. */
const state = decodeState(location.hash);
/** Everything else the page knows, in one place. */
const page = {
  drawn: null, // the last circuit drawn: {circuit, lay, plan, body}
  answer: null, // the latest answer to the latest request: {circuit, body}
  asked: new Set(), // names the server wanted a value for that the page's reading of the text missed
  ops: new Map(),
  presets: [],
  seq: 0, // answers to older requests are dropped
  drawing: 0, // a layout that finishes after a newer request or drawing began is dropped
  pinned: null, // the gate whose explanation stays while the pointer moves
  elk: null,
  debounce: null,
  structure: '', // the drawn circuit's gates and wires, to tell a new program from new values
};

const svg = $('circuit-svg');
const zoom = zoomView($('circuit'), svg, {
  onChange: (z) => {
    $('zoom-level').textContent = `${Math.round(z * 100)} %`;
  },
});
// The explanation follows the gate at work.
const stepper = createStepper(svg, $('step-status'), { onStep: (id) => explain(id) });
const editor = createEditor($('editor'), {
  doc: state.expression,
  id: 'expr',
  label: 'program: an expression or a forward pass',
  onChange: (text) => {
    state.expression = text;
    syncInputs();
    schedule(350);
  },
  onRun: () => {
    clearTimeout(page.debounce);
    refresh();
  },
});

// Check mode: a program ending with a hand-written backward pass is judged line by line.
const checker = createChecker({
  editor, svg, banner: $('backcheck'), result: $('result'), precision: () => state.precision,
});

/** Page hooks for tests and the benchmark (bench/render.py times `redraw`). */
const hooks = (window.chainrule = { renders: 0, lastRender: null, editor });
hooks.redraw = async () => {
  const t0 = performance.now();
  await render();
  return performance.now() - t0;
};

/** Gradient descent on the circuit on show: each step's values go in as the user's own edits. */
const descend = mountDescend($('descend-panel'), {
  request: () => page.drawn?.body ?? null,
  apply: (values) => {
    for (const [name, v] of Object.entries(values)) setInput(name, v, JSON.stringify(v), 0);
  },
});

/** The tabs under the circuit (nudge, check, staged code) and the export buttons. */
const panels = mountPanels({ svg, shown: () => page.drawn, precision: () => state.precision });

// Measure text with the SVG's font so label boxes fit the glyphs that will be drawn.
const ctx = document.createElement('canvas').getContext('2d');
function measure(text) {
  ctx.font = '12px "DejaVu Sans Mono", ui-monospace, monospace';
  return ctx.measureText(String(text)).width || monoMeasure(text);
}

// ---- the state -> request -> render flow ----------------------------------------------------------

/** The input rows of the current text (the drawn circuit decides, when it was drawn from it). */
function rows() {
  const text = forwardPart(state.expression); // a backward pass names no input
  const d = page.drawn;
  const inputs = d && d.body.expression === text
    ? d.circuit.nodes.filter((n) => n.kind === 'input' && n.name).map((n) => n.name) : null;
  return inputRows(text, inputs, [...page.asked]);
}

function requestBody() {
  return { expression: state.expression, values: requestValues(rows(), state.values), expand: state.expand };
}

/** Ask for the circuit of the current state and draw it; stale answers are dropped. */
async function refresh() {
  const mine = ++page.seq;
  page.drawing++; // a drawing of an earlier answer still being laid out is out of date now
  let body = requestBody();
  document.body.dataset.busy = '1';
  try {
    let circuit;
    try {
      body = await checker.prepare(body);
      circuit = await postCircuit(body);
    } catch (err) {
      // A name the page did not see is missing: give it a row and ask again, no error shown.
      const unseen = err instanceof ApiError ? err.missing.filter((n) => !page.asked.has(n)) : [];
      if (!unseen.length || mine !== page.seq) throw err;
      for (const n of unseen) page.asked.add(n);
      body = await checker.prepare(requestBody());
      circuit = await postCircuit(body);
    }
    if (mine !== page.seq) return;
    page.answer = { circuit, body };
    const t0 = performance.now();
    await render();
    hooks.lastRender = { ms: performance.now() - t0, gates: circuit.nodes.filter((n) => n.kind === 'gate').length };
    showError(null);
  } catch (err) {
    if (mine !== page.seq) return;
    if (err instanceof ApiError) showError(err);
    else showError(new ApiError({ title: 'Drawing failed', detail: String(err?.message || err) }));
  } finally {
    if (mine === page.seq) {
      delete document.body.dataset.busy;
      syncInputs();
      saveHash();
    }
  }
}

/**
 * Draw the latest answer with the view options of `state`: the one place the circuit is drawn
 * (a new answer, or precision and toggles changed). False when a newer request or drawing began
 * while it was laid out.
 */
async function render() {
  if (!page.answer) return false;
  const { circuit, body } = page.answer;
  if (!page.elk) page.elk = new window.ELK();
  const mine = ++page.drawing;
  const t0 = performance.now();
  const lay = await layoutCircuit(circuit, page.elk, { precision: state.precision, measure });
  if (mine !== page.drawing) return false;
  const t1 = performance.now();
  const plan = stepPlan(circuit);
  const groups = [...(body.expand ? composites(circuit) : []), ...(state.boxes ? statementGroups(circuit) : [])];
  drawCircuit(svg, lay, circuit, plan, groups);
  // Only values moved (same gates, same wires): the zoom and scroll stay where the user left them.
  const structure = circuit.nodes.map((n) => `${n.op}(${n.inputs})`).join(' ');
  zoom.update({ keep: structure === page.structure });
  page.structure = structure;
  hooks.phases = { layoutMs: t1 - t0, drawMs: performance.now() - t1 };
  page.drawn = { circuit, lay, plan, body };
  descend.update(circuit);
  // Values of names the program no longer has are dropped, silently.
  const inputs = new Set(circuit.nodes.filter((n) => n.kind === 'input').map((n) => n.name));
  for (const n of page.asked) if (!inputs.has(n)) page.asked.delete(n);
  for (const n of Object.keys(state.values)) if (!(n in body.values)) delete state.values[n];
  page.drawn.colours = magnitudeColours(lay);
  applyMagnitude(svg, page.drawn.colours, state.magnitude);
  showLegend(page.drawn.colours.range);
  panels.update();
  showResult();
  checker.show(circuit);
  stepper.plan = plan;
  $('circuit').classList.remove('stale');
  svg.dataset.expression = circuit.expression;
  svg.dataset.renders = String(++hooks.renders);
  if (page.pinned && circuit.nodes.some((n) => n.id === page.pinned)) explain(page.pinned);
  return true;
}

function schedule(ms = 300) {
  clearTimeout(page.debounce);
  page.debounce = setTimeout(refresh, ms);
}

function syncInputs() {
  renderInputs($('inputs').querySelector('.input-rows'), rows(), state.values, setInput);
}

/**
 * Set input `name` to `value` (spelled `text`): the code is the truth, so a literal the program
 * assigns is rewritten in the code; any other input's value is the user's and is sent.
 */
function setInput(name, value, text, ms) {
  if (rows().find((r) => r.name === name)?.program) {
    state.expression = replaceLiteral(state.expression, name, text);
    editor.setText(state.expression);
  } else state.values[name] = value;
  schedule(ms);
}

function showError(err) {
  const box = $('error');
  const message = err && `${err.title}: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  editor.showError(err && err.position ? { ...err.position, message } : null);
  if (!err) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $('circuit').classList.toggle('stale', !!page.drawn);
  box.querySelector('.message').textContent = message;
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
  $('result').replaceChildren(...resultView(page.drawn.circuit, state.precision));
}

function showLegend(range) {
  const box = $('legend');
  box.hidden = !state.magnitude || !range;
  if (!box.hidden) box.replaceChildren(...legendView(range));
}

function saveHash() {
  const hash = encodeState({ ...state, values: requestBody().values });
  if (hash !== location.hash) history.replaceState(null, '', hash);
}

// ---- explanations ---------------------------------------------------------------------------

/** Show how gate or fork `id` sends its gradient back, and mark it in the drawing. */
function explain(id) {
  if (!page.drawn) return;
  const { circuit } = page.drawn;
  const n = circuit.nodes.find((x) => x.id === id);
  const fork = !!svg.querySelector(`.fork[data-node="${id}"]`) && n?.kind !== 'gate';
  const kids = fork ? explainFork(circuit, id, state.precision) : explainGate(circuit, id, page.ops, state.precision);
  if (!kids) return;
  $('explain').replaceChildren(...kids);
  $('explain').dataset.node = id;
  for (const g of svg.querySelectorAll('g.gate.selected')) g.classList.remove('selected');
  svg.querySelector(`g.gate[data-node="${id}"]`)?.classList.add('selected');
}

function openHeatMap(id) {
  const maps = page.drawn && tensorMaps(page.drawn.circuit, id, state.precision);
  if (!maps) return;
  const n = page.drawn.circuit.nodes.find((x) => x.id === id);
  const box = $('heatmap');
  const close = el('button', { type: 'button', className: 'close' }, '× close');
  close.addEventListener('click', () => (box.hidden = true));
  const kids = [close, ...maps];
  if (n.kind === 'input' && page.drawn.circuit.gradients[n.name] !== null) {
    kids.push(el('p', { className: 'hint' }, `Click an element of ${n.name} to nudge it.`));
    maps[0].addEventListener('click', (e) => {
      const cell = e.target.closest('.heat-cell');
      if (!cell) return;
      panels.nudgeAt(n.name, cell.dataset.index.split(',').map(Number));
    });
  }
  box.replaceChildren(...kids);
  box.dataset.node = id;
  box.hidden = false;
}

// ---- events ---------------------------------------------------------------------------------------

/** Start over on a new state (a preset, a link): rows and step-through are rebuilt from it. */
function load(next) {
  Object.assign(state, next);
  clearTimeout(page.debounce);
  page.asked.clear();
  page.drawn = null;
  page.answer = null;
  page.pinned = null;
  zoom.forget();
  editor.setText(state.expression);
  $('inputs').querySelector('.input-rows').replaceChildren();
  syncControls();
  syncInputs();
  stepper.set(null);
  stepper.pause();
  descend.reset();
  refresh();
}

function applyPreset(id) {
  const p = page.presets.find((x) => x.id === id);
  $('preset-notes').textContent = p ? p.notes : '';
  if (!p) return;
  load({ expression: p.expression, values: structuredClone(p.values || {}), expand: !!p.expand });
}

$('preset').addEventListener('change', (e) => applyPreset(e.target.value));
$('expand').addEventListener('change', (e) => {
  state.expand = e.target.checked;
  refresh();
});
$('magnitude').addEventListener('change', (e) => {
  state.magnitude = e.target.checked;
  if (page.drawn) {
    applyMagnitude(svg, page.drawn.colours, state.magnitude);
    showLegend(page.drawn.colours.range);
  }
  saveHash();
});
$('boxes').addEventListener('change', (e) => {
  state.boxes = e.target.checked;
  render().then(saveHash);
});
$('precision').addEventListener('input', (e) => {
  if (e.target.value === '') return;
  state.precision = clampPrecision(e.target.value);
  render().then(saveHash);
});
$('play').addEventListener('click', stepper.play);
$('pause').addEventListener('click', stepper.pause);
$('step').addEventListener('click', () => {
  stepper.pause();
  stepper.by(1);
});
$('step-back').addEventListener('click', () => {
  stepper.pause();
  stepper.by(-1);
});
$('speed').addEventListener('change', (e) => {
  stepper.speed = Number(e.target.value) || 700;
  if (stepper.playing) stepper.play();
});
$('show-all').addEventListener('click', () => {
  stepper.pause();
  stepper.set(null);
});
$('zoom-in').addEventListener('click', () => zoom.by(1.25));
$('zoom-out').addEventListener('click', () => zoom.by(0.8));
$('fit').addEventListener('click', () => zoom.fit());
$('zoom-reset').addEventListener('click', () => zoom.reset());

/** Presentation mode: the circuit alone, full screen, drawn as large as the screen allows. */
function present(on) {
  document.body.classList.toggle('presenting', on);
  $('present').setAttribute('aria-pressed', String(on));
  if (on && !document.fullscreenElement) document.documentElement.requestFullscreen?.().catch(() => {});
  if (!on && document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
  requestAnimationFrame(() => (on ? zoom.fit(3) : zoom.reset()));
}
$('present').addEventListener('click', () => present(!document.body.classList.contains('presenting')));
document.addEventListener('fullscreenchange', () => {
  if (!document.fullscreenElement && document.body.classList.contains('presenting')) present(false);
});
const targetOf = (t) => t.closest?.('g.gate') || (t.classList?.contains('fork') ? t : null);
for (const type of ['mouseover', 'focusin']) {
  svg.addEventListener(type, (e) => {
    const g = targetOf(e.target);
    if (g && (!page.pinned || type === 'focusin')) explain(g.dataset.node);
  });
}
function collapse() {
  state.expand = false;
  $('expand').checked = false;
  refresh();
}

svg.addEventListener('click', (e) => {
  if (e.target.closest?.('text.group-label.collapse')) {
    collapse();
    return;
  }
  const t = e.target.closest?.('text.value');
  if (t && editOnWire(t)) return;
  const w = e.target.closest?.('g.wire.tensor');
  if (w) openHeatMap(w.dataset.node);
  const g = targetOf(e.target);
  if (g) pin(g.dataset.node);
});
svg.addEventListener('keydown', (e) => {
  const w = e.target.closest?.('g.wire.tensor');
  const g = targetOf(e.target);
  if (w && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    openHeatMap(w.dataset.node);
  } else if (e.target.closest?.('text.group-label.collapse') && e.key === 'Enter') {
    collapse();
  } else if (g && e.key === 'Enter') {
    e.preventDefault();
    pin(g.dataset.node);
  } else if (g && e.key.startsWith('Arrow')) {
    e.preventDefault();
    nearestGate(svg, g, e.key)?.focus();
  }
});

/** Click an input's value on its wire to type a new one there; false for other texts. */
function editOnWire(text) {
  const n = page.drawn?.circuit.nodes.find((x) => x.id === text.dataset.node);
  if (!n || n.kind !== 'input' || n.shape.length) return false;
  editInPlace($('circuit'), text, String(n.value), `new value of ${n.name}`).then((typed) => {
    if (typed === null || !Number.isFinite(Number(typed))) return;
    $('inputs').querySelector('.input-rows').replaceChildren(); // the rows show the new value
    setInput(n.name, Number(typed), typed, 0);
    syncInputs();
  });
  return true;
}

/** Pin a gate's explanation (it stays while the pointer moves on); pinning it again unpins. */
function pin(id) {
  page.pinned = page.pinned === id ? null : id;
  for (const g of svg.querySelectorAll('g.gate.pinned')) g.classList.remove('pinned');
  if (page.pinned) svg.querySelector(`g.gate[data-node="${id}"]`)?.classList.add('pinned');
  panels.showTab('explain');
  explain(id);
}

document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  $('heatmap').hidden = true;
  if (document.body.classList.contains('presenting')) present(false);
});
// The skip link moves the focus, not the URL: the hash holds the circuit.
document.querySelector('.skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  $('circuit').focus();
});
window.addEventListener('hashchange', () => {
  if (location.hash === encodeState({ ...state, values: requestBody().values })) return;
  if (!new URLSearchParams(location.hash.slice(1)).has('e')) return; // an anchor, not a circuit
  load(decodeState(location.hash));
});

function syncControls() {
  $('expand').checked = state.expand;
  $('magnitude').checked = state.magnitude;
  $('boxes').checked = state.boxes;
  $('precision').value = String(state.precision);
}

// ---- start ----------------------------------------------------------------------------------------

async function start() {
  syncControls();
  syncInputs();
  panels.showTab('explain');
  const [opsList, presetList] = await Promise.allSettled([getOps(), getPresets()]);
  if (opsList.status === 'fulfilled') page.ops = new Map(opsList.value.map((o) => [o.op, o]));
  if (presetList.status === 'fulfilled') {
    page.presets = presetList.value;
    $('preset').append(...page.presets.map((p) => el('option', { value: p.id }, p.title)));
    const match = page.presets.find((p) => p.expression === state.expression);
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
