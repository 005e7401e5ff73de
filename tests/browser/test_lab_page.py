"""The gradients lab page in Debian's chromium: charts drawn, activation change redraws them."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

from conftest import hold, holding, release, wait_ready
from playwright.sync_api import Page, expect

GRAD_LINES = "#chart-grad-var svg [aria-label='line'] path"


def open_lab(page: Page, base_url: str) -> None:
    """The lab with its first runs drawn: it marks itself ready then."""
    page.goto(f"{base_url}/labs/gradients")
    wait_ready(page, timeout=60_000)


def test_the_lab_is_ready_once_its_first_runs_are_drawn(page: Page, base_url: str):
    open_lab(page, base_url)
    for chart in ("chart-grad-var", "chart-saturated", "hist-a", "hist-b", "chart-cliff"):
        assert page.get_attribute(f"#{chart}", "data-state") == "ready", chart
    assert page.is_hidden("#busy")
    assert "A (tanh, standard" in page.inner_text("#flow-summary")
    assert "clipped one" in page.inner_text("#cliff-summary")


def test_lab_is_linked_from_the_circuit_page(page: Page, base_url: str):
    page.goto(base_url + "/")
    page.click("header.site a[href='/labs/gradients']")
    expect(page).to_have_url(f"{base_url}/labs/gradients")


def test_lab_draws_gradient_charts_histograms_and_the_cliff(page: Page, base_url: str):
    open_lab(page, base_url)
    assert page.locator(GRAD_LINES).count() == 2  # configurations A and B
    # one histogram row per layer of the default 5-layer networks, on each side
    for side in ("a", "b"):
        assert page.locator(f"#hist-{side} svg").count() == 5
    expect(page.locator("#chart-cliff svg").last).to_be_visible()
    assert page.locator("#chart-cliff g[aria-label='line'] path").count() == 2  # both paths
    expect(page.locator("#cliff-summary")).to_contain_text("clipped one")
    assert page.errors == []  # type: ignore[attr-defined]


def test_every_value_on_a_log_chart_lies_between_labelled_ticks(page: Page, base_url: str):
    open_lab(page, base_url)
    for chart in ("chart-grad-var", "chart-grad-norm", "chart-weight-grad"):
        labels = page.locator(f"#{chart} svg g[aria-label='y-axis tick label'] text")
        ticks = [float(t) for t in labels.all_text_contents()]
        boxes = sorted((labels.nth(i).bounding_box() for i in range(labels.count())),
                       key=lambda b: b["y"])
        pairs = zip(boxes, boxes[1:], strict=False)
        assert all(a["y"] + a["height"] <= b["y"] for a, b in pairs), (chart, ticks)
        titles = page.locator(f"#{chart} svg g[aria-label='dot'] title").all_text_contents()
        values = [float(t.rsplit(": ", 1)[1]) for t in titles]
        assert values and min(ticks) <= min(values) and max(values) <= max(ticks), (
            chart, ticks, values)


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
    expect(page.locator("#saturation-note")).to_contain_text("B: |tanh(s)| > 0.9")


def test_the_saturation_rule_shared_by_both_sides_is_said_once(page: Page, base_url: str):
    open_lab(page, base_url)  # tanh on both sides
    expect(page.locator("#saturation-note")).to_have_text(
        "A and B: |tanh(s)| > 0.9, where the slope 1 - tanh² is below 0.19")


def test_lines_that_lie_on_each_other_both_show(page: Page, base_url: str):
    """The exploding preset's two relu networks switch off the same units (the same draws times
    another factor): their saturation lines coincide, B's is dashed over A's and a note says so."""
    open_lab(page, base_url)
    page.click("[data-preset='exploding']")
    expect(page.locator("#flow-summary")).to_contain_text("A (relu, normal", timeout=60_000)
    expect(page.locator("#chart-saturated")).not_to_have_class(re.compile("stale"),
                                                                 timeout=60_000)
    lines = page.locator("#chart-saturated svg [aria-label='line'] path")
    expect(lines).to_have_count(2)
    assert lines.nth(0).get_attribute("d") == lines.nth(1).get_attribute("d")
    dashes = lines.evaluate_all("ps => ps.map((p) => getComputedStyle(p).strokeDasharray)")
    assert dashes[0] == "none" and dashes[1] != "none", dashes  # A solid, B dashed
    expect(page.locator("#saturation-note")).to_contain_text(
        "A and B have the same fraction at every layer: B’s dashed line lies on A’s.")
    page.click("[data-preset='glorot']")  # tanh: the lines part, and so does the note
    expect(page.locator("#flow-summary")).to_contain_text("A (tanh, standard", timeout=60_000)
    expect(page.locator("#saturation-note")).not_to_contain_text("same fraction")


def test_a_run_far_down_the_page_shows_its_progress_in_view(fresh_page: Page, base_url: str):
    page = fresh_page  # it holds the cliff's requests
    holding(page, "/api/labs/cliff")
    open_lab(page, base_url)
    hold(page)
    page.locator("#run-cliff").scroll_into_view_if_needed()
    page.click("#run-cliff")
    expect(page.locator("#status-text")).to_have_text(
        "Computing the loss surface and both descent paths…")
    expect(page.locator("#busy")).to_be_in_viewport()
    expect(page.locator("#status-text")).to_be_in_viewport()
    expect(page.locator("#chart-cliff")).to_have_class(re.compile("stale"))
    release(page)
    expect(page.locator("#busy")).to_be_hidden()
    expect(page.locator("#chart-cliff")).not_to_have_class(re.compile("stale"))


def test_bad_input_shows_a_clear_error(page: Page, base_url: str):
    open_lab(page, base_url)
    page.fill("fieldset[data-side='b'] input[name='depth']", "500")
    error = page.locator("#flow-error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_have_text("Configuration B, depth: must be at most 100")
    expect(page.locator("fieldset[data-side='b'] input[name='depth']")).to_have_attribute(
        "aria-invalid", "true")
    expect(page.locator("#run-flow")).to_be_disabled()
    page.fill("fieldset[data-side='b'] input[name='depth']", "")
    expect(error).to_have_text("Configuration B, depth: must be a number")
    page.fill("fieldset[data-side='b'] input[name='depth']", "5")
    expect(error).to_be_hidden()
    expect(page.locator("fieldset[data-side='b'] input[name='depth']")).not_to_have_attribute(
        "aria-invalid", "true")
    expect(page.locator("#run-flow")).to_be_enabled()


def test_a_preset_that_fills_a_refused_field_with_a_valid_value_clears_its_mark(page: Page,
                                                                             base_url: str):
    open_lab(page, base_url)
    depth = page.locator("fieldset[data-side='a'] input[name='depth']")
    depth.fill("0")
    error = page.locator("#flow-error")
    expect(error).to_have_text("Configuration A, depth: must be at least 1")
    expect(depth).to_have_attribute("aria-invalid", "true")
    page.click("[data-preset=he]")  # A's depth is the preset's 30: nothing is wrong any more
    expect(depth).to_have_value("30")
    expect(depth).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_be_hidden()
    expect(page.locator("#flow-summary")).to_contain_text("A (relu, xavier, 30×512)",
                                                          timeout=60_000)


def test_a_field_the_server_refuses_is_named_by_its_label_and_marked(page: Page, base_url: str):
    open_lab(page, base_url)
    depth = page.locator("fieldset[data-side='a'] input[name='depth']")
    depth.fill("2.5")
    error = page.locator("#flow-error")
    expect(error).to_have_text("Configuration A, depth: must be a whole number", timeout=30_000)
    expect(depth).to_have_attribute("aria-invalid", "true")
    cliff = page.locator("#cliff-error")
    lr = page.locator("#cliff-form input[name='lr']")
    lr.fill("0")
    expect(cliff).to_have_text("learning rate: must be greater than 0", timeout=30_000)
    expect(lr).to_have_attribute("aria-invalid", "true")
    lr.fill("3")
    expect(lr).not_to_have_attribute("aria-invalid", "true")
    steps = page.locator("#cliff-form input[name='iterations']")
    steps.fill("0")
    expect(cliff).to_have_text("steps: must be at least 1", timeout=30_000)
    expect(steps).to_have_attribute("aria-invalid", "true")


def test_a_field_the_server_wants_above_zero_is_refused_at_zero_before_it_sends(
        fresh_page: Page, base_url: str):
    """lr, threshold and scale must be greater than 0 (the schema's gt): 0 is named by the page."""
    page = fresh_page  # it adds listeners
    open_lab(page, base_url)
    sent = []  # the bodies of every cliff and gradient-flow request from here on
    page.on("request", lambda r: "/api/labs/" in r.url and sent.append(json.loads(r.post_data)))
    for name, message in [("lr", "learning rate: must be greater than 0"),
                          ("threshold", "clip threshold: must be greater than 0")]:
        field = page.locator(f"#cliff-form input[name='{name}']")
        kept = field.input_value()
        field.fill("0")
        field.press("Enter")
        expect(page.locator("#cliff-error")).to_have_text(message)
        expect(field).to_have_attribute("aria-invalid", "true")
        field.fill("-1")  # still wrong: still marked
        expect(field).to_have_attribute("aria-invalid", "true")
        field.fill(kept)
        expect(field).not_to_have_attribute("aria-invalid", "true")
    scale = page.locator("fieldset[data-side='a'] input[name='scale']")
    scale.fill("0")
    expect(page.locator("#flow-error")).to_have_text(
        "Configuration A, scale: must be greater than 0")
    expect(scale).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#run-flow")).to_be_disabled()
    assert all(b.get(k, 1) > 0 for b in sent for k in ("lr", "threshold", "scale")), sent
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_form_names_a_combined_limit_before_it_sends(fresh_page: Page, base_url: str):
    """Each field in its bounds, together over one: the schema's combined limits are the form's."""
    page = fresh_page  # it adds listeners
    open_lab(page, base_url)
    sent = []  # the bodies of every gradient-flow request from here on
    page.on("request", lambda r: "/api/labs/gradient-flow" in r.url
            and sent.append(json.loads(r.post_data)))
    page.fill("fieldset[data-side='a'] input[name='depth']", "20")
    page.fill("fieldset[data-side='a'] input[name='width']", "1000")
    error = page.locator("#flow-error")
    expect(error).to_contain_text(
        "depth × width² = 20,000,000 weights is more than the limit of 8,388,608")
    expect(page.locator("#run-flow")).to_be_disabled()
    page.fill("fieldset[data-side='a'] input[name='width']", "400")  # 3.2 M weights
    page.fill("fieldset[data-side='a'] input[name='batch']", "512")  # 4,096,000 activations
    expect(error).to_be_hidden()
    expect(page.locator("#run-flow")).to_be_enabled()
    page.fill("fieldset[data-side='a'] input[name='depth']", "21")  # 4,300,800: one layer too many
    expect(error).to_contain_text("depth × width × batch = 4,300,800 activations is more than")
    page.press("fieldset[data-side='a'] input[name='depth']", "Enter")  # no submit either
    page.fill("fieldset[data-side='a'] input[name='batch']", "64")
    expect(page.locator("#run-flow")).to_be_enabled()
    expect(page.locator("#flow-summary")).to_contain_text("21×400", timeout=60_000)
    expect(page.locator("#busy")).to_be_hidden(timeout=60_000)
    # Whatever was sent since the first keystroke (typing reruns, Enter submits) was in bounds.
    assert sent and all(b["depth"] * b["width"] ** 2 <= 2**23
                        and b["depth"] * b["width"] * b["batch"] <= 2**22 for b in sent), sent
    assert page.errors == []  # type: ignore[attr-defined]


def test_sigmoid_chain_link_opens_the_playground_with_magnitude_colouring(page: Page,
                                                                            base_url: str):
    open_lab(page, base_url)
    href = page.get_attribute("#sigmoid-chain", "href")
    params = parse_qs(urlsplit(href).fragment)
    assert unquote(params["e"][0]) == "sigmoid(" * 10 + "x" + ")" * 10
    assert params["m"] == ["1"]
    page.click("#sigmoid-chain")
    expect(page.locator("#magnitude")).to_be_checked(timeout=30_000)
    expect(page.locator("#expr")).to_have_text("sigmoid(" * 10 + "x" + ")" * 10)


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


def test_the_he_preset_runs_a_then_b_and_completes(fresh_page: Page, base_url: str):
    page = fresh_page  # it adds listeners
    open_lab(page, base_url)
    in_flight, most = set(), []
    flow = "/api/labs/gradient-flow"
    page.on("request", lambda r: flow in r.url and (in_flight.add(r), most.append(len(in_flight))))
    page.on("requestfinished", lambda r: in_flight.discard(r))
    page.on("requestfailed", lambda r: in_flight.discard(r))
    page.click("[data-preset=he]")
    summary = page.locator("#flow-summary")
    expect(summary).to_contain_text("A (relu, xavier, 30×512)", timeout=60_000)
    expect(summary).to_contain_text("B (relu, he, 30×512)")
    expect(page.locator("#busy")).to_be_hidden(timeout=60_000)
    expect(page.locator("#flow-error")).to_be_hidden()
    assert most and max(most) == 1, "A and B ran one after the other"
    chart = page.locator("#chart-grad-var")
    expect(chart).not_to_have_class(re.compile("stale"))
    # The legend names each configuration; the log axis reads 1e-7, never "100n".
    expect(chart.locator("figure")).to_contain_text("A: relu, xavier, 30×512")
    expect(chart.locator("figure")).to_contain_text("B: relu, he, 30×512")
    ticks = chart.locator("svg g[aria-label='y-axis tick label'] text").all_text_contents()
    assert ticks and all(re.fullmatch(r"[\d.]+(e-?\d+)?", t) for t in ticks), ticks
    assert any("e-" in t for t in ticks), ticks


def test_a_refused_run_is_shown_by_its_charts_which_are_marked_stale(page: Page, base_url: str):
    open_lab(page, base_url)
    assert page.get_attribute("fieldset[data-side='a'] input[name='depth']", "max") == "100"
    assert page.get_attribute("fieldset[data-side='a'] input[name='width']", "max") == "1024"
    page.fill("fieldset[data-side='a'] input[name='depth']", "100")  # each field in its limits,
    page.fill("fieldset[data-side='a'] input[name='width']", "1024")  # too many weights together
    error = page.locator("#flow-error")  # rerun by typing alone, no button
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("weights")
    expect(page.locator("#chart-grad-var")).to_have_class(re.compile("stale"))
    expect(page.locator("#flow-summary")).to_have_class(re.compile("stale"))  # it is the old run's
    box, charts = error.bounding_box(), page.locator(".charts").bounding_box()
    assert 0 <= charts["y"] - (box["y"] + box["height"]) < 40, "the error sits above its charts"
    page.fill("fieldset[data-side='a'] input[name='width']", "64")
    expect(error).to_be_hidden(timeout=30_000)
    expect(page.locator("#flow-summary")).not_to_have_class(re.compile("stale"), timeout=30_000)


def test_the_rows_whose_ratio_is_not_near_1_say_why(page: Page, base_url: str):
    open_lab(page, base_url)
    page.click("#run-papers")
    row = page.locator("#papers tr[data-row='glorot-xavier']")
    ours = row.locator(".ours")
    expect(ours).to_contain_text("with linear units", timeout=60_000)
    tanh, linear = (float(x) for x in re.findall(
        r"ratio ([\d.e+-]+),.*with linear units ([\d.e+-]+)", ours.inner_text())[0])
    assert tanh < 0.2 and 0.8 < linear < 1.25, ours.inner_text()
    expect(row).to_contain_text("linear regime")
    expect(row).to_contain_text("where its slope is 1")
    he = page.locator("#papers tr[data-row='he-he']")
    expect(he.locator(".ours")).to_contain_text("ratio 0.554", timeout=120_000)
    expect(he).to_contain_text("Seeds 0 to 19 give 0.55 (seed 0) to 1.48")
    expect(page.locator("#papers-error")).to_be_hidden()


def test_histogram_ticks_of_huge_activations_do_not_overlap(page: Page, base_url: str):
    open_lab(page, base_url)
    page.click("[data-preset='exploding']")  # A's activations reach about 3e11
    expect(page.locator("#flow-summary")).to_contain_text("A (relu, normal", timeout=60_000)
    labels = page.locator("#hist-a svg").last.locator("g[aria-label='x-axis tick label'] text")
    texts = labels.all_text_contents()
    assert len(texts) >= 3 and all(len(t) <= 6 for t in texts), texts
    boxes = sorted((labels.nth(i).bounding_box() for i in range(labels.count())),
                   key=lambda b: b["x"])
    assert all(a["x"] + a["width"] <= b["x"] for a, b in zip(boxes, boxes[1:], strict=False)), (
        texts, boxes)


# Per layer, in order: the left and right ends of its bars that hold any count, in pixels.
BAR_SPANS = """(id) => {
  const rows = new Map();
  for (const r of document.querySelectorAll(`#${id} svg g[aria-label='rect'] rect`)) {
    if (!(r.getBoundingClientRect().height > 0)) continue;
    const box = r.getBoundingClientRect();
    const [lo, hi] = rows.get(r.parentNode) ?? [Infinity, -Infinity];
    rows.set(r.parentNode, [Math.min(lo, box.left), Math.max(hi, box.right)]);
  }
  return [...rows.values()];
}"""


def test_every_layers_histogram_fills_its_row_when_the_layers_differ_in_size(page: Page,
                                                                           base_url: str):
    """Under the exploding preset layer 10's activations are 1e10 times layer 1's: on one x
    scale layers 1 to 9 would be a sliver at 0. Each layer has its own scale, and says so."""
    open_lab(page, base_url)
    page.click("[data-preset='exploding']")
    expect(page.locator("#flow-summary")).to_contain_text("A (relu, normal", timeout=60_000)
    expect(page.locator("#hist-a")).not_to_have_class(re.compile("stale"), timeout=60_000)
    spans = page.evaluate(BAR_SPANS, "hist-a")
    widths = [hi - lo for lo, hi in spans]
    assert len(widths) == 10 and min(widths) > 0.6 * max(widths), widths
    expect(page.locator("#hist-a")).to_contain_text("Each layer has its own x scale")
    # each row's own axis: layer 1's numbers in the tens, layer 10's past 1e11
    axes = page.locator("#hist-a svg")
    first = axes.first.locator("g[aria-label='x-axis tick label'] text").all_text_contents()
    last = axes.last.locator("g[aria-label='x-axis tick label'] text").all_text_contents()
    assert max(map(float, first)) < 100 and max(map(float, last)) > 1e11, (first, last)
    # relu's units at 0 are half of each layer: their bar is cut off and labelled with its share
    share = axes.first.locator("g[aria-label='text'] text").first
    expect(share).to_have_text(re.compile(r"^5\d%$"))
    # tanh layers share one range, and one axis under the last
    page.click("[data-preset='glorot']")
    expect(page.locator("#flow-summary")).to_contain_text("A (tanh, standard", timeout=60_000)
    expect(page.locator("#hist-a")).not_to_have_class(re.compile("stale"), timeout=60_000)
    assert page.locator("#hist-a svg g[aria-label='x-axis tick label']").count() == 1
    expect(page.locator("#hist-a")).not_to_contain_text("Each layer has its own x scale")


def test_one_layer_networks_are_drawn_without_warnings(page: Page, base_url: str):
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    open_lab(page, base_url)
    for side in ("a", "b"):
        page.fill(f"fieldset[data-side='{side}'] input[name='depth']", "1")
    expect(page.locator("#flow-summary")).to_contain_text("B (tanh, xavier, 1×1000)",
                                                          timeout=30_000)
    assert warnings == []


# How opaque an element is drawn inside its chart box: its own opacity times its parents'.
SEEN_OPACITY = """(el) => {
  let seen = 1;
  for (let e = el; !e.classList.contains('chart'); e = e.parentElement) {
    seen *= Number(getComputedStyle(e).opacity);
  }
  return Math.round(seen * 100) / 100;
}"""


def test_a_stale_chart_is_dimmed_and_its_notes_stay_readable(page: Page, base_url: str):
    open_lab(page, base_url)
    page.click("[data-preset='exploding']")
    expect(page.locator("#flow-summary")).to_contain_text("A (relu, normal", timeout=60_000)
    hist = page.locator("#hist-a")
    expect(hist).not_to_have_class(re.compile("stale"), timeout=60_000)
    page.fill("fieldset[data-side='a'] input[name='depth']", "0")  # refused: the charts are old
    expect(hist).to_have_class(re.compile("stale"))
    expect(hist.locator(".hint")).to_contain_text("Each layer has its own x scale")
    assert hist.locator("svg").first.evaluate(SEEN_OPACITY) == 0.45
    assert hist.locator(".hint").evaluate(SEEN_OPACITY) == 1


def test_gradients_that_underflow_to_zero_are_said_not_silently_left_out(page: Page,
                                                                         base_url: str):
    open_lab(page, base_url)
    a = "fieldset[data-side='a']"
    page.fill(f"{a} input[name='depth']", "10")
    page.fill(f"{a} input[name='width']", "64")
    page.fill(f"{a} input[name='scale']", "1e-300")
    page.click("#run-flow")
    summary = page.locator("#flow-summary")
    expect(summary).to_contain_text("A (tanh, standard ×1e-300, 10×64)", timeout=60_000)
    expect(summary).to_contain_text("grad variance layer 1 / layer 10: no ratio, both are 0")
    expect(summary).not_to_contain_text("NaN")
    warnings = page.locator("#flow-warnings")
    expect(warnings).to_be_visible()
    expect(warnings).to_contain_text("A: tanh, standard init ×1e-300, depth 10, width 64: in "
                                     "layers 1–9 the gradient ∂L/∂s underflowed to 0")
    expect(warnings).not_to_contain_text("B:")  # B, the default xavier net, is healthy
    expect(page.locator("#chart-grad-var")).to_contain_text(
        "Not drawn: A’s layers 1–10 (0 or not finite")
    expect(page.locator("#chart-grad-norm")).to_contain_text("Not drawn: A’s layers 1–9 (")
    page.fill(f"{a} input[name='scale']", "1")  # back to a healthy net: the warnings go
    page.click("#run-flow")
    expect(summary).to_contain_text("A (tanh, standard, 10×64)", timeout=60_000)
    expect(warnings).to_be_hidden()
    expect(page.locator("#chart-grad-var")).not_to_contain_text("Not drawn")


def test_a_cliff_start_off_the_usual_area_widens_the_surface_to_take_it_in(page: Page,
                                                                           base_url: str):
    open_lab(page, base_url)
    summary = page.locator("#cliff-summary")
    expect(summary).not_to_contain_text("outside")  # the default start lies on the usual area
    page.fill("#cliff-form input[name='start_w']", "40")
    page.fill("#cliff-form input[name='start_b']", "30")
    page.click("#run-cliff")
    expect(summary).to_contain_text(
        "The start (40, 30) lies outside the usual area (w from 0 to 10, b from -6 to 2): the "
        "surface is drawn over w from 0 to 42 and b from -6 to 31.8.", timeout=60_000)
    expect(page.locator("#chart-cliff")).not_to_have_class(re.compile("stale"), timeout=30_000)
    chart = page.locator("#chart-cliff svg").last
    frame = chart.locator("g[aria-label='rect']").bounding_box()
    start = chart.locator("g[aria-label='dot'] circle").first.bounding_box()
    middle = (start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    assert frame["x"] <= middle[0] <= frame["x"] + frame["width"], (frame, start)
    assert frame["y"] <= middle[1] <= frame["y"] + frame["height"], (frame, start)
    page.fill("#cliff-form input[name='start_w']", "4")  # back on the usual area
    page.fill("#cliff-form input[name='start_b']", "-4")
    page.click("#run-cliff")
    expect(summary).to_contain_text("clipped one", timeout=60_000)
    expect(summary).not_to_contain_text("outside")


def test_the_papers_row_of_the_cliff_is_the_papers_setting_not_the_forms(page: Page,
                                                                         base_url: str):
    """Ours for Pascanu et al. is the cliff run at the paper's setting (the form's defaults):
    another threshold typed in the cliff's form changes the chart below, not the table."""
    open_lab(page, base_url)
    page.click("#run-papers")
    ours = page.locator("#papers tr[data-row='pascanu'] .ours")
    expect(ours).to_have_text("step at the wall 36.7 plain vs 0.9 clipped", timeout=120_000)
    page.fill("#cliff-form input[name='threshold']", "1000")
    page.click("#run-cliff")
    expect(page.locator("#cliff-summary")).to_contain_text("never exceeded the threshold",
                                                           timeout=60_000)
    expect(ours).to_have_text("step at the wall 36.7 plain vs 0.9 clipped")


def test_the_cliff_summary_names_the_step_at_the_wall_as_its_arrow_does(page: Page,
                                                                        base_url: str):
    open_lab(page, base_url)  # the default run: the plain step at the wall leaves the chart
    note = page.locator("#chart-cliff svg g[aria-label='text'] text")
    expect(note).to_have_text(re.compile(r"^step \d+ → "))
    step = re.match(r"step (\d+)", note.text_content())[1]
    expect(page.locator("#cliff-summary")).to_contain_text(
        re.compile(rf"^Step {step} leaves \(w, b\) = .*the plain step is 36\.7 long"))
