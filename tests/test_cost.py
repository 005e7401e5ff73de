"""The cost model: every node's shape known before any work, and the budgets it enforces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import ExpressionError, Limits, trace
from engine.circuit import compile_text
from engine.cost import Budget, check_response, estimate, shape_of

PROGRAMS = [
    # gates whose constants are long numbers: in each node's label and its attrs
    ("f = x\n" + "f = clip(f, -1.2345678901234567, 2.3456789012345678)\n" * 150, {"x": 0.5}),
    ("x" + " * 1.2345678901234567" * 150, {"x": 0.5}),
    ("A + b", {"A": [[1, 2, 3], [4, 5, 6]], "b": [1, 2, 3]}),
    ("sum(a * B)", {"a": [[1], [2]], "B": [[1, 2, 3]]}),
    ("W @ x", {"W": {"randn": [3, 4]}, "x": [1, 2, 3, 4]}),
    ("x @ W", {"W": {"randn": [4, 5]}, "x": [1, 2, 3, 4]}),
    ("x @ x", {"x": [1, 2, 3]}),
    ("sum(S @ W)", {"S": {"randn": [2, 3, 4]}, "W": {"randn": [4, 5]}}),
    ("sum(S.T @ W)", {"S": {"randn": [2, 4, 3]}, "W": {"randn": [2, 4, 5]}}),
    ("sum(relu(W.T @ x) ** 2)", {"W": {"randn": [4, 3]}, "x": [1, 2, 3, 4]}),
    ("W[1] * W[0, 2] + mean(W)", {"W": {"randn": [3, 4]}}),
    ("softmax_ce(Z, y)", {"Z": {"randn": [5, 3]}, "y": [0, 1, 2, 1, 0]}),
    ("q = x + y; f = sigmoid(q) * z", {"x": -2, "y": 5, "z": -4}),
    ("w = [2, -3, -3]; x = [-1, -2]\nf = tanh(w[0]*x[0] + w[1]*x[1] + w[2])", {}),
    ("max(x, 0.5) / exp(-x) - log(abs(x) + 1)", {"x": [[0.1, -2]]}),
    ("sum((A > b) * A + (b <= A) - (A >= 1) * (0 < b))", {"A": [[1, 2, 3], [4, 5, 6]],
                                                        "b": [[1], [5]]}),
    ("(x < y) * y", {"x": 1, "y": [2, 0]}),
]


@pytest.mark.parametrize(("text", "values"), PROGRAMS)
@pytest.mark.parametrize("expand", [False, True])
def test_estimated_shapes_are_the_shapes_the_passes_make(text, values, expand):
    circuit = trace(text, values, expand=expand)
    cost = estimate(circuit.graph, values)
    assert cost.shapes == [np.shape(v) for v in circuit.vals]
    assert cost.elements == sum(np.size(v) for v in circuit.vals)
    assert cost.gates == sum(n.kind == "gate" for n in circuit.nodes)


def test_the_response_estimate_is_not_below_the_response():
    import orjson

    for text, values in PROGRAMS:
        circuit = trace(text, values)
        size = len(orjson.dumps(circuit.to_dict()))
        assert size <= estimate(circuit.graph, values).response <= 4 * size + 2000, text


def test_every_gate_has_a_cost_rule():
    from engine.cost import RULES
    from engine.ops import GATES

    assert set(RULES) == set(GATES)


def test_shape_of_a_request_value():
    assert shape_of(3.5) == () and shape_of([[1, 2, 3], [4, 5, 6]]) == (2, 3)
    assert shape_of({"randn": [5, 10], "seed": 0}) == (5, 10) and shape_of([]) == (0,)


def refused(text: str, values: dict, budget: Budget | None = None, expand: bool = False) -> str:
    limits = Limits()
    graph = compile_text(text, expand, limits)
    with pytest.raises(ExpressionError) as info:
        check_response(estimate(graph, values, limits, budget or Budget()), budget or Budget())
    err = info.value
    return f"{err.message} @{err.start}:{err.end}"


def test_a_broadcast_that_would_allocate_gigabytes_is_refused_at_its_gate():
    # A + B of [800,1,800] and [1,800,1] is 512 million numbers: 4 GB before any check ran
    message = refused("sum(A + B)", {"A": {"randn": [800, 1, 800]},
                                     "B": {"randn": [1, 800, 1]}})
    assert "512,000,000" not in message  # the count is of the whole circuit at that gate
    assert "the + gate" in message and "800×800×800" in message and "1,000,000" in message
    assert message.endswith("@4:9")


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_a_loss_over_a_broadcast_of_gigabytes_is_refused_at_its_gate(loss):
    # one number out, but 400 million in between: [20000, 1] against [1, 20000]
    message = refused(f"f = {loss}(A, B)", {"A": {"randn": [20000, 1]},
                                            "B": {"randn": [1, 20000]}})
    assert "MB, more than the limit" in message and "20000×20000" in message
    assert message.endswith("@4:13")


def test_an_outer_product_over_the_element_limit_is_refused_at_its_gate():
    message = refused("A @ B", {"A": {"randn": [10000, 1]}, "B": {"randn": [1, 10000]}})
    assert "the @ gate" in message and "10000×10000" in message and message.endswith("@0:5")


def test_work_over_the_flop_budget_is_refused_at_the_gate_that_crosses_it():
    message = refused("sum(A @ B @ C)", {n: {"randn": [300, 300]} for n in "ABC"},
                      Budget(flops=10**8, response=10**9))
    assert "floating-point operations" in message and "1e+08" in message
    assert "the @ gate" in message and "300×300" in message and message.endswith("@4:9")


def test_a_response_over_the_cap_is_refused_before_any_work():
    message = refused("sum(log(W))", {"W": {"randn": [700, 700]}})
    assert "response would be about" in message and "4.0 MB" in message


def test_expanded_gates_count_against_the_gate_limit():
    text = "+".join(["tanh(x)"] * 1249)  # 2,497 gates as written, 9,992 expanded
    compile_text(text, False, Limits())  # within the limit as written
    message = refused(text, {"x": 1.0}, expand=True)
    assert "more than 5,000 gates" in message and "expanded" in message
    with pytest.raises(ExpressionError, match="more than 1 gate [(]an expanded"):
        estimate(compile_text("x*2*3"), {"x": 1.0}, limits=Limits(max_gates=1))


@pytest.mark.parametrize(("text", "values"), [
    ("x @ y", {"x": [1, 2], "y": [1, 2, 3]}),
    ("W @ x", {"W": {"randn": [2, 3]}, "x": [1, 2]}),
    ("x @ W", {"W": {"randn": [2, 3]}, "x": 2.0}),
    ("sum(W @ x)", {"W": {"randn": [2, 1, 3]}, "x": [1, 2, 3]}),
    ("sum(S @ W)", {"S": {"randn": [2, 3, 4]}, "W": {"randn": [3, 5]}}),
    ("mse(x, y)", {"x": [1, 2, 3], "y": [1, 2]}),
])
def test_a_shape_mismatch_is_found_before_any_work_in_the_forward_pass_words(text, values):
    message = refused(text, values)
    with pytest.raises(ExpressionError) as forward:
        trace(text, values)
    err = forward.value
    assert message == f"{err.message} @{err.start}:{err.end}" and "@" in message


def test_the_estimate_of_a_small_circuit_is_tiny_and_of_a_matmul_is_not():
    xyz = estimate(compile_text("(x + y) * z"), {"x": 1, "y": 2, "z": 3})
    assert xyz.scalar and xyz.seconds < 1e-3
    big = estimate(compile_text("sum(W @ V)"), {"W": {"randn": [100, 300]},
                                               "V": {"randn": [300, 100]}})
    assert not big.scalar and big.seconds > 1e-3
    assert big.flops == 6 * 100 * 100 * 300 + 2 * 100 * 100
    assert math.prod(big.shapes[2]) == 100 * 100
