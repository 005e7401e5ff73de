"""Random programs in the language, their gradients against central differences.

Hypothesis writes programs of a few statements over the inputs x, y, z (so wires fork and
assigned names are reused); every gradient must match central differences, the expanded circuit
must give the same gradients, and the staged code must reproduce them. Kinks (relu, abs, max,
min) are allowed: an input the check finds on a kink is judged by the subgradient convention
tests in test_ops.py instead."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from engine import ExpressionError, trace
from engine.check import PASS_RTOL

NAMES = ["x", "y", "z"]

# templates that keep values in a tame range whatever their operands are
UNARY = ["sin({})", "cos({})", "tanh({})", "sigmoid({})", "softplus({})", "relu({})",
         "abs({})", "-{}", "({})**2", "exp(sin({}))", "log(1 + ({})**2)", "sqrt(1 + ({})**2)",
         "2.5 * {}", "{} + 1", "1 / (2 + sin({}))", "gelu({})", "softsign({})",
         "leaky_relu({}, 0.1)", "elu({})", "log1p(square({}))", "expm1(sin({}))",
         "clip({}, -1, 1)"]
BINARY = ["{} + {}", "{} - {}", "{} * {}", "max({}, {})", "min({}, {})",
          "{} / (1.5 + cos({}))", "({})**2 * tanh({})", "mse({}, {})",
          "bce(sigmoid(2 * tanh({})), sigmoid({}))"]  # p in (0.1, 0.9): 1 - p keeps its digits


def expressions(names: list[str]) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(names) | st.sampled_from(["0.5", "2", "3.25"])

    def grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        unary = st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0].format(t[1]))
        binary = st.tuples(st.sampled_from(BINARY), children, children).map(
            lambda t: "(" + t[0].format(t[1], t[2]) + ")")
        return unary | binary

    return st.recursive(leaves, grow, max_leaves=8)


@st.composite
def programs(draw) -> str:
    names = list(NAMES)
    lines = []
    for k in range(draw(st.integers(0, 3))):
        lines.append(f"s{k} = {draw(expressions(names))}")
        names.append(f"s{k}")
    # the output uses every input, so each one gets a gradient from the expression
    lines.append(f"f = {draw(expressions(names))} + 0.1 * (x + y + z)")
    return "\n".join(lines)


values = st.fixed_dictionaries(
    {n: st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3)) for n in NAMES})


@settings(max_examples=150, deadline=None)
@given(programs(), values)
@example("s0 = (3.25 - x)\ns1 = (((0.5 + ((s0)**2 * tanh(2))))**2 * tanh(s0))\n"
         "f = softplus(s1) + 0.1 * (x + y + z)", {"x": -2.0, "y": 0.0, "z": 0.0})
def test_random_programs_match_central_differences(text, vals):
    c = trace(text, vals)
    assert np.isfinite(c.value)
    report = c.check()
    for name, entry in report["inputs"].items():
        if not entry["kink"]:
            assert entry["rel_error"] <= PASS_RTOL, (name, entry, text)

    # on a kink, the expanded circuit's values may differ in the last bit and a tie fall the
    # other way; test_ops.py compares the two at relu's kink
    # A composite's primitive gates may overflow where the composite does not (softplus(729)
    # is 729, its exp(729) is inf): the expanded circuit then says which gate did.
    expanded = trace(text, vals, expand=True)
    if not np.isfinite(expanded.value):
        assert any("produced" in w for w in expanded.warnings), (expanded.warnings, text)
    for name, grad in c.gradients.items():
        if report["inputs"][name]["kink"] or not np.isfinite(expanded.value):
            continue
        np.testing.assert_allclose(expanded.gradients[name], grad, rtol=1e-9, atol=1e-12)

    ns: dict = {}
    exec(c.code()["source"], ns)  # our own generated code (templates and numbers only)
    for name, grad in c.gradients.items():
        np.testing.assert_allclose(ns["d" + name], grad, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(expressions(["W", "v"]), st.integers(0, 2**16))
def test_random_tensor_expressions_match_central_differences(expr, seed):
    vals = {"W": {"randn": [3, 2], "seed": seed}, "v": {"randn": [2], "seed": seed + 1}}
    c = trace(f"sum(({expr}) * W) + sum(W @ v)", vals)  # v broadcasts against W's rows
    report = c.check()
    for name, entry in report["inputs"].items():
        if not entry["kink"]:
            assert entry["rel_error"] <= PASS_RTOL, (name, entry, expr)


# Programs over numbers, vectors and matrices, where shapes may not fit: indexing, methods,
# transposes, reductions and names assigned again.
MIXED = {"x": 0.7, "y": -1.3, "v": {"randn": [2], "seed": 1}, "W": {"randn": [3, 2], "seed": 2},
         "b": [[0.5, -0.5]]}
MIXED_UNARY = ["tanh({})", "sigmoid({})", "-{}", "({}).T", "transpose({})", "({})[0]",
               "({})[-1]", "({}).sum()", "mean({})", "({}) ** 2", "exp(sin({}))", "relu({})"]
MIXED_BINARY = ["({} + {})", "({} * {})", "({} - {})", "({} @ {})", "max({}, {})",
                "mse({}, {})", "({} / (2 + cos({})))"]


def mixed_expressions(names: list[str]) -> st.SearchStrategy[str]:
    def grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        unary = st.tuples(st.sampled_from(MIXED_UNARY), children).map(
            lambda t: t[0].format(t[1]))
        binary = st.tuples(st.sampled_from(MIXED_BINARY), children, children).map(
            lambda t: t[0].format(t[1], t[2]))
        return unary | binary

    return st.recursive(st.sampled_from([*names, "2", "0.5", "[1.0, -2.0]"]), grow, max_leaves=6)


@st.composite
def mixed_programs(draw) -> str:
    names, lines = list(MIXED), []
    for k in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from([f"s{k}", *names[len(MIXED):]]))
        op = "=" if target not in names else draw(st.sampled_from(["+=", "*="]))
        lines.append(f"{target} {op} {draw(mixed_expressions(names))}")
        names.append(target)
    return "\n".join([*lines, draw(mixed_expressions(names))])


@settings(max_examples=150, deadline=None)
@given(mixed_programs())
@example("s0 = b\ns0 *= 2\n(((b + 0.5) * s0) * ((b + 0.5) * s0))")  # a true 0 that curves
def test_programs_of_mixed_shapes_fail_at_a_place_or_get_checked_gradients(text):
    try:
        c = trace(text, MIXED)
    except ExpressionError as e:
        assert e.start is not None and 0 <= e.start <= e.end <= len(text), (e, text)
        return
    assume(all(np.all(np.isfinite(g)) for g in c.gradients.values()))
    report = c.check()
    for name, entry in report["inputs"].items():
        if not entry["kink"]:
            assert entry["rel_error"] <= PASS_RTOL, (name, entry, text)
    ns: dict = {}
    exec(c.code()["source"], ns)  # our own generated code (templates and numbers only)
    for name, grad in c.gradients.items():
        np.testing.assert_allclose(ns["d" + name], grad, rtol=1e-9, atol=1e-12)
