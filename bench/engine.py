"""Engine speed, printed as ratios (not a test): run `.venv/bin/python bench/engine.py`.

(a) forward + backward over an already-parsed 10,000-gate tree-shaped expression, against
    micrograd building and backpropagating the same computation;
(b) the first trace of the same tree as text (parse + forward + backward), against PyTorch
    building and backpropagating it on float64 scalars (when torch imports), and the parse
    time per 1,000 characters with its share of the first trace;
(c) the n-gate chain from 1,000 to 100,000 gates, to show the time grows linearly.

(b) runs interleaved rounds (ours, then PyTorch's) and prints the median of the per-round
ratios, in CPU time (what this process ran, which a shared machine disturbs least) and in
wall-clock time.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

# run as a script, this file's folder comes first on the path and its name hides the package
sys.path[0] = str(Path(__file__).resolve().parents[1])
sys.setrecursionlimit(100_000)  # micrograd's recursive topological sort needs it

from micrograd.engine import Value  # noqa: E402

from engine.circuit import Circuit  # noqa: E402
from engine.graph import Graph  # noqa: E402
from engine.parse import parse  # noqa: E402


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def tree_text(leaves: int) -> str:
    """A balanced tree of + and * over relu(x0), relu(x1)...: about 2 * leaves gates, written
    as text so the parser builds it (relu, because micrograd 0.1 has no tanh)."""
    terms = [f"relu(x{i % 50})" for i in range(leaves)]
    ops = ["+", "*"]
    depth = 0
    while len(terms) > 1:
        op = ops[depth % 2]
        terms = [f"({a} {op} {b})" if b else a
                 for a, b in zip(terms[::2], terms[1::2] + [""] * (len(terms) % 2), strict=True)]
        depth += 1
    return terms[0]


def pairwise(terms: list):
    """The tree of tree_text over any values: + and * alternating by level."""
    depth = 0
    while len(terms) > 1:
        nxt = []
        for j in range(0, len(terms) - 1, 2):
            a, b = terms[j], terms[j + 1]
            nxt.append(a + b if depth % 2 == 0 else a * b)
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
        depth += 1
    return terms[0]


def micrograd_tree(leaves: int, values: dict[str, float]) -> None:
    xs = {k: Value(v) for k, v in values.items()}
    pairwise([xs[f"x{i % 50}"].relu() for i in range(leaves)]).backward()


def torch_tree(torch, leaves: int, values: dict[str, float]) -> None:
    xs = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    pairwise([torch.relu(xs[f"x{i % 50}"]) for i in range(leaves)]).backward()


def timed(fn) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def first_trace(text: str, leaves: int, values: dict[str, float], rounds: int = 9) -> None:
    """(b): parse + forward + backward of new text, beside PyTorch's build + both passes."""
    try:
        import torch
    except ImportError:
        torch = None

    parsed = []

    def ours():
        t = time.process_time()
        graph = parse(text, None)
        parsed.append(time.process_time() - t)
        graph.backward(graph.forward(values))

    parse_t, share, wall, cpu = [], [], [], []
    for _ in range(rounds):
        o = timed(ours)
        parse_t.append(parsed[-1])
        share.append(parsed[-1] / o[1])
        if torch is not None:
            t = timed(lambda: torch_tree(torch, leaves, values))
            wall.append(o[0] / t[0])
            cpu.append(o[1] / t[1])
    per_k = len(text) / 1000
    print(f"(b) first trace of the tree as text ({len(text):,} characters), medians of {rounds} "
          "interleaved rounds")
    print(f"    parse: {statistics.median(parse_t) / per_k * 1e3:.2f} ms (CPU) per 1,000 "
          f"characters, {statistics.median(share):.0%} of the first trace")
    if torch is None:
        print("    (install torch to compare with PyTorch)")
        return
    print("    first trace / PyTorch build + forward + backward (float64 scalars): "
          f"{statistics.median(cpu):.2f}x in CPU time, {statistics.median(wall):.2f}x wall-clock")


def chain(n: int) -> Graph:
    g = Graph()
    node = g.input("x", 0.5)
    for k in range(n):
        node = g.gate("addc", (node,), c=1.0) if k % 2 else g.gate("scale", (node,), a=1.0)
    return g


def main() -> None:
    leaves = 5_000  # 5,000 relu + 4,999 add/mul = 9,999 gates
    text = tree_text(leaves)
    values = {f"x{i}": 0.01 * (i + 1) for i in range(50)}
    graph = parse(text, None)
    gates = sum(n.kind == "gate" for n in graph.nodes)

    def ours():
        vals = graph.forward(values)
        graph.backward(vals)

    ours_t = best(ours)
    theirs_t = best(lambda: micrograd_tree(leaves, values))
    c = Circuit("", graph, values)
    print(f"(a) tree of {gates:,} gates, forward + backward")
    print(f"    chainrule (parsed once): {ours_t * 1e3:8.1f} ms")
    print(f"    micrograd (build + backward): {theirs_t * 1e3:8.1f} ms")
    print(f"    ratio micrograd / chainrule: {theirs_t / ours_t:.2f}x "
          f"({'chainrule faster' if ours_t < theirs_t else 'chainrule slower'})")
    assert math.isfinite(float(c.value))

    first_trace(text, leaves, values)

    print("(c) chain of n gates, forward + backward (Circuit: passes and warnings)")
    base = None
    for n in (1_000, 10_000, 100_000):
        g = chain(n)
        t = best(lambda g=g: Circuit("", g, {}), repeat=3)
        base = base or t / n
        print(f"    n = {n:>7,}: {t * 1e3:8.1f} ms, {t / n * 1e6:.2f} µs per gate "
              f"({t / n / base:.2f}x the per-gate time at 1,000)")


if __name__ == "__main__":
    main()
