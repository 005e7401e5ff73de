"""The gradients lab: networks built from engine graphs, and the papers' figures reproduced."""

from __future__ import annotations

import numpy as np
import pytest

from engine import trace
from engine.labs.cliff import cliff, descend, loss_and_grad, surface
from engine.labs.gradient_flow import _stats, gradient_flow, histogram, saturated_fraction
from engine.nn import init_weights, mlp


def ratio_first_to_last(result: dict, key: str = "grad_var") -> float:
    layers = result["layers"]
    return layers[0][key] / layers[-1][key]


# --- weight initialisation -------------------------------------------------------------------

def test_init_standard_and_xavier_stay_inside_their_bounds():
    rng = np.random.default_rng(0)
    w = init_weights(rng, 400, 100, "standard")
    assert w.shape == (400, 100)
    assert np.abs(w).max() <= 1 / 20 and np.abs(w).max() > 0.95 / 20
    w = init_weights(rng, 400, 200, "xavier")
    bound = np.sqrt(6 / 600)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_init_he_and_normal_have_their_variance_and_scale_multiplies():
    rng = np.random.default_rng(1)
    assert np.var(init_weights(rng, 500, 500, "he")) == pytest.approx(2 / 500, rel=0.02)
    assert np.var(init_weights(rng, 500, 500, "normal")) == pytest.approx(1.0, rel=0.02)
    a = init_weights(np.random.default_rng(2), 50, 50, "he")
    b = init_weights(np.random.default_rng(2), 50, 50, "he", scale=3.0)
    np.testing.assert_allclose(b, 3.0 * a)


def test_unknown_init_and_activation_are_refused():
    with pytest.raises(ValueError, match="unknown init"):
        init_weights(np.random.default_rng(0), 2, 2, "orthogonal")
    with pytest.raises(ValueError, match="unknown activation"):
        mlp(2, "gelu")


# --- the engine's gradients, checked independently ---------------------------------------------

def _numpy_backward(values, depth, activation, residual):
    """A plain numpy forward and backward of the same MLP: the independent check."""
    f = {"tanh": np.tanh, "relu": lambda s: np.maximum(s, 0),
         "sigmoid": lambda s: 1 / (1 + np.exp(-s)), "linear": lambda s: s}[activation]
    df = {"tanh": lambda s, a: 1 - a * a, "relu": lambda s, a: (s > 0) * 1.0,
          "sigmoid": lambda s, a: a * (1 - a), "linear": lambda s, a: np.ones_like(s)}[activation]
    hs, ss, acts = [values["x"]], [], []
    for i in range(1, depth + 1):
        s = hs[-1] @ values[f"W{i}"]
        a = f(s)
        ss.append(s)
        acts.append(a)
        hs.append(hs[-1] + a if residual else a)
    z = hs[-1] @ values["W_out"]
    y = values["labels"].astype(int)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = p.copy()
    dz[np.arange(len(y)), y] -= 1
    dz /= len(y)
    dh = dz @ values["W_out"].T
    ds_all, dw_all = [None] * depth, [None] * depth
    for i in reversed(range(depth)):
        ds = dh * df(ss[i], acts[i])
        ds_all[i] = ds
        dw_all[i] = hs[i].T @ ds
        dh = ds @ values[f"W{i + 1}"].T + (dh if residual else 0)
    return ds_all, dw_all


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
@pytest.mark.parametrize("residual", [False, True])
def test_mlp_gradients_match_plain_numpy_backprop(activation, residual):
    net = mlp(3, activation, residual)
    values = net.values(np.random.default_rng(3), width=6, batch=4, init="xavier")
    vals = net.graph.forward(values)
    grads = net.graph.backward(vals)
    ds, dw = _numpy_backward(values, 3, activation, residual)
    for i in range(3):
        np.testing.assert_allclose(grads[net.pre[i].index], ds[i], rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(grads[net.weights[i].index], dw[i], rtol=1e-9, atol=1e-14)


def test_mlp_weight_gradient_matches_central_difference():
    net = mlp(2, "tanh")
    values = net.values(np.random.default_rng(4), width=5, batch=3, init="standard")
    grads = net.graph.backward(net.graph.forward(values))
    h = 1e-6
    for i, j in [(0, 0), (2, 4), (4, 1)]:
        plus = {**values, "W1": values["W1"].copy()}
        minus = {**values, "W1": values["W1"].copy()}
        plus["W1"][i, j] += h
        minus["W1"][i, j] -= h
        lp = net.graph.forward(plus)[net.graph.output.index]
        lm = net.graph.forward(minus)[net.graph.output.index]
        assert grads[net.weights[0].index][i, j] == pytest.approx((lp - lm) / (2 * h), rel=1e-6)


# --- Glorot & Bengio 2010: tanh, 5 layers of 1000 ----------------------------------------------

@pytest.fixture(scope="module")
def glorot():
    common = {"depth": 5, "width": 1000, "activation": "tanh", "batch": 64, "seed": 0}
    return {init: gradient_flow(init=init, **common) for init in ("standard", "xavier")}


def test_glorot_standard_init_gradient_variance_shrinks_toward_the_input(glorot):
    grad_var = [layer["grad_var"] for layer in glorot["standard"]["layers"]]
    assert all(a < b for a, b in zip(grad_var, grad_var[1:], strict=False))
    # eq. 14 in the linear regime: each layer multiplies the variance by n·Var(W) = 1/3
    predicted = (1 / 3) ** 4
    assert predicted / 3 <= ratio_first_to_last(glorot["standard"]) <= 1.5 * predicted


def test_glorot_normalized_init_keeps_ten_times_more_gradient(glorot):
    assert ratio_first_to_last(glorot["xavier"]) >= 10 * ratio_first_to_last(glorot["standard"])


def test_glorot_normalized_init_keeps_the_variance_level_only_where_tanh_is_straight(glorot):
    # Their level variance assumes the linear regime (slope 1). A standard-normal batch keeps
    # Var(s) near 1 in layer 1, where tanh' is lower: each layer keeps E[tanh'(s)²] of the
    # variance, and the ratio is the product of those over layers 1 to 4.
    net = mlp(5, "tanh")
    values = net.values(np.random.default_rng(0), 1000, 64, "xavier")
    vals = net.graph.forward(values)
    slopes = [float(np.mean((1 - vals[f.index] ** 2) ** 2)) for f in net.act]
    assert 0.4 < slopes[0] < 0.5 and slopes == sorted(slopes)  # the activations shrink
    tanh = ratio_first_to_last(glorot["xavier"])
    assert tanh < 0.2 and abs(tanh / np.prod(slopes[:4]) - 1) < 0.1
    linear = gradient_flow(depth=5, width=1000, activation="linear", init="xavier", seed=0)
    assert 0.8 < ratio_first_to_last(linear) < 1.25
    values["x"] *= 0.01  # a small batch keeps tanh near 0, where it is straight
    vals = net.graph.forward(values)
    grads = net.graph.backward(vals)
    assert np.var(grads[net.pre[0].index]) / np.var(grads[net.pre[-1].index]) > 0.9


@pytest.mark.parametrize("init", ["standard", "xavier"])
def test_glorot_weight_gradient_variance_stays_level(glorot, init):
    # Fig. 8: activations shrink forward as gradients shrink backward, so dW = hᵀ·ds stays level
    variances = [layer["weight_grad_var"] for layer in glorot[init]["layers"]]
    assert max(variances) / min(variances) < 2


# --- He et al. 2015: relu, 30 layers of 512 -------------------------------------------------------

def test_he_xavier_init_halves_relu_gradients_every_layer():
    result = gradient_flow(depth=30, width=512, activation="relu", init="xavier", seed=0)
    assert 2.0**-29 / 10 <= ratio_first_to_last(result) <= 2.0**-29 * 10


def test_he_init_keeps_relu_gradients_level_on_average_not_in_every_network():
    # each network's ratio is a product of 29 random factors near 1: seed 0 is the lowest of
    # the first 20 seeds (0.55, as the lab's table says), seed 2 the highest (1.48)
    ratios = [ratio_first_to_last(gradient_flow(depth=30, width=512, activation="relu",
                                                init="he", seed=seed)) for seed in range(5)]
    assert 0.5 < ratios[0] < 0.6 and 1.4 < ratios[2] < 1.55
    assert 0.9 < np.mean(ratios) < 1.2


# --- sigmoid chains and exploding gradients -------------------------------------------------------

def test_sigmoid_chain_loses_at_least_four_times_per_gate():
    text = "sigmoid(" * 10 + "x" + ")" * 10
    c = trace(text, {"x": 1.0})
    assert 0 < float(c.gradients["x"]) <= 0.25**10
    assert all(node.op == "sigmoid" for node in c.nodes if node.kind == "gate")


@pytest.mark.parametrize(("init", "scale"), [("normal", 1.0), ("he", 1.5)])
def test_exploding_norms_grow_layer_after_layer_toward_the_input(init, scale):
    result = gradient_flow(depth=10, width=256, activation="relu", init=init, scale=scale)
    norms = [layer["grad_norm"] for layer in result["layers"]]
    assert all(a > b for a, b in zip(norms, norms[1:], strict=False))
    assert norms[0] / norms[-1] > 10


def test_normal_init_saturates_sigmoid_units():
    result = gradient_flow(depth=4, width=200, activation="sigmoid", init="normal")
    assert all(layer["saturated"] > 0.5 for layer in result["layers"])


def test_saturation_definitions():
    assert saturated_fraction("tanh", np.array([0.95, -0.95, 0.5, 0.0])) == 0.5
    assert saturated_fraction("sigmoid", np.array([0.05, 0.5, 0.5, 0.99])) == 0.5
    assert saturated_fraction("relu", np.array([0.0, 0.0, 0.0, 2.0])) == 0.75
    assert saturated_fraction("linear", np.array([100.0])) == 0.0


def test_residual_connections_keep_sigmoid_gradients_from_vanishing():
    plain = gradient_flow(depth=20, width=64, activation="sigmoid", init="xavier")
    skip = gradient_flow(depth=20, width=64, activation="sigmoid", init="xavier", residual=True)
    assert ratio_first_to_last(plain) < 1e-6
    assert ratio_first_to_last(skip) > 1e3 * ratio_first_to_last(plain)


def test_histograms_count_every_unit():
    result = gradient_flow(depth=3, width=50, activation="relu", init="he", batch=8, bins=12)
    for layer in result["layers"]:
        hist = layer["histogram"]
        assert len(hist["counts"]) == 12 and len(hist["edges"]) == 13
        assert sum(hist["counts"]) == 8 * 50
    assert result["loss"] > 0 and result["warnings"] == []


def test_overflowing_activations_are_reported_not_raised():
    result = gradient_flow(depth=100, width=64, activation="relu", init="normal", scale=1e3)
    assert result["warnings"]
    assert "overflowed" in result["warnings"][0]


def test_gradients_that_underflow_to_zero_are_named_with_their_layers():
    result = gradient_flow(depth=10, width=64, scale=1e-300)
    grads = [layer["grad_norm"] for layer in result["layers"]]
    assert grads[:9] == [0.0] * 9 and grads[9] > 0  # layer 10's is about 1e-303
    said = " | ".join(result["warnings"])
    assert "tanh, standard init ×1e-300, depth 10, width 64" in said
    assert "in layers 1–9 the gradient ∂L/∂s underflowed to 0" in said
    assert "in layers 2–10 the pre-activation s = h @ W underflowed to 0" in said
    assert "in layer 10 Var(∂L/∂s) is too small for float64" in said


def test_a_gradient_too_small_to_square_still_has_its_norm():
    # ∂L/∂s near 1e-162 in layer 11: its squares underflow, the gradient does not
    result = gradient_flow(depth=100, width=256, activation="linear", init="normal", scale=1e-3,
                           batch=8)
    layers = result["layers"]
    assert all(layer["grad_norm"] > 0 for layer in layers[10:])
    assert layers[10]["grad_norm"] < 1e-155 and layers[10]["grad_var"] == 0.0
    assert any("Var(∂L/∂s) is too small for float64" in w for w in result["warnings"])


def test_overflow_is_said_once_by_layers_not_once_a_layer():
    result = gradient_flow(depth=100, width=256, activation="linear", init="normal", scale=100,
                           batch=8)
    said = result["warnings"]
    assert len(said) == 2, said
    assert "in layers 97–100 the activations overflowed to inf or NaN" in said[0]
    assert "in every layer the gradient ∂L/∂s is not finite: the loss is NaN" in said[1]


@pytest.mark.parametrize("center, spread", [(0.5, 1e-8), (0.0, 1e-200), (1e200, 1e190), (3.0, 1.0)])
def test_stats_keep_a_small_spread_around_a_large_mean(center, spread):
    # sigmoid's activations at a tiny scale sit near 0.5 and differ by 1e-8: the spread must
    # not drown in the mean's round-off; tiny and huge numbers keep their size
    x = center + spread * np.random.default_rng(0).standard_normal(1000)
    mean, std, norm = _stats(x)
    assert mean == pytest.approx(np.mean(x), rel=1e-12)
    assert std == pytest.approx(spread * np.std(x / spread - center / spread), rel=1e-6)
    top = np.max(np.abs(x))
    assert norm == pytest.approx(top * np.linalg.norm(x / top), rel=1e-12)


def test_relu_units_all_off_are_not_an_underflow():
    # two units and one example: a layer with both units off passes no gradient below it
    result = gradient_flow(depth=10, width=2, activation="relu", init="he", batch=1, seed=3)
    dead = [layer["layer"] for layer in result["layers"] if layer["saturated"] == 1.0]
    assert dead, "seed 3 has a layer with every unit off"
    said = " | ".join(result["warnings"])
    assert "every unit is off" in said and "underflowed" not in said


def test_a_healthy_network_has_no_warnings():
    assert gradient_flow(depth=5, width=64, activation="relu", init="he")["warnings"] == []


@pytest.mark.parametrize("values", [
    [0.0, 5e-324],                # vanished relu activations: one unit in the last place apart
    [-6.1e-322, 9.6e-322],        # a few hundred subnormal steps: too few for 30 bins
    [1e20, 1e20 + 16384],         # equal to the last few digits
    [-1.7e308, 1.7e308],          # wider than the largest float
    [1.7e308, 1.7e308],
    [3.0],
])
def test_histogram_of_a_spike_or_a_huge_range_counts_every_value(values):
    hist = histogram("linear", np.array(values + [np.inf, np.nan]), 30)
    edges = np.array(hist["edges"])
    assert len(edges) == 31 and np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0)
    assert edges[0] <= min(values) and max(values) <= edges[-1]
    assert sum(hist["counts"]) == len(values)


def test_vanishing_unbounded_activations_still_get_a_histogram():
    # 100 layers at scale 1e-5 shrink the activations to a few subnormals apart
    result = gradient_flow(depth=100, width=8, activation="linear", init="xavier", scale=1e-5,
                           batch=4)
    assert all(sum(layer["histogram"]["counts"]) == 32 for layer in result["layers"])

# --- the cliff (Pascanu, Mikolov & Bengio 2013) -------------------------------------------------

def test_cliff_gradient_matches_central_difference():
    w, b = np.array([4.1, 2.0, 7.0]), np.array([-2.07, -1.0, -3.0])
    _, gw, gb = loss_and_grad(w, b)
    h = 1e-6
    num_w = (loss_and_grad(w + h, b)[0] - loss_and_grad(w - h, b)[0]) / (2 * h)
    num_b = (loss_and_grad(w, b + h)[0] - loss_and_grad(w, b - h)[0]) / (2 * h)
    np.testing.assert_allclose(gw, num_w, rtol=1e-5)
    np.testing.assert_allclose(gb, num_b, rtol=1e-5)


def test_cliff_loss_follows_the_recurrence():
    def sig(x):
        return 1 / (1 + np.exp(-x))

    x = 0.5
    for _ in range(50):
        x = 3.0 * sig(x) - 1.0
    loss, _, _ = loss_and_grad(np.array(3.0), np.array(-1.0))
    assert float(loss) == pytest.approx((sig(x) - 0.7) ** 2, rel=1e-12)


def test_cliff_surface_is_one_grid_evaluation():
    s = surface((0.0, 10.0), (-6.0, 2.0), 21)
    loss = np.array(s["loss"])
    assert loss.shape == (21, 21) and len(s["w"]) == 21 and len(s["b"]) == 21
    point, _, _ = loss_and_grad(np.array(s["w"][7]), np.array(s["b"][13]))
    assert loss[13, 7] == pytest.approx(float(point), rel=1e-12)
    # the wall: neighbouring grid points whose loss differs by most of the loss's whole range
    assert np.abs(np.diff(loss, axis=0)).max() > 0.3


def test_cliff_unclipped_step_at_the_wall_is_ten_times_the_clipped_one():
    result = cliff()
    wall = result["wall"]
    assert wall is not None
    assert wall["unclipped_step"] >= 10 * wall["clipped_step"]
    k = wall["iteration"]
    u, c = result["unclipped"], result["clipped"]
    # the same point on both paths, then one long and one short step
    assert (u[k]["w"], u[k]["b"]) == (c[k]["w"], c[k]["b"])
    unclipped = np.hypot(u[k + 1]["w"] - u[k]["w"], u[k + 1]["b"] - u[k]["b"])
    clipped = np.hypot(c[k + 1]["w"] - c[k]["w"], c[k + 1]["b"] - c[k]["b"])
    assert unclipped >= 10 * clipped
    assert clipped == pytest.approx(3.0 * 0.3)
    assert c[-1]["loss"] < u[-1]["loss"]


def test_clipped_steps_never_exceed_learning_rate_times_threshold():
    result = descend((4.0, -4.0), lr=1.0, iterations=30, threshold=0.5)
    path = result["clipped"]
    for a, b in zip(path, path[1:], strict=False):
        assert np.hypot(b["w"] - a["w"], b["b"] - a["b"]) <= 0.5 + 1e-12


def test_cliff_without_reaching_the_threshold_has_no_wall():
    result = descend((4.0, -4.0), lr=0.01, iterations=3, threshold=100.0)
    assert result["wall"] is None
    assert result["clipped"] == result["unclipped"]
