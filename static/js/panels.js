/**
 * The panels under the circuit and the export buttons: the tabs, the nudge tool, the gradient
 * check, the staged code, SVG/PNG export and the copy buttons. They read the circuit on show
 * through `shown()` ({circuit, body} or null) and send only the tools' own requests.
 *
 *     const panels = mountPanels({ svg, shown: () => drawn, precision: () => 2 });
 *     panels.update();             // after every drawing
 *     panels.showTab('explain');
 *     panels.nudgeAt('W', [1, 2]); // the nudge tab, on one element of a tensor input
 *
 * @module panels
 */
import { exportPng, exportSvg } from './circuit.js';
import { fmtShape } from './format.js';
import { OUT_OF_DATE } from './descend.js';
import { check, nudge, stagedCode } from './tools.js';
import { $, el, isBusy, setBusy } from './dom.js';

async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = 'copied';
  } catch {
    status.textContent = 'select the text and copy it (clipboard not available)';
  }
}

function download(blob, name) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/**
 * Wire the panels and buttons of the page.
 * @param {{svg: SVGSVGElement, shown: () => ({circuit: object, body: object} | null),
 *          precision: () => number}} page
 */
export function mountPanels({ svg, shown, precision }) {
  let drawing = 0; // bumped by update(): an answer about an earlier circuit is dropped
  let asked = 0; // the latest request of a panel marks it busy until its answer

  /**
   * Show what `work` gives for the circuit on show in `out`, unless another is drawn first; with
   * none up to date (the code has an error), say so.
   */
  async function answer(out, work) {
    if (!shown()) {
      out.replaceChildren(OUT_OF_DATE);
      return;
    }
    const mine = drawing;
    const ask = ++asked;
    out.setAttribute('aria-busy', 'true'); // the panel's sign, once the answer is slow to come
    out.dataset.ask = String(ask);
    try {
      const result = await work(shown());
      if (mine === drawing) out.replaceChildren(...[result].flat());
    } finally {
      if (out.dataset.ask === String(ask)) out.removeAttribute('aria-busy');
    }
  }

  const loadCode = () => answer($('code'), stagedCode);

  function showTab(name) {
    for (const t of document.querySelectorAll('.tabs [role=tab]')) {
      const on = t.dataset.tab === name;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(`tab-${t.dataset.tab}`).hidden = !on;
    }
    if (name === 'code') loadCode();
  }

  function showNudgeIndex() {
    const n = shown()?.circuit.nodes.find((x) => x.kind === 'input' && x.name === $('nudge-input').value);
    $('nudge-index-label').hidden = !n?.shape.length;
  }

  /** The nudge tool offers every input with a gradient: numbers, and elements of tensors. */
  function syncNudge() {
    const { circuit } = shown();
    const sel = $('nudge-input');
    const inputs = circuit.nodes.filter((n) => n.kind === 'input' && n.name
      && circuit.gradients[n.name] !== null && n.shape.length <= 2);
    const keep = sel.value;
    sel.replaceChildren(...inputs.map((n) => el('option', { value: n.name },
      n.shape.length ? `${n.name} (${fmtShape(n.shape)})` : n.name)));
    if (!inputs.length) sel.append(el('option', { value: '' }, 'no input'));
    sel.disabled = $('nudge').disabled = !inputs.length;
    if (inputs.some((n) => n.name === keep)) sel.value = keep;
    showNudgeIndex();
  }

  function runNudge() {
    const index = $('nudge-index-label').hidden ? []
      : $('nudge-index').value.split(/[\s,]+/).filter(Boolean).map(Number);
    return answer($('nudge-result'), (now) => nudge(now, $('nudge-input').value,
      Number($('nudge-h').value), precision(), index));
  }

  $('nudge').addEventListener('click', runNudge);
  $('nudge-input').addEventListener('change', showNudgeIndex);
  // One check at a time: the button is busy while its answer is on the way.
  $('check').addEventListener('click', async () => {
    if (isBusy($('check'))) return;
    setBusy($('check'), true);
    $('check-result').textContent = 'checking…';
    try {
      await answer($('check-result'), (now) => check(now, precision()));
    } finally {
      setBusy($('check'), false);
    }
  });
  // The tab strip, as the ARIA tabs pattern has it: one tab in the Tab order, the arrow keys,
  // Home and End move between tabs (and show each).
  const tabs = [...document.querySelectorAll('.tabs [role=tab]')];
  const KEYS = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
  for (const t of tabs) {
    t.addEventListener('click', () => showTab(t.dataset.tab));
    t.addEventListener('keydown', (e) => {
      const step = KEYS[e.key];
      if (step === undefined) return;
      e.preventDefault();
      const i = tabs.indexOf(t);
      const next = Number.isFinite(step) ? tabs[(i + step + tabs.length) % tabs.length]
        : tabs[step > 0 ? tabs.length - 1 : 0];
      showTab(next.dataset.tab);
      next.focus();
    });
  }
  $('copy-code').addEventListener('click', () => copyText($('code').textContent, $('copy-status')));
  $('copy-link').addEventListener('click', () => copyText(location.href, $('step-status')));
  $('download-svg').addEventListener('click', () => {
    download(new Blob([exportSvg(svg)], { type: 'image/svg+xml' }), 'circuit.svg');
  });
  $('download-png').addEventListener('click', async () => {
    try {
      download(await exportPng(svg), 'circuit.png');
    } catch (err) {
      $('step-status').textContent = err.message;
    }
  });
  $('copy-image').addEventListener('click', async () => {
    try {
      const blob = await exportPng(svg);
      await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
      $('step-status').textContent = 'image copied';
    } catch {
      $('step-status').textContent = 'the clipboard refused the image: use PNG ↓ instead';
    }
  });

  return {
    showTab,
    /** After a drawing: the nudge choices follow the circuit, earlier results go. */
    update() {
      drawing++;
      syncNudge();
      if (!$('tab-code').hidden) loadCode();
      $('check-result').replaceChildren();
      $('nudge-result').replaceChildren();
    },
    /** Nudge element `index` of input `name` (from the heat map). */
    nudgeAt(name, index) {
      showTab('nudge');
      $('nudge-input').value = name;
      showNudgeIndex();
      $('nudge-index').value = index.join(', ');
      runNudge();
    },
  };
}
