/**
 * The result line under the circuit (f, each input's gradient written as the sum of its
 * branches where it forks, the warnings, the notes of print lines) and the |gradient| colour legend, as DOM nodes;
 * the error box under the editor.
 * @module result
 */
import { magColor } from './circuit.js';
import { fmt, fmtAll, fmtShape, plain } from './format.js';
import { SHORT, contribution, gradName, knownAt, objective, outputName } from './layout.js';
import { caretFor } from './source.js';
import { el } from './dom.js';

const SUM_TERMS = 6; // a fork's gradient is written out as the sum of its branches up to this many

const shapeOf = (v) => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);

/** What the step on show has not computed yet: a muted ? in a span of `props`. */
export const pending = (props = {}) => el('span', {
  ...props, className: `${props.className ?? ''} pending`.trim(), title: 'not computed yet at this step',
}, '?');

/**
 * f and the gradients of a circuit, at `p` decimals: what `known` (layout.knownAt: the step on
 * show) has computed; a `?` stands for what it has not.
 */
export function resultView(circuit, p, known = knownAt(null, null)) {
  const show = (v) => {
    if (!Array.isArray(v)) return fmt(v, p);
    const shape = shapeOf(v);
    return shape.length === 1 && shape[0] <= SHORT ? `[${fmtAll(v, p).join(', ')}]` : `[${fmtShape(shape)}]`;
  };
  const out = outputName(circuit);
  const value = { className: 'value', id: 'output-value' };
  const kids = [el('span', {}, `${out} = `,
    known.value(circuit.output) ? el('span', value, show(circuit.value)) : pending(value))];
  for (const [name, g] of Object.entries(circuit.gradients)) {
    const node = circuit.nodes.find((n) => n.kind === 'input' && n.name === name);
    const uses = circuit.nodes.flatMap((n) => n.inputs.map((src, port) => ({ n, src, port })))
      .filter((u) => u.src === node?.id);
    const ready = !node || known.grad(node.id);
    let total = g === null ? '—' : show(g);
    let sum = '';
    if (ready && uses.length > SUM_TERMS) sum = ` (the sum of ${uses.length} branches)`;
    else if (ready && uses.length > 1 && !Array.isArray(g)) {
      const parts = uses.map((u) => contribution(u.n, u.port));
      if (parts.every((x) => x !== null)) {
        // the sum and its parts written plain, every sum on the line the same way
        const [all, ...texts] = [g, ...parts].map((x) => plain(x, p));
        total = all;
        sum = ' = ' + texts.map((t, i) => (i === 0 ? t : t.startsWith('-') ? ` − ${t.slice(1)}` : ` + ${t}`)).join('');
      }
    }
    const grad = { className: 'grad' };
    const item = el('span', { className: 'grad-item', title: `the gradient of ${objective(circuit)} with respect to ${name}` },
      `${gradName(circuit, name)} = `,
      ready ? el('span', grad, total) : pending(grad), sum);
    item.dataset.name = name;
    kids.push(item);
  }
  for (const w of circuit.warnings) kids.push(el('span', { className: 'warn' }, '⚠ ' + w));
  // what the program's print lines would show: kept as notes, since the text is never run; while
  // a step on show has not computed every value and gradient, what they print is a ?
  const done = known.value(circuit.output) && circuit.nodes.every((n) => n.kind !== 'input' || known.grad(n.id));
  for (const n of circuit.notes || []) {
    const said = /^(line \d+ prints )(.*)$/s.exec(n);
    kids.push(done || !said ? el('span', { className: 'note' }, '▸ ' + n)
      : el('span', { className: 'note' }, `▸ ${said[1]}`, pending({ className: 'printed' })));
  }
  return kids;
}

/** The legend of the |gradient| colouring over magnitudes [lo, hi]. */
export function legendView(range) {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${magColor(t)} ${t * 100}%`).join(', ');
  const bar = el('span', { className: 'bar' });
  bar.style.background = `linear-gradient(to right, ${stops})`;
  return [el('span', {}, `|gradient| ${fmt(range[0], 2)}`), bar, el('span', {}, fmt(range[1], 2)),
    el('span', { className: 'hint' }, '(log scale; dashed: zero)')];
}

/** A request's problem in words; `where` is its place ("line 23, column 20"), if said. */
export const problemText = (err, where = '') =>
  `${err.title}${where ? ` at ${where}` : ''}: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;

/**
 * Show problem `err` in the error box: in words, and under its place in `text` when it has one
 * (in a program of several lines, the words say which line and column); null hides it.
 */
export function showProblem(box, err, text) {
  box.hidden = !err;
  if (!err) return;
  const code = box.querySelector('.caret-box');
  code.hidden = !err.position;
  let where = '';
  if (err.position) {
    const c = caretFor(text, err.position.start, err.position.end);
    box.querySelector('.caret-line').textContent = c.line;
    box.querySelector('.caret').textContent = c.caret;
    code.title = `go to line ${c.lineNo}`;
    if (text.includes('\n')) where = `line ${c.lineNo}, column ${c.column + 1}`;
  }
  box.querySelector('.message').textContent = problemText(err, where);
}
