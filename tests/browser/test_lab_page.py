"""The gradients lab page in Debian's chromium: charts drawn, activation change redraws them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

from playwright.sync_api import Page, expect

GRAD_LINES = "#chart-grad-var svg [aria-label='line'] path"


def open_lab(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/labs/gradients")
    expect(page.locator("#chart-grad-var")).to_have_attribute("data-state", "ready",
                                                              timeout=30_000)
    expect(page.locator("#busy")).to_be_hidden(timeout=60_000)


def test_lab_is_linked_from_the_circuit_page(page: Page, base_url: str):
    page.goto(base_url + "/")
    page.click("header.site a[href='/labs/gradients']")
    expect(page).to_have_url(f"{base_url}/labs/gradients")


def test_lab_draws_gradient_charts_histograms_and_the_cliff(page: Page, base_url: str):
    open_lab(page, base_url)
    assert page.locator(GRAD_LINES).count() == 2  # configurations A and B
    # one histogram row per layer of the default 5-layer networks, on each side
    for side in ("a", "b"):
        assert page.locator(f"#hist-{side} svg g[aria-label='rect'] > g").count() == 5
    expect(page.locator("#chart-cliff svg").last).to_be_visible()
    assert page.locator("#chart-cliff g[aria-label='line'] path").count() == 2  # both paths
    expect(page.locator("#cliff-summary")).to_contain_text("clipped one")
    expect(page.locator("#papers tr[data-row='he-he'] .ours")).to_contain_text("ratio")
    assert page.errors == []  # type: ignore[attr-defined]


def test_changing_the_activation_changes_the_chart(page: Page, base_url: str):
    open_lab(page, base_url)
    line_a = page.locator(GRAD_LINES).first
    before = line_a.get_attribute("d")
    summary_before = page.inner_text("#flow-summary")
    page.select_option("fieldset[data-side='a'] select[name='activation']", "relu")
    expect(page.locator("#flow-summary")).to_contain_text("A (relu", timeout=30_000)
    expect(page.locator("#busy")).to_be_hidden(timeout=30_000)
    assert page.locator(GRAD_LINES).first.get_attribute("d") != before
    assert page.inner_text("#flow-summary") != summary_before
    expect(page.locator("#saturation-note")).to_contain_text("dead unit")


def test_bad_input_shows_a_clear_error(page: Page, base_url: str):
    open_lab(page, base_url)
    page.fill("fieldset[data-side='b'] input[name='depth']", "500")
    page.click("#run-flow")
    error = page.locator("#lab-error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("depth")
    page.fill("fieldset[data-side='b'] input[name='depth']", "")
    page.click("#run-flow")
    expect(error).to_contain_text("depth must be a number")


def test_sigmoid_chain_link_opens_the_playground_with_magnitude_colouring(page: Page,
                                                                            base_url: str):
    open_lab(page, base_url)
    href = page.get_attribute("#sigmoid-chain", "href")
    params = parse_qs(urlsplit(href).fragment)
    assert unquote(params["e"][0]) == "sigmoid(" * 10 + "x" + ")" * 10
    assert params["m"] == ["1"]
    page.click("#sigmoid-chain")
    expect(page.locator("#magnitude")).to_be_checked(timeout=30_000)
    expect(page.locator("#expr")).to_have_value("sigmoid(" * 10 + "x" + ")" * 10)


def test_a_step_that_leaves_the_cliff_chart_ends_in_an_arrow_at_its_edge(page: Page,
                                                                        base_url: str):
    open_lab(page, base_url)
    chart = page.locator("#chart-cliff svg").last
    frame = chart.locator("g[aria-label='rect']").bounding_box()  # the loss grid
    lines = chart.locator("g[aria-label='line']")
    assert lines.get_attribute("clip-path"), "the paths are clipped to the grid"
    arrow = chart.locator("g[aria-label='arrow'] path")
    expect(arrow).to_have_count(1)  # the default run: the plain step at the wall jumps off
    head = arrow.bounding_box()
    # Gaps between the arrow's box and the grid's edges: top, bottom, left, right.
    edges = (head["y"] - frame["y"], frame["y"] + frame["height"] - head["y"] - head["height"],
             head["x"] - frame["x"], frame["x"] + frame["width"] - head["x"] - head["width"])
    assert min(edges) > -1.5, "the arrow stays on the grid"
    assert min(edges) < 2, "the arrow ends at an edge of the grid"
    note = chart.locator("g[aria-label='text'] text")
    expect(note).to_have_text(re.compile(r"^step \d+ → \(-?[\d.e+-]+, -?[\d.e+-]+\)$"))
    box = note.bounding_box()
    assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
    assert frame["y"] <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"]
