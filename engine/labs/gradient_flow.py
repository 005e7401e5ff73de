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
from engine.errors import listed
from engine.nn import MLP, mlp

CLASSES = 10

# Where each activation's slope is small enough to stall the gradient ("flat tails").
SATURATION = {
    "tanh": "|tanh(s)| > 0.9, where the slope 1 - tanh² is below 0.19",
    "sigmoid": "σ(s) < 0.1 or > 0.9, where the slope σ(1 - σ) is below 0.09",
    "relu": "relu(s) = 0 (a dead unit: slope 0, no gradient passes)",
    "linear": "never: a linear layer has slope 1 everywhere, so always 0",
}


_FLAT = {"tanh": lambda a: np.abs(a) > 0.9, "sigmoid": lambda a: (a < 0.1) | (a > 0.9),
         "relu": lambda a: a == 0}


def saturated_fraction(activation: str, a: np.ndarray) -> float:
    """Fraction of units in the flat tails of the activation (see SATURATION)."""
    flat = _FLAT.get(activation)
    return 0.0 if flat is None else float(np.mean(flat(a)))


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


def _stats(x: np.ndarray) -> tuple[float, float, float]:
    """Mean, standard deviation and norm of x. Squares of numbers below about 1e-154 underflow
    to 0 and of numbers above 1e154 overflow to inf: x is then scaled by its largest |value|
    first, so that a gradient of 1e-200 has a norm of its own size, not 0. The spread is taken
    around the mean, so that activations near 0.5 that differ by 1e-8 keep it."""
    flat = x.ravel()
    n = max(flat.size, 1)
    top = float(np.max(np.abs(flat))) if flat.size else 0.0
    scale = top if 0 < top < math.inf and not 1e-145 < top < 1e145 else 1.0
    y = flat / scale if scale != 1.0 else flat
    mean = float(y.sum()) / n
    d = y - mean
    return scale * mean, scale * math.sqrt(float(d @ d) / n), scale * math.sqrt(float(y @ y))


def _layers(ks: list[int], depth: int) -> str:
    """Layer numbers as runs: "layer 4", "layers 1–9", "layers 2, 5–7 and 9", "every layer"."""
    if len(ks) == depth > 1:
        return "every layer"
    runs: list[list[int]] = []
    for k in ks:
        if runs and k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    parts = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs]
    return ("layer " if len(ks) == 1 else "layers ") + listed(parts)


def _zero(a: np.ndarray) -> bool:
    return not np.any(a)


def _finite(a: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(a)))


UNDER = "(below 5e-324, the smallest positive float64)"
OVER = "(above 1.8e308, the largest float64)"


def _warnings(net: MLP, vals: list, grads: list, activation: str, layers: list[dict]
              ) -> list[str]:
    """What went out of float64's range, each said once with the layers it happened in.

    Forward: activations that overflowed; pre-activations s = h @ W that underflowed to 0 though
    h is not 0 (and the layers above, which get that 0); relu layers with every unit off.
    Backward: ∂L/∂s not finite; ∂L/∂s exactly 0, because it underflowed or because a layer's
    slopes f'(s) are all 0 (and the layers below, which get that 0); Var(∂L/∂s) outside float64
    though ∂L/∂s is not; ∂L/∂W = hᵀ∂L/∂s that underflowed or overflowed though h did not.
    """
    said: dict[str, list[int]] = {}
    underflow = f"the pre-activation s = h @ W underflowed to 0 {UNDER}"
    under = False  # the layer below's s underflowed: the 0 it passes up is that underflow
    for k, (s, f) in enumerate(zip(net.pre, net.act, strict=True), start=1):
        h, a = vals[s.inputs[0].index], vals[f.index]
        if not _finite(a):
            text = f"the activations overflowed to inf or NaN {OVER}"
        elif _zero(vals[s.index]) and (under or not _zero(h)):
            text = underflow
        elif activation == "relu" and _zero(a):
            text = "every unit is off (relu(s) = 0 for the whole batch)"
        else:
            text = ""
        under = text == underflow
        if text:
            said.setdefault(text, []).append(k)
    loss = vals[net.graph.output.index]
    zeros = None  # why ∂L/∂s of the layer above is 0, when it is
    for k in range(len(net.pre), 0, -1):
        s, f, w = net.pre[k - 1], net.act[k - 1], net.weights[k - 1]
        g, gw, h = grads[s.index], grads[w.index], vals[s.inputs[0].index]
        texts = []
        if not _finite(g):
            zeros = None
            texts.append(f"the gradient ∂L/∂s overflowed to inf or NaN {OVER}"
                         if math.isfinite(loss) else f"the gradient ∂L/∂s is not finite: the "
                         f"loss is {'NaN' if math.isnan(loss) else 'infinite'}")
        elif _zero(g):
            if f is not s and not _zero(grads[f.index]):
                why = ("is off" if activation == "relu" else
                       "is saturated so far that its slope f′(s) rounds to 0")
                zeros = f"the gradient ∂L/∂s is 0: every unit of layer {k} {why}, so none passes"
            elif zeros is None:
                zeros = f"the gradient ∂L/∂s underflowed to 0 {UNDER}"
            texts.append(zeros)
        else:
            zeros = None
            var = layers[k - 1]["grad_var"]
            if var == 0:
                texts.append("Var(∂L/∂s) is too small for float64 and reads 0, though ∂L/∂s "
                             "is not 0 (its norm is charted)")
            elif math.isinf(var):
                texts.append("Var(∂L/∂s) is too large for float64 and reads inf, though ∂L/∂s "
                             "is finite (its norm is charted)")
            if _zero(gw) and not _zero(h):
                texts.append(f"the weight gradient ∂L/∂W = hᵀ∂L/∂s underflowed to 0 {UNDER}")
            elif not _finite(gw) and _finite(h):
                texts.append(f"the weight gradient ∂L/∂W = hᵀ∂L/∂s overflowed {OVER}")
        for text in texts:
            said.setdefault(text, []).insert(0, k)
    return [f"in {_layers(ks, len(net.pre))} {text}" for text, ks in said.items()]


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
    layers = []
    pairs = zip(net.pre, net.act, net.weights[:-1], strict=True)
    with np.errstate(all="ignore"):  # numbers out of float64's range are said in `warnings`
        for i, (s, f, w) in enumerate(pairs, start=1):
            a = vals[f.index]
            mean, std, _ = _stats(a)
            _, grad_std, grad_norm = _stats(grads[s.index])
            _, weight_grad_std, weight_grad_norm = _stats(grads[w.index])
            layers.append({
                "layer": i,
                "activation_mean": mean,
                "activation_std": std,
                "saturated": saturated_fraction(activation, a),
                "grad_var": grad_std * grad_std,
                "grad_norm": grad_norm,
                "weight_grad_var": weight_grad_std * weight_grad_std,
                "weight_grad_norm": weight_grad_norm,
                "histogram": histogram(activation, a, bins),
            })
        # the configuration in a few words: "tanh, standard init ×1e-300, depth 10, width 64"
        times = f" ×{scale:g}" if scale != 1 else ""
        config = (f"{activation}, {init} init{times}{', residual' if residual else ''}, "
                  f"depth {depth}, width {width}")
        warnings = [f"{config}: {text}" for text in _warnings(net, vals, grads, activation, layers)]
    return jsonable({"loss": float(vals[net.graph.output.index]), "layers": layers,
                     "saturation": SATURATION[activation], "warnings": warnings})
