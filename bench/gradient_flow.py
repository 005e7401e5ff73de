"""Time a gradient-flow request (30 layers × 512 units × batch 64, relu, he) against plain numpy.

The peer draws the same weights and runs a hand-written forward and backward pass of the same
network; both are measured in this run, best of several repeats. Prints the ratio.

    .venv/bin/python bench/gradient_flow.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.labs.gradient_flow import CLASSES, gradient_flow  # noqa: E402
from engine.nn import mlp  # noqa: E402

DEPTH, WIDTH, BATCH = 30, 512, 64
REPEATS = 7


def numpy_peer(seed: int = 0) -> list[float]:
    """The same network and statistics by hand: weights, forward, backward, dL/ds variances."""
    rng = np.random.default_rng(seed)
    values = mlp(DEPTH, "relu").values(rng, WIDTH, BATCH, "he", 1.0, CLASSES)
    hs, ss = [values["x"]], []
    for i in range(1, DEPTH + 1):
        s = hs[-1] @ values[f"W{i}"]
        ss.append(s)
        hs.append(np.maximum(s, 0.0))
    z = hs[-1] @ values["W_out"]
    y = values["labels"].astype(int)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(BATCH), y] -= 1
    dh = p / BATCH @ values["W_out"].T
    grad_var = []
    for i in reversed(range(DEPTH)):
        ds = dh * (ss[i] > 0)
        dw = hs[i].T @ ds
        grad_var.append((float(ds.var()), float(np.linalg.norm(dw))))
        dh = ds @ values[f"W{i + 1}"].T
    return [v for v, _ in reversed(grad_var)]


def interleaved(a, b, repeats: int = REPEATS) -> tuple[float, float]:
    """Best time of each, alternating the two so that load from other processes hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((a, times[0]), (b, times[1])):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return min(times[0]), min(times[1])


def main() -> None:
    request = lambda: gradient_flow(DEPTH, WIDTH, "relu", "he", 1.0, BATCH)  # noqa: E731
    ours = [layer["grad_var"] for layer in request()["layers"]]
    np.testing.assert_allclose(ours, numpy_peer(), rtol=1e-9)  # the same numbers, or no timing
    lab, peer = interleaved(request, numpy_peer)
    print(f"gradient-flow {DEPTH}x{WIDTH}x{BATCH}: lab {lab * 1e3:.0f} ms, "
          f"numpy {peer * 1e3:.0f} ms, ratio {lab / peer:.2f} "
          f"(target <= 1.5, lab < 1000 ms)")


if __name__ == "__main__":
    main()
