"""The worker lane: jobs run in processes that are killed and replaced on the time limit, capped
in memory, and streams that stop when their consumer does. The jobs are functions of the
standard library and numpy: a worker process finds them by name."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import numpy as np
import pytest
from anyio.from_thread import start_blocking_portal
from helpers import gone

from app.lanes import POOL, STREAMS, run_in_worker, stream_in_worker
from app.problems import HANDLERS, NoWorker, TimeLimitExceeded, WorkerLost
from engine import ExpressionError


def wait_until(condition, seconds: float = 30) -> bool:
    end = time.monotonic() + seconds  # a bound against hanging, not a timing assertion
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def portal():
    with start_blocking_portal() as portal:
        yield portal


def call(portal, fn, *args, limit=30.0):
    return portal.call(lambda: run_in_worker(fn, *args, limit=limit))


def test_a_job_runs_in_another_process(portal):
    pid = call(portal, os.getpid)
    assert pid != os.getpid()
    assert call(portal, sum, [1, 2, 3]) == 6


def test_a_job_over_the_time_limit_is_killed_and_replaced(portal):
    async def both_busy():  # so that both workers are started and idle afterwards
        async with anyio.create_task_group() as tg:
            for _ in range(POOL.size):
                tg.start_soon(lambda: run_in_worker(time.sleep, 0.3, limit=30))

    portal.call(both_busy)
    before = set(POOL.pids())
    assert len(before) == POOL.size
    with pytest.raises(TimeLimitExceeded):
        call(portal, time.sleep, 60, limit=0.2)
    assert wait_until(lambda: sum(map(gone, before)) == 1), "the stopped worker still runs"
    assert call(portal, sum, [2, 3]) == 5  # a new worker answers
    assert wait_until(lambda: len(POOL.pids()) == POOL.size)


def test_a_job_that_finds_no_free_worker_within_its_limit_is_told_the_server_is_busy(portal):
    """Its time ran out waiting, not computing: 'try a smaller expression' would be wrong."""
    async def scenario():
        async with anyio.create_task_group() as tg:
            for _ in range(POOL.size):
                tg.start_soon(lambda: run_in_worker(time.sleep, 2, limit=30))
            await anyio.sleep(0.5)
            with pytest.raises(NoWorker):
                await run_in_worker(sum, [1, 2], limit=0.2)

    portal.call(scenario)
    answer = portal.call(HANDLERS[NoWorker], None, NoWorker(0.2))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    problem = json.loads(answer.body)
    assert problem["type"] == "urn:chainrule:problem:busy"
    assert problem["detail"] == ("The server is busy: no worker process came free within "
                                 "0.2 s; try again in a moment.")


def test_expression_errors_come_back_as_they_are(portal):
    with pytest.raises(ExpressionError, match="unknown"):
        call(portal, _raise_expression_error)


def _raise_expression_error():
    raise ExpressionError("unknown name")


def test_a_worker_cannot_take_more_memory_than_its_cap(portal):
    # 2 GiB of ones: over the 768 MiB cap, which turns it into a MemoryError in the worker
    with pytest.raises(ExpressionError, match="more memory"):
        call(portal, np.ones, 2**28)
    assert call(portal, sum, [1]) == 1


def test_a_worker_that_dies_is_replaced(portal):
    with pytest.raises(WorkerLost):
        call(portal, os._exit, 3)
    assert call(portal, sum, [4]) == 4


def test_a_stream_sends_items_as_they_come_from_a_process_that_stops_with_its_consumer(portal):
    async def first(n: int, limit=None):
        got = []
        stream = stream_in_worker(itertools.count, 0, limit=limit)
        async for item in stream:
            got.append(item)
            if len(got) == n:
                break
        await stream.aclose()
        return got

    pool = set(POOL.pids())
    assert portal.call(first, 5) == [0, 1, 2, 3, 4]
    assert not STREAMS  # the endless generator's own process was killed, not one of the pool
    assert pool <= set(POOL.pids())

    async def everything():
        return [item async for item in stream_in_worker(range, 3, limit=30)]

    assert portal.call(everything) == [0, 1, 2]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def ten_kilobytes(i: int) -> str:
    """A distinct program of about 10 KB: statements with long names."""
    names = [f"w{i}_{k}_" + "x" * 120 for k in range(100)]
    lines = [f"{names[0]} = x * 2"]
    for k in range(1, 100):
        line = f"{names[k]} = tanh({names[k - 1]}) * 1.5"
        if sum(map(len, lines)) + len(lines) + len(line) > 10_000:
            break
        lines.append(line)
    return "\n".join(lines)


def parse_many(first: int, count: int) -> dict:
    """In a worker: parse and expand `count` distinct programs as the API does."""
    from app.routers.api import LIMITS
    from engine import circuit

    before = rss()
    for i in range(first, first + count):
        circuit.compile_text(ten_kilobytes(i), True, LIMITS)
    return {"before": before, "after": rss(), "nodes": circuit._parsed_nodes,
            "programs": len(circuit._parsed)}


MB = 2**20


def test_the_parse_cache_of_a_worker_stays_bounded_after_1000_distinct_10_kb_programs(portal):
    from engine.circuit import PARSED_NODES

    assert len(ten_kilobytes(0)) > 9_500
    results = []

    async def run(first: int) -> None:
        results.append(await run_in_worker(parse_many, first, 500, limit=600))

    async def all_of_them() -> None:  # two workers, 500 programs each
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, 0)
            tg.start_soon(run, 500)

    portal.call(all_of_them)
    for r in results:
        assert r["nodes"] <= PARSED_NODES and r["programs"] < 500  # the oldest were dropped
        # the cache holds at most PARSED_NODES nodes: about 100 MB; the worker stays small
        assert r["after"] - r["before"] < 150 * MB and r["after"] < 400 * MB, r


def test_a_streamed_response_whose_client_leaves_stops_its_worker(portal):
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.get("/count")
    async def count() -> StreamingResponse:
        async def lines():
            async for n in stream_in_worker(_pid_then_count):
                yield f"{n}\n".encode()
        return StreamingResponse(lines(), media_type="application/x-ndjson")

    sent: list[bytes] = []
    gone_now = anyio.Event()

    async def receive():
        await gone_now.wait()  # the client goes away after three lines
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body":
            sent.append(message.get("body", b""))
            if len(sent) == 3:
                gone_now.set()

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
             "http_version": "1.1", "method": "GET", "path": "/count", "raw_path": b"/count",
             "query_string": b"", "root_path": "", "scheme": "http", "headers": [],
             "server": ("testserver", 80), "client": ("127.0.0.1", 1)}
    portal.call(app, scope, receive, send)
    pid = int(sent[0])
    assert [int(line) for line in sent[1:3]] == [0, 1]
    assert wait_until(lambda: gone(pid)), "the worker of a stream nobody reads still runs"


def _pid_then_count():
    yield os.getpid()
    yield from itertools.count()


def test_a_result_longer_than_a_pipe_holds_arrives_whole_under_uvloop():
    # uvloop's add_reader leaves the pipe non-blocking: the rest of a long message must still
    # be read (a 64 KB pipe holds the first part only)
    with start_blocking_portal(backend_options={"use_uvloop": True}) as portal:
        for size in (10, 200_000, 3_000_000):
            assert len(call(portal, bytes, size)) == size


def test_the_server_reads_half_a_message_and_goes_on_with_other_work_until_the_rest_comes(portal):
    import socket

    from app import lanes

    async def scenario():
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        worker = lanes._Worker.__new__(lanes._Worker)  # the server's end only
        worker.sock, worker._buffer = ours, bytearray()
        payload = os.urandom(100_000)
        frame = lanes._frame(("ok", payload))
        theirs.sendall(frame[:50_000])  # a worker that has written half of its answer
        receiving = asyncio.create_task(worker.receive(None))
        for _ in range(20):  # the event loop goes round: nothing waits for the other half
            await asyncio.sleep(0)
        half = receiving.done()
        theirs.sendall(frame[50_000:])
        message = await receiving
        ours.close()
        theirs.close()
        return half, message == ("ok", payload)

    assert portal.call(scenario) == (False, True)


# A worker whose server closes its end: before the worker has said it is ready, and halfway
# through a stream of items.
_GONE = {
    "before it starts": "a, b = socket.socketpair(); b.close()",
    "during a stream": (
        "a, b = socket.socketpair()\n"
        "def server():\n"
        "    lanes._read(b)\n"  # the worker's process id
        "    b.sendall(lanes._frame((itertools.repeat, (1.0,), True)))\n"
        "    lanes._read(b); b.close()\n"  # one item, then gone
        "threading.Thread(target=server).start()"),
}


@pytest.mark.parametrize("when", list(_GONE))
def test_a_worker_whose_server_is_gone_ends_quietly(when):
    code = (f"import itertools, socket, threading\nfrom app import lanes\n{_GONE[when]}\n"
            "lanes._serve(a, 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("exiting", [False, True])
def test_a_worker_that_fails_to_start_is_logged_unless_the_interpreter_is_exiting(
        exiting, monkeypatch, caplog):
    # at exit multiprocessing ends the children first: a replacement still starting reads EOF
    import multiprocessing.util

    from app import lanes

    def eof(memory):
        raise EOFError

    monkeypatch.setattr(lanes, "_Worker", eof)
    monkeypatch.setattr(multiprocessing.util, "_exiting", exiting)
    pool = lanes.Pool(1, 0)
    pool._count = 1  # as take() counts a worker it starts
    pool._start()
    assert pool._count == 0
    logged = [r.getMessage() for r in caplog.records]
    assert logged == ([] if exiting else ["a worker process did not start: EOFError()"])


def test_a_receive_that_times_out_as_data_arrives_leaves_that_data_to_be_read(portal):
    # what the socket gave is never dropped: a deadline that passes in the very turn the first
    # half of a message arrives leaves the stream in step for whoever reads it next
    import socket
    import time

    from app import lanes

    async def scenario():
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        worker = lanes._Worker.__new__(lanes._Worker)  # the server's end only
        worker.sock, worker._buffer = ours, bytearray()
        frame = lanes._frame(("ok", b"x" * 1000))
        receiving = asyncio.create_task(worker.receive(loop.time() + 0.05))
        await asyncio.sleep(0)  # it waits for data
        theirs.sendall(frame[:500])
        time.sleep(0.1)  # the loop wakes to both the data and the deadline
        try:
            await receiving
            timed_out = False
        except TimeoutError:
            timed_out = True
        theirs.sendall(frame[500:])
        message = await worker.receive(loop.time() + 5)
        ours.close()
        theirs.close()
        return timed_out, message == ("ok", b"x" * 1000)

    assert portal.call(scenario) == (True, True)
