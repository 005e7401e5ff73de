/**
 * The circuit page: one state object (state.js), the actions that change it, and render(), which
 * draws the latest answer with the state's view options. The program text (the truth) and the
 * user's values -> /api/circuit -> layout -> SVG, with the input rows, result, explanation and
 * URL hash drawn from the same state. The parts live in their own modules; this file composes them.
 * @module main
 */
import { ApiError, getOps, getPresets } from './api.js';
import { createChecker } from './backcheck.js';
import {
  applyMagnitude, drawCircuit, labelMeasure, magnitudeColours, markGate, onCircuit,
} from './circuit.js';
import { mountDescend } from './descend.js';
import { createEditor } from './editor.js';
import { mountExplain } from './explain.js';
import {
  askCircuit, dropGone, renderInputs, requestOf, requestValues, rowsOf,
} from './inputs.js';
import { mountPanels } from './panels.js';
import { composites, knownAt, layoutCircuit, statementGroups, stepPlan } from './layout.js';
import { asCode, shortest } from './format.js';
import { literals, replaceLiteral } from './source.js';
import { legendView, problemText, resultView, showProblem } from './result.js';
import { createStepper } from './stepper.js';
import { clampPrecision, decodeState, encodeState, pageState } from './state.js';
import { zoomView } from './zoom.js';
import { $, editInPlace, el } from './dom.js';

const state = pageState(location.hash);

// elk.bundled.js loads with `defer`, before this module; it is started on the first layout, so
// a page whose copy did not load still starts, and its error box says why nothing is drawn.
let elkInstance = null;
const elk = {
  layout(graph) {
    if (!window.ELK) throw new Error('the layout library (elkjs) did not load; reload the page');
    elkInstance ??= new window.ELK();
    return elkInstance.layout(graph);
  },
};
const svg = $('circuit-svg');
const rowsBox = $('inputs').querySelector('.input-rows');
const zoom = zoomView($('circuit'), svg);
const editor = createEditor($('editor'), {
  doc: state.expression,
  id: 'expr',
  label: 'program: an expression or a forward pass',
  onChange: (text) => {
    state.expression = text;
    syncInputs();
    schedule(350);
  },
  onRun: () => refresh(),
});
// Check mode: a program ending with a hand-written backward pass is judged line by line.
const checker = createChecker({
  editor, svg, banner: $('backcheck'), result: $('result'), precision: () => state.precision,
});
/** The tabs under the circuit (nudge, check, staged code) and the export buttons. */
const panels = mountPanels({ svg, shown: () => current(), precision: () => state.precision });
/** What the step on show has computed (all of it when no step is on show). */
const known = () => knownAt(state.drawn?.plan, stepper.step);
const explain = mountExplain({
  svg, box: $('explain'), heat: $('heatmap'), shown: () => state.drawn, ops: () => state.ops,
  known, precision: () => state.precision, nudge: panels.nudgeAt,
});
// The result line and the heat maps show what the step has computed; the explanation follows
// the gate at work; the link holds the step.
const stepper = createStepper(svg, {
  onStep: (active) => {
    state.step = stepper.step;
    showResult();
    explain.refresh(active);
    saveHash();
  },
});
/**
 * The inputs as they were before a descent step first changed them (forgotten on a preset or
 * link): a literal as typed with the value drawn from it, or the value of an input nobody had
 * set ({value, text: null}).
 */
const typed = new Map();
/**
 * Gradient descent on the circuit on show: each step's values go in as the user's own edits (a
 * literal in the code is written at 12 significant digits, as a person would write it, and a
 * float stays a float). Back at the first values, the code is as typed and computes its own.
 */
const descend = mountDescend($('descend-panel'), {
  request: () => current()?.body ?? null,
  apply: (values) => {
    const lits = new Map(literals(state.expression).map((l) => [l.name, l]));
    const shown = new Map(current()?.circuit.nodes.map((n) => [n.name, n.value]));
    for (const [name, v] of Object.entries(values)) {
      const lit = lits.get(name);
      const unset = !lit && !(name in state.values) && shown.has(name); // the code computes it
      if (!typed.has(name) && (lit || unset)) { // the value drawn: a PyTorch literal's float32
        typed.set(name, { value: shown.get(name) ?? lit.value, text: lit ? lit.text : null });
      }
      const first = typed.get(name);
      const same = first && JSON.stringify(first.value) === JSON.stringify(v);
      if (same && first.text === null) delete state.values[name]; // no override again
      else setInput(name, v, same ? first.text : asCode(v), 0);
    }
    return refresh(); // drawn at once, and the promise says when
  },
});

/** Page hooks for tests and the benchmark (bench/render.py times `redraw`: a layout and a drawing
 * from scratch). */
const hooks = (window.chainrule = { renders: 0, lastRender: null, editor });
hooks.redraw = async () => {
  const t0 = performance.now();
  svg.replaceChildren();
  await render({ fresh: true });
  return performance.now() - t0;
};

const measure = labelMeasure();

// ---- actions: they change the state, then ask the server or draw ----------------------------------

/** Ask for the circuit of the current state, store the answer and draw it; stale answers are dropped. */
async function refresh() {
  clearTimeout(state.timer); // this request is for the latest state: one pending is not needed
  state.timer = null;
  const mine = ++state.seq;
  state.drawing++; // a drawing of an earlier answer still being laid out is out of date now
  document.body.dataset.busy = '1';
  try {
    const answer = await askCircuit(state, checker.prepare);
    if (mine !== state.seq) return;
    state.answer = answer;
    dropGone(state, answer);
    const t0 = performance.now();
    await render();
    hooks.lastRender = { ms: performance.now() - t0, gates: answer.circuit.nodes.filter((n) => n.kind === 'gate').length };
    showError(null);
    state.retries = 0;
  } catch (err) {
    if (mine !== state.seq) return;
    const problem = err instanceof ApiError ? err : new ApiError({ title: 'Drawing failed', detail: String(err?.message || err) });
    if (problem.transient) retry(problem);
    showError(problem);
  } finally {
    if (mine === state.seq) {
      delete document.body.dataset.busy;
      syncInputs();
      syncPreset();
      saveHash();
    }
  }
}

/**
 * No answer (the server out of reach, or busy): the same request again by itself, 1 s, 2 s, 4 s…
 * up to 15 s apart, until one is answered. An edit sends its own request instead, soon: one made
 * while this request was on its way has already set its timer, which stays; Ctrl+Enter asks at once.
 */
function retry(err) {
  err.hint ??= 'the page tries again by itself; Ctrl+Enter tries now';
  if (state.timer !== null) return;
  state.timer = setTimeout(refresh, backoff(state.retries++));
}

/** The wait before asking again after `tries` requests in a row got no answer: 1 s, 2 s, 4 s… up to 15 s. */
const backoff = (tries) => Math.min(1000 * 2 ** tries, 15000);

/** An edit: its request in `ms`; should the server still not answer, the waits start again from 1 s. */
function schedule(ms = 300) {
  clearTimeout(state.timer);
  state.retries = 0;
  state.timer = setTimeout(refresh, ms);
}

/**
 * Set input `name` to `value` (spelled `text`): the code is the truth, so a literal the program
 * assigns is rewritten in the code; any other input's value is the user's and is sent (one the
 * code computes too: a descent step's).
 */
function setInput(name, value, text, ms) {
  if (rowsOf(state).find((r) => r.name === name)?.literal !== undefined) {
    state.expression = replaceLiteral(state.expression, name, text);
    editor.setText(state.expression);
  } else state.values[name] = value;
  schedule(ms);
}

/** A view option changed: the expansion asks the server again, the others only draw. */
function setOption(name, value) {
  state[name] = value;
  if (name === 'expand') refresh();
  else if (name === 'magnitude') {
    showMagnitude();
    saveHash();
  } else render().then(saveHash);
}

/**
 * Pin the explanation of gate `id`, or of the fork on its wire (it stays while the pointer moves
 * on); pinning it again unpins.
 */
function pin(id, fork) {
  const again = state.pinned?.id === id && state.pinned.fork === fork;
  state.pinned = again ? null : { id, fork };
  markGate(svg, 'pinned', state.pinned?.id, fork);
  panels.showTab('explain');
  explain.show(id, fork);
}

/** Start over on a new state (a preset, a link): rows and step-through are rebuilt from it. */
function load(next) {
  Object.assign(state, next, { asked: new Set(), drawn: null, answer: null, pinned: null });
  zoom.forget();
  explain.clear();
  editor.setText(state.expression);
  rowsBox.replaceChildren();
  syncControls();
  syncInputs();
  stepper.restart(state.step);
  stepper.pause();
  descend.reset();
  typed.clear();
  refresh();
}

function applyPreset(id) {
  const p = state.presets.find((x) => x.id === id);
  if (p) load({ expression: p.expression, values: structuredClone(p.values || {}), expand: !!p.expand, step: null });
  else syncPreset(); // "choose an example" chosen: the menu still says what is on the page
}

/**
 * The examples menu and its notes show the example on the page: its code, with its values. Code
 * or a value changed into anything else is no example (its notes may no longer hold): the menu
 * shows none, and the notes go.
 */
function syncPreset() {
  const rows = rowsOf(state);
  const sent = JSON.stringify(requestValues(rows, state.values));
  const p = state.presets.find((x) => x.expression === state.expression
    && JSON.stringify(requestValues(rows, x.values || {})) === sent);
  $('preset').value = p ? p.id : '';
  $('preset-notes').textContent = p ? p.notes : '';
}

/** Click an input's value on its wire to type a new one there; false for other values. */
function editValue(id, text) {
  const n = state.drawn?.circuit.nodes.find((x) => x.id === id);
  if (!n || n.kind !== 'input' || n.shape.length) return false;
  const shown = String(shortest(n.value));
  editInPlace($('circuit'), text, shown, `new value of ${n.name}`).then((typed) => {
    if (typed === null || typed === shown) return;
    if (typed === '' || !Number.isFinite(Number(typed))) {
      $('step-status').textContent = `${n.name}: that is not a number; it stays ${shown}`;
      return;
    }
    setInput(n.name, Number(typed), typed, 0);
    syncInputs();
  });
  return true;
}

// ---- render: the state on the page ----------------------------------------------------------------

/**
 * Draw the latest answer with the view options of `state`: the one place the circuit is drawn
 * (a new answer, or precision and toggles changed). False when a newer request or drawing began
 * while it was laid out. An answer that changes only numbers keeps the layout and the drawing on
 * show, unless `fresh`.
 */
async function render({ fresh = false } = {}) {
  if (!state.answer) return false;
  const { circuit, body } = state.answer;
  const mine = ++state.drawing;
  const t0 = performance.now();
  const previous = fresh ? null : state.drawn?.lay; // its layout is kept when only numbers changed
  const lay = await layoutCircuit(circuit, elk, { precision: state.precision, measure, previous });
  if (mine !== state.drawing) return false;
  const t1 = performance.now();
  const plan = stepPlan(circuit);
  const groups = [...(body.expand ? composites(circuit) : []), ...(state.boxes ? statementGroups(circuit) : [])];
  drawCircuit(svg, lay, circuit, plan, groups);
  markStale(false);
  // Only values moved (same gates, wires and names): the zoom and scroll stay where the user left them,
  // and the explanation on show stays, with the new numbers; a new program clears it. Other
  // decimals change the drawing's width: an automatic zoom fits it again.
  const same = wiring(circuit) === wiring(state.drawn?.circuit);
  zoom.update({ keep: same && state.precision === state.drawn?.precision });
  hooks.phases = { layoutMs: t1 - t0, drawMs: performance.now() - t1 };
  state.drawn = { circuit, body, lay, plan, colours: magnitudeColours(lay), precision: state.precision };
  descend.update(circuit);
  showMagnitude();
  panels.update();
  if (same) explain.refresh();
  else {
    state.pinned = null;
    explain.clear();
  }
  markGate(svg, 'pinned', state.pinned?.id, state.pinned?.fork);
  stepper.plan = plan; // the step stays, within the new plan: it shows the result line (onStep)
  svg.dataset.expression = circuit.expression;
  svg.dataset.renders = String(++hooks.renders);
  return true;
}

/** A circuit's gates, wires and wire names (names widen the drawing), to tell a new program from
 * new values. */
const wiring = (circuit) => circuit?.nodes.map((n) => `${n.op}(${n.inputs})${n.name ?? ''}`).join(' ');

function showMagnitude() {
  if (!state.drawn) return;
  const { colours } = state.drawn;
  applyMagnitude(svg, colours, state.magnitude);
  const legend = $('legend');
  legend.hidden = !state.magnitude || !colours.range;
  if (!legend.hidden) legend.replaceChildren(...legendView(colours.range));
}

/** The result line, as far as the step on show has computed it, and in check mode the verdict. */
function showResult() {
  if (!state.drawn) return;
  $('result').replaceChildren(...resultView(state.drawn.circuit, state.precision, known()));
  checker.show(state.drawn.circuit);
}

function syncInputs() {
  renderInputs(rowsBox, rowsOf(state), state.values, setInput);
}

function syncControls() {
  for (const name of ['expand', 'magnitude', 'boxes']) $(name).checked = state[name];
  $('precision').value = String(state.precision);
}

function showError(err) {
  state.error = err;
  editor.showError(err?.position ? { ...err.position, message: problemText(err) } : null);
  if (err) {
    $('stale-note').textContent = `The circuit on show is the last one drawn: ${!err.transient
      ? 'fix the error under the code to redraw it'
      : `the server ${err.status ? 'is busy' : 'could not be reached'}; the page redraws by itself once it answers`}.`;
    markStale(!!svg.querySelector('g.circuit')); // a drawing on show, of other code
  }
  showProblem($('error'), err, state.expression);
}

/**
 * The circuit on show is not the code's (the code has an error): it is dimmed and says so, and
 * the tools that would act on it (nudge, check, staged code, descend) refuse until the code draws
 * again.
 */
function markStale(on) {
  state.stale = on;
  $('circuit').classList.toggle('stale', on);
  $('result').classList.toggle('stale', on);
  $('stale-note').hidden = !on;
}

/** The circuit the tools act on: the one on show, unless it is out of date. */
const current = () => (state.stale ? null : state.drawn);

const linkOf = () => encodeState({ ...state, values: requestOf(state).values });

function saveHash() {
  const hash = linkOf();
  if (hash !== location.hash) history.replaceState(null, '', hash);
}

// ---- events ---------------------------------------------------------------------------------------

onCircuit(svg, {
  look: (id, focused, fork) => {
    if (!state.pinned || focused) explain.show(id, fork);
  },
  pin,
  heatMap: explain.heatMap,
  collapse: () => {
    $('expand').checked = false;
    setOption('expand', false);
  },
  editValue,
});
// A click on the error box puts the caret at the error, as a click on check mode's wrong line
// does (not one that ends selecting the message's text, to copy it).
$('error').addEventListener('click', () => {
  const selected = getSelection();
  if (!state.error?.position || (!selected.isCollapsed && $('error').contains(selected.anchorNode))) return;
  editor.reveal(state.error.position.start);
});
$('preset').addEventListener('change', (e) => applyPreset(e.target.value));
for (const name of ['expand', 'magnitude', 'boxes']) {
  $(name).addEventListener('change', (e) => setOption(name, e.target.checked));
}
$('precision').addEventListener('input', (e) => {
  if (e.target.value !== '') setOption('precision', clampPrecision(e.target.value));
});
// Typed out of range (or left empty), the field shows the decimals in use once the user leaves it.
$('precision').addEventListener('change', (e) => {
  e.target.value = String(state.precision);
});
// The skip link moves the focus, not the URL: the hash holds the circuit.
document.querySelector('.skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  $('circuit').focus();
});
window.addEventListener('hashchange', () => {
  if (location.hash === linkOf()) return;
  if (!new URLSearchParams(location.hash.slice(1)).has('e')) return; // an anchor, not a circuit
  load(decodeState(location.hash));
});

// ---- start ----------------------------------------------------------------------------------------

/**
 * fill(the answer to ask()). Resolves after the first try; should the server not answer (out of
 * reach, or busy), it is asked again by itself, with the drawing's waits, until it does.
 */
async function fetchTable(ask, fill, tries = 0) {
  let answer;
  try {
    answer = await ask();
  } catch (err) {
    if (err.transient) setTimeout(() => fetchTable(ask, fill, tries + 1), backoff(tries));
    return;
  }
  fill(answer);
}

/** The gate table: the explanation on show, if any, gets its formula. */
function fillOps(ops) {
  state.ops = new Map(ops.map((o) => [o.op, o]));
  explain.refresh();
}

/** The examples menu; the example on the page (typed or not) is the one selected. */
function fillPresets(presets) {
  state.presets = presets;
  $('preset').append(...presets.map((p) => el('option', { value: p.id }, p.title)));
  syncPreset();
}

async function start() {
  syncControls();
  syncInputs();
  panels.showTab('explain');
  await Promise.all([fetchTable(getOps, fillOps), fetchTable(getPresets, fillPresets)]);
  stepper.set(state.step); // shown once the circuit is drawn
  await refresh();
  document.body.dataset.ready = '1';
}

start();
