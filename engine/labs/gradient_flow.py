"""Gradient flow at initialisation: how big the back-propagated gradient is at every layer.

A deep MLP is built as an engine graph (engine.nn.mlp), one standard-normal batch goes forward to a
softmax cross-entropy loss on random labels, and the engine's backward pass gives dL/ds at every
layer's pre-activation s and dL/dW at every weight. Nothing here differentiates by hand.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from engine.circuit import jsonable
from engine.nn import mlp

CLASSES = 10

# Where each activation's slope is small enough to stall the gradient ("flat tails").
SATURATION = {
    "tanh": "|tanh(s)| > 0.9, where the slope 1 - tanh² is below 0.19",
    "sigmoid": "σ(s) < 0.1 or > 0.9, where the slope σ(1 - σ) is below 0.09",
    "relu": "relu(s) = 0 (a dead unit: slope 0, no gradient passes)",
    "linear": "never: a linear layer has slope 1 everywhere, so always 0",
}


def saturated_fraction(activation: str, a: np.ndarray) -> float:
    """Fraction of units in the flat tails of the activation (see SATURATION)."""
    if activation == "tanh":
        flat = np.abs(a) > 0.9
    elif activation == "sigmoid":
        flat = (a < 0.1) | (a > 0.9)
    elif activation == "relu":
        flat = a == 0
    else:
        return 0.0
    return float(np.mean(flat))


def histogram(activation: str, a: np.ndarray, bins: int) -> dict[str, list[float]]:
    """Counts of the finite activations; bounded activations get their whole range as bins so
    that two configurations can be compared bar by bar."""
    a = a[np.isfinite(a)]
    low, high = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(activation) or _span(a, bins)
    k = _shrink(low, high)
    counts, edges = np.histogram(a if k == 1 else a / k, bins=bins, range=(low / k, high / k))
    return {"edges": (edges * k).tolist(), "counts": counts.tolist()}


def _shrink(low: float, high: float) -> float:
    """2 when high - low overflows (say -1e308 to 1e308): the halves' range fits, so count
    those; 1 otherwise."""
    return 2.0 if math.isinf(high - low) else 1.0


def _span(a: np.ndarray, bins: int) -> tuple[float, float]:
    """The values' [min, max]; a spike too narrow to cut into `bins` distinct float edges (all
    values equal, or a few units in the last place apart) is widened by half its size, at
    least 0.5, on either side."""
    low, high = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
    k = _shrink(low, high)
    edges = np.linspace(low / k, high / k, bins + 1)
    if np.all(edges[1:] > edges[:-1]):  # the edges np.histogram will make, and its check
        return low, high
    pad, big = 0.5 * max(1.0, abs(low), abs(high)), float(np.finfo(float).max)
    return max(low - pad, -big), min(high + pad, big)


_network = lru_cache(maxsize=32)(mlp)  # structure only: shared by every request alike


def _stats(x: np.ndarray) -> tuple[float, float]:
    """Variance and norm in two passes over x (np.var would make three and a copy)."""
    flat = x.ravel()
    square = float(flat @ flat)
    mean = float(flat.sum()) / max(flat.size, 1)
    return max(square / max(flat.size, 1) - mean * mean, 0.0), float(np.sqrt(square))


def gradient_flow(depth: int = 5, width: int = 1000, activation: str = "tanh",
                  init: str = "standard", scale: float = 1.0, batch: int = 64,
                  residual: bool = False, seed: int = 0, bins: int = 30) -> dict[str, Any]:
    """Per-layer activation statistics and gradient sizes of a freshly initialised MLP.

    Layer 1 is nearest the input. grad_var/grad_norm are those of dL/ds (s = the layer's
    pre-activation, read from the backward pass); the loss is averaged over the batch. Returns
    strict-JSON data.
    """
    net = _network(depth, activation, residual)
    rng = np.random.default_rng(seed)
    values = net.values(rng, width, batch, init, scale, CLASSES)
    vals = net.graph.forward(values)
    grads = net.graph.backward(vals)  # every wire: the layers' pre-activations are read too
    layers, warnings = [], []
    pairs = zip(net.pre, net.act, net.weights[:-1], strict=True)
    for i, (s, f, w) in enumerate(pairs, start=1):
        a = vals[f.index]
        if not np.all(np.isfinite(a)):
            warnings.append(f"layer {i}: the activations overflowed to inf or NaN")
        elif not np.all(np.isfinite(grads[s.index])):
            warnings.append(f"layer {i}: the gradient overflowed to inf or NaN")
        with np.errstate(all="ignore"):  # overflowed layers are reported in `warnings`
            grad_var, grad_norm = _stats(grads[s.index])
            weight_grad_var, weight_grad_norm = _stats(grads[w.index])
            layers.append({
                "layer": i,
                "activation_mean": float(np.mean(a)),
                "activation_std": float(np.std(a)),
                "saturated": saturated_fraction(activation, a),
                "grad_var": grad_var,
                "grad_norm": grad_norm,
                "weight_grad_var": weight_grad_var,
                "weight_grad_norm": weight_grad_norm,
                "histogram": histogram(activation, a, bins),
            })
    return jsonable({"loss": float(vals[net.graph.output.index]), "layers": layers,
                     "saturation": SATURATION[activation], "warnings": warnings})
