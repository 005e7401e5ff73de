"""The circuit page while an answer is slow to come or does not come: it says it is working, and
when the server cannot be reached or is busy it says so and redraws by itself once it answers."""

from __future__ import annotations

import json

import pytest
from conftest import hold, holding, release, wait_ready
from playwright.sync_api import Page, Route, expect
from test_circuit_page import editor_text, paste, presets, renders, wait_render

from app.problems import BUSY, TIME_LIMIT, WORKER_LOST

PROGRAM = "(x + y) * z + 1"
OPACITY = "(id) => Number(getComputedStyle(document.getElementById(id)).opacity)"
# Before the page loads: window.asked counts the page's requests for a circuit.
COUNT_ASKED = """window.asked = 0;
const send = window.fetch;
window.fetch = (url, ...rest) => {
  if (String(url).includes('/api/circuit')) window.asked += 1;
  return send(url, ...rest);
};"""


def asked(page: Page) -> int:
    return page.evaluate("window.asked")


def answer_problem(type_: str, title: str, detail: str):
    """A route handler answering 503 with the problem document the server sends."""
    body = json.dumps({"type": type_, "title": title, "status": 503, "detail": detail})
    return lambda route: route.fulfill(status=503, body=body,
                                       headers={"content-type": "application/problem+json"})


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
    ("busy problem", "Busy: The server is busy: no worker process came free within 5 s; try again "
     "in a moment.", "the server is busy"),
])
def test_a_server_out_of_reach_is_said_and_the_page_redraws_once_it_answers(
        fresh_page: Page, base_url: str, fail: str, message: str, note: str) -> None:
    page = fresh_page  # it adds a route and an init script
    page.add_init_script(COUNT_ASKED)
    page.goto(f"{base_url}/")
    wait_ready(page)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    busy = answer_problem(BUSY, "Busy", "The server is busy: no worker process came free "
                          "within 5 s; try again in a moment.")

    def refuse(route: Route) -> None:
        if fail == "unreachable":
            route.abort("connectionrefused")
        elif fail == "busy":  # a plain-text 503, as a proxy in front of the app sends it
            route.fulfill(status=503, body="Service Unavailable",
                          headers={"content-type": "text/plain"})
        else:
            busy(route)

    page.route("**/api/circuit", refuse)
    before = asked(page)
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
    page.wait_for_function("n => window.asked >= n", arg=before + 3)  # by itself, nothing typed
    n = renders(page)
    page.unroute("**/api/circuit")  # the server is back: the page draws the code, untouched
    wait_render(page, n)
    expect(page.locator("#circuit-svg")).to_have_attribute("data-expression", PROGRAM)
    expect(page.locator("#output-value")).to_have_text("-11.00")
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#stale-note")).to_be_hidden()
    assert editor_text(page) == PROGRAM


@pytest.mark.parametrize(("kind", "title", "detail"), [
    (TIME_LIMIT, "Time limit exceeded", "Computing this request took longer than 5 s; try a "
     "smaller expression or smaller values."),
    (WORKER_LOST, "Computation stopped", "The computation stopped before it finished: its worker "
     "process ended (it may have needed more memory than a worker may use); try a smaller "
     "request."),
])
def test_a_request_too_big_to_compute_is_said_as_the_server_says_it_and_not_sent_again(
        own_page: Page, base_url: str, kind: str, title: str, detail: str) -> None:
    """The same request would fail the same way: the page shows the server's words, says the code
    must change, and waits for that (a fake clock runs past every wait of the retries)."""
    page = own_page  # it adds a route, an init script and a clock
    page.add_init_script(COUNT_ASKED)
    page.clock.install()
    page.goto(f"{base_url}/")
    wait_ready(page)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.route("**/api/circuit", answer_problem(kind, title, detail))
    paste(page, PROGRAM, drawn=False)
    expect(page.locator("#error .message")).to_contain_text(f"{title}: {detail}")
    expect(page.locator("#stale-note")).to_contain_text("fix the error under the code")
    assert "by itself" not in page.locator("#stale-note").inner_text()
    assert "by itself" not in page.locator("#error").inner_text()
    sent = asked(page)
    page.clock.run_for(60_000)  # longer than the longest wait between retries
    assert asked(page) == sent
    assert editor_text(page) == PROGRAM


def test_an_edit_typed_while_a_request_fails_is_asked_for_soon(own_page: Page,
                                                               base_url: str) -> None:
    """The server is out of reach; the page has tried twice. The user types while its next try
    is on its way: when that fails, the edit is asked for as soon as any edit is (not after the
    retries' wait), and should that fail too, the waits start again from 1 s. A fake clock, paused,
    says when the timers fire."""
    page = own_page  # it adds a route, an init script and a clock
    holding(page, "/api/circuit")
    page.clock.install()
    page.goto(f"{base_url}/")
    wait_ready(page)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.route("**/api/circuit", lambda route: route.abort("connectionrefused"))
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    edited = "(x + y) * z + 2"

    def sent(text: str):  # the next request for the circuit of `text`
        return page.expect_request(lambda r: r.url.endswith("/api/circuit")
                                   and json.loads(r.post_data or "{}").get("expression") == text)

    with sent(PROGRAM):
        paste(page, PROGRAM, drawn=False)
        page.clock.run_for(1000)
    expect(page.locator("#error .message")).to_contain_text("Network error")
    expect(page.locator("body")).not_to_have_attribute("data-busy", "1")
    hold(page)  # the second try waits in the page, on its way
    page.clock.run_for(1000)
    expect(page.locator("body")).to_have_attribute("data-busy", "1")
    paste(page, edited, drawn=False)  # typed meanwhile
    with sent(PROGRAM):
        release(page)  # the second try fails
    expect(page.locator("body")).not_to_have_attribute("data-busy", "1")
    with sent(edited):
        page.clock.run_for(500)  # an edit is asked for 350 ms after it
    expect(page.locator("body")).not_to_have_attribute("data-busy", "1")
    with sent(edited):
        page.clock.run_for(1000)  # that failed too: tried again after 1 s, the first wait
    expect(page.locator("body")).not_to_have_attribute("data-busy", "1")
    page.unroute("**/api/circuit")  # the server is back
    n = renders(page)
    page.clock.resume()
    wait_render(page, n)
    expect(page.locator("#circuit-svg")).to_have_attribute("data-expression", edited)
    expect(page.locator("#output-value")).to_have_text("-10.00")
    expect(page.locator("#error")).to_be_hidden()
    assert editor_text(page) == edited


def test_the_examples_and_the_gate_table_come_once_the_server_answers(fresh_page: Page,
                                                                       base_url: str) -> None:
    """The server does not answer the page's first asks for the examples menu and the gate
    table: the page draws all the same, asks again by itself, and fills the menu and the gate's
    explanation once an answer comes, leaving what the user typed meanwhile as it is."""
    page = fresh_page  # it adds routes and an init script
    page.add_init_script("""window.tables = {};
const send = window.fetch;
window.fetch = (url, ...rest) => {
  window.tables[url] = (window.tables[url] || 0) + 1;
  return send(url, ...rest);
};""")
    blocked = True

    def refuse(route: Route) -> None:
        if blocked:
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route("**/api/presets", refuse)
    page.route("**/api/ops", refuse)
    page.goto(f"{base_url}/")
    wait_ready(page)
    expect(page.locator("#preset option")).to_have_count(1)  # only "choose an example"
    paste(page, PROGRAM)
    page.locator("g.gate[data-op=mul]").click()  # pinned: its explanation stays on show
    explain = page.locator("#explain")
    expect(explain.locator(".upstream")).to_have_text("1.00")
    expect(explain.locator(".formula .katex")).to_have_count(0)  # no gate table yet
    # Asked again by itself, nothing reloaded: each is refused a second time.
    page.wait_for_function("() => Math.min(...['/api/presets', '/api/ops'].map("
                           "(u) => window.tables[u] || 0)) >= 2", timeout=20_000)
    blocked = False  # the server is back
    expect(page.locator("#preset option")).to_have_count(len(presets(page)) + 1, timeout=20_000)
    expect(explain.locator(".formula .katex")).to_have_count(1, timeout=20_000)
    expect(explain.locator(".upstream")).to_have_text("1.00")
    expect(page.locator("#preset")).to_have_value("")  # the typed code is no example
    assert editor_text(page) == PROGRAM
    expect(page.locator("#circuit-svg")).to_have_attribute("data-expression", PROGRAM)
    # The browser's own note of each refused request is all the console has to say.
    refused = "Failed to load resource: net::ERR_CONNECTION_REFUSED"
    assert [e for e in page.errors if e != refused] == []
