"""The graph: forks accumulate, traversal is iterative, and odd situations are reported."""

from __future__ import annotations

import numpy as np
import pytest

from engine import ExpressionError, Limits, backward_check, trace
from engine.circuit import Circuit
from engine.graph import Graph
from engine.ops import GATES


def test_reused_node_accumulates_gradient():
    # micrograd's classic bug: b = a + a; c = b + b must give dc/da = 4
    c = trace("b = a + a; c = b + b", {"a": 3})
    assert float(c.value) == 12.0
    assert float(c.gradients["a"]) == 4.0


def test_same_input_twice_in_one_gate():
    assert float(trace("x * x", {"x": 3}).gradients["x"]) == 6.0


def test_forks_add_up_across_branches():
    # x feeds three gates: d/dx (x*y + sin(x) + x) = y + cos(x) + 1
    c = trace("x*y + sin(x) + x", {"x": 0.5, "y": 2})
    assert float(c.gradients["x"]) == pytest.approx(2 + np.cos(0.5) + 1, rel=1e-15)


def test_fork_through_an_assigned_name():
    c = trace("q = x + y; f = q * q + q", {"x": 1, "y": 2})
    assert float(c.gradients["x"]) == 2 * 3 + 1


def _chain(n: int) -> Graph:
    g = Graph()
    node = g.input("x", 0.5)
    for _ in range(n):
        node = g.gate("addc", (node,), c=1.0)
    return g


def test_long_chain_has_no_recursion_limit():
    g = _chain(100_000)
    c = Circuit("", g, {})
    assert float(c.value) == 100_000.5
    assert float(c.gradients["x"]) == 1.0
    assert len(g.topo()) == 100_001
    assert len(g.rebuilt(expand=True).nodes) == 100_001


def test_non_scalar_output_backpropagates_ones_with_a_warning():
    c = trace("x * 2", {"x": [1, 2, 3]})
    assert c.gradients["x"].tolist() == [2.0, 2.0, 2.0]
    assert any("shape 3" in w and "ones" in w for w in c.warnings)


def test_scalar_output_gives_no_warning():
    assert trace("x * 2", {"x": 1}).warnings == []


def test_missing_values_are_named_all_at_once():
    with pytest.raises(ExpressionError) as err:
        trace("x * y + z", {"y": 1})
    assert "x" in err.value.message and "z" in err.value.message
    assert err.value.missing == ["x", "z"]
    assert err.value.start is not None


@pytest.mark.parametrize("expr, values, what", [
    ("1 / x", {"x": 0}, "infinite"),
    ("log(x)", {"x": -1}, "NaN"),
    ("exp(x)", {"x": 1000}, "infinite"),
])
def test_nonfinite_values_warn_and_name_the_gate(expr, values, what):
    c = trace(expr, values)
    assert not np.isfinite(c.value)
    assert any(what in w and "gate" in w for w in c.warnings), c.warnings


def test_nonfinite_warning_names_the_assigned_name():
    c = trace("a = x - x; b = 1 / a; f = b * 2", {"x": 1})
    first = [w for w in c.warnings if "produced" in w]
    assert first == ["the 1/x gate (b) produced an infinite value"]  # where it first appears


def test_nonfinite_warning_speaks_of_the_gate_not_its_internal_id():
    c = trace("x / (y - y)", {"x": 1, "y": 1})
    assert c.warnings[0] == "the / gate at column 1 produced an infinite value"


def test_nonfinite_warning_says_where_an_unnamed_gate_is():
    c = trace("log(x) + log(y)", {"x": 2, "y": -1})
    assert c.warnings == ["the log gate at column 10 produced NaN"]
    c = trace("a = 1\nb = log(x) + log(y)", {"x": -1, "y": 2})
    assert c.warnings == ["the log gate at line 2, column 5 produced NaN"]


@pytest.mark.parametrize("expr, values, said", [
    ("x*2", {"x": float("nan")}, ["input x holds NaN"]),
    ("sum(x)", {"x": [1, float("nan")]}, ["input x holds NaN"]),
    ("sum(x)", {"x": np.array([1, -np.inf], dtype=np.float32)},
     ["input x holds an infinite value"]),
    # an infinity in, and a gate that makes a NaN of it: both named, not the gates after
    ("0*x + 1", {"x": float("inf")},
     ["input x holds an infinite value", "the *0 gate at column 1 produced NaN"]),
    ("y = x * 2; z = y - y; f = z * 3", {"x": float("inf")},
     ["input x holds an infinite value", "the - gate (z) produced NaN"]),
    ("log(x)", {"x": [0.0, -1.0]}, [
        "the output has shape 2: the backward pass starts from ones (the gradient of the sum "
        "of its elements)", "the log gate at column 1 produced NaN and an infinite value"]),
])
def test_nonfinite_warnings_name_the_input_or_gate_that_first_made_each_kind(expr, values,
                                                                              said):
    assert [w for w in trace(expr, values).warnings if "gradient on" not in w] == said


def test_backward_check_names_a_nonfinite_input_in_the_same_words():
    said = backward_check("f = x * 2\ndf = 1\ndx = 2 * df", {"x": float("nan")})["warnings"]
    assert "input x holds NaN" in said


def test_to_dict_is_strict_json():
    import json

    d = trace("1 / x", {"x": 0}).to_dict()
    json.loads(json.dumps(d, allow_nan=False))
    assert d["value"] == "Infinity"


def test_unused_input_gets_zero_gradient():
    g = Graph()
    x = g.input("x", 2.0)
    g.input("y", 5.0)
    g.gate("mul", (x, x))
    c = Circuit("", g, {})
    assert float(c.gradients["y"]) == 0.0 and float(c.gradients["x"]) == 4.0


def test_gate_off_the_path_to_the_output_sends_no_gradient():
    # exp(1000 x) is inf, and its gradient would be inf * 0 = NaN if it were backpropagated
    g = Graph()
    x = g.input("x", 2.0)
    dead = g.gate("exp", (g.gate("scale", (x,), a=1000.0),))
    g.gate("scale", (x,), a=3.0)
    c = Circuit("", g, {})
    assert float(c.gradients["x"]) == 3.0 and float(c.grads[dead.index]) == 0.0


@pytest.mark.parametrize("limits", [Limits(), None])
@pytest.mark.parametrize("shape", [[10**10, 10**10], [2**62, 4], [10**30]])
def test_huge_random_shape_is_a_clear_error(shape, limits):
    with pytest.raises(ExpressionError) as err:
        trace("sum(w)", {"w": {"randn": shape}}, limits=limits)
    assert err.value.message.startswith("w: ")
    assert "more than the limit" in err.value.message if limits else "memory" in err.value.message


def test_label_input_takes_no_gradient():
    c = trace("softmax_ce(z, y)", {"z": [[1, 2, 3]], "y": [0]})
    assert c.gradients["y"] is None
    assert c.to_dict()["gradients"]["y"] is None


@pytest.mark.parametrize("z, y, message", [
    ([[1, 2, 3]], [3], "labels must be whole numbers from 0 to 2"),
    ([[1, 2, 3]], [0.5], "labels must be whole numbers from 0 to 2"),
    ([[1, 2, 3]], [-1], "labels must be whole numbers from 0 to 2"),
    ([[1, 2, 3]], [float("nan")], "labels must be whole numbers from 0 to 2"),
    ([[1, 2, 3]], [0, 1], "one label per row of logits: logits are 1×3, labels are 2"),
])
def test_softmax_ce_with_labels_that_do_not_fit_says_why(z, y, message):
    with pytest.raises(ExpressionError) as err:
        trace("f = softmax_ce(z, y)", {"z": z, "y": y})
    assert message in err.value.message
    assert (err.value.start, err.value.end) == (4, 20)


def test_local_derivatives_of_a_scalar_gate():
    c = trace("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})
    by_name = {n.name: n for n in c.nodes}
    locals_ = c.graph.locals(c.vals)
    assert locals_[by_name["f"].index] == [-4.0, 3.0]
    assert locals_[by_name["q"].index] == [1.0, 1.0]


@pytest.mark.parametrize("expr, values", [
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}),
    ("1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
    ("log(x) + sqrt(x) + 1/x + x**0.5", {"x": 0}),  # math raises here: numpy's inf and nan
    ("exp(x) * tanh(x) + abs(x) + max(x, y)", {"x": 800, "y": 800}),
])
def test_locals_on_floats_match_each_gate_on_numpy(expr, values):
    # Graph.locals runs math on Python floats (numpy where math raises); the gate table's vjp
    # on numpy float64 scalars with an upstream gradient of 1 is the reference
    c = trace(expr, values)
    fast = c.graph.locals(c.vals)
    for node in c.nodes:
        if node.kind != "gate":
            assert fast[node.index] is None
            continue
        with np.errstate(all="ignore"):
            slow = GATES[node.op].vjp(np.float64(1.0), np.float64(c.vals[node.index]),
                                      *[np.float64(c.vals[i.index]) for i in node.inputs],
                                      **node.attrs)
        np.testing.assert_allclose(fast[node.index], [float(p) for p in slow], rtol=1e-14, atol=0)


def test_locals_of_a_tensor_circuit_are_none_for_tensor_gates():
    c = trace("p = w * x; s = sum(p); s * k", {"w": [1, 2], "x": [3, 4], "k": 2})
    by_name = {n.name: n for n in c.nodes}
    locals_ = c.graph.locals(c.vals)
    assert locals_[by_name["p"].index] is None  # elementwise on vectors: no single number
    assert locals_[by_name["s"].index] is None
    assert locals_[c.graph.output.index] == [2.0, 11.0]  # d(s*k)/ds = k, d/dk = s = 3 + 8


@pytest.mark.parametrize("expr, values, message", [
    ("w[3] * 2", {"w": [1, 2, 3]}, "out of range"),
    ("w[-4] * 2", {"w": [1, 2, 3]}, "out of range"),
    ("w[0] * 2", {"w": 5}, "index"),
])
def test_a_bad_index_is_an_error_at_the_index(expr, values, message):
    with pytest.raises(ExpressionError) as err:
        trace(expr, values)
    assert message in err.value.message
    assert (err.value.start, err.value.end) == (0, expr.index("]") + 1)


def test_backward_for_some_inputs_skips_the_others():
    c = trace("t = 2 * u; sum(relu(X @ W) * v)",
              {"X": [[1.0, -2.0], [0.5, 3.0]], "W": [[1.0], [2.0]], "v": [1.0, -1.0], "u": 2.0})
    names = c.graph.inputs()
    grads = c.graph.backward(c.vals, wrt={"W"})
    np.testing.assert_allclose(grads[names["W"].index], c.gradients["W"])
    assert grads[names["X"].index] is None and grads[names["v"].index] is None
    unused = c.graph.backward(c.vals, wrt={"u"})  # no path to the output: zeros
    assert unused[names["u"].index] == 0.0


# --- comparisons: 1 where they hold, 0 elsewhere, and no gradient through them ----------------


def test_a_comparison_masks_as_the_notes_relu_backward_does():
    c = trace("f = sum((x > 0) * g)", {"x": [-1.5, 0.7, 2.0], "g": [1, 2, 3]})
    assert float(c.value) == 5.0
    assert c.gradients["g"].tolist() == [0.0, 1.0, 1.0]
    # an input used only inside a comparison: its gradient is 0, as central differences find
    assert c.gradients["x"].tolist() == [0.0, 0.0, 0.0]
    r = c.check()
    assert r["passed"] and r["inputs"]["x"]["numeric"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("expr", "values"), [
    ("(a + b >= c) * a * c", {"a": 1.5, "b": -0.5, "c": 0.25}),
    ("(a + b >= c) * a * c", {"a": 1.5, "b": -2.5, "c": 0.25}),
    ("sum((A < b) * A ** 2 + (b <= 1) * b)", {"A": [[1, -2, 3], [0.5, 4, -1]],
                                              "b": [0.75, 2, 3.5]}),
    ("(x > y) * x + (x < y) * y", {"x": 2.0, "y": -3.0}),
])
def test_comparisons_values_and_gradients_against_central_differences(expr, values):
    c = trace(expr, values)
    r = c.check()
    assert r["passed"] and not any(i["kink"] for i in r["inputs"].values()), r


def test_a_limit_of_one_number_is_said_in_the_singular():
    g = Graph()
    g.gate("scale", [g.input("x")], a=2.0)
    with pytest.raises(ExpressionError, match="holds more than 1 number in all$"):
        g.forward({"x": 1.0}, Limits(max_elements=1))


def test_a_traced_graph_pickles_and_its_copy_traces_the_same():
    # a graph goes to and from worker processes after it has been traced there (its plans hold
    # the gates' functions, which do not pickle)
    import pickle

    text = "y = (W @ V).sum() + relu(a) * sigmoid(a)"
    values = {"W": np.eye(2), "V": np.ones((2, 2)), "a": 0.5}
    first = trace(text, values)
    copy = pickle.loads(pickle.dumps(first.graph))
    again = Circuit(text, copy, values)
    assert again.value == first.value
    assert [np.asarray(again.gradients[k]).tolist() for k in "WVa"] == \
        [np.asarray(first.gradients[k]).tolist() for k in "WVa"]
