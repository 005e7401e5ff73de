"""Browser fixtures: the app on a free loopback port, Debian's chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
# Headless Chromium loads the address bar's popup, a WebUI page in a renderer of its own, for
# every tab it opens: about 1.5 s of CPU per page, more than the page itself costs.
FEATURES_OFF = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")


# A page is ready once its body has data-ready. Checked every animation frame: Playwright's own
# waits (wait_for_selector, expect) back off to half a second between checks, and a page is
# ready a few hundred milliseconds after its load.
READY = "() => document.body.dataset.ready !== undefined"


def wait_ready(pg: Page, timeout: float = 30_000) -> None:
    """Wait until `pg` has started (set body[data-ready]), checked every animation frame."""
    pg.wait_for_function(READY, timeout=timeout)


def holding(pg: Page, path: str) -> None:
    """Before `pg` loads: its requests to `path` wait while `hold(pg)` holds them, until
    `release(pg)`, so a test decides when an answer comes back."""
    pg.add_init_script(f"""
const send = window.fetch;
window.fetch = async (url, ...rest) => {{
  if (String(url).includes({path!r})) await window.held;
  return send(url, ...rest);
}};""")


def hold(pg: Page) -> None:
    pg.evaluate("() => { window.held = new Promise((r) => (window.release = r)); }")


def release(pg: Page) -> None:
    pg.evaluate("window.release()")


def launch(p: Playwright) -> Browser:
    """Debian's chromium, headless, with FEATURES_OFF added to Playwright's own
    --disable-features list (Chromium keeps only the last of several such switches, so a second
    one would switch Playwright's back on). The list is read off a first launch's command line."""
    opts = {"executable_path": str(CHROMIUM), "headless": True}
    probe = p.chromium.launch(**opts, args=CHROMIUM_ARGS)
    try:
        version = probe.new_page()
        version.goto("chrome://version")
        line = version.inner_text("#command_line").split()
    finally:
        probe.close()
    ours = [a for a in line if a.startswith("--disable-features=")]
    off = ",".join([*(a.split("=", 1)[1] for a in ours), *FEATURES_OFF])
    return p.chromium.launch(**opts, args=[*CHROMIUM_ARGS, f"--disable-features={off}"],
                             ignore_default_args=ours)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[subprocess.Popen, int, IO[str]]]:
    """`chainrule serve` on a free loopback port for the whole session, started here and waited
    for in `base_url`. It runs in a process of its own: in a thread of this one it would share
    one interpreter lock with the Playwright client.

    Its time limit is generous: a browser test checks what the page does with an answer, and on
    a shared machine the lab's networks can take several times the production limit."""
    port = _free_port()
    env = {**os.environ, "CHAINRULE_TIME_LIMIT": "120"}
    log = tempfile.TemporaryFile("w+")  # the server's log (a pipe nobody reads would fill up)
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    yield server, port, log
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="session")
def base_url(_server: tuple[subprocess.Popen, int, IO[str]]) -> str:
    """The app's address, once it answers."""
    server, port, log = _server
    for _ in range(400):  # startup is polled, not timed: give up after ~20 s of no answer
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the app did not start: {log.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the app did not start")


@pytest.fixture(scope="session")
def browser(_server: tuple) -> Iterator[Browser]:
    """Headless Debian chromium (launched while the app starts); a missing browser is a
    failure, not a skip."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = launch(p)
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


def _watched(pg: Page) -> Page:
    """`pg` with its console errors and uncaught page errors collected in `pg.errors`."""
    errors = ConsoleLog()
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors  # type: ignore[attr-defined]
    return pg


class Tab:
    """The session's tab. Opening a page in a new tab costs about half a second more (a new
    renderer process, every script compiled afresh) than a new document in a tab already open.
    A test that crashed or closed it leaves a new one to the next test."""

    def __init__(self, context: BrowserContext) -> None:
        self._context = context
        self._page: Page | None = None

    def open(self) -> Page:
        """The tab, its console errors cleared (a new tab when there is none)."""
        if self._page is None:
            self._page = _watched(self._context.new_page())
        self._page.errors.clear()  # type: ignore[attr-defined]
        return self._page

    def reset(self) -> None:
        """Leave the tab blank: that stops the page's timers, and the next goto loads a new
        document. A tab that cannot go there (crashed, closed) is closed and forgotten."""
        if self._page is None:
            return
        try:
            self._page.unroute_all()
            self._page.goto("about:blank")
        except PlaywrightError:
            with contextlib.suppress(PlaywrightError):
                self._page.close()
            self._page = None

    def close(self) -> None:
        if self._page is not None:
            self._page.close()


@pytest.fixture(scope="session")
def _tab(context: BrowserContext) -> Iterator[Tab]:
    tab = Tab(context)
    yield tab
    tab.close()


@pytest.fixture
def page(_tab: Tab) -> Iterator[Page]:
    """A 1280×800 page for one test: the session's tab, with its console errors cleared, left
    blank afterwards. A test that adds listeners or init scripts takes `fresh_page` instead."""
    yield _tab.open()
    _tab.reset()


@pytest.fixture
def fresh_page(context: BrowserContext) -> Iterator[Page]:
    """A 1280×800 page in a tab of its own, closed at the end of the test."""
    pg = _watched(context.new_page())
    yield pg
    pg.close()


@pytest.fixture
def own_page(browser: Browser) -> Iterator[Page]:
    """A 1280×800 page in a browser context of its own, for a test that installs a clock: a
    clock is its context's, and in the shared one it would stay for every later test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield _watched(ctx.new_page())
    finally:
        ctx.close()
