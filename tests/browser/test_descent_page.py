"""The descent lab in Debian's chromium: StatQuest's b3 steps in the table, all seven fitted."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import hold, holding, release, wait_ready
from playwright.sync_api import Page, expect


def open_page(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/labs/descent")
    wait_ready(page)
    expect(page.locator("#chart-ssr")).to_have_attribute("data-state", "ready")


def row(page: Page, k: int) -> list[str]:
    return page.locator(f"#steps tbody tr[data-step='{k}'] td").all_inner_texts()


def test_stepping_b3_shows_the_notes_table(page: Page, base_url: str):
    open_page(page, base_url)
    expect(page.locator("#chart-ssr svg")).to_contain_text("slope -15.7")
    page.click("#step-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(1, timeout=10_000)
    # step, b3, SSR, slope, step size, new b3
    assert row(page, 0) == ["0", "0", "20.4", "-15.7", "-1.57", "1.57"]
    page.click("#step-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(2, timeout=10_000)
    assert row(page, 1)[1] == "1.57" and row(page, 1)[3] == "-6.26" and row(page, 1)[5] == "2.19"
    expect(page.locator("#chart-ssr svg")).to_contain_text("slope -2.5")
    page.click("#run-b3")
    expect(page.locator("#b3-status")).to_have_attribute("data-stopped", "tol", timeout=30_000)
    expect(page.locator("#b3-status")).to_contain_text("b3 = 2.61")
    assert page.locator("#steps tbody tr").count() == 10
    # the circuit link's program states the current b3
    program = parse_qs(urlsplit(page.get_attribute("#circuit-link", "href")).fragment)["e"][0]
    assert "b3 = 2.608" in program
    page.click("#reset-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_tolerance_too_large_to_reach_the_lowest_point_says_so(page: Page, base_url: str):
    open_page(page, base_url)
    page.fill("#tol", "5")  # the first step, 1.57, is already below it
    page.click("#run-b3")
    status = page.locator("#b3-status")
    expect(status).to_have_attribute("data-stopped", "tol", timeout=30_000)
    expect(status).to_contain_text("b3 = 0, SSR 20.4, slope -15.7")
    expect(status).to_contain_text("the SSR can still go lower: try a smaller tolerance")
    expect(status).not_to_contain_text("where the SSR is lowest")
    page.fill("#tol", "0.001")
    page.click("#run-b3")  # on from where it is, to the bottom
    expect(status).to_contain_text("b3 = 2.61", timeout=30_000)
    expect(status).to_contain_text("This b3 is where the SSR is lowest.")
    page.click("#step-b3")  # one more step at the bottom: still the lowest point
    expect(page.locator("#steps tbody tr")).to_have_count(12, timeout=10_000)
    expect(status).to_contain_text("This b3 is where the SSR is lowest.")


def test_a_learning_rate_of_half_overshoots(page: Page, base_url: str):
    open_page(page, base_url)
    page.fill("#lr", "0.5")
    page.click("#step-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(1, timeout=10_000)
    assert row(page, 0)[5] == "7.83"  # far past the minimum near 2.61
    expect(page.locator("#b3-status")).to_contain_text("overshoots further")


def readable_ticks(page: Page, chart: str) -> None:
    """The chart's tick labels are short numbers, inside the drawing, none over another."""
    for axis in ("x", "y"):
        labels = page.locator(f"#{chart} svg g[aria-label='{axis}-axis tick label'] text")
        texts = labels.all_text_contents()
        assert texts and all(re.fullmatch(r"−?-?[\d.]+(e-?\d+)?", t) for t in texts), texts
        svg = page.locator(f"#{chart} svg").last.bounding_box()
        boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
        assert all(b["x"] >= svg["x"] and b["x"] + b["width"] <= svg["x"] + svg["width"]
                   for b in boxes), (axis, texts, boxes, svg)
        if axis == "x":
            boxes.sort(key=lambda b: b["x"])
            assert all(a["x"] + a["width"] <= b["x"] for a, b in zip(boxes, boxes[1:],
                                                                      strict=False)), texts


def test_a_learning_rate_of_half_diverges_and_stops_early_the_charts_kept_readable(
        page: Page, base_url: str):
    open_page(page, base_url)
    expect(page.locator(".descent-lab")).to_contain_text("Try a learning rate of 0.3")
    page.fill("#lr", "0.5")
    page.click("#run-b3")
    status = page.locator("#b3-status")
    expect(status).to_have_attribute("data-stopped", "diverged", timeout=30_000)
    expect(status).to_contain_text("Diverged: each step overshoots further")
    assert page.locator("#steps tbody tr").count() == 6
    for chart in ("chart-curves", "chart-ssr"):
        readable_ticks(page, chart)
    # Far out: a huge rate takes b3 to hundreds of millions, and the numbers stay short.
    page.fill("#lr", "1000000")
    page.click("#step-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(7, timeout=10_000)
    expect(page.locator("#params-line")).to_contain_text("b3 = -5.01e8")
    line = page.inner_text("#params-line")
    assert re.search(r"b3 = -?\d\.\d\de-?\d+;", line) and len(line) < 140, line
    for chart in ("chart-curves", "chart-ssr"):
        readable_ticks(page, chart)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_learning_rate_of_0_3_overshoots_and_settles(page: Page, base_url: str):
    open_page(page, base_url)
    page.fill("#lr", "0.3")
    page.click("#run-b3")
    expect(page.locator("#b3-status")).to_have_attribute("data-stopped", "tol", timeout=60_000)
    assert float(row(page, 1)[1]) > 2.61 > float(row(page, 2)[1])  # past the lowest point and back
    expect(page.locator("#b3-status")).to_contain_text("b3 = 2.61")


def test_fit_all_seven_from_a_seed_brings_the_ssr_down(page: Page, base_url: str):
    open_page(page, base_url)
    page.click("#fit-seven")
    status = page.locator("#seven-status")
    expect(status).to_have_attribute("data-stopped", "tol", timeout=60_000)
    assert float(status.get_attribute("data-ssr")) < 0.01
    # the tolerance it names is the section's own field
    assert page.input_value("#tol7") == "0.0001"
    expect(status).to_contain_text("steps: every step is now smaller than the tolerance, 0.0001.")
    expect(status).not_to_contain_text("(tol)")
    steps = int(re.search(r"Stopped after (\d+) steps", status.inner_text())[1])
    page.fill("#tol7", "0.01")
    page.click("#fit-seven")
    expect(status).to_contain_text("every step is now smaller than the tolerance, 0.01.",
                                   timeout=60_000)
    assert int(re.search(r"Stopped after (\d+) steps", status.inner_text())[1]) < steps
    assert page.locator("#chart-fit svg [aria-label='line'] path").count() == 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_every_number_on_the_page_is_written_one_way(page: Page, base_url: str):
    open_page(page, base_url)
    page.click("#run-b3")
    status = page.locator("#b3-status")
    expect(status).to_have_attribute("data-stopped", "tol", timeout=30_000)
    ssr = re.search(r"SSR (\S+), slope", status.inner_text())[1]
    assert re.fullmatch(r"\d\.\d\de-\d", ssr), ssr  # 6.42e-5, not 0.0000642
    expect(page.locator("#params-line")).to_contain_text(f"; SSR = {ssr}")
    last = row(page, page.locator("#steps tbody tr").count() - 1)
    assert all(re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?|stop: .*", t) for t in last), last
    page.click("#reset-b3")
    page.fill("#lr", "5")  # far out: an SSR in the thousands is written whole
    page.click("#step-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(1, timeout=10_000)
    # never 2.09e+4 or 20913.700; waited for, as the line follows the table's first row
    expect(page.locator("#params-line")).to_have_text(re.compile(r"; SSR = \d{5}$"))
    line = page.inner_text("#params-line")
    assert "e+" not in line + page.inner_text("#steps"), line


def test_running_out_of_steps_is_not_called_a_local_minimum_and_reset_clears_it(
        page: Page, base_url: str):
    open_page(page, base_url)
    status = page.locator("#seven-status")
    for steps in ("0", "10"):
        page.fill("#steps7", steps)
        page.click("#fit-seven")
        expect(status).to_contain_text(f"Stopped after {steps} steps, all it was given.",
                                       timeout=30_000)
        expect(status).to_contain_text("ran out of steps")
        expect(status).to_contain_text("not converged yet")
        expect(status).not_to_contain_text("dip")
    page.click("#reset-seven")
    expect(status).to_have_text("")
    expect(page.locator("#chart-fit")).to_have_attribute("data-state", "empty")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_circuit_link_opens_the_network_on_the_circuit_page(page: Page, base_url: str):
    open_page(page, base_url)
    page.click("#circuit-link")
    wait_ready(page)
    expect(page.locator(".grad-item[data-name='b3'] .grad")).to_have_text("-15.66")


def test_the_circuit_link_opens_the_network_at_the_values_fitted(page: Page, base_url: str):
    """The circuit page takes the code as the truth: the link's program states the lab's values."""
    open_page(page, base_url)
    page.click("#run-b3")
    expect(page.locator("#b3-status")).to_have_attribute("data-stopped", "tol", timeout=30_000)
    page.click("#circuit-link")
    wait_ready(page)
    expect(page.locator("#in-b3")).to_have_value(re.compile(r"^2\.608"))
    expect(page.locator("#output-value")).to_have_text("6.42e-5")  # the lab's SSR, not 20.42
    expect(page.locator(".grad-item[data-name='b3'] .grad")).to_have_text("-4.10e-3")  # not -15.66


def test_the_circuit_link_after_fitting_all_seven_carries_all_seven(page: Page, base_url: str):
    open_page(page, base_url)
    page.click("#fit-seven")
    expect(page.locator("#seven-status")).to_have_attribute("data-stopped", "tol", timeout=60_000)
    line = page.inner_text("#params-line")
    w1, ssr = re.search(r"w1 = (\S+),", line)[1], re.search(r"SSR = (\S+)$", line)[1]
    page.click("#circuit-link")
    wait_ready(page)
    expect(page.locator("#in-w1")).to_have_value(re.compile("^" + re.escape(w1[:-1])))
    expect(page.locator("#output-value")).to_have_text(ssr)  # the SSR fitted, not 20.42


def test_a_refused_field_is_named_by_its_label_next_to_its_form(page: Page, base_url: str):
    """The message sits under the form of the field, in view as the field is: the page checks
    each field against its limits before it sends anything."""
    open_page(page, base_url)
    error = page.locator("#b3-error")
    for lr in ("0", "-1"):
        page.fill("#lr", lr)
        page.click("#step-b3")
        expect(error).to_have_text("learning rate: must be greater than 0")
        expect(error).to_be_in_viewport()
        expect(page.locator("#lr")).to_have_attribute("aria-invalid", "true")
    page.fill("#lr", "0.1")
    expect(page.locator("#lr")).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_be_hidden()
    error = page.locator("#seven-error")
    page.fill("#lr7", "0")
    page.click("#fit-seven")
    expect(error).to_have_text("learning rate: must be greater than 0")
    expect(error).to_be_in_viewport()
    expect(page.locator("#lr7")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#lr")).not_to_have_attribute("aria-invalid", "true")
    page.fill("#lr7", "0.1")
    page.fill("#steps7", "20000")
    page.click("#fit-seven")
    expect(error).to_have_text("steps: must be at most 10000")
    expect(page.locator("#steps7")).to_have_value("20000")  # what was typed stays
    page.fill("#steps7", "5000")
    page.fill("#seed", "-1")
    page.click("#fit-seven")
    expect(error).to_have_text("seed: must be a whole number from 0 to 4294967295")
    expect(page.locator("#seed")).to_have_attribute("aria-invalid", "true")
    assert page.locator("#seven-status").inner_text() == ""
    expect(page.locator("#lab-error")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]  # nothing was sent to be refused


def test_back_to_the_fitted_values_mid_run_ends_the_busy_indicator(page: Page, base_url: str):
    """Going back while the seven parameters' run is still playing stops it, and the page no
    longer says it is descending."""
    open_page(page, base_url)
    page.fill("#steps7", "2000")
    page.click("#fit-seven")
    expect(page.locator("#seven-status")).to_contain_text("step ")  # playing
    expect(page.locator("#busy")).to_be_visible()
    expect(page.locator("#busy")).to_be_in_viewport()  # the page is scrolled down to the button
    page.click("#reset-seven")
    expect(page.locator("#busy")).to_be_hidden()
    expect(page.locator("#status-text")).to_have_text("")


def test_back_to_b3_0_while_the_run_is_asked_for_leaves_the_table_empty(
        fresh_page: Page, base_url: str):
    page = fresh_page  # it adds an init script
    holding(page, "/api/descent")
    open_page(page, base_url)
    hold(page)
    page.click("#run-b3")
    expect(page.locator("#busy")).to_be_visible()
    page.click("#reset-b3")
    release(page)
    expect(page.locator("#busy")).to_be_hidden()  # the run's answer is in: it is dropped
    expect(page.locator("#params-line")).to_contain_text("b3 = 0;")
    assert page.locator("#steps tbody tr").count() == 0
    assert page.inner_text("#b3-status") == ""
    assert page.errors == []  # type: ignore[attr-defined]


# Requests to /api/circuit wait, while window.holding, in window.queue, each until let go.
HOLD_EACH_DRAWING = """
window.queue = [];
const send = window.fetch;
window.fetch = async (url, ...rest) => {
  if (window.holding && String(url).includes('/api/circuit')) {
    await new Promise((go) => window.queue.push(go));
  }
  return send(url, ...rest);
};"""


@pytest.fixture
def clocked_page(own_page: Page, base_url: str) -> Page:
    """The lab in a context of its own (a clock is a context's), drawings held as
    HOLD_EACH_DRAWING says, its clock paused: the pauses between steps pass when the test says."""
    page = own_page
    page.add_init_script(HOLD_EACH_DRAWING)
    page.clock.install()
    open_page(page, base_url)
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)
    return page


def test_back_to_b3_0_mid_walk_stops_the_walk(clocked_page: Page):
    """Reset while a step of the walk is being drawn: the walk stops there, and its drawing,
    answered after the reset, is not shown."""
    page = clocked_page
    rows = page.locator("#steps tbody tr")
    page.click("#run-b3")
    expect(rows).to_have_count(1, timeout=10_000)
    expect(page.locator("#params-line")).to_contain_text("b3 = 1.57")  # step 0 drawn
    page.evaluate("window.holding = true")
    page.clock.run_for(1000)  # the pause before step 1
    expect(rows).to_have_count(2)  # step 1 being drawn
    page.click("#reset-b3")
    expect(rows).to_have_count(0)
    page.wait_for_function("() => window.queue.length === 2")  # step 1's drawing and the reset's
    with page.expect_response("**/api/circuit"):
        page.evaluate("window.holding = false; window.queue.shift()()")  # step 1's comes first
    page.evaluate("window.queue.shift()()")
    expect(page.locator("#params-line")).to_contain_text("b3 = 0;")
    page.clock.run_for(10_000)  # the walk's pauses, were it going on
    expect(page.locator("#params-line")).to_contain_text("b3 = 0;")
    assert rows.count() == 0
    assert page.inner_text("#b3-status") == ""
    assert "SSR = 20.4" in page.inner_text("#params-line")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_step_taken_while_all_seven_are_fitted_stops_the_fit(clocked_page: Page):
    """A step on b3 taken while the seven parameters' fit plays ends the fit where it is."""
    page = clocked_page
    page.fill("#tol", "1e-9")  # the step is taken, however flat the fit has made the SSR
    status = page.locator("#seven-status")
    page.click("#fit-seven")
    expect(status).to_contain_text("step 0 of")
    page.evaluate("window.holding = true")
    page.clock.run_for(1000)  # the pause before the next frame: it is being drawn
    page.wait_for_function("() => window.queue.length === 1")
    page.click("#step-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(1, timeout=10_000)
    page.wait_for_function("() => window.queue.length === 2")  # the frame's drawing and the step's
    with page.expect_response("**/api/circuit"):
        page.evaluate("window.holding = false; window.queue.shift()()")
    page.evaluate("window.queue.shift()()")
    b3 = row(page, 0)[5]
    expect(page.locator("#params-line")).to_contain_text(f"b3 = {b3};")
    page.clock.run_for(60_000)  # the fit's pauses, were it going on
    expect(page.locator("#params-line")).to_contain_text(f"b3 = {b3};")
    expect(status).to_contain_text("step 0 of")
    expect(page.locator("#busy")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("clicks", [2, 3])
def test_clicks_on_step_while_one_is_asked_for_take_a_step_each(fresh_page: Page, base_url: str,
                                                                 clicks: int):
    """A click waits for the step before it, and steps on from where that lands."""
    page = fresh_page  # it adds an init script
    holding(page, "/api/descent")
    open_page(page, base_url)
    hold(page)
    page.click("#step-b3", click_count=clicks)
    release(page)
    expect(page.locator("#steps tbody tr")).to_have_count(clicks, timeout=10_000)
    assert row(page, 0) == ["0", "0", "20.4", "-15.7", "-1.57", "1.57"]
    assert row(page, 1)[:2] == ["1", "1.57"] and row(page, 1)[5] == "2.19"
    if clicks == 3:
        assert row(page, 2)[:2] == ["2", "2.19"]
    landed = row(page, clicks - 1)[5]
    expect(page.locator("#params-line")).to_contain_text(f"b3 = {landed};")
    page.wait_for_timeout(300)  # no click left over takes a step of its own later
    expect(page.locator("#steps tbody tr")).to_have_count(clicks)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_diverged_walk_stops_where_the_table_chart_and_status_say(page: Page, base_url: str):
    """The step that diverged is not taken: its row says so, and the next step takes it."""
    open_page(page, base_url)
    page.fill("#lr", "0.5")
    page.click("#run-b3")
    status = page.locator("#b3-status")
    expect(status).to_have_attribute("data-stopped", "diverged", timeout=30_000)
    assert row(page, 5)[:2] == ["5", "86.1"] and row(page, 5)[5].startswith("stop: ")
    expect(status).to_contain_text("b3 = 86.1")
    expect(page.locator("#params-line")).to_contain_text("b3 = 86.1;")
    page.click("#step-b3")
    expect(page.locator("#steps tbody tr")).to_have_count(7, timeout=10_000)
    assert row(page, 6)[:2] == ["6", "86.1"] and row(page, 6)[5] == "-164"
    expect(status).to_contain_text("b3 = -164")
    expect(page.locator("#params-line")).to_contain_text("b3 = -164;")
