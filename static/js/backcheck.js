/**
 * Check mode of the circuit page. When the program ends with a hand-written backward pass (lines
 * `dx = ...` / `dx += ...` for variables of the forward pass, or as the notes first write them,
 * `dfdx = ...` for the output f and `dqdx = ...` for a local gradient), /api/backward-check judges it line
 * by line: the page draws the forward part as its circuit, marks each backward line ✓, ✗ or ↑
 * (right in itself, but built on a wrong line) in the editor's gutter, highlights the first wrong
 * line with its message in words, and marks the wire of the variable that line computes the
 * gradient of with the code's number against the engine's.
 *
 *   const checker = createChecker({editor, svg, banner, result, precision: () => p});
 *   body = await checker.prepare(body)   before drawing: in check mode, the body with the forward part
 *                                        (and the output's gradient, when the code gives it as data)
 *   checker.show(circuit)                after each drawing: gutter, banner, wire and summary
 *   forwardPart(text)                    the text's forward pass, whose names are the inputs
 * Reading the text and a report (`backwardStart`, `gutterMarks`, `focusOf`, `summary`) is pure.
 * @module backcheck
 */
import { ApiError, postBackwardCheck } from './api.js';
import { svgEl } from './circuit.js';
import { fmt } from './format.js';
import { SHORT } from './layout.js';
import { el } from './dom.js';

const STATEMENT = /^\s*([A-Za-z_]\w*)\s*\+?=(?!=)/;
const WORD = /(?<![\w.])[A-Za-z_]\w*/g;

/**
 * Where the backward pass starts in the text, or -1: at a statement assigning (with = or +=)
 * d<name> for a name the text used before it, or d<a>d<b> (the notes' dfdx, dqdx) for a name b
 * used before it and a the last name assigned (the output) or one assigned from b, when every
 * assignment from there on assigns a d name. The server decides the same way (engine/circuit.py
 * backward_start, held to one table with this: tests/backward_start.json) and judges the rest
 * (engine/backcheck.py); this only says when to ask it.
 */
export function backwardStart(text) {
  // Comments become spaces, so offsets stay those of the text.
  const src = String(text).replace(/#[^\n]*/g, (c) => ' '.repeat(c.length));
  const seen = new Set();
  const reads = new Map(); // each name assigned so far: the names its right side reads
  let last = null;
  const starts = (target) => seen.has(target.slice(1)) || [...target].some((c, k) => {
    const [a, b] = [target.slice(1, k), target.slice(k + 1)];
    return k > 1 && c === 'd' && b && seen.has(b) && reads.has(a) && (a === last || reads.get(a).has(b));
  });
  let start = -1;
  for (const m of src.matchAll(/[^\n;]+/g)) {
    const target = STATEMENT.exec(m[0])?.[1];
    const words = [...m[0].matchAll(WORD)].map((w) => w[0]);
    if (target) {
      const gradient = /^d\w/.test(target);
      if (start >= 0 && !gradient) return -1; // a forward statement follows: not a backward pass
      if (start < 0 && gradient && starts(target)) start = m.index + m[0].search(/\S/);
      if (start < 0) {
        reads.set(target, new Set(words.slice(1)));
        last = target;
      }
    }
    for (const w of words) seen.add(w);
  }
  return start;
}

/** The forward pass of the text: all of it when it has no backward pass. */
export function forwardPart(text) {
  const start = backwardStart(text);
  return start < 0 ? text : text.slice(0, start).trimEnd();
}

/** A number or list of the report at `p` decimals: short lists in full, bigger ones by shape. */
function show(v, p) {
  if (!Array.isArray(v)) return fmt(v, p);
  if (shown(v)) return `[${v.map((x) => fmt(x, p)).join(', ')}]`;
  return `${v.flat(Infinity).length} values`;
}

/** A list short enough to show whole: a vector of at most SHORT numbers, as its wire shows it. */
const shown = (v) => !Array.isArray(v[0]) && v.length <= SHORT;

/**
 * The code's number and the engine's, with enough decimals (up to 8) to tell them apart:
 * {at, got, expected}; of two tensors too big to show whole, the first element that differs,
 * `at` its index ("[1, 1]", written after the gradient's name), else at is ''.
 */
export function pair(got, expected, p = 2) {
  const first = firstDifference(got, expected);
  if (first) return { ...pair(first.got, first.expected, p), at: `[${first.index.join(', ')}]` };
  let k = p;
  while (k < 8 && show(got, k) === show(expected, k)) k++;
  return { at: '', got: show(got, k), expected: show(expected, k) };
}

/** Of two lists of one shape that show as their size, the first element that differs. */
function firstDifference(got, expected) {
  const dims = (v) => (Array.isArray(v) ? [v.length, ...dims(v[0])] : []);
  const shape = dims(got);
  if (!shape.length || shown(got) || String(shape) !== String(dims(expected))) {
    return null;
  }
  const a = got.flat(Infinity);
  const b = expected.flat(Infinity);
  const i = a.findIndex((x, j) => fmt(x, 8) !== fmt(b[j], 8));
  if (i < 0) return null;
  const index = shape.map((_, d) => Math.floor(i / shape.slice(d + 1).reduce((m, n) => m * n, 1)) % shape[d]);
  return { index, got: a[i], expected: b[i] };
}

const WORST = { given: 0, ok: 0, inherits: 1, wrong: 2 };

/**
 * One gutter mark per backward line (several statements on a line: the worst one marks it);
 * the output's gradient given as data (the notes' dD = np.random.randn(...)) is marked given.
 */
export function gutterMarks(report, p = 2) {
  const byLine = new Map();
  for (const e of report.lines) {
    const said = e.given ? `${e.name}: given, the gradient the backward pass starts from`
      : e.status === 'ok' ? `${e.name} = ${show(e.got, p)}: right` : `${e.name}: ${e.message}`;
    const mark = e.given ? 'given' : e.status;
    const m = byLine.get(e.line);
    if (!m) byLine.set(e.line, { line: e.line, mark, title: said });
    else {
      if (WORST[mark] > WORST[m.mark]) m.mark = mark;
      m.title += `\n${said}`;
    }
  }
  return [...byLine.values()];
}

/**
 * What the page points at: the first wrong line, or else the first input whose final gradient
 * is off. {line, span, name (the forward variable), gradient, got, expected, message}, or null.
 */
export function focusOf(report) {
  const e = report.lines.find((x) => x.status === 'wrong');
  if (e) {
    return { line: e.line, span: e.span, name: e.var, gradient: e.name, got: e.got,
      expected: e.expected, message: e.message };
  }
  const [name, g] = Object.entries(report.gradients).find(([, x]) => !x.ok) || [];
  if (!name) return null;
  return { line: null, span: null, name, gradient: g.name, got: g.got, expected: g.expected,
    message: g.message };
}

const names = (xs) => (xs.length > 1 ? `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}` : xs[0] || '');

/** The verdict in one sentence; a line giving the output's gradient as data is no line to get right. */
export function summary(report) {
  const given = report.lines.find((e) => e.given);
  const n = report.lines.filter((e) => !e.given).length;
  const grads = Object.values(report.gradients).map((g) => g.name);
  if (report.passed) {
    const right = n === 1 ? 'the backward line is right' : n === 2 ? 'both backward lines right'
      : `all ${n} backward lines right`;
    return `✓ ${right}${given ? `, from the given ${given.name}` : ''}: ${names(grads)} ${
      grads.length === 1 ? 'equals' : 'equal'} the engine's gradient${grads.length === 1 ? '' : 's'}`;
  }
  if (report.first_wrong !== null) {
    const wrong = report.lines.filter((e) => e.status === 'wrong').length;
    const inherits = report.lines.filter((e) => e.status === 'inherits').length;
    const more = [wrong > 1 ? `${wrong} wrong in all` : '', inherits ? `${inherits} more ${
      inherits === 1 ? 'builds' : 'build'} on a wrong line` : ''].filter(Boolean);
    return `✗ line ${report.first_wrong} is the first wrong line${more.length ? ` (${more.join('; ')})` : ''}`;
  }
  const off = Object.values(report.gradients).filter((g) => !g.ok);
  const wrong = off.filter((g) => g.got !== null).map((g) => g.name);
  const none = off.filter((g) => g.got === null).map((g) => g.name);
  const said = [
    wrong.length ? `${names(wrong)} ${wrong.length === 1 ? "is not the engine's gradient" : "are not the engine's gradients"}` : '',
    none.length ? `no line computes ${names(none)}` : ''].filter(Boolean);
  return `✗ every line's own step is right, but ${said.join(', and ')}`;
}

/** The check mode's state and drawing; see the module's comment. */
export function createChecker({ editor, svg, banner, result, precision }) {
  let report = null; // the latest answer, for the latest text
  let code = '';
  let latest = 0;
  let shown = ''; // the line and wire last pointed at: the circuit scrolls to a new one

  function clear() {
    editor.setGutterMarks([]);
    editor.highlight(null);
    banner.hidden = true;
    banner.replaceChildren();
    for (const x of [...svg.querySelectorAll('.check-label'), result.querySelector('#check-summary')]) x?.remove();
    for (const g of svg.querySelectorAll('.check-focus')) g.classList.remove('check-focus');
    shown = '';
    delete document.body.dataset.check;
  }

  /** The body to draw: in check mode, the forward part; judges the text first. */
  async function prepare(body) {
    const mine = ++latest;
    const text = body.expression;
    let answer = null;
    if (backwardStart(text) >= 0) {
      try {
        answer = await postBackwardCheck({ code: text, values: body.values });
      } catch (err) {
        const plain = err instanceof ApiError && err.status === 400 && /no backward pass/.test(err.message);
        if (!plain) {
          if (mine === latest) {
            report = null;
            clear();
          }
          throw err;
        }
      }
    }
    if (mine === latest) {
      report = answer;
      code = text;
      if (!answer) clear();
    }
    if (!answer) return body;
    const drawn = { ...body, expression: text.slice(0, answer.forward_end).trimEnd() };
    // The output's gradient given as data (the notes' dD): the drawing's backward pass starts there.
    const given = answer.lines.find((e) => e.given);
    return given ? { ...drawn, grad: given.got } : drawn;
  }

  /** The banner over the first wrong line (or the wrong gradient), in words. */
  function showBanner(focus, p) {
    const { at, got, expected } = pair(focus.got, focus.expected, p);
    const head = focus.line !== null ? `Line ${focus.line} is the first wrong line`
      : focus.got === null ? `${focus.gradient} is missing`
        : `${focus.gradient} is not the engine's gradient`;
    const kids = [el('p', { className: 'check-head' }, `✗ ${head}`)];
    if (focus.span) {
      const go = el('button', { type: 'button', className: 'check-code', title: `go to line ${focus.line}` },
        code.slice(...focus.span));
      go.addEventListener('click', () => editor.reveal(focus.span[0]));
      kids.push(go);
    }
    kids.push(el('p', { className: 'check-message' }, focus.message || ''));
    // a line wrong in itself can end with the engine's number (a += with nothing before it):
    // then the message alone says what is wrong
    if (got !== expected) {
      const after = focus.line === null ? 'At the end of the backward pass' : 'After this line';
      kids.push(el('p', { className: 'check-numbers' }, `${after}, your ${focus.gradient}${at} = `,
        el('span', { className: 'check-got' }, got), '; the engine\'s backward pass gives ',
        el('span', { className: 'check-expected' }, expected)));
    }
    banner.replaceChildren(...kids);
    banner.hidden = false;
  }

  /**
   * Mark the wire of `focus.name` and label it with the code's number against the engine's, or,
   * when the two agree, with the wrong line's number.
   */
  function markWire(circuit, focus, p) {
    const node = circuit.nodes.find((n) => n.name === focus.name && n.kind !== 'const');
    if (!node) return;
    for (const g of svg.querySelectorAll(`g.wire[data-node="${node.id}"]`)) g.classList.add('check-focus');
    const anchors = ['text.grad', 'text.value', 'g.gate']
      .map((sel) => svg.querySelector(`${sel}[data-node="${node.id}"]`)).filter(Boolean).map((e) => e.getBBox());
    if (!anchors.length) return;
    const { at, got, expected } = pair(focus.got, focus.expected, p);
    const label = svgEl('g', { class: 'check-label', 'data-node': node.id });
    const rect = svgEl('rect', { rx: 3 });
    const said = got !== expected ? `you ${got} / true ${expected}`
      : `✗${focus.line === null ? '' : ` line ${focus.line}`}`;
    const text = svgEl('text', { x: 0, y: 0 }, `${focus.gradient}${at}: ${said}`);
    label.append(rect, text);
    svg.querySelector('g.circuit')?.append(label);
    const t = text.getBBox();
    const [w, h] = [t.width + 8, t.height + 4];
    // The first free spot beside the wire's labels: below them, above them, or after them;
    // else the free spot nearest its first label, on a grid around it.
    const taken = [...svg.querySelectorAll('text, g.gate circle')].filter((e) => !label.contains(e))
      .map((e) => e.getBBox());
    const [vx, vy, vw, vh] = svg.getAttribute('viewBox').split(' ').map(Number);
    const inside = ([x, y]) => x >= vx && y >= vy && x + w <= vx + vw && y + h <= vy + vh;
    const free = ([x, y]) => inside([x, y]) && !taken.some((b) =>
      x < b.x + b.width && b.x < x + w && y < b.y + b.height && b.y < y + h);
    const spots = anchors.flatMap((a) => [[a.x, a.y + a.height + 3], [a.x, a.y - h - 3], [a.x + a.width + 8, a.y]]);
    const [a] = anchors;
    const grid = [];
    for (let i = -24; i <= 24; i++) {
      for (let j = -16; j <= 16; j++) grid.push([a.x + (i * w) / 8, a.y + (j * h) / 2]);
    }
    const far = ([x, y]) => Math.hypot(x + w / 2 - a.x - a.width / 2, y + h / 2 - a.y - a.height / 2);
    grid.sort((p, q) => far(p) - far(q));
    const [x, y] = spots.find(free) || grid.find(free) || spots.find(inside) || spots[0];
    for (const [k, v] of Object.entries({ x, y, width: w, height: h })) rect.setAttribute(k, v);
    text.setAttribute('x', x + 4 - t.x);
    text.setAttribute('y', y + 2 - t.y);
    const key = `${focus.line}:${focus.name}`;
    if (key !== shown) label.scrollIntoView({ block: 'nearest', inline: 'center' });
    shown = key;
  }

  /** After each drawing: the marks, the banner, the wire and the summary of the latest report. */
  function show(circuit) {
    // A drawing whose numbers alone changed is kept: its marks go before the new ones are made.
    for (const g of svg.querySelectorAll('.check-label')) g.remove();
    for (const g of svg.querySelectorAll('.check-focus')) g.classList.remove('check-focus');
    if (!report) return;
    const p = precision();
    editor.setGutterMarks(gutterMarks(report, p));
    const focus = focusOf(report);
    editor.highlight(focus?.span ? { start: focus.span[0], end: focus.span[1], title: focus.message } : null);
    if (focus) {
      showBanner(focus, p);
      markWire(circuit, focus, p);
    } else {
      banner.hidden = true;
      banner.replaceChildren();
      shown = '';
    }
    const verdict = el('span', { id: 'check-summary', className: report.passed ? 'pass' : 'fail' }, summary(report));
    // the drawing's own warnings are on show already (the ones the backward pass starts from)
    const warnings = report.warnings.filter((w) => !circuit.warnings.includes(w))
      .map((w) => el('span', { className: 'warn' }, '⚠ ' + w));
    result.prepend(verdict);
    result.append(...warnings);
    document.body.dataset.check = report.passed ? 'passed' : 'failed';
  }

  return { prepare, show };
}
