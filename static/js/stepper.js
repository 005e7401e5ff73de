/**
 * Step-through of the forward and backward passes: one step per gate forward, the seed, one step
 * per gate backward (layout.js stepPlan numbers them). Forward, back, play at a speed, pause,
 * from the page's toolbar (#play, #pause, #step, #step-back, #speed, #show-all; #step-status).
 *
 *   const s = createStepper(svg, {onStep(activeGateId | undefined)}); // called on every step
 *   s.plan = plan (after each redraw); s.step; s.set(k | null); s.by(±1); s.play(); s.pause();
 *   s.restart(k | null) (a new circuit is on its way: step k waits for its plan);
 *   s.speed = ms per step
 * @module stepper
 */
import { applyStep } from './circuit.js';
import { $ } from './dom.js';

/** What a step shows, in words. */
export function stepStatus(plan, step) {
  if (!plan || step === null) return '';
  const g = plan.gates.length;
  if (step === 0) return 'inputs set';
  if (step <= g) return `forward pass: gate ${step} of ${g}`;
  if (step === plan.seed) return `backward pass: ${plan.from}`;
  return `backward pass: gate ${step - plan.seed} of ${g}`;
}

export function createStepper(svg, { onStep = () => {} } = {}) {
  const status = $('step-status');
  let plan = null;
  let step = null;
  let timer = null;
  const s = {
    speed: 700,
    get step() {
      return step;
    },
    get plan() {
      return plan;
    },
    /** A new drawing: the step stays where it was, within the new plan. */
    set plan(p) {
      plan = p;
      if (step !== null) step = Math.min(step, p.total);
      s.set(step);
    },
    set(k) {
      step = k;
      if (!plan) return;
      applyStep(svg, plan, k);
      status.textContent = stepStatus(plan, k);
      if (k === null) delete svg.dataset.step;
      else svg.dataset.step = String(k);
      onStep(svg.querySelector('g.gate.active')?.dataset.node);
    },
    /** A new circuit: the drawing on show is shown whole, and step k waits for its plan. */
    restart(k) {
      if (plan) applyStep(svg, plan, null);
      plan = null;
      step = k;
      status.textContent = '';
      delete svg.dataset.step;
    },
    by(d) {
      if (!plan) return;
      if (d > 0) s.set(step === null || step >= plan.total ? 0 : step + 1);
      else s.set(step === null ? plan.total : Math.max(0, step - 1));
    },
    play() {
      s.pause();
      if (!plan) return;
      if (step === null || step >= plan.total) s.set(0);
      timer = setInterval(() => (step >= plan.total ? s.pause() : s.set(step + 1)), s.speed);
    },
    pause() {
      clearInterval(timer);
      timer = null;
    },
    get playing() {
      return timer !== null;
    },
  };
  $('play').addEventListener('click', s.play);
  $('pause').addEventListener('click', s.pause);
  $('step').addEventListener('click', () => {
    s.pause();
    s.by(1);
  });
  $('step-back').addEventListener('click', () => {
    s.pause();
    s.by(-1);
  });
  $('speed').addEventListener('change', (e) => {
    s.speed = Number(e.target.value) || 700;
    if (s.playing) s.play();
  });
  $('show-all').addEventListener('click', () => {
    s.pause();
    s.set(null);
  });
  return s;
}
