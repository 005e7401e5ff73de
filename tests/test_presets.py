"""Every preset reproduces the numbers the course notes print, to the precision they print."""

from __future__ import annotations

import numpy as np
import pytest

from engine import backward_check, trace
from engine.presets import PRESETS

BY_ID = {p["id"]: p for p in PRESETS}


def drawn(p: dict) -> str:
    """The program the page draws for preset p: a backward-check preset's forward part."""
    text = p["expression"]
    return text[:backward_check(text, p["values"])["forward_end"]] if p["backward"] else text


def run(preset_id: str):
    p = BY_ID[preset_id]
    return trace(drawn(p), p["values"], expand=p["expand"])


def grads(c, digits: int) -> dict:
    return {k: np.round(v, digits).tolist() for k, v in c.gradients.items() if v is not None}


def test_presets_have_the_contract_fields():
    ids = [p["id"] for p in PRESETS]
    assert len(ids) == len(set(ids))
    for p in PRESETS:
        assert set(p) == {"id", "title", "expression", "values", "expand", "notes", "backward"}
        assert p["title"] and p["notes"]
    assert {p["id"] for p in PRESETS if p["backward"]} == {"staged-backward", "neuron-backward"}


@pytest.mark.parametrize("preset_id", [p["id"] for p in PRESETS if p["backward"]])
def test_every_backward_pass_preset_is_right_line_by_line(preset_id):
    p = BY_ID[preset_id]
    r = backward_check(p["expression"], p["values"])
    assert r["passed"] and r["first_wrong"] is None and r["warnings"] == []
    assert r["lines"] and all(e["ok"] and e["status"] == "ok" for e in r["lines"])
    c = run(preset_id)
    for name, g in r["gradients"].items():
        np.testing.assert_allclose(g["got"], c.gradients[name], rtol=1e-12)


@pytest.mark.parametrize("preset_id", list(BY_ID))
def test_every_preset_runs_cleanly_and_passes_the_gradient_check(preset_id):
    c = run(preset_id)
    assert c.check()["passed"]
    assert not [w for w in c.warnings if "produced" in w or "not finite" in w]


def test_multiply_gate():
    c = run("multiply")
    assert float(c.value) == -12.0
    assert grads(c, 6) == {"x": -3.0, "y": 4.0}


def test_add_gate_distributes_gradient():
    assert grads(run("add"), 6) == {"x": 1.0, "y": 1.0}


def test_max_gate_routes_gradient():
    c = run("max")
    assert float(c.value) == 4.0
    assert grads(c, 6) == {"x": 1.0, "y": 0.0}


def test_compound_expression():
    c = run("compound")
    assert float(c.value) == -12.0
    assert grads(c, 6) == {"x": -4.0, "y": -4.0, "z": 3.0}
    q = next(n for n in c.nodes if n.name == "q")
    assert float(c.vals[q.index]) == 3.0 and float(c.grads[q.index]) == -4.0


@pytest.mark.parametrize("preset_id", ["neuron-expanded", "neuron-grouped", "neuron-backward"])
def test_sigmoid_neuron(preset_id):
    c = run(preset_id)
    assert round(float(c.value), 2) == 0.73
    assert grads(c, 2) == {"x": [0.39, -0.59], "w": [-0.2, -0.39, 0.2]}
    dot = next(n for n in c.nodes if n.name == "dot")
    assert float(c.vals[dot.index]) == 1.0
    assert round(float(c.grads[dot.index]), 2) == 0.2  # (1 - 0.73) * 0.73


def test_sigmoid_neuron_grouped_and_expanded_agree():
    grouped, expanded = run("neuron-grouped"), run("neuron-expanded")
    assert "σ" in [n.label for n in grouped.nodes]
    assert {"*-1", "exp", "+1", "1/x"} <= {n.label for n in expanded.nodes}
    for name, g in grouped.gradients.items():
        np.testing.assert_allclose(expanded.gradients[name], g, rtol=1e-14)


@pytest.mark.parametrize("preset_id", ["staged", "staged-backward"])
def test_staged_computation(preset_id):
    c = run(preset_id)
    x, y = 3.0, -4.0
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    assert float(c.value) == pytest.approx((x + sig(y)) / (sig(x) + (x + y) ** 2), rel=1e-15)
    names = [n.name for n in c.nodes if n.kind == "gate" and n.name]
    assert names == ["sigy", "num", "sigx", "xpy", "xpysqr", "den", "invden", "f"]
    # the notes' backward pass, line by line
    sigy, sigx, xpy = sig(y), sig(x), x + y
    num, den = x + sigy, sigx + xpy**2
    invden = 1 / den
    dnum, dinvden = invden, num
    dden = (-1.0 / den**2) * dinvden
    dxpy = 2 * xpy * dden
    dx = dxpy + (1 - sigx) * sigx * dden + dnum
    dy = dxpy + (1 - sigy) * sigy * dnum
    assert float(c.gradients["x"]) == pytest.approx(dx, rel=1e-14)
    assert float(c.gradients["y"]) == pytest.approx(dy, rel=1e-14)


def test_backward_flow_patterns():
    c = run("patterns")
    assert float(c.value) == -20.0
    assert grads(c, 6) == {"x": -8.0, "y": 6.0, "z": 2.0, "w": 0.0}


def test_scale_effect_multiplies_weight_gradients_by_1000():
    small, large = grads(run("scale-small"), 9), grads(run("scale-large"), 9)
    assert (small["w0"], small["w1"]) == (-1.0, -2.0)
    assert (large["w0"], large["w1"]) == (-1000.0, -2000.0)
    assert large["w2"] == small["w2"] == 1.0  # the bias sees no input
    assert (large["x0"], large["x1"]) == (small["x0"], small["x1"])


def test_matrix_multiply_gradients():
    c = run("matmul")
    W, X, G = (c.inputs[k] for k in "WXG")
    assert W.shape == (5, 10) and X.shape == (10, 3)
    np.testing.assert_allclose(c.gradients["W"], G.dot(X.T), rtol=1e-13)
    np.testing.assert_allclose(c.gradients["X"], W.T.dot(G), rtol=1e-13)


def test_two_layer_network_matches_hand_derived_gradients():
    c = run("two-layer")
    X, W1, W2 = (c.inputs[k] for k in ("X", "W1", "W2"))
    y = c.inputs["y"].astype(int)
    m = X.shape[0]
    Z1 = np.maximum(X @ W1, 0)
    logits = Z1 @ W2
    S = np.exp(logits - logits.max(axis=1, keepdims=True))
    S /= S.sum(axis=1, keepdims=True)
    G2 = S - np.eye(W2.shape[1])[y]
    G1 = (Z1 > 0) * (G2 @ W2.T)
    np.testing.assert_allclose(c.gradients["W1"], X.T @ G1 / m, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c.gradients["W2"], Z1.T @ G2 / m, rtol=1e-12, atol=1e-15)
    loss = np.mean(-np.log(S[np.arange(m), y]))
    assert float(c.value) == pytest.approx(loss, rel=1e-12)
    assert c.gradients["y"] is None


def test_dosage_network_ssr_and_its_slope_in_b3():
    c = run("dosage")
    assert round(float(c.value), 1) == 20.4
    assert round(float(c.gradients["b3"]), 1) == -15.7
    predicted = next(n for n in c.nodes if n.name == "predicted")
    assert np.round(c.vals[predicted.index], 1).tolist() == [-2.6, -1.6, -2.6]


def test_sigmoid_chain_gradient_vanishes():
    c = run("sigmoid-chain")
    gates = [n for n in c.nodes if n.kind == "gate"]
    assert len(gates) == 10 and all(n.op == "sigmoid" for n in gates)
    dx = float(c.gradients["x"])
    locals_ = [c.graph.locals(c.vals)[n.index][0] for n in gates]
    assert dx == pytest.approx(np.prod(locals_), rel=1e-12)
    assert 0 < dx < 0.25**10 * 1.5  # each sigmoid passes back at most a quarter
    assert dx < 1e-6
