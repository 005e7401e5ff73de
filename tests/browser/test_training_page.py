"""The training lab in Debian's chromium: curves, boundary and the notes' check while training."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import wait_ready
from playwright.sync_api import Page, expect


def test_training_draws_curves_and_boundary_while_it_trains(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training#hidden=20&epochs=1000")
    wait_ready(page)
    assert page.input_value("input[name='hidden']") == "20"
    # Every boundary the page paints, by the iteration it shows, recorded as it happens: a short
    # run is judged by what was drawn during it, not by what was on show when the test looked.
    page.evaluate("""() => {
      const chart = document.getElementById('chart-boundary');
      window.painted = [];
      new MutationObserver(() => window.painted.push(Number(chart.dataset.iteration)))
        .observe(chart, { attributes: true, attributeFilter: ['data-iteration'] });
    }""")
    page.click("#train")
    # while it trains: the curves and the boundary are drawn before the run is over
    expect(page.locator("#chart-boundary svg g[aria-label='rect']")).to_have_count(
        1, timeout=30_000)
    expect(page.locator("#chart-loss svg [aria-label='line'] path")).to_have_count(1)
    expect(page.locator("#progress")).to_contain_text("epoch")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs",
                                                        timeout=60_000)
    painted = page.evaluate("window.painted")
    last = int(page.get_attribute("#chart-boundary", "data-iteration"))
    assert painted == sorted(painted) and painted[-1] == last, painted
    assert len(set(painted)) >= 2 and painted[0] < last, f"repainted while training: {painted}"
    expect(page.locator("#progress")).to_contain_text("done: 1000 epochs")
    assert page.locator("#chart-grads svg [aria-label='line'] path").count() == 4  # W1 b1 W2 b2
    assert page.locator("#chart-boundary svg [aria-label='dot'] circle").count() == 300
    expect(page.locator("#check")).to_contain_text(re.compile(r"∇W1: (0|\d\.?\d?e-\d+),"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_fresh_page_shows_the_data_and_what_each_chart_will_show(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    box = page.locator("#chart-boundary")
    dots = box.locator("svg [aria-label='dot'] circle")
    classes = box.locator("[class$='-swatch']")

    def drawn() -> list[tuple[str, str, str]]:
        return dots.evaluate_all("cs => cs.map(c => [c.getAttribute('cx'), c.getAttribute('cy'), "
                                 "c.getAttribute('fill')])")

    # before any training: the spiral's 300 points in their 3 classes' colours, no regions yet
    # (made in a worker process: the first page of a session may wait for the workers to start)
    expect(dots).to_have_count(300, timeout=30_000)
    expect(classes).to_have_count(3)
    expect(box.locator("svg g[aria-label='rect']")).to_have_count(0)
    expect(box).to_contain_text("The network's regions appear here as it trains.")
    assert len({fill for _, _, fill in drawn()}) == 3
    for chart, says in [("loss", "The loss, iteration by iteration, appears here"),
                        ("accuracy", "The share of examples classed right appears here"),
                        ("grads", "Each parameter's gradient norm appears here")]:
        expect(page.locator(f"#chart-{chart}")).to_contain_text(says)
    spiral = drawn()
    # another data set, another seed: other points
    page.select_option("#dataset", "circles")
    expect(classes).to_have_count(2)
    circles = drawn()
    assert len(circles) == 300 and circles != spiral
    page.fill("input[name='seed']", "3")
    expect(dots.first).not_to_have_attribute("cx", circles[0][0])
    assert len(drawn()) == 300
    page.fill("input[name='seed']", "-1")
    expect(box).to_have_text("No data to show: the seed must be at least 0.")
    page.fill("input[name='seed']", "0")
    expect(classes).to_have_count(2)
    assert drawn() == circles
    # the digits are not 2-D: what they are, in words
    page.select_option("#dataset", "digits")
    expect(box).to_have_text("Not 2-D data, so no boundary to draw: 1,437 images of handwritten "
                             "digits to train on and 360 held out to test, each of 64 numbers "
                             "(8×8 pixels), in 10 classes.")
    # training replaces the points alone with the network's regions under them, as it goes
    page.select_option("#dataset", "spiral")
    expect(classes).to_have_count(3)
    assert drawn() == spiral
    page.fill("input[name='hidden']", "20")
    page.fill("input[name='epochs']", "300")
    page.click("#train")
    expect(box.locator("svg g[aria-label='rect']")).to_have_count(1, timeout=30_000)
    expect(dots).to_have_count(300)
    assert "regions appear" not in box.inner_text()
    expect(page.locator("#chart-loss svg [aria-label='line'] path")).to_have_count(1)
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    # a finished run's charts go with its data: another data set starts afresh
    page.select_option("#dataset", "xor")
    expect(classes).to_have_count(2)
    expect(box.locator("svg g[aria-label='rect']")).to_have_count(0)
    expect(page.locator("#chart-loss")).to_contain_text("appears here when the network trains")
    expect(page.locator("#progress")).to_have_text("")
    assert page.errors == []  # type: ignore[attr-defined]


def test_reset_during_a_run_ends_it_and_the_next_run_can_start(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training#hidden=20&epochs=100000")
    wait_ready(page)
    page.click("#train")
    expect(page.locator("#chart-loss svg [aria-label='line'] path")).to_have_count(
        1, timeout=30_000)
    page.click("#reset")
    expect(page.locator("#train")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#chart-boundary svg [aria-label='dot'] circle")).to_have_count(300)
    expect(page.locator("#chart-boundary svg g[aria-label='rect']")).to_have_count(0)
    expect(page.locator("#chart-loss")).to_contain_text("appears here when the network trains")
    expect(page.locator("#progress")).to_have_text("")
    page.fill("input[name='epochs']", "100")
    page.click("#train")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    assert page.errors == []  # type: ignore[attr-defined]


def test_controls_are_kept_in_the_url_and_stop_ends_the_run(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    page.click("[data-preset='digits']")
    params = parse_qs(urlsplit(page.url).fragment)
    assert params["dataset"] == ["digits"] and params["hidden"] == ["64"]
    link = parse_qs(urlsplit(page.get_attribute("#circuit-link", "href")).fragment)
    assert "softmax_ce" in link["e"][0] and '"randn":[64,64]' in link["v"][0]
    page.fill("input[name='epochs']", "50")
    page.click("#train")
    expect(page.locator("#progress")).to_contain_text("test accuracy", timeout=30_000)
    page.click("#stop")
    expect(page.locator("#progress")).to_contain_text("stopped")
    expect(page.locator("#train")).to_be_enabled()


def test_a_refused_field_is_named_by_its_label_and_marked_until_valid(page: Page,
                                                                      base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    error = page.locator("#lab-error")
    for name, value, still_wrong, message in [
            ("lr", "0", "-0.5", "learning rate: must be greater than 0"),
            ("lr", "200", "150", "learning rate: must be at most 100"),
            ("reg", "11", "10.5", "L2 reg: must be at most 10"),
            ("hidden", "-1", "-2", "hidden units: must be at least 0"),
            ("epochs", "0", "0.5", "epochs: must be at least 1"),
            ("batch", "1.5", "2.5", "batch: must be a whole number")]:
        field = page.locator(f"input[name='{name}']")
        kept = field.input_value()
        field.fill(value)
        page.click("#train")
        expect(error).to_have_text(message)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#progress")).to_have_text("not started")  # not "starting…"
        assert field.input_value() == value
        field.fill(still_wrong)  # edited, still wrong: the mark and the message stay
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(error).to_have_text(message)
        field.fill(kept)
        expect(field).not_to_have_attribute("aria-invalid", "true")
        expect(error).to_be_hidden()
    assert all("status of 422" in e for e in page.errors), page.errors  # type: ignore[attr-defined]


def test_a_preset_that_fills_a_refused_field_with_a_valid_value_clears_its_error(
        page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    lr = page.locator("input[name='lr']")
    lr.fill("-1")
    page.click("#train")
    error = page.locator("#lab-error")
    expect(error).to_have_text("learning rate: must be greater than 0")
    expect(lr).to_have_attribute("aria-invalid", "true")
    page.click("[data-preset='digits']")
    expect(lr).to_have_value("0.5")
    expect(lr).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_be_hidden()


def test_a_link_that_fills_a_refused_field_with_a_valid_value_clears_its_error(
        fresh_page: Page, base_url: str):
    page = fresh_page  # its URL changes
    page.goto(f"{base_url}/labs/training#hidden=-5")
    wait_ready(page)
    hidden = page.locator("input[name='hidden']")
    page.click("#train")
    error = page.locator("#lab-error")
    expect(error).to_have_text("hidden units: must be at least 0")
    expect(hidden).to_have_attribute("aria-invalid", "true")
    page.evaluate("location.hash = '#hidden=20&epochs=50'")
    expect(hidden).to_have_value("20")
    expect(hidden).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_be_hidden()
    page.click("#train")
    expect(page.locator("#progress")).to_contain_text("done: 50 epochs", timeout=60_000)
    expect(hidden).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_be_hidden()
    assert all("status of 422" in e for e in page.errors), page.errors  # type: ignore[attr-defined]


def test_the_notes_net_has_plain_loss_ticks_and_no_test_legend_without_a_test_set(
        page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    page.click("[data-preset='notes']")
    page.fill("input[name='epochs']", "300")
    page.click("#train")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    for chart in ("chart-loss", "chart-grads"):
        ticks = page.locator(f"#{chart} svg g[aria-label='y-axis tick label'] text")
        texts = ticks.all_text_contents()
        assert texts and all(re.fullmatch(r"[\d.]+(e-?\d+)?", t) for t in texts), (chart, texts)
    legend = page.locator("#chart-accuracy").inner_text()
    assert "training" in legend and "test" not in legend, legend
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_notes_net_says_why_it_stays_near_half_right(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    note = page.locator("#wedges")
    page.click("[data-preset='notes']")
    page.fill("input[name='epochs']", "100")
    expect(note).to_be_hidden()  # a run's note: none before the run
    page.click("#train")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    expect(note).to_be_visible()
    expect(note).to_contain_text("all the points on a ray from the centre get one class")
    expect(note).to_contain_text("each ray crosses two different arms")
    assert "rings" not in note.inner_text()  # the circles' sentence is hidden
    page.select_option("#dataset", "circles")
    page.click("#train")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    expect(note).to_contain_text("Each ray crosses both rings")
    assert "arms" not in note.inner_text()
    page.check("input[name='bias']")  # with biases the regions need not be wedges
    page.click("#train")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    expect(note).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_limit_on_several_fields_is_said_in_plain_words(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    page.fill("input[name='hidden']", "1000")
    page.fill("input[name='epochs']", "100000")
    page.click("#train")
    expect(page.locator("#lab-error")).to_have_text(
        "These settings: epochs × rows × weights = 150,000,000,000 is more than the limit of "
        "20,000,000,000; use fewer epochs or hidden units")
    expect(page.locator("#progress")).to_have_text("not started")
    assert page.input_value("input[name='epochs']") == "100000"


def test_the_biases_checkbox_sits_beside_its_word(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    box = page.locator("input[name='bias']").bounding_box()
    label = page.locator("label.check").bounding_box()
    assert box["width"] < 30, box  # a box, not a field as wide as the number fields
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < 4, (
        box, label)  # one line: the word beside the box, not above it


def test_the_gradient_chart_says_what_it_shows_and_where_the_layers_story_is(page: Page,
                                                                            base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    figure = page.locator("figure", has=page.locator("#chart-grads"))
    # one line per parameter (W1, b1, W2, b2), over the iterations of training
    expect(figure.locator("figcaption")).to_have_text("Gradient norm of each parameter (log scale)")
    expect(figure).to_contain_text("They fall as the loss levels off")
    expect(figure.locator("a[href='/labs/gradients']")).to_have_text("the gradients lab")


def test_a_choice_the_lists_do_not_offer_in_the_url_is_the_default(page: Page, base_url: str):
    page.goto(f"{base_url}/labs/training#dataset=nope&activation=xyz&init=zzz&hidden=20")
    wait_ready(page)
    assert page.input_value("#dataset") == "spiral"
    assert page.input_value("select[name='activation']") == "relu"
    assert page.input_value("select[name='init']") == "small"
    assert page.input_value("input[name='hidden']") == "20"
    page.fill("input[name='epochs']", "5")  # the URL follows the form
    assert parse_qs(page.evaluate("location.hash.slice(1)")) == {"hidden": ["20"], "epochs": ["5"]}


def test_a_run_draws_without_warnings_even_when_its_first_lines_are_few(page: Page,
                                                                        base_url: str):
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(f"{base_url}/labs/training#hidden=0&epochs=200")  # two parameters, W1 and b1
    wait_ready(page)
    page.click("#train")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    expect(page.locator("#chart-grads svg [aria-label='line'] path")).to_have_count(2)
    assert warnings == []


def test_the_circuit_link_says_plainly_that_its_values_are_not_the_runs(page: Page,
                                                                       base_url: str):
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    about = page.locator("p:has(#circuit-link)")
    expect(about).to_contain_text("8 random inputs and random N(0, 1) weights and biases, not "
                                  "this run’s data or weights, so its loss is not the run’s")
    values = parse_qs(urlsplit(page.get_attribute("#circuit-link", "href")).fragment)["v"][0]
    assert '"X":{"randn":[8,2]' in values and '"W1":{"randn":[2,100]' in values, values


# The training stream breaks off after its third progress line, as it does when the server dies
# mid-run: the browser's reader then fails with a bare TypeError.
BREAK_STREAM = """
const send = window.fetch;
window.fetch = async (url, ...rest) => {
  const res = await send(url, ...rest);
  if (!String(url).includes('/api/labs/train')) return res;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const body = new ReadableStream({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) { controller.close(); return; }
      text += decoder.decode(value, { stream: true });
      const lines = text.split('\\n').filter((l) => l.includes('"epoch"'));
      if (lines.length < 3) { controller.enqueue(value); return; }
      const cut = text.indexOf(lines[2]) + lines[2].length + 1; // up to the third line's end
      controller.enqueue(new TextEncoder().encode(text.slice(0, cut)));
      window.lastEpoch = JSON.parse(lines[2]).epoch;
      reader.cancel();
      controller.error(new TypeError('network error'));
    },
  });
  return new Response(body, { status: res.status, headers: res.headers });
};"""


def test_a_run_cut_off_by_the_network_says_so_and_where_it_stopped(fresh_page: Page,
                                                                   base_url: str):
    page = fresh_page  # it adds an init script
    page.add_init_script(BREAK_STREAM)
    page.goto(f"{base_url}/labs/training#hidden=20&epochs=100000")
    wait_ready(page)
    page.click("#train")
    expect(page.locator("#lab-error")).to_have_text(
        "Network error: Could not reach the server (/api/labs/train).", timeout=30_000)
    epoch = page.evaluate("window.lastEpoch")
    expect(page.locator("#progress")).to_contain_text(f"stopped at epoch {epoch} of 100000")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "error")
    expect(page.locator("#train")).to_be_enabled()
    expect(page.locator("input[name='epochs']")).to_be_enabled()


def test_the_fields_cannot_change_under_a_run_and_come_back_when_it_ends(page: Page,
                                                                        base_url: str):
    page.goto(f"{base_url}/labs/training#hidden=20&epochs=100000")
    wait_ready(page)
    page.click("#train")
    expect(page.locator("#progress")).to_contain_text("epoch", timeout=30_000)
    for field in ["input[name='hidden']", "input[name='lr']", "#dataset", "input[name='bias']",
                  "[data-preset='digits']"]:
        expect(page.locator(field)).to_be_disabled()
    expect(page.locator("#stop")).to_be_enabled()
    expect(page.locator("#reset")).to_be_enabled()
    page.click("#stop")
    expect(page.locator("#progress")).to_contain_text("stopped")
    for field in ["input[name='hidden']", "#dataset", "[data-preset='digits']"]:
        expect(page.locator(field)).to_be_enabled()
    page.click("#train")  # reset during a run frees them too
    expect(page.locator("input[name='hidden']")).to_be_disabled()
    page.click("#reset")
    expect(page.locator("input[name='hidden']")).to_be_enabled()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_link_opened_during_a_run_stops_it_and_an_anchor_changes_nothing(fresh_page: Page,
                                                                           base_url: str):
    """The form is the run's while it trains: a link to other controls opened on the page stops
    the run first (as Stop would) and then shows its controls; the skip link's anchor changes
    neither the run nor the form."""
    page = fresh_page  # its URL changes
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    hidden = page.locator("input[name='hidden']")
    epochs = page.locator("input[name='epochs']")
    hidden.fill("20")
    epochs.fill("100000")
    page.click("#train")
    expect(page.locator("#progress")).to_contain_text("epoch", timeout=30_000)
    page.focus(".skip-link")
    page.keyboard.press("Enter")  # an anchor: the run goes on, on the same form and link
    expect(page.locator("#stop")).to_be_enabled()
    expect(hidden).to_have_value("20")
    expect(hidden).to_be_disabled()
    expect(page).to_have_url(re.compile(r"#hidden=20&epochs=100000$"))
    page.evaluate("location.hash = '#hidden=5&epochs=50'")  # the same data, other controls
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#progress")).to_contain_text("stopped")
    expect(hidden).to_have_value("5")
    expect(epochs).to_have_value("50")
    expect(hidden).to_be_enabled()
    page.click("#train")
    expect(page.locator("#progress")).to_have_attribute("data-stopped", "epochs", timeout=60_000)
    expect(page.locator("#progress")).to_contain_text("done: 50 epochs")
    epochs.fill("100000")
    page.click("#train")
    expect(page.locator("#progress")).to_contain_text("epoch", timeout=30_000)
    page.evaluate("location.hash = '#dataset=circles'")  # other data: the run's charts go
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#dataset")).to_have_value("circles")
    expect(hidden).to_have_value("100")
    expect(page.locator("#progress")).to_have_text("")
    expect(page.locator("#chart-loss")).to_contain_text("appears here when the network trains")
    expect(page.locator("#chart-boundary svg [aria-label='dot'] circle")).not_to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_back_to_the_default_link_restores_the_defaults_and_the_runs_own_link_keeps_it(
        fresh_page: Page, base_url: str):
    """The defaults' link is an empty hash: Back to it shows the defaults again (it is no anchor).
    A run's own link, opened again while it trains, leaves the run going."""
    page = fresh_page  # its URL changes
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    hidden = page.locator("input[name='hidden']")
    page.evaluate("location.hash = '#hidden=5'")
    expect(hidden).to_have_value("5")
    page.go_back()
    expect(hidden).to_have_value("100")
    expect(page).not_to_have_url(re.compile(r"hidden="))
    page.locator("input[name='epochs']").fill("100000")
    page.click("#train")
    expect(page.locator("#progress")).to_contain_text("epoch", timeout=30_000)
    page.evaluate("location.hash = '#epochs=100000&hidden=100'")  # its own controls
    expect(page.locator("#stop")).to_be_enabled()
    expect(page.locator("#progress")).not_to_contain_text("stopped")
    page.click("#stop")
    assert page.errors == []  # type: ignore[attr-defined]


# Frames that come late: a line's chart update is still pending when the run ends.
LATE_FRAMES = """
window.requestAnimationFrame = (cb) => setTimeout(() => cb(performance.now()), 150);
window.cancelAnimationFrame = (id) => clearTimeout(id);
"""


@pytest.mark.parametrize("end", ["reset", "other data"])
def test_a_run_ended_while_its_charts_wait_for_a_frame_draws_nothing_stale(fresh_page: Page,
                                                                           base_url: str, end: str):
    """Reset, or a link to other data, ends a run whose last lines wait for the next frame to be
    drawn: that frame draws nothing (there is no run to draw) and raises no error."""
    page = fresh_page
    page.add_init_script(LATE_FRAMES)
    page.goto(f"{base_url}/labs/training#epochs=100000")
    wait_ready(page)
    page.click("#train")
    expect(page.locator("#progress")).to_contain_text("epoch", timeout=30_000)
    if end == "reset":
        page.click("#reset")
    else:
        page.evaluate("location.hash = '#dataset=circles&epochs=100000'")
    expect(page.locator("#progress")).to_have_text("")
    page.wait_for_timeout(400)  # the late frames come and go
    expect(page.locator("#chart-loss")).to_contain_text("appears here when the network trains")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_link_opened_while_a_field_is_blank_shows_the_links_controls(page: Page, base_url: str):
    """A field left blank is no reason to ignore a link: the form takes
    the link's controls."""
    page.goto(f"{base_url}/labs/training")
    wait_ready(page)
    page.fill("input[name='hidden']", "")
    page.fill("input[name='epochs']", "")
    page.evaluate("location.hash = '#hidden=20&epochs=50'")
    expect(page.locator("input[name='hidden']")).to_have_value("20")
    expect(page.locator("input[name='epochs']")).to_have_value("50")
    assert page.errors == []  # type: ignore[attr-defined]
