"""Run engine work off the event loop, within the per-request time limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request

from app.problems import TimeLimitExceeded
from engine import ExpressionError

T = TypeVar("T")


async def run_limited(request: Request, fn: Callable[[], T]) -> T:
    """`fn()` in a worker thread; TimeLimitExceeded (503) after the app's time limit.

    A thread cannot be killed: on timeout it is abandoned and finishes in the background, but
    the event loop and the client are free at once.
    """
    seconds = request.app.state.settings.time_limit
    try:
        with anyio.fail_after(seconds):
            return await anyio.to_thread.run_sync(_guarded, fn, abandon_on_cancel=True)
    except TimeoutError:
        raise TimeLimitExceeded(seconds) from None


def _guarded(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except MemoryError:
        raise ExpressionError("this request needs more memory than the server has") from None
    except RecursionError:
        raise ExpressionError("this expression is nested too deeply") from None
