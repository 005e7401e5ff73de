"""Generic fixtures: the app in process behind an httpx client (ASGITransport).

The client is driven from a blocking portal (an event loop in its own thread) so that the tests
are plain functions: the browser tests keep Playwright's loop running in the main thread for
the whole session, and a second loop cannot start there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from app.main import create_app
from app.settings import Settings


class Client:
    """A synchronous face on httpx.AsyncClient talking to an ASGI app in process."""

    def __init__(self, portal: BlockingPortal, app: Any):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._portal = portal
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._client.aclose)


@pytest.fixture
def client_for() -> Iterator[Callable[[Any], Client]]:
    """Make a client for a given app; server errors come back as responses, not exceptions."""
    with start_blocking_portal() as portal:
        clients: list[Client] = []

        def make(app: Any) -> Client:
            clients.append(Client(portal, app))
            return clients[-1]

        yield make
        for c in clients:
            c.close()


@pytest.fixture
def client(client_for: Callable[[Any], Client]) -> Client:
    """A client for a fresh app with the default settings."""
    return client_for(create_app(Settings()))
