"""Training speed, printed as ratios (not a test): run `.venv/bin/python bench/train.py`.

(a) one engine.nn.nn_epoch over 60,000 × 784 float32 random data, 100 hidden units, batch 100,
    against the notes' hand-written numpy epoch (engine.labs.training.notes_epoch) and, when it
    is importable, the same epoch in PyTorch on the CPU; rounds interleaved, median of ratios;
(b) the spiral case study's default run (engine.labs.training.train with its defaults: 300
    points, 100 hidden units, 10,000 full-batch iterations, progress lines included) in
    seconds, against a plain numpy loop of the same training.

Every peer runs on one BLAS thread (set before numpy loads; PyTorch likewise): on a machine
whose cores are shared, threaded BLAS makes the same epoch swing by 10× from round to round.

Options: --rounds N (default 5 for (a), 3 for (b)), --only epoch|spiral.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

# run as a script, this file's folder comes first on the path and its name hides the package
sys.path[0] = str(Path(__file__).resolve().parents[1])

from engine.labs.datasets import spiral  # noqa: E402
from engine.labs.training import init_params, notes_epoch, train  # noqa: E402
from engine.nn import nn_epoch  # noqa: E402


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def torch_epoch():
    """The notes' epoch written with PyTorch's autograd on the CPU, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def epoch(X, y, W1, W2, lr=0.1, batch=100):
        X, y = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        w1 = torch.from_numpy(W1).requires_grad_()
        w2 = torch.from_numpy(W2).requires_grad_()
        for start in range(0, X.shape[0], batch):
            loss = torch.nn.functional.cross_entropy(
                torch.relu(X[start:start + batch] @ w1) @ w2, y[start:start + batch])
            g1, g2 = torch.autograd.grad(loss, (w1, w2))
            with torch.no_grad():
                w1 -= lr * g1
                w2 -= lr * g2
    return epoch


def bench_epoch(rounds: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60_000).astype(np.uint8)
    W1 = (rng.standard_normal((784, 100), dtype=np.float32) / np.sqrt(100)).astype(np.float32)
    W2 = (rng.standard_normal((100, 10), dtype=np.float32) / np.sqrt(10)).astype(np.float32)
    peers = {"engine nn_epoch": nn_epoch, "notes' numpy epoch": notes_epoch}
    torch = torch_epoch()
    if torch is not None:
        peers["PyTorch CPU epoch"] = torch
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(rounds):
        for name, epoch in peers.items():  # interleaved: each round runs every peer once
            w1, w2 = W1.copy(), W2.copy()
            times[name].append(timed(lambda e=epoch, a=w1, b=w2: e(X, y, a, b, lr=0.1,
                                                                   batch=100)))
    notes = times["notes' numpy epoch"]
    print("(a) one epoch, 60,000 × 784 float32, 100 hidden, batch 100 "
          f"({rounds} interleaved rounds; one BLAS thread each)")
    for name, ts in times.items():
        ratio = statistics.median(t / n for t, n in zip(ts, notes, strict=True))
        rounds_text = " ".join(f"{t:.2f}" for t in ts)
        print(f"    {name:<20} median {statistics.median(ts):6.3f} s   "
              f"ratio to the notes' numpy: {ratio:.2f}×   (rounds: {rounds_text} s)")
    if torch is None:
        print("    (PyTorch is not importable here: no torch column)")


def numpy_spiral(iterations: int = 10_000, hidden: int = 100, lr: float = 1.0,
                 reg: float = 1e-3, seed: int = 0) -> float:
    """The same training as train()'s defaults, written as a plain numpy loop; its accuracy."""
    X, y = spiral(seed=seed)
    p = init_params(np.random.default_rng(seed), 2, hidden, 3, "small", True)
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    m = len(y)
    for _ in range(iterations):
        h = np.maximum(X @ W1 + b1, 0)
        s = h @ W2 + b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        d = e / e.sum(axis=1, keepdims=True)
        d[np.arange(m), y] -= 1
        d /= m
        dW2 = h.T @ d + reg * W2
        db2 = d.sum(axis=0)
        dh = (d @ W2.T) * (h > 0)
        dW1 = X.T @ dh + reg * W1
        db1 = dh.sum(axis=0)
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
    return float(np.mean(np.argmax(np.maximum(X @ W1 + b1, 0) @ W2 + b2, axis=1) == y))


def bench_spiral(rounds: int) -> None:
    engine_t, numpy_t = [], []
    engine_acc = numpy_acc = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        engine_acc = list(train())[-1]["accuracy"]
        engine_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        numpy_acc = numpy_spiral()
        numpy_t.append(time.perf_counter() - t)
    ratio = statistics.median(a / b for a, b in zip(engine_t, numpy_t, strict=True))
    print(f"(b) the spiral case study's default run ({rounds} interleaved rounds)")
    print(f"    engine train()       median {statistics.median(engine_t):6.2f} s   "
          f"accuracy {engine_acc:.3f}")
    print(f"    plain numpy loop     median {statistics.median(numpy_t):6.2f} s   "
          f"accuracy {numpy_acc:.3f}")
    print(f"    ratio engine / numpy: {ratio:.2f}×")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=0)
    args.add_argument("--only", choices=["epoch", "spiral"])
    a = args.parse_args()
    if a.only != "spiral":
        bench_epoch(a.rounds or 5)
    if a.only != "epoch":
        bench_spiral(a.rounds or 3)


if __name__ == "__main__":
    main()
