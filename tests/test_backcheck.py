"""The backward-pass checker: the notes' hand-written backward passes pass as printed, and each
classic mistake is caught at the line that makes it, with a message that names it."""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
from helpers import assert_problem as problem
from helpers import strict
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from notes_code import CHAIN_RULE_CODE, MATRIX_CODE
from test_ops import CASES
from test_presets import drawn
from test_properties import NAMES, programs, values

from engine import ExpressionError, backward_check, trace
from engine.circuit import Circuit
from engine.graph import Graph
from engine.parse import parse
from engine.presets import NEURON, NEURON_CODE, PRESETS, STAGED, STAGED_BACKWARD, STAGED_CODE


def line_of(code: str, text: str) -> int:
    """The 1-based line on which `text` first appears in `code`."""
    return code[:code.index(text)].count("\n") + 1


def changed(code: str, old: str, new: str) -> str:
    assert code.count(old) == 1, old
    return code.replace(old, new)


def by_line(report: dict) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for entry in report["lines"]:
        out.setdefault(entry["line"], []).append(entry)
    return out


def the_line(report: dict, number: int) -> dict:
    (entry,) = by_line(report)[number]
    return entry


def raises_at(code: str, fragment: str, **kw) -> ExpressionError:
    """The ExpressionError that `code` raises, checked to point at `fragment`."""
    with pytest.raises(ExpressionError) as info:
        backward_check(code, **kw)
    e = info.value
    assert code[e.start:e.end] == fragment, (e, code[e.start:e.end])
    return e


# --- the notes' backward passes, as printed ---------------------------------------------------

def test_staged_example_as_printed_passes_every_line():
    r = backward_check(STAGED_CODE)
    assert r["passed"] and r["first_wrong"] is None
    assert len(r["lines"]) == 12
    assert all(e["ok"] and e["status"] == "ok" and e["message"] is None for e in r["lines"])
    # the gradients agree with the engine's backward pass over the whole program, and that one
    # with central differences
    c = trace(STAGED)
    assert c.check()["passed"]
    assert r["output"] == "f" and r["value"] == pytest.approx(float(c.value))
    for name in ("x", "y"):
        g = r["gradients"][name]
        assert g["ok"] and g["got"] == pytest.approx(float(c.gradients[name]), rel=1e-12)
        assert g["expected"] == pytest.approx(float(c.gradients[name]), rel=1e-12)


def test_staged_example_lines_say_which_stage_they_undo():
    r = backward_check(STAGED_CODE)
    of = {(e["name"], tuple(e["of"])) for e in r["lines"]}
    assert ("dnum", ("f",)) in of  # below the output: its gradient 1 is left implicit
    assert ("dx", ("xpy",)) in of and ("dx", ("sigx",)) in of and ("dx", ("num",)) in of
    assert r["forward_end"] == STAGED_CODE.index("dnum")


def test_neuron_as_printed_passes_with_lists_of_expressions():
    r = backward_check(NEURON_CODE)
    assert r["passed"] and all(e["ok"] for e in r["lines"])
    c = trace(NEURON)
    assert c.check()["passed"]
    for name in ("w", "x"):
        assert np.allclose(r["gradients"][name]["got"], c.gradients[name], rtol=1e-12)
        assert len(r["gradients"][name]["got"]) == len(c.gradients[name])


def test_matrix_example_as_printed_passes_with_seeded_random_data():
    r = backward_check(MATRIX_CODE)
    assert r["passed"] and all(e["ok"] for e in r["lines"])
    assert r["output"] == "D"
    # dD = np.random.randn(*D.shape) is the output's gradient, given: no step of its own
    assert [(e["name"], e["given"]) for e in r["lines"]] == [
        ("dD", True), ("dW", False), ("dX", False)]
    # W, X and dD are the 0th, 1st and 2nd np.random.randn of the code: seeds 0, 1 and 2, as
    # the matmul preset's W, X and G, whose gradients the engine traces through sum(D * G)
    c = trace("D = W.dot(X)\nf = sum(D * G)", {
        "W": {"randn": [5, 10], "seed": 0}, "X": {"randn": [10, 3], "seed": 1},
        "G": {"randn": [5, 3], "seed": 2}})
    assert c.check()["passed"]
    assert np.allclose(r["gradients"]["W"]["got"], c.gradients["W"], rtol=1e-12)
    assert np.allclose(r["gradients"]["X"]["got"], c.gradients["X"], rtol=1e-12)
    assert np.shape(r["gradients"]["W"]["got"]) == (5, 10)


# --- the classic mistakes -----------------------------------------------------------------------

def test_equals_instead_of_plus_equals_at_a_fork_is_caught_where_it_overwrites():
    code = changed(STAGED_CODE, "dx += ((1 - sigx)", "dx = ((1 - sigx)")
    r = backward_check(code)
    n = line_of(code, "dx = ((1 - sigx)")
    assert r["first_wrong"] == n and not r["passed"]
    wrong = the_line(r, n)
    assert wrong["status"] == "wrong"
    assert wrong["message"].startswith(
        "dx was overwritten: it already held the gradient from xpy — use +=")
    later = the_line(r, line_of(code, "dx += (1) * dnum"))
    assert later["status"] == "inherits" and f"line {n}" in later["message"]
    assert not r["gradients"]["x"]["ok"] and "xpy" in r["gradients"]["x"]["message"]
    assert r["gradients"]["y"]["ok"]
    assert all(e["ok"] for e in r["lines"] if e["line"] < n)


def test_overwriting_a_gradient_that_holds_nothing_known_says_before():
    # line 7 adds no contribution (y is no stage), so line 8's dx holds none that it can name
    code = "x = 2.0\ny = 3.0\nq = x * y\nf = q + y\ndq = 1.0\ndx = y * dq\ndx = dy\ndx = y * dq\n"
    r = backward_check(code)
    assert the_line(r, 8)["status"] == "wrong"
    assert the_line(r, 8)["message"].startswith(
        "dx was overwritten: it already held the gradient from before — use +=")


def test_wrong_sign_in_a_local_gradient_names_the_right_one():
    code = changed(STAGED_CODE, "(-1.0 / (den**2))", "(1.0 / (den**2))")
    r = backward_check(code)
    n = line_of(code, "dden =")
    assert r["first_wrong"] == n
    message = the_line(r, n)["message"]
    assert "local gradient of invden = 1.0 / den with respect to den is -1.0 / den**2" in message
    assert "(1.0 / (den**2))" in message and "sign is wrong" in message
    after = {e["name"]: e["status"] for e in r["lines"] if e["line"] > n}
    assert after.pop("dsigy") == "ok"  # dnum does not depend on dden
    assert after and set(after.values()) == {"inherits"}
    assert not r["gradients"]["x"]["ok"] and not r["gradients"]["y"]["ok"]


def test_missing_factor_in_a_local_gradient_says_how_far_off():
    code = changed(STAGED_CODE, "(2 * xpy) * dxpysqr", "xpy * dxpysqr")
    r = backward_check(code)
    n = line_of(code, "dxpy =")
    assert r["first_wrong"] == n
    message = the_line(r, n)["message"]
    assert "local gradient of xpysqr = xpy**2 with respect to xpy is 2 * xpy = -2," in message
    assert "2 times too small" in message


@pytest.mark.parametrize(("code", "uses"), [
    ("x = 2; y = 2\nf = max(x, y)\ndx = (x >= y) * 1.0\ndy = (y >= x) * 1.0", "(x >= y) * 1.0"),
    ("x = 2; y = 2\nm = max(x, y)\nf = 3 * m\ndm = 3.0\ndx = (x >= y) * dm\n"
     "dy = (y >= x) * dm", "(x >= y)"),
    ("x = 2; y = 2\nf = min(x, y)\ndx = (x <= y) * 1.0\ndy = (y <= x) * 1.0", "(x <= y) * 1.0"),
])
def test_the_notes_max_gradient_at_a_tie_is_said_to_be_a_tie(code, uses):
    """The notes' 1(x >= y) for max is right everywhere but where x = y: there the engine
    splits the gradient evenly, and the message says so."""
    r = backward_check(code)
    n = line_of(code, "dx =")
    assert r["first_wrong"] == n
    line = the_line(r, n)
    assert line["got"] == 2 * line["expected"]
    assert line["message"].endswith(
        f"but this line uses {uses} = 1: x = y here, a tie, where the engine splits the "
        f"gradient evenly between x and y; {uses} is right everywhere but at the tie.")


MEAN_LOSS = """\
X = np.random.randn(4, 3)
W = np.random.randn(3, 2)
Z = X @ W
loss = mean(Z**2)
dZ = 2 * Z / 8
dW = X.T @ dZ
dX = dZ @ W.T"""


@pytest.mark.parametrize(("wrong", "words"), [
    ("2 * Z", "every element it gives is 8 times too large."),  # the mean's 1/m forgotten
    ("-2 * Z / 8", "every element it gives has the wrong sign."),
    ("2 * Z / 16", "every element it gives is 2 times too small (a missing factor?)."),
    ("-2 * Z", "every element it gives has the wrong sign and is 8 times too large."),
])
def test_a_tensor_gradient_off_by_one_factor_says_how_far_off(wrong, words):
    assert backward_check(MEAN_LOSS)["passed"]
    r = backward_check(changed(MEAN_LOSS, "2 * Z / 8", wrong))
    message = the_line(r, 5)["message"]
    assert message.startswith("dZ[0, 0] should get ") and message.endswith(f": {words}")


def test_a_tensor_gradient_wrong_in_some_elements_says_how_many():
    message = the_line(backward_check(changed(MEAN_LOSS, "2 * Z / 8", "2 * Z / 8 + 1")),
                       5)["message"]
    assert message.endswith("(8 of 8 elements differ).")
    code = changed(NEURON_CODE, "w[1] * ddot]", "-w[1] * ddot]")
    message = the_line(backward_check(code), line_of(code, "dx = ["))["message"]
    assert message.endswith("(1 of 2 elements differ).")


@pytest.mark.parametrize(("code", "uses"), [
    ("x = 1000\nf = exp(x)\ndx = 2 * df", "uses 2."),  # e^1000 is infinite
    ("x = 1e200\nf = x * x\ndx = 1e-300 * df", "uses 1e-300."),  # the ratio is 0
    ("x = 1e200\nf = x * x\ndx = 1e-110 * df", "uses 1e-110."),  # 1 / ratio is infinite
    ("x = 2\nf = x * x\ndx = 0 * df / 0", "uses nan."),
    ("x = 2\nf = x * x\ndx = df / 0", "uses inf."),
])
def test_a_local_gradient_off_by_no_finite_factor_is_named_without_one(code, uses):
    message = the_line(backward_check(code), 3)["message"]
    assert message.startswith("the local gradient of f = ") and message.endswith(uses)


def test_dropped_line_marks_the_input_and_names_the_missing_contribution():
    code = changed(STAGED_CODE, "dx += (1) * dnum", "")
    r = backward_check(code)
    assert not r["passed"] and r["first_wrong"] is None
    assert all(e["ok"] for e in r["lines"])
    true_dx = float(trace(STAGED).gradients["x"])
    g = r["gradients"]["x"]
    assert g["message"] == "no line computes dx's contribution through num"
    assert not g["ok"] and g["expected"] == pytest.approx(true_dx)
    assert g["got"] == pytest.approx(true_dx - _num_share())


def _num_share() -> float:
    """dx's share through num = x + sigy: 1 * dnum, and dnum = invden."""
    c = trace(STAGED)
    return float(c.vals[next(n.index for n in c.nodes if n.name == "invden")])


def test_dropped_line_for_an_intermediate_is_caught_where_it_is_read():
    code = changed(STAGED_CODE, "dsigy = (1) * dnum", "")
    r = backward_check(code)
    n = line_of(code, "dy += ((1 - sigy)")
    assert r["first_wrong"] == n
    assert "no line computes dsigy's contribution through num" in the_line(r, n)["message"]


def test_gradient_read_before_it_is_complete():
    code = changed(STAGED_CODE, "dxpy = (2 * xpy) * dxpysqr", "")
    code = changed(code, "dy = (1) * dxpy", "dy = (1) * dxpy\ndxpy = (2 * xpy) * dxpysqr")
    r = backward_check(code)
    n = line_of(code, "dx = (1) * dxpy")
    assert r["first_wrong"] == n
    message = the_line(r, n)["message"]
    assert message.startswith("dxpy was read before its contribution from xpysqr was added")
    assert f"line {line_of(code, 'dxpy =')}" in message


def test_transposed_matrix_gradient_is_a_shape_error_naming_both_shapes():
    code = changed(MATRIX_CODE, "dD.dot(X.T)", "X.T.dot(dD)")
    e = raises_at(code, "X.T.dot(dD)")
    assert "3×10" in e.message and "5×3" in e.message
    assert "dW must have W's shape 5×10" in e.hint


def test_gradient_of_the_wrong_shape_is_an_error():
    code = changed(MATRIX_CODE, "dD.dot(X.T)", "dD.dot(X.T).T")
    e = raises_at(code, "dD.dot(X.T).T")
    assert e.message == "dW must have W's shape 5×10, but this line gives 10×5"


@pytest.mark.parametrize(("line", "name"), [
    ("dden = (1.0 / (den**2)) * dinvden   dden = 1", "dden"),  # reads den and dden
    ("dden = dinvden dot", "dot"),  # a variable named like a function
])
def test_a_syntax_error_names_the_words_as_the_code_writes_them(line, name):
    code = "x = 3\ndot = x * 2\nden = dot + 1\ninvden = 1 / den\ndinvden = 1\n" + line
    e = raises_at(code, name)
    assert e.message == f"unexpected name '{name}'; expected an operator or the end of the line"


def test_a_right_side_reads_a_variable_named_like_a_function_beside_the_call():
    """Each right side is read alone: there `max` is the variable and max(x, 1) the function."""
    code = ("x = 3\nmax = x * 2\nden = max + max(x, 1)\ndden = 1\ndmax = dden\n"
            "dx = 2 * dmax + (x >= 1) * dden")
    r = backward_check(code)
    assert r["passed"] and r["gradients"]["x"]["got"] == 3.0


def test_wrong_element_of_a_list_gradient_is_named():
    code = changed(NEURON_CODE, "x[1] * ddot,", "x[0] * ddot,")
    r = backward_check(code)
    n = line_of(code, "dw = [")
    assert r["first_wrong"] == n
    assert the_line(r, n)["message"].startswith("dw[1] should get")
    assert not r["gradients"]["w"]["ok"] and r["gradients"]["x"]["ok"]


def test_wrong_local_gradient_of_a_written_out_sigmoid_gives_its_formula():
    """The notes' sigmoid, 1.0 / (1 + math.exp(-dot)), is the sigmoid gate written out: its
    local gradient is the gate's, (1 - f) * f."""
    code = changed(NEURON_CODE, "ddot = (1 - f) * f", "ddot = f * f")
    r = backward_check(code)
    message = the_line(r, line_of(code, "ddot ="))["message"]
    c = trace(NEURON)
    assert message == (
        "the local gradient of f = 1.0 / (1 + math.exp(-dot)) with respect to dot is "
        f"(1 - f) * f = {float(c.gradients['w'][2]):.4g}, but this line uses f * f = 0.5344: "
        "it has f where the local gradient has (1 - f).")


@pytest.mark.parametrize(("code", "old", "new", "words"), [
    # swapped operands: the other input of a product, or the stage's output for its input
    (CHAIN_RULE_CODE, "dfdz = q", "dfdz = z", "uses z = -4: it has z where the local gradient "
     "has q."),
    (CHAIN_RULE_CODE, "dfdq = z", "dfdq = q", "uses q = 3: it has q where the local gradient "
     "has z."),
    (STAGED_CODE, "dnum = invden", "dnum = num", "it has num where the local gradient has "
     "invden."),
    (STAGED_CODE, "(2 * xpy) * dxpysqr", "(2 * xpysqr) * dxpysqr", "it has xpysqr where the "
     "local gradient has xpy."),
    (STAGED_CODE, "((1 - sigx) * sigx) * dsigx", "((1 - sigy) * sigy) * dsigx",
     "it has sigy where the local gradient has sigx."),
    ("a = 2.0\nb = 0.5\nf = a / b\ndf = 1\nda = df / b\ndb = -a / b**2 * df", "-a / b**2",
     "-a / b", "it has b where the local gradient has b**2."),
    ("x = 3.0\nf = exp(x)\ndx = f * df", "f * df", "x * df", "it has x where the local "
     "gradient has f."),
    # a factor left out or one too many
    (NEURON_CODE, "ddot = (1 - f) * f", "ddot = (1 - f)", "uses (1 - f) = 0.2689: it leaves "
     "out the factor f."),
    (STAGED_CODE, "((1 - sigy) * sigy) * dsigy", "(sigy) * dsigy", "it leaves out the factor "
     "(1 - sigy)."),
    (STAGED_CODE, "(2 * xpy) * dxpysqr", "xpy * dxpysqr", "uses xpy = -1: it is 2 times too "
     "small (a missing factor?)."),
    ("x = 3\nq = x + 2\nf = q * q\ndq = 2 * q\ndx = dq", "dx = dq", "dx = x * dq",
     "uses x = 3: it has an extra factor x."),
    # a wrong sign
    (CHAIN_RULE_CODE, "dqdx = 1.0", "dqdx = -1.0", "uses -1: its sign is wrong."),
    (STAGED_CODE, "(-1.0 / (den**2))", "(1.0 / (den**2))", "uses (1.0 / (den**2)) = 0.2623: "
     "its sign is wrong."),
    (NEURON_CODE, "ddot = (1 - f) * f", "ddot = -(1 - f) * f", "its sign is wrong."),
    # the chain factor forgotten
    (CHAIN_RULE_CODE, "dfdx = dfdq * dqdx", "dfdx = dqdx", "this line uses no gradient: dfdx's "
     "contribution through q is the local gradient times dfdq, the gradient arriving at q."),
    (STAGED_CODE, "(2 * xpy) * dxpysqr", "(2 * xpy)", "this line uses no gradient: dxpy's "
     "contribution through xpysqr is the local gradient times dxpysqr, the gradient arriving "
     "at xpysqr."),
    # wrong by no rule: the right formula and the line's own, side by side
    (NEURON_CODE, "ddot = (1 - f) * f", "ddot = (1 + f) * f", "is (1 - f) * f = 0.1966, but "
     "this line uses (1 + f) * f = 1.266."),
])
def test_a_typical_mistake_in_a_local_gradient_is_named(code, old, new, words):
    """A ratio is given only for a mistake of sign or scale (one factor off at any input
    values); a line that uses one name where another belongs, or leaves out a factor, is told
    so in words."""
    assert backward_check(code)["passed"]
    code = changed(code, old, new)
    r = backward_check(code)
    n = line_of(code, new)
    assert r["first_wrong"] == n
    message = the_line(r, n)["message"]
    assert message.endswith(words), message
    assert ("times too" in message) == ("times too" in words)


def test_a_line_that_reads_its_own_gradient_before_any_value_says_so():
    code = "x = 2.0\ny = 3.0\nf = x * y\ndx = dx + y\ndy = x"
    r = backward_check(code)
    assert the_line(r, 4)["status"] == "wrong"
    assert the_line(r, 4)["message"] == ("dx has no value before this line, which reads it: the "
                                         "first line for dx sets it without reading it.")
    r = backward_check("x = 2.0\nf = x * x\ndx = x\ndx = dx + x")  # read after a value: right
    assert r["passed"]


def test_plus_equals_before_any_value_and_a_contribution_added_twice():
    code = "x = 3\nq = x * 2\nf = q * x\ndq = x\ndx += q\ndx += q"
    r = backward_check(code)
    assert the_line(r, 5)["message"].startswith("dx has no value before this line")
    assert "adds it a second time" in the_line(r, 6)["message"]
    assert r["first_wrong"] == 5


VECTOR = ("x = np.array([1.0, 2.0])\nw = np.array([3.0, 4.0])\nq = x * w\nf = np.sum(q)\n"
          "dq = np.ones_like(q)\ndx = w * dq\ndw = x * dq\n")


@pytest.mark.parametrize("code", [
    "x = 2.0\ny = 3.0\nf = x * y\ndx = y\ndy = x\ndx = dx",
    "x = 2.0\ny = 3.0\nf = x * y\ndx = y\ndy = x\ndx += 0",
    VECTOR + "dx = dx",
    VECTOR + "dx[1] += 0"])
def test_a_line_that_changes_nothing_is_right_and_said_to_change_nothing(code):
    r = backward_check(code)
    last = code.splitlines()[-1]
    n = line_of(code, last)
    assert r["passed"], the_line(r, n)
    assert the_line(r, n)["message"] is None
    assert f"line {n}, {last}, changes nothing: dx keeps the value it has" in r["warnings"]


def test_a_line_that_changes_nothing_where_a_contribution_is_missing_leaves_it_missing():
    code = "x = 3\nq = x * 2\nf = q * x\ndq = x\ndx = dq*2\ndx = dx"
    r = backward_check(code)
    assert the_line(r, 6)["ok"]
    assert not r["gradients"]["x"]["ok"]
    assert r["gradients"]["x"]["got"] == 6.0 and r["gradients"]["x"]["expected"] == 12.0


@pytest.mark.parametrize(("code", "adds", "words"), [
    # the contribution through f added a second time
    ("x = 2.0\ny = 3.0\nf = x * y\ndx = y\ndy = x\n", "2*y",
     "dx already holds its contribution through f (line 4): this line adds it a second time. "
     "the local gradient of f = x * y with respect to x is y = 3, but this line uses 2*y = 6: "
     "it is 2 times too large."),
    (VECTOR, "2 * w * dq",
     "dx already holds its contribution through q (line 6): this line adds it a second time. "
     "dx[0] should get 3 from this line, but it gives 6: every element it gives is 2 times too "
     "large."),
    # the contribution through f added once, wrongly
    ("x = 3\nq = x * 2\nf = q * x\ndq = x\ndx = dq*2\n", "2*q",
     "the local gradient of f = q * x with respect to x is q = 6, but this line uses 2*q = 12: "
     "it is 2 times too large."),
    # one of f's two uses of x added, and no line for the other
    ("x = 3.0\nq = x * 2\nf = q + x * x\ndq = 1\ndx = 2*dq\n", "x",
     "f = q + x * x uses x 2 times; this line adds the share of 1 of them, and no later line "
     "adds the other (6 in all, where this line gives 3).")])
def test_a_line_that_reads_its_own_gradient_is_told_what_it_adds(code, adds, words):
    """dx = dx + ... adds what dx += ... adds: the message's numbers are what the line adds,
    not what dx holds after it."""
    n = code.count("\n") + 1
    for line in (f"dx = dx + {adds}", f"dx += {adds}"):
        r = backward_check(code + line)
        assert the_line(r, n)["message"] == words, line


def test_gradient_that_does_not_flow_back_is_wrong():
    code = "x = 3\nz = 2\nq = x * 2\nf = q * z\ndq = z\ndz = q\ndx = 2 * dz"
    r = backward_check(code)
    assert the_line(r, 7)["message"].startswith("dz does not flow back into dx")


def test_line_without_upstream_gradient_is_wrong():
    code = "x = 3\nq = x * 2\nf = q * q\ndq = 2 * q\ndx = 2"
    r = backward_check(code)
    assert the_line(r, 5)["status"] == "wrong"
    assert "uses no gradient" in the_line(r, 5)["message"]


def test_a_forward_value_where_its_gradient_belongs_is_named():
    code = changed(STAGED_CODE, "(2 * xpy) * dxpysqr", "(2 * xpy) * xpysqr")
    r = backward_check(code)
    assert r["first_wrong"] == line_of(code, "dxpy =")
    assert the_line(r, r["first_wrong"])["message"] == (
        "this line reads xpysqr, the forward value, where the gradient dxpysqr belongs: dxpy's "
        "contribution through xpysqr is the local gradient times dxpysqr.")
    notes = backward_check("x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndfdq = z; dfdz = q\n"
                           "dfdx = q\ndfdy = dfdq")
    assert the_line(notes, 5)["message"].startswith(
        "this line reads q, the forward value, where the gradient dfdq belongs")
    # sigx is part of the local gradient here: dsigx is missing, not misplaced
    code = changed(STAGED_CODE, "((1 - sigx) * sigx) * dsigx", "((1 - sigx) * sigx)")
    assert the_line(backward_check(code), line_of(code, "dx += ((1 - sigx)"))["message"] == (
        "this line uses no gradient: dx's contribution through sigx is the local gradient times "
        "dsigx, the gradient arriving at sigx.")


def test_upstream_gradient_given_as_data_must_be_used():
    code = "W = np.random.randn(2, 3)\nx = [1.0, 2.0, 3.0]\nD = W.dot(x)\n" \
           "dD = np.random.randn(*D.shape)\ndx = W.T.dot(dD)\ndW = W * 0 + 1"
    r = backward_check(code)
    assert the_line(r, 5)["ok"]
    assert "uses no gradient" in the_line(r, 6)["message"] and "dD" in the_line(r, 6)["message"]


def test_output_gradient_written_out_and_wrong():
    ok = backward_check("x = 3\nf = x * 2\ndf = 1.0\ndx = 2 * df")
    assert ok["passed"]
    assert not any(e["given"] for e in ok["lines"])  # df = 1.0 is judged: it could be wrong
    r = backward_check("x = 3\nf = x * 2\ndf = 3.0\ndx = 2 * df")
    assert r["first_wrong"] == 3 and "with respect to itself is 1" in the_line(r, 3)["message"]
    assert the_line(r, 4)["status"] == "inherits"


def test_a_stage_that_uses_a_variable_twice_may_take_a_line_per_use():
    assert backward_check("x = 3\nf = x * x\ndx = x * df\ndx += x * df")["passed"]
    assert backward_check("x = 3\nf = x * x\ndx = 2 * x * df")["passed"]
    # the README's example: with no later line for f, the line that adds one use is wrong
    r = backward_check("x = 3\nf = x * x\ndx = x * df")
    assert r["first_wrong"] == 3 and not r["passed"]
    assert the_line(r, 3)["message"] == (
        "f = x * x uses x 2 times; this line adds the share of 1 of them, and no later line "
        "adds the other (6 in all, where this line gives 3).")
    # and after it, dx should hold both uses' shares: 6, where the code's holds 3
    assert (the_line(r, 3)["got"], the_line(r, 3)["expected"]) == (3.0, 6.0)
    assert r["gradients"]["x"]["message"] == (
        "dx holds only part of its contribution through f (1 of 2 uses of x)")


PER_USE = "x = 2.0\ny = 3.0\n"
COMPOUND = PER_USE + "q = x*y + y\nf = q * q\ndq = 2 * q\ndx = y * dq\n"  # q = 9, dq = 18
LISTED = PER_USE + "v = [x*y, y]\nf = sum(v * v)\ndv = 2 * v\ndx = y * dv[0]\n"  # dv = [12, 6]
THREE = PER_USE + "q = x*y + y*y\nf = q * q\ndq = 2 * q\ndx = y * dq\n"  # q = 15, dq = 30


@pytest.mark.parametrize("code, dx, dy", [
    (COMPOUND + "dy = x * dq\ndy += dq", 54, 54),
    (COMPOUND + "dy = dq\ndy += x * dq", 54, 54),
    (COMPOUND + "dy = (x + 1) * dq", 54, 54),
    (LISTED + "dy = x * dv[0]\ndy += dv[1]", 36, 30),
    (LISTED + "dy = dv[1]\ndy += x * dv[0]", 36, 30),
    (THREE + "dy = x * dq\ndy += y * dq\ndy += y * dq", 90, 240),
    (THREE + "dy = y * dq\ndy += x * dq\ndy += y * dq", 90, 240),
    (THREE + "dy = x * dq\ndy += 2 * y * dq", 90, 240),  # one use, then the two left at once
    (THREE + "dy = (x + y) * dq\ndy += y * dq", 90, 240),  # two uses at once, then the third
    (THREE + "dy = y * dq\ndy += (x + y) * dq", 90, 240),
])
def test_a_compound_or_list_stage_may_take_a_line_per_use(code, dx, dy):
    r = backward_check(code)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), r["lines"]
    assert (r["gradients"]["x"]["got"], r["gradients"]["y"]["got"]) == (dx, dy)


@pytest.mark.parametrize("code, line, message, final", [
    (COMPOUND + "dy = x * dq", 7, "q = x*y + y uses y 2 times; this line adds the share of 1 "
     "of them, and no later line adds the other (54 in all, where this line gives 36).",
     "through q (1 of 2 uses of y)"),
    (LISTED + "dy = dv[1]", 7, "v = [x*y, y] uses y 2 times; this line adds the share of 1 of "
     "them, and no later line adds the other (30 in all, where this line gives 6).",
     "through v (1 of 2 uses of y)"),
    (THREE + "dy = y * dq\ndy += x * dq", 8, "q = x*y + y*y uses y 3 times; this line adds "
     "the share of 1 of the 2 not yet added, and no later line adds the other (150 in all, "
     "where this line gives 60).", "through q (2 of 3 uses of y)"),
])
def test_a_line_per_use_with_a_use_left_out_is_wrong_and_says_how_many(code, line, message,
                                                                       final):
    r = backward_check(code)
    assert r["first_wrong"] == line and the_line(r, line)["message"] == message
    assert [e["line"] for e in r["lines"] if not e["ok"]] == [line]
    # what dy should hold after the line is its whole contribution, as the final check has it
    assert the_line(r, line)["expected"] == r["gradients"]["y"]["expected"]
    assert r["gradients"]["y"]["message"] == "dy holds only part of its contribution " + final


def test_a_wrong_line_for_a_stage_of_several_uses_is_judged_against_the_whole_contribution():
    r = backward_check(COMPOUND + "dy = 5 * dq")
    # 5 / 3 is no mistake of scale: the local gradient is x + 1, which is 3 only here
    assert the_line(r, 7)["message"] == ("the local gradient of q = x*y + y with respect to y "
                                         "is 3, but this line uses 5.")
    r = backward_check(COMPOUND + "dy = x * dq\ndy += x * dq")  # one use added twice
    assert [e["status"] for e in r["lines"]] == ["ok", "ok", "ok", "wrong"]
    assert r["gradients"]["y"]["got"] == 72


def test_accumulating_by_reading_the_gradient_itself_is_like_plus_equals():
    code = "x = 3\nq = x * 2\nf = q * x\ndq = x\ndx = q\ndx = dx + 2 * dq"
    r = backward_check(code)
    assert r["passed"], r
    assert r["gradients"]["x"]["got"] == pytest.approx(4 * 3)  # f = 2x², df/dx = 4x


# --- values -----------------------------------------------------------------------------------

def test_request_values_feed_free_inputs_and_override_literals_with_a_warning():
    r = backward_check("q = x * y\ndx = y\ndy = x", {"x": 2, "y": 5, "k": 1})
    assert r["passed"] and r["value"] == 10.0
    assert r["warnings"] == ["value for k ignored: the code does not use it"]
    r = backward_check("x = 3\nq = x * x\ndx = 2 * x", {"x": 4})
    assert r["value"] == 16.0 and r["gradients"]["x"]["got"] == 8.0
    assert r["warnings"] == ["value for x overrides the code's x = 3"]


def test_given_values_are_warned_of_in_the_drawings_words():
    """The page draws the forward part with the same values: one wording, so it says each once."""
    code = "W = np.random.randn(3, 2)\nX = np.random.randn(4, 3)\nZ = X @ W\ndZ = Z\ndW = X.T @ dZ"
    values = {"W": np.ones((3, 2)).tolist(), "Z": 1, "k": 2}
    said = ["value for W overrides the code's W = […] (3×2)",
            "value for Z ignored: the code computes it",
            "value for k ignored: the code does not use it"]
    assert backward_check(code, values)["warnings"][:3] == said
    assert trace(code[:code.index("dZ")], values).warnings[:3] == said


@pytest.mark.parametrize("forward, warned", [
    ("W = np.random.randn(3, 3)\nX = np.random.randn(3, 3)\nD = W.dot(X)", True),
    ("x = np.array([2.0])\no = x * 3", False),  # one element: a number, as in PyTorch
])
def test_a_tensor_output_starting_from_ones_is_warned_of_as_the_drawing_warns(forward, warned):
    """Check mode shows the drawn forward part's warnings and the checker's: the one about the
    ones the backward pass starts from is the same sentence, so the page shows it once."""
    report = backward_check(forward + "\n" + ("dW = dD.dot(X.T)" if warned else "dx = 3 * do"))
    ones = [w for w in report["warnings"] if "starts from ones" in w]
    assert ones == [w for w in trace(forward).warnings if "starts from ones" in w]
    assert len(ones) == warned
    if warned:
        assert ones == ["the output D has shape 3×3: the backward pass starts from ones (the "
                        "gradient of the sum of its elements)"]


def test_random_inputs_are_the_seeded_random_values():
    r = backward_check("W = np.random.randn(2, 3)\nf = sum(W * W)\ndW = 2 * W")
    w = np.random.default_rng(0).standard_normal((2, 3))
    assert r["value"] == pytest.approx(float(np.sum(w * w)))
    assert np.allclose(r["gradients"]["W"]["got"], 2 * w)


# --- the notes' first naming: dfdx for a gradient, dqdx for a local gradient -------------------


def test_a_reading_that_fits_only_at_the_codes_own_values_is_not_taken():
    """Here y = 2 is the ratio of the line's 6 to the right 3 = x + 1, by chance: at other
    values of x and y it is not, so no factor y is said to be extra; where it is, it is."""
    code = COMPOUND.replace("y = 3.0", "y = 2.0")
    message = the_line(backward_check(code + "dy = (x + 4) * dq"), 7)["message"]
    assert message.endswith("is 3, but this line uses (x + 4) = 6."), message
    message = the_line(backward_check(code + "dy = (x + 1) * y * dq"), 7)["message"]
    assert message.endswith("uses (x + 1) * y = 6: it has an extra factor y."), message


def test_a_local_gradient_is_tried_at_other_values_of_its_stages_inputs():
    """c is 0.5 whatever x is: a local gradient of f = sin(c) is tried at other values of c
    itself, so sin(c) for cos(c) is no mistake of scale."""
    code = "x = 2.0\nc = x * 0 + 0.5\nf = sin(c)\ndc = sin(c)\ndx = 0 * dc"
    assert the_line(backward_check(code), 4)["message"] == (
        "the local gradient of f = sin(c) with respect to c is np.cos(c) = 0.8776, but this "
        "line uses sin(c) = 0.4794.")


def test_chain_rule_example_as_printed_passes_every_line():
    report = backward_check(CHAIN_RULE_CODE)
    assert report["output"] == "f" and report["value"] == -12.0
    assert report["passed"] and report["first_wrong"] is None
    assert report["forward_end"] == CHAIN_RULE_CODE.index("dfdz = q")
    lines = {e["name"]: e for e in report["lines"]}
    assert list(lines) == ["dfdz", "dfdq", "dqdx", "dqdy", "dfdx", "dfdy"]
    assert all(e["status"] == "ok" for e in lines.values())
    # df/dz = q = 3, df/dq = z = -4; the local gradients of q = x + y are 1
    assert [(lines[n]["var"], lines[n]["of"], lines[n]["got"]) for n in lines] == [
        ("z", ["f"], 3.0), ("q", ["f"], -4.0), ("x", ["q"], 1.0), ("y", ["q"], 1.0),
        ("x", ["q"], -4.0), ("y", ["q"], -4.0)]
    assert report["gradients"] == {
        "x": {"name": "dfdx", "got": -4.0, "expected": -4.0, "ok": True, "message": None},
        "y": {"name": "dfdy", "got": -4.0, "expected": -4.0, "ok": True, "message": None},
        "z": {"name": "dfdz", "got": 3.0, "expected": 3.0, "ok": True, "message": None}}


def test_chain_rule_example_with_a_wrong_gradient_is_caught_in_its_own_names():
    code = changed(CHAIN_RULE_CODE, "dfdz = q", "dfdz = z")
    report = backward_check(code)
    line = the_line(report, 10)
    assert report["first_wrong"] == 10 and line["status"] == "wrong"
    assert line["message"] == ("the local gradient of f = q * z with respect to z is q = 3, but "
                               "this line uses z = -4: it has z where the local gradient has q.")
    assert report["gradients"]["z"]["message"] == "dfdz is wrong since line 10"
    assert [e["status"] for e in report["lines"] if e["line"] != 10] == ["ok"] * 5


def test_chain_rule_example_with_a_wrong_local_gradient_is_caught_where_it_is_computed():
    code = changed(CHAIN_RULE_CODE, "dqdx = 1.0", "dqdx = -1.0")
    report = backward_check(code)
    assert report["first_wrong"] == 12
    assert the_line(report, 12)["message"] == ("the local gradient of q = x + y with respect "
                                               "to x is 1, but this line uses -1: its sign is "
                                               "wrong.")
    # dfdx = dfdq * dqdx is right in itself: it builds on the wrong dqdx
    assert the_line(report, 15)["status"] == "inherits"
    assert "builds on dqdx, which is wrong since line 12" in the_line(report, 15)["message"]
    assert report["gradients"]["x"]["got"] == 4.0 and not report["gradients"]["x"]["ok"]


LOCAL_OF_A_VECTOR = "w = np.array([1.0, 2.0, 3.0])\ns = np.sum(w * w)\nf = s * 2\nds = 2\n"


@pytest.mark.parametrize("line, message", [
    ("dsdw = w\ndw = dsdw * ds", "∂s/∂w[0] is 2, but this line gives 1."),
    ("dsdw = 1.0\ndw = 2 * w * ds", "∂s/∂w has w's shape 3, but this line gives scalar."),
    ("dsdw += 2 * w\ndw = dsdw * ds", "dsdw has no value before this line."),
])
def test_a_local_gradient_with_respect_to_a_vector_is_judged_element_by_element(line, message):
    report = backward_check(LOCAL_OF_A_VECTOR + line)
    assert the_line(report, 5)["status"] == "wrong" and the_line(report, 5)["message"] == message


def test_a_local_gradient_of_a_vector_is_a_jacobian_used_unjudged():
    code = ("w = np.array([1.0, 2.0])\nq = w * 2\nf = np.sum(q)\ndq = np.ones_like(q)\n"
            "dqdw = 1\ndqdw += 1\ndw = dqdw * dq")
    report = backward_check(code)
    assert report["passed"] and [e["line"] for e in report["lines"]] == [4, 7]
    assert report["warnings"] == ["dqdw is not checked: q is not a number, so ∂q/∂w is a "
                                  "Jacobian; the lines that use it are checked with it"] * 2
    e = raises_at(LOCAL_OF_A_VECTOR + "dsdw = 2 * w\ndsdw[0] += 2", "dsdw[0] += 2")
    assert e.message == "dsdw is a local gradient: it is assigned whole, not by element"
    assert e.hint == "write dsdw = ..."


def test_chain_rule_example_with_a_wrong_chain_step_names_its_local_gradient():
    code = changed(CHAIN_RULE_CODE, "dfdy = dfdq * dqdy", "dfdy = dfdq * (dqdy + 1)")
    line = the_line(backward_check(code), 16)
    assert line["status"] == "wrong" and line["message"] == (
        "the local gradient of q = x + y with respect to y is 1, but this line uses (dqdy + 1) "
        "= 2: it is 2 times too large.")


def test_notes_names_and_short_names_mean_the_same_gradients():
    short = "x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndq = z; dz = q\ndx = dq; dy = dq"
    notes = "x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndfdq = z; dfdz = q\n" \
            "dfdx = dfdq; dfdy = dfdq"
    a, b = backward_check(short), backward_check(notes)
    assert a["passed"] and b["passed"]
    assert {k: g["got"] for k, g in a["gradients"].items()} == {
        k: g["got"] for k, g in b["gradients"].items()}


def test_a_gradient_no_line_assigns_is_named_in_the_codes_own_naming():
    code = changed(CHAIN_RULE_CODE, "dfdy = dfdq * dqdy", "")
    y = backward_check(code)["gradients"]["y"]
    assert y["name"] == "dfdy" and not y["ok"]
    assert y["message"] == "no line computes dfdy (its contributions come through q)"
    short = "x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndq = z; dz = q\ndx = dq"
    assert backward_check(short)["gradients"]["y"]["name"] == "dy"


def test_a_forward_pass_with_a_variable_named_like_dfdy_has_no_backward_pass():
    # no f and y before it; x is not computed from y
    for code in ("x = 3\ndfdy = x * 2", "x = 1; y = 2\ndxdy = x * y"):
        e = raises_at(code, "")
        assert "no backward pass" in e.message


@pytest.mark.parametrize(("code", "fragment", "words"), [
    # x is not among q's inputs, nor q the output
    ("x = 1; z = 2\nq = x * 2\nf = q * z\ndfdq = z\ndqdz = 1", "dqdz",
     "'dqdz' reads as ∂q/∂z, but q = x * 2 does not use z"),
    ("x = 1; z = 2\nq = x * 2\nf = q * z\ndfdq = z\ndfdx = dq * 2", "dq",
     "'dq' and 'dfdq' both name the gradient of q"),
    ("x = 1; z = 2\nq = x * 2\nf = q * z\ndfdq = z\ndfdx = dqdx * dfdq", "dqdx",
     "'dqdx' is used before a line assigns it"),
    ("x = 1; qdx = 2\nq = x * qdx\nf = q\ndqdx = 2", "dqdx",
     "'dqdx' could name the gradient of qdx or ∂q/∂x"),
])
def test_errors_in_the_notes_naming_point_at_the_name(code, fragment, words):
    e = raises_at(code, fragment)
    assert words in e.message, e.message


# --- mistakes in the code itself: errors with their place ----------------------------------------

@pytest.mark.parametrize(("code", "fragment", "words"), [
    ("x = 3\nf = x * 2\ndx = 2 * dz", "dz", "forward pass has no variable 'z'"),
    ("x = 3\nf = x * 2\ndx = 2 * fo", "fo", "unknown name 'fo'"),
    ("x = 3\nf = x * 2\ndf = 1\ndq = 2 * df", "dq", "forward pass has no variable 'q'"),
    ("x = 3\nf = x * 2\ndf = 1\nq = 2 * df", "q", "is not a gradient"),
    ("x = 3\nf = x * 2\ndx = [2, 2]", "[2, 2]", "dx must have x's shape scalar"),
    ("x = 3\nf = x * 2\ndx = 2 *", "", "ends too early"),
    ("x = 3\nf = x * 2\nf = f + 1\ndx = 2", "f", "assigned twice"),
    ("x = 3\nf = x * 2\ndx -= 2", "-=", "'-=' is not supported"),
])
def test_errors_point_at_the_mistake(code, fragment, words):
    e = raises_at(code, fragment)
    assert words in e.message


def test_a_backward_pass_pasted_alone_asks_for_its_forward_pass():
    """The notes' staged backward pass without the forward pass above it: the first forward
    variable it reads is named, with what to do (not "did you mean dnum?")."""
    e = raises_at(STAGED_BACKWARD, "num")
    assert "reads the forward pass's variables" in e.message, e.message
    assert e.hint == "paste the forward pass that computes num above the backward pass"


def test_no_backward_lines_is_an_error():
    e = raises_at(STAGED, "")
    assert e.start == len(STAGED) and "no backward pass" in e.message


def test_missing_value_is_named():
    with pytest.raises(ExpressionError) as info:
        backward_check("f = x * y\ndx = y\ndy = x")
    assert info.value.missing == ["x", "y"]


def test_list_with_a_trailing_comma_and_an_empty_element():
    assert backward_check("w = [1.0, 2.0]\nf = sum(w * w)\ndw = [2 * w[0], 2 * w[1],]")["passed"]
    raises_at("w = [1.0, 2.0]\nf = sum(w * w)\ndw = [2 * w[0], , 2]", ",")


def test_a_line_may_read_a_variable_and_its_gradient():
    code = "x = 3\nq = x * 2\nf = q * x\ndq = x\ndx = 2 * dq\ndx = q + dx"
    assert backward_check(code)["passed"]


# --- POST /api/backward-check -------------------------------------------------------------------


def test_backward_check_notes_examples_pass(client):
    for code in (STAGED_CODE, NEURON_CODE, MATRIX_CODE):
        r = client.post("/api/backward-check", json={"code": code})
        assert r.status_code == 200, r.text
        body = strict(r.text)
        assert body["passed"] and body["first_wrong"] is None
        assert set(body) == {"output", "value", "passed", "first_wrong", "lines", "gradients",
                             "forward_end", "warnings"}
        for line in body["lines"]:
            assert set(line) == {"line", "name", "var", "of", "ok", "status", "got", "expected",
                                 "message", "span", "given"}
            assert line["given"] == (code is MATRIX_CODE and line["name"] == "dD")
            assert line["ok"] and line["status"] == "ok"
            start, end = line["span"]
            assert code[start:end].startswith(line["name"])
            assert line_of(code, code[start:end]) == line["line"]


def test_backward_check_marks_the_first_wrong_line(client):
    code = changed(STAGED_CODE, "dx += ((1 - sigx)", "dx = ((1 - sigx)")
    r = client.post("/api/backward-check", json={"code": code})
    assert r.status_code == 200
    body = r.json()
    assert body["first_wrong"] == line_of(code, "dx = ((1 - sigx)")
    assert not body["passed"] and not body["gradients"]["x"]["ok"]
    statuses = [line["status"] for line in body["lines"]]
    assert statuses.count("wrong") == 1 and statuses.count("inherits") == 1


def test_backward_check_values_and_random_values(client):
    r = client.post("/api/backward-check", json={
        "code": "f = sum(W * W)\ndW = 2 * W", "values": {"W": {"randn": [2, 2], "seed": 3}}})
    assert r.status_code == 200
    w = np.random.default_rng(3).standard_normal((2, 2))
    assert np.allclose(r.json()["gradients"]["W"]["expected"], 2 * w)


def test_backward_check_non_finite_numbers_are_strict_json(client):
    r = client.post("/api/backward-check", json={"code": "x = 0\nf = log(x)\ndx = 1 / x"})
    assert r.status_code == 200
    body = strict(r.text)
    assert body["value"] == "-Infinity" and body["lines"][0]["got"] == "Infinity"


@pytest.mark.parametrize(("code", "fragment"), [
    ("x = 3\nf = x * 2\ndx = 2 * dz", "dz"),                    # unknown name
    ("x = 3\nf = x * 2\ndf = 1\ndq = 2 * df", "dq"),            # no forward variable q
    (changed(MATRIX_CODE, "dD.dot(X.T)", "X.T.dot(dD)"), "X.T.dot(dD)"),  # shapes
    ("x = 3\nf = x * 2", ""),                                   # no backward lines
])
def test_backward_check_errors_are_400_with_position(client, code, fragment):
    body = problem(client.post("/api/backward-check", json={"code": code}), 400)
    start, end = body["position"]["start"], body["position"]["end"]
    assert code[start:end] == fragment
    if not fragment:
        assert start == len(code)


def test_backward_check_missing_value_names_it(client):
    body = problem(client.post("/api/backward-check", json={"code": "f = x * k\ndx = k"}), 400)
    assert body["missing"] == ["x", "k"]


@pytest.mark.parametrize("payload", [
    {}, {"code": 3}, {"code": "x = 1", "values": {"x": "a"}}, {"code": "x", "expand": True}])
def test_backward_check_schema_mismatch_is_422(client, payload):
    problem(client.post("/api/backward-check", json=payload), 422)


# --- comparisons: the notes' relu mask ------------------------------------------------------

# the notes' two-layer backward pass, G1 = (Z1 > 0) * (G2 @ W2.T), with the gradient of the
# scores given as data
TWO_LAYER_CODE = """\
X = np.random.randn(8, 4)
W1 = np.random.randn(4, 5)
W2 = np.random.randn(5, 3)
S1 = X @ W1
Z1 = np.maximum(S1, 0)
S2 = Z1 @ W2
dS2 = np.random.randn(*S2.shape)
dW2 = Z1.T @ dS2
dZ1 = dS2 @ W2.T
dS1 = (Z1 > 0) * dZ1
dW1 = X.T @ dS1
dX = dS1 @ W1.T"""


@pytest.mark.parametrize("mask", ["(Z1 > 0)", "(Z1 > 0).astype(np.float32)", "(S1 >= 0)",
                                  "(0 < S1)"])
def test_the_notes_relu_mask_is_checked(mask):
    r = backward_check(changed(TWO_LAYER_CODE, "(Z1 > 0)", mask))
    assert r["passed"] and all(e["ok"] for e in r["lines"]), r["lines"]


@pytest.mark.parametrize("mask", ["(Z1 < 0)", "(Z1 > 1)", "(S1 <= 0)"])
def test_a_wrong_relu_mask_is_named_at_its_line(mask):
    code = changed(TWO_LAYER_CODE, "(Z1 > 0)", mask)
    r = backward_check(code)
    assert not r["passed"] and r["first_wrong"] == line_of(code, "dS1 =")
    assert the_line(r, line_of(code, "dS1 ="))["status"] == "wrong"
    assert the_line(r, line_of(code, "dW1 ="))["status"] == "inherits"


@pytest.mark.parametrize("b", [1.0, 0.25])  # relu on and off
def test_the_engines_staged_code_of_a_relu_circuit_passes(b):
    source = trace("relu(x * w + b) * 2", {"x": 1.5, "w": -0.5, "b": b}).code()["source"]
    assert "((add2 > 0)) * drelu3" in source
    r = backward_check(source)
    assert r["passed"] and all(e["ok"] for e in r["lines"]), r["lines"]


def test_a_forward_comparison_sends_its_inputs_no_gradient():
    code = "x = [1.0, -2.0]\nw = [3.0, 4.0]\nf = (x > 0) * w\ndf = np.random.randn(*f.shape)\n"
    assert backward_check(code + "dw = (x > 0) * df\ndx = 0 * df")["passed"]
    r = backward_check(code + "dw = (x > 0) * df\ndx = w * df")
    assert not r["passed"] and r["first_wrong"] == 6


# --- the engine's own staged code, for random programs -----------------------------------------

def staged_source(text: str, vals: dict) -> str:
    """engine/codegen.py's staged forward and backward code for the program, imports left out;
    only code the language reads (not np.ones_like, np.outer or a softmax_ce's helper functions,
    say)."""
    c = trace(text, vals)
    # relu's staged forward np.maximum(x, 0.0) reads back as a max gate, whose tie at x = 0
    # splits the gradient where relu's sends none: a known difference at that one point
    assume(not any(n.kind == "gate" and n.op == "relu" and np.any(c.vals[n.inputs[0].index] == 0)
                   for n in c.graph.nodes))
    source = c.code()["source"]
    source = "\n".join(line for line in source.splitlines() if not line.startswith("import"))
    try:
        parse(source)
    except ExpressionError:
        assume(False)
    return source


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                  HealthCheck.too_slow])
@given(programs(), values, st.data())
def test_generated_staged_code_passes_and_an_overwritten_fork_is_caught(text, vals, data):
    source = staged_source(text, vals)
    r = backward_check(source)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), (source, r)
    c = trace(text, vals)
    for name, g in c.gradients.items():
        assert r["gradients"][name]["got"] == pytest.approx(float(g), rel=1e-9, abs=1e-12)

    forks = [i for i, line in enumerate(source.splitlines()) if " += " in line]
    assume(forks)
    k = data.draw(st.sampled_from(forks))
    lines = source.splitlines()
    name = lines[k].split()[0]
    lines[k] = lines[k].replace(" += ", " = ", 1)
    r = backward_check("\n".join(lines))
    assert r["first_wrong"] == k + 1
    assert the_line(r, k + 1)["message"].startswith(f"{name} was overwritten")


@st.composite
def per_use_passes(draw) -> tuple[str, dict[str, float]]:
    """A stage q of terms like x, x*y or y*y, as a sum or as a list, and a backward pass with one
    line per use of a variable in q, in any order; with the exact gradients."""
    vals = {n: float(draw(st.integers(-3, 3))) for n in "xyz"}
    terms = draw(st.lists(st.lists(st.sampled_from("xyz"), min_size=1, max_size=2), min_size=1,
                          max_size=4))
    listed = draw(st.booleans())
    product = [math.prod(vals[n] for n in t) for t in terms]
    text = [" * ".join(t) for t in terms]
    forward = f"q = [{', '.join(text)}]\nf = sum(q * q)" if listed else (
        f"q = {' + '.join(text)}\nf = q * q")
    uses, grads = [], {}
    for i, t in enumerate(terms):
        dq = f"dq[{i}]" if listed else "dq"
        for j, n in enumerate(t):
            other = t[1 - j] if len(t) == 2 else None
            uses.append((n, f"{other} * {dq}" if other else dq))
            grads[n] = grads.get(n, 0.0) + 2 * (product[i] if listed else sum(product)) * (
                vals[other] if other else 1.0)
    lines, seen = [], set()
    for n, rhs in draw(st.permutations(uses)):
        lines.append(f"d{n} {'+=' if n in seen else '='} {rhs}")
        seen.add(n)
    given = "".join(f"{n} = {vals[n]}\n" for n in sorted(grads))
    return given + forward + "\ndq = 2 * q\n" + "\n".join(lines), grads


@settings(max_examples=60, deadline=None)
@given(per_use_passes())
def test_a_line_per_use_of_a_variable_in_a_stage_passes(case):
    code, grads = case
    r = backward_check(code)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), (code, r["lines"])
    assert {n: g["got"] for n, g in r["gradients"].items()} == grads, code


def test_a_forward_variable_named_like_a_local_gradient_is_not_assigned_by_the_backward_pass():
    """dfdx is a forward stage here (f is not the output and does not read x): a backward line
    assigning it is refused in words, at its name."""
    code = "x = 1.0\nf = 2.0\ng = f * x\ndfdx = x + 1\nh = dfdx * g\ndh = 1.0\ndfdx = dh * g"
    with pytest.raises(ExpressionError, match="'dfdx' is a forward variable") as e:
        backward_check(code)
    assert code[e.value.start:e.value.end] == "dfdx" and e.value.start == code.rindex("dfdx")


@pytest.mark.parametrize("seed", ["np.random.randn(3)", "[1.0, 2.0, 5.0]"])
def test_the_outputs_gradient_given_as_data_may_be_written_dfdf(seed):
    """As df = ..., so dfdf = ...: the output's gradient as data, and dfdx judged against it."""
    notes = f"x = [1.0, 2.0, 3.0]\nf = x * 2\ndfdf = {seed}\ndfdx = 2 * dfdf"
    plain = notes.replace("dfdf", "df").replace("dfdx", "dx")
    a, b = backward_check(notes), backward_check(plain)
    assert a["passed"] and b["passed"]
    assert [e["name"] for e in a["lines"]] == ["dfdf", "dfdx"]
    np.testing.assert_array_equal(a["gradients"]["x"]["expected"], b["gradients"]["x"]["expected"])
    wrong = backward_check(notes.replace("2 * dfdf", "3 * dfdf"))
    assert [e["status"] for e in wrong["lines"]] == ["ok", "wrong"]


SOFTMAX_CE = """Z = [[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]]
y = [0, 2]
L = softmax_ce(Z, y)
dL = 1.0
"""


def test_integer_labels_take_no_gradient_so_no_line_owes_one():
    """softmax_ce's labels are not differentiable: a backward pass that gives dZ alone passes."""
    z = np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p[[0, 1], [0, 2]] -= 1.0
    r = backward_check(SOFTMAX_CE + f"dZ = {(p / 2).tolist()}\n")
    assert r["passed"], r
    assert set(r["gradients"]) == {"Z"}
    assert np.allclose(r["gradients"]["Z"]["got"], p / 2, rtol=1e-12)


def test_a_wrong_softmax_ce_gradient_is_explained_without_private_helper_names():
    r = backward_check(SOFTMAX_CE + "dZ = dL * Z\n")
    message = the_line(r, 5)["message"]
    assert message.startswith("dZ[0, 0] should get -0.3844 from this line, but it gives 1"), message
    assert "_softmax" not in message and "_rows" not in message


def test_a_gate_whose_local_gradient_overflows_is_judged_not_a_server_error(client):
    """x ** x at 200: each slot's share (x * x**(x - 1), x**x * ln x) overflows to inf, as the
    engine's own gradient does; math.pow raised there before."""
    code = "x = 200.0\nf = x ** x\ndf = 1.0\ndx = x * x ** (x - 1) * df\ndx += 3 * df\n"
    r = client.post("/api/backward-check", json={"code": code})
    assert r.status_code == 200, r.text
    body = strict(r.text)
    assert [line["status"] for line in body["lines"]] == ["ok", "ok", "wrong"]


@pytest.mark.parametrize("line", ["dq == 1.0 * df", "dq == df"])
def test_a_backward_line_written_with_double_equals_is_told_as_the_parser_tells_it(line):
    """`dq == ...` on a line of its own is most likely meant as dq = ...: the same clear error
    as the drawing's, at the '==' (line 5, column 4), not the generic one."""
    code = "x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndf = 1.0\n" + line
    e = raises_at(code, "==")
    assert str(e).startswith("line 5, column 4: '==' is not part of the language: a single = "
                             "gives a name its value"), str(e)
    assert e.hint.startswith("to give dq a value, write dq = ...")


# --- the engine's staged code of a tensor circuit, pasted back into check mode -----------------

MATRIX_FORWARD = MATRIX_CODE[:MATRIX_CODE.index("\n# now")]
W0 = np.random.default_rng(0).standard_normal((5, 10))  # the notes' W, X and dD: the code's
X1 = np.random.default_rng(1).standard_normal((10, 3))  # first, second and third random calls
DD2 = np.random.default_rng(2).standard_normal((5, 3))


@pytest.mark.parametrize("grad", [{"randn": [5, 3], "seed": 2}, DD2.tolist()],
                         ids=["random", "numbers"])
def test_the_staged_code_of_the_notes_matrix_multiply_passes_check_mode(client, grad):
    """POST /api/code's staged code (forward and backward), pasted into POST /api/backward-check,
    is right line by line, with the notes' dW = dD.dot(X.T) and dX = W.T.dot(dD): the given dD
    random (written by its seed) or as numbers (as the page sends it)."""
    r = client.post("/api/code", json={"expression": MATRIX_FORWARD, "grad": grad})
    assert r.status_code == 200, r.text
    source = r.json()["source"]
    r = client.post("/api/backward-check", json={"code": source})
    assert r.status_code == 200, (source, r.text)
    body = r.json()
    assert body["passed"] and [e["status"] for e in body["lines"]] == ["ok", "ok", "ok"], body
    assert [e["given"] for e in body["lines"]] == [True, False, False]
    np.testing.assert_allclose(body["gradients"]["W"]["got"], DD2 @ X1.T, rtol=1e-12)
    np.testing.assert_allclose(body["gradients"]["X"]["got"], W0.T @ DD2, rtol=1e-12)


@pytest.mark.parametrize("text", ["max(x, y) * 3", "min(x, y) * 3", "2 * (x * y + max(x, y))"])
@pytest.mark.parametrize(("x", "y"), [(4.0, 2.0), (2.0, 2.0)], ids=["wins", "tie"])
def test_the_staged_code_of_a_max_or_min_passes_check_mode(text, x, y):
    """A max's local gradient splits a tie in halves; the staged code writes the tie as the
    language does, (x >= y) * (x <= y), not x == y, so it reads back and is right."""
    c = trace(text, {"x": x, "y": y})
    source = c.code()["source"]
    assert "==" not in source
    r = backward_check(source)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), (source, r["lines"])
    for name in "xy":  # exact: the shares at a tie are halves
        assert r["gradients"][name]["got"] == float(c.gradients[name])
    h = 1e-6  # away from the tie, against central differences
    if x != y:
        for name in "xy":
            up, down = (trace(text, {"x": x, "y": y, name: v + s}).value
                        for v in [{"x": x, "y": y}[name]] for s in (h, -h))
            assert r["gradients"][name]["got"] == pytest.approx((up - down) / (2 * h), rel=1e-6)


@pytest.mark.parametrize(("text", "values", "grads"), [
    # the output a matrix: the staged backward pass starts from dD = np.ones_like(D)
    ("D = W.dot(X)", {"W": W0[:2, :3], "X": X1[:3, :2]},
     {"W": np.ones((2, 2)) @ X1[:3, :2].T, "X": W0[:2, :3].T @ np.ones((2, 2))}),
    # a sum's local gradient: dW = (np.ones_like(W)) * df
    ("f = sum(W * 3)", {"W": W0[:2, :3]}, {"W": np.full((2, 3), 3.0)}),
    # and a scalar input that gets nothing through its product with 0
    ("f = sum(W) + 0 * c", {"W": [[1.0, 2.0]], "c": 2.0}, {"W": np.ones((1, 2)), "c": 0.0}),
])
def test_the_staged_code_starting_from_ones_passes_check_mode(text, values, grads):
    """np.ones_like(x) (a tensor output's gradient, a sum's local gradient) reads in the
    language, so the staged code of such a circuit is judged, and right."""
    source = trace(text, values).code()["source"]
    assert "np.ones_like(" in source
    r = backward_check(source)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), (source, r["lines"])
    for name, want in grads.items():
        np.testing.assert_allclose(r["gradients"][name]["got"], want, rtol=1e-12)


def test_ones_and_zeros_of_a_shape_send_no_gradient_back():
    c = trace("f = sum(ones_like(x) * x + np.zeros_like(x) + np.ones_like(x))",
              {"x": [2.0, -1.0]})
    assert c.value == 3.0
    np.testing.assert_array_equal(c.gradients["x"], [1.0, 1.0])  # through the product's x only
    assert c.check()["passed"]


def test_a_number_broadcast_over_a_tensor_is_staged_as_a_sum_and_passes_check_mode():
    """A scalar weight and bias over a vector: their gradients are sums, which the staged code
    writes np.sum(...) (no helper function), so it reads back and is right."""
    x = [0.5, -1.0, 2.0]
    source = trace("f = sum(w * x + b)", {"w": 3.0, "x": x, "b": -1.0}).code()["source"]
    assert "unbroadcast" not in source and re.search(r"^db = np\.sum\(", source, re.M), source
    r = backward_check(source)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), (source, r["lines"])
    assert r["gradients"]["w"]["got"] == pytest.approx(sum(x), rel=1e-12)
    assert r["gradients"]["b"]["got"] == 3.0
    np.testing.assert_array_equal(r["gradients"]["x"]["got"], [3.0, 3.0, 3.0])


# --- the engine's staged code of every preset and every gate, pasted back into check mode ------

# What the staged code writes that the language does not read yet: such code is refused with a
# position (never judged wrong), and the case passes as that refusal. Each entry is a known gap;
# fixing one makes its cases fail here until the entry is removed.
GAPS = {
    r"^def ": "helper functions the staged code defines (unbroadcast over a tensor's axes, "
              "softmax_ce's _softmax_minus_onehot and _rows, pow's _log_or_0)",
    r"np\.where\(": "np.where(...) in leaky_relu and elu",
    r"np\.logaddexp\(": "softplus's forward np.logaddexp(0, x)",
    r"np\.sign\(": "abs's local gradient np.sign(x)",
    r"np\.outer\(": "np.outer(...) in the gradient of a product with a vector",
}


def staged_code_gaps(c: Circuit) -> list[str]:
    """c's staged code (forward and backward) is judged right line by line, with the engine's
    gradients; or, where it writes something of GAPS, refused at one: those gaps."""
    return source_gaps(c.code()["source"], c.gradients)


def source_gaps(source: str, gradients: dict) -> list[str]:
    gaps = [why for pattern, why in GAPS.items() if re.search(pattern, source, re.M)]
    if gaps:
        with pytest.raises(ExpressionError) as e:
            backward_check(source)
        start, end = e.value.start, e.value.end
        assert start is not None, e.value
        # the refusal is at a gap: its span covers, or starts within, text of a pattern found
        at = [m.span() for pattern in GAPS for m in re.finditer(pattern, source, re.M)]
        assert any(start <= a < max(end, start + 1) or a <= start < b for a, b in at), (
            e.value, source[start:end], source)
        return gaps
    r = backward_check(source)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), (source, r["lines"])
    for name, g in gradients.items():
        if g is not None:
            np.testing.assert_allclose(r["gradients"][name]["got"], g, rtol=1e-9, atol=1e-12)
    return []


def test_a_gap_refused_elsewhere_than_at_the_gap_does_not_pass_as_the_gap():
    """abs's staged code writes np.sign (a gap): refused there, it passes as that gap; a mistake
    above it, refused first, is no gap and fails the case."""
    g = Graph()
    g.gate("sum", (g.gate("abs", (g.input("a0", [1.0, -2.0]),)),))
    c = Circuit("", g, {})
    source = c.code()["source"]
    assert source_gaps(source, c.gradients) == [GAPS[r"np\.sign\("]]
    broken = changed(source, "# forward pass\n", "# forward pass\nq = a0 +* 1\n")
    with pytest.raises(AssertionError):
        source_gaps(broken, c.gradients)


@pytest.mark.parametrize("expand", [False, True])
@pytest.mark.parametrize("preset", PRESETS, ids=[p["id"] for p in PRESETS])
def test_the_staged_code_of_every_preset_passes_check_mode(preset, expand):
    staged_code_gaps(trace(drawn(preset), preset["values"], expand=expand))


@pytest.mark.parametrize("op, xs, attrs", [
    pytest.param(op, xs, attrs, id=f"{op}-{k}")
    for op, cases in CASES.items() for k, (xs, attrs) in enumerate(cases)])
def test_the_staged_code_of_every_gate_passes_check_mode(op, xs, attrs):
    """Each gate on numbers and on tensors (test_ops.CASES), summed to one output."""
    g = Graph()
    ins = [g.input(f"a{k}", x) for k, x in enumerate(xs)]
    g.gate("sum", (g.gate(op, ins, **attrs),))
    staged_code_gaps(Circuit("", g, {}))


vectors = st.fixed_dictionaries({n: st.lists(st.floats(-2, 2, allow_nan=False).map(
    lambda v: round(v, 3)), min_size=3, max_size=3) for n in NAMES})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), vectors)
def test_generated_staged_code_of_vectors_passes_check_mode(text, vals):
    """The random programs of test_properties on vectors x, y, z, summed to one output."""
    c = trace(text + "\nout = sum(f)", vals)
    assume(not any(n.kind == "gate" and n.op == "relu" and np.any(c.vals[n.inputs[0].index] == 0)
                   for n in c.graph.nodes))  # relu read back as max: a tie at 0 (see above)
    assume(not staged_code_gaps(c))


NEURON_STAGED = trace(NEURON.replace("1.0 / (1 + math.exp(-dot))", "sigmoid(dot)")).code()["source"]


def test_the_staged_code_adds_a_picked_elements_gradient_in_place_and_passes():
    """dw = np.zeros_like(w), then dw[2] += dpick8 for each element picked: the notes' way of
    sending a gradient back through w[2], read back by check mode and right."""
    assert "dw = np.zeros_like(w)" in NEURON_STAGED and "dw[2] += dpick8" in NEURON_STAGED
    r = backward_check(NEURON_STAGED)
    assert r["passed"] and all(e["status"] == "ok" for e in r["lines"]), r["lines"]
    # the notes' numbers: ddot = 0.1966 (f = 0.7311), dw = x * ddot and 1 * ddot, dx = w * ddot
    ddot = (1 - 1 / (1 + math.exp(-1))) / (1 + math.exp(-1))
    np.testing.assert_allclose(r["gradients"]["w"]["got"], [-ddot, -2 * ddot, ddot], rtol=1e-12)
    np.testing.assert_allclose(r["gradients"]["x"]["got"], [2 * ddot, -3 * ddot], rtol=1e-12)


def test_a_picked_elements_gradient_added_into_the_wrong_element_is_wrong_at_its_line():
    code = changed(NEURON_STAGED, "dw[2] += dpick8", "dw[1] += dpick8")
    r = backward_check(code)
    line = line_of(code, "dw[1] += dpick8")
    assert not r["passed"] and r["first_wrong"] == line
    assert the_line(r, line)["message"].startswith("dw[1] should get 0 from this line, but it "
                                                   "gives 0.1966")
    code = changed(NEURON_STAGED, "dw = np.zeros_like(w)", "dw = np.zeros_like(w)\ndw[0] += 1.0")
    assert backward_check(code)["first_wrong"] == line_of(code, "dw[0] += 1.0")


@pytest.mark.parametrize(("new", "fragment", "message", "hint"), [
    ("dw[2] = dpick8", "dw[2]", "an element of a gradient is added to, with +=",
     "start dw = np.zeros_like(w) and add into it: dw[2] += ..."),
    ("dw[5] += dpick8", "dw[5] += dpick8", "dw[5] is out of range: dw has w's shape 3",
     "an index counts from 0 along each axis, or from -1 back from its end"),
    ("dw[1, 0] += dpick8", "dw[1, 0] += dpick8", "dw[1, 0] is out of range: dw has w's shape 3",
     "an index counts from 0 along each axis, or from -1 back from its end"),
    # x has shape 2: dpick8 * x is two numbers, added into the one number dw[2]
    ("dw[2] += dpick8 * x", "dw[2] += dpick8 * x",
     "dw[2] is a scalar, but the right side has shape 2", "dw has w's shape 3"),
    ("dw[2.5] += dpick8", "2.5", "an index must be a whole-number literal, like 0 or -1",
     "write dw[0] += ..."),
    ("dw[x] += dpick8", "x", "an index must be a whole-number literal, like 0 or -1",
     "write dw[0] += ..."),
    # an element of a forward variable, in the backward pass and in the forward pass
    ("dw[2] += dpick8\nx[0] = 3", "x[0]", "'x[0] =' changes a forward variable: the backward "
     "pass assigns only gradients d<name>", None),
    ("dw[2] += dpick8\nx[0] += 3", "x[0]", "'x[0] +=' changes a forward variable: give each "
     "stage its own name", None),
])
def test_an_elements_gradient_written_otherwise_is_refused_where_it_is(new, fragment, message,
                                                                       hint):
    e = raises_at(changed(NEURON_STAGED, "dw[2] += dpick8", new), fragment)
    assert (e.message, e.hint) == (message, hint)


def test_an_element_assigned_in_the_forward_pass_is_refused_as_lines_there_assign_whole_variables():
    code = changed(NEURON_STAGED, "pick1 = w[0]  ", "w[0] = 1.0\npick1 = w[0]")
    e = raises_at(code, "w[0]")
    assert (e.message, e.hint) == ("w[0] = ... assigns one element: each line of the forward "
                                   "pass assigns a whole variable",
                                   "write w whole, as w = np.array([...])")


def test_a_wrong_gradient_of_a_picked_element_is_explained_not_a_server_error(client):
    """The local gradient of p = w[1] is no formula of symbols (it picks an element): a wrong
    line is told by its numbers, where the checker failed before."""
    code = "w = [2.0, 3.0]\np = w[1]\nf = p * 2\ndp = 2.0\ndw = [0, 3 * dp]"
    r = client.post("/api/backward-check", json={"code": code})
    assert r.status_code == 200, r.text
    assert the_line(r.json(), 5)["message"] == ("dw[1] should get 2 from this line, but it gives "
                                                "6: every element it gives is 3 times too large.")


def test_the_staged_code_of_a_two_layer_network_passes_check_mode(client):
    """mse(relu(X @ W1) @ W2, Y) on random inputs: the staged code (its inputs written by their
    seeds, a mean's gradient divided by the number) pasted into check mode is right line by line,
    with the gradients worked out by hand in numpy."""
    rng = {n: {"randn": s, "seed": k} for k, (n, s) in enumerate(
        [("X", [4, 3]), ("W1", [3, 5]), ("W2", [5, 2]), ("Y", [4, 2])])}
    r = client.post("/api/code", json={"expression": "mse(relu(X @ W1) @ W2, Y)", "values": rng})
    source = r.json()["source"]
    assert "X = np.random.default_rng(0).standard_normal([4, 3])" in source
    r = client.post("/api/backward-check", json={"code": source})
    assert r.status_code == 200, (source, r.text)
    body = r.json()
    assert body["passed"] and all(e["status"] == "ok" for e in body["lines"]), body["lines"]
    X, W1, W2, Y = (np.random.default_rng(v["seed"]).standard_normal(v["randn"])
                    for v in rng.values())
    H = X @ W1
    A = np.maximum(H, 0)
    dP = 2 * (A @ W2 - Y) / Y.size
    dH = (dP @ W2.T) * (H > 0)
    want = {"X": dH @ W1.T, "W1": X.T @ dH, "W2": A.T @ dP, "Y": -dP}
    for name, g in want.items():
        np.testing.assert_allclose(body["gradients"][name]["got"], g, rtol=1e-9)


@pytest.mark.parametrize("x", ["_x", "rows", "x"])
def test_a_line_reading_a_name_beside_its_gradients_name_is_judged(x):
    # `d_x = d_x + _x * 1.0` once read as an error about the stand-in names used to parse it
    # ("double underscores", "a name the generated Python code needs")
    code = f"{x} = 3.0\nf = {x} * {x}\nd{x} = {x} * 1.0\nd{x} = d{x} + {x} * 1.0\n"
    out = backward_check(code)
    assert out["passed"], out
    assert out["gradients"][x]["got"] == out["gradients"][x]["expected"] == 6.0


def test_the_expected_numbers_are_the_same_in_every_process():
    # the shares a line should hold are added in one order (a set's order changes with the
    # process's hash seed, and with it the last digit of a sum)
    import subprocess
    import sys

    script = ("import engine; from engine.presets import STAGED_CODE; "
              "print([l['expected'] for l in engine.backward_check(STAGED_CODE)['lines']])")
    outs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
            for seed in range(1, 9)}
    assert len(outs) == 1, outs
