/**
 * The tools under the circuit: nudge an input and compare with the gradient's prediction, check
 * every gradient against central differences, and the staged Python code. Each takes the last
 * drawn circuit and its request body, and returns DOM nodes (or text) to show.
 * @module tools
 */
import { postCircuit, postCode, postGradcheck } from './api.js';
import { flatten, fmt, toNumber } from './format.js';
import { el } from './dom.js';
import { gradName, objective } from './layout.js';

/** The number at `index` (a list of whole numbers) of a nested list. */
const at = (v, index) => index.reduce((x, i) => x[i], v);

/**
 * Move input `name` (or its element `index`, for a tensor) by h: the predicted change
 * h·∂f/∂name next to the actual change of the output f, from one more forward pass (of the sum
 * of a tensor output's elements, or of Σ dD⊙D when its gradient dD is given).
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
  const p = Math.max(precision, 4);
  if (x + h === x) return `${label} + h is ${label} = ${fmt(x, precision)} in float64: choose a larger h.`;
  try {
    const res = await postCircuit({ ...body, values: { ...body.values, [name]: moved } });
    // the change of what the gradient is of: Σ g⊙f, g the output's gradient (ones unless given)
    const seed = flatten(circuit.nodes.find((n) => n.id === circuit.output).grad);
    const before = flatten(circuit.value);
    const actual = flatten(res.value).reduce((sum, y, i) => sum + seed[i] * (y - before[i]), 0);
    return el('table', { className: 'check-table' },
      el('tr', {}, el('th', {}, moveText(label, x, h, p))),
      el('tr', {}, el('td', {}, `predicted h·${gradName(circuit, label)}`), el('td', { id: 'nudge-predicted' }, fmt(h * g, p))),
      el('tr', {}, el('td', {}, `actual change of ${objective(circuit)}`), el('td', { id: 'nudge-actual' }, fmt(actual, p))));
  } catch (err) {
    return err.message;
  }
}

/** "x: -4.0000 → -3.9900": input `label` moved from x by h, at `p` decimals or as many more as the step needs to show. */
export function moveText(label, x, h, p) {
  let d = p;
  while (d < 20 && fmt(x, d) === fmt(x + h, d)) d += 1;
  return `${label}: ${fmt(x, d)} → ${fmt(x + h, d)}`;
}

const SMALL = 4; // an input of up to this many elements shows every number in the check's table

/**
 * One gradient in the check's table at `p` decimals: a number; a tensor of up to SMALL elements in
 * full ("[0.1966, -0.3932]", a dash where an element was not checked); a bigger one by its element
 * at `worst`.
 */
export function checkCell(v, size, worst, p) {
  const full = (x) => (Array.isArray(x) ? `[${x.map(full).join(', ')}]` : fmt(x, p));
  if (!Array.isArray(v) || size <= SMALL) return full(v);
  return fmt(at(v, worst), p);
}

/**
 * The gradient check: analytic against numeric for every input, with a verdict each and why an
 * input at a kink or an edge of a domain is not a failure. A tensor of more than SMALL elements
 * shows its worst element (the largest relative error) and, on demand, every checked element.
 */
export async function check({ body }, precision) {
  let res;
  try {
    res = await postGradcheck(body);
  } catch (err) {
    return err.message;
  }
  const p = Math.max(4, precision);
  const rows = [el('tr', {}, el('th', {}, 'input'), el('th', {}, 'analytic'), el('th', {}, 'numeric'),
    el('th', {}, 'rel. error'), el('th', {}, ''))];
  const more = [];
  const notes = [];
  for (const [name, r] of Object.entries(res.inputs)) {
    const skipped = r.passed === null;
    const verdict = skipped ? 'no gradient' : !r.passed ? 'fail' : r.edge ? 'edge' : r.kink ? 'kink' : 'pass';
    const big = Array.isArray(r.analytic) && r.size > SMALL;
    const label = big ? `${name}[${r.worst.join(', ')}]` : name;
    const row = el('tr', { className: 'check-row' }, el('td', {}, label),
      el('td', { className: 'analytic' }, checkCell(r.analytic, r.size, r.worst, p)),
      el('td', { className: 'numeric' }, checkCell(r.numeric, r.size, r.worst, p)),
      el('td', {}, skipped ? '—' : fmt(r.rel_error, 1)),
      el('td', { className: skipped ? '' : r.passed ? 'pass' : 'fail' }, verdict));
    row.dataset.name = name;
    if (big) row.cells[0].title = `the element of ${name} with the largest relative error`;
    rows.push(row);
    if (big) more.push(elements(name, r, p));
    if (r.note) notes.push(el('p', { className: 'check-note' }, r.note));
  }
  return [el('p', { className: res.passed ? 'pass' : 'fail' },
    res.passed ? `passed (h = ${res.h})` : `failed (h = ${res.h})`), el('table', { className: 'check-table' }, ...rows),
  ...more, ...notes];
}

/** Every checked element of a big input, on demand: its index, analytic and numeric gradient. */
function elements(name, r, p) {
  const list = el('table', { className: 'check-table check-elements' },
    el('tr', {}, el('th', {}, 'element'), el('th', {}, 'analytic'), el('th', {}, 'numeric')));
  const walk = (a, n, index) => {
    if (Array.isArray(a)) {
      a.forEach((x, i) => walk(x, n[i], [...index, i]));
      return;
    }
    if (n === null) return; // not checked
    const row = el('tr', {}, el('td', {}, `${name}[${index.join(', ')}]`), el('td', {}, fmt(a, p)), el('td', {}, fmt(n, p)));
    if (index.join() === r.worst.join()) row.className = 'worst';
    list.append(row);
  };
  walk(r.analytic, r.numeric, []);
  const worst = `${name}[${r.worst.join(', ')}]`;
  const of = r.checked < r.size ? `the ${r.checked} elements of ${name} checked (of ${r.size}, chosen at random)`
    : `the ${r.size} elements of ${name}`;
  return el('details', { className: 'check-all' },
    el('summary', {}, `${worst} has the largest relative error of ${of}: show them all`),
    el('div', { className: 'check-scroll' }, list));
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
