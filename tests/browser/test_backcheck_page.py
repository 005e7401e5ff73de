"""Check mode: the notes' forward pass with its hand-written backward pass pasted into a fresh
page, each backward line marked in the gutter, and a classic mistake found on its line, in words
and on its wire."""

from __future__ import annotations

import math

import numpy as np
import pytest
from notes_code import CHAIN_RULE_CODE, MATRIX_CODE
from playwright.sync_api import Page, expect
from test_circuit_page import input_node, open_page, paste, renders, result_gradients, wait_render

from engine import backward_check
from engine.presets import NEURON_CODE, STAGED_CODE

# The classic mistake at a fork: dx = where the notes write dx +=.
OVERWRITE = STAGED_CODE.replace("dx += ((1 - sigx)", "dx = ((1 - sigx)")
WRONG_LINE = OVERWRITE[:OVERWRITE.index("dx = ((1 - sigx)")].count("\n") + 1

# Each gutter mark with the line number beside it, read off the screen.
MARKS_JS = """() => {
  const numbers = [...document.querySelectorAll('.cm-lineNumbers .cm-gutterElement')]
    .map((e) => [e.getBoundingClientRect().top, Number(e.textContent)]);
  return [...document.querySelectorAll('.cm-marks .cm-mark')].map((m) => {
    const top = m.closest('.cm-gutterElement').getBoundingClientRect().top;
    const line = numbers.find(([t]) => Math.abs(t - top) < 1);
    return [line ? line[1] : null, m.classList[1].replace('cm-mark-', ''), m.textContent, m.title];
  });
}"""


def marks(page: Page) -> dict[int, tuple[str, str, str]]:
    """Line number -> (mark, glyph, title) of every gutter mark."""
    return {n: (mark, glyph, title) for n, mark, glyph, title in page.evaluate(MARKS_JS)}


def paste_checked(page: Page, code: str) -> dict:
    """Select all of the editor's text, paste `code`, wait for its forward part to be drawn;
    the engine's own report on the code, for the numbers the page should show."""
    report = backward_check(code)
    n = renders(page)
    page.click("#expr")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)
    wait_render(page, n)
    forward = code[:report["forward_end"]].rstrip()
    expect(page.locator("#circuit-svg")).to_have_attribute("data-expression", forward)
    return report


def backward_lines(code: str) -> set[int]:
    return {e["line"] for e in backward_check(code)["lines"]}


def test_a_newcomer_pastes_the_notes_staged_backward_pass(page: Page, base_url: str) -> None:
    open_page(page, base_url)  # no hash: the page's starting example
    paste_checked(page, STAGED_CODE)
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    got = marks(page)
    assert set(got) == backward_lines(STAGED_CODE) and len(got) == 12
    assert {m[:2] for m in got.values()} == {("ok", "✓")}
    # the forward part is drawn: the notes' f, and the gradients the backward pass computes
    sig = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    f = (3 + sig(-4)) / (sig(3) + (3 - 4) ** 2)
    expect(page.locator("#output-value")).to_have_text(f"{f:.2f}")
    final = backward_check(STAGED_CODE)["gradients"]
    assert result_gradients(page) == {k: f"{g['expected']:.2f}" for k, g in final.items()}
    expect(page.locator("#check-summary")).to_have_text(
        "✓ all 12 backward lines right: dx and dy equal the engine's gradients")
    expect(page.locator("#backcheck")).to_be_hidden()
    expect(page.locator("#error")).to_be_hidden()
    assert page.locator(".check-label").count() == 0
    assert not page.errors, page.errors


def test_a_line_that_changes_nothing_is_marked_right_and_said_to_change_nothing(
        page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste_checked(page, "x = 2.0\ny = 3.0\nf = x * y\ndx = y\ndy = x\ndx = dx")
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    assert {n: m[:2] for n, m in marks(page).items()} == {4: ("ok", "✓"), 5: ("ok", "✓"),
                                                          6: ("ok", "✓")}
    expect(page.locator("#check-summary")).to_have_text(
        "✓ all 3 backward lines right: dx and dy equal the engine's gradients")
    expect(page.locator("#result .warn")).to_have_text(
        ["⚠ line 6, dx = dx, changes nothing: dx keeps the value it has"])
    expect(page.locator("#backcheck")).to_be_hidden()
    assert not page.errors, page.errors


def test_dx_overwritten_at_a_fork_is_marked_on_its_line_and_its_wire(page: Page,
                                                                     base_url: str) -> None:
    open_page(page, base_url)
    report = paste_checked(page, OVERWRITE)
    expect(page.locator("body")).to_have_attribute("data-check", "failed")
    got = marks(page)
    assert [n for n, m in got.items() if m[0] == "wrong"] == [WRONG_LINE]
    assert got[WRONG_LINE][1] == "✗" and "use +=" in got[WRONG_LINE][2]
    later = WRONG_LINE + 2  # dx += (1) * dnum: right in itself, built on the wrong dx
    assert got[later][:2] == ("inherits", "↑") and f"wrong since line {WRONG_LINE}" in got[later][2]
    assert all(m[0] == "ok" for n, m in got.items() if n < WRONG_LINE)
    # the line is highlighted in the editor, and said in words with both numbers
    expect(page.locator(".cm-highlight")).to_have_text("dx = ((1 - sigx) * sigx) * dsigx")
    (line,) = [e for e in report["lines"] if e["line"] == WRONG_LINE]
    you, true = f"{line['got']:.2f}", f"{line['expected']:.2f}"
    banner = page.locator("#backcheck")
    expect(banner).to_be_visible()
    expect(banner.locator(".check-head")).to_have_text(
        f"✗ Line {WRONG_LINE} is the first wrong line")
    expect(banner.locator(".check-message")).to_have_text(
        "dx was overwritten: it already held the gradient from xpy — use +=.")
    expect(banner.locator(".check-got")).to_have_text(you)
    expect(banner.locator(".check-expected")).to_have_text(true)
    expect(page.locator("#check-summary")).to_have_text(
        f"✗ line {WRONG_LINE} is the first wrong line (1 more builds on a wrong line)")
    # the wire of x is marked on the circuit, with the code's number against the engine's
    x = input_node(page, "x")
    assert page.locator(f"g.wire.check-focus[data-node='{x}']").count() >= 1
    marked = page.locator("g.wire.check-focus")
    assert marked.count() == page.locator(f"g.wire[data-node='{x}']").count()
    label = page.locator(f".check-label[data-node='{x}']")
    expect(label).to_have_text(f"dx: you {you} / true {true}")
    expect(label).to_be_in_viewport()

    # The line in the banner takes the editor back to it.
    page.click("#expr")
    page.keyboard.press("Control+Home")
    expect(page.locator(".cm-highlight")).not_to_be_in_viewport()
    banner.locator(".check-code").click()
    expect(page.locator(".cm-highlight")).to_be_in_viewport()

    # Fix the line where it is wrong: = becomes +=, and the page checks again.
    n = renders(page)
    page.locator(".cm-highlight").click(position={"x": 2, "y": 5})
    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.type("+")
    wait_render(page, n)
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    assert {m[0] for m in marks(page).values()} == {"ok"}
    expect(page.locator("#backcheck")).to_be_hidden()
    assert page.locator(".cm-highlight, .check-label, g.wire.check-focus").count() == 0
    assert not page.errors, page.errors


# dy = moved below the dy += it should come before: that line has nothing to add to, though it
# ends with the engine's number
LATE_DY = STAGED_CODE.replace("dy = (1) * dxpy", "#").replace(
    "# done! phew", "dy = (1) * dxpy\n# done! phew")


@pytest.mark.parametrize(("code", "head"), [
    ("x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndq = z; dz = q\ndx += dq\ndy = dq",
     "dx += dq"),
    (LATE_DY, "dy += ((1 - sigy) * sigy) * dsigy"),
])
def test_a_wrong_line_that_ends_with_the_engines_number_shows_no_you_and_true(
        page: Page, base_url: str, code: str, head: str) -> None:
    """A += with nothing before it is wrong even when its number is the engine's: the banner
    and the wire say it is wrong, without a "you" and a "true" that agree."""
    open_page(page, base_url)
    report = paste_checked(page, code)
    line = next(e for e in report["lines"] if e["status"] == "wrong")
    assert f"{line['got']:.8f}" == f"{line['expected']:.8f}"
    expect(page.locator("body")).to_have_attribute("data-check", "failed")
    banner = page.locator("#backcheck")
    expect(banner.locator(".check-head")).to_have_text(f"✗ Line {line['line']} is the first "
                                                       "wrong line")
    expect(banner.locator(".check-code")).to_have_text(head)
    expect(banner.locator(".check-message")).to_have_text(line["message"])
    expect(banner.locator(".check-numbers")).to_have_count(0)
    node = input_node(page, line["var"])
    expect(page.locator(f"g.wire.check-focus[data-node='{node}']").first).to_be_attached()
    expect(page.locator(f".check-label[data-node='{node}']")).to_have_text(
        f"{line['name']}: ✗ line {line['line']}")
    assert not page.errors, page.errors


def test_an_unknown_gradient_name_is_an_error_at_its_characters(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste_checked(page, STAGED_CODE)
    page.click("#expr")
    page.keyboard.press("Control+End")
    page.keyboard.insert_text("\ndz = dsigz")
    page.wait_for_function(
        "() => !document.body.dataset.busy && !document.getElementById('error').hidden")
    expect(page.locator("#error .message")).to_contain_text("'dz' names the gradient of 'z'")
    expect(page.locator(".cm-lintRange-error")).to_have_text("dz")
    assert marks(page) == {}
    expect(page.locator("#backcheck")).to_be_hidden()


# The notes' first example under a comment with emoji: characters the server counts as one each
# and the page's strings as two.
STARRED = """# 🌟🌟🌟 set some inputs
x = -2; y = 5; z = -4
q = x + y
f = q * z
dq = z; dz = q
dx = dq; dy = dq"""


def test_an_emoji_before_the_code_moves_no_mark(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste_checked(page, STARRED)
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    assert {n: m[0] for n, m in marks(page).items()} == {5: "ok", 6: "ok"}
    expect(page.locator("#check-summary")).to_have_text(
        "✓ all 4 backward lines right: dx, dy and dz equal the engine's gradients")
    expect(page.locator("#error")).to_be_hidden()

    wrong = STARRED.replace("🌟🌟🌟", "🌟").replace("dx = dq", "dx = -dq")
    paste_checked(page, wrong)
    expect(page.locator("body")).to_have_attribute("data-check", "failed")
    expect(page.locator(".cm-highlight")).to_have_text("dx = -dq")
    expect(page.locator("#backcheck .check-code")).to_have_text("dx = -dq")
    expect(page.locator("#backcheck .check-head")).to_have_text("✗ Line 6 is the first wrong line")
    assert not page.errors, page.errors


def test_the_neuron_with_backward_pass_preset_is_all_right(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    n = renders(page)
    page.select_option("#preset", "neuron-backward")
    wait_render(page, n)
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    got = marks(page)
    assert set(got) == backward_lines(NEURON_CODE) and len(got) == 3
    assert {m[:2] for m in got.values()} == {("ok", "✓")}
    expect(page.locator("#output-value")).to_have_text("0.73")
    assert result_gradients(page) == {"w": "[-0.20, -0.39, 0.20]", "x": "[0.39, -0.59]"}
    expect(page.locator("#check-summary")).to_have_text(
        "✓ all 3 backward lines right: dw and dx equal the engine's gradients")
    assert not page.errors, page.errors


def test_a_newcomer_pastes_the_notes_matrix_multiply(fresh_page: Page, base_url: str) -> None:
    """The notes' random W and X are drawn as the checker reads them (the n-th randn call
    seed n), so the drawn D is the checker's D, and both backward lines are right. The drawn
    gradients start from the code's dD, as the checker's do, not from ones."""
    page = fresh_page  # it adds a listener
    open_page(page, base_url)
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/circuit") else None)
    report = paste_checked(page, MATRIX_CODE)
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    assert answers[-1].status == 200 and answers[-1].json()["value"] == report["value"]
    drawn = answers[-1].json()["gradients"]
    assert drawn == {k: g["expected"] for k, g in report["gradients"].items()}
    expect(page.locator("#result")).not_to_contain_text("starts from ones")
    # dD = np.random.randn(...) is the gradient from above, given: it is no line to get right
    given = MATRIX_CODE[:MATRIX_CODE.index("dD =")].count("\n") + 1
    assert marks(page) == {given: ("given", "•", "dD: given, the gradient the backward pass "
                                   "starts from"),
                           given + 1: ("ok", "✓", "dW = 50 values: right"),
                           given + 2: ("ok", "✓", "dX = 30 values: right")}
    expect(page.locator("#check-summary")).to_have_text(
        "✓ both backward lines right, from the given dD: dW and dX equal the engine's gradients")
    expect(page.locator("#error")).to_be_hidden()
    assert page.locator("#circuit-svg text.value").all_text_contents() == ["5×10", "10×3", "5×3"]
    assert not page.errors, page.errors


def test_the_check_and_the_staged_code_start_from_the_pasted_dD(fresh_page: Page,
                                                               base_url: str) -> None:
    """The notes' matrix multiply pasted into a fresh page: "Check gradients" checks the drawn
    gradients (backprop from the code's dD), and the staged code sets that dD, not ones, and
    gives the drawn gradients when run."""
    page = fresh_page  # it adds a listener
    open_page(page, base_url)
    answers = {}  # the last answer of each endpoint
    page.on("response", lambda r: answers.update({r.url.rsplit("/", 1)[1]: r})
            if "/api/" in r.url else None)
    paste_checked(page, MATRIX_CODE)
    drawn = answers["circuit"].json()["gradients"]
    page.click("[role=tab][data-tab=check]")
    page.click("#check")
    rows = page.locator("#check-result tr.check-row")
    expect(rows).to_have_count(2)
    expect(rows.locator("td.pass")).to_have_count(2)
    checked = answers["gradcheck"].json()["inputs"]
    for name in ("W", "X"):
        assert checked[name]["analytic"] == drawn[name]
        np.testing.assert_allclose(checked[name]["numeric"], drawn[name], rtol=1e-7)
    page.click("[role=tab][data-tab=code]")
    code = page.locator("#code")
    expect(code).to_contain_text("# the gradient on D from above, as given\ndD = np.array([[")
    assert "ones" not in code.text_content()
    ns: dict = {}
    exec(code.text_content(), ns)  # noqa: S102 - the engine's staged code: templates and numbers
    for name in ("W", "X"):
        np.testing.assert_allclose(ns["d" + name], drawn[name], rtol=1e-12)
    assert not page.errors, page.errors


def test_a_gradient_no_line_computes_is_said_to_be_missing(page: Page, base_url: str) -> None:
    """The two-layer network's way: gradients for the weights only, none for the data."""
    code = ("X = np.random.randn(4, 3)\nW = np.random.randn(3, 2)\nZ = X @ W\n"
            "loss = mean(Z**2)\n\ndZ = 2 * Z / 8\ndW = X.T @ dZ")
    open_page(page, base_url)
    paste_checked(page, code)
    expect(page.locator("body")).to_have_attribute("data-check", "failed")
    assert {m[0] for m in marks(page).values()} == {"ok"}
    expect(page.locator("#check-summary")).to_have_text(
        "✗ every line's own step is right, but no line computes dX")
    expect(page.locator("#backcheck .check-head")).to_have_text("✗ dX is missing")
    expect(page.locator("#backcheck .check-message")).to_have_text(
        "no line computes dX (its contributions come through Z)")
    assert not page.errors, page.errors


def test_a_wrong_matrix_gradient_is_said_at_the_first_element_that_differs(
        page: Page, base_url: str) -> None:
    """A 5×10 gradient is too big to show whole: the banner and the wire's label name the
    first element that differs by its index, once, beside the gradient's name."""
    code = MATRIX_CODE.replace("dW = dD.dot(X.T)", "dW = -dD.dot(X.T)")
    report = backward_check(code)
    (line,) = [e for e in report["lines"] if e["name"] == "dW"]
    you, true = (f"{np.asarray(line[k])[0, 0]:.2f}" for k in ("got", "expected"))
    open_page(page, base_url)
    paste(page, code, code[:report["forward_end"]].rstrip())
    expect(page.locator("#backcheck .check-numbers")).to_have_text(
        f"After this line, your dW[0, 0] = {you}; the engine's backward pass gives {true}")
    expect(page.locator(f".check-label[data-node='{input_node(page, 'W')}']")).to_have_text(
        f"dW[0, 0]: you {you} / true {true}")
    assert not page.errors, page.errors


# Every text and gate of the drawing that the wire's "you / true" label covers.
COVERED_JS = """() => {
  const label = document.querySelector('.check-label');
  const r = label.querySelector('rect').getBBox();
  return [...document.querySelectorAll('#circuit-svg text, #circuit-svg g.gate circle')]
    .filter((e) => !label.contains(e)).filter((e) => {
      const b = e.getBBox();
      return r.x < b.x + b.width && b.x < r.x + r.width
        && r.y < b.y + b.height && b.y < r.y + r.height;
    }).map((e) => e.textContent || e.tagName);
}"""


@pytest.mark.parametrize(("code", "old", "new"), [
    (CHAIN_RULE_CODE, "dqdx = 1.0", "dqdx = -1.0"),  # x's labels sit close to the + gate
    (CHAIN_RULE_CODE, "dfdq = z", "dfdq = q"),
    (STAGED_CODE, "dsigx = (1) * dden", "dsigx = (2) * dden"),  # den's gradient beside sigx's
])
def test_the_wires_you_and_true_label_covers_no_other_number(page: Page, base_url: str, code,
                                                              old, new) -> None:
    code = code.replace(old, new)
    report = backward_check(code)
    open_page(page, base_url)
    paste(page, code, code[:report["forward_end"]].rstrip())
    expect(page.locator(".check-label")).to_have_count(1)
    assert page.evaluate(COVERED_JS) == []
    assert not page.errors, page.errors


def test_a_value_set_for_an_input_the_code_computes_is_said_once(fresh_page: Page,
                                                                   base_url: str) -> None:
    """A descent step on W sends W's new values, which override the code's: the drawing and
    the check say so in the same words, shown once."""
    code = ("W = np.random.randn(3, 2)\nX = np.random.randn(4, 3)\nZ = X @ W\nloss = mean(Z**2)\n"
            "\ndZ = 2 * Z / 8\ndW = X.T @ dZ\ndX = dZ @ W.T")
    page = fresh_page
    open_page(page, base_url)  # no hash: the page's starting example
    paste_checked(page, code)
    page.click("[data-tab=descend]")
    page.check("#descend-panel input[value='W']")
    page.click("#descend-panel .descend-step")
    expect(page.locator("#descend-panel .descend-status")).to_contain_text("step 1")
    expect(page.locator("body")).to_have_attribute("data-check", "passed")
    warnings = page.locator("#result .warn")
    expect(warnings.filter(has_text="value for W")).to_have_text(
        ["⚠ value for W overrides the code's W = […] (3×2)"])
    assert not page.errors, page.errors
