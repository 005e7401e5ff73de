import test from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, postBackwardCheck, postCircuit, stringIndex, streamTrain } from '../../static/js/api.js';

/** Answer every request with `respond()` (a Response, or a throw) for the length of `work`. */
async function serving(respond, work) {
  const real = globalThis.fetch;
  globalThis.fetch = async () => respond();
  try {
    return await work();
  } finally {
    globalThis.fetch = real;
  }
}

const refusal = (work) => work().then(() => assert.fail('no error'), (err) => err);

test('no answer at all is a network error the page may try again', async () => {
  const err = await serving(() => { throw new TypeError('Failed to fetch'); },
    () => refusal(() => postCircuit({})));
  assert.ok(err instanceof ApiError);
  assert.equal(`${err.title}: ${err.message}`, 'Network error: Could not reach the server (/api/circuit).');
  assert.equal(err.transient, true);
});

test('a bare 503 says the server is busy, in words, and may be tried again', async () => {
  const err = await serving(() => new Response('Service Unavailable', { status: 503, headers: { 'content-type': 'text/plain' } }),
    () => refusal(() => postCircuit({})));
  assert.equal(`${err.title}: ${err.message}`, 'Server busy: The server is too busy to answer just now.');
  assert.equal(err.transient, true);
});

test('a problem document keeps its words; only the server\'s "busy" is one to try again', async () => {
  const problem = (status, type, title, detail) => () => new Response(JSON.stringify({ type, title, status, detail }),
    { status, headers: { 'content-type': 'application/problem+json' } });
  const ask = (respond) => serving(respond, () => refusal(() => postCircuit({})));
  const busy = await ask(problem(503, 'urn:chainrule:problem:busy', 'Busy', 'The server is busy: no worker process came free within 5 s; try again in a moment.'));
  assert.equal(`${busy.title}: ${busy.message}`, 'Busy: The server is busy: no worker process came free within 5 s; try again in a moment.');
  assert.equal(busy.transient, true);
  // the same request would fail the same way: the page shows the server's words and waits for an edit
  const slow = await ask(problem(503, 'urn:chainrule:problem:time-limit', 'Time limit exceeded',
    'Computing this request took longer than 5 s; try a smaller expression or smaller values.'));
  assert.equal(`${slow.title}: ${slow.message}`,
    'Time limit exceeded: Computing this request took longer than 5 s; try a smaller expression or smaller values.');
  assert.equal(slow.transient, false);
  const lost = await ask(problem(503, 'urn:chainrule:problem:worker-lost', 'Computation stopped', 'its worker process ended'));
  assert.equal(`${lost.title}: ${lost.message}`, 'Computation stopped: its worker process ended');
  assert.equal(lost.transient, false);
  const other = await ask(problem(503, 'about:blank', 'Service Unavailable', 'something else'));
  assert.equal(other.transient, false);
  const bad = await ask(problem(400, 'urn:chainrule:problem:expression', 'Syntax error', 'unexpected end'));
  assert.equal(`${bad.title}: ${bad.message}`, 'Syntax error: unexpected end');
  assert.equal(bad.transient, false);
});

test('a bare 502 or 504 (a proxy with no server behind it) may be tried again', async () => {
  for (const status of [502, 504]) {
    const err = await serving(() => new Response('<html>Bad Gateway</html>', { status, headers: { 'content-type': 'text/html' } }),
      () => refusal(() => postCircuit({})));
    assert.equal(`${err.title}: ${err.message}`, 'Server busy: The server is too busy to answer just now.');
    assert.equal(err.transient, true);
  }
});

test('a training stream that breaks off is a network error, after the lines that came', async () => {
  const lines = [{ start: true, epochs: 10 }, { epoch: 1 }, { epoch: 2 }];
  let sent = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (sent < lines.length) controller.enqueue(new TextEncoder().encode(`${JSON.stringify(lines[sent++])}\n`));
      else controller.error(new TypeError('network error')); // the connection dropped
    },
  });
  const seen = [];
  const err = await serving(() => new Response(body, { status: 200 }),
    () => refusal(() => streamTrain({}, undefined, (line) => seen.push(line))));
  assert.deepEqual(seen, lines);
  assert.equal(`${err.title}: ${err.message}`, 'Network error: Could not reach the server (/api/labs/train).');
});

test('an abort stays an abort, whether before the answer or in the stream', async () => {
  const abort = () => { throw new DOMException('stopped', 'AbortError'); };
  const before = await serving(abort, () => refusal(() => postCircuit({})));
  assert.equal(before.name, 'AbortError');
  const body = new ReadableStream({ pull: abort });
  const during = await serving(() => new Response(body), () => refusal(() => streamTrain({}, undefined, () => {})));
  assert.equal(during.name, 'AbortError');
});

test('a place the server counts in characters is the string index of that character', () => {
  const text = '# 🌟🌟 é\nx = 3';
  const at = stringIndex(text);
  // Python counts each emoji as one character, JavaScript as two UTF-16 units
  assert.equal(at(2), 2);
  assert.equal(at(3), 4);
  assert.equal(at(6), text.indexOf('\n'));
  assert.equal(at(7), text.indexOf('x'));
  assert.equal(at([...text].length), text.length);
  assert.equal(at(null), null);
  assert.equal(stringIndex('(x + y) * z')(4), 4); // no such characters: the same numbers
});

test('every place in an answer arrives as a string index into the text sent', async () => {
  const code = '# 🌟\nx = 2\nf = x * x\ndx = 2 * x';
  const sent = (body) => () => new Response(JSON.stringify(body), { status: 200 });
  const report = await serving(sent({ forward_end: 20, lines: [{ line: 4, span: [20, 30] }] }),
    () => postBackwardCheck({ code, values: {} }));
  assert.equal(code.slice(0, report.forward_end), '# 🌟\nx = 2\nf = x * x\n');
  assert.equal(code.slice(...report.lines[0].span), 'dx = 2 * x');
  const circuit = await serving(sent({ nodes: [{ id: 0, span: null }, { id: 1, span: [14, 19] }] }),
    () => postCircuit({ expression: code.slice(0, 21), values: {} }));
  assert.deepEqual(circuit.nodes.map((n) => n.span && code.slice(...n.span)), [null, 'x * x']);
  const err = await serving(() => new Response(JSON.stringify({ status: 400, detail: 'no', position: { start: 12, end: 13 } }),
    { status: 400, headers: { 'content-type': 'application/problem+json' } }),
  () => refusal(() => postCircuit({ expression: code, values: {} })));
  assert.equal(code.slice(err.position.start, err.position.end), '=');
});
