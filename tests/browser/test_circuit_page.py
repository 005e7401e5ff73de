"""The circuit page in headless chromium: the notes' numbers, on the right wires, in colour."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from conftest import hold, holding, release, wait_ready
from notes_code import MATRIX_CODE, VECTORS_CODE
from playwright.sync_api import Page, expect

from engine import backward_check
from engine.presets import MICROGRAD_README, NEURON_GROUPED, STAGED_CODE

DOCS = Path(__file__).resolve().parents[2] / "docs"
SVG_NS = "{http://www.w3.org/2000/svg}"

# Every label, gate and wire's box in SVG user units; the overlap checks below work on these.
GEOMETRY_JS = """() => {
  const svg = document.getElementById('circuit-svg');
  const box = (el) => { const b = el.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
  const texts = [...svg.querySelectorAll(
    'text.value, text.grad, text.contrib, text.name, text.input-label, text.const-label,'
    + ' text.gate-shape')]
    .map((t) => ({cls: t.getAttribute('class'), text: t.textContent, ...box(t)}));
  const gates = [...svg.querySelectorAll('g.gate')].map((g) => {
    const c = g.querySelector('circle');
    return {id: g.dataset.node, cx: +c.getAttribute('cx'), cy: +c.getAttribute('cy'),
            r: +c.getAttribute('r'), label: box(g.querySelector('text'))};
  });
  const wires = [...svg.querySelectorAll('polyline.wire-line')].map((p) =>
    p.getAttribute('points').trim().split(' ').map((xy) => xy.split(',').map(Number)));
  return {texts, gates, wires};
}"""


def open_page(page: Page, base_url: str, hash_: str = "") -> None:
    page.goto(f"{base_url}/{hash_}")
    wait_ready(page)


def link(expression: str, values: dict, **extra: str) -> str:
    parts = [f"e={quote(expression)}", f"v={quote(json.dumps(values))}"]
    parts += [f"{k}={v}" for k, v in extra.items()]
    return "#" + "&".join(parts)


def editor_text(page: Page) -> str:
    """The program in the editor."""
    return page.evaluate("window.chainrule.editor.text")


PASTE_JS = """(text) => {
  const data = new DataTransfer();
  data.setData('text/plain', text);
  document.activeElement.dispatchEvent(
    new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
}"""


def paste(page: Page, program: str, drawn: str | bool = True) -> None:
    """What a newcomer does: select all of the editor's text and paste `program` over it; wait
    for its drawing: of `drawn` when it is text (the forward part, for a program ending in a
    backward pass), none when False (the program cannot be drawn)."""
    n = renders(page)
    page.click("#expr")
    page.keyboard.press("Control+A")
    page.evaluate(PASTE_JS, program)
    if drawn is False:
        return
    wait_render(page, n)
    expect(page.locator("#circuit-svg")).to_have_attribute(
        "data-expression", program if drawn is True else drawn)


def renders(page: Page) -> int:
    return int(page.get_attribute("#circuit-svg", "data-renders") or 0)


def wait_render(page: Page, after: int) -> None:
    page.wait_for_function(
        "n => Number(document.getElementById('circuit-svg').dataset.renders) > n"
        " && !document.body.dataset.busy", arg=after)


def input_node(page: Page, name: str) -> str:
    """The node id of the input variable `name` in the drawing."""
    return page.locator("g.input", has=page.locator(f"text:text-is('{name}')")).get_attribute(
        "data-node")


def rgb(page: Page, selector: str) -> tuple[int, int, int]:
    fill = page.eval_on_selector(selector, "el => getComputedStyle(el).fill")
    return tuple(int(v) for v in fill[fill.index("(") + 1:fill.index(")")].split(",")[:3])


def result_gradients(page: Page) -> dict[str, str]:
    items = page.locator("#result .grad-item")
    return {items.nth(i).get_attribute("data-name"): items.nth(i).locator(".grad").inner_text()
            for i in range(items.count())}


def presets(page: Page) -> list[dict]:
    return page.evaluate("fetch('/api/presets').then(r => r.json())")


def assert_no_overlaps(page: Page, where: str) -> None:
    geo = page.evaluate(GEOMETRY_JS)
    texts, gates, wires = geo["texts"], geo["gates"], geo["wires"]
    tol = 0.5

    def overlap(a, b):
        return (a["x"] + a["w"] - tol > b["x"] and b["x"] + b["w"] - tol > a["x"]
                and a["y"] + a["h"] - tol > b["y"] and b["y"] + b["h"] - tol > a["y"])

    def circle_hits(t, g):
        nx = min(max(g["cx"], t["x"]), t["x"] + t["w"])
        ny = min(max(g["cy"], t["y"]), t["y"] + t["h"])
        return (nx - g["cx"]) ** 2 + (ny - g["cy"]) ** 2 < (g["r"] - tol) ** 2

    def segment_hits(t, p, q):
        x0, x1 = t["x"] + tol, t["x"] + t["w"] - tol
        y0, y1 = t["y"] + tol, t["y"] + t["h"] - tol
        if p[1] == q[1]:  # orthogonal routing: every segment is horizontal or vertical
            return y0 < p[1] < y1 and min(p[0], q[0]) < x1 and max(p[0], q[0]) > x0
        return x0 < p[0] < x1 and min(p[1], q[1]) < y1 and max(p[1], q[1]) > y0

    assert texts, f"{where}: nothing drawn"
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            assert not overlap(a, b), f"{where}: label {a} overlaps label {b}"
        for g in gates:
            assert not circle_hits(a, g), f"{where}: label {a} overlaps gate {g['id']}"
        for w in wires:
            for p, q in zip(w, w[1:], strict=False):
                assert not segment_hits(a, p, q), f"{where}: wire {w} crosses label {a}"
    for g in gates:
        for h in gates:
            if g is not h:
                assert not circle_hits(h["label"], g), f"{where}: gate labels {g['id']}/{h['id']}"


def test_add_mul_circuit_shows_the_notes_numbers(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("x", {"x": 1}))
    page.fill("#expr", "(x+y)*z")
    page.wait_for_selector("#in-z")
    for name, v in (("x", "-2"), ("y", "5"), ("z", "-4")):
        page.fill(f"#in-{name}", v)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    out = page.locator("g.wire.out").get_attribute("data-node")
    value = f"text.value[data-node={out}]"
    expect(page.locator(value)).to_have_text("-12.00")
    r, g, b = rgb(page, value)
    assert g > r and g > b, "the forward value is drawn in green"
    for name, grad in (("x", "-4.00"), ("y", "-4.00"), ("z", "3.00")):
        sel = f"text.grad[data-node={input_node(page, name)}]"
        expect(page.locator(sel)).to_have_text(grad)
        r, g, b = rgb(page, sel)
        assert r > g and r > b, "gradients are drawn in red"
    assert result_gradients(page) == {"x": "-4.00", "y": "-4.00", "z": "3.00"}
    assert not page.errors


def test_circuit_screenshot_for_the_readme(page: Page, base_url: str) -> None:
    """docs/circuit.png: the notes' first circuit, every number of the notes on its wire."""
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    values = sorted(page.locator("#circuit-svg text.value").all_text_contents())
    grads = sorted(page.locator("#circuit-svg text.grad").all_text_contents())
    assert values == sorted(["-2.00", "5.00", "-4.00", "3.00", "-12.00"])
    assert grads == sorted(["-4.00", "-4.00", "3.00", "-4.00", "1.00"])
    assert page.evaluate(TEXT_SIZES_JS) and all(t["px"] >= 12 for t in page.evaluate(TEXT_SIZES_JS))
    DOCS.mkdir(exist_ok=True)
    page.locator("#circuit").screenshot(path=str(DOCS / "circuit.png"))
    assert (DOCS / "circuit.png").stat().st_size > 1000


def test_hover_a_gate_shows_local_times_upstream(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    mul = page.locator("g.gate[data-op=mul]")
    mul.hover()
    explain = page.locator("#explain")
    expect(explain.locator(".upstream")).to_have_text("1.00")
    expect(explain.locator("tr.send td.local")).to_have_text(["-4.00", "3.00"])
    expect(explain.locator("tr.send td.sends")).to_have_text(["-4.00", "3.00"])
    expect(explain.locator(".katex")).to_have_count(1)
    expect(explain.locator(".pattern")).to_contain_text("swap")
    # Wires are named in words: the unnamed sum is "x + y", never a node id like "n3".
    expect(explain.locator("tr.send td:first-child")).to_have_text(["x + y", "z"])
    page.locator("g.gate[data-op=add]").focus()  # keyboard: focus explains too
    expect(explain.locator(".upstream")).to_have_text("-4.00")
    expect(explain.locator("tr.send td.sends")).to_have_text(["-4.00", "-4.00"])


def test_a_gates_inputs_are_named_with_their_constants(page: Page, base_url: str) -> None:
    """An unnamed input wire is written as its gate with every argument, constants too: 3 - x,
    not -(x), which would read as −x."""
    explain = page.locator("#explain")
    for program, op, names in (("x = 1.5\nf = (3 - x) * x", "mul", ["3 - x", "x"]),
                               ("x = 1.5\nf = 2 ** x + max(x, 0)", "add",
                                ["2 ** x", "max(x, 0)"])):
        open_page(page, base_url, f"#e={quote(program)}")
        page.locator(f"g.gate[data-op={op}]").hover()
        expect(explain.locator("tr.send td:first-child")).to_have_text(names)


def test_a_gates_input_with_a_constant_is_written_as_the_program_writes_it(
        page: Page, base_url: str) -> None:
    """An unnamed one-input gate with a constant reads as code, x - 1, not +-1(x), and one drawn
    as a picture (x², |x|, ᵀ) as that picture of its input; a constant vector as its numbers, a
    bigger constant as a constant with its shape (not "const 3")."""
    explain = page.locator("#explain")
    open_page(page, base_url)
    for program, op, names in (
            ("x = 1.5\nf = (x - 1) * x", "mul", ["x - 1", "x"]),
            ("x = 1.5\nf = -x * x", "mul", ["-x", "x"]),
            ("x = 1.5\nf = x ** 2 * x", "mul", ["x ** 2", "x"]),
            ("x = 1.5\nf = x / 3 * x", "mul", ["x / 3", "x"]),
            ("x = 1.5\nf = x * 1.5 + x", "add", ["x * 1.5", "x"]),
            ("w = [1.0, 2.0]\nf = w[0] * w[1]", "mul", ["w[0]", "w[1]"]),
            # a gate drawn by a picture of itself reads as that picture of its input
            ("q = 1.5\nf = square(q) * q", "mul", ["q²", "q"]),
            ("q = 1.5\nf = abs(q) * q", "mul", ["|q|", "q"]),
            ("q = 1.5\nf = expm1(q) * q", "mul", ["expm1(q)", "q"]),
            ("W = [[1.0, 2.0], [3.0, 4.0]]\nf = sum(W.T * W)", "mul", ["Wᵀ 2×2", "W"]),
            ("w = [1.0, 2.0, 3.0]\nf = sum(w * [2.0, 0.5, 1.0])", "mul",
             ["w", "[2, 0.5, 1]"]),
            ("Z = [[1.0, 2.0, 0.5], [0.1, -1.0, 0.3]]\nL = softmax_ce(Z, [1, 2])",
             "softmax_ce", ["Z", "[1, 2]"]),
            ("Z = [[1.0, 2.0, 0.5], [0.1, -1.0, 0.3]]\n"
             "f = sum(Z * [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])", "mul", ["Z", "constant 2×3"])):
        paste(page, program)
        page.locator(f"g.gate[data-op={op}]").hover()
        expect(explain.locator("tr.send td:first-child")).to_have_text(names)


def test_a_gates_constants_are_stated_beside_its_formula(page: Page, base_url: str) -> None:
    """b = a * 3: the formula's constant a is the 3, said so beside it (the program's a is 2);
    leaky_relu's slope, elu's α (its default) and clip's bounds likewise."""
    explain = page.locator("#explain")
    for program, op, said in (("a = 2; b = a * 3\nf = b*b + sin(b)", "scale", "with a = 3"),
                              ("b = 1\nf = leaky_relu(b, 0.1)", "leaky_relu", "with a = 0.1"),
                              ("b = 1\nf = elu(b)", "elu", "with α = 1"),
                              ("b = 1\nf = clip(b, -1, 2)", "clip", "with lo = -1, hi = 2"),
                              ("w = [1.0, 2.0]\nf = w[1] * 2", "index", "with k = 1")):
        open_page(page, base_url, f"#e={quote(program)}")
        page.locator(f"g.gate[data-op={op}]").hover()
        expect(explain.locator(".consts")).to_have_text(said)
    open_page(page, base_url, "#e=" + quote("x = 1; y = 2\nf = x * y"))  # no constant
    page.locator("g.gate[data-op=mul]").hover()
    expect(explain.locator(".consts")).to_have_count(0)


def test_labels_are_explained_as_taking_no_gradient(page: Page, base_url: str) -> None:
    """softmax_ce(Z, y): the integer labels y are shown as integers and take no gradient; only
    Z gets a vector–Jacobian product. A label given as a constant, likewise."""
    explain = page.locator("#explain")
    open_page(page, base_url)
    for program, rows in (
            ("Z = [[1.0, 2.0, 0.5], [0.1, -1.0, 0.3]]\ny = [1, 2]\nL = softmax_ce(Z, y)",
             ["Z\ttensor 2×3\tJacobian\t1.00\tvector–Jacobian product",
              "y\t[1, 2]\ttakes no gradient"]),
            ("z = [1.0, 2.0, 0.5]\nL = softmax_ce(z, 0)",
             ["z\t[1.00, 2.00, 0.50]\tJacobian\t1.00\tvector–Jacobian product",
              "0\t0\ttakes no gradient"])):
        paste(page, program)
        page.locator("g.gate[data-op=softmax_ce]").hover()
        expect(explain.locator("tr.send")).to_have_count(2)
        assert explain.locator("tr.send").all_inner_texts() == rows
        expect(explain.locator("tr.send td.sends")).to_have_count(1)


def test_a_comparison_gate_is_drawn_with_its_sign_and_explained(page: Page,
                                                                base_url: str) -> None:
    """(x >= 0) * g, a relu's mask: the gate is drawn "≥", sends its inputs 0 and says why, and
    the gradient check agrees."""
    open_page(page, base_url, link("f = (x >= 0) * g", {"x": 1.5, "g": -2}))
    expect(page.locator("#output-value")).to_have_text("-2.00")
    gate = page.locator("g.gate[data-op=ge]")
    expect(gate.locator("text").first).to_have_text("≥")
    gate.hover()
    explain = page.locator("#explain")
    expect(explain.locator("tr.send td.local")).to_have_text(["0.00", "0.00"])
    expect(explain.locator("tr.send td.sends")).to_have_text(["0.00", "0.00"])
    expect(explain.locator(".katex")).to_have_count(1)
    expect(explain.locator(".pattern")).to_contain_text("sends 0 back")
    assert result_gradients(page)["x"] == "0.00"
    page.click("[role=tab][data-tab=check]")
    page.click("#check")
    rows = page.locator("#check-result tr.check-row")
    expect(rows).to_have_count(2)
    expect(rows.locator("td.pass")).to_have_count(2)


# Each gate's formula through the page's KaTeX, strictly: the ops whose TeX it refuses, and the
# fonts max's formula is set in (KaTeX sets a \\mathbb it has no glyph for in the plain font)
RENDER_OPS_JS = """async () => {
  const ops = await (await fetch('/api/ops')).json();
  const refused = ops.filter((o) => {
    try { window.katex.renderToString(o.formula, {throwOnError: true, strict: 'error'}); }
    catch { return true; }
    return false;
  }).map((o) => o.op);
  const max = document.createElement('div');
  window.katex.render(ops.find((o) => o.op === 'max').formula, max);
  const ones = [...max.querySelectorAll('.mord')].filter((e) => /^[1I]$/.test(e.textContent));
  return {refused, indicators: ones.map((e) => e.className)};
}"""


def test_every_gate_formula_renders_and_an_indicator_is_double_struck(page: Page,
                                                                        base_url: str) -> None:
    open_page(page, base_url, link("f = max(a, b)", {"a": 2, "b": 1}))
    page.locator("g.gate[data-op=max]").hover()
    expect(page.locator("#explain .formula .katex")).to_have_count(1)
    rendered = page.evaluate(RENDER_OPS_JS)
    assert rendered["refused"] == []
    # 𝕀(a > b) + 0.5 𝕀(a = b) twice, in the blackboard font: no plain 1 after the 0.5
    assert rendered["indicators"] == ["mord mathbb"] * 4


def test_fork_shows_the_sum_of_its_branches(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("s = x*x + x\ns*y", {"x": 3, "y": 2}))
    expect(page.locator("#output-value")).to_have_text("24.00")
    x = input_node(page, "x")
    expect(page.locator(f"text.grad[data-node={x}]")).to_have_text("14.00")
    shares = page.locator(f"text.contrib[data-node={x}]").all_text_contents()
    assert sorted(shares) == ["2.00", "6.00", "6.00"]
    expect(page.locator("#result .grad-item[data-name=x]")).to_have_text("∂f/∂x = 14 = 6 + 6 + 2")


def test_a_fork_on_a_gates_wire_is_explained_as_the_fork(page: Page, base_url: str) -> None:
    """q = x + y feeds q * q + q: its fork explains how the branches add up (3 + 3 + 1), and the
    + gate that computes q is still explained as the gate."""
    for program, parts, total in (("x = 1; y = 2\nq = x + y\nf = q * q + q",
                                   ["3.00", "3.00", "1.00"], "7.00"),
                                  ("a = 2; b = a * 3\nf = b*b + sin(b)",
                                   ["6.00", "6.00", "0.96"], "12.96")):
        open_page(page, base_url, f"#e={quote(program)}")
        explain = page.locator("#explain")
        fork = page.locator(".fork[aria-label='fork: gradients of the branches add up']")
        fork.click()
        expect(explain.locator("h3")).to_have_text(re.compile("^fork of "))
        expect(explain.locator("li .grad")).to_have_text(parts)
        expect(explain.locator("p .grad")).to_have_text(total)
        fork.click()  # unpinned: the gate that computes the wire explains itself on hover
        page.locator(f"g.gate[data-node={fork.get_attribute('data-node')}]").hover()
        expect(explain.locator("h3")).to_have_text(re.compile(r"^\S+ gate \(\w+\) → [qb]"))


FORKED_Q = "x = 1; y = 2\nq = x + y\nf = q * q + q"


def test_enter_on_a_focused_fork_pins_the_fork(page: Page, base_url: str) -> None:
    """The fork on q focused, the pointer passing over a gate, Enter pins the fork, not the
    gate that computes its wire."""
    open_page(page, base_url, f"#e={quote(FORKED_Q)}")
    explain = page.locator("#explain")
    fork = page.locator(".fork[aria-label='fork: gradients of the branches add up']")
    fork.focus()
    expect(explain.locator("h3")).to_have_text("fork of q")
    page.locator("g.gate[data-op=mul]").hover()
    expect(explain.locator("h3")).to_contain_text("(mul)")
    page.keyboard.press("Enter")
    expect(explain.locator("h3")).to_have_text("fork of q")
    expect(explain).to_have_attribute("data-fork", "true")


def test_a_pinned_fork_is_marked_apart_from_its_gate(page: Page, base_url: str) -> None:
    """A fork and the gate that computes its wire are pinned one at a time: a click on the fork
    marks the fork, a click on the gate then moves the pin to the gate."""
    open_page(page, base_url, f"#e={quote(FORKED_Q)}")
    explain = page.locator("#explain")
    fork = page.locator(".fork[aria-label='fork: gradients of the branches add up']")
    fork.click()
    expect(explain.locator("h3")).to_have_text("fork of q")
    expect(page.locator(".fork.pinned")).to_have_count(1)
    assert fork.evaluate("e => getComputedStyle(e).strokeWidth") == "3px"  # seen as pinned
    expect(page.locator("g.gate.pinned")).to_have_count(0)
    gate = page.locator(f"g.gate[data-node={fork.get_attribute('data-node')}]")
    gate.click()
    expect(explain.locator("h3")).to_have_text(re.compile(r"^\+ gate \(add\) → q"))
    expect(gate).to_have_class(re.compile(r"\bpinned\b"))
    expect(page.locator(".fork.pinned")).to_have_count(0)
    page.locator("g.gate[data-op=mul]").hover()  # still pinned: the pointer passes by
    expect(explain.locator("h3")).to_contain_text("(add)")


def test_a_forks_branch_into_labels_takes_no_gradient(page: Page, base_url: str) -> None:
    """softmax_ce(Z, y) + sum(y): the labels' fork says softmax CE sends y nothing."""
    open_page(page, base_url)
    paste(page, "Z = [[1.0, 2.0, 0.5], [0.1, -1.0, 0.3]]\ny = [1.0, 2.0]\n"
                "L = softmax_ce(Z, y) + sum(y)")
    page.click(f".fork[data-node={input_node(page, 'y')}]")
    expect(page.locator("#explain li")).to_have_text(
        ["from the softmax CE gate (input 2): takes no gradient",
         "from the Σ gate (input 1): tensor"])


def test_a_forks_sum_and_its_parts_share_one_format(fresh_page: Page, base_url: str) -> None:
    """A sum and its parts are each written plain, to one more significant digit than the
    decimals: a tiny branch shows its digits (not 0.00), and does not put the sum in exponent
    form; more decimals, more digits."""
    page = fresh_page
    open_page(page, base_url)  # no hash: the page's starting example
    paste(page, "y = 1\nf = 0.00362 * y + 0.34 * y")
    y = page.locator("#result .grad-item[data-name=y]")
    expect(y).to_have_text("∂f/∂y = 0.344 = 0.00362 + 0.34")
    page.fill("#precision", "3")
    expect(y).to_have_text("∂f/∂y = 0.3436 = 0.00362 + 0.34")
    assert not page.errors, page.errors


def test_every_sum_on_the_result_line_is_written_the_same_way(page: Page, base_url: str) -> None:
    """The staged example at x = 2: both inputs fork, and both sums are plain numbers, one with
    a branch of 0.0089, the other with one of 0.0036 (not 0.01, nor 3.62e-3 in exponent form)."""
    open_page(page, base_url)
    n = renders(page)
    page.select_option("#preset", "staged")
    wait_render(page, n)
    n = renders(page)
    page.fill("#in-x", "2")
    wait_render(page, n)
    expect(page.locator("#result .grad-item[data-name=x]")).to_have_text(
        "∂f/∂x = 0.535 = 0.205 − 0.00889 + 0.339")
    expect(page.locator("#result .grad-item[data-name=y]")).to_have_text(
        "∂f/∂y = 0.342 = 0.00362 + 0.339")


def test_step_through_forward_then_backward(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    add, mul = (page.locator(f"g.gate[data-op={op}]").get_attribute("data-node")
                for op in ("add", "mul"))
    x = input_node(page, "x")
    visible = lambda sel: page.locator(sel).evaluate(  # noqa: E731
        "el => getComputedStyle(el).visibility === 'visible'")
    page.click("#step")  # step 0: only the inputs are known
    assert visible(f"text.value[data-node={x}]")
    assert not visible(f"text.value[data-node={add}]")
    page.click("#step")
    page.click("#step")  # forward pass done
    assert visible(f"text.value[data-node={mul}]")
    assert not visible(f"text.grad[data-node={add}]")
    page.click("#step")  # seed
    assert visible(f"text.grad[data-node={mul}]")
    page.click("#step")  # backward through *: q and z get theirs, x not yet
    expect(page.locator(f"g.gate[data-node={mul}]")).to_have_class(re.compile(r"\bactive\b"))
    assert visible(f"text.grad[data-node={add}]")
    assert not visible(f"text.grad[data-node={x}]")
    page.click("#step")  # backward through +
    expect(page.locator(f"g.gate[data-node={add}]")).to_have_class(re.compile(r"\bactive\b"))
    assert visible(f"text.grad[data-node={x}]")
    expect(page.locator("#step-status")).to_contain_text("backward pass: gate 2 of 2")


@pytest.mark.parametrize("width", [1280, 800, 375])
def test_stepping_does_not_move_the_circuit(fresh_page: Page, base_url: str, width: int) -> None:
    """The step's status text, short or long, keeps its own line: the circuit stays put (a tab
    of its own: the size it is set to stays with the tab)."""
    page = fresh_page
    page.set_viewport_size({"width": width, "height": 800})
    open_page(page, base_url)
    box = page.locator("#circuit")
    top = box.bounding_box()["y"]
    for _ in range(6):  # inputs set, two gates forward, the seed, two gates backward
        page.click("#step")
        assert page.locator("#step-status").inner_text()
        assert box.bounding_box()["y"] == top, page.locator("#step-status").inner_text()


def test_result_line_and_explanation_show_only_what_the_step_has_computed(
        page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, "q = x + y\nf = q * z")
    explained = lambda: page.locator("#explain table").inner_text().split("\n")[1:]  # noqa: E731
    page.click("#step")
    page.click("#step")  # forward through +: no gradient is known yet
    expect(page.locator("#step-status")).to_have_text("forward pass: gate 1 of 2")
    assert result_gradients(page) == {"x": "?", "y": "?", "z": "?"}
    expect(page.locator("#output-value")).to_have_text("?")
    expect(page.locator("#explain .upstream")).to_have_text("?")
    assert explained() == ["x\t-2.00\t1.00\t?\t?", "y\t5.00\t1.00\t?\t?"]
    page.click("#step")  # forward through *: f is known, still no gradient
    expect(page.locator("#output-value")).to_have_text("-12.00")
    assert result_gradients(page) == {"x": "?", "y": "?", "z": "?"}
    page.click("#step")
    page.click("#step")  # backward through *: z has its gradient, x and y not yet
    expect(page.locator("#step-status")).to_have_text("backward pass: gate 1 of 2")
    assert result_gradients(page) == {"x": "?", "y": "?", "z": "3.00"}
    assert explained() == ["q\t3.00\t-4.00\t1.00\t-4.00", "z\t-4.00\t3.00\t1.00\t3.00"]
    page.click("#step")  # backward through +: all known
    assert result_gradients(page) == {"x": "-4.00", "y": "-4.00", "z": "3.00"}
    expect(page.locator("#explain .upstream")).to_have_text("-4.00")
    page.click("#step")  # past the end: back to the inputs
    assert result_gradients(page) == {"x": "?", "y": "?", "z": "?"}
    page.click("#show-all")
    assert result_gradients(page) == {"x": "-4.00", "y": "-4.00", "z": "3.00"}
    expect(page.locator("#explain .upstream")).to_have_text("-4.00")


def test_the_seed_step_says_what_the_backward_pass_starts_from(page: Page,
                                                                base_url: str) -> None:
    """The notes' D = W.dot(X) with dD given: the backward pass starts from dD, not from 1;
    without dD, from ones."""
    open_page(page, base_url)
    forward = MATRIX_CODE[:backward_check(MATRIX_CODE)["forward_end"]].rstrip()
    status = page.locator("#step-status")
    for code, said in ((MATRIX_CODE, "backward pass: the given dD on the output D"),
                       (forward, "backward pass: ones on the output D")):
        paste(page, code, drawn=forward)
        page.click("#show-all")
        for _ in range(3):  # the inputs, the dot gate, the seed
            page.click("#step")
        expect(status).to_have_text(said)


def test_shared_url_reopens_the_same_circuit(page: Page, base_url: str, context) -> None:
    open_page(page, base_url, link("q = x + y\nf = q * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.fill("#in-x", "1.5")
    expect(page.locator("#output-value")).to_have_text("-26.00")
    n = renders(page)
    page.fill("#precision", "3")
    wait_render(page, n)
    page.check("#magnitude")
    url = page.url
    other = context.new_page()
    try:
        other.goto(url)
        wait_ready(other)
        expect(other.locator("#output-value")).to_have_text("-26.000")
        assert editor_text(other) == "q = x + y\nf = q * z"
        assert other.input_value("#in-x") == "1.5"
        assert other.input_value("#precision") == "3"
        assert other.is_checked("#magnitude")
        expect(other.locator("text.name")).to_have_text(["q", "f"])
    finally:
        other.close()


def test_a_shared_link_reopens_at_the_step_on_show(page: Page, base_url: str, context) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    for _ in range(5):  # the inputs, two gates forward, the seed, one gate back
        page.click("#step")
    expect(page.locator("#step-status")).to_have_text("backward pass: gate 1 of 2")
    other = context.new_page()
    try:
        other.goto(page.url)
        wait_ready(other)
        expect(other.locator("#step-status")).to_have_text("backward pass: gate 1 of 2")
        assert result_gradients(other) == {"x": "?", "y": "?", "z": "3.00"}
        other.click("#show-all")
        assert result_gradients(other) == {"x": "-4.00", "y": "-4.00", "z": "3.00"}
        assert "s=" not in other.url
    finally:
        other.close()


def test_a_link_opened_on_the_page_steps_its_own_circuit(page: Page, base_url: str) -> None:
    """The step of a link opened over another circuit waits for the link's circuit: it is not
    shown on the circuit before it (whose gates it does not number), even when the link's code
    has an error."""
    values = {"x": -2, "y": 5, "z": -4}
    open_page(page, base_url, link("x * y", values))
    expect(page.locator("#output-value")).to_have_text("-10.00")
    page.click("#step")
    page.evaluate("h => { location.hash = h; }", link("(x + y) *", values, s="4"))
    expect(page.locator("#error .message")).not_to_be_empty()
    expect(page.locator("#step-status")).to_have_text("")
    assert "s=4" in page.url
    # the circuit still on show is the one before: dimmed, and it says so
    expect(page.locator("#circuit")).to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator("#stale-note")).to_be_visible()
    page.fill("#expr", "(x + y) * z")
    expect(page.locator("#step-status")).to_have_text("backward pass: gate 1 of 2")
    assert result_gradients(page) == {"x": "?", "y": "?", "z": "3.00"}


def test_exported_svg_is_valid(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    with page.expect_download() as d:
        page.click("#download-svg")
    root = ET.parse(d.value.path()).getroot()
    assert root.tag == f"{SVG_NS}svg"
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "-12.00" in texts and "3.00" in texts
    with page.expect_download() as d:
        page.click("#download-png")
    assert Path(d.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


STEPPED = "x = -2; y = 5; z = -4\nq = x + y\nf = q * z"


def exported(page: Page) -> ET.Element:
    """The drawing as "SVG ↓" saves it."""
    with page.expect_download() as d:
        page.click("#download-svg")
    return ET.parse(d.value.path()).getroot()


def exported_numbers(root: ET.Element, cls: str) -> list[str]:
    return sorted("".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")
                  if cls in (t.get("class") or "").split())


def test_an_export_shows_the_numbers_the_step_on_show_shows(page: Page, base_url: str) -> None:
    """One slide per step: the file holds the numbers on screen and none the step hides, and
    none of the page's own marks (the pinned gate's ring, the pulse on the wires)."""
    open_page(page, base_url, f"#e={quote(STEPPED)}&s=1")
    expect(page.locator("#step-status")).to_contain_text("forward pass: gate 1 of 2")
    page.click("g.gate[data-op=mul]")
    expect(page.locator("g.gate.pinned")).to_have_count(1)
    expect(page.locator("g.wire.pulse-forward")).to_have_count(1)
    root = exported(page)
    assert exported_numbers(root, "value") == ["-2.00", "-4.00", "3.00", "5.00"]
    assert exported_numbers(root, "grad") == []
    for el in root.iter():
        if el.tag in (f"{SVG_NS}polyline", f"{SVG_NS}circle"):
            assert "stroke-dasharray:none" in el.get("style"), ET.tostring(el)
    page.click("#step")
    page.click("#step")
    page.click("#step")
    expect(page.locator("#step-status")).to_contain_text("backward pass: gate 1 of 2")
    root = exported(page)
    assert "-12.00" in exported_numbers(root, "value")
    shown = sorted(page.locator("#circuit-svg text.grad:not(.pending)").all_text_contents())
    assert len(shown) == 3 and exported_numbers(root, "grad") == shown


def test_syntax_error_keeps_the_circuit_and_shows_a_caret(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x+y)*z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.fill("#expr", "(x+y)*")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error .caret-line")).to_have_text("(x+y)*")
    caret = page.locator("#error .caret").inner_text()
    assert "^" in caret and caret.index("^") >= 5, caret
    expect(page.locator("#error .message")).not_to_be_empty()
    expect(page.locator("text.value").first).to_be_visible()  # the last good circuit stays
    expect(page.locator("#output-value")).to_have_text("-12.00")
    expect(page.locator("#stale-note")).to_have_text(  # and says it is the last good one
        "The circuit on show is the last one drawn: fix the error under the code to redraw it.")
    assert editor_text(page) == "(x+y)*"
    assert not page.errors or all("400" in e for e in page.errors)
    page.fill("#expr", "(x+y)*2")
    expect(page.locator("#output-value")).to_have_text("6.00")
    expect(page.locator("#stale-note")).to_be_hidden()


# The notes' staged forward and backward pass with one typo, far down: on line 23 of 34.
TYPO = STAGED_CODE.replace("dxpy = (2 * xpy) * dxpysqr", "dxpy = (2 * xpy) * dxpysq")
TYPO_AT = TYPO.index("dxpysq ")
# Whether the underlined error lies inside the editor's scrolled box.
ERROR_IN_VIEW_JS = """() => {
  const mark = document.querySelector('#editor .cm-lintRange-error');
  if (!mark) return false;
  const box = document.querySelector('#editor .cm-scroller').getBoundingClientRect();
  const r = mark.getBoundingClientRect();
  return r.top >= box.top && r.bottom <= box.bottom;
}"""


def paste_wrong(page: Page, program: str) -> None:
    """Paste `program`, which has an error, and wait for the error box (the server's answer may
    come from a worker process)."""
    paste(page, program, drawn=False)
    page.wait_for_selector("#error:not([hidden])")


def test_an_error_in_a_pasted_program_names_its_line_and_column(page: Page, base_url: str):
    open_page(page, base_url)  # no hash: the page's starting example
    paste_wrong(page, TYPO)
    assert TYPO.count("\n", 0, TYPO_AT) + 1 == 23
    expect(page.locator("#error .message")).to_have_text(re.compile(
        r"^Invalid expression or values at line 23, column 20: unknown name 'dxpysq'"))
    expect(page.locator("#error .caret-line")).to_contain_text("dxpy = (2 * xpy) * dxpysq")
    assert editor_text(page) == TYPO  # nothing the user typed is lost


def test_an_error_in_a_pasted_program_is_scrolled_into_view(page: Page, base_url: str):
    """The paste leaves the editor at the program's end; the error on line 23 comes into view."""
    open_page(page, base_url)
    paste_wrong(page, TYPO)
    page.wait_for_function(ERROR_IN_VIEW_JS)


def test_a_click_on_the_error_box_puts_the_caret_at_the_error(page: Page, base_url: str):
    open_page(page, base_url)
    paste_wrong(page, TYPO)
    page.evaluate("window.chainrule.editor.reveal(0)")  # the caret elsewhere, line 1 on show
    page.click("#error .caret-box")
    assert page.evaluate("window.chainrule.editor.view.state.selection.main.head") == TYPO_AT
    expect(page.locator("#error .caret-box")).to_have_attribute("title", "go to line 23")
    expect(page.locator("#expr")).to_be_focused()
    page.wait_for_function(ERROR_IN_VIEW_JS)  # scrolled there at the editor's next layout
    page.evaluate("window.chainrule.editor.reveal(0)")
    page.click("#error .message")  # the whole box takes the caret there
    assert page.evaluate("window.chainrule.editor.view.state.selection.main.head") == TYPO_AT


def test_x_eq_eq_y_says_what_the_language_has_instead(page: Page, base_url: str):
    open_page(page, base_url)
    paste_wrong(page, "x == y")
    expect(page.locator("#error .message")).to_have_text(
        "Invalid expression or values: '==' is not part of the language: a single = gives a "
        "name its value (to give x a value, write x = ...; or compare with > < >= <=, which "
        "give 1 where they hold and 0 elsewhere: a == b is (a >= b) * (a <= b))")
    assert page.locator("#error .caret").text_content() == "  ^^"  # under the ==, not one =


def test_an_emoji_before_the_error_moves_neither_its_place_nor_its_underline(page: Page,
                                                                             base_url: str):
    """The server counts characters, an emoji as one; the page's strings count it as two."""
    open_page(page, base_url)
    paste_wrong(page, "# 🌟🌟 sigmoid\nx = 3\ny = x ^ 2")
    expect(page.locator("#error .message")).to_have_text(re.compile(
        r"^Invalid expression or values at line 3, column 7: '\^' is not a power here"))
    expect(page.locator(".cm-lintRange-error")).to_have_text("^")
    expect(page.locator("#error .caret-line")).to_have_text("y = x ^ 2")
    assert page.locator("#error .caret").text_content() == "      ^"
    # On the error's own line, the page's column and the one the server's words cite agree.
    paste_wrong(page, "x = 3\nprint('🌟'); y = (x + 1]")
    expect(page.locator("#error .message")).to_have_text(re.compile(
        r"^Invalid expression or values at line 2, column 23: "
        r"'\]' does not match the '\(' at line 2, column 17"))
    expect(page.locator(".cm-lintRange-error")).to_have_text("]")


ERROR_SHOWN_JS = """() => {
  window.errorShown = 0;
  const box = document.getElementById('error');
  new MutationObserver(() => { if (!box.hidden) window.errorShown++; })
    .observe(box, {attributes: true});
}"""


def test_a_new_name_gets_an_input_and_draws_without_an_error(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x+y)*z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.evaluate(ERROR_SHOWN_JS)
    page.click("#expr")
    page.keyboard.press("End")
    page.keyboard.type(" + w", delay=40)
    expect(page.locator("#in-w")).to_have_value("1")  # the default
    expect(page.locator("#output-value")).to_have_text("-11.00")
    assert page.evaluate("window.errorShown") == 0
    page.fill("#in-w", "2.5")
    expect(page.locator("#output-value")).to_have_text("-9.50")
    assert editor_text(page) == "(x+y)*z + w"


def test_a_missing_value_reported_by_the_server_is_filled_in(page: Page, base_url: str) -> None:
    """A name the page's own reading missed: the problem's `missing` list brings it in."""
    open_page(page, base_url, link("(x+y)*z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.evaluate(ERROR_SHOWN_JS)
    bodies = []

    def hide_w(route):
        # Send the first request without w, as if the page had not seen it; the server's
        # problem names it in `missing`.
        body = json.loads(route.request.post_data)
        bodies.append(body)
        if len(bodies) > 1:
            route.continue_()
            return
        body["values"].pop("w", None)
        response = route.fetch(post_data=json.dumps(body))
        problem = response.json()
        assert response.status == 400 and problem["missing"] == ["w"], problem
        route.fulfill(response=response)

    page.route("**/api/circuit", hide_w)
    page.fill("#expr", "(x+y)*z + w")
    expect(page.locator("#output-value")).to_have_text("-11.00")
    assert bodies[-1]["values"]["w"] == 1.0
    expect(page.locator("#in-w")).to_have_value("1")
    expect(page.locator(".input-row[data-name=w] .from-program")).to_have_count(0)
    assert page.evaluate("window.errorShown") == 0


def test_the_notes_numpy_arrays_are_set_in_the_program(page: Page, base_url: str) -> None:
    """A newcomer pastes the notes' vectorised example: each np.array is an input whose row
    shows and edits the program's list, and the line the output does not read is named."""
    open_page(page, base_url)
    paste(page, VECTORS_CODE)
    for name, text in (("a", "[1, 2, 3]"), ("A", "[[1, 2], [3, 4]]")):
        row = page.locator(f".input-row[data-name={name}]")
        expect(row.locator(".from-program")).to_have_count(1)
        expect(row.locator("input.list")).to_have_value(text)
    expect(page.locator("#result .warn", has_text="line 6: c is not drawn")).to_have_count(1)


def test_nudge_and_gradient_check(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.click("[role=tab][data-tab=nudge]")
    page.select_option("#nudge-input", "x")
    page.fill("#nudge-h", "0.01")
    page.click("#nudge")
    expect(page.locator("#nudge-predicted")).to_have_text("-0.0400")
    expect(page.locator("#nudge-actual")).to_have_text("-0.0400")
    page.click("[role=tab][data-tab=check]")
    page.click("#check")
    rows = page.locator("#check-result tr.check-row")
    expect(rows).to_have_count(3)
    expect(rows.locator("td.pass")).to_have_count(3)


def test_check_gradients_shows_the_numbers_of_a_small_vector(page: Page, base_url: str) -> None:
    """The notes' sigmoid neuron pasted into a fresh page: w = [2, -3, -3] and x = [-1, -2] show
    every element of their analytic and numeric gradients, not "[…]"."""
    open_page(page, base_url)
    paste(page, NEURON_GROUPED)
    page.click("[role=tab][data-tab=check]")
    page.click("#check")
    w = page.locator("#check-result tr.check-row[data-name=w]")
    expect(w.locator("td.analytic")).to_have_text("[-0.1966, -0.3932, 0.1966]")
    expect(w.locator("td.numeric")).to_have_text("[-0.1966, -0.3932, 0.1966]")
    x = page.locator("#check-result tr.check-row[data-name=x]")
    expect(x.locator("td.analytic")).to_have_text("[0.3932, -0.5898]")
    expect(page.locator("#check-result td.pass")).to_have_count(2)


def test_check_gradients_shows_the_worst_element_of_a_matrix_and_all_on_demand(
        page: Page, base_url: str) -> None:
    """The notes' 5×10 W: its row names the element with the largest relative error and shows
    its two numbers; every element is a click away."""
    open_page(page, base_url)
    forward = MATRIX_CODE[:MATRIX_CODE.index("\n\n# now")]
    paste(page, forward)
    page.click("[role=tab][data-tab=check]")
    page.click("#check")
    w = page.locator("#check-result tr.check-row[data-name=W]")
    expect(w.locator("td").first).to_have_text(re.compile(r"W\[\d, \d\]"))
    expect(w.locator("td.analytic")).to_have_text(re.compile(r"^-?\d+\.\d{4}$"))
    expect(w.locator("td.numeric")).to_have_text(w.locator("td.analytic").text_content())
    every = page.locator("#check-result details", has_text="of the 50 elements of W: show them all")
    expect(every.locator("summary")).to_contain_text(
        f"{w.locator('td').first.text_content()} has the largest relative error")
    expect(every.locator("tr")).to_have_count(51)
    expect(every.locator("tr").nth(1)).not_to_be_visible()
    every.locator("summary").click()
    expect(every.locator("tr").nth(1).locator("td").first).to_have_text("W[0, 0]")
    expect(every.locator("tr.worst td").first).to_have_text(w.locator("td").first.text_content())


def test_check_gradients_says_why_sqrt_at_0_is_not_a_failure(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, "x = 0\nf = sqrt(x)")
    page.click("[role=tab][data-tab=check]")
    page.click("#check")
    x = page.locator("#check-result tr.check-row[data-name=x]")
    expect(x.locator("td.analytic")).to_have_text("∞")
    expect(x.locator("td.numeric")).to_have_text("NaN")
    expect(x.locator("td").last).to_have_text("edge")
    expect(page.locator("#check-result p.pass")).to_have_text("passed (h = 0.00001)")
    expect(page.locator("#check-result .check-note")).to_have_text(
        "x is at the edge of the √ gate's domain, where the derivative is infinite: x - h leaves "
        "the domain, so central differences cannot measure it")


def test_gradients_from_a_given_dD_are_named_as_the_notes_name_them(page: Page,
                                                                   base_url: str) -> None:
    """The notes' D = W.dot(X): alone, its gradients are those of ΣD; with the pasted dD, they
    are the notes' dW and dX (those of Σ dD⊙D), not ∂D/∂W. A nudge of W[1, 2] changes Σ dD⊙D by
    what h·dW[1, 2] predicts."""
    open_page(page, base_url)
    forward = MATRIX_CODE[:backward_check(MATRIX_CODE)["forward_end"]].rstrip()
    paste(page, forward)
    w = page.locator("#result .grad-item[data-name=W]")
    expect(w).to_have_text("∂ΣD/∂W = [5×10]")
    paste(page, MATRIX_CODE, drawn=forward)
    expect(w).to_have_text("dW = [5×10]")
    expect(w).to_have_attribute("title", "the gradient of Σ dD⊙D with respect to W")
    page.click("[role=tab][data-tab=nudge]")
    page.select_option("#nudge-input", "W")
    page.fill("#nudge-index", "1, 2")
    page.fill("#nudge-h", "0.01")
    page.click("#nudge")
    result = page.locator("#nudge-result")
    expect(result).to_contain_text("predicted h·dW[1, 2]")
    expect(result).to_contain_text("actual change of Σ dD⊙D")
    predicted = page.locator("#nudge-predicted").text_content()
    assert predicted not in ("0.0000", "NaN")
    expect(page.locator("#nudge-actual")).to_have_text(predicted)


def test_a_tiny_nudge_shows_enough_digits_to_see_the_input_move(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    paste(page, "x = -2; y = 5; z = -4\nf = (x + y) * z")
    page.click("[role=tab][data-tab=nudge]")
    page.select_option("#nudge-input", "x")
    page.fill("#nudge-h", "1e-9")
    page.click("#nudge")
    expect(page.locator("#nudge-result th")).to_have_text("x: -2.000000000 → -1.999999999")
    expect(page.locator("#nudge-predicted")).to_have_text("-4.0000e-9")
    expect(page.locator("#nudge-actual")).to_have_text("-4.0000e-9")


def test_a_backward_pass_without_dD_warns_once_of_the_ones_it_starts_from(page: Page,
                                                                          base_url: str) -> None:
    open_page(page, base_url)
    code = ("W = np.random.randn(3, 3)\nX = np.random.randn(3, 3)\nD = W.dot(X)\n"
            "dW = dD.dot(X.T)\ndX = W.T.dot(dD)")
    paste(page, code, drawn=code[:backward_check(code)["forward_end"]].rstrip())
    expect(page.locator("#check-summary")).to_be_visible()
    expect(page.locator("#result .warn")).to_have_text([
        "⚠ the output D has shape 3×3: the backward pass starts from ones (the gradient of the sum "
        "of its elements)"])


def test_staged_code_panel(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    page.click("[role=tab][data-tab=code]")
    expect(page.locator("#code")).to_contain_text("dx")
    expect(page.locator("#code details")).to_have_count(0)  # no helpers here


def test_staged_code_folds_its_helpers_so_the_passes_show_first(page: Page, base_url: str) -> None:
    body = {"expression": "softmax_ce(relu(X @ W1) @ W2, y)", "values": {
        "X": {"randn": [6, 4]}, "W1": {"randn": [4, 5]}, "W2": {"randn": [5, 3]},
        "y": [0, 2, 1, 1, 0, 2]}}
    open_page(page, base_url, link(body["expression"], body["values"]))
    page.click("[role=tab][data-tab=code]")
    helpers = page.locator("#code details.helper")
    expect(helpers).to_have_count(3)
    expect(helpers.locator("summary")).to_have_text(
        ["def softmax_ce(z, labels):", "def _softmax_minus_onehot(z, labels):", "def _rows(z):"])
    expect(page.locator("#code")).to_contain_text("# forward pass")
    code = page.locator("#code")
    box, forward = code.bounding_box(), page.get_by_text("# backward pass").bounding_box()
    assert forward["y"] < box["y"] + box["height"], "the backward pass is in view, not below"
    for k in range(3):
        expect(helpers.nth(k)).to_have_js_property("open", False)
    high = helpers.first.bounding_box()["height"]
    helpers.first.locator("summary").click()
    expect(helpers.first).to_have_js_property("open", True)
    assert helpers.first.bounding_box()["height"] > 4 * high, "open, its body shows"
    # folded or not, the panel holds the server's source to the character (copy takes it)
    source = page.evaluate("""async (body) => (await (await fetch('/api/code', {
        method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify(body)})).json()).source""", body)
    assert code.text_content() == source


def test_expand_toggle_keeps_the_neuron_gradients(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    neuron = next(p for p in presets(page) if "sigmoid(" in p["expression"] and not p["expand"])
    n = renders(page)
    page.select_option("#preset", neuron["id"])
    wait_render(page, n)  # the preset's drawing, not the starting example's
    expect(page.locator("#preset-notes")).not_to_be_empty()
    page.wait_for_selector("#result .grad-item")
    before = result_gradients(page)
    gates = page.locator("g.gate").count()
    n = renders(page)
    page.check("#expand")
    wait_render(page, n)
    assert page.locator("g.gate").count() > gates
    assert result_gradients(page) == before
    assert page.locator("g.gate text", has_text="exp").count() >= 1


TEXT_SIZES_JS = """() => {
  const svg = document.getElementById('circuit-svg');
  const zoom = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll('text')].filter((t) => t.textContent && t.getBBox().width)
    .map((t) => ({text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * zoom,
                  height: t.getBoundingClientRect().height}));
}"""

FIT_JS = """() => {
  const svg = document.getElementById('circuit-svg');
  const box = document.getElementById('circuit');
  const pad = 2 * parseFloat(getComputedStyle(box).paddingLeft);
  const r = svg.getBoundingClientRect();
  return r.width <= box.clientWidth - pad + 0.5 && r.height <= box.clientHeight - pad + 0.5;
}"""


def test_every_preset_draws_cleanly_with_its_text_at_12px_or_more(page: Page,
                                                                   base_url: str) -> None:
    """Each preset loads without an error, no label overlaps another label, a gate or a wire,
    and at 1280×800 no text is shrunk below 12 px: big circuits scroll, and "fit" is a choice."""
    open_page(page, base_url)
    all_presets = presets(page)
    assert all_presets, "the engine has presets"
    for p in all_presets:
        n = renders(page)
        page.select_option("#preset", p["id"])
        wait_render(page, n)
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#preset")).to_have_value(p["id"])  # drawn, it is still the example
        assert_no_overlaps(page, p["id"])
        sizes = page.evaluate(TEXT_SIZES_JS)
        assert sizes, p["id"]
        small = [t for t in sizes if t["px"] < 12 - 1e-6 or t["height"] < 12]
        assert not small, f"{p['id']}: text below 12 px: {small[:3]}"
    page.click("#fit")  # the last preset, whole in the panel on request
    assert page.evaluate(FIT_JS)
    page.click("#zoom-reset")
    assert all(t["px"] >= 12 - 1e-6 for t in page.evaluate(TEXT_SIZES_JS))
    assert not page.errors, page.errors


def test_tensor_wire_shows_shape_and_opens_a_heat_map(page: Page, base_url: str) -> None:
    values = {"W": {"randn": [5, 10], "seed": 0}, "x": {"randn": [10], "seed": 1}}
    open_page(page, base_url, link("sum(W @ x)", values))
    w = input_node(page, "W")
    expect(page.locator(f"text.value[data-node={w}]")).to_have_text("5×10")
    wire = page.locator(f"g.wire.tensor[data-node={w}]")
    wire.focus()  # a thin wire has no area to click in Playwright's eyes: use the keyboard
    page.keyboard.press("Enter")
    heat = page.locator("#heatmap svg.heat")
    expect(heat).to_have_count(2)
    expect(heat.first.locator("rect.heat-cell")).to_have_count(50)
    page.keyboard.press("Escape")
    expect(page.locator("#heatmap")).to_be_hidden()
    wire.locator(".wire-hit").dispatch_event("click")
    expect(heat).to_have_count(2)
    assert_no_overlaps(page, "tensor")


def test_a_tensor_gate_shows_its_shapes_beside_its_circle(page: Page, base_url: str) -> None:
    """W 3×4 times x 4 is a 3-vector: the @ gate says so beside its circle, at 12 px or more."""
    values = {"W": {"randn": [3, 4], "seed": 0}, "x": [1, 2, 3, 4]}
    open_page(page, base_url, link("sum(relu(W @ x))", values))
    gate = page.locator("g.gate[data-op=matmul]")
    shapes = gate.locator("text.gate-shape")
    expect(shapes).to_have_text("3×4 @ 4 → 3")
    expect(page.locator("g.gate[data-op=relu] text.gate-shape")).to_have_text("relu(3) → 3")
    expect(page.locator("g.gate[data-op=sum] text.gate-shape")).to_have_text("Σ(3) → scalar")
    circle, text = gate.locator("circle").bounding_box(), shapes.bounding_box()
    assert text["height"] >= 12
    assert 0 <= text["y"] - (circle["y"] + circle["height"]) < 6, "just under its circle"
    centre = circle["x"] + circle["width"] / 2
    assert abs(text["x"] + text["width"] / 2 - centre) < 1, "centred on it"
    # Wires still end on the circle, not at the edge of the wider box.
    cx = float(gate.locator("circle").get_attribute("cx"))
    r = float(gate.locator("circle").get_attribute("r"))
    ends = [float(page.eval_on_selector(
        f"g.wire[data-node='{input_node(page, name)}'] polyline.wire-line",
        "p => p.getAttribute('points').trim().split(' ').pop().split(',')[0]"))
        for name in ("W", "x")]
    assert all(cx - r - 0.5 <= x <= cx for x in ends), (ends, cx, r)
    assert_no_overlaps(page, "shapes")
    assert not page.errors


def test_magnitude_view_shows_a_fading_sigmoid_chain(page: Page, base_url: str) -> None:
    expr = "sigmoid(sigmoid(sigmoid(sigmoid(sigmoid(x)))))"
    open_page(page, base_url, link(expr, {"x": 2}, m="1"))
    expect(page.locator("#legend")).to_be_visible()
    width = lambda sel: float(page.eval_on_selector(  # noqa: E731
        sel, "el => getComputedStyle(el.querySelector('.wire-line')).strokeWidth").rstrip("px"))
    x = input_node(page, "x")
    assert width(f"g.wire[data-node={x}]") < width("g.wire.out")


def test_magnitude_view_colours_only_the_gradients_the_steps_have_reached(
        page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}, m="1"))
    expect(page.locator("#legend")).to_be_visible()
    x, z = input_node(page, "x"), input_node(page, "z")
    stroke = lambda sel: page.eval_on_selector(  # noqa: E731
        sel, "el => getComputedStyle(el.querySelector('.wire-line')).stroke")
    neutral = page.eval_on_selector("g.wire.out .arrow", "el => getComputedStyle(el).stroke")
    coloured = {f"g.wire[data-node={x}]": stroke(f"g.wire[data-node={x}]"),
                "g.wire.out": stroke("g.wire.out")}
    assert all(c != neutral for c in coloured.values()), "all gradients shown: all wires coloured"
    for _ in range(4):  # inputs, +, *, then the seed 1.00 on the output
        page.click("#step")
    expect(page.locator("#step-status")).to_contain_text("gradient 1 on the output")
    assert stroke("g.wire.out") == coloured["g.wire.out"]
    assert stroke(f"g.wire[data-node={z}]") == neutral, "z's gradient is not known yet"
    assert stroke(f"g.wire[data-node={x}]") == neutral
    page.click("#step")  # backward through *: z has its gradient, x not yet
    assert stroke(f"g.wire[data-node={z}]") != neutral
    assert stroke(f"g.wire[data-node={x}]") == neutral
    page.click("#step")  # backward through +
    assert stroke(f"g.wire[data-node={x}]") == coloured[f"g.wire[data-node={x}]"]
    page.click("#step")  # past the end: back to the inputs, no gradient known
    assert stroke("g.wire.out") == neutral
    page.click("#show-all")
    assert stroke("g.wire.out") == coloured["g.wire.out"]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_readable_on_a_narrow_screen_in_both_themes(browser, base_url: str, theme: str) -> None:
    ctx = browser.new_context(viewport={"width": 400, "height": 800})
    try:
        page = ctx.new_page()
        page.add_init_script(f"localStorage.setItem('chainrule-theme', '{theme}')")
        open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
        expect(page.locator("#output-value")).to_have_text("-12.00")
        assert page.evaluate("document.documentElement.scrollWidth") <= 401
        assert page.evaluate("document.documentElement.dataset.theme") == theme
        page.click("#theme-toggle")
        assert page.evaluate("document.documentElement.dataset.theme") != theme
    finally:
        ctx.close()


PNG_CONTENT_JS = """async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const img = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
  const [W, H] = [img.width, img.height];
  const c = new OffscreenCanvas(W, H);
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, W, H).data;
  const ink = (x, y) => {
    const i = 4 * (y * W + x);
    return Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 60;
  };
  // From each edge inwards to the first inked column or row (the corner pixel is background).
  const col = (x) => { for (let y = 0; y < H; y++) if (ink(x, y)) return true; return false; };
  const row = (y) => { for (let x = 0; x < W; x++) if (ink(x, y)) return true; return false; };
  let [x0, y0, x1, y1] = [0, 0, W - 1, H - 1];
  while (x0 < W && !col(x0)) x0++;
  while (x1 > 0 && !col(x1)) x1--;
  while (y0 < H && !row(y0)) y0++;
  while (y1 > 0 && !row(y1)) y1--;
  return {width: W, height: H, ink: [x0, y0, x1, y1]};
}"""


@pytest.mark.parametrize("expression", [
    "(x + y) * z",  # drawn larger than its own size on screen
    " + ".join(f"sigmoid(x * {k}) * y" for k in range(1, 11)),  # a 39-gate circuit
])
def test_png_export_is_the_drawing_at_twice_its_size(page: Page, base_url: str, expression) -> None:
    import base64
    import struct

    open_page(page, base_url, link(expression, {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#error")).to_be_hidden()
    w, h, drawn = page.evaluate("""() => {
      const svg = document.getElementById('circuit-svg');
      const b = svg.querySelector('g.circuit').getBBox();
      const v = svg.viewBox.baseVal;
      return [v.width, v.height, [b.x, b.y, b.x + b.width, b.y + b.height]];
    }""")
    with page.expect_download() as d:
        page.click("#download-png")
    data = Path(d.value.path()).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (2 * w, 2 * h)
    png = page.evaluate(PNG_CONTENT_JS, base64.b64encode(data).decode())
    # What is inked is the drawing, at twice its size: nothing cut off, nothing added around it.
    for inked, edge in zip(png["ink"], drawn, strict=True):
        assert abs(inked - 2 * edge) <= 10, f"PNG ink {png['ink']} vs drawing ×2 {drawn}"


GATE_CENTRES_JS = """() => Object.fromEntries(
  [...document.querySelectorAll('#circuit-svg g.gate circle')]
    .map((c) => [c.parentNode.dataset.node, [c.getAttribute('cx'), c.getAttribute('cy')]]))"""


def test_a_40_gate_circuit_keeps_its_layout_when_a_value_moves(page: Page, base_url: str) -> None:
    expression = " + ".join(f"sigmoid(x * {k}) * y" for k in range(1, 11)) + " + x"
    open_page(page, base_url, link(expression, {"x": 0.5, "y": 2}))
    before = page.evaluate(GATE_CENTRES_JS)
    assert len(before) == 40
    zoom = page.get_attribute("#circuit-svg", "data-zoom")
    for value in ("-0.75", "3.25"):
        n = renders(page)
        page.fill("#in-x", value)
        wait_render(page, n)
        assert page.evaluate(GATE_CENTRES_JS) == before, f"gates moved when x became {value}"
        assert page.get_attribute("#circuit-svg", "data-zoom") == zoom


KEPT_JS = "() => document.querySelector('#circuit-svg g.circuit').kept === true"


def test_a_comment_or_a_new_value_keeps_the_drawing_and_changes_only_its_numbers(
        page: Page, base_url: str) -> None:
    """An edit that leaves the circuit as it was (a comment, a value) is not laid out and drawn
    anew: on a big program that takes seconds, and typing would wait for it."""
    open_page(page, base_url)
    paste(page, "q = x + y\nf = q * z")
    # Setting the drawing's size, even to the same number, makes the browser lay it all out again.
    page.evaluate("""() => {
      document.querySelector('#circuit-svg g.circuit').kept = true;
      window.resized = 0;
      new MutationObserver((records) => { window.resized += records.length; }).observe(
        document.getElementById('circuit-svg'), {attributeFilter: ['width', 'height', 'viewBox']});
    }""")
    n = renders(page)
    page.keyboard.press("Control+End")
    page.keyboard.type("  # the output")
    wait_render(page, n)
    expect(page.locator("#circuit-svg")).to_have_attribute("data-expression", editor_text(page))
    assert editor_text(page).endswith("# the output")
    assert page.evaluate(KEPT_JS), "a comment drew the circuit anew"
    assert page.evaluate("window.resized") == 0, "a comment resized the drawing"
    x = input_node(page, "x")
    before = page.locator(f"text.value[data-node={x}]").text_content()
    n = renders(page)
    page.fill("#in-x", "7")
    wait_render(page, n)
    expect(page.locator(f"text.value[data-node={x}]")).to_have_text("7.00")
    assert before != "7.00"
    assert page.evaluate(KEPT_JS), "a new value drew the circuit anew"
    page.evaluate("window.chainrule.redraw()")  # the benchmark's: a layout and drawing from scratch
    assert not page.evaluate(KEPT_JS)
    assert not page.errors, page.errors


def test_a_small_tensor_heat_map_reads_and_nudges_an_element(page: Page, base_url: str) -> None:
    values = {"W": [[1, -2, 3], [0.5, 4, -1]], "x": [2, -1, 0.25]}
    open_page(page, base_url, link("sum(W @ x)", values))
    w = input_node(page, "W")
    page.locator(f"g.wire.tensor[data-node={w}] .wire-hit").dispatch_event("click")
    value_map = page.locator("#heatmap svg.heat").first
    expect(value_map.locator("text.heat-number")).to_have_text(
        ["1.00", "-2.00", "3.00", "0.50", "4.00", "-1.00"])
    expect(value_map.locator("text.heat-index")).to_have_text(["0", "1", "2", "0", "1"])
    expect(value_map.locator("text.heat-legend")).to_have_text(["-4.00", "4.00", "0"])
    value_map.locator("rect.heat-cell[data-index='1,2']").click()
    # f = Σ W·x is linear in W: nudging W[1, 2] by h moves f by exactly h·x[2].
    expect(page.locator("#nudge-predicted")).to_have_text("0.0025")
    expect(page.locator("#nudge-actual")).to_have_text("0.0025")
    expect(page.locator("#nudge-result")).to_contain_text("W[1, 2]")


def open_matrix_heat_map(page: Page, base_url: str):
    """A fresh page, the notes' W.dot(X) block pasted, the heat map of W opened from the
    keyboard: the wire and the heat map's close button."""
    open_page(page, base_url)
    forward = MATRIX_CODE[:backward_check(MATRIX_CODE)["forward_end"]].rstrip()
    paste(page, MATRIX_CODE, drawn=forward)
    wire = page.locator(f"g.wire.tensor[data-node={input_node(page, 'W')}]")
    wire.focus()
    page.keyboard.press("Enter")
    close = page.locator("#heatmap .close")
    expect(close).to_be_visible()
    return wire, close


def test_closing_a_heat_map_gives_the_focus_back_to_its_wire(page: Page, base_url: str) -> None:
    wire, close = open_matrix_heat_map(page, base_url)
    close.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#heatmap")).to_be_hidden()
    expect(wire).to_be_focused()
    page.keyboard.press("Enter")  # open again, and leave it with Escape
    close.focus()
    page.keyboard.press("Escape")
    expect(page.locator("#heatmap")).to_be_hidden()
    expect(wire).to_be_focused()


def test_a_heat_maps_elements_are_nudged_from_the_keyboard(page: Page, base_url: str) -> None:
    """The grid of W's elements is one tab stop: the arrow keys move between its elements,
    Enter or Space nudges the one in focus, as a click does."""
    wire, close = open_matrix_heat_map(page, base_url)
    value_map = page.locator("#heatmap svg.heat").first
    expect(page.locator("#heatmap .hint")).to_contain_text("nudge")
    close.focus()
    page.keyboard.press("Tab")
    expect(value_map.locator("rect.heat-cell[data-index='0,0']")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    expect(value_map.locator("rect.heat-cell[data-index='1,1']")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#nudge-result")).to_contain_text("W[1, 1]")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # at the edge: it stays
    page.keyboard.press("Space")
    expect(page.locator("#nudge-result")).to_contain_text("W[1, 0]")
    expect(value_map.locator("rect.heat-cell[data-index='1,0']")).to_be_focused()
    page.keyboard.press("Tab")  # one tab stop: Tab leaves the grid
    expect(page.locator("#heatmap rect.heat-cell:focus")).to_have_count(0)
    page.keyboard.press("Shift+Tab")  # and comes back to the element it left
    expect(value_map.locator("rect.heat-cell[data-index='1,0']")).to_be_focused()
    page.keyboard.press("Escape")
    expect(wire).to_be_focused()


def test_an_open_heat_map_follows_the_step(page: Page, base_url: str) -> None:
    """W's gradient is known once the backward pass is back through W @ x: its heat map shows
    at that step and after, not before, like the drawing and the result line."""
    values = {"W": [[1, -2, 3], [0.5, 4, -1]], "x": [2, -1, 0.25]}
    open_page(page, base_url, link("sum(W @ x)", values))
    w = input_node(page, "W")
    page.locator(f"g.wire.tensor[data-node={w}] .wire-hit").dispatch_event("click")
    heat = page.locator("#heatmap svg.heat")
    expect(heat).to_have_count(2)  # value and gradient
    page.click("#step-back")  # the last step: backward through W @ x
    expect(page.locator("#step-status")).to_have_text("backward pass: gate 2 of 2")
    expect(heat).to_have_count(2)
    page.click("#step-back")  # backward through sum: W's gradient not yet
    expect(page.locator("#step-status")).to_have_text("backward pass: gate 1 of 2")
    expect(heat).to_have_count(1)
    page.click("#step")
    expect(heat).to_have_count(2)
    page.click("#step")  # past the end: the inputs set
    expect(page.locator("#step-status")).to_have_text("inputs set")
    expect(heat).to_have_count(1)
    page.click("#step")  # forward through W @ x
    expect(heat).to_have_count(1)


def test_step_back_and_a_pulse_on_the_wires_being_computed(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    add = page.locator("g.gate[data-op=add]").get_attribute("data-node")
    x = input_node(page, "x")
    for _ in range(5):
        page.click("#step")  # inputs, +, *, the seed, back through *
    expect(page.locator("#step-status")).to_contain_text("backward pass: gate 1 of 2")
    expect(page.locator(f"g.wire.pulse-back[data-node={add}]")).to_have_count(1)  # q's gradient
    expect(page.locator("#explain h3")).to_contain_text("(mul)")  # follows the active gate
    page.click("#step")
    expect(page.locator(f"g.wire.pulse-back[data-node={x}]")).to_have_count(1)
    expect(page.locator("#explain h3")).to_contain_text("(add)")
    page.click("#step-back")
    expect(page.locator("#step-status")).to_contain_text("backward pass: gate 1 of 2")
    expect(page.locator(f"g.wire.pulse-back[data-node={x}]")).to_have_count(0)


def test_an_expanded_sigmoid_sits_in_a_box_that_collapses_on_click(page: Page, base_url: str):
    open_page(page, base_url, link("f = sigmoid(w * x) * 2", {"w": 2, "x": -1}, x="1"))
    group = page.locator("g.group")
    expect(group).to_have_count(1)
    ops = [page.get_attribute(f"g.gate[data-node={i}]", "data-op")
           for i in group.get_attribute("data-nodes").split()]
    assert sorted(ops) == ["addc", "exp", "neg", "recip"], ops  # σ as the notes split it
    expect(group.locator("text.group-label")).to_have_text("sigmoid(w * x)")
    mul = page.locator("g.gate[data-op=mul]").first
    expect(mul).to_have_attribute("aria-label", re.compile("mul gate"))
    n = renders(page)
    group.locator("text.group-label").click()
    wait_render(page, n)
    expect(page.locator("#expand")).not_to_be_checked()
    expect(page.locator("g.group")).to_have_count(0)
    expect(page.locator("g.gate[data-op=sigmoid]")).to_have_count(1)


def test_a_composite_label_says_it_collapses_every_composite(page: Page, base_url: str) -> None:
    """The engine expands composite gates all together or not at all: the label of one says
    so, and a click collapses them all."""
    open_page(page, base_url, "#e=" + quote("x = 1; y = -0.5\nf = sigmoid(x) * tanh(y)")
              + "&x=1")
    label = page.locator("text.group-label", has_text="sigmoid(x)")
    expect(label).to_have_attribute("aria-label", "sigmoid(x): collapse all composite gates")
    expect(page.locator("g.group.composite title").first).to_have_text(
        "click a label to collapse all composite gates")
    n = renders(page)
    label.click()
    wait_render(page, n)
    expect(page.locator("#expand")).not_to_be_checked()
    expect(page.locator("g.gate[data-op=sigmoid]")).to_have_count(1)
    expect(page.locator("g.gate[data-op=tanh]")).to_have_count(1)


def test_a_matmul_gate_names_its_shapes(page: Page, base_url: str) -> None:
    open_page(page, base_url, link("sum(W @ x)", {"W": {"randn": [3, 4], "seed": 0},
                                                  "x": [1, 2, 3, 4]}))
    gate = page.locator("g.gate[data-op=matmul]")
    expect(gate).to_have_attribute("aria-label", re.compile("3×4 @ 4 → 3"))
    gate.hover()
    expect(page.locator("#explain h3 .shapes")).to_have_text(" 3×4 @ 4 → 3")


def test_keyboard_skip_link_arrows_between_gates_and_enter_pins(page: Page, base_url: str):
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    hash_ = page.evaluate("location.hash")
    page.keyboard.press("Enter")
    expect(page.locator("#circuit")).to_be_focused()
    assert page.evaluate("location.hash") == hash_, "the link still holds the circuit"
    add = page.locator("g.gate[data-op=add]")
    add.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("g.gate[data-op=mul]")).to_be_focused()
    page.keyboard.press("Enter")  # pin the * gate's explanation
    expect(page.locator("g.gate[data-op=mul]")).to_have_class(re.compile(r"\bpinned\b"))
    page.locator("g.gate[data-op=add]").hover()  # the pointer passing by does not replace it
    expect(page.locator("#explain h3")).to_contain_text("(mul)")
    page.keyboard.press("ArrowLeft")
    expect(add).to_be_focused()


def test_presentation_mode_hides_the_editor_and_shows_the_circuit_larger(page: Page, base_url: str):
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    before = float(page.get_attribute("#circuit-svg", "data-zoom"))
    page.click("#present")
    expect(page.locator(".editor-pane")).to_be_hidden()
    expect(page.locator("header.site")).to_be_hidden()
    page.wait_for_function("n => Number(document.getElementById('circuit-svg').dataset.zoom) > n",
                           arg=before)
    page.keyboard.press("Escape")
    expect(page.locator(".editor-pane")).to_be_visible()
    expect(page.locator("#present")).to_have_attribute("aria-pressed", "false")


@pytest.mark.parametrize("heat", [False, True])
@pytest.mark.parametrize("size", [(1280, 720), (1400, 900)])
def test_presenting_shows_the_circuit_and_its_explanation_on_one_screen(
        browser, base_url: str, size: tuple[int, int], heat: bool) -> None:
    """In present mode the circuit, the result, the explanation and an open heat map share one
    screen (the heat map and the explanation scroll within their parts)."""
    width, height = size
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = ctx.new_page()
        if heat:
            open_page(page, base_url, link("sum(relu(W @ x))", {
                "W": {"randn": [8, 8], "seed": 0}, "x": {"randn": [8], "seed": 1}}))
        else:
            open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
        page.click("#present")
        page.click("#step")
        op = "matmul" if heat else "mul"
        page.click(f"g.gate[data-op={op}]")
        expect(page.locator("#explain h3")).to_contain_text(f"({op})")
        if heat:
            page.locator(f"g.wire.tensor[data-node={input_node(page, 'W')}]").focus()
            page.keyboard.press("Enter")
            expect(page.locator("#heatmap svg.heat")).not_to_have_count(0)
        expect(page.locator(".tabs")).to_be_hidden()
        for sel in ("#circuit", "#result", "#explain") + (("#heatmap",) if heat else ()):
            box = page.locator(sel).bounding_box()
            assert box["height"] > 0 and 0 <= box["y"], (sel, box)
            assert box["y"] + box["height"] <= height, (sel, box, height)
        assert page.locator("#circuit").bounding_box()["height"] >= height / 3
    finally:
        ctx.close()


def test_box_each_statement_of_a_staged_program(page: Page, base_url: str) -> None:
    from engine.presets import STAGED

    open_page(page, base_url, link(STAGED, {}))
    n = renders(page)
    page.check("#boxes")
    wait_render(page, n)
    # sigy and sigx take four gates each (*-1, exp, +1, 1/x); every other statement one gate.
    expect(page.locator("g.group.statement text.group-label")).to_have_text(["sigy", "sigx"])
    for label in ("sigy", "sigx"):
        ids = page.locator("g.group.statement", has_text=label).get_attribute("data-nodes").split()
        assert len(ids) == 4
    assert "b=1" in page.url


def test_statement_boxes_and_their_labels_lie_inside_the_drawing(page: Page,
                                                                  base_url: str) -> None:
    """The neuron expanded, each statement boxed: the lowest box's label is not cut off."""
    from engine.presets import NEURON

    open_page(page, base_url, link(NEURON, {}, x="1", b="1"))
    expect(page.locator("g.group.statement").first).to_be_visible()
    inside = page.evaluate("""() => {
      const b = document.getElementById('circuit-svg').viewBox.baseVal;
      return [...document.querySelectorAll('g.group rect, g.group text')].map((e) => {
        const r = e.getBBox();
        return r.x >= b.x && r.y >= b.y && r.x + r.width <= b.x + b.width
          && r.y + r.height <= b.y + b.height;
      });
    }""")
    assert inside and all(inside), inside


def test_a_statement_label_and_a_composite_label_do_not_overlap(page: Page,
                                                                base_url: str) -> None:
    """f = sigmoid(dot), expanded and boxed: the box of f holds the box of sigmoid(dot) and
    its label, and the two labels lie apart."""
    program = ("w = [2, -3, -3]\nx = [-1, -2]\ndot = w[0]*x[0] + w[1]*x[1] + w[2]\n"
               "f = sigmoid(dot)")
    open_page(page, base_url, f"#e={quote(program)}&x=1&b=1")
    expect(page.locator("g.group.statement text.group-label")).to_have_text(["dot", "f"])
    boxes = page.evaluate("""() => Object.fromEntries(
      [...document.querySelectorAll('g.group text.group-label')].map((t) => {
        const b = t.getBBox();
        return [t.textContent, [b.x, b.y, b.x + b.width, b.y + b.height]];
      }))""")
    a, b = boxes["f"], boxes["sigmoid(dot)"]
    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], boxes


def test_copy_image_puts_the_png_on_the_clipboard(browser, base_url: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = ctx.new_page()
    try:
        open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
        page.click("#copy-image")
        expect(page.locator("#step-status")).to_have_text("image copied")
        size = page.evaluate("""async () => {
          const [item] = await navigator.clipboard.read();
          const bitmap = await createImageBitmap(await item.getType('image/png'));
          return [bitmap.width, bitmap.height];
        }""")
        w, h = page.evaluate("(() => { const b = document.getElementById('circuit-svg')"
                             ".viewBox.baseVal; return [b.width, b.height]; })()")
        assert size == [2 * w, 2 * h]
    finally:
        ctx.close()


def test_the_page_starts_and_says_why_when_the_layout_library_does_not_load(
        fresh_page: Page, base_url: str) -> None:
    page = fresh_page  # it adds a route
    page.route("**/vendor/elkjs/**", lambda route: route.fulfill(status=404, body="not found"))
    open_page(page, base_url)
    message = page.locator("#error .message")
    expect(message).to_contain_text("Drawing failed")
    expect(message).to_contain_text("elkjs")
    expect(page.locator("#in-x")).to_have_value("-2")  # the rest of the page works
    expect(page.locator("#preset option")).not_to_have_count(1)


def pin_the_mul_gate(page: Page, base_url: str) -> None:
    """A fresh page (no link): the starting example, its * gate's explanation pinned."""
    open_page(page, base_url)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.click("g.gate[data-op=mul]")
    expect(page.locator("#explain h3")).to_contain_text("(mul)")
    expect(page.locator("#explain tr.send")).to_have_count(2)


def test_the_examples_menu_shows_an_example_only_while_the_page_holds_it(page: Page,
                                                                       base_url: str) -> None:
    """Code edited into other code, or a value changed in a row, is no longer the example: the
    menu shows none and its notes go; back to the example's code and values, they come back."""
    open_page(page, base_url)
    menu, notes = page.locator("#preset"), page.locator("#preset-notes")
    page.select_option("#preset", "max")
    expect(notes).to_contain_text("Only the larger input")
    paste(page, "min(x, y)")
    expect(menu).to_have_value("")
    expect(notes).to_be_empty()
    paste(page, "max(x, y)")
    expect(menu).to_have_value("max")
    expect(notes).to_contain_text("Only the larger input")
    page.fill("#in-x", "1")  # y = 2 is the larger input now
    expect(menu).to_have_value("")
    expect(notes).to_be_empty()
    page.fill("#in-x", "4")
    expect(menu).to_have_value("max")
    assert page.errors == []  # type: ignore[attr-defined]


def test_another_example_clears_a_pinned_explanation(page: Page, base_url: str) -> None:
    pin_the_mul_gate(page, base_url)
    n = renders(page)
    page.select_option("#preset", "neuron-grouped")
    wait_render(page, n)
    expect(page.locator("#explain tr.send")).to_have_count(0)
    expect(page.locator("#explain .hint")).to_contain_text("Hover or focus a gate")
    expect(page.locator("g.gate.pinned")).to_have_count(0)


def test_pasted_code_clears_a_pinned_explanation(page: Page, base_url: str) -> None:
    pin_the_mul_gate(page, base_url)
    paste(page, "q = a * b\nf = q + c")
    expect(page.locator("#explain tr.send")).to_have_count(0)
    expect(page.locator("#explain .hint")).to_contain_text("Hover or focus a gate")
    page.locator("g.gate[data-op=add]").hover()  # nothing is pinned any more
    expect(page.locator("#explain h3")).to_contain_text("(add)")


def test_a_new_value_refreshes_a_pinned_explanation(page: Page, base_url: str) -> None:
    pin_the_mul_gate(page, base_url)
    page.fill("#in-z", "-5")
    expect(page.locator("#output-value")).to_have_text("-15.00")
    expect(page.locator("#explain tr.send td.local")).to_have_text(["-5.00", "3.00"])
    expect(page.locator("g.gate[data-op=mul]")).to_have_class(re.compile(r"\bpinned\b"))


WIDE_JS = """() => {
  const svg = document.getElementById('circuit-svg');
  const box = document.getElementById('circuit');
  const room = box.clientWidth - 2 * parseFloat(getComputedStyle(box).paddingLeft);
  return [svg.getBoundingClientRect().width, room, Number(svg.dataset.zoom)];
}"""


# How far the circuit box's left and right edges are from its plain background, in its top
# padding (where nothing is drawn): a shadow on an edge says the drawing goes on past it.
EDGES_JS = """async (b64) => {
  const box = document.getElementById('circuit');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const img = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
  const c = new OffscreenCanvas(img.width, img.height);
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const px = (x) => g.getImageData(x, 3, 1, 1).data;
  const plain = px(Math.round(box.clientLeft + box.clientWidth / 2));
  const off = (x) => {
    const d = px(x);
    return [0, 1, 2].reduce((s, i) => s + Math.abs(d[i] - plain[i]), 0);
  };
  return {left: off(box.clientLeft + 6), right: off(box.clientLeft + box.clientWidth - 7),
          overflows: box.scrollWidth > box.clientWidth};
}"""


def test_a_drawing_wider_than_its_box_shows_a_shadow_where_it_goes_on(page: Page,
                                                                        base_url: str) -> None:
    import base64

    edges = lambda: page.evaluate(  # noqa: E731
        EDGES_JS, base64.b64encode(page.locator("#circuit").screenshot()).decode())
    open_page(page, base_url)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    e = edges()
    assert not e["overflows"] and e["left"] < 6 and e["right"] < 6, e
    paste(page, " + ".join(f"sigmoid(x * {k}) * y" for k in range(1, 11)))
    assert page.get_attribute("#circuit-svg", "data-zoom") == "1.000"  # text stays 12 px
    e = edges()  # it opens on its output's end: the shadow is on the left
    assert e["overflows"] and e["right"] < 6 and e["left"] > 30, e
    page.eval_on_selector("#circuit", "box => { box.scrollLeft = box.scrollWidth / 2; }")
    e = edges()
    assert e["right"] > 30 and e["left"] > 30, e
    page.eval_on_selector("#circuit", "box => { box.scrollLeft = 0; }")
    e = edges()  # the start in view: its shadow has scrolled away
    assert e["right"] > 30 and e["left"] < 6, e


OUTPUT_SHOWN_JS = """() => {
  const a = document.querySelector('#circuit-svg g.wire.out .arrow').getBoundingClientRect();
  const b = document.getElementById('circuit').getBoundingClientRect();
  return a.left >= b.left && a.right <= b.right && a.top >= b.top && a.bottom <= b.bottom;
}"""


def test_fit_shows_a_big_circuit_whole_and_auto_opens_on_its_output(page: Page,
                                                                      base_url: str) -> None:
    """A drawing many times wider than its box: the automatic zoom keeps its text at 12 px and
    opens on the output's end, "fit" shows all of it, and zooming out goes that far, no further."""
    open_page(page, base_url)
    paste(page, "\n".join(f"h{i + 1} = h{i} * w + b" for i in range(80)))
    zoom = lambda: float(page.get_attribute("#circuit-svg", "data-zoom"))  # noqa: E731
    assert zoom() == 1
    assert page.evaluate(OUTPUT_SHOWN_JS), "the automatic zoom opens away from the output"
    page.click("#fit")
    assert page.evaluate(FIT_JS), "fit shows only part of the drawing"
    whole = zoom()
    assert whole < 0.1
    stroke = lambda: page.eval_on_selector(  # noqa: E731
        "#circuit-svg .wire-line", "l => getComputedStyle(l).vectorEffect")
    assert stroke() == "non-scaling-stroke", "so shrunk, the lines would vanish"
    for _ in range(3):
        page.click("#zoom-out")
    assert zoom() == whole
    page.click("#zoom-in")
    assert zoom() > whole
    page.click("#zoom-reset")
    assert zoom() == 1
    assert page.evaluate(OUTPUT_SHOWN_JS)
    assert stroke() == "none"
    assert not page.errors, page.errors


def test_more_decimals_refit_the_automatic_zoom(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    width, room, zoom = page.evaluate(WIDE_JS)
    assert width <= room + 0.5 and zoom > 1, "a small circuit is drawn larger, within its box"
    n = renders(page)
    page.fill("#precision", "8")
    wait_render(page, n)
    expect(page.locator("#output-value")).to_have_text("-12.00000000")
    width, room, wider = page.evaluate(WIDE_JS)
    assert width <= room + 0.5, f"the drawing ({width} px) overflows its box ({room} px)"
    assert wider < zoom
    page.click("#zoom-in")  # a zoom the user chose stays
    chosen = page.get_attribute("#circuit-svg", "data-zoom")
    n = renders(page)
    page.fill("#precision", "3")
    wait_render(page, n)
    assert page.get_attribute("#circuit-svg", "data-zoom") == chosen


def test_named_wires_pasted_over_the_same_gates_refit_the_automatic_zoom(
        page: Page, base_url: str) -> None:
    """The notes' staged form of the first example has the default's gates and wires, but its
    wires carry names, which widen the drawing: the automatic zoom fits it again."""
    open_page(page, base_url)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    paste(page, "x = -2\ny = 5\nz = -4\nq = x + y\nf = q * z")
    expect(page.locator("#circuit-svg text", has_text="q")).not_to_have_count(0)
    width, room, _ = page.evaluate(WIDE_JS)
    assert width <= room + 0.5, f"the drawing ({width} px) overflows its box ({room} px)"


def test_the_auto_button_says_what_it_does_and_the_read_out_agrees(page: Page,
                                                                  base_url: str) -> None:
    """The automatic zoom (fill the width, text never below 12 px) has a button named for it,
    pressed while the zoom is automatic; the read-out always shows the zoom on screen."""
    open_page(page, base_url)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    auto = page.locator("#zoom-reset")
    level = page.locator("#zoom-level")
    zoom = lambda: float(page.get_attribute("#circuit-svg", "data-zoom"))  # noqa: E731
    expect(auto).to_have_text("auto")
    expect(auto).to_have_attribute("aria-pressed", "true")
    start = zoom()
    expect(level).to_have_text(f"{round(start * 100)} %")
    page.click("#zoom-in")
    expect(auto).to_have_attribute("aria-pressed", "false")
    assert zoom() == pytest.approx(start * 1.25, abs=1e-3)
    expect(level).to_have_text(f"{round(zoom() * 100)} %")
    page.click("#zoom-reset")
    expect(auto).to_have_attribute("aria-pressed", "true")
    assert zoom() == start
    expect(level).to_have_text(f"{round(start * 100)} %")


def test_the_decimals_field_shows_the_number_of_decimals_in_use(page: Page, base_url: str) -> None:
    open_page(page, base_url)
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.fill("#precision", "99")
    page.keyboard.press("Tab")
    expect(page.locator("#output-value")).to_have_text("-12.00000000")
    expect(page.locator("#precision")).to_have_value("8")
    page.fill("#precision", "-3")
    page.keyboard.press("Tab")
    expect(page.locator("#output-value")).to_have_text("-12")
    expect(page.locator("#precision")).to_have_value("0")
    page.fill("#precision", "")
    page.keyboard.press("Tab")
    expect(page.locator("#precision")).to_have_value("0")
    assert "p=0" in page.url


@pytest.mark.parametrize("typed", ["", "1e400"])
def test_a_number_field_left_without_a_number_shows_the_value_still_in_use(
        page: Page, base_url: str, typed: str) -> None:
    """Left empty or out of range, the field shows the value the circuit still uses and says so
    (it showed 0 while the circuit kept -2)."""
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.fill("#in-x", typed)
    page.keyboard.press("Tab")
    expect(page.locator("#in-x")).to_have_value("-2")
    expect(page.locator(".input-row[data-name=x] .bad")).to_have_text(
        "x: that is not a number; it stays -2")
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.fill("#in-x", "3")
    expect(page.locator("#output-value")).to_have_text("-32.00")
    expect(page.locator(".input-row[data-name=x] .bad")).to_have_text("")


def test_a_link_with_a_bad_value_shows_it_in_its_row_until_it_is_put_right(
        page: Page, base_url: str) -> None:
    """A value the API would refuse stays in its row as the link wrote it, marked invalid with
    what a value looks like; nothing is drawn with it until the row holds a good one."""
    open_page(page, base_url, link("(x + y) * z", {"x": "abc", "y": 5, "z": None}))
    said = 'x: expected a number or a list of numbers, e.g. 1.5 or [1, 2]; got "abc"'
    expect(page.locator("#error .message")).to_have_text(f"Invalid input value: {said}")
    expect(page.locator("#circuit-svg g.gate")).to_have_count(0)
    x = page.get_by_label("x values (JSON list)")
    expect(x).to_have_value('"abc"')
    expect(x).to_have_attribute("aria-invalid", "true")
    expect(x).to_have_accessible_description(said)
    expect(page.locator(".input-row[data-name=x] .bad")).to_have_text(said)
    z = page.get_by_label("z values (JSON list)")
    expect(z).to_have_value("null")
    expect(z).to_have_attribute("aria-invalid", "true")
    assert "abc" in unquote(page.url), "the link keeps what it held"
    x.fill("-2")  # the row puts it right; z is still refused
    expect(page.locator("#error .message")).to_contain_text('z: expected a number')
    expect(x).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".input-row[data-name=x] .bad")).to_have_text("")
    z.fill("-4")
    expect(page.locator("#output-value")).to_have_text("-12.00")
    expect(page.locator("#error")).to_be_hidden()
    expect(z).not_to_have_attribute("aria-invalid", "true")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_micrograd_readme_pasted_draws_its_constant_by_its_gate(page: Page,
                                                                    base_url: str) -> None:
    """micrograd's numbers (g 24.7041, dg/da 138.8338, dg/db 645.5773); the 10.0 of
    `10.0 / f` is a constant beside the / gate, not a reference stub at the end of a long wire."""
    open_page(page, base_url)
    page.fill("#precision", "4")
    paste(page, MICROGRAD_README)
    expect(page.locator("#output-value")).to_have_text("24.7041")
    assert result_gradients(page) == {"a": "138.8338", "b": "645.5773"}
    expect(page.locator("#circuit-svg g.ref")).to_have_count(0)
    const = page.locator("#circuit-svg g.const")
    expect(const).to_have_text("10.0000")
    node = const.get_attribute("data-node")
    div = page.locator("g.gate[data-op=div]")
    expect(page.locator(f"g.wire[data-node={node}]")).to_have_class("wire stem")  # one wire
    assert page.locator(f"#circuit-svg .fork[data-node={node}]").count() == 0
    # the constant's text ends just before the gate's circle, on the wire into its first port
    label, circle = const.locator("text").bounding_box(), div.locator("circle").bounding_box()
    gap = circle["x"] - (label["x"] + label["width"])
    assert 0 < gap < 150, gap
    assert label["y"] < circle["y"] + circle["height"] / 2
    assert_no_overlaps(page, "micrograd README")


def test_a_gradient_check_answers_only_for_the_circuit_on_show(fresh_page: Page,
                                                              base_url: str) -> None:
    """The check button is disabled while its answer is on the way (a double click sends one
    request); an answer about a circuit no longer on show is dropped, not put under the new one."""
    page = fresh_page  # it adds listeners
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/api/gradcheck" in r.url else None)
    holding(page, "/api/gradcheck")
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    hold(page)
    page.click("[role=tab][data-tab=check]")
    page.dblclick("#check")
    expect(page.locator("#check")).to_be_disabled()
    expect(page.locator("#check-result")).to_have_text("checking…")
    page.fill("#in-x", "3")  # a new circuit is drawn while the answer is on the way
    expect(page.locator("#output-value")).to_have_text("-32.00")
    release(page)
    expect(page.locator("#check")).to_be_enabled()  # the old answer has come back
    expect(page.locator("#check-result")).to_be_empty()
    assert len(sent) == 1, sent
    page.click("#check")
    expect(page.locator("#check-result tr.check-row")).to_have_count(3)
    assert page.errors == []  # type: ignore[attr-defined]


def test_check_gradients_keeps_the_keyboard_focus(page: Page, base_url: str) -> None:
    """Space on "check gradients" checks, and the button keeps the focus for the next press."""
    open_page(page, base_url)
    page.click("[role=tab][data-tab=check]")
    check = page.locator("#check")
    check.focus()
    page.keyboard.press("Space")
    expect(page.locator("#check-result tr.check-row")).to_have_count(3)
    expect(check).to_be_enabled()
    expect(check).to_be_focused()
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_tool_tabs_take_the_arrow_keys(page: Page, base_url: str) -> None:
    """One tab in the Tab order; →, ←, Home and End move between the tabs and show each."""
    open_page(page, base_url)
    tabs = page.locator(".tabs [role=tab]")
    names = [t.get_attribute("data-tab") for t in tabs.all()]
    page.focus(".tabs [role=tab][aria-selected=true]")
    first = names.index(page.evaluate("document.activeElement.dataset.tab"))

    def on(k: int) -> None:
        tab = page.locator(f"[role=tab][data-tab={names[k]}]")
        expect(tab).to_be_focused()
        expect(tab).to_have_attribute("aria-selected", "true")
        expect(tab).to_have_attribute("tabindex", "0")
        expect(page.locator(f"#tab-{names[k]}")).to_be_visible()

    page.keyboard.press("ArrowRight")
    on((first + 1) % len(names))
    page.keyboard.press("End")
    on(len(names) - 1)
    page.keyboard.press("ArrowRight")  # round to the first
    on(0)
    page.keyboard.press("ArrowLeft")
    on(len(names) - 1)
    page.keyboard.press("Home")
    on(0)
    assert page.locator(".tabs [role=tab][tabindex='0']").count() == 1


def test_a_random_tensor_row_says_which_field_is_the_shape_and_which_the_seed(
        page: Page, base_url: str) -> None:
    open_page(page, base_url, link("f = sum(relu(W @ x))",
                                   {"W": {"randn": [3, 4], "seed": 0}, "x": [1, 2, 3, 4]}))
    fields = page.locator(".input-row[data-name=W] label.field")
    expect(fields).to_have_text(["shape", "seed"])
    expect(page.get_by_label("W shape")).to_have_value("3, 4")
    expect(page.get_by_label("W seed")).to_have_value("0")
    expect(page.locator(".input-row[data-name=x] label.field")).to_have_count(2)
    expect(page.locator(".input-row[data-name=x] label.field").first).to_be_hidden()


def test_an_input_the_program_computes_keeps_its_value_on_the_next_drawing(page: Page,
                                                                          base_url: str) -> None:
    """`k = 2 * 3` and `X = np.random.randn(2, 2)` are inputs whose values the code gives: their
    rows say so, and a later drawing (expand ticked) or the link never sends them a 1."""
    open_page(page, base_url)
    program = "import numpy as np\nX = np.random.randn(2, 2)\nk = 2 * 3\ny = (X * k).sum() * k"
    paste(page, program)
    before = page.inner_text("#output-value")
    for name in ("X", "k"):
        row = page.locator(f"#inputs .input-row[data-name={name}]")
        expect(row).to_contain_text("set in the program")
        expect(row.locator("input.num")).to_be_hidden()
    n = renders(page)
    page.check("#expand")
    wait_render(page, n)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#output-value")).to_have_text(before)
    assert "&v=" not in page.evaluate("location.hash")


def test_an_exported_drawing_carries_no_mark_of_the_pointer(page: Page, base_url: str) -> None:
    """A gate under the pointer, or the one the explanation last showed, is drawn as every other
    gate in the SVG and PNG: a figure has no hover ring."""
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    expect(page.locator("#output-value")).to_have_text("-12.00")
    page.hover("g.gate[data-op=add]")
    expect(page.locator("g.gate.selected")).to_have_count(1)
    with page.expect_download() as d:
        page.click("#download-svg")
    root = ET.parse(d.value.path()).getroot()
    strokes = {g.get("data-op"): g.find(f"{SVG_NS}circle").get("style")
               for g in root.iter(f"{SVG_NS}g") if "gate" in (g.get("class") or "").split()}
    assert strokes["add"] == strokes["mul"]


CODE_CONTRAST_JS = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bg = lum(getComputedStyle(document.querySelector('#editor .cm-editor')).backgroundColor);
  const out = {};
  for (const s of document.querySelectorAll('#editor .cm-line span')) {
    const l = lum(getComputedStyle(s).color);
    out[s.textContent] = (Math.max(l, bg) + 0.05) / (Math.min(l, bg) + 0.05);
  }
  return out;
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_code_is_readable_in_both_themes(browser, base_url: str, theme: str) -> None:
    """Keywords, numbers, strings and comments in the editor stand out from its background at
    a contrast of 4.5 or more, in either theme."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        page.add_init_script(f"localStorage.setItem('chainrule-theme', '{theme}')")
        program = "import math\nx = 2.0  # an input\nprint(f'{x:.4f}')\ny = math.exp(x)"
        open_page(page, base_url, link(program, {}))
        # the editor highlights in slices of idle time: on a busy machine, after the page is ready
        expect(page.locator("#editor .cm-line span", has_text="# an input")).to_have_count(1)
        contrast = page.evaluate(CODE_CONTRAST_JS)
        assert {"import", "2.0", "# an input"} <= contrast.keys(), contrast
        assert all(c >= 4.5 for c in contrast.values()), contrast
    finally:
        ctx.close()


def test_a_tensor_gate_explained_shows_its_vectors_not_a_bare_shape(page: Page,
                                                                    base_url: str) -> None:
    """x * w of two 3-vectors: the explanation shows their numbers, as the wires do, not "3"
    (which reads as the number 3); a large tensor is named a tensor with its shape."""
    open_page(page, base_url)
    paste(page, "x = [1, 2, 3]\nw = [0.5, -1, 2]\nW = np.random.randn(4, 5)\ns = W.sum()\n"
                "f = (x * w).sum() * s")
    page.hover("g.gate[data-op=mul]")
    explain = page.locator("#explain")
    expect(explain.locator("tr.send td.value")).to_have_text(
        ["[1.00, 2.00, 3.00]", "[0.50, -1.00, 2.00]"])
    vector = re.compile(r"^\[(-?\d+\.\d\d, ){2}-?\d+\.\d\d\]$")
    expect(explain.locator(".upstream")).to_have_text(vector)
    page.hover("g.gate[aria-label^='sum gate s ']")
    expect(explain.locator("tr.send td.value")).to_have_text(["tensor 4×5"])


def test_a_focused_gate_shows_its_focus_by_its_ring_not_a_box_over_its_labels(
        page: Page, base_url: str) -> None:
    """The accent ring of a clicked gate marks it; the browser's focus box, drawn around the
    gate, would cover the shape text beside a tensor gate."""
    open_page(page, base_url, link("(x + y) * z", {"x": -2, "y": 5, "z": -4}))
    gate = page.locator("g.gate[data-op=add]")
    gate.click()
    expect(gate).to_be_focused()
    assert gate.evaluate("g => getComputedStyle(g).outlineStyle") == "none"
    stroke = gate.locator("circle").evaluate("c => getComputedStyle(c).strokeWidth")
    assert float(stroke.removesuffix("px")) >= 2.5


def test_print_lines_say_what_they_print_only_once_the_steps_have_computed_it(
        page: Page, base_url: str) -> None:
    """Stepping micrograd's README: g′ is a ? and so is what line 15 prints, until the end."""
    open_page(page, base_url)
    paste(page, MICROGRAD_README)
    notes = page.locator("#result .note")
    expect(notes.first).to_have_text("▸ line 15 prints 24.7041")
    page.click("#step")
    expect(page.locator("#output-value")).to_have_text("?")
    expect(notes).to_have_text(["▸ line 15 prints ?", "▸ line 17 prints ?", "▸ line 18 prints ?"])
    page.click("#show-all")
    expect(notes.first).to_have_text("▸ line 15 prints 24.7041")


def test_an_input_field_is_wide_enough_for_the_number_it_shows(page: Page, base_url: str) -> None:
    """The lecture neuron's b = 6.8813735870195432 shows all its digits, not '6.8813'."""
    open_page(page, base_url)
    n = renders(page)
    page.select_option("#preset", "micrograd-neuron")
    wait_render(page, n)
    field = page.locator("#in-b")
    expect(field).to_have_value(re.compile(r"^6\.88137358"))
    assert field.evaluate("f => f.scrollWidth <= f.clientWidth"), "the number is cut off"
    short = page.locator("#in-x1")  # x1 = 2: the usual width
    assert 70 <= short.bounding_box()["width"] <= 100
