import test from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, postCircuit, streamTrain } from '../../static/js/api.js';

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

test("a problem document keeps its words; a refusal of the request is not one to try again", async () => {
  const problem = (status, title, detail) => () => new Response(JSON.stringify({ title, status, detail }),
    { status, headers: { 'content-type': 'application/problem+json' } });
  const busy = await serving(problem(503, 'Service Unavailable', 'all workers are busy'), () => refusal(() => postCircuit({})));
  assert.equal(`${busy.title}: ${busy.message}`, 'Service Unavailable: all workers are busy');
  assert.equal(busy.transient, true);
  const bad = await serving(problem(400, 'Syntax error', 'unexpected end'), () => refusal(() => postCircuit({})));
  assert.equal(`${bad.title}: ${bad.message}`, 'Syntax error: unexpected end');
  assert.equal(bad.transient, false);
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
