"""The doors every request passes, as one pure ASGI middleware: odd paths and bodies that are not
JSON are turned away, the body is bounded in size and in time, requests to compute are bounded in
number, every response gets the security headers, and every request is logged as one line."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.problems import BODY_TOO_LARGE, BodyTimeout, BodyTooLarge, busy, problem
from app.routers.pages import page_csp
from app.security import headers
from app.settings import Settings

log = logging.getLogger("chainrule.request")

# C0 and C1 control characters and DEL, as \xNN in the log: a path cannot forge a log line.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0))}
# In a path they are refused, and so is U+FFFD: a percent-escape that is not UTF-8 decodes to it.
_ODD = frozenset(map(chr, (*_ESCAPES, 0xfffd)))
_BODIES = frozenset(("POST", "PUT", "PATCH"))
_JSON = b"application/json"


def _computes(scope: Scope) -> bool:
    """A request to compute: a POST under /api/, or a GET of a training lab data set."""
    path = scope["path"]
    return (scope["method"] in _BODIES and path.startswith("/api/")) or (
        scope["method"] == "GET" and path.startswith("/api/labs/datasets/"))


class Doors:
    """Requests to compute (see _computes) in progress at once: as many as there are worker
    processes, and `queue` more waiting for one; past that a request is answered 503 as it
    arrives, before its body is read, so that a flood costs the event loop little and no request
    waits in a queue that cannot be served within its time limit."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.max_body = settings.max_body
        self.body_timeout = settings.body_timeout
        self.headers = headers(page_csp())
        self.most = settings.processes + settings.queue
        self.computing = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = [500, False, False]  # status (500 if the app raises first), started, gone
        extra = self.headers

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                state[0], state[1] = message["status"], True
                sent = message.get("headers", [])
                own = [h for h in extra if h[0] != b"content-security-policy"] if any(
                    k == b"content-security-policy" for k, _ in sent) else extra
                message["headers"] = [*sent, *own]
            await send(message)

        computes = False
        try:
            refusal = self._refusal(scope)
            if refusal is None and _computes(scope):
                if self.computing >= self.most:
                    refusal = busy(f"{self.computing} requests are being computed already")
                else:
                    self.computing, computes = self.computing + 1, True
            if refusal is not None:
                await refusal(scope, receive, sending)
            elif scope["method"] in _BODIES:
                await self.app(scope, self._bounded(receive, start, state), sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            if computes:
                self.computing -= 1
            ms = (time.perf_counter() - start) * 1000
            path = scope["path"].translate(_ESCAPES)
            if state[2]:
                log.info("%s %s 499 %.1fms client disconnected", scope["method"], path, ms)
            else:
                log.info("%s %s %d %.1fms", scope["method"], path, state[0], ms)

    def _refusal(self, scope: Scope):
        """A problem response for a request turned away at the door, else None."""
        if not _ODD.isdisjoint(scope["path"]):
            return problem(400, "The path holds a control character or an invalid escape.")
        if scope["method"] not in _BODIES:
            return None
        headers = dict(scope["headers"])
        length, kind = headers.get(b"content-length"), headers.get(b"content-type")
        chunked = b"transfer-encoding" in headers
        has_body = chunked or (length is not None and length.strip(b"0") != b"")
        if has_body and (kind is None or kind.split(b";", 1)[0].strip().lower() != _JSON):
            return problem(415, "The request body must be JSON, sent with Content-Type: "
                           "application/json.")
        if length is not None:
            if not length.isdigit():
                return problem(400, "Content-Length must be a whole number of bytes.")
            if int(length) > self.max_body:
                return problem(413, BodyTooLarge(self.max_body).detail, type=BODY_TOO_LARGE)
        return None

    def _bounded(self, receive: Receive, start: float, state: list) -> Receive:
        """`receive` that raises BodyTooLarge past max_body bytes (chunked bodies have no
        Content-Length) and BodyTimeout when the body is not in after body_timeout seconds."""
        limit, seen, done = self.max_body, 0, False
        deadline = asyncio.get_running_loop().time() + self.body_timeout - (
            time.perf_counter() - start)

        async def bounded() -> Message:
            nonlocal seen, done
            try:  # once the body is in, what comes is a disconnect, whenever it comes
                async with asyncio.timeout_at(None if done else deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.body_timeout) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
                done = not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not state[1]:
                state[2] = True
            return message

        return bounded
