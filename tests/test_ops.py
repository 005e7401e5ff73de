"""Every gate of the table against central differences, its conventions at kinks, its expansion,
and its numerical stability. A new gate is covered by adding its sample inputs to CASES."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine import backward_check, trace
from engine.circuit import Circuit
from engine.graph import Graph
from engine.ops import GATES, unbroadcast

R = np.random.default_rng(7)
POS = np.array([[0.5, 1.3, 2.0], [0.8, 1.7, 3.1]])  # positive, away from 0
MIX = np.array([[-1.5, 0.7, 2.2], [1.1, -0.4, -2.6]])  # both signs, away from 0 and each other

# op -> list of (inputs, attrs); scalar, tensor and broadcast cases, all away from kinks
CASES: dict[str, list[tuple[tuple, dict]]] = {
    "add": [((1.5, -2.0), {}), ((MIX, 0.3), {}), ((MIX, np.array([1.0, 2.0, 3.0])), {})],
    "sub": [((1.5, -2.0), {}), ((0.3, MIX), {}), ((MIX, MIX[:1]), {})],
    "mul": [((4.0, -3.0), {}), ((MIX, 2.5), {}), ((MIX, np.array([[2.0], [-1.0]])), {})],
    "div": [((1.5, -2.0), {}), ((MIX, POS), {}), ((2.0, POS), {})],
    "pow": [((1.7, 2.3), {}), ((POS, MIX), {}), ((POS, 1.5), {})],
    "max": [((4.0, 2.0), {}), ((MIX, 0.1), {}), ((MIX, -MIX * 0.5 + 0.05), {})],
    "min": [((4.0, 2.0), {}), ((MIX, 0.1), {})],
    "gt": [((1.5, -2.0), {}), ((MIX, 0.3), {}), ((MIX, np.array([1.0, 2.0, 3.0])), {})],
    "lt": [((1.5, -2.0), {}), ((0.3, MIX), {})],
    "ge": [((-2.0, 1.5), {}), ((MIX, np.array([[0.0], [1.0]])), {})],
    "le": [((1.5, -2.0), {}), ((MIX, -MIX * 0.5 + 0.05), {})],
    "neg": [((1.5,), {}), ((MIX,), {})],
    "recip": [((1.5,), {}), ((-MIX,), {})],
    "addc": [((1.5,), {"c": 1.0}), ((MIX,), {"c": -2.5})],
    "scale": [((1.5,), {"a": -1.0}), ((MIX,), {"a": 3.0})],
    "powc": [((1.5,), {"p": 2.0}), ((POS,), {"p": -1.5}), ((-1.5,), {"p": 3.0})],
    "exp": [((1.0,), {}), ((MIX,), {})],
    "log": [((1.5,), {}), ((POS,), {})],
    "sqrt": [((1.5,), {}), ((POS,), {})],
    "abs": [((-1.5,), {}), ((MIX,), {})],
    "sigmoid": [((1.0,), {}), ((MIX,), {}), ((-30.0,), {})],
    "tanh": [((0.5,), {}), ((MIX,), {})],
    "relu": [((1.5,), {}), ((MIX,), {})],
    "softplus": [((0.5,), {}), ((MIX,), {}), ((-30.0,), {})],
    "sin": [((0.5,), {}), ((MIX,), {})],
    "cos": [((0.5,), {}), ((MIX,), {})],
    "matmul": [((R.standard_normal((5, 10)), R.standard_normal((10, 3))), {}),
               ((R.standard_normal(4), R.standard_normal((4, 2))), {}),
               ((R.standard_normal((3, 4)), R.standard_normal(4)), {}),
               ((R.standard_normal(4), R.standard_normal(4)), {})],
    "square": [((1.5,), {}), ((MIX,), {})],
    "expm1": [((0.5,), {}), ((MIX,), {})],
    "log1p": [((0.5,), {}), ((POS,), {})],
    "leaky_relu": [((1.5,), {"a": 0.01}), ((MIX,), {"a": 0.2})],
    "elu": [((-0.5,), {"alpha": 1.0}), ((MIX,), {"alpha": 0.7})],
    "gelu": [((0.5,), {}), ((MIX,), {})],
    "softsign": [((-1.5,), {}), ((MIX,), {})],
    "clip": [((0.5,), {"lo": -1.0, "hi": 1.0}), ((MIX,), {"lo": -1.0, "hi": 1.0})],
    "mse": [((1.5, -2.0), {}), ((MIX, POS), {}), ((MIX, 0.5), {})],
    "bce": [((0.3, 1.0), {}), ((POS / 4, np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.2]])), {})],
    "sum": [((MIX,), {}), ((np.array([1.0, -2.0]),), {})],
    "ones_like": [((1.5,), {}), ((MIX,), {})],
    "zeros_like": [((1.5,), {}), ((MIX,), {})],
    "mean": [((MIX,), {}), ((np.array([1.0, -2.0]),), {})],
    "transpose": [((MIX,), {})],
    "index": [((np.array([2.0, -3.0, -3.0]),), {"index": 0}), ((MIX,), {"index": (1, 2)}),
              ((MIX,), {"index": 1})],
    "softmax_ce": [((R.standard_normal((4, 3)), np.array([0.0, 2.0, 1.0, 1.0])), {}),
                   ((np.array([1.0, -2.0, 0.5]), 2.0), {})],
}


def _cases() -> list:
    return [pytest.param(op, xs, attrs, id=f"{op}-{k}")
            for op, cases in CASES.items() for k, (xs, attrs) in enumerate(cases)]


def test_every_gate_has_sample_inputs():
    assert set(CASES) == set(GATES), "add sample inputs for each new gate to CASES"


def _out(gate, *xs, **attrs):
    """The gate's output (without the by-product a gate that keeps one gives with it)."""
    out = gate.forward(*xs, **attrs)
    return out[0] if gate.keeps else out


def _numeric(gate, xs, attrs, slot, g, h=1e-6):
    """d sum(g * gate(xs)) / d xs[slot], by central differences."""
    x = np.array(xs[slot], dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        for step, sign in ((h, 1), (-h, -1)):
            xp = x.copy()
            xp[i] += step
            args = list(xs)
            args[slot] = xp
            grad[i] += sign * np.sum(g * _out(gate, *args, **attrs))
    return grad / (2 * h)


@pytest.mark.parametrize("op, xs, attrs", _cases())
def test_gate_vjp_matches_central_differences(op, xs, attrs):
    gate = GATES[op]
    xs = tuple(np.asarray(x, dtype=float) for x in xs)
    out = np.asarray(_out(gate, *xs, **attrs), dtype=float)
    g = R.uniform(0.5, 1.5, out.shape)  # a non-trivial upstream gradient
    grads = gate.vjp(g, out, *xs, **attrs)
    assert len(grads) == gate.arity
    for slot, x in enumerate(xs):
        if slot in gate.nondiff:
            assert grads[slot] is None
            continue
        analytic = unbroadcast(np.asarray(grads[slot], dtype=float), x.shape)
        assert analytic.shape == x.shape
        np.testing.assert_allclose(analytic, _numeric(gate, xs, attrs, slot, g),
                                   rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("op", sorted(op for op, g in GATES.items() if g.expand))
def test_expansion_leaves_input_gradients_unchanged(op):
    for xs, attrs in CASES[op]:
        if any(np.max(np.abs(x)) > 10 for x in xs):
            continue  # far out only the grouped gate's stable form keeps full precision
        g = Graph()
        ins = [g.input(f"a{k}", x) for k, x in enumerate(xs)]
        g.gate("sum", (g.gate(op, ins, **attrs),))
        plain = Circuit("", g.rebuilt(), {})
        expanded_graph = g.rebuilt(expand=True)
        assert all(GATES[n.op].expand is None for n in expanded_graph.nodes if n.kind == "gate")
        expanded = Circuit("", expanded_graph, {})
        np.testing.assert_allclose(expanded.value, plain.value, rtol=1e-12)
        for name, grad in plain.gradients.items():
            np.testing.assert_allclose(expanded.gradients[name], grad, rtol=1e-12, atol=1e-15)


def test_sigmoid_expands_into_the_notes_gates():
    g = Graph()
    g.gate("sigmoid", (g.input("x", 1.0),))
    labels = [n.label for n in g.rebuilt(expand=True).nodes if n.kind == "gate"]
    assert labels == ["*-1", "exp", "+1", "1/x"]


# --- conventions at kinks and ties ---------------------------------------------------------


def test_relu_at_zero_passes_no_gradient():
    assert float(trace("relu(x)", {"x": 0}).gradients["x"]) == 0.0


@pytest.mark.parametrize("text", ["relu(x)", "relu(x) * y + relu(-x)", "relu(x - y) + sigmoid(x)",
                                  "relu(x) / (1 + y)"])
def test_expansion_keeps_the_gradients_at_relus_kink(text):
    plain, expanded = (trace(text, {"x": 0, "y": 0}, expand=e) for e in (False, True))
    assert len(expanded.nodes) > 1
    for name, grad in plain.gradients.items():
        assert float(expanded.gradients[name]) == float(grad), name


def test_abs_at_zero_passes_no_gradient():
    assert float(trace("abs(x)", {"x": 0}).gradients["x"]) == 0.0


@pytest.mark.parametrize("fn", ["max", "min"])
def test_tie_splits_gradient_evenly(fn):
    grads = trace(f"{fn}(x, y)", {"x": 2, "y": 2}).gradients
    assert (float(grads["x"]), float(grads["y"])) == (0.5, 0.5)


def test_max_gate_routes_gradient_to_larger_input():
    grads = trace("max(x, y)", {"x": 4, "y": 2}).gradients
    assert (float(grads["x"]), float(grads["y"])) == (1.0, 0.0)


def test_tensor_max_ties_split_per_element():
    grads = trace("sum(max(a, b))", {"a": [1, 2, 3], "b": [1, 0, 5]}).gradients
    assert grads["a"].tolist() == [0.5, 1.0, 0.0]
    assert grads["b"].tolist() == [0.5, 0.0, 1.0]


@pytest.mark.parametrize(("op", "compare"), [("gt", np.greater), ("lt", np.less),
                                               ("ge", np.greater_equal), ("le", np.less_equal)])
def test_a_comparison_is_1_where_it_holds_and_0_elsewhere_as_numpy(op, compare):
    gate = GATES[op]
    a, b = MIX, np.array([[0.7], [-2.6]])  # ties in some places, broadcast
    out = gate.forward(a, b)
    assert out.dtype == np.float64 and out.tolist() == compare(a, b).astype(float).tolist()
    assert gate.forward(a.astype(np.float32), 0.0).dtype == np.float32  # float32 stays float32
    assert gate.forward(1.0, 1.0) == float(compare(1.0, 1.0))
    assert type(gate.forward(1.0, 2.0)) is float
    assert gate.forward(np.nan, 0.0) == 0.0  # as numpy: a comparison with NaN is false
    assert [g.tolist() for g in gate.vjp(2 * np.ones_like(out), out, a, b)] == [
        np.zeros_like(a).tolist(), np.zeros_like(out).tolist()]


def test_a_comparisons_formula_is_the_indicator_and_its_derivative_0():
    assert GATES["gt"].formula == (r"\frac{\partial}{\partial a}\mathbb{I}(a > b) = 0,\quad "
                                   r"\frac{\partial}{\partial b}\mathbb{I}(a > b) = 0")
    assert [GATES[op].label for op in ("gt", "lt", "ge", "le")] == [">", "<", "≥", "≤"]


def test_max_and_mins_formula_writes_a_tie_as_an_equality_and_the_code_as_check_mode_reads():
    """The tie share is stated once: shown as 𝕀(a = b), written in the staged code as
    (a >= b) * (a <= b), which check mode reads (the language has no ==)."""
    tie = r"\mathbb{I}(a > b)+0.5\,\mathbb{I}(a = b)"
    assert GATES["max"].formula == (
        r"\frac{\partial}{\partial a}\max(a, b) = " + tie + r",\quad "
        r"\frac{\partial}{\partial b}\max(a, b) = \mathbb{I}(b > a)+0.5\,\mathbb{I}(b = a)")
    assert GATES["min"].formula.endswith(r"\min(a, b) = " + tie)
    source = trace("f = max(a, b)", {"a": 2.0, "b": 2.0}).code()["source"]
    assert "da = ((a > b) + 0.5 * ((a >= b) * (a <= b))) * df" in source
    assert backward_check(source)["passed"]


# --- numerical stability --------------------------------------------------------------------


@pytest.mark.parametrize("x", [-1000.0, 1000.0])
@pytest.mark.parametrize("fn", ["sigmoid", "softplus", "tanh"])
def test_squashing_gates_stay_finite_far_out(fn, x):
    c = trace(f"{fn}(x)", {"x": x})
    assert np.isfinite(c.value) and np.isfinite(c.gradients["x"])
    assert not c.warnings


def test_stable_values_far_out():
    assert float(trace("sigmoid(x)", {"x": -1000}).value) == 0.0
    assert float(trace("sigmoid(x)", {"x": 1000}).value) == 1.0
    assert float(trace("softplus(x)", {"x": 1000}).value) == 1000.0
    assert float(trace("softplus(x)", {"x": -1000}).value) == 0.0


def test_softmax_ce_stays_finite_on_huge_logits():
    c = trace("softmax_ce(z, y)", {"z": [[1000.0, -1000.0, 0.0]], "y": [1]})
    assert float(c.value) == pytest.approx(2000.0)
    np.testing.assert_allclose(c.gradients["z"], [[1.0, -1.0, 0.0]], atol=1e-12)
    assert c.gradients["y"] is None


@pytest.mark.parametrize("shape", [(4,), (7, 4), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_ce_backward_reads_the_forwards_softmax_to_the_bit(dtype, shape):
    # the passes keep the forward's softmax for the backward: the numbers are the staged
    # code's helpers' (which compute it again), bit for bit, in the inputs' own dtype
    from engine.fns import _rows, _softmax_minus_onehot, softmax_ce
    z = R.standard_normal(shape).astype(dtype) * 3
    labels = R.integers(0, 4, shape[:-1])
    g = Graph()
    loss = g.gate("softmax_ce", (g.input("z", z), g.input("y", labels.astype(float))))
    g.gate("scale", (loss,), a=2.5)  # an upstream gradient other than 1
    vals = g.forward()
    grads = g.backward(vals)
    assert vals[loss.index] == softmax_ce(z, labels)
    assert grads[0].dtype == dtype
    np.testing.assert_array_equal(grads[0], 2.5 * (_softmax_minus_onehot(z, labels) / _rows(z)))
    assert len(vals) == len(g.nodes) + 1  # the kept softmax follows the nodes' values
    assert len(trace("softmax_ce(z, y)", {"z": z, "y": labels}).vals) == 3


# --- one statement, two kinds of value: Python floats (math) against arrays (numpy) -----------

EDGES = [-1000.0, -2.5, -1.0, -0.0, 0.0, 1e-300, 0.5, 1.0, 3.0, 710.0, 1e200,
         np.inf, -np.inf, np.nan]
PAIRS = [(a, b) for a in (-2.0, -0.0, 0.0, 1.5, 1e200, np.inf, -np.inf, np.nan)
         for b in (-2.0, 0.0, 0.5, 1.5, 1e200, -np.inf, np.nan)]
ATTRS = {"addc": [{"c": 1.0}], "scale": [{"a": -2.0}],
         "powc": [{"p": 2.0}, {"p": -1.5}, {"p": 0.5}, {"p": 3.0}, {"p": -1.0}],
         "leaky_relu": [{"a": 0.01}], "elu": [{"alpha": 1.0}],
         "clip": [{"lo": -1.0, "hi": 2.0}, {"lo": 2.0, "hi": -1.0}]}  # lo above hi: numpy gives hi


def _scalar_vs_array_cases() -> list:
    cases = []
    for op, gate in GATES.items():
        if gate.linear is not None or op == "softmax_ce":
            continue  # tensor gates: a float input is no vector or matrix
        points = [(x,) for x in EDGES] if gate.arity == 1 else PAIRS
        cases += [pytest.param(op, xs, attrs, id=f"{op}-{xs}-{attrs}")
                  for attrs in ATTRS.get(op, [{}]) for xs in points]
    return cases


@pytest.mark.parametrize("op, xs, attrs", _scalar_vs_array_cases())
def test_scalar_form_agrees_with_numpy_row(op, xs, attrs):
    # the same gate on float inputs (Python floats and math) and on 1-element arrays (numpy):
    # the same value, gradients and warnings, inf and nan included, and no RuntimeWarning
    circuits = []
    for shape in ((), (1,)):
        g = Graph()
        ins = [g.input(f"a{k}", np.full(shape, x)) for k, x in enumerate(xs)]
        g.gate(op, ins, **attrs)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            circuits.append(Circuit("", g, {}))
    scalar, array = circuits
    assert type(scalar.value) is float and type(scalar.gradients["a0"]) is float
    # math and numpy's vectorized exp, log and tanh may differ in the last bits
    np.testing.assert_allclose(scalar.value, np.ravel(array.value)[0], rtol=1e-15, atol=1e-300)
    for name, grad in scalar.gradients.items():
        np.testing.assert_allclose(grad, array.gradients[name][0], rtol=1e-12, atol=1e-300)
    assert scalar.warnings == [w for w in array.warnings if "the output has shape" not in w]


# --- the table is the one list of gates ----------------------------------------------------------


def test_readme_lists_every_callable_gate():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    gates = readme[readme.index("- Gates:"):readme.index("`math.`, `np.` and `torch.` prefixes")]
    listed = set(re.findall(r"[a-z_0-9]+", " ".join(re.findall(r"`([^`]*)`", gates))))
    callable_names = {name for gate in GATES.values() for name in gate.calls}
    assert callable_names - listed == set(), "callable gates the README does not list"
    words = {w for w in listed if w.isidentifier() and w not in
             {"x", "a", "alpha", "lo", "hi", "pred", "target", "prob", "logits", "labels", "np",
              "w", "dot", "T"}}
    assert words - callable_names == set(), "names the README lists that no gate answers to"


@pytest.mark.parametrize("op", sorted(GATES))
def test_every_gate_has_a_formula_derived_from_its_row(op):
    formula = GATES[op].formula
    assert formula and "=" in formula and "Sym(" not in formula


def test_every_indicator_is_a_double_struck_i():
    """KaTeX draws \\mathbb{1} as a plain 1 (0.5 1(a = b) reads as 0.51): an indicator is 𝕀."""
    assert not [op for op, g in GATES.items() if r"\mathbb{1}" in g.formula]
    for op in ("relu", "clip", "index"):
        assert r"\mathbb{I}(" in GATES[op].formula
    assert GATES["clip"].formula.endswith(
        r"= \mathbb{I}(x \ge \mathrm{lo})\,\mathbb{I}(x \le \mathrm{hi})")
    assert GATES["index"].formula == r"\frac{\partial x_k}{\partial x_i} = \mathbb{I}(i = k)"
    assert r"\begin{cases} 1 & (x > 0)" in GATES["leaky_relu"].formula  # a case reads its test


def test_a_variable_times_itself_is_written_as_its_power():
    assert GATES["square"].formula == r"\frac{d}{dx}\left(x^{2}\right) = 2\,x"  # as powc's
    gelu = GATES["gelu"].formula
    assert r"0.044715\,x^{3}" in gelu and r"0.134145\,x^{2}" in gelu
    # the staged code keeps the products, whose numbers the gate's are
    assert "x * x * x" in trace("f = gelu(x)", {"x": 0.7}).code()["source"]
    repeated = re.compile(r"(?<![\\\w])([a-zA-Z])(\^\{\d+\})?\\,\1(?![\w^{])")
    assert not [op for op, g in GATES.items() if repeated.search(g.formula)]


def _italic_words(tex: str) -> list[str]:
    """Runs of two or more letters KaTeX would set as a product of italic letters: what is left
    of the TeX without its commands, the names they set upright and d/dx."""
    tex = re.sub(r"\\(mathrm|operatorname|text|mathbb|begin|end)\{[^}]*\}", "", tex)
    tex = re.sub(r"\\frac\{d\}\{d\w\}", "", tex)
    return re.findall(r"[a-zA-Z]{2,}", re.sub(r"\\[a-zA-Z]+", "", tex))


def test_no_formula_writes_a_name_as_a_product_of_italic_letters():
    assert _italic_words(r"\frac{\partial}{\partial pred}\operatorname{mean}(x)") == ["pred"]
    assert {op: _italic_words(g.formula) for op, g in GATES.items()
            if _italic_words(g.formula)} == {}
    assert GATES["mse"].formula.startswith(
        r"\frac{\partial}{\partial p}\operatorname{mean}(\left(p-t\right)^{2}) = ")


def test_a_fraction_over_a_fraction_is_written_on_one_level():
    assert GATES["bce"].formula.startswith(
        r"\frac{\partial}{\partial p}\left(-\operatorname{mean}(t\,\ln(p)+\left(1-t\right)\,"
        r"\ln(1-p))\right) = \frac{p-t}{n\,p\,\left(1-p\right)},\quad ")
    assert not [op for op, g in GATES.items() if re.search(r"\\frac\{\\frac", g.formula)]


def test_a_loss_target_broadcast_against_its_prediction_gets_its_full_gradient():
    # bce's local derivative for the target depends on the prediction only: a target of shape
    # (3, 2) against predictions of shape (2,) still gets a (3, 2) gradient, each its own share
    c = trace("bce(p, t)", {"p": [0.2, 0.7], "t": [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]})
    assert np.shape(c.gradients["t"]) == (3, 2)
    assert c.check()["passed"]
