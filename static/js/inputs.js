/**
 * The input rows: one per input of the program. Which rows exist and what the page sends are
 * pure functions of the text and the page's state (`inputRows`, `requestValues`, `rowsOf`,
 * `requestOf`); `askCircuit` sends the request; `renderInputs` keeps the DOM rows in step with
 * them. A row for a name the program assigns a literal edits that literal in the code; any other
 * row holds a value the page sends.
 * @module inputs
 */
import { ApiError, postCircuit } from './api.js';
import { forwardPart } from './backcheck.js';
import { shortest } from './format.js';
import { freeNames, literals, runsAsWritten, statements } from './source.js';
import { el } from './dom.js';

const DEFAULT_VALUE = 1.0;

/** Where `name` first appears in the text, comments aside (for ordering the rows). */
function firstUse(text, name) {
  const src = String(text).replace(/#[^\n]*/g, (c) => ' '.repeat(c.length));
  const m = new RegExp(`(?<![\\w.])${name}(?!\\w)`).exec(src);
  return m ? m.index : Infinity;
}

/**
 * The rows for `text`: [{name, program, value?, literal?}] in order of first use. `program` rows
 * are inputs the code sets: a literal's carry its value and text; one the code computes
 * (`X = np.random.randn(4, 3)`, `k = 2 * 3`) carries neither. `inputs`, when given, are the input
 * names of the circuit the server drew from this very text: they decide which names are inputs.
 * `extra` are names the server asked a value for that the page did not see.
 */
export function inputRows(text, inputs = null, extra = []) {
  const lits = new Map(literals(text).map((l) => [l.name, l]));
  const assigned = new Set(statements(text).map((s) => s.name));
  let names = [...new Set([...freeNames(text), ...lits.keys(), ...extra])];
  if (inputs) names = [...new Set([...names.filter((n) => inputs.includes(n)), ...inputs])];
  names.sort((a, b) => firstUse(text, a) - firstUse(text, b));
  return names.map((name) => {
    const lit = lits.get(name);
    if (lit) return { name, program: true, value: lit.value, literal: lit.text };
    return { name, program: assigned.has(name) };
  });
}

/**
 * The values a request sends: the user's value (or 1) for each row the program does not set,
 * and a value given to an input the code computes (a descent step's).
 */
export function requestValues(rows, values) {
  const out = {};
  for (const r of rows) {
    if (!r.program) out[r.name] = r.name in values ? values[r.name] : DEFAULT_VALUE;
    else if (r.literal === undefined && r.name in values) out[r.name] = values[r.name];
  }
  return out;
}

/**
 * The rows of the page state's text (state.js): the drawn circuit's inputs decide when it was
 * drawn from that text; a backward pass names no input.
 */
export function rowsOf(state) {
  const text = forwardPart(state.expression);
  const d = state.drawn;
  const inputs = d && d.body.expression === text
    ? d.circuit.nodes.filter((n) => n.kind === 'input' && n.name).map((n) => n.name) : null;
  return inputRows(text, inputs, [...state.asked]);
}

/** The /api/circuit body of the page state. */
export function requestOf(state) {
  return { expression: state.expression, values: requestValues(rowsOf(state), state.values), expand: state.expand };
}

const isNumbers = (v) => (Array.isArray(v) ? v.every(isNumbers) : Number.isFinite(v));
const isCount = (k, least) => Number.isInteger(k) && k >= least;

/**
 * The shape typed in a random tensor's row: positive whole sizes apart by commas, spaces, x or
 * ×, as "5, 10", "5 10" or "5x10"; null for anything else ("3, x", "5,,10", "0", "2.5").
 */
export function shapeOf(text) {
  if (!/^\s*\d+(?:(?:\s*[,×x]\s*|\s+)\d+)*\s*$/.test(text)) return null;
  const dims = text.match(/\d+/g).map(Number);
  return dims.every((d) => d >= 1) ? dims : null;
}

/**
 * What is wrong with input `name`'s value `v` (a hand-edited link can hold anything), in words
 * saying what a value looks like; null when the API takes it: a number, a nested list of
 * numbers, or {"randn": shape of 1 to 4 positive whole numbers, "seed": a whole number ≥ 0}.
 */
export function valueProblem(name, v) {
  const got = JSON.stringify(v) ?? String(v);
  const seen = got.length > 40 ? `${got.slice(0, 39)}…` : got;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const { randn, seed = 0, ...rest } = v;
    const ok = Array.isArray(randn) && randn.length >= 1 && randn.length <= 4
      && randn.every((k) => isCount(k, 1)) && isCount(seed, 0) && !Object.keys(rest).length;
    return ok ? null : `${name}: a random tensor is written {"randn": [5, 10], "seed": 0}: a shape of 1 to 4`
      + ` positive whole numbers and a whole-number seed from 0; got ${seen}`;
  }
  return isNumbers(v) ? null : `${name}: expected a number or a list of numbers, e.g. 1.5 or [1, 2]; got ${seen}`;
}

/**
 * Ask for the circuit of the page state, its body passed through `prepare` (check mode's forward
 * part, and the output's gradient when the code gives one) first; a value the API would refuse
 * is a problem naming its input, and is not sent. A name the server says has no value, and the
 * page did not see, is added to `state.asked` (it gets a row) and the question is asked once
 * more, unless a newer request began meanwhile or the code is run as written (there the name
 * is the error).
 * Resolves to the answer, {circuit, body}.
 */
export async function askCircuit(state, prepare) {
  const mine = state.seq;
  const ask = async () => {
    const request = requestOf(state);
    const bad = Object.entries(request.values).map(([name, v]) => valueProblem(name, v)).find(Boolean);
    if (bad) throw new ApiError({ title: 'Invalid input value', detail: bad });
    const body = await prepare(request);
    return { circuit: await postCircuit(body), body };
  };
  try {
    return await ask();
  } catch (err) {
    const unseen = err instanceof ApiError ? err.missing.filter((n) => !state.asked.has(n)) : [];
    if (!unseen.length || mine !== state.seq || runsAsWritten(state.expression)) throw err;
    for (const n of unseen) state.asked.add(n);
    return ask();
  }
}

/** After an answer: the values and asked names of inputs its program no longer has go, silently. */
export function dropGone(state, { circuit, body }) {
  const inputs = new Set(circuit.nodes.filter((n) => n.kind === 'input').map((n) => n.name));
  for (const n of state.asked) if (!inputs.has(n)) state.asked.delete(n);
  for (const n of Object.keys(state.values)) if (!(n in body.values)) delete state.values[n];
}

/** A slider range that follows the value's magnitude: ±1, ±10, ±100… around it. */
export function sliderSpan(v) {
  const a = Math.abs(Number(v)) || 0;
  return a < 0.5 ? 1 : 10 ** Math.ceil(Math.log10(a * 2));
}

const modeOf = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? 'randn' : Array.isArray(v) ? 'list' : 'scalar');

/**
 * Make the DOM rows in `box` match `rows`. `values` are the user's values; a row's change calls
 * `set(name, value, text, ms)` with the value, the text that spells it, and how long to wait
 * before redrawing. A row being edited (focus inside) keeps what the user is typing; any other
 * row shows its value, the code's or the user's, unless it is the one the row last showed or
 * sent (so a mode chosen but not yet filled in stays). Numbers show at 12 significant digits
 * (format.js `shortest`); the values sent, and the link, keep every digit, and a number field
 * typed back to the text it showed gives back the value it showed (a literal as written).
 */
export function renderInputs(box, rows, values, set) {
  const key = (r) => `${r.program ? 'p' : 'f'}:${r.name}`;
  const keep = new Map([...box.children].map((row) => [row.dataset.key, row]));
  const wanted = rows.map((r) => {
    let row = keep.get(key(r));
    if (!row) {
      row = inputRow(r, set);
      row.dataset.key = key(r);
    }
    const value = r.program ? r.value : r.name in values ? values[r.name] : DEFAULT_VALUE;
    const moved = r.program || JSON.stringify(value) !== JSON.stringify(row.shown);
    if (moved && !row.contains(document.activeElement)) row.show(value, r.literal);
    return row;
  });
  // Moving a node takes its focus away: remove and insert only what changed.
  for (const row of [...box.children]) if (!wanted.includes(row)) row.remove();
  wanted.forEach((row, i) => {
    if (box.children[i] !== row) box.insertBefore(row, box.children[i] ?? null);
  });
}

function inputRow(r, set) {
  const { name } = r;
  const id = `in-${name}`;
  const row = el('div', { className: `input-row${r.program ? ' program' : ''}` });
  row.dataset.name = name;
  const num = el('input', { type: 'number', step: 'any', className: 'num', id });
  const range = el('input', { type: 'range', className: 'range' });
  range.setAttribute('aria-label', `${name} slider`);
  const kind = el('select', { className: 'mode' },
    el('option', { value: 'scalar' }, 'number'), el('option', { value: 'randn' }, 'random tensor'),
    el('option', { value: 'list' }, 'values'));
  kind.setAttribute('aria-label', `${name}: number or tensor`);
  const shape = el('input', { className: 'shape', placeholder: 'shape, e.g. 5, 10' });
  shape.setAttribute('aria-label', `${name} shape`);
  const seed = el('input', { type: 'number', className: 'seed', value: '0', step: '1' });
  seed.setAttribute('aria-label', `${name} seed`);
  const list = el('input', { className: 'list', placeholder: '[[1, 2], [3, 4]]' });
  list.setAttribute('aria-label', `${name} values (JSON list)`);
  const bad = el('span', { className: 'bad', id: `bad-${name}` });
  for (const f of [shape, list]) f.setAttribute('aria-describedby', bad.id);
  const label = el('label', { className: 'name', htmlFor: id, title: name }, name);
  // a random tensor's two fields, each with its word beside it
  const shapeField = el('label', { className: 'field shape-field' }, 'shape', shape);
  const seedField = el('label', { className: 'field' }, 'seed', seed);
  const controls = el('div', { className: 'controls' }, num, range, shapeField, seedField, list);
  // an input the code computes (no literal) has no field: its value is the code's
  const computed = r.program && r.literal === undefined;
  if (r.program) {
    const title = computed ? 'the code computes it' : 'changing it edits the code';
    controls.append(el('span', { className: 'from-program', title }, 'set in the program'));
  } else controls.append(kind);
  row.append(label, controls, bad);

  const showMode = () => {
    const m = kind.value;
    num.hidden = range.hidden = computed || m !== 'scalar';
    shape.hidden = seed.hidden = shapeField.hidden = seedField.hidden = m !== 'randn';
    list.hidden = m !== 'list';
  };
  const setNumber = (x) => {
    num.value = String(shortest(x));
    const span = sliderSpan(x);
    range.min = String(-span);
    range.max = String(span);
    range.step = String(span / 500);
    range.value = String(x);
  };
  /** Mark `field` invalid, saying `problem` under the row; no field clears the mark. */
  const flag = (field, problem = '') => {
    for (const f of [shape, list]) {
      if (f === field) f.setAttribute('aria-invalid', 'true');
      else f.removeAttribute('aria-invalid');
    }
    bad.textContent = problem;
  };
  let start = null; // the number shown: {text, value, literal}, what the field typed back gives
  /**
   * Show a value (spelled `literal` in the code, for a literal's row): a number in the number
   * field and slider, a list in the values field. A value the page would not send (from a
   * hand-edited link) shows as written, in the values field, marked invalid.
   */
  row.show = (value, literal) => {
    row.shown = value;
    const problem = r.program ? null : valueProblem(name, value);
    const m = problem ? 'list' : modeOf(value);
    kind.value = m;
    if (m === 'scalar') setNumber(typeof value === 'number' ? value : DEFAULT_VALUE);
    else setNumber(DEFAULT_VALUE);
    start = m === 'scalar' ? { text: num.value, value, literal } : null;
    if (m === 'randn') {
      shape.value = (value.randn || []).join(', ');
      seed.value = String(value.seed ?? 0);
    }
    if (problem) list.value = JSON.stringify(value);
    else if (m === 'list') list.value = JSON.stringify(shortest(value)).replaceAll(',', ', ');
    flag(problem ? list : null, problem ?? '');
    showMode();
  };

  // A value and the text that spells it (program rows put the text in the code).
  const commit = (value, text, ms) => {
    row.shown = value;
    flag(null);
    set(name, value, text, ms);
  };
  const readTensor = () => {
    if (kind.value === 'randn') {
      const dims = shapeOf(shape.value);
      if (!dims) {
        flag(shape, `${name}: the shape must be positive whole numbers, e.g. 5, 10`);
        return;
      }
      commit({ randn: dims, seed: Number.parseInt(seed.value, 10) || 0 }, null, 300);
    } else if (kind.value === 'list') {
      let parsed;
      try {
        parsed = JSON.parse(list.value);
      } catch {
        parsed = undefined;
      }
      const ok = (x) => (Array.isArray(x) ? x.length > 0 && x.every(ok) : typeof x === 'number');
      if (!ok(parsed)) {
        flag(list, `${name}: write a list of numbers, e.g. [[1, 2], [3, 4]]`);
        return;
      }
      commit(parsed, list.value.trim(), 300);
    }
  };
  kind.addEventListener('change', () => {
    showMode();
    if (kind.value === 'scalar') commit(Number(num.value) || 0, num.value, 0);
    else readTensor();
  });
  num.addEventListener('input', () => {
    if (num.value === '' || !Number.isFinite(Number(num.value))) return;
    range.value = num.value;
    // typed back to what it showed: the value as it was, every digit, and the literal as written
    if (num.value === start?.text) commit(start.value, start.literal ?? num.value, 250);
    else commit(Number(num.value), num.value, 250);
  });
  // Left empty or out of range, the field shows the value still in use again, and says so.
  num.addEventListener('change', () => {
    if (num.value !== '' && Number.isFinite(Number(num.value))) return setNumber(Number(num.value));
    const now = typeof row.shown === 'number' ? row.shown : DEFAULT_VALUE;
    setNumber(now);
    bad.textContent = `${name}: that is not a number; it stays ${shortest(now)}`;
  });
  // While dragging, the range stays put (it would jump under the pointer); on release it re-centres.
  range.addEventListener('input', () => {
    num.value = range.value;
    commit(Number(range.value), range.value, 40);
  });
  range.addEventListener('change', () => setNumber(Number(range.value)));
  for (const f of [shape, seed, list]) f.addEventListener('input', readTensor);
  return row;
}
