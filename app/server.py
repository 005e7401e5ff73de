"""The HTTP server's side of the doors: uvicorn's HTTP protocol with a time limit on headers and a
cap on open connections (uvicorn has neither: a client that sends a header a byte at a time, or
nothing at all, keeps its connection for good).

Used by `chainrule serve`; behind a reverse proxy (deploy/) the proxy does the same at the edge.
"""

from __future__ import annotations

from asyncio import TimerHandle, Transport
from functools import cache
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.problems import busy, problem
from app.responses import StrictJSONResponse
from app.settings import Settings

LINGER = 2.0  # seconds a refused connection stays open to drain what its client still sends


@cache
def settings() -> Settings:
    return Settings.from_env()


def _bytes(answer: StrictJSONResponse) -> bytes:
    """The whole response: the app's problem document and its headers; the connection closes."""
    status = answer.status_code
    head = "".join(f"{k.decode()}: {v.decode()}\r\n" for k, v in answer.raw_headers)
    return (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n{head}connection: close\r\n\r\n"
            ).encode() + answer.body


class Protocol(HttpToolsProtocol):
    """One connection. From the moment it opens, and again after each response, the client has
    `header_timeout` seconds to send the next request's headers, however it trickles them in;
    then it gets a 408 and the connection is closed. Past `max_connections` open connections a
    new one gets a 503 and is closed at once."""

    _deadline: TimerHandle | None = None
    _closing: TimerHandle | None = None  # set once a refusal is sent

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > settings().max_connections:
            self._refuse(busy("too many connections are open"))
            return
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def data_received(self, data: bytes) -> None:
        if self._closing is None:
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._closing is not None:
            self._closing.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._refuse(problem(400, msg))

    def _refuse(self, answer: StrictJSONResponse) -> None:
        """Send the problem, then close gently: stop writing at once, drop whatever the client
        still sends, and close when it does or after LINGER seconds. Closing with its bytes
        unread would reset the connection, and a client can lose the answer before reading it."""
        self._disarm()
        self.transport.write(_bytes(answer))
        self.transport.write_eof()
        self._closing = self.loop.call_later(LINGER, self.transport.close)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(settings().header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing() and (self.cycle is None
                                                or self.cycle.response_complete):
            limit = settings().header_timeout
            self._refuse(problem(408, f"No request headers within {limit:g} s."))
