"""The notes' two-layer network trained by the engine: nn_epoch against the notes' numpy epoch
and central differences; the case study's spiral accuracies; the digits; the formula check."""

from __future__ import annotations

import numpy as np
import pytest

from engine.labs.datasets import SIZES, load
from engine.labs.training import formula_gradients, init_params, network, notes_epoch, train
from engine.nn import nn_epoch


def problem(n=500, features=20, hidden=10, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)).astype(np.float32)
    y = rng.integers(0, classes, n).astype(np.uint8)
    W1 = (rng.standard_normal((features, hidden)) / np.sqrt(hidden)).astype(np.float32)
    W2 = (rng.standard_normal((hidden, classes)) / np.sqrt(classes)).astype(np.float32)
    return X, y, W1, W2


def loss(X, y, W1, W2) -> float:
    """The notes' objective in float64: mean softmax cross-entropy of relu(X W1) W2."""
    z = np.maximum(X @ W1, 0) @ W2
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def test_nn_epoch_matches_the_notes_numpy_epoch():
    X, y, W1, W2 = problem()
    A1, A2, B1, B2 = W1.copy(), W2.copy(), W1.copy(), W2.copy()
    nn_epoch(X, y, A1, A2, lr=0.1, batch=50)
    notes_epoch(X, y, B1, B2, lr=0.1, batch=50)
    assert A1.dtype == A2.dtype == np.float32  # float32 in, float32 kept
    assert not np.array_equal(A1, W1)  # it did update in place
    np.testing.assert_allclose(A1, B1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(A2, B2, rtol=1e-5, atol=1e-6)


def test_nn_epoch_takes_minibatches_in_order_without_shuffling():
    X, y, W1, W2 = problem(n=200)
    A1, A2, B1, B2 = W1.copy(), W2.copy(), W1.copy(), W2.copy()
    nn_epoch(X, y, A1, A2, lr=0.5, batch=100)
    nn_epoch(X[:100], y[:100], B1, B2, lr=0.5, batch=100)
    nn_epoch(X[100:], y[100:], B1, B2, lr=0.5, batch=100)
    np.testing.assert_array_equal(A1, B1)
    np.testing.assert_array_equal(A2, B2)


def test_one_nn_epoch_step_is_lr_times_the_central_difference_gradient():
    X, y, W1, W2 = problem(n=30, features=4, hidden=6, classes=3, seed=1)
    X64, W1_64, W2_64 = X.astype(float), W1.astype(float), W2.astype(float)
    lr = 1e-3
    A1, A2 = W1_64.copy(), W2_64.copy()  # float64 weights: the step itself is exact enough
    nn_epoch(X64, y, A1, A2, lr=lr, batch=30)  # one minibatch: one step
    h = 1e-6
    for W, A, name in ((W1_64, A1, "W1"), (W2_64, A2, "W2")):
        numeric = np.zeros_like(W)
        for i in np.ndindex(W.shape):
            up, down = W.copy(), W.copy()
            up[i] += h
            down[i] -= h
            args = {"W1": W1_64, "W2": W2_64}
            numeric[i] = (loss(X64, y, **{**args, name: up})
                          - loss(X64, y, **{**args, name: down})) / (2 * h)
        np.testing.assert_allclose((W - A) / lr, numeric, rtol=1e-5, atol=1e-8)


def test_a_short_last_minibatch_is_averaged_over_its_own_rows():
    X, y, W1, W2 = problem(n=7, features=3, hidden=4, classes=2, seed=2)
    X, W1, W2 = X.astype(float), W1.astype(float), W2.astype(float)
    A1, A2 = W1.copy(), W2.copy()
    nn_epoch(X, y, A1, A2, lr=1.0, batch=5)
    B1, B2 = W1.copy(), W2.copy()
    for rows in (slice(0, 5), slice(5, 7)):
        g = formula_gradients({"W1": B1, "W2": B2}, X[rows], y[rows])
        B1 -= g["W1"]
        B2 -= g["W2"]
    np.testing.assert_allclose(A1, B1, atol=1e-12)
    np.testing.assert_allclose(A2, B2, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("hidden, bias, reg", [(0, True, 0.0), (7, False, 0.0), (7, True, 0.1)])
def test_the_engine_and_the_notes_formulas_give_the_same_gradients(activation, hidden, bias,
                                                                    reg):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((9, 4)), rng.integers(0, 3, 9)
    g = network(hidden, activation, bias, reg)
    from engine.labs.training import init_params

    params = init_params(rng, 4, hidden, 3, "normal", bias)
    vals = g.forward({"X": X, "y": y, **params})
    grads = g.backward(vals)
    by_hand = formula_gradients(params, X, y, activation, reg)
    assert set(by_hand) == set(params)
    for name, node in g.inputs().items():
        if name in params:
            np.testing.assert_allclose(grads[node.index], by_hand[name], atol=1e-13)


def lines(**kwargs):
    out = list(train(**kwargs))
    assert out[0]["start"] and out[-1]["done"]
    return out


def test_spiral_linear_classifier_stays_below_60_percent():
    out = lines(dataset="spiral", hidden=0, epochs=200, seed=0)  # the case study's run
    assert out[-1]["stopped"] == "epochs"
    assert 0.4 < out[-1]["accuracy"] < 0.6


def test_spiral_two_layer_network_goes_above_95_percent():
    out = lines(dataset="spiral", hidden=100, epochs=3000, seed=0)
    assert out[-1]["accuracy"] > 0.95
    progress = [line for line in out if "epoch" in line]
    assert progress[0]["loss"] > progress[-1]["loss"]
    # the engine's gradients agree with the notes' formulas on every reported minibatch
    assert max(max(line["check"].values()) for line in progress) < 1e-12
    assert set(progress[-1]["grad_norms"]) == {"W1", "b1", "W2", "b2"}
    assert "boundary" in progress[0] and "boundary" in progress[-1]
    b = progress[-1]["boundary"]
    assert len(b["classes"]) == b["size"] and {c for row in b["classes"] for c in row} == {0, 1, 2}


def test_each_data_set_has_the_sizes_known_before_it_is_made():
    """The server bounds a run's work by SIZES, before any data set is made."""
    for name, sizes in SIZES.items():
        data = load(name)
        assert (len(data.X), data.X.shape[1], data.classes) == sizes


def test_digits_two_layer_network_goes_above_90_percent_on_held_out_digits():
    data = load("digits")
    assert data.X.shape == (1437, 64) and data.X_test.shape == (360, 64)
    out = lines(dataset="digits", hidden=64, init="he", lr=0.5, reg=1e-4, batch=100, epochs=10)
    assert out[-1]["test_accuracy"] > 0.9
    assert out[0]["points"] is None and "boundary" not in out[-2]


def test_without_biases_a_relu_net_gives_each_ray_from_the_origin_one_class():
    """Why the notes' net (no biases) stops near half right on the spiral: relu(c·s) = c·relu(s)
    for c > 0, so f(c·x) = c·f(x) and a point's class is its direction's. The arms wind about
    two turns, so every direction holds points of two arms: one of them is always wrong."""
    data = load("spiral")
    params = init_params(np.random.default_rng(0), 2, 100, 3, bias=False)
    for _ in range(1000):
        for k, g in formula_gradients(params, data.X, data.y, reg=1e-3).items():
            params[k] -= g

    def logits(X):
        return np.maximum(X @ params["W1"], 0) @ params["W2"]

    np.testing.assert_allclose(logits(7.5 * data.X), 7.5 * logits(data.X), rtol=1e-12)
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    rays = np.stack([logits(r * np.c_[np.cos(angles), np.sin(angles)]).argmax(axis=1)
                     for r in (0.01, 0.3, 1.0, 100.0)])
    assert (rays == rays[0]).all()  # one class along each ray, near the origin and far out
    # In every 30° wedge, points (away from the centre) of at least two arms: the best class
    # per wedge gets at most 60 % right, and so does the net.
    wedge = ((np.arctan2(data.X[:, 1], data.X[:, 0]) + np.pi) // (np.pi / 6)).astype(int)
    away = np.hypot(*data.X.T) > 0.1
    assert all(len(set(data.y[(wedge == w) & away])) >= 2 for w in range(12))
    best = sum(np.bincount(data.y[wedge == w]).max() for w in set(wedge))
    assert best / len(data.y) < 0.6
    assert 0.4 < np.mean(logits(data.X).argmax(axis=1) == data.y) < 0.6


@pytest.mark.parametrize("name", ["circles", "xor"])
def test_two_class_toys_are_learned(name):
    out = lines(dataset=name, hidden=20, epochs=1500, reports=5)
    assert out[0]["classes"] == 2
    assert out[-1]["accuracy"] > 0.9


def test_a_huge_learning_rate_diverges_and_says_so():
    out = lines(dataset="spiral", hidden=10, init="normal", lr=100, reg=10, epochs=500)
    assert out[-1]["stopped"] == "diverged"
