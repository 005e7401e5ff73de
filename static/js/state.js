/**
 * The circuit page's one state object, and its link part <-> the URL hash, so a copied link
 * reopens the same circuit (pure, no DOM).
 * @module state
 */

export const DEFAULTS = Object.freeze({
  expression: '(x + y) * z',
  values: { x: -2, y: 5, z: -4 },
  expand: false,
  precision: 2,
  magnitude: false,
  boxes: false, // a box around each statement of a program
  step: null, // the step of the passes on show (stepper.js); null: the whole circuit
});

/** Encode a state as a hash string ("#e=...&v=..."). Only fields that differ from nothing are kept. */
export function encodeState(state) {
  const p = new URLSearchParams();
  p.set('e', state.expression ?? '');
  if (state.values && Object.keys(state.values).length) p.set('v', JSON.stringify(state.values));
  if (state.expand) p.set('x', '1');
  if (state.precision !== undefined && state.precision !== DEFAULTS.precision) {
    p.set('p', String(state.precision));
  }
  if (state.magnitude) p.set('m', '1');
  if (state.boxes) p.set('b', '1');
  if (Number.isInteger(state.step)) p.set('s', String(state.step));
  return '#' + p.toString();
}

/** Clamp the precision control to what toFixed accepts and a label can show. */
export function clampPrecision(n) {
  const k = Math.round(Number(n));
  return Number.isFinite(k) ? Math.min(8, Math.max(0, k)) : DEFAULTS.precision;
}

/** Decode a hash; anything malformed falls back to the defaults instead of throwing. */
export function decodeState(hash) {
  const raw = (hash || '').replace(/^#/, '');
  if (!raw) return structuredClone(DEFAULTS);
  const p = new URLSearchParams(raw);
  if (!p.has('e')) return structuredClone(DEFAULTS);
  let values = {};
  try {
    const v = JSON.parse(p.get('v') || '{}');
    if (v && typeof v === 'object' && !Array.isArray(v)) values = v;
  } catch {
    values = {};
  }
  return {
    expression: p.get('e'),
    values,
    expand: p.get('x') === '1',
    precision: p.has('p') ? clampPrecision(p.get('p')) : DEFAULTS.precision,
    magnitude: p.get('m') === '1',
    boxes: p.get('b') === '1',
    step: /^\d+$/.test(p.get('s') ?? '') ? Number(p.get('s')) : null,
  };
}

/**
 * The page's state: what a link holds (from `hash`), then what the page learnt since. main.js
 * changes it in its actions; render() draws from it.
 */
export function pageState(hash) {
  return {
    ...decodeState(hash),
    answer: null, // the latest answer to the latest request: {circuit, body}
    drawn: null, // the answer on show: {circuit, body, lay, plan, colours, precision}
    asked: new Set(), // names the server wanted a value for that the page's reading of the text missed
    pinned: null, // {id, fork}: the gate or fork whose explanation stays while the pointer moves
    error: null, // the problem in the error box (an ApiError), null when there is none
    ops: new Map(), // the gate table, for the explanations
    presets: [],
    seq: 0, // answers to older requests are dropped
    drawing: 0, // a layout that finishes after a newer request or drawing began is dropped
    timer: null, // the pending request while the user types
    retries: 0, // requests in a row that got no answer (the server out of reach or busy)
  };
}
