/**
 * Reading the user's text without running it: free variable names and error carets (pure).
 * @module source
 */

// Numbers are matched first so the "e5" of "1e5" is never taken for a name.
const TOKEN = /(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)/g;
const MODULES = new Set(['np', 'math', 'numpy', 'torch', 'F', 'True', 'False']);
// what names no value: strings, comments, import lines and print lines (kept as notes)
const SKIPPED = /'[^'\n]*'|"[^"\n]*"|#[^\n]*|^[ \t]*(?:import|from)\b[^\n]*|^[ \t]*print\([^\n]*/gm;

/**
 * Whether the text is Python to be run as written: code that imports a library (micrograd,
 * torch, numpy, math). Such code assigns every name it reads; one it does not is an error, as
 * Python's NameError, and not an input for the page to give a value.
 */
export const runsAsWritten = (text) => /^[ \t]*(?:import|from)\b/m.test(String(text));

/**
 * Names the user must give a value: every identifier that is not called like a function, not an
 * attribute (np.exp, w.T), and not assigned by a statement of the program. First use first.
 * Code run as written has none.
 */
export function freeNames(text) {
  if (runsAsWritten(text)) return [];
  const src = String(text).replace(SKIPPED, (m) => (m[0] === "'" || m[0] === '"' ? "''" : ''));
  const assigned = new Set();
  for (const stmt of src.split(/[\n;]/)) {
    const m = /^\s*([A-Za-z_]\w*)\s*=(?!=)/.exec(stmt);
    if (m) assigned.add(m[1]);
  }
  const seen = new Set();
  const out = [];
  for (const m of src.matchAll(TOKEN)) {
    const name = m[2];
    if (!name) continue;
    const before = src.slice(0, m.index).trimEnd().slice(-1);
    const after = src.slice(m.index + name.length).trimStart()[0];
    const keyword = after === '=' && src[src.indexOf('=', m.index + name.length) + 1] !== '=';
    if (before === '.' || after === '(' || keyword || MODULES.has(name)) continue;
    if (assigned.has(name) || seen.has(name)) continue;
    seen.add(name);
    out.push(name);
  }
  return out;
}

/**
 * The line holding character `start` and a caret string under [start, end) of it; a line longer
 * than WIDE characters is shown around the error, cut with …. Returns {lineNo (1-based), line
 * as shown, column (in the whole line, from 0, in characters as the server counts them: an emoji
 * is one), caret}.
 */
export function caretFor(text, start, end) {
  const src = String(text);
  const s = Math.max(0, Math.min(start ?? src.length, src.length));
  const lineStart = src.lastIndexOf('\n', s - 1) + 1;
  let lineEnd = src.indexOf('\n', s);
  if (lineEnd < 0) lineEnd = src.length;
  const column = s - lineStart;
  const e = Math.max(s + 1, Math.min(end ?? s + 1, lineEnd + 1));
  const lineNo = src.slice(0, lineStart).split('\n').length;
  let line = src.slice(lineStart, lineEnd);
  let at = column; // where the caret starts in the line as shown
  let width = e - s;
  if (line.length > WIDE) { // shown around the error, cut with … at either end
    const from = Math.max(0, Math.min(column - WIDE / 4, line.length - WIDE));
    const tail = from + WIDE < line.length;
    line = `${from ? '…' : ''}${line.slice(from, from + WIDE)}${tail ? '…' : ''}`;
    at = column - from + (from ? 1 : 0);
    width = Math.max(1, Math.min(width, line.length - at - (tail ? 1 : 0)));
  }
  const characters = [...src.slice(lineStart, s)].length;
  return { lineNo, line, column: characters, caret: ' '.repeat(at) + '^'.repeat(width) };
}

const WIDE = 80; // characters of a longer line shown under an error

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A literal's value (a signed number or a nested list of them), or undefined when it is not one. */
function literalValue(text) {
  const t = text.trim();
  if (NUMBER.test(t)) return Number(t);
  if (!t.startsWith('[')) return undefined;
  // Numbers, brackets and commas only: spell each number the JSON way and let JSON read the nesting.
  const parts = t.split(/([[\],])/).map((s) => s.trim()).filter(Boolean);
  if (!parts.every((s) => '[],'.includes(s) || NUMBER.test(s))) return undefined;
  try {
    const v = JSON.parse(parts.map((s) => ('[],'.includes(s) ? s : String(Number(s)))).join(''));
    const ok = (x) => (Array.isArray(x) ? x.length > 0 && x.every(ok) : typeof x === 'number');
    return ok(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

// the call is the whole right side (keywords after the literal, .double() after the call): in
// `Value(2.0) * 2` the literal is not the variable's value
const CONSTRUCTOR = /^((?:Value|torch\.tensor|torch\.Tensor|np\.array|numpy\.array)\(\s*)(\[[^()]*\]|[^,()[\]]+?)(?=\s*(?:,[^()]*)?\)(?:\.double\(\))?$)/;

/**
 * The program's statements that assign a literal (`x = -2`, `w = [2, -3, -3]`): these names are
 * inputs whose value the code gives. Returns [{name, value, text, start, end}] in code order,
 * [start, end) being the literal's characters, so a row can rewrite exactly that literal.
 */
export function literals(text) {
  // Comments become spaces, so offsets stay those of the text and a '#…;' never splits a statement.
  const src = String(text).replace(/#[^\n]*/g, (c) => ' '.repeat(c.length));
  const out = [];
  for (const m of src.matchAll(/[^\n;]+/g)) {
    const a = /^(\s*)([A-Za-z_]\w*)(\s*=\s*)(?!=)(.*?)\s*$/.exec(m[0]);
    if (!a) continue;
    // micrograd's Value(2.0, label='x1'), torch.tensor(2.0, ...) and np.array([1, 2]): the literal
    // is the first argument
    const ctor = CONSTRUCTOR.exec(a[4]);
    const literal = ctor ? ctor[2] : a[4];
    const value = literalValue(literal);
    if (value === undefined) continue;
    const start = m.index + a[1].length + a[2].length + a[3].length + (ctor ? ctor[1].length : 0);
    out.push({ name: a[2], value, text: literal, start, end: start + literal.length });
  }
  return out;
}

const NUMBERS = /\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?/g;

/**
 * The text with `name`'s literal replaced by `literal` (unchanged if the program has none),
 * written as the code reads it as before: a number in place of a list keeps the list's brackets
 * (`torch.Tensor([6.88])` takes 7 as `[7.0]`: `torch.Tensor(7)` is seven uninitialised numbers),
 * and in place of a literal written with a float, a whole number gets ".0" (PyTorch takes no
 * gradient of `torch.tensor(3)`).
 */
export function replaceLiteral(text, name, literal) {
  const hit = literals(text).find((l) => l.name === name);
  if (!hit) return text;
  let fit = String(literal).trim();
  const depth = /^\[*/.exec(hit.text.replace(/\s/g, ''))[0].length; // the list's nesting
  if (!fit.startsWith('[')) fit = '['.repeat(depth) + fit + ']'.repeat(depth);
  if (/[.eE]/.test(hit.text)) fit = fit.replace(NUMBERS, (n) => (/^\d+$/.test(n) ? `${n}.0` : n));
  return text.slice(0, hit.start) + fit + text.slice(hit.end);
}

/** The program's assignments `name = …`: [{name, start, end}] over each whole statement. */
export function statements(text) {
  const src = String(text).replace(/#[^\n]*/g, (c) => ' '.repeat(c.length));
  const out = [];
  for (const m of src.matchAll(/[^\n;]+/g)) {
    const a = /^(\s*)([A-Za-z_]\w*)\s*=(?!=)/.exec(m[0]);
    if (a) out.push({ name: a[2], start: m.index + a[1].length, end: m.index + m[0].trimEnd().length });
  }
  return out;
}
