"""Pure ASGI middleware: the request body limit and the request log."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.problems import BODY_TOO_LARGE, BodyTooLarge, problem

log = logging.getLogger("chainrule.request")


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413, from Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                if not value.isdigit():
                    await problem(400, "Content-Length must be a whole number of bytes.")(
                        scope, receive, send)
                    return
                if int(value) > self.limit:
                    await self._refuse(scope, receive, send)
                    return
        limit, seen = self.limit, 0
        started = False

        async def counted() -> Message:
            # Chunked bodies have no Content-Length: count while they stream in.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            # Raised where nothing turned it into a response (e.g. outside a route).
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, BodyTooLarge(self.limit).detail,
                      type=BODY_TOO_LARGE)(scope, receive, send)


class RequestLog:
    """One line on stderr per request: method, path, status, milliseconds."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before responding

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            ms = (time.perf_counter() - start) * 1000
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, ms)
