/** The two DOM helpers every page module uses. @module dom */

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A new HTML element with properties and children: el('p', {className: 'hint'}, 'text'). */
export function el(tag, props = {}, ...kids) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
}
