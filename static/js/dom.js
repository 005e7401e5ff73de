/** The DOM helpers the page modules share. @module dom */

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A new HTML element with properties and children: el('p', {className: 'hint'}, 'text'). */
export function el(tag, props = {}, ...kids) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
}

/**
 * Mark `button` busy (its work on the way) or not. A busy button says it is unavailable
 * (aria-disabled, drawn as disabled) and its click handler returns at once while `isBusy`; it is
 * not `disabled`, which would take the keyboard focus from it mid-press.
 */
export function setBusy(button, on) {
  if (on) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
}

/** Whether `button` is busy (setBusy): a click on it is ignored. */
export const isBusy = (button) => button.getAttribute('aria-disabled') === 'true';

/**
 * A text field over `anchor` (an element inside the positioned, scrolling `box`), holding
 * `initial`. Resolves to the text typed when Enter is pressed or the field is left, or to null
 * after Escape.
 */
export function editInPlace(box, anchor, initial, label) {
  const r = anchor.getBoundingClientRect();
  const b = box.getBoundingClientRect();
  const input = el('input', { type: 'number', step: 'any', className: 'wire-edit', value: initial });
  input.setAttribute('aria-label', label);
  Object.assign(input.style, {
    left: `${r.left - b.left + box.scrollLeft - 4}px`, top: `${r.top - b.top + box.scrollTop - 4}px`,
  });
  return new Promise((resolve) => {
    const finish = (text) => {
      input.remove();
      resolve(text);
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') input.blur();
      if (e.key === 'Escape') {
        input.value = '';
        input.blur();
      }
    });
    // what was typed; '' for text that is not a number (the field cannot hold it); null: left
    input.addEventListener('blur', () => finish(input.validity.badInput ? '' : input.value.trim() || null),
      { once: true });
    box.append(input);
    input.focus();
    input.select();
  });
}
