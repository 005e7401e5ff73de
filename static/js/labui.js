/**
 * What the lab pages share: the fields' limits from the server's schema, the error box, a
 * refused field named by its label and marked invalid, and putting a chart in its box.
 * @module labui
 */

import { ApiError } from './api.js';
import { number, tick, toNumber } from './format.js';

/** The schema's messages in plain words, first match wins. */
const PLAIN = [
  [/^Input should be greater than or equal to (.+)$/, 'must be at least $1'],
  [/^Input should be less than or equal to (.+)$/, 'must be at most $1'],
  [/^Input should be a valid integer.*$/, 'must be a whole number'],
  [/^Input should be a (valid )?number.*$/, 'must be a number'],
  [/^Input should be (.+)$/, 'must be $1'],
];

/** A schema message in plain words: "Input should be greater than 0" -> "must be greater than 0". */
export function plainMessage(msg) {
  const rule = PLAIN.find(([re]) => re.test(msg));
  return rule ? msg.replace(rule[0], rule[1]) : msg;
}

/** A field's name as its label shows it: the label's own words, without a note in brackets. */
function labelOf(input) {
  const label = input.closest('label');
  const words = label ? [...label.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE)
    .map((n) => n.textContent).join(' ') : '';
  return words.replace(/\(.*?\)/g, ' ').replace(/\s+/g, ' ').trim() || input.name;
}

/**
 * An error about one field, shown as "label: problem" (after `where`, when the page has two
 * fields of that label); showing it marks the field invalid until its value is valid.
 */
export function fieldError(input, problem, where = '') {
  const err = new ApiError({ title: (where ? `${where}, ` : '') + labelOf(input), detail: problem });
  err.field = input;
  return err;
}

/**
 * What is wrong with number field `input`, as the page can judge it, or null: it must hold a
 * number, within its min (above it, when the field has data-min-exclusive) and max, and a whole
 * number when its step is 1. The page judges no other field.
 */
export function problemOf(input) {
  if (input.type !== 'number') return null;
  const text = input.value.trim();
  const x = Number(text);
  if (text === '' || !Number.isFinite(x)) return 'must be a number';
  if (input.min !== '') {
    const open = input.hasAttribute('data-min-exclusive');
    if (open && x <= Number(input.min)) return `must be greater than ${input.min}`;
    if (!open && x < Number(input.min)) return `must be at least ${input.min}`;
  }
  if (input.max !== '' && x > Number(input.max)) return `must be at most ${input.max}`;
  if (input.step === '1' && !Number.isInteger(x)) return 'must be a whole number';
  return null;
}

let schemas = null; // the request schemas of /openapi.json, read once

/**
 * Give number fields the limits the server puts on them in its request schema `name` of
 * /openapi.json: `fields` maps a place in the body ("lr", "start.0") to its input, as for
 * aboutField. A field's min and max are the schema's (the min excluded, data-min-exclusive,
 * where the schema writes gt: lr > 0), its step 1 where the schema wants a whole number, and a
 * limit the schema does not set the field does not have. The page's forms write no limits of
 * their own. Returns the schema, or undefined when it could not be read: then the fields keep
 * no limits and the server's refusal names the field.
 */
export async function limitsFromSchema(name, fields) {
  schemas ??= fetch('/openapi.json').then((r) => r.json()).then((spec) => spec.components.schemas)
    .catch(() => ({}));
  const schema = (await schemas)[name];
  const places = Object.entries(schema?.properties ?? {}).flatMap(([key, prop]) => (prop.prefixItems
    ? prop.prefixItems.map((item, i) => [`${key}.${i}`, item]) : [[key, prop]]));
  for (const [place, prop] of places) {
    const input = fields[place];
    if (input?.type !== 'number') continue;
    const atLeast = prop.minimum ?? prop.ge;
    const above = prop.exclusiveMinimum ?? prop.gt;
    const set = (attr, v) => (v === undefined ? input.removeAttribute(attr)
      : input.setAttribute(attr, String(v)));
    set('min', atLeast ?? above);
    set('max', prop.maximum ?? prop.le);
    input.toggleAttribute('data-min-exclusive', atLeast === undefined && above !== undefined);
    input.step = prop.type === 'integer' ? '1' : 'any';
  }
  return schema;
}

/** The number in `input`; a fieldError when it holds none. */
export function numberOf(input, where = '') {
  const text = input.value.trim();
  const x = Number(text);
  if (text === '' || !Number.isFinite(x)) throw fieldError(input, 'must be a number', where);
  return x;
}

/**
 * A refused request as an error about the field it names: `fields` maps a place in the body
 * ("lr", "start.0") to its input. A limit on several fields at once (the whole body's "Value
 * error, ...") is said in its own words, after `where` or "These settings". Anything else comes
 * back as it is.
 */
export function aboutField(err, fields, where = '') {
  for (const e of err instanceof ApiError ? err.errors : []) {
    const place = (e.loc || []).slice(e.loc?.[0] === 'body' ? 1 : 0).join('.');
    const input = place && fields[place];
    if (input) return fieldError(input, plainMessage(String(e.msg)), where);
    const whole = !place && /^Value error, (.+)$/s.exec(String(e.msg));
    if (whole) return new ApiError({ title: where || 'These settings', detail: whole[1] });
  }
  return err;
}

const judges = new WeakMap(); // a marked field -> what judges it again after a change

/**
 * Show `err` in the error box `id` (an ApiError with its title, its field marked); null hides it.
 * A field is marked only while the box shows its error. The field stays marked while it is
 * edited or filled (see fill), until problemOf finds its value valid: then the mark and the
 * message go.
 */
export function showError(err, id = 'lab-error') {
  const box = document.getElementById(id);
  const before = box.error?.field;
  if (before) {
    before.removeEventListener('input', judges.get(before));
    judges.delete(before);
    before.removeAttribute('aria-invalid');
  }
  box.hidden = !err;
  box.error = err;
  if (!err) return;
  const title = err instanceof ApiError ? `${err.title}: ` : '';
  box.querySelector('.message').textContent = title + (err.message || String(err));
  const input = err.field;
  if (!input) return;
  input.setAttribute('aria-invalid', 'true');
  const judge = () => {
    if (!problemOf(input)) showError(null, id);
  };
  judges.set(input, judge);
  input.addEventListener('input', judge);
}

/**
 * Put `value` in field `input` as the page's own presets and links do (a checkbox's is checked
 * or not): a field marked invalid is judged again, as when it is typed in.
 */
export function fill(input, value) {
  if (input.type === 'checkbox') input.checked = Boolean(value);
  else input.value = String(value);
  judges.get(input)?.();
}

/**
 * Replace the contents of the chart box `id` with `nodes` (one or a list) and a `note` under them,
 * if any; mark the box ready (tests wait on it) and no longer showing an earlier run.
 */
export function putChart(id, nodes, note = '') {
  const box = document.getElementById(id);
  box.replaceChildren(...[nodes].flat());
  if (note) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = note;
    box.append(p);
  }
  box.dataset.state = 'ready';
  box.classList.remove('stale');
}

/**
 * A log y scale for `values`, with its grid and axis, every tick labelled by format.tick: whole
 * decades when the values span one or more, round steps (0.7, 0.8, 0.9, 1) when they span less,
 * always with a labelled tick at or above the largest value and at or below the smallest.
 * Plot's own log labels leave some ticks blank and write 0.7 as 700m.
 */
export function logY(values, label) {
  const { d3, Plot } = window;
  let [lo, hi] = d3.extent(values.filter((v) => v > 0 && Number.isFinite(v)));
  if (lo === undefined) return { y: { type: 'log', label }, marks: [] };
  if (lo === hi) [lo, hi] = [lo * 0.9, hi * 1.1];
  let [domain, ticks] = [d3.nice(lo, hi, 4), null];
  if (hi / lo < 10 && domain[0] > 0) ticks = d3.ticks(domain[0], domain[1], 4);
  else {
    const a = Math.floor(Math.log10(lo));
    const every = Math.ceil((Math.ceil(Math.log10(hi)) - a) / 6);
    const b = a + every * Math.ceil((Math.ceil(Math.log10(hi)) - a) / every);
    ticks = d3.range(a, b + 1, every).map((e) => 10 ** e);
    domain = [10 ** a, 10 ** b];
  }
  return { y: { type: 'log', label, domain },
    marks: [Plot.gridY(ticks), Plot.axisY(ticks, { text: tick })] };
}

/**
 * The ratio of two reported numbers named `aName` and `bName`: "layer 1 / layer 10 = 1e-4", or
 * where there is none, why in words: "layer 1 / layer 10: no ratio, layer 1’s is 0". A quotient
 * beyond float64 is given by its power of ten: "= about 1e-400".
 */
export function ratioText(a, b, aName, bName) {
  const [x, y] = [toNumber(a), toNumber(b)];
  const ok = (v) => Number.isFinite(v) && v > 0;
  const head = `${aName} / ${bName}`;
  if (ok(x) && ok(y)) {
    const r = x / y;
    return r > 0 && Number.isFinite(r) ? `${head} = ${number(r)}`
      : `${head} = about 1e${Math.round(Math.log10(x) - Math.log10(y))}`;
  }
  const what = (v) => (Number.isNaN(v) ? 'NaN' : v === 0 ? '0' : number(v));
  if (!ok(x) && !ok(y) && what(x) === what(y)) return `${head}: no ratio, both are ${what(x)}`;
  const bad = [[aName, x], [bName, y]].filter(([, v]) => !ok(v));
  return `${head}: no ratio, ${bad.map(([name, v]) => `${name}’s is ${what(v)}`).join(' and ')}`;
}

/** Whole numbers in ascending order as runs: [1, 2, 3, 5] -> "1–3, 5". */
export function runs(ks) {
  const parts = [];
  for (const k of ks) {
    const last = parts.at(-1);
    if (last && k === last[1] + 1) last[1] = k;
    else parts.push([k, k]);
  }
  return parts.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ');
}
