/**
 * What the explanation panel shows: how one gate sends the gradient back (local × upstream),
 * how a fork adds its branches, and a tensor's heat maps. Each function returns DOM nodes;
 * `mountExplain` shows them in the page.
 * @module explain
 */
import { heatMap, markGate } from './circuit.js';
import { fmt, fmtShape, shapeSignature, shortest, toNumber } from './format.js';
import { SHORT, contribution, gradName, wireTexts } from './layout.js';
import { el } from './dom.js';
import { pending } from './result.js';

/**
 * A constant wire as the program writes it: 3 (not 3.00), a short vector's numbers [2, 0.5, 1];
 * a bigger one is "constant 2×3" (its shape alone would read as a number).
 */
function constName(n) {
  if (!n.shape.length) return n.label;
  if (n.shape.length === 1 && n.shape[0] <= SHORT) return `[${shortest(n.value).join(', ')}]`;
  return `constant ${fmtShape(n.shape)}`;
}

/** The x in a label that pictures its gate (x², 1/x, |x|), where the input goes. */
const PLACEHOLDER = /(?<![a-z])x(?![a-z])/i;

/**
 * Gate `n` with its arguments `args` and its constants, as the program writes it: x - 1, -x,
 * x ** 2, x / 3, w[0], 3 - x, leaky relu(x, 0.1), q², |q|, Wᵀ.
 */
function callText(n, args) {
  const bare = (x) => (/^[\w.…[\]]+$/.test(x) ? x : `(${x})`); // an operand as it stands
  const [a] = args;
  const c = n.attrs || {};
  const num = (v) => String(shortest(v));
  switch (n.op) {
    case 'neg': return `-${a}`;
    case 'addc': return c.c < 0 ? `${a} - ${num(-c.c)}` : `${a} + ${num(c.c)}`;
    case 'scale': { // x / 3 is scaled by 1/3
      const k = shortest(1 / c.a);
      return Number.isInteger(k) && !Number.isInteger(c.a) ? `${a} / ${k}` : `${a} * ${num(c.a)}`;
    }
    case 'powc': return `${a} ** ${num(c.p)}`;
    case 'index': return `${a}[${[c.index].flat().join(', ')}]`;
    case 'transpose': return `${bare(a)}ᵀ`;
    case 'expm1': return `expm1(${a})`; // its label, exp-1, is no name to call
    default:
      if (args.length === 2 && !/\w/.test(n.label)) return `${a} ${n.label} ${args[1]}`; // +, @
      if (args.length === 1 && PLACEHOLDER.test(n.label)) return n.label.replace(PLACEHOLDER, bare(a));
      return `${n.label}(${[...args, ...Object.values(c).map(num)].join(', ')})`;
  }
}

/**
 * A wire's name in words: its variable, its constant, or the gate that computes it with every
 * argument, "3 - x", "max(x, 0)" (an unnamed gate's wire among them is "…").
 */
function wireName(n, byId) {
  if (n.name) return n.name;
  if (n.kind === 'const') return constName(n);
  const shape = n.shape.length ? ` ${fmtShape(n.shape)}` : '';
  const arg = (s) => s?.name || (s?.kind === 'const' ? constName(s) : '…');
  return `${callText(n, n.inputs.map((i) => arg(byId.get(i))))}${shape}`;
}

/**
 * A gate's constants as its formula names them (`op.constants`, from the gate table),
 * "with lo = -1, hi = 2"; '' when it has none.
 */
function constantsText(n, op) {
  const value = (v) => (Array.isArray(v) ? `(${v.map(value).join(', ')})` : String(shortest(v)));
  const parts = Object.entries(n.attrs || {})
    .map(([k, v]) => `${op.constants?.[k] ?? k} = ${value(v)}`);
  return parts.length ? `with ${parts.join(', ')}` : '';
}

/**
 * A tensor wire's value or gradient in the explanation: a short vector's numbers, as its wire
 * shows them; else "tensor 4×5" and the gradient's norm (a bare "3" would read as a number).
 */
function tensorTexts(n, p) {
  const t = wireTexts(n, p);
  return t.value.startsWith('[') ? t : { value: `tensor ${fmtShape(n.shape)}`, grad: t.grad };
}

/**
 * The explanation of gate `id`: its formula, and what it sends back to each input; only what
 * `known` (layout.knownAt: the step on show) has computed, a `?` for the rest.
 */
function explainGate(circuit, id, ops, p, known) {
  const byId = new Map(circuit.nodes.map((n) => [n.id, n]));
  const n = byId.get(id);
  if (!n) return null;
  const op = ops.get(n.op) || {};
  const shapes = shapeSignature(n, byId);
  const head = el('h3', {}, `${n.label} gate (${n.op})${n.name ? ` → ${n.name}` : ''}`,
    ...(shapes ? [el('span', { className: 'shapes' }, ` ${shapes}`)] : []));
  const formula = el('div', { className: 'formula' });
  if (op.formula && window.katex) {
    window.katex.render(op.formula, formula, { throwOnError: false, displayMode: false });
  } else formula.textContent = op.formula || '';
  const tensor = n.shape.length > 0 || !n.local;
  const up = n.shape.length ? tensorTexts(n, p).grad : fmt(n.grad, p);
  // The local derivatives come with the gate's forward step; the upstream gradient once every
  // gate after it has sent its share back; what it sends back, with its own backward step.
  const [local, upstream, sent] = [known.value(id), known.grad(id), known.sent(id)];
  const cell = (ok, cls, text) => el('td', cls ? { className: cls } : {}, ok ? text : pending({ className: cls }));
  const rows = [el('tr', {}, el('th', {}, 'input'), el('th', {}, 'value'), el('th', {}, 'local'),
    el('th', {}, '× upstream'), el('th', {}, '= sends back'))];
  n.inputs.forEach((src, i) => {
    const s = byId.get(src);
    const nm = wireName(s, byId);
    if (op.nondiff?.includes(i)) { // integer labels: shown as integers, they take no gradient
      const labels = s.shape.length ? tensorTexts(s, 0).value : fmt(s.value, 0);
      rows.push(el('tr', { className: 'send' }, el('td', {}, nm),
        cell(known.value(src), 'value', labels),
        el('td', { colSpan: 3, className: 'nondiff' }, 'takes no gradient')));
      return;
    }
    const sval = s.shape.length ? tensorTexts(s, p).value : fmt(s.value, p);
    const value = cell(known.value(src), 'value', sval);
    if (!tensor) {
      const loc = toNumber(n.local[i]);
      rows.push(el('tr', { className: 'send' }, el('td', {}, nm), value,
        cell(local, 'local', fmt(loc, p)), cell(upstream, 'grad', fmt(n.grad, p)),
        cell(sent, 'grad sends', fmt(loc * toNumber(n.grad), p))));
    } else {
      rows.push(el('tr', { className: 'send' }, el('td', {}, nm), value,
        el('td', {}, 'Jacobian'), cell(upstream, 'grad', up),
        cell(sent, 'grad sends', 'vector–Jacobian product')));
    }
  });
  const consts = constantsText(n, op);
  return [head,
    el('p', {}, 'local derivative: ', formula,
      ...(consts ? [' ', el('span', { className: 'consts' }, consts)] : [])),
    el('p', {}, 'upstream gradient: ', upstream ? el('span', { className: 'grad upstream' }, up) : pending({ className: 'grad upstream' })),
    el('table', {}, ...rows),
    el('p', { className: 'pattern' }, op.pattern ? `Pattern: ${op.pattern}` : '')];
}

/**
 * The explanation of the fork on node `id`'s wire: the branches' gradients and their sum, as far
 * as `known` goes; a branch into an input that takes no gradient (labels) says so.
 */
function explainFork(circuit, id, ops, p, known) {
  const byId = new Map(circuit.nodes.map((n) => [n.id, n]));
  const n = byId.get(id);
  if (!n) return null;
  const parts = circuit.nodes.flatMap((g) => g.inputs.map((src, port) => ({ g, src, port })))
    .filter((u) => u.src === id);
  const items = parts.map((u) => {
    const c = contribution(u.g, u.port);
    const gate = `${u.g.label} gate${u.g.name ? ` → ${u.g.name}` : ''}`;
    const from = `from the ${gate} (input ${u.port + 1}): `;
    if (ops.get(u.g.op)?.nondiff?.includes(u.port)) {
      return el('li', {}, from, el('span', { className: 'nondiff' }, 'takes no gradient'));
    }
    return el('li', {}, from,
      known.sent(u.g.id) ? el('span', { className: 'grad' }, c === null ? 'tensor' : fmt(c, p)) : pending({ className: 'grad' }));
  });
  const total = n.shape.length ? tensorTexts(n, p).grad : fmt(n.grad, p);
  return [el('h3', {}, `fork of ${wireName(n, byId)}`),
    el('p', {}, 'The wire feeds several gates, so the gradients they send back add up:'),
    el('ul', {}, ...items),
    el('p', {}, 'total: ', known.grad(id) ? el('span', { className: 'grad' }, total) : pending({ className: 'grad' }))];
}

/** Heat maps of a tensor wire's value and, once `known` has it, gradient (numbers at `precision` decimals). */
function tensorMaps(circuit, id, precision, known) {
  const n = circuit.nodes.find((x) => x.id === id);
  if (!n || !n.shape.length || n.shape.length > 2) return null;
  const name = n.name ?? n.label ?? n.id;
  const f = (x) => fmt(x, precision);
  const maps = [heatMap(n.value, `${name} value ${fmtShape(n.shape)}`, f)];
  if (Array.isArray(n.grad) && known.grad(id)) maps.push(heatMap(n.grad, `${gradName(circuit, name)} ${fmtShape(n.shape)}`, f));
  return maps;
}

const STEPS = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

/**
 * The elements of heat map `map` as buttons, one tab stop for them all: the arrow keys move the
 * focus from element to element (a roving tabindex), and a click, Enter or Space on one calls
 * `act(index)` with its index ([i, j], or [j] in a vector). `at` is the index of the element
 * that takes the tab stop.
 */
function actOnCells(map, name, act, at = null) {
  const cells = new Map([...map.querySelectorAll('rect.heat-cell')]
    .map((c) => [c.dataset.index, c]));
  map.setAttribute('role', 'group');
  for (const [index, c] of cells) {
    c.setAttribute('role', 'button');
    c.setAttribute('tabindex', '-1');
    c.setAttribute('aria-label', `nudge ${name}[${index.replace(',', ', ')}]`);
  }
  (cells.get(at) ?? cells.values().next().value).setAttribute('tabindex', '0');
  const indexOf = (cell) => cell.dataset.index.split(',').map(Number);
  map.addEventListener('click', (e) => {
    const cell = e.target.closest('.heat-cell');
    if (cell) act(indexOf(cell));
  });
  map.addEventListener('keydown', (e) => {
    const cell = e.target.closest('.heat-cell');
    if (!cell) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      act(indexOf(cell));
    } else if (STEPS[e.key]) {
      e.preventDefault();
      const index = indexOf(cell);
      const [di, dj] = STEPS[e.key];
      const moved = index.length === 2 ? [index[0] + di, index[1] + dj] : [index[0] + dj];
      const next = cells.get(moved.join(','));
      if (!next) return; // at the edge
      cell.setAttribute('tabindex', '-1');
      next.setAttribute('tabindex', '0');
      next.focus();
    }
  });
}

/**
 * The explanation panel and the heat map box of the circuit page. They read the circuit on show
 * through `shown()` ({circuit} or null), the gate table through `ops()`, what the step on show
 * has computed through `known()` (layout.knownAt).
 *
 *     const explain = mountExplain({ svg, box, heat, shown, ops, known, precision: () => 2, nudge });
 *     explain.show(id);    // gate `id` (a gate and the fork on its wire share an id): how it
 *                          // sends its gradient back; the gate is marked
 *     explain.show(id, true); // the fork on node `id`'s wire: how its branches add up
 *     explain.heatMap(id); // tensor wire `id`: its heat maps; a click (or Enter) on an input's
 *                          // element calls nudge(name, index); closed, they give the focus
 *                          // back to the wire
 *     explain.refresh();   // after a redraw with new values or a step: what is on show, anew
 *     explain.refresh(id); // the same, with gate `id` explained (the gate at work)
 *     explain.clear();     // a new program: the hint again, the heat maps hidden
 */
export function mountExplain({ svg, box, heat, shown, ops, known, precision, nudge }) {
  const hint = [...box.childNodes];
  /** Hide the heat maps; the focus, if it was in them, goes back to their wire. */
  const close = () => {
    const inside = heat.contains(document.activeElement);
    heat.hidden = true;
    if (inside) svg.querySelector(`g.wire.tensor[data-node="${heat.dataset.node}"]`)?.focus();
  };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  return {
    show(id, fork = false) {
      const circuit = shown()?.circuit;
      if (!circuit) return;
      const n = circuit.nodes.find((x) => x.id === id);
      const isFork = fork || n?.kind !== 'gate';
      const kids = isFork ? explainFork(circuit, id, ops(), precision(), known())
        : explainGate(circuit, id, ops(), precision(), known());
      if (!kids) return;
      box.replaceChildren(...kids);
      box.dataset.node = id;
      box.dataset.fork = String(isFork);
      markGate(svg, 'selected', isFork ? null : id);
    },
    heatMap(id) {
      const circuit = shown()?.circuit;
      const maps = circuit && tensorMaps(circuit, id, precision(), known());
      if (!maps) return;
      const n = circuit.nodes.find((x) => x.id === id);
      // drawn anew (a new step, new values): the focus stays on the button or element it was on
      const focused = heat.contains(document.activeElement) ? document.activeElement : null;
      const at = heat.dataset.node === id
        ? heat.querySelector('.heat-cell[tabindex="0"]')?.dataset.index : null;
      const button = el('button', { type: 'button', className: 'close' }, '× close');
      button.addEventListener('click', close);
      const kids = [button, ...maps];
      if (n.kind === 'input' && circuit.gradients[n.name] !== null) {
        kids.push(el('p', { className: 'hint' }, `Click an element of ${n.name} to nudge it `
          + '(or Tab to the grid, move with the arrow keys, press Enter).'));
        actOnCells(maps[0], n.name, (index) => nudge(n.name, index), at);
      }
      heat.replaceChildren(...kids);
      heat.dataset.node = id;
      heat.hidden = false;
      if (focused?.classList.contains('close')) button.focus();
      else if (focused) maps[0].querySelector('.heat-cell[tabindex="0"]')?.focus();
    },
    refresh(id) {
      if (id) this.show(id, false);
      else if (box.dataset.node) this.show(box.dataset.node, box.dataset.fork === 'true');
      if (!heat.hidden) this.heatMap(heat.dataset.node);
    },
    clear() {
      box.replaceChildren(...hint);
      delete box.dataset.node;
      delete box.dataset.fork;
      heat.hidden = true;
    },
  };
}
