"""The cliff of a one-unit recurrent net, and gradient clipping (Pascanu, Mikolov & Bengio 2013).

x_t = w·σ(x_{t-1}) + b from x_0 = 0.5; loss (σ(x_50) - 0.7)². For some (w, b) the unit flips
between two fixed points after a tiny change, so the loss surface has a steep wall. A gradient
step taken on the wall is enormous; clipping the gradient's norm keeps it short.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from engine.circuit import jsonable
from engine.graph import Graph
from engine.nn import sigmoid_recurrence

STEPS = 50  # time steps of the recurrence, as in the paper's figure


@lru_cache(maxsize=1)
def _graph() -> Graph:
    return sigmoid_recurrence(STEPS, x0=0.5, target=0.7)


def loss_and_grad(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss, dL/dw and dL/db at every point of same-shaped arrays w and b (one engine pass)."""
    g = _graph()
    vals = g.forward({"w": w, "b": b})
    grads = g.backward(vals)  # points are independent: the gradient of the sum is each own's
    inputs = g.inputs()
    return vals[g.output.index], grads[inputs["w"].index], grads[inputs["b"].index]


def surface(w_range: tuple[float, float], b_range: tuple[float, float], grid: int
            ) -> dict[str, Any]:
    """The loss over a grid × grid lattice of (w, b), rows by b, columns by w."""
    ws = np.linspace(*w_range, grid)
    bs = np.linspace(*b_range, grid)
    loss, _, _ = loss_and_grad(*np.meshgrid(ws, bs))
    return {"w": ws.tolist(), "b": bs.tolist(), "loss": loss.tolist()}


def descend(start: tuple[float, float], lr: float, iterations: int, threshold: float
            ) -> dict[str, Any]:
    """Gradient descent from `start`, without and with clipping the gradient's norm to
    `threshold`; both paths advance together, as the two elements of one vector input."""
    p = np.array([[start[0], start[0]], [start[1], start[1]]], dtype=float)  # rows w, b
    paths: list[list[dict[str, float]]] = [[], []]
    wall = None
    for it in range(iterations + 1):
        loss, gw, gb = loss_and_grad(p[0], p[1])
        grad = np.stack([gw, gb])
        norm = np.linalg.norm(grad, axis=0)
        factor = np.ones(2)
        if norm[1] > threshold:
            factor[1] = threshold / norm[1]
        step = -lr * grad * factor
        for k in range(2):
            paths[k].append({"w": float(p[0, k]), "b": float(p[1, k]), "loss": float(loss[k]),
                             "grad_norm": float(norm[k])})
        if it == iterations:
            break
        # the paths agree until clipping first acts: that point is where the wall is hit
        if wall is None and factor[1] < 1:
            wall = {"iteration": it, "w": float(p[0, 1]), "b": float(p[1, 1]),
                    "grad_norm": float(norm[1]),
                    "unclipped_step": float(np.linalg.norm(step[:, 0])),
                    "clipped_step": float(np.linalg.norm(step[:, 1]))}
        p = p + step
    return {"unclipped": paths[0], "clipped": paths[1], "wall": wall}


def cliff(w_range: tuple[float, float] = (0.0, 10.0), b_range: tuple[float, float] = (-6.0, 2.0),
          grid: int = 61, start: tuple[float, float] = (4.0, -4.0), lr: float = 3.0,
          iterations: int = 40, threshold: float = 0.3) -> dict[str, Any]:
    """The loss surface and the two descent paths, as the lab's API answers them (strict-JSON
    data)."""
    return jsonable({"steps": STEPS, "surface": surface(w_range, b_range, grid),
                     **descend(start, lr, iterations, threshold)})
