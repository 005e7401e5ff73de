"""Run engine work off the event loop, within the per-request time limit."""

from __future__ import annotations

import asyncio
import ctypes
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from fastapi import Request

import engine.check  # noqa: F401  (imported here, on the event loop: see _importing)
import engine.codegen  # noqa: F401
import engine.parse  # noqa: F401
from app.problems import TimeLimitExceeded
from engine import ExpressionError

T = TypeVar("T")

# The engine's threads. A request waits for its result with one timer on the event loop: that
# costs less per request than a cancel scope and a capacity limiter around a worker thread.
POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="chainrule-engine")


class _Stop(BaseException):
    """Raised inside a worker thread whose request already timed out (BaseException: no
    `except Exception` in the engine swallows it)."""


def _importing(thread: int) -> bool:
    """True while `thread` runs an import. A stop landing in the import machinery can leave that
    module's import lock held for good, and every later import of it waits forever; so the
    engine's modules are imported above, on the event loop, and a stop waits for an import."""
    frame = sys._current_frames().get(thread)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _send_stop(thread: int | None) -> None:
    """Raise _Stop in `thread` at its next Python instruction (None clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(threading.get_ident() if thread is None else thread),
        None if thread is None else ctypes.py_object(_Stop))


class _Job:
    """One request's computation, as its worker thread and the event loop both see it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: int | None = None  # the worker running it
        self.over = False  # it has returned, or nobody waits for it any more
        self.expired = False  # the time limit ran out

    def start(self) -> bool:
        """Called by the worker: False if the request gave up while the job was queued."""
        with self.lock:
            self.thread = threading.get_ident()
            return not self.over

    def finish(self) -> None:
        """Called by the worker when its work has returned: no stop is sent after this."""
        with self.lock:
            self.over = True
        _send_stop(None)  # one sent before is still pending: it must not hit the next job

    def stop(self) -> None:
        """Ask the thread to stop at its next Python instruction (a numpy call runs to its end);
        in an import, ask again a little later."""
        with self.lock:
            if self.thread is not None and not self.over:
                if _importing(self.thread):
                    asyncio.get_running_loop().call_later(0.01, self.stop)
                    return
                _send_stop(self.thread)
            self.over = True


def _expire(job: _Job, future: asyncio.Future) -> None:
    job.expired = True
    future.cancel()


async def run_limited(request: Request, fn: Callable[[], T], *, quick: bool = False) -> T:
    """`fn()` in a worker thread; TimeLimitExceeded (503) after the app's time limit.

    On timeout the client gets its answer at once and the thread is told to stop, so an
    abandoned computation does not keep a core busy for minutes; a job still queued never starts.

    `quick`: the work is known to be small before it starts (engine.circuit.quick: a parsed
    circuit of at most 64 nodes on Python floats, at most ~250 µs), so it runs here. Handing
    work to a thread and back costs about that much CPU on a small VM, usually more than the
    work itself.
    """
    if quick:
        return _run(fn)
    seconds = request.app.state.settings.time_limit
    job = _Job()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(POOL, _guarded, fn, job)
    timer = loop.call_later(seconds, _expire, job, future)
    try:
        return await future
    except asyncio.CancelledError:
        if job.expired:
            raise TimeLimitExceeded(seconds) from None
        raise  # the request itself was cancelled (the server is stopping)
    finally:
        timer.cancel()
        job.stop()  # a no-op when the work has returned


def _run(fn: Callable[[], T]) -> T:
    try:
        # Numbers that overflow are reported in the response, not as numpy warnings.
        with np.errstate(all="ignore"):
            return fn()
    except MemoryError:
        raise ExpressionError("this request needs more memory than the server has") from None
    except RecursionError:
        raise ExpressionError("this expression is nested too deeply") from None


def _guarded(fn: Callable[[], T], job: _Job) -> T | None:
    try:
        if not job.start():
            return None
        try:
            return _run(fn)
        finally:
            job.finish()
    except _Stop:
        return None  # nobody waits for this result any more
