"""Training a classifier with minibatch SGD, every gradient from the engine's backward pass.

The network is a circuit: logits = f(X @ W1 + b1) @ W2 + b2 (or X @ W1 + b1 with no hidden
layer), the softmax cross-entropy loss, and an L2 penalty reg/2 · ΣW². `train` yields progress
as plain dicts (strict JSON): a first line at once, a line every so many iterations, a last
line with `done`. Beside each line the notes' hand-written gradients are computed for the same
minibatch, as the thing the engine is checked against.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.circuit import jsonable
from engine.graph import Graph
from engine.labs.datasets import Dataset, load
from engine.nn import init_weights, mlp

ACTIVATIONS = ("relu", "tanh", "sigmoid")
INITS = ("small", "standard", "xavier", "he", "normal")  # small: 0.01 · N(0, 1), as CS231n
REPORTS = 200  # progress lines in a run, about
BOUNDARY_EVERY = 10  # a decision boundary with every 10th progress line (and the last)
GRID = 60  # the boundary's cells along each axis


def network(hidden: int, activation: str = "relu", bias: bool = True, reg: float = 0.0
            ) -> Graph:
    """The classifier's circuit: engine.nn.mlp with one hidden layer (none if `hidden` is 0);
    its inputs are X, y and the parameters (W1, b1, W2, b2)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}")
    depth = 1 if hidden else 0
    return mlp(depth, activation, bias=bias, reg=reg, names=("X", "y", f"W{depth + 1}")).graph


def init_params(rng: np.random.Generator, features: int, hidden: int, classes: int,
                init: str = "small", bias: bool = True) -> dict[str, np.ndarray]:
    """Weights drawn by `init` (see engine.nn.init_weights; small is 0.01 · N(0, 1)), biases 0."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    sizes = [features, hidden, classes] if hidden else [features, classes]
    scheme, scale = ("normal", 0.01) if init == "small" else (init, 1.0)
    params = {}
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False), start=1):
        params[f"W{k}"] = init_weights(rng, n_in, n_out, scheme, scale)
        if bias:
            params[f"b{k}"] = np.zeros(n_out)
    return params


def formula_gradients(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
                      activation: str = "relu", reg: float = 0.0) -> dict[str, np.ndarray]:
    """The notes' hand-written backward pass, for checking the engine's: G2 = (softmax - I_y)/m,
    ∇W2 = Z1ᵀG2, G1 = f'(S1) ∘ (G2 W2ᵀ), ∇W1 = XᵀG1 (f' = 1{Z1 > 0} for relu), biases the
    column sums of G, plus reg·W for the penalty."""
    m = X.shape[0]
    layers = 2 if "W2" in params else 1
    zs = [X]
    for k in range(1, layers + 1):
        s = zs[-1] @ params[f"W{k}"] + params.get(f"b{k}", 0.0)
        if k < layers:
            z = {"relu": lambda s: np.maximum(s, 0.0), "tanh": np.tanh,
                 "sigmoid": lambda s: 1.0 / (1.0 + np.exp(-s))}[activation](s)
            zs.append(z)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    G = e / e.sum(axis=1, keepdims=True)
    G[np.arange(m), y.astype(int)] -= 1.0
    G /= m
    grads = {}
    for k in range(layers, 0, -1):
        W, Z = params[f"W{k}"], zs[k - 1]
        grads[f"W{k}"] = Z.T @ G + reg * W
        if f"b{k}" in params:
            grads[f"b{k}"] = G.sum(axis=0)
        if k > 1:
            slope = {"relu": lambda z: (z > 0).astype(z.dtype), "tanh": lambda z: 1.0 - z * z,
                     "sigmoid": lambda z: z * (1.0 - z)}[activation](Z)
            G = slope * (G @ W.T)
    return grads


def notes_epoch(X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray, lr: float = 0.1,
                batch: int = 100) -> None:
    """The notes' hand-written numpy epoch for the bias-free ReLU net, step for step (their
    one-hot matrix is float64, so G2 and G1 are too; they divide by `batch`, which differs
    from the minibatch's own size only on a short last one). Kept as the reference that
    engine.nn.nn_epoch is tested and benchmarked against."""
    for start in range(0, X.shape[0], batch):
        Xb, yb = X[start:start + batch], y[start:start + batch]
        Z1 = np.maximum(0, Xb @ W1)
        e = np.exp(Z1 @ W2)
        probs = e / np.sum(e, axis=1, keepdims=True)
        onehot = np.zeros((len(yb), W2.shape[1]))
        onehot[np.arange(len(yb)), yb] = 1
        G2 = probs - onehot
        G1 = (Z1 > 0).astype(np.float32) * (G2 @ W2.T)
        W1 -= lr * (Xb.T @ G1 / batch)
        W2 -= lr * (Z1.T @ G2 / batch)


def train(dataset: str = "spiral", hidden: int = 100, activation: str = "relu",
          bias: bool = True, init: str = "small", lr: float = 1.0, reg: float = 1e-3,
          batch: int = 0, epochs: int = 10_000, seed: int = 0, reports: int = REPORTS
          ) -> Iterator[dict[str, Any]]:
    """Train and yield progress (see the module docstring); batch 0 is the full batch."""
    t0 = time.perf_counter()
    data = load(dataset, seed)
    rng = np.random.default_rng(seed)
    n, features = data.X.shape
    params = init_params(rng, features, hidden, data.classes, init, bias)
    graph = network(hidden, activation, bias, reg)
    index = {name: node.index for name, node in graph.inputs().items()}
    logits = next(node.index for node in graph.nodes if node.name == "logits")
    size = n if batch <= 0 else min(batch, n)
    per_epoch = math.ceil(n / size)
    total = epochs * per_epoch
    every = max(1, math.ceil(total / reports))
    # Only the numbers that may not be finite go through jsonable: the data's points and the
    # boundary's classes are finite, and converting them number by number costs a tenth of a run.
    yield {"start": True, **data.to_dict(), "batch": size, "iterations": total,
           "epochs": epochs, "params": {k: list(v.shape) for k, v in params.items()}}

    reported = 0
    line: dict[str, Any] = {}
    for it in range(1, total + 1):
        start = ((it - 1) % per_epoch) * size
        Xb, yb = data.X[start:start + size], data.y[start:start + size]
        vals = graph.forward({"X": Xb, "y": yb, **params})
        grads = graph.backward(vals, wrt=params)  # not the data's
        step = {k: grads[index[k]] for k in params}
        if it % every and it != total:
            _update(params, step, lr)
            continue
        # before the update: the engine's and the notes' gradients for this very minibatch
        by_hand = formula_gradients(params, Xb, yb, activation, reg)
        check = {k: float(np.max(np.abs(step[k] - by_hand[k]))) for k in params
                 if k.startswith("W")}
        _update(params, step, lr)
        line = {"epoch": math.ceil(it / per_epoch), "iteration": it,
                **_scores(graph, logits, params, data),
                "grad_norms": {k: float(np.linalg.norm(g)) for k, g in step.items()},
                "check": check, "seconds": time.perf_counter() - t0}
        finite = all(map(math.isfinite, [line["loss"], *line["grad_norms"].values()]))
        line = jsonable(line)
        reported += 1
        if data.planar and (reported % BOUNDARY_EVERY == 1 or it == total or not finite):
            line["boundary"] = _boundary(graph, logits, params, data)
        yield line
        if not finite:
            yield jsonable({"done": True, "stopped": "diverged",
                            **summary(line, time.perf_counter() - t0)})
            return
    yield jsonable({"done": True, "stopped": "epochs",
                    **summary(line, time.perf_counter() - t0)})


def _update(params: dict[str, np.ndarray], step: dict[str, np.ndarray], lr: float) -> None:
    for k, g in step.items():
        params[k] -= lr * g


def _scores(graph: Graph, logits: int, params: dict, data: Dataset) -> dict[str, Any]:
    """Loss and accuracy on the whole training set (and the test set's accuracy)."""
    vals = graph.forward({"X": data.X, "y": data.y, **params})
    out = {"loss": float(vals[graph.output.index]),
           "accuracy": float(np.mean(np.argmax(vals[logits], axis=1) == data.y)),
           "test_accuracy": None}
    if data.X_test is not None:
        vals = graph.forward({"X": data.X_test, "y": data.y_test, **params})
        out["test_accuracy"] = float(np.mean(np.argmax(vals[logits], axis=1) == data.y_test))
    return out


def _boundary(graph: Graph, logits: int, params: dict, data: Dataset) -> dict[str, Any]:
    """The predicted class over a GRID × GRID lattice covering the data, rows by y."""
    low, high = data.X.min(axis=0), data.X.max(axis=0)
    pad = 0.1 * (high - low)
    xs, ys = np.stack([low - pad, high + pad], axis=1).tolist()  # [low, high] of each axis
    gx, gy = np.meshgrid(np.linspace(*xs, GRID), np.linspace(*ys, GRID))
    X = np.c_[gx.ravel(), gy.ravel()]
    vals = graph.forward({"X": X, "y": np.zeros(len(X)), **params})
    classes = np.argmax(vals[logits], axis=1).reshape(GRID, GRID)
    return {"x": xs, "y": ys, "size": GRID, "classes": classes.tolist()}


def summary(line: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    """The `done` line's numbers: the last progress line's (none before the first one)."""
    return {"epochs": line.get("epoch", 0), "loss": line.get("loss"),
            "accuracy": line.get("accuracy"), "test_accuracy": line.get("test_accuracy"),
            "seconds": seconds}
