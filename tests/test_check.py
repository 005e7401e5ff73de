"""The numerical gradient check: agreement, kinks, labels, sampling, strict JSON, and that it
catches a wrong gradient."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import ExpressionError, ops, trace
from engine.check import MAX_PER_INPUT
from engine.circuit import Circuit
from engine.graph import Graph


def test_check_agrees_on_the_compound_example():
    r = trace("(x + y) * z", {"x": -2, "y": 5, "z": -4}).check()
    assert r["passed"] and r["h"] == 1e-5
    assert set(r["inputs"]) == {"x", "y", "z"}
    for name, want in {"x": -4.0, "y": -4.0, "z": 3.0}.items():
        entry = r["inputs"][name]
        assert entry["analytic"] == want
        assert entry["numeric"] == pytest.approx(want, rel=1e-9)
        assert entry["rel_error"] < 1e-9 and entry["kink"] is False


def test_tensor_inputs_report_largest_elementwise_error():
    r = trace("sum(tanh(W @ x))", {"W": [[1, 2], [3, -1]], "x": [0.1, -0.2]}).check()
    w = r["inputs"]["W"]
    assert np.shape(w["numeric"]) == (2, 2) and np.shape(w["analytic"]) == (2, 2)
    errs = np.abs(np.subtract(w["analytic"], w["numeric"])) / np.abs(w["analytic"])
    assert w["rel_error"] == pytest.approx(errs.max(), rel=1e-6)


@pytest.mark.parametrize("expr, values, on_kink", [
    ("relu(x) + y", {"x": 0, "y": 1}, "x"),
    ("abs(x) * y", {"x": 0, "y": 2}, "x"),
    ("max(x, y)", {"x": 2, "y": 2}, "x"),
    ("relu(x)", {"x": 1e-6}, "x"),  # x - h and x + h fall on both sides of the kink
    ("(x > 0) * y", {"x": 0, "y": 1}, "x"),  # a comparison's step
    ("(x > 0) * y", {"x": 1e-6, "y": 1}, "x"),
    ("sum((x <= y) * 3)", {"x": [1, 2], "y": [1, 5]}, "y"),
])
def test_kink_is_reported_not_failed(expr, values, on_kink):
    r = trace(expr, values).check()
    assert r["inputs"][on_kink]["kink"] is True
    assert r["passed"]


@pytest.mark.parametrize("expr, value, why", [
    ("sqrt(x)", 0, "x is at the edge of the √ gate's domain, where the derivative is infinite: "
     "x - h leaves the domain"),
    ("log(x)", 0, "x is at the edge of the log gate's domain, where the derivative is infinite"),
    ("x ** 0.5", 0, "the edge of the **0.5 gate's domain"),
    ("sqrt(-x)", 0, "x + h leaves the domain"),
    ("sqrt(x)", 1e-7, "x is within h of the edge of the √ gate's domain: x - h leaves it"),
])
def test_an_input_at_the_edge_of_a_domain_is_explained_not_failed(expr, value, why):
    """sqrt at 0: x - h has no square root, so the numeric gradient is NaN; the analytic one is
    infinite, as the derivative is. Central differences cannot judge that, as at a kink."""
    entry = (r := trace(expr, {"x": value}).check())["inputs"]["x"]
    assert entry["edge"] is True and entry["kink"] is False
    assert why in entry["note"]
    assert entry["passed"] and r["passed"]


def test_outside_the_domain_is_a_failure_with_no_edge():
    r = trace("sqrt(x)", {"x": -1}).check()
    assert r["inputs"]["x"]["edge"] is False and r["inputs"]["x"]["note"] is None
    assert not r["passed"]


def test_kinks_are_explained_element_by_element():
    r = trace("sum(relu(w))", {"w": [1, 0, -1]}).check()
    w = r["inputs"]["w"]
    assert w["kink"] and w["passed"] and w["worst"] == [1]
    assert w["note"] == ("w[1] - h and w[1] + h fall on both sides of the relu gate's kink, "
                         "where its slope changes: central differences cannot check the "
                         "gradient there")


def test_a_kink_in_one_element_does_not_hide_a_wrong_gradient_in_another(monkeypatch):
    mul = ops.GATES["mul"]
    wrong = ops.Gate(**{**mul.__dict__, "d": (lambda a, b, out: b, lambda a, b, out: b)})
    monkeypatch.setitem(ops.GATES, "mul", wrong)
    g = Graph()
    x, y = g.input("x", [3.0, 3.0]), g.input("y", [0.0, 2.0])  # y[0] at relu's kink
    g.gate("sum", (g.gate("mul", (x, g.gate("relu", (y,)))),))
    r = Circuit("", g, {}).check()
    assert r["inputs"]["y"]["kink"] and r["inputs"]["y"]["worst"] == [0]
    assert not r["inputs"]["y"]["passed"] and not r["passed"]


def test_the_worst_element_is_named_by_its_index():
    r = trace("sum(W * W)", {"W": [[1, 2], [3, 4]]}).check(h=0.5)
    entry = r["inputs"]["W"]
    errs = np.abs(np.subtract(entry["analytic"], entry["numeric"])) / np.abs(entry["analytic"])
    assert entry["worst"] == list(np.unravel_index(np.argmax(errs), errs.shape))
    assert trace("x * 2", {"x": 1}).check()["inputs"]["x"]["worst"] == []


def test_input_away_from_the_kink_is_not_flagged():
    r = trace("relu(x) + y", {"x": 0, "y": 1}).check()
    assert r["inputs"]["y"]["kink"] is False
    assert r["inputs"]["y"]["rel_error"] < 1e-9
    assert trace("relu(x)", {"x": 0.5}).check()["inputs"]["x"]["kink"] is False


@pytest.mark.parametrize("expr", ["leaky_relu(x, 0.5)", "elu(x, 0.5)"])
def test_a_gates_constant_is_no_kink(expr):
    """leaky_relu's slope a and elu's α are constants of the gate, not points where it bends:
    x - h landing on one is checked as any other step (x ± h = 0.5, 1.0: both linear there)."""
    entry = trace(expr, {"x": 0.75}).check(h=0.25)["inputs"]["x"]
    assert entry["kink"] is False and entry["rel_error"] < 1e-12


def test_clips_bounds_are_kinks():
    entry = trace("clip(x, 0, 1)", {"x": 0.75}).check(h=0.25)["inputs"]["x"]
    assert entry["kink"] is True and entry["passed"]


def test_true_zero_gradient_passes():
    r = trace("max(x, y) * 1000", {"x": 4, "y": 2}).check()
    assert r["inputs"]["y"]["analytic"] == 0.0 and r["passed"]


@pytest.mark.parametrize("b", [-0.5, [[0.5, -0.5]]])
def test_a_true_zero_where_central_differences_curve_passes(b):
    """At b = -0.5, f = (2b(b + 0.5))**2 has slope 0, but its third derivative puts central
    differences off by -4h**2 (-4e-10 at h = 1e-5): more than round-off, and not a failure."""
    r = trace("s0 = b\ns0 *= 2\n(((b + 0.5) * s0) * ((b + 0.5) * s0))", {"b": b}).check()
    entry = r["inputs"]["b"]
    assert r["passed"] and entry["passed"] and entry["rel_error"] < 1e-6
    assert abs(np.ravel(entry["numeric"])[-1]) < 1e-12


@pytest.mark.parametrize("expr, value, numeric", [
    ("sqrt(x)", 1.5e-5, 138.2),  # x - 2h = -5e-6 leaves the domain: h's estimate stands
    ("log(x)", 1.5e-5, 80471.9),
    ("relu(x)", 5e-6, 0.75),  # a kink within h: reported with h's own estimate
])
def test_no_extrapolation_from_a_step_that_cannot_be_judged(expr, value, numeric):
    entry = trace(expr, {"x": value}).check()["inputs"]["x"]
    assert entry["numeric"] == pytest.approx(numeric, rel=1e-4), entry


def test_one_element_near_a_domain_edge_leaves_the_others_judged():
    entry = trace("sum(sqrt(x))", {"x": [1.5e-5, 1, 2]}).check()["inputs"]["x"]
    assert np.isfinite(entry["rel_error"]) and entry["worst"] == [0]
    assert all(np.isfinite(entry["numeric"]))


def test_labels_are_skipped():
    r = trace("softmax_ce(z, y)", {"z": [[1, 2, 3], [0, 1, 0]], "y": [2, 0]}).check()
    assert r["inputs"]["y"]["analytic"] is None and r["inputs"]["y"]["numeric"] is None
    assert r["inputs"]["z"]["rel_error"] < 1e-7 and r["passed"]


def test_big_tensors_are_sampled_and_say_so():
    r = trace("sum(W * W)", {"W": {"randn": [20, 30], "seed": 0}}).check()
    w = r["inputs"]["W"]
    assert w["size"] == 600 and w["checked"] == MAX_PER_INPUT
    numeric = np.array(w["numeric"], dtype=object)
    assert sum(v is not None for v in numeric.ravel()) == MAX_PER_INPUT
    assert r["passed"]


def test_result_is_strict_json():
    r = trace("log(x) * y", {"x": -1, "y": 2}).check()
    text = json.dumps(r, allow_nan=False)
    assert json.loads(text)["passed"] is False


def test_check_catches_a_wrong_gradient(monkeypatch):
    mul = ops.GATES["mul"]
    wrong = ops.Gate(**{**mul.__dict__, "d": (lambda a, b, out: b, lambda a, b, out: b)})
    monkeypatch.setitem(ops.GATES, "mul", wrong)
    # a fresh graph: parsed graphs are cached with their gate plan
    g = Graph()
    g.gate("mul", (g.input("x", 4.0), g.input("y", -3.0)))
    r = Circuit("", g, {}).check()
    assert not r["passed"]
    assert r["inputs"]["y"]["rel_error"] > 0.5 and r["inputs"]["x"]["rel_error"] < 1e-9


def test_check_is_of_the_output_weighted_by_the_given_gradient():
    """The notes' matrix multiply D = W.dot(X) with dD from above: backprop from dD and central
    differences of sum(dD * D) both give dW = dD.dot(X.T) and dX = W.T.dot(dD)."""
    rng = np.random.default_rng(3)
    W, X, dD = (rng.standard_normal(s) for s in ((5, 10), (10, 3), (5, 3)))
    r = trace("D = W.dot(X)", {"W": W, "X": X}, grad=dD).check()
    assert r["passed"]
    for name, want in {"W": dD @ X.T, "X": W.T @ dD}.items():
        entry = r["inputs"][name]
        assert entry["checked"] == want.size and entry["kink"] is False
        np.testing.assert_allclose(entry["analytic"], want, rtol=1e-12)
        np.testing.assert_allclose(entry["numeric"], want, rtol=1e-7)


@pytest.mark.parametrize("h", [0, -1e-5, 1e-11, 1e-320, 1.5, float("inf"), float("nan"), True,
                               "0.1"])
def test_bad_step_is_an_expression_error(h):
    with pytest.raises(ExpressionError, match="h must be a positive finite number from 1e-10 to 1"):
        trace("x", {"x": 1}).check(h=h)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("h", [1e-10, 1])
@pytest.mark.parametrize("expr, values", [
    ("exp(x)", {"x": 710}), ("x * y", {"x": 1e308, "y": 10}), ("1 / x", {"x": 0}),
    ("sum(w * w)", {"w": [1e200, 1.0]}),
])
def test_check_of_a_non_finite_circuit_is_quiet(h, expr, values):
    r = trace(expr, values).check(h=h)
    assert r["h"] == h and not r["passed"]
    json.dumps(r, allow_nan=False)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_local_derivative_that_overflows_on_its_unused_branch_is_checked():
    """elu's derivative at 800 is 1, from the branch for x > 0; e^800 on the other branch
    overflows a Python float."""
    r = trace("elu(x) * y", {"x": 800, "y": 3}).check()
    assert r["passed"]
    assert r["inputs"]["x"]["analytic"] == 3.0 and r["inputs"]["y"]["analytic"] == 800.0
    assert r["inputs"]["x"]["numeric"] == pytest.approx(3.0, rel=1e-6)
