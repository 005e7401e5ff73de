"""The browser fixtures themselves: a test that breaks the session's tab breaks no other test."""

from __future__ import annotations

import pytest
from conftest import Tab
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from test_circuit_page import open_page


def works(pg: Page, base_url: str) -> None:
    open_page(pg, base_url)
    expect(pg.locator("#output-value")).to_have_text("-12.00")


def test_a_crashed_or_closed_tab_is_replaced_for_the_next_test(_tab: Tab, base_url: str) -> None:
    """What the `page` fixture does around each test (open, then reset), with a test in the
    middle that crashes the tab, then one that closes it: the next test still gets a tab."""
    crashed = _tab.open()
    works(crashed, base_url)
    with crashed.expect_event("crash"), pytest.raises(PlaywrightError):
        crashed.goto("chrome://crash")
    _tab.reset()
    closed = _tab.open()
    assert closed is not crashed
    works(closed, base_url)
    closed.close()
    _tab.reset()
    after = _tab.open()
    assert after is not closed
    works(after, base_url)
    _tab.reset()
