"""Browser fixtures: the app on a free loopback port, Debian's chromium driven by Playwright."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    """The app served by uvicorn in a background thread for the whole session.

    Its time limit is generous: a browser test checks what the page does with an answer, and on
    a shared machine the lab's networks can take several times the production limit."""
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings(time_limit=120.0))

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):  # startup is polled, not timed: give up after ~10 s of no answer
        if server.started:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the app did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium; a missing browser is a failure, not a skip."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One 1280×800 context for the session: its pages share the HTTP cache and compiled scripts,
    so a page after the first loads the editor and the layout library from memory."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    yield ctx
    ctx.close()


class ConsoleLog(list):
    """Console errors and uncaught page errors seen by one page."""


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A fresh 1280×800 page whose console errors are collected in `page.errors`."""
    pg = context.new_page()
    errors = ConsoleLog()
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    pg.close()
