"""Generic fixtures: the app in process behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client_for(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def client_for() -> Callable[..., httpx.AsyncClient]:
    """Make an httpx client for a given app, in process; server errors come back as responses."""
    return _client_for


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client for a fresh app with the default settings."""
    async with _client_for(create_app(Settings())) as c:
        yield c
