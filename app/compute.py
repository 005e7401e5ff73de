"""Run engine work off the event loop, within the per-request time limit."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request

from app.problems import TimeLimitExceeded
from engine import ExpressionError

T = TypeVar("T")


class _Stop(BaseException):
    """Raised inside a worker thread whose request already timed out (BaseException: no
    `except Exception` in the engine swallows it)."""


class _Job:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: int | None = None
        self.done = False

    def stop(self) -> None:
        """Ask the thread to stop at its next Python instruction (a numpy call runs to its end)."""
        with self.lock:
            if self.thread is not None and not self.done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread), ctypes.py_object(_Stop))


async def run_limited(request: Request, fn: Callable[[], T]) -> T:
    """`fn()` in a worker thread; TimeLimitExceeded (503) after the app's time limit.

    On timeout the client gets its answer at once and the thread is told to stop, so an
    abandoned computation does not keep a core busy for minutes.
    """
    seconds = request.app.state.settings.time_limit
    job = _Job()
    try:
        with anyio.fail_after(seconds):
            return await anyio.to_thread.run_sync(_guarded, fn, job, abandon_on_cancel=True)
    except TimeoutError:
        job.stop()
        raise TimeLimitExceeded(seconds) from None


def _guarded(fn: Callable[[], T], job: _Job) -> T | None:
    job.thread = threading.get_ident()
    try:
        try:
            return fn()
        finally:
            with job.lock:
                job.done = True
    except _Stop:
        return None  # nobody waits for this result any more
    except MemoryError:
        raise ExpressionError("this request needs more memory than the server has") from None
    except RecursionError:
        raise ExpressionError("this expression is nested too deeply") from None
