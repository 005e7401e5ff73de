"""The newcomer's path: a fresh page, the notes' programs pasted in, and the code as the truth.

Each test starts at `/` with no hash (the starting example's x = -2, y = 5, z = -4 in its rows),
selects all of the editor's text and pastes a program, as a reader of the notes would."""

from __future__ import annotations

import math
import re

from notes_code import CHAIN_RULE_CODE
from playwright.sync_api import Page, expect
from test_backcheck_page import marks
from test_circuit_page import editor_text, open_page, paste, renders, result_gradients, wait_render

from engine.presets import NEURON, STAGED

NOTES_COMPOUND = "x = -2; y = 5; z = -4\nq = x + y # q becomes 3\nf = q * z # f becomes -12"
NOTES_NEURON, NOTES_STAGED = NEURON, STAGED  # the notes' code blocks, as the notes print them
NOTES_PATTERNS = "x = 3; y = -4; z = 2; w = -1\nf = 2 * (x * y + max(z, w))"


ROWS_JS = """() => [...document.querySelectorAll('#inputs .input-row')].map((r) => {
  const fields = r.querySelectorAll('input.num, input.list, input.shape');
  const shown = [...fields].find((i) => !i.hidden);
  return [r.dataset.name, r.classList.contains('program'), shown ? shown.value : ''];
})"""


def rows(page: Page) -> list[tuple[str, bool, str]]:
    """Each input row: name, whether the program sets it, and the value it shows."""
    return [tuple(r) for r in page.evaluate(ROWS_JS)]


def warnings(page: Page) -> list[str]:
    return page.locator("#result .warn").all_text_contents()


def staged(x: float, y: float) -> float:
    sig = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    return (x + sig(y)) / (sig(x) + (x + y) ** 2)


def test_pasting_the_notes_compound_example(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, "a * b + c")  # names the page never had a value for: no warning about x, y, z
    assert warnings(page) == []
    assert [r[0] for r in rows(page)] == ["a", "b", "c"]
    paste(page, NOTES_COMPOUND)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    assert result_gradients(page) == {"x": "-4.00", "y": "-4.00", "z": "3.00"}
    assert rows(page) == [("x", True, "-2"), ("y", True, "5"), ("z", True, "-4")]
    assert warnings(page) == []


def test_pasting_the_notes_chain_rule_example_with_its_backward_pass(page: Page,
                                                                   base_url: str) -> None:
    # The notes' first code example names gradients dfdx (of the output f) and local gradients
    # dqdx (of q = x + y): the page draws its forward pass and checks every backward line.
    open_page(page, base_url)
    backward = CHAIN_RULE_CODE.index("dfdz = q")
    forward = CHAIN_RULE_CODE[:backward].rstrip()
    paste(page, CHAIN_RULE_CODE, forward)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    assert result_gradients(page) == {"x": "-4.00", "y": "-4.00", "z": "3.00"}
    assert rows(page) == [("x", True, "-2"), ("y", True, "5"), ("z", True, "-4")]
    expect(page.locator("#check-summary")).to_have_text(
        "✓ all 6 backward lines right: dfdx, dfdy and dfdz equal the engine's gradients")
    assert marks(page) == {
        10: ("ok", "✓", "dfdz = 3.00: right"), 11: ("ok", "✓", "dfdq = -4.00: right"),
        12: ("ok", "✓", "dqdx = 1.00: right"), 13: ("ok", "✓", "dqdy = 1.00: right"),
        15: ("ok", "✓", "dfdx = -4.00: right"), 16: ("ok", "✓", "dfdy = -4.00: right")}
    expect(page.locator("#backcheck")).to_be_hidden()

    wrong = CHAIN_RULE_CODE.replace("dfdz = q", "dfdz = z")
    paste(page, wrong, forward)
    said = ("the local gradient of f = q * z with respect to z is q = 3, but this line uses "
            "z = -4: it has z where the local gradient has q.")
    assert marks(page)[10] == ("wrong", "✗", f"dfdz: {said}")
    assert all(m[0] == "ok" for n, m in marks(page).items() if n != 10)
    banner = page.locator("#backcheck")
    expect(banner.locator(".check-head")).to_have_text("✗ Line 10 is the first wrong line")
    expect(banner.locator(".check-message")).to_have_text(said)
    expect(banner.locator(".check-got")).to_have_text("-4.00")
    expect(banner.locator(".check-expected")).to_have_text("3.00")
    expect(page.locator("#check-summary")).to_have_text("✗ line 10 is the first wrong line")
    z = page.locator("g.input", has=page.locator("text:text-is('z')")).get_attribute("data-node")
    expect(page.locator(f".check-label[data-node='{z}']")).to_have_text(
        "dfdz: you -4.00 / true 3.00")
    assert not page.errors


def test_a_forward_program_with_a_variable_named_like_dfdy_is_drawn_as_it_is(page: Page,
                                                                             base_url: str):
    open_page(page, base_url)
    paste(page, "x = 3; y = 2\nf = x * y\ndfdy = f + 1\ng = dfdy * 2")
    expect(page.locator("#output-value")).to_have_text("14.00")
    assert result_gradients(page) == {"x": "4.00", "y": "6.00"}
    expect(page.locator("#check-summary")).to_have_count(0)
    expect(page.locator(".cm-marks .cm-mark")).to_have_count(0)


def test_pasting_the_notes_neuron(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, NOTES_NEURON)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#output-value")).to_have_text("0.73")
    # The notes: dw = [x0, x1, 1]·ddot and dx = [w0, w1]·ddot with ddot = (1 - 0.73)·0.73 ≈ 0.2.
    assert result_gradients(page) == {"w": "[-0.20, -0.39, 0.20]", "x": "[0.39, -0.59]"}
    assert rows(page) == [("w", True, "[2, -3, -3]"), ("x", True, "[-1, -2]")]
    assert warnings(page) == []


def test_pasting_the_notes_staged_example(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, NOTES_STAGED)
    expect(page.locator("#output-value")).to_have_text(f"{staged(3, -4):.2f}")
    h = 1e-6
    for name, (dx, dy) in (("x", (h, 0)), ("y", (0, h))):
        numeric = (staged(3 + dx, -4 + dy) - staged(3 - dx, -4 - dy)) / (2 * h)
        assert result_gradients(page)[name] == f"{numeric:.2f}"
    assert rows(page) == [("x", True, "3"), ("y", True, "-4")]
    assert warnings(page) == []
    assert not page.errors


def test_pasting_the_notes_patterns_example(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, NOTES_PATTERNS)
    expect(page.locator("#output-value")).to_have_text("-20.00")
    # add distributes 2, max routes it to z, multiply swaps x and y.
    assert result_gradients(page) == {"x": "-8.00", "y": "6.00", "z": "2.00", "w": "0.00"}
    assert warnings(page) == []


def test_a_code_assigned_row_edits_the_literal_in_the_code(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, NOTES_STAGED)
    n = renders(page)
    page.fill("#in-x", "1")
    wait_render(page, n)
    assert editor_text(page).startswith("x = 1 # example values\ny = -4\n")
    assert editor_text(page).endswith(NOTES_STAGED.split("\n", 2)[2])  # the rest as it was
    expect(page.locator("#output-value")).to_have_text(f"{staged(1, -4):.2f}")
    assert warnings(page) == []
    # The link holds the code, and the code holds the value: no value is sent for x.
    assert "%22x%22" not in page.url and "x+%3D+1" in page.url


def test_a_row_edit_undone_leaves_the_literal_as_written(page: Page, base_url: str) -> None:
    """The lecture neuron's b = 6.8813735870195432 shows as 6.88137358702 in its row: a digit
    typed writes what the row shows, and the digit deleted again gives back b as written."""
    open_page(page, base_url)
    page.select_option("#preset", "micrograd-neuron")
    written = "b = Value(6.8813735870195432, label='b')"
    expect(page.locator("#expr")).to_contain_text(written)
    field = page.locator("#in-b")
    expect(field).to_have_value("6.88137358702")
    field.focus()
    page.keyboard.press("End")
    page.keyboard.type("1")
    expect(page.locator("#expr")).to_contain_text("b = Value(6.881373587021, label='b')")
    page.keyboard.press("Backspace")
    expect(page.locator("#expr")).to_contain_text(written)
    expect(page.locator("#output-value")).to_have_text("0.71")
    assert page.errors == []  # type: ignore[attr-defined]


LECTURE_TORCH = """\
import torch
x1 = torch.Tensor([2.0]).double()                ; x1.requires_grad = True
x2 = torch.Tensor([0.0]).double()                ; x2.requires_grad = True
w1 = torch.Tensor([-3.0]).double()               ; w1.requires_grad = True
w2 = torch.Tensor([1.0]).double()                ; w2.requires_grad = True
b = torch.Tensor([6.8813735870195432]).double()  ; b.requires_grad = True
n = x1*w1 + x2*w2 + b
o = torch.tanh(n)"""


def test_a_value_typed_in_a_row_is_written_as_pytorch_reads_it(page: Page, base_url: str) -> None:
    """The literal keeps its brackets (torch.Tensor(7) would be 7 uninitialised numbers) and a
    float stays a float (PyTorch takes no gradient of torch.tensor(3))."""
    open_page(page, base_url)
    paste(page, LECTURE_TORCH)
    expect(page.locator("#output-value")).to_have_text("[0.71]")
    field = page.locator(".input-row[data-name=b] input.list")
    expect(field).to_have_value("[6.88137358702]")
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("7")
    expect(page.locator("#expr")).to_contain_text("b = torch.Tensor([7.0]).double()  ;")
    expect(page.locator("#output-value")).to_have_text("[0.76]")  # tanh(-6 + 0 + 7)
    paste(page, "import torch\na = torch.tensor(2.0, requires_grad=True)\nf = a * a")
    field = page.locator("#in-a")
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    expect(page.locator("#expr")).to_contain_text("a = torch.tensor(3.0, requires_grad=True)")
    expect(page.locator("#output-value")).to_have_text("9.00")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_link_opens_with_the_authors_rows(page: Page, base_url: str, context) -> None:
    open_page(page, base_url)
    paste(page, "x = 3  # set in the code\nf = x * y + u")
    n = renders(page)
    page.fill("#in-y", "2.5")
    wait_render(page, n)
    n = renders(page)
    page.fill("#in-x", "-1")
    wait_render(page, n)
    expect(page.locator("#output-value")).to_have_text("-1.50")
    author = rows(page)
    assert author == [("x", True, "-1"), ("y", False, "2.5"), ("u", False, "1")]
    other = context.new_page()
    try:
        open_page(other, base_url, "#" + page.url.split("#", 1)[1])
        expect(other.locator("#output-value")).to_have_text("-1.50")
        assert rows(other) == author
        assert editor_text(other) == editor_text(page)
        assert warnings(other) == []
    finally:
        other.close()


def test_rows_follow_a_program_that_does_not_draw_yet(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    n = renders(page)
    page.click("#expr")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("sum(relu(W @ x))")
    expect(page.locator("#error")).to_be_visible()  # W and x are numbers so far: @ refuses them
    assert [r[0] for r in rows(page)] == ["W", "x"]
    page.select_option("#inputs .input-row[data-name=W] select.mode", "randn")
    page.fill("#inputs .input-row[data-name=W] input.shape", "3, 4")
    page.select_option("#inputs .input-row[data-name=x] select.mode", "list")
    page.fill("#inputs .input-row[data-name=x] input.list", "[1, 2, 3, 4]")
    wait_render(page, n)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#output-value")).to_have_text(re.compile(r"^\d+\.\d\d$"))
    assert warnings(page) == []


def edit_on_wire(page: Page, name: str, value: str) -> None:
    """Click input `name`'s value on its wire, type `value`, press Enter; wait for the drawing."""
    n = renders(page)
    node = page.locator("g.input", has=page.locator(f"text:text-is('{name}')")).get_attribute(
        "data-node")
    page.locator(f"text.value[data-node={node}]").click()
    page.fill("#circuit input.wire-edit", value)
    page.keyboard.press("Enter")
    wait_render(page, n)


def test_a_value_on_a_wire_is_edited_in_place(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, "x = 3\nf = x * y")
    edit_on_wire(page, "x", "-2")
    assert editor_text(page) == "x = -2\nf = x * y"  # the program's literal, rewritten
    expect(page.locator("#output-value")).to_have_text("-10.00")  # y kept the example's 5
    edit_on_wire(page, "y", "4")
    expect(page.locator("#output-value")).to_have_text("-8.00")
    assert rows(page) == [("x", True, "-2"), ("y", False, "4")]
    node = page.locator("g.input", has=page.locator("text:text-is('y')")).get_attribute("data-node")
    for typed in ("1e", "--2"):  # not numbers: said, and nothing changes
        page.locator(f"text.value[data-node={node}]").click()
        page.keyboard.press("Control+A")
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        expect(page.locator("#step-status")).to_have_text("y: that is not a number; it stays 4")
        page.evaluate("document.getElementById('step-status').textContent = ''")
    expect(page.locator("#output-value")).to_have_text("-8.00")
    assert rows(page) == [("x", True, "-2"), ("y", False, "4")]


def test_the_editor_underlines_the_error_and_takes_gutter_marks(page: Page, base_url: str):
    open_page(page, base_url)
    page.click("#expr")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("q = x + y\nf = q ^ z")
    underline = page.locator(".cm-lintRange-error")
    expect(underline).to_have_text("^")  # the error's own characters, in the text
    underline.hover()
    expect(page.locator(".cm-tooltip-lint")).to_contain_text("**")  # the hint: write ** for powers
    page.evaluate("""window.chainrule.editor.setGutterMarks([
      {line: 1, mark: 'ok', title: 'dq matches'}, {line: 2, mark: 'wrong', title: 'df is off'}])""")
    expect(page.locator(".cm-marks .cm-mark-ok")).to_have_attribute("title", "dq matches")
    expect(page.locator(".cm-marks .cm-mark-wrong")).to_have_count(1)
    page.evaluate("window.chainrule.editor.setGutterMarks([])")
    expect(page.locator(".cm-marks .cm-mark")).to_have_count(0)


def test_pasted_micrograd_code_is_drawn_with_its_numbers_and_its_prints_as_notes(
        page: Page, base_url: str) -> None:
    from engine.presets import MICROGRAD_README

    open_page(page, base_url)
    paste(page, MICROGRAD_README)
    # micrograd's README: g.data prints 24.7041, a.grad 138.8338, b.grad 645.5773
    expect(page.locator("#output-value")).to_have_text("24.70")
    assert result_gradients(page) == {"a": "138.83", "b": "645.58"}
    notes = page.locator("#result .note").all_text_contents()
    assert notes == ["▸ line 15 prints 24.7041", "▸ line 17 prints 138.8338",
                     "▸ line 18 prints 645.5773"], notes
    assert rows(page) == [("a", True, "-4"), ("b", True, "2")]


def test_a_typo_in_pasted_micrograd_code_is_an_error_and_no_new_input(page: Page,
                                                                       base_url: str) -> None:
    """Python stops at `bb` with a NameError: the page says where, and which name was meant,
    and invents no row (and no numbers) for it."""
    from engine.presets import MICROGRAD_README

    typo = MICROGRAD_README.replace("d = a * b + b**3", "d = a * bb + b**3")
    assert typo != MICROGRAD_README
    open_page(page, base_url)
    paste(page, typo, drawn=False)
    expect(page.locator("#error .message")).to_have_text(
        "Invalid expression or values at line 6, column 9: missing value for bb"
        " (did you mean b?)")
    expect(page.locator("#error .caret-line")).to_have_text("d = a * bb + b**3")
    assert rows(page) == [("a", True, "-4"), ("b", True, "2")]
    expect(page.locator("#stale-note")).to_be_visible()  # the example's circuit, not this code's
    expect(page.locator("#result .note")).to_have_count(0)
    # The name fixed: drawn with its own numbers.
    paste(page, MICROGRAD_README)
    expect(page.locator("#output-value")).to_have_text("24.70")
    expect(page.locator("#error")).to_be_hidden()


def test_a_plain_program_without_imports_still_gets_rows_for_its_free_names(
        page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, "q = x + y\nf = q * z")
    assert [r[0] for r in rows(page)] == ["x", "y", "z"]
    expect(page.locator("#error")).to_be_hidden()


def test_the_result_line_and_nudge_name_the_output_as_the_code_does(page: Page,
                                                                    base_url: str) -> None:
    open_page(page, base_url)
    paste(page, "q = x + y\nloss = q * z")
    expect(page.locator("#result")).to_contain_text("loss = -12.00")
    expect(page.locator("#result .grad-item[data-name=x]")).to_have_text("∂loss/∂x = -4.00")
    page.click("[role=tab][data-tab=nudge]")
    page.click("#nudge")
    expect(page.locator("#nudge-result")).to_contain_text("predicted h·∂loss/∂x")
    expect(page.locator("#nudge-result")).to_contain_text("actual change of loss")
    paste(page, "(x + y) * z")  # no name: f, as the notes write it
    expect(page.locator("#result .grad-item[data-name=x]")).to_have_text("∂f/∂x = -4.00")
