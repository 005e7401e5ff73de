/**
 * The HTTP contract (README, "The REST API"), and nothing else: one function per route.
 * Every failure becomes an ApiError carrying the problem+json fields (position included).
 * The server counts places in the text in characters (code points, as Python does); here, as
 * an answer arrives, each becomes the index into the JavaScript string that was sent.
 * @module api
 */

export class ApiError extends Error {
  /**
   * @param {{title?: string, detail?: string, status?: number, position?: {start: number, end: number},
   *   hint?: string, missing?: string[], errors?: {loc: Array<string|number>, msg: string}[],
   *   transient?: boolean}} problem
   */
  constructor(problem) {
    super(problem.detail || problem.title || 'request failed');
    this.title = problem.title || 'Error';
    this.status = problem.status ?? 0;
    this.position = problem.position || null;
    this.hint = problem.hint || null;
    this.missing = Array.isArray(problem.missing) ? problem.missing : []; // inputs without a value
    this.errors = Array.isArray(problem.errors) ? problem.errors : []; // a 422's places and messages
    this.transient = Boolean(problem.transient); // no answer, or a busy server: the same request may work later
  }
}

/** The problem type of the server's "busy, try again in a moment" (app/problems.py). */
const BUSY = 'urn:chainrule:problem:busy';

async function call(method, path, body, signal) {
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    throw unreachable(err, path);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  indexed(data, stringIndex(body?.expression ?? body?.code ?? ''));
  if (!res.ok || data === null) throw refused(res, data, path);
  return data;
}

/**
 * A function from a place in `text` as the server counts it, in characters (code points), to
 * its index in the string, which counts UTF-16 units: two for a character beyond the Basic
 * Multilingual Plane, as an emoji is. A place that is not a number stays as it is.
 */
export function stringIndex(text) {
  const src = String(text);
  if (!/[\uD800-\uDBFF]/.test(src)) return (k) => k;
  const at = []; // at[k]: where character k starts
  for (let i = 0; i < src.length; i += src.codePointAt(i) > 0xffff ? 2 : 1) at.push(i);
  at.push(src.length);
  return (k) => (Number.isInteger(k) ? at[Math.max(0, Math.min(k, at.length - 1))] : k);
}

/**
 * The places in an answer, rewritten by `at` (stringIndex): an error's position, the spans of a
 * circuit's nodes and of a backward check's lines, and where the backward pass starts.
 */
function indexed(data, at) {
  if (!data || typeof data !== 'object') return;
  const { position } = data;
  if (position && typeof position === 'object') {
    data.position = { ...position, start: at(position.start), end: at(position.end) };
  }
  if ('forward_end' in data) data.forward_end = at(data.forward_end);
  for (const part of [data.nodes, data.lines].filter(Array.isArray).flat()) {
    if (Array.isArray(part?.span)) part.span = part.span.map(at);
  }
}

/** A request that got no answer (the network, or a server gone): an abort stays an abort. */
function unreachable(err, path) {
  if (err.name === 'AbortError') return err;
  return new ApiError({ title: 'Network error', detail: `Could not reach the server (${path}).`, transient: true });
}

/** The error of a request the server refused: its problem document (whatever of it there is). */
function refused(res, data, path) {
  const problem = data && typeof data === 'object' ? data : {};
  // Worth asking again: the server said it is busy, or a 502/503/504 came without a problem
  // document (a proxy in front of a server overloaded or not there). A 503 that names another
  // problem (the time limit, a worker lost) would come back the same: it is shown as it is.
  const proxied = !res.headers.get('content-type')?.startsWith('application/problem+json');
  const busy = problem.type === BUSY || (proxied && [502, 503, 504].includes(res.status));
  const said = { title: `HTTP ${res.status}`, detail: `The server answered ${res.status} to ${path}.` };
  if (busy) Object.assign(said, { title: 'Server busy', detail: 'The server is too busy to answer just now.' });
  return new ApiError({
    ...problem,
    status: res.status,
    transient: busy,
    title: problem.title || said.title,
    detail: typeof problem.detail === 'string' ? problem.detail
      : problem.detail ? JSON.stringify(problem.detail) : said.detail,
  });
}

/** @returns {Promise<Array<{id, title, expression, values, expand, notes}>>} */
export const getPresets = () => call('GET', '/api/presets');
/** @returns {Promise<Array<{op, label, arity, formula, pattern}>>} */
export const getOps = () => call('GET', '/api/ops');
/** Body {expression, values, expand} -> the circuit with values and gradients on every wire. */
export const postCircuit = (body, signal) => call('POST', '/api/circuit', body, signal);
/**
 * Body {code, values}: a forward pass and a hand-written backward pass -> {output, value, passed,
 * first_wrong, lines: [{line, name, of, ok, status, got, expected, message, span, given}], gradients,
 * forward_end, warnings}.
 */
export const postBackwardCheck = (body, signal) => call('POST', '/api/backward-check', body, signal);
/** Same body plus optional h -> {h, passed, inputs: {name: {analytic, numeric, rel_error}}}. */
export const postGradcheck = (body) => call('POST', '/api/gradcheck', body);
/** Same body -> {forward, backward, source}: the staged Python code. */
export const postCode = (body) => call('POST', '/api/code', body);
/** Body {depth, width, activation, init, scale, batch, residual, seed} -> {loss, layers, saturation, warnings}. */
export const postGradientFlow = (body, signal) => call('POST', '/api/labs/gradient-flow', body, signal);
/** Body {w_range, b_range, grid, start, lr, iterations, threshold} -> {surface, unclipped, clipped, wall}. */
export const postCliff = (body, signal) => call('POST', '/api/labs/cliff', body, signal);
/** Body {expression, values, params, lr, steps, tol, expand} -> {stopped, steps, final, loss}. */
export const postDescent = (body, signal) => call('POST', '/api/descent', body, signal);

/** A training lab data set as a run with `seed` trains on it -> {dataset, train_size, test_size, features, classes, points}. */
export const getDataset = (name, seed, signal) => call(
  'GET', `/api/labs/datasets/${encodeURIComponent(name)}?seed=${encodeURIComponent(seed)}`, null, signal);

/**
 * Body {dataset, hidden, activation, bias, init, lr, reg, batch, epochs, seed}: the training
 * stream. Calls onLine(object) for every NDJSON line as it arrives; resolves when it ends.
 */
export async function streamTrain(body, signal, onLine) {
  let res;
  try {
    res = await fetch('/api/labs/train', {
      method: 'POST', signal, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
  } catch (err) {
    throw unreachable(err, '/api/labs/train');
  }
  if (!res.ok) throw refused(res, await res.json().catch(() => null), '/api/labs/train');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    let value;
    let done;
    try {
      ({ value, done } = await reader.read()); // fails when the connection breaks mid-stream
    } catch (err) {
      throw unreachable(err, '/api/labs/train');
    }
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let cut;
    while ((cut = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 1);
      if (line) onLine(JSON.parse(line));
    }
    if (done) return;
  }
}
