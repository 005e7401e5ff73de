"""The circuit page while an answer is slow to come or does not come: it says it is working, and
when the server cannot be reached or is busy it says so and redraws by itself once it answers."""

from __future__ import annotations

import pytest
from conftest import hold, holding, release, wait_ready
from playwright.sync_api import Page, expect
from test_circuit_page import editor_text, paste, renders, wait_render

PROGRAM = "(x + y) * z + 1"
OPACITY = "(id) => Number(getComputedStyle(document.getElementById(id)).opacity)"


def test_a_slow_answer_dims_the_drawing_and_says_the_page_is_working(fresh_page: Page,
                                                                    base_url: str) -> None:
    page = fresh_page  # it adds an init script
    holding(page, "/api/circuit")
    page.goto(f"{base_url}/")
    wait_ready(page)
    sign = page.locator("#busy-sign")
    expect(page.locator("#output-value")).to_have_text("-12.00")
    expect(sign).to_be_hidden()
    assert page.evaluate(OPACITY, "circuit-svg") == 1
    hold(page)
    n = renders(page)
    paste(page, PROGRAM, drawn=False)
    # the answer is on its way: after a moment the page says it is working, the old drawing and
    # its result dimmed under it
    expect(sign).to_be_visible()
    expect(sign).to_have_text("computing…")
    page.wait_for_function(f"({OPACITY})('circuit-svg') < 1")
    page.wait_for_function(f"({OPACITY})('result') < 1")
    expect(page.locator("#output-value")).to_have_text("-12.00")
    release(page)
    wait_render(page, n)
    expect(page.locator("#output-value")).to_have_text("-11.00")
    expect(sign).to_be_hidden()
    assert page.evaluate(OPACITY, "circuit-svg") == 1
    assert page.evaluate(OPACITY, "result") == 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_staged_code_says_it_is_coming_while_it_is_on_its_way(fresh_page: Page,
                                                                  base_url: str) -> None:
    page = fresh_page  # it adds an init script
    holding(page, "/api/code")
    page.goto(f"{base_url}/")
    wait_ready(page)
    page.click("[role=tab][data-tab=code]")
    expect(page.locator("#code")).to_contain_text("f = add1 * z")
    before = page.locator("#code").inner_text()
    sign = page.locator("#tab-code .busy-sign")
    expect(sign).to_be_hidden()
    hold(page)
    paste(page, PROGRAM)  # drawn: the staged code of the new circuit is asked for
    expect(sign).to_be_visible()
    expect(sign).to_have_text("computing…")
    page.wait_for_function(f"({OPACITY})('code') < 1")
    release(page)
    expect(sign).to_be_hidden()
    expect(page.locator("#code")).not_to_have_text(before)  # the new circuit's
    assert page.evaluate(OPACITY, "code") == 1


@pytest.mark.parametrize(("fail", "message", "note"), [
    ("unreachable", "Network error: Could not reach the server (/api/circuit).",
     "the server could not be reached"),
    ("busy", "Server busy: The server is too busy to answer just now.", "the server is busy"),
])
def test_a_server_out_of_reach_is_said_and_the_page_redraws_once_it_answers(
        fresh_page: Page, base_url: str, fail: str, message: str, note: str) -> None:
    page = fresh_page  # it adds a route
    page.goto(f"{base_url}/")
    wait_ready(page)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    refused = []

    def refuse(route):
        refused.append(route.request.url)
        if fail == "unreachable":
            route.abort("connectionrefused")
        else:  # a plain-text 503, as a proxy in front of the app sends it
            route.fulfill(status=503, body="Service Unavailable",
                          headers={"content-type": "text/plain"})

    page.route("**/api/circuit", refuse)
    paste(page, PROGRAM, drawn=False)
    expect(page.locator("#error .message")).to_contain_text(message)
    assert "HTTP" not in page.locator("#error .message").inner_text()
    expect(page.locator("#stale-note")).to_contain_text(note)
    expect(page.locator("#stale-note")).to_contain_text("redraws by itself")
    assert "fix the error" not in page.locator("#stale-note").inner_text()
    page.click("[role=tab][data-tab=check]")  # the tools wait for the code's circuit
    page.click("#check")
    expect(page.locator("#check-result")).to_contain_text("not the code's")
    assert "fix the error" not in page.locator("#check-result").inner_text()
    for _ in range(200):  # it asks again by itself, nothing typed
        if len(refused) >= 3:
            break
        page.wait_for_timeout(50)
    assert len(refused) >= 3, refused
    n = renders(page)
    page.unroute("**/api/circuit")  # the server is back: the page draws the code, untouched
    wait_render(page, n)
    expect(page.locator("#circuit-svg")).to_have_attribute("data-expression", PROGRAM)
    expect(page.locator("#output-value")).to_have_text("-11.00")
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#stale-note")).to_be_hidden()
    assert editor_text(page) == PROGRAM
