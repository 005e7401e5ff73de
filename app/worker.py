"""Long work in a separate process that can be killed: a generator's items, streamed back.

`stream_in_worker(fn, kwargs, limit)` starts `python -m app.worker`, which imports `fn` (a
module-level generator function), runs it on `kwargs` and writes each item it yields as one
line of JSON. The server reads the lines as they come, so it never blocks, and kills the process
when the time limit passes or the reader goes away (a closed browser tab), so no work is left
running for nobody.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio

from app.problems import TimeLimitExceeded

RUNNING: set[int] = set()  # process ids of the workers alive now
LINE_LIMIT = 2**24  # bytes in one line of a worker's output


class WorkerFailed(RuntimeError):
    """The worker process stopped without finishing (it crashed or raised)."""


async def stream_in_worker(fn: Callable[..., Iterator[dict]], kwargs: dict[str, Any],
                           limit: float) -> AsyncIterator[dict]:
    """The items `fn(**kwargs)` yields, computed in a worker process, as they come.

    Raises TimeLimitExceeded when `limit` seconds pass before the last item, WorkerFailed when
    the process dies or `fn` raises; in every case, and when the caller stops iterating
    (a cancelled request), the process is killed before this returns.
    """
    job = json.dumps({"fn": f"{fn.__module__}:{fn.__qualname__}", "kwargs": kwargs})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.worker", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT)
    RUNNING.add(proc.pid)
    deadline = time.monotonic() + limit
    try:
        proc.stdin.write(job.encode() + b"\n")  # stdin stays open: its end tells the worker to go
        await proc.stdin.drain()
        while True:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(),
                                              max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise TimeLimitExceeded(limit) from None
            if not line:
                code = await proc.wait()
                if code:
                    raise WorkerFailed(f"the worker process stopped with exit code {code}")
                return
            item = json.loads(line)
            if "worker_error" in item:
                raise WorkerFailed(item["worker_error"])
            yield item
    finally:
        if proc.returncode is None:
            proc.kill()
        with anyio.CancelScope(shield=True):  # reap it even when the request was cancelled
            await proc.wait()
        RUNNING.discard(proc.pid)


# --- the worker process's side ------------------------------------------------------------------


def _leave_when_stdin_closes() -> None:
    """Exit as soon as the server closes our stdin (or dies): nobody reads our output then."""
    sys.stdin.buffer.read()
    os._exit(0)


def main() -> None:
    job = json.loads(sys.stdin.buffer.readline())
    threading.Thread(target=_leave_when_stdin_closes, daemon=True).start()
    module, name = job["fn"].split(":")
    fn = getattr(importlib.import_module(module), name)
    out = sys.stdout.buffer
    try:
        for item in fn(**job["kwargs"]):
            out.write(json.dumps(item, allow_nan=False).encode() + b"\n")
            out.flush()
    except Exception as e:  # reported to the server as a line, never as a traceback
        out.write(json.dumps({"worker_error": f"{type(e).__name__}: {e}"}).encode() + b"\n")
        out.flush()
    # not a normal exit: the thread still blocked reading stdin would abort the shutdown
    os._exit(0)


if __name__ == "__main__":
    main()
