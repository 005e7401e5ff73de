/** The two DOM helpers every page module uses. @module dom */

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A new HTML element with properties and children: el('p', {className: 'hint'}, 'text'). */
export function el(tag, props = {}, ...kids) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
}

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
