"""The circuit page's descend panel: steps redraw the circuit, the loss chart grows."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from conftest import hold, holding, release
from playwright.sync_api import Page, expect
from test_circuit_page import editor_text, input_node, open_page, paste

from engine import backward_check


def open_preset(page: Page, base_url: str, preset: str) -> None:
    open_page(page, base_url)
    page.select_option("#preset", preset)
    expect(page.locator("#circuit-svg")).to_have_attribute(
        "data-expression", page.evaluate("window.chainrule.editor.text"))
    page.click("[data-tab=descend]")


def gradient(page: Page, name: str) -> str:
    return page.inner_text(f".grad-item[data-name='{name}'] .grad")


def test_descend_on_b3_steps_the_dosage_circuit_and_resets(page: Page, base_url: str):
    open_preset(page, base_url, "dosage")
    expect(gradient_locator := page.locator(".grad-item[data-name='b3'] .grad")).to_have_text(
        "-15.66")
    page.check("#descend-panel input[value='b3']")
    page.click("#descend-panel .descend-step")
    # the wires now carry b3 = 1.57 and its slope there, -6.26
    expect(gradient_locator).to_have_text("-6.26", timeout=10_000)
    expect(page.locator("#descend-panel .descend-status")).to_contain_text("step 1: loss 3.268")
    assert page.get_attribute("#descend-panel .descend-chart", "data-points") == "1"
    page.fill("#descend-panel .descend-steps", "20")
    page.click("#descend-panel .descend-run")
    expect(page.locator("#descend-panel .descend-chart")).to_have_attribute(
        "data-points", "21", timeout=20_000)
    expect(gradient_locator).to_have_text(re.compile(r"e-\d$"), timeout=10_000)  # tiny
    page.click("#descend-panel .descend-reset")
    expect(gradient_locator).to_have_text("-15.66", timeout=10_000)
    assert page.get_attribute("#descend-panel .descend-chart", "data-points") == "0"
    assert page.errors == []  # type: ignore[attr-defined]


def test_descend_takes_a_step_on_every_scalar_loss_preset(fresh_page: Page, base_url: str):
    page = fresh_page  # it adds listeners
    refused = []
    page.on("response", lambda r: refused.append((r.url, r.request.post_data, r.text()))
            if r.status >= 400 else None)
    open_page(page, base_url)
    presets = json.loads(page.evaluate("fetch('/api/presets').then(r => r.text())"))
    page.click("[data-tab=descend]")
    status = page.locator("#descend-panel .descend-status")
    for p in presets:
        page.select_option("#preset", p["id"])
        drawn = p["expression"]  # a backward pass is checked, and its forward part drawn
        if p["backward"]:
            drawn = drawn[:backward_check(drawn, p["values"])["forward_end"]].rstrip()
        expect(page.locator("#circuit-svg")).to_have_attribute("data-expression", drawn)
        boxes = page.locator("#descend-panel .descend-params input")
        expect(boxes.first).to_be_visible()
        for k in range(boxes.count()):
            boxes.nth(k).check()
        page.click("#descend-panel .descend-step")
        expect(status).to_contain_text("step 1: loss", timeout=10_000)
        page.click("#descend-panel .descend-reset")
        expect(status).to_have_text("")
        assert refused == [], (p["id"], refused)
    assert page.errors == []  # type: ignore[attr-defined]


def test_descend_steps_a_checked_backward_pass_that_sets_df(fresh_page: Page, base_url: str):
    """Check mode draws from the output's gradient the code sets (df = 1.0); descent, on the
    output as its loss, is not sent it."""
    page = fresh_page  # it adds a listener
    refused = []
    page.on("response", lambda r: refused.append(r.text()) if r.status >= 400 else None)
    open_page(page, base_url)
    paste(page, "x = 2.0\ny = 3.0\nf = x * y\n\ndf = 1.0\ndx = y * df\ndy = x * df",
          "x = 2.0\ny = 3.0\nf = x * y")
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='x']")
    page.click("#descend-panel .descend-step")
    expect(page.locator("#descend-panel .descend-status")).to_contain_text("step 1: loss 5.1")
    assert refused == []
    assert page.errors == []  # type: ignore[attr-defined]


# Layouts wait while `hold(page)` holds them, until `release(page)`.
HOLD_LAYOUTS = """
let elk;
Object.defineProperty(window, 'ELK', {
  configurable: true,
  get: () => elk,
  set: (ELK) => {
    elk = class extends ELK {
      async layout(graph, options) {
        await window.held;
        return super.layout(graph, options);
      }
    };
  },
});
"""


def test_an_answer_laid_out_after_a_new_preset_is_not_drawn(fresh_page: Page, base_url: str):
    """A redraw of the old program whose layout ends after another preset was chosen is dropped:
    the new program's values stay, so its next request is answered."""
    page = fresh_page  # it adds listeners
    refused = []
    page.on("response", lambda r: refused.append((r.url, r.request.post_data, r.text()))
            if r.status >= 400 else None)
    page.add_init_script(HOLD_LAYOUTS)
    open_preset(page, base_url, "multiply")
    hold(page)
    with page.expect_response("**/api/circuit"):
        page.fill("#in-x", "7")  # the old program's answer arrives; its layout waits
    with page.expect_response("**/api/circuit"):
        page.select_option("#preset", "matmul")
    release(page)
    svg = page.locator("#circuit-svg")
    expect(svg).to_have_attribute("data-expression", "D = W.dot(X)\nf = sum(D * G)")
    page.wait_for_function("() => !document.body.dataset.busy")
    expected = page.inner_text("#output-value")
    n = int(svg.get_attribute("data-renders"))
    page.check("#expand")  # one more request from the page's state: the preset's own values
    page.wait_for_function("() => !document.body.dataset.busy")  # answered, drawn or refused
    assert refused == []
    assert int(svg.get_attribute("data-renders")) > n
    expect(page.locator("#output-value")).to_have_text(expected)
    expect(svg).to_have_attribute("data-expression", "D = W.dot(X)\nf = sum(D * G)")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_step_shows_the_new_value_in_the_input_row(page: Page, base_url: str):
    """x = -2 in (x + y) * z: one step of lr 0.1 against ∂f/∂x = z = -4 gives -1.6, in the row too
    (and ∂f/∂z = x + y = 3.4)."""
    open_page(page, base_url)
    page.click("[data-tab=descend]")
    expect(page.locator("#in-x")).to_have_value("-2")
    page.check("#descend-panel input[value='x']")
    page.click("#descend-panel .descend-step")
    expect(page.locator(".grad-item[data-name='z'] .grad")).to_have_text("3.40", timeout=10_000)
    expect(page.locator("#in-x")).to_have_value("-1.6")
    expect(page.locator("#in-y")).to_have_value("5")
    assert page.errors == []  # type: ignore[attr-defined]


def two_steps_on_y(page: Page) -> None:
    """Two steps of lr 0.1 on y in (x + y) * z, each from the values drawn: f -13.60, -15.20."""
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='y']")
    status = page.locator("#descend-panel .descend-status")
    for k, f in ((1, "-13.60"), (2, "-15.20")):
        page.click("#descend-panel .descend-step")
        expect(status).to_contain_text(f"step {k}: loss")
        expect(page.locator("#output-value")).to_have_text(f)
    expect(page.locator("#in-y")).to_have_value("5.8")


def test_a_step_shows_rounded_values_and_the_link_keeps_them_exact(page: Page, base_url: str):
    """Two steps of lr 0.1 on y in (x + y) * z, slope z = -4: y = 5.4, then 5.800000000000001,
    shown as 5.8; the link holds the exact value, which reproduces the circuit."""
    open_page(page, base_url)
    two_steps_on_y(page)
    page.locator(f"text.value[data-node={input_node(page, 'y')}]").click()  # edit it in place
    expect(page.locator("#circuit input.wire-edit")).to_have_value("5.8")
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.hash.includes('5.800000000000001')")
    values = json.loads(parse_qs(urlsplit(page.url).fragment)["v"][0])
    assert values["y"] == 5 + 0.4 + 0.4
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_step_on_a_literal_writes_it_rounded_in_the_code(page: Page, base_url: str):
    """y = 5 set in the program (x and z keep the starting example's -2 and -4), slope z = -4:
    5.4, then 5.800000000000001, written 5.8."""
    open_page(page, base_url)
    paste(page, "y = 5\nf = (x + y) * z")
    two_steps_on_y(page)
    assert editor_text(page) == "y = 5.8\nf = (x + y) * z"
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_double_click_on_run_starts_one_run(fresh_page: Page, base_url: str):
    """While a run is in flight, step and run are disabled and the panel says it runs: a double
    click sends one request, and the circuit ends where three steps of lr 0.1 on y take it
    (y = 5 + 3 × 0.4 = 6.2, f = (-2 + 6.2) × -4 = -16.8)."""
    page = fresh_page  # it adds listeners
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/api/descent" in r.url else None)
    holding(page, "/api/descent")
    open_page(page, base_url)
    hold(page)
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='y']")
    page.fill("#descend-panel .descend-steps", "3")
    run = page.locator("#descend-panel .descend-run")
    step = page.locator("#descend-panel .descend-step")
    status = page.locator("#descend-panel .descend-status")
    run.dblclick()
    expect(run).to_be_disabled()
    expect(step).to_be_disabled()
    expect(status).to_have_text("running 3 steps…")
    release(page)
    expect(page.locator("#descend-panel .descend-chart")).to_have_attribute("data-points", "3")
    expect(status).to_contain_text("step 3: loss")
    expect(run).to_be_enabled()
    expect(step).to_be_enabled()
    expect(page.locator("#in-y")).to_have_value("6.2")
    expect(page.locator("#output-value")).to_have_text("-16.80")
    assert len(sent) == 1, sent
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_run_ends_when_its_last_values_are_drawn(fresh_page: Page, base_url: str):
    """Step and run stay disabled until the circuit holding the run's last values is drawn, so
    a step taken the moment they are enabled starts where the run landed."""
    page = fresh_page  # it adds an init script
    holding(page, "/api/circuit")
    open_page(page, base_url)
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='y']")
    page.fill("#descend-panel .descend-steps", "3")
    run = page.locator("#descend-panel .descend-run")
    hold(page)  # the redraws wait
    run.click()
    expect(page.locator("#descend-panel .descend-status")).to_contain_text("step 3: loss")
    expect(run).to_be_disabled()
    release(page)
    expect(run).to_be_enabled()
    assert page.locator("#output-value").text_content() == "-16.80"  # read at once: drawn
    assert page.locator("#in-y").input_value() == "6.2"
    assert page.errors == []  # type: ignore[attr-defined]


def test_with_an_error_in_the_code_the_tools_leave_it_alone(fresh_page: Page, base_url: str):
    """While the code has an error the circuit on show is the previous one: descend, the
    gradient check, nudge and the staged code say so and send nothing; the code is not touched."""
    page = fresh_page  # it adds a listener
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/api/circuit" not in r.url
            and "/api/" in r.url and r.method == "POST" else None)
    open_page(page, base_url)
    broken = "x = 2\ny = 1\nf = (x + y) * z +"
    paste(page, broken, drawn=False)
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#result")).to_have_class(re.compile(r"\bstale\b"))
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='x']")
    page.click("#descend-panel .descend-step")
    fix = ("The circuit on show is not the code's (the note under it says why): this works "
           "again once the code is drawn.")
    expect(page.locator("#descend-panel .descend-status")).to_have_text(fix)
    page.click("[data-tab=check]")
    page.click("#check")
    expect(page.locator("#check-result")).to_have_text(fix)
    page.click("[data-tab=nudge]")
    page.click("#nudge")
    expect(page.locator("#nudge-result")).to_have_text(fix)
    page.click("[data-tab=code]")
    expect(page.locator("#code")).to_have_text(fix)
    assert editor_text(page) == broken
    assert sent == []
    paste(page, "x = 2\ny = 1\nf = (x + y) * z")  # put right: the tools work again
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='z']")
    page.click("#descend-panel .descend-step")
    expect(page.locator("#descend-panel .descend-status")).to_contain_text("step 1: loss")
    assert all("400" in e for e in page.errors)  # type: ignore[attr-defined]  # the broken code


def test_reset_gives_back_the_code_as_written(page: Page, base_url: str):
    """After steps, reset writes each literal back as it was typed: a PyTorch tensor written
    2.0 stays 2.0 (torch.tensor(2, ...) cannot take a gradient), a list of floats stays one,
    and every digit of 6.8813735870195432 comes back."""
    program = ("import torch\nx = torch.tensor(2.0, requires_grad=True)\n"
               "w = torch.tensor([1.0, -3.0], requires_grad=True)\n"
               "b = torch.tensor(6.8813735870195432, requires_grad=True)\n"
               "y = (w * x).sum() * x + b\ny.backward()")
    open_page(page, base_url)
    paste(page, program)
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='x']")
    page.check("#descend-panel input[value='w']")
    page.check("#descend-panel input[value='b']")
    page.click("#descend-panel .descend-step")
    expect(page.locator("#descend-panel .descend-status")).to_contain_text("step 1")
    page.wait_for_function("t => window.chainrule.editor.text !== t", arg=program)
    page.click("#descend-panel .descend-reset")
    page.wait_for_function("t => window.chainrule.editor.text === t", arg=program, timeout=10_000)
    assert page.errors == []  # type: ignore[attr-defined]


def test_reset_gives_an_input_the_code_computes_back_to_the_code(page: Page, base_url: str):
    """A step on W (the code's np.random.randn) sends W's new values, which override the
    code's; reset goes back to the code's own W, with no override left behind."""
    program = "W = np.random.randn(2, 3)\nx = [1.0, 2.0, 3.0]\nf = sum(relu(W @ x))"
    open_page(page, base_url)
    paste(page, program)
    page.click("[data-tab=descend]")
    grad = page.locator(".grad-item[data-name='W'] .grad")
    expect(grad).not_to_be_empty()
    first = grad.inner_text()
    page.check("#descend-panel input[value='W']")
    page.fill("#descend-panel .descend-lr", "0.5")
    page.click("#descend-panel .descend-step")
    expect(page.locator("#descend-panel .descend-status")).to_contain_text("step 1")
    warn = page.locator("#result .warn")
    expect(warn).to_contain_text("value for W overrides the code's W")
    page.click("#descend-panel .descend-reset")
    expect(warn).to_have_count(0)
    expect(grad).to_have_text(first)
    assert editor_text(page) == program
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_run_that_reaches_a_slope_of_0_says_it_converged(page: Page, base_url: str):
    """(2w - 3)² from w = 0 at lr 0.1 lands on w = 1.5 exactly: the loss 0, the slope 0."""
    open_page(page, base_url)
    paste(page, "x = 2\nw = 0\nloss = (w*x - 3)**2")
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='w']")
    page.click("#descend-panel .descend-run")
    status = page.locator("#descend-panel .descend-status")
    expect(status).to_have_text("step 50: loss 0 (was 0): converged, every slope is 0 here, so "
                                "more steps change nothing", timeout=30_000)
    page.click("#descend-panel .descend-reset")
    page.fill("#descend-panel .descend-steps", "3")  # three steps: still on its way down
    page.click("#descend-panel .descend-run")
    expect(status).to_have_text("step 3: loss 5.76e-4 (was 0.0144)", timeout=30_000)


def test_a_start_outside_a_gates_domain_says_which_gate(page: Page, base_url: str):
    """log(w) at w = -1: the loss is NaN before any step, and the panel names the gate that
    made it, rather than calling it a descent that diverged."""
    open_page(page, base_url)
    paste(page, "w = -1\nloss = log(w) + w")
    expect(page.locator("#circuit-svg")).to_have_attribute("data-expression",
                                                           "w = -1\nloss = log(w) + w")
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='w']")
    page.click("#descend-panel .descend-step")
    status = page.locator("#descend-panel .descend-status")
    expect(status).to_contain_text("the loss is NaN at the start, where the log gate at line 2")
    expect(status).not_to_contain_text("diverged")
    expect(page.locator("#descend-panel .descend-step")).to_be_enabled()
    assert page.get_attribute("#descend-panel .descend-chart", "data-points") == "0"


def test_step_once_keeps_the_keyboard_focus_while_it_steps(page: Page, base_url: str):
    """Enter on "step once" three times takes three steps: the button keeps the focus while its
    step runs (one step at a time: it says it is unavailable until then)."""
    open_page(page, base_url)
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='x']")
    step = page.locator("#descend-panel .descend-step")
    status = page.locator("#descend-panel .descend-status")
    step.focus()
    for k in (1, 2, 3):
        page.keyboard.press("Enter")
        expect(status).to_contain_text(f"step {k}: loss")
        expect(step).to_be_enabled()
        expect(step).to_be_focused()
    expect(page.locator("#descend-panel .descend-chart")).to_have_attribute("data-points", "3")
    expect(page.locator("#in-x")).to_have_value("-0.8")  # -2 + 3 × 0.1 × 4
    assert page.errors == []  # type: ignore[attr-defined]
