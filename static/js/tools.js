/**
 * The tools under the circuit: nudge an input and compare with the gradient's prediction, check
 * every gradient against central differences, and the staged Python code. Each takes the last
 * drawn circuit and its request body, and returns DOM nodes (or text) to show.
 * @module tools
 */
import { postCircuit, postCode, postGradcheck } from './api.js';
import { fmt, toNumber } from './format.js';
import { el } from './dom.js';
import { outputName } from './layout.js';

const PASS_RTOL = 1e-4;

/** The number at `index` (a list of whole numbers) of a nested list. */
const at = (v, index) => index.reduce((x, i) => x[i], v);

/**
 * Move input `name` (or its element `index`, for a tensor) by h: the predicted change
 * h·∂f/∂name next to the actual change of the output f, from one more forward pass.
 */
export async function nudge({ circuit, body }, name, h, precision, index = []) {
  if (!name || !Number.isFinite(h) || h === 0) return 'Choose an input and a non-zero h.';
  const node = circuit.nodes.find((n) => n.kind === 'input' && n.name === name);
  if (!node) return `${name} is not an input of this circuit.`;
  if (index.length !== node.shape.length) {
    return node.shape.length
      ? `Choose an element of ${name} (shape ${node.shape.join('×')}), e.g. ${node.shape.map(() => 0).join(', ')}.`
      : `${name} is a number: no index.`;
  }
  const k = index.findIndex((i, axis) => !(Number.isInteger(i) && i >= 0 && i < node.shape[axis]));
  if (k >= 0) {
    const axis = node.shape.length > 1 ? ` in place ${k + 1}` : '';
    const what = Number.isInteger(index[k]) ? `index ${index[k]}${axis} is out of range` : `an index${axis} is not a whole number`;
    return `${name} has shape ${node.shape.join('×')}: ${what}; choose 0 to ${node.shape[k] - 1}.`;
  }
  const x = toNumber(index.length ? at(node.value, index) : node.value);
  const g = toNumber(index.length ? at(circuit.gradients[name], index) : circuit.gradients[name]);
  let moved = x + h;
  if (index.length) {
    moved = structuredClone(node.value);
    const row = index.length > 1 ? at(moved, index.slice(0, -1)) : moved;
    row[index.at(-1)] = x + h;
  }
  const label = index.length ? `${name}[${index.join(', ')}]` : name;
  const out = outputName(circuit);
  try {
    const res = await postCircuit({ ...body, values: { ...body.values, [name]: moved } });
    const actual = toNumber(res.value) - toNumber(circuit.value);
    const p = Math.max(precision, 4);
    return el('table', { className: 'check-table' },
      el('tr', {}, el('th', {}, `${label}: ${fmt(x, p)} → ${fmt(x + h, p)}`)),
      el('tr', {}, el('td', {}, `predicted h·∂${out}/∂${label}`), el('td', { id: 'nudge-predicted' }, fmt(h * g, p))),
      el('tr', {}, el('td', {}, `actual change of ${out}`), el('td', { id: 'nudge-actual' }, fmt(actual, p))));
  } catch (err) {
    return err.message;
  }
}

/** The gradient check: analytic against numeric for every input, with a verdict each. */
export async function check({ body }, precision) {
  try {
    const res = await postGradcheck(body);
    const rows = [el('tr', {}, el('th', {}, 'input'), el('th', {}, 'analytic'), el('th', {}, 'numeric'),
      el('th', {}, 'rel. error'), el('th', {}, ''))];
    for (const [name, r] of Object.entries(res.inputs)) {
      // The engine's rule: relative error within PASS_RTOL (1e-4), or the input sits at a kink.
      const skipped = r.rel_error === null;
      const ok = !skipped && (toNumber(r.rel_error) <= PASS_RTOL || r.kink);
      const verdict = skipped ? 'no gradient' : r.kink ? 'kink' : ok ? 'pass' : 'fail';
      const show = (v) => (Array.isArray(v) ? '[…]' : fmt(v, Math.max(4, precision)));
      const row = el('tr', { className: 'check-row' }, el('td', {}, name), el('td', {}, show(r.analytic)),
        el('td', {}, show(r.numeric)), el('td', {}, skipped ? '—' : fmt(r.rel_error, 1)),
        el('td', { className: skipped ? '' : ok ? 'pass' : 'fail' }, verdict));
      row.dataset.name = name;
      rows.push(row);
    }
    return [el('p', { className: res.passed ? 'pass' : 'fail' },
      res.passed ? `passed (h = ${res.h})` : `failed (h = ${res.h})`), el('table', { className: 'check-table' }, ...rows)];
  } catch (err) {
    return err.message;
  }
}

/**
 * The staged forward and backward code of the circuit: its helper functions folded to their def
 * lines (open one to read it), so the passes themselves show first; every character is kept, for
 * copying.
 */
export async function stagedCode({ body }) {
  let source;
  try {
    source = (await postCode(body)).source;
  } catch (err) {
    return err.message;
  }
  return codeParts(source).map((p) => (p.text !== undefined ? p.text
    : el('details', { className: 'helper' },
      el('summary', { title: 'a helper the staged code calls: open it to read it' }, p.head),
      p.body)));
}

/** Python source as its top-level functions ({head: def line, body}) and the text between. */
export function codeParts(source) {
  const parts = [];
  let last = 0;
  for (const m of source.matchAll(/^(def [^\n]*:\n)((?:[ \t][^\n]*\n|\n(?=[ \t]))*)/gm)) {
    if (m.index > last) parts.push({ text: source.slice(last, m.index) });
    parts.push({ head: m[1], body: m[2] });
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push({ text: source.slice(last) });
  return parts;
}
