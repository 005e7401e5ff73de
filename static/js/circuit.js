/**
 * Draws a laid-out circuit (from layout.js) as SVG, the way the notes draw theirs:
 * value in green above each wire, gradient in red below, gates as labelled circles.
 * Also: what the user does on the drawing, animation steps, the gradient-magnitude colouring,
 * and SVG/PNG export.
 * @module circuit
 */
import { magnitude, shapeSignature } from './format.js';
import { LINE, monoMeasure } from './layout.js';

const NS = 'http://www.w3.org/2000/svg';

/** Create an SVG element with attributes (and optional text). */
export function svgEl(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

/** The width of a label in the drawing's font, so the layout's boxes fit the glyphs drawn. */
export function labelMeasure() {
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = '12px "DejaVu Sans Mono", ui-monospace, monospace';
  return (text) => ctx.measureText(String(text)).width || monoMeasure(text);
}

const pts = (points) => points.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(' ');

/** What each svg shows: the layout key of its drawing and its groups. */
const shown = new WeakMap();

/**
 * Replace the SVG's content with the circuit in one swap (no flicker: the old drawing stays
 * until the new one is complete). `plan` gives each text the animation step that reveals it;
 * `groups` ([{ids, label, kind}]) are drawn inside labelled boxes: expanded composite gates
 * (kind 'composite', whose label collapses them) or a program's statements ('statement').
 * A drawing of the same layout and groups is kept, and only its numbers are written anew (a big
 * circuit takes seconds to build and lay out in the browser).
 */
export function drawCircuit(svg, lay, circuit, plan, groups = []) {
  const key = `${lay.key}|${JSON.stringify(groups)}`;
  if (shown.get(svg) === key && svg.querySelector('g.circuit')) {
    setNumbers(svg, lay);
    return;
  }
  shown.set(svg, key);
  const byId = new Map(circuit.nodes.map((n) => [n.id, n]));
  const root = svgEl('g', { class: 'circuit' });
  const wireLayer = svgEl('g', { class: 'wires' });
  const boxLayer = svgEl('g', { class: 'boxes' });
  const labelLayer = svgEl('g', { class: 'labels' });

  for (const w of lay.wires) {
    // A branch's gradient is known once its gate has sent it back; a stem's once all have.
    const gradAt = w.consumer ? plan.backward.get(w.consumer) : plan.gradAt.get(w.node);
    const g = svgEl('g', {
      class: `wire ${w.role}${w.tensor ? ' tensor' : ''}`, 'data-wire': w.id, 'data-node': w.node,
      'data-to': w.consumer ?? null, 'data-grad-at': gradAt,
      'data-value-at': w.consumer ? null : plan.valueAt.get(w.node),
    });
    g.append(svgEl('polyline', { class: 'wire-line', points: pts(w.points) }));
    if (w.role === 'out') {
      const [x, y] = w.points[w.points.length - 1];
      g.append(svgEl('path', { class: 'arrow', d: `M${x - 7},${y - 4} L${x},${y} L${x - 7},${y + 4}` }));
    }
    if (w.tensor && !w.consumer) {
      // A wide transparent twin makes the thin wire easy to click and focus for the heat map.
      g.setAttribute('tabindex', '0');
      g.setAttribute('role', 'button');
      g.setAttribute('aria-label', `heat map of ${byId.get(w.node).name ?? w.node} (${w.value})`);
      g.append(svgEl('polyline', { class: 'wire-hit', points: pts(w.points) }));
    }
    wireLayer.append(g);
    if (!w.label) continue;
    const { x, y, h } = w.label;
    const tx = x + (w.nameW || 0) + 2;
    const attrs = { 'data-node': w.node, 'data-wire': w.id };
    if (w.name) labelLayer.append(svgEl('text', { class: 'name', x: x + 2, y: y + LINE - 4, ...attrs }, w.name));
    if (w.value) {
      labelLayer.append(svgEl('text', {
        class: 'value', x: tx, y: y + LINE - 4, 'data-at': plan.valueAt.get(w.node), ...attrs,
      }, w.value));
    }
    if (w.grad) {
      labelLayer.append(svgEl('text', {
        class: w.consumer ? 'contrib' : 'grad', x: tx, y: y + h - 4, 'data-at': gradAt,
        'data-to': w.consumer ?? null, ...attrs,
      }, w.grad));
    }
  }

  for (const b of lay.boxes) {
    if (b.kind === 'gate') {
      const n = byId.get(b.id);
      const { r, sig } = b;
      const cx = b.x + b.w / 2;
      const g = svgEl('g', {
        class: 'gate', 'data-node': b.id, 'data-op': b.op, tabindex: '0', role: 'button',
        'aria-label': `${b.op} gate${n.name ? ' ' + n.name : ''}${sig ? ` (${sig})` : ''}: explain`,
        'data-fwd': plan.forward.get(b.id), 'data-bwd': plan.backward.get(b.id),
      });
      if (sig) g.append(svgEl('title', {}, `${n.op}: ${sig}`));
      g.append(svgEl('circle', { cx, cy: b.y + r, r }));
      g.append(svgEl('text', { class: 'gate-label', x: cx, y: b.y + r }, b.text));
      // A tensor gate's shapes sit under its circle, inside its box: nothing is laid over them.
      if (sig) g.append(svgEl('text', { class: 'gate-shape', x: cx, y: b.y + 2 * r + LINE - 3 }, sig));
      boxLayer.append(g);
    } else if (b.kind === 'input' || b.kind === 'const' || b.kind === 'ref') {
      const g = svgEl('g', { class: b.kind, 'data-node': b.kind === 'ref' ? b.node : b.id });
      g.append(svgEl('text', { class: `${b.kind}-label`, x: b.x + b.w - 4, y: b.y + b.h / 2 }, b.text));
      boxLayer.append(g);
    } else if (b.kind === 'fork') {
      boxLayer.append(svgEl('circle', {
        class: 'fork', 'data-node': b.node, tabindex: '0', role: 'button',
        'aria-label': 'fork: gradients of the branches add up', cx: b.x + b.w / 2, cy: b.y + b.h / 2, r: 3.5,
      }));
    }
  }

  // Expanded composite gates sit in a labelled box; clicking its label collapses them all again
  // (the engine expands composite gates all together or not at all). A box holds the boxes of
  // the groups inside it with their labels, so that no two labels meet: smaller groups are
  // measured first.
  const groupLayer = svgEl('g', { class: 'groups' });
  const boxOf = new Map(lay.boxes.map((b) => [b.id, b]));
  const extent = new Map(); // group -> [x0, y0, x1, y1] of its box, its label below y1
  for (const grp of [...groups].sort((a, b) => a.ids.length - b.ids.length)) {
    const inside = grp.ids.map((id) => boxOf.get(id)).filter(Boolean)
      .map((b) => [b.x, b.y, b.x + b.w, b.y + b.h]);
    if (!inside.length) continue;
    const ids = new Set(grp.ids);
    for (const [inner, [x0, y0, x1, y1]] of extent) {
      if (inner.ids.every((id) => ids.has(id))) inside.push([x0, y0, x1, y1 + 18]);
    }
    const edge = (k, f) => f(...inside.map((e) => e[k]));
    extent.set(grp, [edge(0, Math.min) - 6, edge(1, Math.min) - 6, edge(2, Math.max) + 6,
      edge(3, Math.max) + 6]);
  }
  let [width, height] = [lay.width, lay.height]; // grown to hold the boxes and their labels
  for (const grp of groups) {
    if (!extent.has(grp)) continue;
    const [x0, y0, x1, y1] = extent.get(grp);
    const collapsible = grp.kind === 'composite';
    const g = svgEl('g', { class: `group ${grp.kind}`, 'data-nodes': grp.ids.join(' ') });
    if (collapsible) g.append(svgEl('title', {}, 'click a label to collapse all composite gates'));
    g.append(svgEl('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 8 }));
    const label = svgEl('text', { class: `group-label${collapsible ? ' collapse' : ''}`, x: x0 + 4, y: y1 + 13,
      tabindex: collapsible ? '0' : null, role: collapsible ? 'button' : null,
      'aria-label': collapsible ? `${grp.label}: collapse all composite gates` : null }, grp.label);
    g.append(label);
    groupLayer.append(g);
    width = Math.max(width, x1 + 1);
    height = Math.max(height, y1 + 18);
  }

  root.append(groupLayer, wireLayer, boxLayer, labelLayer);
  svg.setAttribute('viewBox', `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`);
  svg.replaceChildren(root);
}

/** Write a drawing's numbers (constants, wire values and gradients) from `lay`, laid out alike. */
function setNumbers(svg, lay) {
  const numbers = [...lay.boxes.filter((b) => b.kind === 'const').map((b) => b.text),
    ...lay.wires.flatMap((w) => (w.label ? [w.value, w.grad].filter(Boolean) : []))];
  // In the drawing's order: the boxes' layer, then the labels' (a wire's value, then its gradient).
  svg.querySelectorAll('g.boxes text.const-label, g.labels text:not(.name)').forEach((t, i) => {
    if (t.textContent !== numbers[i]) t.textContent = numbers[i];
  });
}

/**
 * The gate an arrow key moves to from gate `from`: the nearest one in that direction (distance
 * across the direction counts double), or null.
 */
function nearestGate(svg, from, key) {
  const c = (g) => {
    const k = g.querySelector('circle');
    return [Number(k.getAttribute('cx')), Number(k.getAttribute('cy'))];
  };
  const [x0, y0] = c(from);
  const dir = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] }[key];
  let best = null;
  let bestD = Infinity;
  for (const g of svg.querySelectorAll('g.gate')) {
    const [x, y] = c(g);
    const along = (x - x0) * dir[0] + (y - y0) * dir[1];
    if (g === from || along <= 0) continue;
    const d = along + 2 * Math.abs((x - x0) * dir[1] + (y - y0) * dir[0]);
    if (d < bestD) [best, bestD] = [g, d];
  }
  return best;
}

/**
 * Mark gate `id` (none: null), or the fork on its wire when `fork`, with class `cls`, taking it
 * from the gate or fork that had it.
 */
export function markGate(svg, cls, id, fork = false) {
  for (const g of svg.querySelectorAll(`g.gate.${cls}, .fork.${cls}`)) g.classList.remove(cls);
  if (id) svg.querySelector(`${fork ? '.fork' : 'g.gate'}[data-node="${id}"]`)?.classList.add(cls);
}

/**
 * What the user does on the drawing, as calls with node ids: `look(id, focused, fork)` when the
 * pointer or the focus reaches a gate or fork (a gate and the fork on its wire share an id: `fork`
 * tells them apart), `pin(id, fork)` on a click or Enter there, `heatMap(id)`
 * on a tensor wire (click, Enter or space), `collapse()` on a composite group's label (all of
 * them collapse), and `editValue(id, text)` on a click on a value's text (true when it took the
 * click). The arrow keys move the focus from gate to gate.
 */
export function onCircuit(svg, { look, pin, heatMap, collapse, editValue }) {
  const isFork = (t) => t.classList.contains('fork');
  const targetOf = (t) => t.closest?.('g.gate') || (t.classList && isFork(t) ? t : null);
  for (const type of ['mouseover', 'focusin']) {
    svg.addEventListener(type, (e) => {
      const g = targetOf(e.target);
      if (g) look(g.dataset.node, type === 'focusin', isFork(g));
    });
  }
  svg.addEventListener('click', (e) => {
    if (e.target.closest?.('text.group-label.collapse')) {
      collapse();
      return;
    }
    const t = e.target.closest?.('text.value');
    if (t && editValue(t.dataset.node, t)) return;
    const w = e.target.closest?.('g.wire.tensor');
    if (w) heatMap(w.dataset.node);
    const g = targetOf(e.target);
    if (g) pin(g.dataset.node, isFork(g));
  });
  svg.addEventListener('keydown', (e) => {
    const w = e.target.closest?.('g.wire.tensor');
    const g = targetOf(e.target);
    if (w && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      heatMap(w.dataset.node);
    } else if (e.target.closest?.('text.group-label.collapse') && e.key === 'Enter') {
      collapse();
    } else if (g && e.key === 'Enter') {
      e.preventDefault();
      pin(g.dataset.node, isFork(g));
    } else if (g && e.key.startsWith('Arrow')) {
      e.preventDefault();
      nearestGate(svg, g, e.key)?.focus();
    }
  });
}

/**
 * Show the circuit as it stands after `step` animation steps (null: everything). Values and
 * gradients not yet computed are hidden, wires whose gradient is not known yet are left out of
 * the magnitude colouring, and the gate working at this step is highlighted.
 */
export function applyStep(svg, plan, step) {
  const all = step === null || step === undefined;
  for (const t of svg.querySelectorAll('text[data-at]')) {
    t.classList.toggle('pending', !all && Number(t.dataset.at) > step);
  }
  for (const g of svg.querySelectorAll('g.wire')) {
    g.classList.toggle('grad-pending', !all && Number(g.dataset.gradAt) > step);
    // The wires this step computes: a value travels forward, a gradient travels back.
    g.classList.toggle('pulse-forward', !all && g.dataset.valueAt !== undefined
      && Number(g.dataset.valueAt) === step && step > 0);
    g.classList.toggle('pulse-back', !all && Number(g.dataset.gradAt) === step);
  }
  for (const g of svg.querySelectorAll('g.gate')) {
    const active = !all && (Number(g.dataset.fwd) === step || Number(g.dataset.bwd) === step);
    g.classList.toggle('active', active);
  }
}

/**
 * Colours of the wires by |gradient| on a log scale (pure: the layout is not touched).
 * Returns {range: [min, max] magnitudes or null, wires: Map(wire id -> {colour, width, zero,
 * unknown})}: the scale stays fixed while stepping; `zero` wires are drawn dashed, `unknown` ones
 * (a tensor branch, a non-finite gradient) keep their plain look.
 */
export function magnitudeColours(lay) {
  const logs = new Map();
  const zero = new Set();
  for (const w of lay.wires) {
    const m = magnitude(w.gradRaw);
    if (m === 0) zero.add(w.id);
    else if (m && Number.isFinite(m) && m > 0) logs.set(w.id, Math.log10(m));
  }
  const lo = Math.min(...logs.values());
  const hi = Math.max(...logs.values());
  const wires = new Map();
  for (const w of lay.wires) {
    const l = logs.get(w.id);
    const t = l === undefined ? 0 : hi > lo ? (l - lo) / (hi - lo) : 1;
    wires.set(w.id, { colour: magColor(t), width: 1.2 + 3.3 * t, zero: zero.has(w.id),
      unknown: l === undefined && !zero.has(w.id) });
  }
  return { range: logs.size ? [10 ** lo, 10 ** hi] : null, wires };
}

/**
 * Show (or clear) the |gradient| colouring: each wire gets its colour and width as CSS
 * variables; the stylesheet applies them while the svg has the `magnitude` class, to wires whose
 * gradient the step-through has revealed.
 */
export function applyMagnitude(svg, colours, on) {
  svg.classList.toggle('magnitude', on);
  if (!on) return;
  for (const g of svg.querySelectorAll('g.wire')) {
    const c = colours.wires.get(g.dataset.wire);
    if (!c) continue;
    g.style.setProperty('--mag', c.colour);
    g.style.setProperty('--mag-width', c.width.toFixed(2));
    g.classList.toggle('faint', c.zero);
    g.classList.toggle('unknown', c.unknown);
  }
}

/** Colour for a position t in [0, 1] of the log-magnitude range: pale blue (small) to deep red. */
export function magColor(t) {
  const h = 215 - 205 * t;
  return `hsl(${h.toFixed(0)} ${(45 + 40 * t).toFixed(0)}% ${(68 - 28 * t).toFixed(0)}%)`;
}

const EXPORT_PROPS = ['fill', 'stroke', 'stroke-width', 'font-family', 'font-size', 'font-weight',
  'font-style', 'text-anchor', 'dominant-baseline', 'opacity', 'stroke-dasharray'];

/**
 * A standalone SVG document string: computed styles are inlined so it looks the same anywhere,
 * read while the drawing has the class export (no hover or focus ring, no pinned gate's ring, no
 * pulse). It shows the step on show: what the step hides is left out of the file.
 */
export function exportSvg(svg) {
  const clone = svg.cloneNode(true);
  const src = svg.querySelectorAll('*');
  const dst = clone.querySelectorAll('*');
  const hidden = [];
  svg.classList.add('export');
  src.forEach((el, i) => {
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none') hidden.push(dst[i]);
    const style = EXPORT_PROPS.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(';');
    dst[i].setAttribute('style', style);
    dst[i].removeAttribute('tabindex');
  });
  svg.classList.remove('export');
  for (const el of hidden) el.remove();
  clone.setAttribute('xmlns', NS);
  const bg = getComputedStyle(svg.parentElement).backgroundColor;
  const [, , w, h] = clone.getAttribute('viewBox').split(' ');
  // The drawing's own size, not the zoom on screen: a PNG drawn from it is never cropped or padded.
  clone.setAttribute('width', w);
  clone.setAttribute('height', h);
  clone.insertBefore(svgEl('rect', { x: 0, y: 0, width: w, height: h, fill: bg }), clone.firstChild);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(clone);
}

/** Render the exported SVG onto a canvas at `scale` and resolve to a PNG blob. */
export function exportPng(svg, scale = 2) {
  const text = exportSvg(svg);
  const [, , w, h] = svg.getAttribute('viewBox').split(' ').map(Number);
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = w * scale;
      canvas.height = h * scale;
      const ctx = canvas.getContext('2d');
      ctx.scale(scale, scale);
      ctx.drawImage(img, 0, 0);
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png');
    };
    img.onerror = () => reject(new Error('the SVG could not be rasterised'));
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text);
  });
}

const NUMBERS_UP_TO = 8; // cells carry their numbers when the array is at most 8×8

/** Diverging colour around zero: t in [-1, 1], blue for negative, red for positive. */
export function heatColour(t) {
  if (!Number.isFinite(t)) return '#888';
  return t >= 0 ? `hsl(8 75% ${(97 - 47 * t).toFixed(0)}%)` : `hsl(215 75% ${(97 + 47 * t).toFixed(0)}%)`;
}

/**
 * An SVG heat map of a 1-D or 2-D array: diverging colours around zero with a colour legend,
 * row and column indices, and the numbers in the cells up to 8×8. Each cell has data-index
 * ("i,j" or "j") and a title; `fmt` formats the numbers.
 */
export function heatMap(values, title, fmt = String, maxWidth = 420) {
  const rows = Array.isArray(values[0]) ? values : [values];
  const matrix = Array.isArray(values[0]);
  const nr = rows.length;
  const nc = rows[0].length;
  const numbers = nr <= NUMBERS_UP_TO && nc <= NUMBERS_UP_TO;
  const cell = numbers ? Math.max(44, Math.min(56, Math.floor(maxWidth / nc)))
    : Math.max(4, Math.min(28, Math.floor(maxWidth / nc)));
  const left = matrix ? 26 : 4;
  const top = 34;
  let amax = 0;
  for (const r of rows) for (const v of r) amax = Math.max(amax, Math.abs(Number(v)) || 0);
  const width = left + nc * cell + 8;
  const height = top + nr * cell + 40;
  const svg = svgEl('svg', { class: 'heat', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'img', 'aria-label': title });
  svg.append(svgEl('text', { class: 'heat-title', x: 0, y: 13 }, title));
  // Indices: every column and row when they fit, else every fifth.
  const every = (n) => (n * 14 <= n * cell ? 1 : 5);
  for (let j = 0; j < nc; j += every(nc)) {
    svg.append(svgEl('text', { class: 'heat-index', x: left + (j + 0.5) * cell, y: top - 5 }, String(j)));
  }
  if (matrix) {
    for (let i = 0; i < nr; i += every(nr)) {
      svg.append(svgEl('text', { class: 'heat-index row', x: left - 5, y: top + (i + 0.5) * cell }, String(i)));
    }
  }
  rows.forEach((r, i) => r.forEach((v, j) => {
    const x = Number(v);
    const t = amax ? x / amax : 0;
    const index = matrix ? `${i},${j}` : `${j}`;
    const rect = svgEl('rect', { x: left + j * cell, y: top + i * cell, width: cell, height: cell,
      fill: heatColour(t), 'data-index': index, class: 'heat-cell' });
    rect.append(svgEl('title', {}, `[${index.replace(',', ', ')}] ${x}`));
    svg.append(rect);
    if (numbers) {
      svg.append(svgEl('text', { class: `heat-number${Math.abs(t) > 0.6 ? ' dark' : ''}`,
        x: left + (j + 0.5) * cell, y: top + (i + 0.5) * cell }, fmt(x)));
    }
  }));
  // The legend: the colour scale from -max to +max.
  const ly = top + nr * cell + 10;
  const lw = Math.min(160, nc * cell);
  const steps = 20;
  for (let k = 0; k < steps; k++) {
    svg.append(svgEl('rect', { x: left + (k * lw) / steps, y: ly, width: lw / steps + 0.5, height: 8,
      fill: heatColour(-1 + (2 * (k + 0.5)) / steps) }));
  }
  svg.append(svgEl('text', { class: 'heat-legend', x: left, y: ly + 22 }, fmt(-amax)));
  svg.append(svgEl('text', { class: 'heat-legend end', x: left + lw, y: ly + 22 }, fmt(amax)));
  svg.append(svgEl('text', { class: 'heat-legend mid', x: left + lw / 2, y: ly + 22 }, '0'));
  return svg;
}
