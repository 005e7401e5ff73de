/**
 * What the lab pages share: the error box (#lab-error) and putting a chart in its box.
 * @module labui
 */

import { ApiError } from './api.js';

/** Show `err` in the page's #lab-error box (an ApiError with its title); null hides it. */
export function showError(err) {
  const box = document.getElementById('lab-error');
  box.hidden = !err;
  if (err) {
    const title = err instanceof ApiError ? `${err.title}: ` : '';
    box.querySelector('.message').textContent = title + (err.message || String(err));
  }
}

/** Replace the contents of the chart box `id` with `node` and mark it ready (tests wait on it). */
export function putChart(id, node) {
  const box = document.getElementById(id);
  box.replaceChildren(node);
  box.dataset.state = 'ready';
}
