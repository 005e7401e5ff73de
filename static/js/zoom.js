/**
 * Zoom and pan of the circuit inside its scrolling box. The automatic zoom never goes below
 * 100 % (the drawing's 12 px text stays 12 px): a big circuit scrolls and pans instead of
 * shrinking, and opens on its output's end (the result, where the backward pass starts).
 * Buttons, Ctrl+wheel and pinch zoom; dragging the background pans; "fit" shows the whole
 * drawing, however small that makes it (the user asked for it), and zooming out goes as far;
 * "auto" (#zoom-reset, pressed while the zoom is automatic) goes back to the automatic zoom.
 * Presentation mode shows the circuit alone, full screen, as large as the screen allows. The
 * page's toolbar (#zoom-in, #zoom-out, #fit, #zoom-reset, #zoom-level, #present) is wired here.
 *
 *   const z = zoomView(box, svg);
 *   z.update({keep})   after a redraw: keep = same program, so the zoom stays where it was
 *   z.forget()         a new program: the user's zoom goes
 * @module zoom
 */
import { $ } from './dom.js';

const MAX_AUTO = 1.6; // small circuits are drawn larger, up to this
const MIN = 0.1; // zooming out stops here, or where the whole drawing shows if that is smaller
const MAX = 6;
const OVERVIEW = 0.25; // below this the lines keep their width on screen, or they would vanish

export function zoomView(box, svg) {
  let manual = null; // a zoom the user chose; null: automatic
  let current = 1;

  const size = () => (svg.getAttribute('viewBox') || '0 0 0 0').split(' ').map(Number).slice(2);
  const room = () => {
    const cs = getComputedStyle(box);
    return [box.clientWidth - parseFloat(cs.paddingLeft) * 2, box.clientHeight - parseFloat(cs.paddingTop) * 2];
  };

  /** The zoom at which the whole drawing fits the box. */
  function whole() {
    const [w, h] = size();
    const [rw, rh] = room();
    return w ? Math.min(rw / w, rh / h) : Infinity;
  }

  /** `z` within the limits: from MIN (or less, down to the whole drawing) to MAX. */
  const limit = (z) => Math.min(MAX, Math.max(Math.min(MIN, whole()), z));

  function apply(z) {
    const [w, h] = size();
    if (!w) return;
    current = limit(z);
    // Set only when it changes: the same size set again lays out the whole drawing again.
    for (const [name, px] of [['width', w], ['height', h]]) {
      const v = String(Math.round(px * current));
      if (svg.getAttribute(name) !== v) svg.setAttribute(name, v);
    }
    svg.classList.toggle('overview', current < OVERVIEW);
    svg.dataset.zoom = current.toFixed(3);
    $('zoom-level').textContent = `${Math.round(current * 100)} %`;
    $('zoom-reset').setAttribute('aria-pressed', String(manual === null));
  }

  /** The automatic zoom: fill the width up to MAX_AUTO, never below 1. */
  function auto() {
    const [w] = size();
    return w ? Math.min(MAX_AUTO, Math.max(1, room()[0] / w)) : 1;
  }

  /** Zoom by `f` keeping the point (cx, cy) of the box (default its centre) where it is. */
  function by(f, cx = box.clientWidth / 2, cy = box.clientHeight / 2) {
    const old = current;
    const sx = (box.scrollLeft + cx) / old;
    const sy = (box.scrollTop + cy) / old;
    manual = limit(old * f);
    apply(manual);
    box.scrollLeft = sx * current - cx;
    box.scrollTop = sy * current - cy;
  }

  box.addEventListener('wheel', (e) => {
    if (!e.ctrlKey && !e.metaKey) return; // a plain wheel scrolls (pans) the box
    e.preventDefault();
    by(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.offsetX - box.scrollLeft, e.offsetY - box.scrollTop);
  }, { passive: false });

  let drag = null;
  box.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || e.target.closest('g.gate, .wire-hit, .fork')) return;
    drag = { x: e.clientX, y: e.clientY, left: box.scrollLeft, top: box.scrollTop };
  });
  window.addEventListener('pointermove', (e) => {
    if (!drag) return;
    box.scrollLeft = drag.left - (e.clientX - drag.x);
    box.scrollTop = drag.top - (e.clientY - drag.y);
  });
  window.addEventListener('pointerup', () => {
    drag = null;
  });

  /** The whole drawing in the box, up to `most` times its size. */
  function fit(most = MAX_AUTO) {
    if (!size()[0]) return;
    manual = Math.min(whole(), most);
    apply(manual);
  }

  /** The automatic zoom, on the output's end of a drawing bigger than the box. */
  function reset() {
    manual = null;
    apply(auto());
    const arrow = svg.querySelector('g.wire.out .arrow');
    if (!arrow) return;
    const a = arrow.getBoundingClientRect();
    const b = box.getBoundingClientRect();
    box.scrollLeft = box.scrollWidth;
    box.scrollTop += (a.top + a.bottom) / 2 - (b.top + b.bottom) / 2;
  }

  function present(on) {
    document.body.classList.toggle('presenting', on);
    $('present').setAttribute('aria-pressed', String(on));
    if (on && !document.fullscreenElement) document.documentElement.requestFullscreen?.().catch(() => {});
    if (!on && document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
    requestAnimationFrame(() => (on ? fit(3) : reset()));
  }
  const presenting = () => document.body.classList.contains('presenting');

  $('zoom-in').addEventListener('click', () => by(1.25));
  $('zoom-out').addEventListener('click', () => by(0.8));
  $('fit').addEventListener('click', () => fit());
  $('zoom-reset').addEventListener('click', reset);
  $('present').addEventListener('click', () => present(!presenting()));
  document.addEventListener('fullscreenchange', () => {
    if (!document.fullscreenElement && presenting()) present(false);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && presenting()) present(false);
  });

  return {
    /** After a redraw. `keep`: only values changed, so neither the zoom nor the scroll moves. */
    update({ keep = false } = {}) {
      if (!keep && manual === null) reset();
      else apply(manual ?? current);
    },
    /** Forget the user's zoom (a new program). */
    forget() {
      manual = null;
    },
  };
}
