/**
 * Number and shape formatting for wire labels and panels (pure, no DOM).
 * @module format
 */

/** Read a JSON number the API may send as "NaN", "Infinity" or "-Infinity". */
export function toNumber(v) {
  if (v === null || v === undefined) return null;
  return typeof v === 'number' ? v : Number(v);
}

/**
 * A number as the labs show it, to `digits` significant digits: plain from 0.001 to 1e5, never
 * with fewer digits than its whole part (20914, not 2.09e4), an exponent outside (6.42e-5,
 * 1.23e5); trailing zeros dropped; "NaN", "∞", "-∞" and the API's strings for them read back.
 */
export function number(v, digits = 3) {
  const x = toNumber(v);
  if (x === null) return '—';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const rounded = Number(x.toPrecision(digits));
  const e = Math.floor(Math.log10(Math.abs(rounded)));
  if (e >= -3 && e <= 4) return String(Number(x.toFixed(Math.max(0, digits - 1 - e))));
  const [m, p] = x.toExponential(digits - 1).split('e');
  return `${Number(m)}e${p.replace('+', '')}`;
}

/**
 * A number of a sum written out (a gradient and its branches), in `number`'s plain form: at
 * least `precision` + 1 significant digits, so a small one shows its digits where fixed decimals
 * would show 0.00, and every digit of its whole part with `precision` decimals (138.8338, not
 * 138.83), at most 15; trailing zeros dropped.
 */
export function plain(v, precision = 2) {
  const a = Math.abs(toNumber(v));
  const whole = a >= 1 ? Math.floor(Math.log10(a)) + 1 : 0;
  return number(v, Math.min(15, Math.max(precision + 1, whole + precision)));
}

/** An axis tick: a number with six digits (0.01, 0.7, 100, 1e-7, 2e5, -3.5e30, never "100n"). */
export const tick = (v) => number(v, 6);

/** Format one number with `precision` decimals; switches to exponent form when fixed would lie. */
export function fmt(v, precision = 2) {
  const x = toNumber(v);
  if (x === null) return '—';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  const a = Math.abs(x);
  // Fixed notation hides tiny gradients as 0.00 and huge ones as 20 digits: use exponents there.
  if (a !== 0 && (a < 0.5 * 10 ** -precision || a >= 1e6)) return x.toExponential(Math.max(precision, 1));
  const s = x.toFixed(precision);
  return s === '-' + (0).toFixed(precision) ? (0).toFixed(precision) : s;
}

/**
 * Numbers shown side by side (a short vector's) in one format, at `precision` decimals:
 * fixed, or every one in exponent form when fmt would write any of them so.
 */
export function fmtAll(values, precision = 2) {
  const xs = values.map(toNumber);
  const exp = xs.some((x) => Number.isFinite(x) && fmt(x, precision).includes('e'));
  return xs.map((x) => (exp && Number.isFinite(x) ? x.toExponential(Math.max(precision, 1)) : fmt(x, precision)));
}

/**
 * A value as a person reads it in a field or the code: each number at 12 significant digits,
 * spelled as briefly as JavaScript can (6.400000000000001 -> 6.4); lists element by element,
 * anything else as it is.
 */
export function shortest(v) {
  if (Array.isArray(v)) return v.map(shortest);
  return typeof v === 'number' && Number.isFinite(v) ? Number(v.toPrecision(12)) : v;
}

/**
 * A value as code: shortest numbers, lists with a space after each comma (source.js
 * `replaceLiteral` writes it as the literal it replaces is written: a float stays a float).
 */
export function asCode(v) {
  const spell = (x) => (Array.isArray(x) ? `[${x.map(spell).join(', ')}]` : String(shortest(x)));
  return spell(v);
}

/** Shape as the notes write it: [5, 10] -> "5×10"; a scalar has no shape text. */
export function fmtShape(shape) {
  return shape && shape.length ? shape.join('×') : '';
}

/**
 * A tensor gate's shapes as the notes write them, "3×4 @ 4 → 3" (inputs joined by the gate's
 * label, then the output's shape): a function as "relu(3) → 3", an operator or an index ("+2",
 * "x²", "[0]", "ᵀ") by its shapes alone, "3 → scalar"; '' when every wire is a number. `byId`
 * maps node ids to nodes.
 */
export function shapeSignature(n, byId) {
  const shapes = n.inputs.map((i) => byId.get(i)?.shape ?? []);
  if (!n.shape.length && shapes.every((sh) => !sh.length)) return '';
  const show = (sh) => (sh.length ? sh.join('×') : 'scalar');
  const ins = shapes.length === 2 ? `${show(shapes[0])} ${n.label} ${show(shapes[1])}`
    : FUNCTION.test(n.label) ? `${n.label}(${show(shapes[0])})` : show(shapes[0]);
  return `${ins} → ${show(n.shape)}`;
}

const FUNCTION = /^[\p{Ll}\p{Lu}√][\p{L}\d -]*$/u; // relu, σ, Σ, √, leaky relu, exp-1

/** All numbers of a nested list, flattened in row-major order. */
export function flatten(v) {
  if (!Array.isArray(v)) return [toNumber(v)];
  const out = [];
  const stack = [v];
  // Iterative, so a deep list cannot exhaust the call stack.
  while (stack.length) {
    const cur = stack.pop();
    if (Array.isArray(cur)) for (let i = cur.length - 1; i >= 0; i--) stack.push(cur[i]);
    else out.push(toNumber(cur));
  }
  return out;
}

/** Euclidean (Frobenius) norm of a number or nested list. */
export function norm(v) {
  let s = 0;
  for (const x of flatten(v)) s += x * x;
  return Math.sqrt(s);
}

/** Magnitude used for colouring a wire: |g| for scalars, the norm for tensors. */
export function magnitude(v) {
  if (v === null || v === undefined) return null;
  return Array.isArray(v) ? norm(v) : Math.abs(toNumber(v));
}
