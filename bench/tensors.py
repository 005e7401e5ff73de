"""The engine on tensors against hand-written numpy (and PyTorch when it is importable).

(a) one two-layer training step, batch 100, 784 -> 100 -> 10, float32, as the notes write it:
    the loss softmax_ce(relu(X @ W1) @ W2, y) and the gradients of W1 and W2 (not of the data);
    the notes' formulas give the gradients alone, so they are timed as written and with the
    loss added (what the engine computes: its output is the loss). The engine's own gate
    functions, called by hand in the same order, are timed too: the engine over them is what
    the graph's two loops cost, apart from the arithmetic;
(b) forward + backward of a 30-layer relu MLP, 512 wide, batch 64, float64: the gradients of
    every input (the weights and the data), as a training step asks for them. The numpy peer
    keeps its weight gradients as the engine returns them (30 matrices, 60 MB); the figure for a
    peer that drops each one as soon as it is made is printed too.

Interleaved rounds, each side called once untimed before its timed calls (else whichever side
follows PyTorch in a round pays for the caches PyTorch left); each prints the median of the
per-round ratios (engine / peer) and their range. Every side runs on one thread
(OPENBLAS_NUM_THREADS=1 unless set, PyTorch likewise) and is timed in CPU seconds of this process,
so other work on the machine does not inflate one side while it waits for a core. Run:
`.venv/bin/python bench/tensors.py`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import numpy as np  # noqa: E402

sys.path[0] = str(Path(__file__).resolve().parents[1])

from engine import fns  # noqa: E402
from engine.nn import mlp  # noqa: E402
from engine.parse import parse  # noqa: E402

ROUNDS = 21


def ratios(ours, *peers, number: int = 5) -> list[list[float]]:
    """Per round, our time over each peer's, alternating which runs first."""
    out: list[list[float]] = [[] for _ in peers]
    for r in range(ROUNDS):
        fns = [ours, *peers] if r % 2 else [*peers, ours]
        times = {}
        for fn in fns:
            fn()  # untimed: each side is timed on caches it warmed, not on the previous side's
            t = time.process_time()
            for _ in range(number):
                fn()
            times[fn] = time.process_time() - t
        for k, peer in enumerate(peers):
            out[k].append(times[ours] / times[peer])
    return out


def report(name: str, peer: str, rs: list[float]) -> None:
    q = statistics.quantiles(rs, n=4)
    print(f"    {name} / {peer}: median {statistics.median(rs):.2f}x "
          f"(quartiles {q[0]:.2f}-{q[2]:.2f}, range {min(rs):.2f}-{max(rs):.2f})")


def two_layer() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 784)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    W1 = (rng.standard_normal((784, 100)) / 28).astype(np.float32)
    W2 = (rng.standard_normal((100, 10)) / 10).astype(np.float32)
    graph = parse("softmax_ce(relu(X @ W1) @ W2, y)", None)
    ins = graph.inputs()
    values = {"X": X, "y": y.astype(np.float32), "W1": W1, "W2": W2}

    def engine():
        grads = graph.backward(graph.forward(values), wrt=("W1", "W2"))
        return grads[ins["W1"].index], grads[ins["W2"].index]

    def notes():
        Z1 = np.maximum(X @ W1, 0)
        Z = Z1 @ W2
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        G2 = e / e.sum(axis=1, keepdims=True)
        G2[np.arange(len(y)), y] -= 1
        G1 = (Z1 > 0) * (G2 @ W2.T)
        return X.T @ G1 / len(y), Z1.T @ G2 / len(y)

    def notes_and_loss():  # the same formulas, and the loss the engine computes as its output
        Z1 = np.maximum(X @ W1, 0)
        Z = Z1 @ W2
        m = Z.max(axis=1, keepdims=True)
        e = np.exp(Z - m)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s).ravel() + m.ravel() - Z[np.arange(len(y)), y]))
        G2 = e / s
        G2[np.arange(len(y)), y] -= 1
        G1 = (Z1 > 0) * (G2 @ W2.T)
        return loss, X.T @ G1 / len(y), Z1.T @ G2 / len(y)

    def by_hand():  # the functions the engine's gates call, in its order, with no graph
        S = fns.matmul(X, W1)
        Z1 = np.maximum(S, 0.0)
        Z = fns.matmul(Z1, W2)
        loss, p = fns.cross_entropy(Z, fns.labels(Z, values["y"]))
        G2 = 1.0 * (p / fns.rows(Z))
        G1 = fns.gdot(G2, fns.T(W2)) * (S > 0)
        return fns.gdot(fns.T(X), G1), fns.gdot(fns.T(Z1), G2)

    for a, b, c, d in zip(engine(), notes(), notes_and_loss()[1:], by_hand(),
                          strict=True):  # same numbers
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(a, d)
    assert abs(graph.forward(values)[graph.output.index] - notes_and_loss()[0]) < 1e-5
    peers = [notes, notes_and_loss, by_hand]
    torch_step = _torch_two_layer(X, y, W1, W2)
    if torch_step:
        peers.append(torch_step)
    print("(a) two-layer step, batch 100, 784 -> 100 -> 10, float32")
    names = ("numpy (the notes)", "numpy (the notes, and the loss)",
             "its gate functions by hand", "PyTorch")
    for rs, name in zip(ratios(engine, *peers), names, strict=False):
        report("engine", name, rs)


def _torch_two_layer(X, y, W1, W2):
    try:
        import torch
    except ImportError:
        print("    (PyTorch not importable: no PyTorch column)")
        return None
    torch.set_num_threads(1)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    tW1 = torch.from_numpy(W1.copy()).requires_grad_()
    tW2 = torch.from_numpy(W2.copy()).requires_grad_()

    def step():
        tW1.grad = tW2.grad = None
        loss = torch.nn.functional.cross_entropy(torch.relu(tX @ tW1) @ tW2, ty)
        loss.backward()

    return step


def deep_mlp() -> None:
    depth, width, batch = 30, 512, 64
    net = mlp(depth, "relu")
    values = net.values(np.random.default_rng(0), width, batch, "he", 1.0, 10)
    graph = net.graph
    wrt = frozenset(graph.inputs())

    def engine():
        return graph.backward(graph.forward(values), wrt=wrt)

    def numpy_peer(keep: bool = True):
        hs, ss = [values["x"]], []
        for i in range(1, depth + 1):
            ss.append(hs[-1] @ values[f"W{i}"])
            hs.append(np.maximum(ss[-1], 0.0))
        z = hs[-1] @ values["W_out"]
        labels = values["labels"].astype(int)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(batch), labels] -= 1
        dz = p / batch
        dh = dz @ values["W_out"].T
        grads = [hs[-1].T @ dz] if keep else []
        for i in reversed(range(depth)):
            ds = dh * (ss[i] > 0)
            dw = hs[i].T @ ds
            if keep:
                grads.append(dw)
            dh = ds @ values[f"W{i + 1}"].T
        return grads, dh

    ins = graph.inputs()
    grads, dx = numpy_peer()  # the same numbers, or no timing
    ours = engine()
    names = ["W_out", *(f"W{i}" for i in range(depth, 0, -1))]
    for name, g in zip(names, grads, strict=True):
        np.testing.assert_allclose(ours[ins[name].index], g, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours[ins["x"].index], dx, rtol=1e-9, atol=1e-12)
    print(f"(b) MLP {depth} x {width}, batch {batch}, forward + backward, float64")
    kept, dropped = ratios(engine, numpy_peer, lambda: numpy_peer(keep=False), number=1)
    report("engine", "numpy keeping its gradients", kept)
    report("engine", "numpy dropping each weight gradient", dropped)


if __name__ == "__main__":
    two_layer()
    deep_mlp()
