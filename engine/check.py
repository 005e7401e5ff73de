"""The numerical gradient check: every input's analytic gradient against central differences."""

from __future__ import annotations

import numpy as np

from engine.errors import ExpressionError
from engine.ops import GATES

PASS_RTOL = 1e-4  # wrong gradients are off by percents; central differences agree to ~1e-7
MAX_PER_INPUT = 64  # elements checked per input at most
WORK_BUDGET = 2_000_000  # gate evaluations in all, so one check stays well under a second
H_MIN, H_MAX = 1e-10, 1.0  # a smaller step drowns in round-off, a larger one in curvature


def gradcheck(circuit, h: float = 1e-5) -> dict:
    """Central differences (f(x+h) - f(x-h)) / 2h per element, against the circuit's gradients.
    f is the output weighted by the gradient the backward pass started from, sum(g * out): with
    the default ones, the sum of the output's elements.

    The relative error |a-n| / max(|a|, |n|, floor) is the largest over the checked elements; the
    floor is the smallest gradient central differences can resolve at this h (round-off in f
    divided by h), so a true zero is not a failure. An input whose perturbation moves a gate across
    its kink (relu at 0, a max tie...) reports `kink: true`, not a failure."""
    graph = circuit.graph
    if isinstance(h, bool) or not (isinstance(h, (int, float)) and H_MIN <= h <= H_MAX):
        raise ExpressionError(
            f"h must be a positive finite number from {H_MIN:g} to {H_MAX:g}, got {h!r}")
    base = {name: np.array(v, dtype=float) for name, v in circuit.inputs.items()}
    out = graph.output.index
    seed = circuit.grads[out]  # the backward pass starts here: the given gradient, or ones
    f0 = float(np.sum(seed * circuit.value))
    floor = 1e5 * np.finfo(float).eps * max(1.0, abs(f0)) / h
    kink_nodes = [n for n in graph.nodes if n.kind == "gate" and GATES[n.op].kink is not None]
    differentiable = [n for n, g in circuit.gradients.items() if g is not None]
    per_input = max(1, min(MAX_PER_INPUT, WORK_BUDGET // (2 * len(graph.nodes) * max(
        1, len(differentiable)))))
    rng = np.random.default_rng(0)

    report: dict[str, dict] = {}
    passed = True
    with np.errstate(all="ignore"):  # a circuit with inf or NaN compares them quietly
        for name, analytic in circuit.gradients.items():
            x = base[name]
            if analytic is None:
                report[name] = {"analytic": None, "numeric": None, "rel_error": None,
                                "kink": False, "checked": 0, "size": int(x.size)}
                continue
            flat = range(x.size)
            if x.size > per_input:
                flat = sorted(rng.choice(x.size, per_input, replace=False).tolist())
            numeric = np.full(x.shape, None, dtype=object)  # unchecked elements stay null
            worst, kink = 0.0, False
            for i in flat:
                where = np.unravel_index(i, x.shape)
                vals_up = _perturbed(graph, base, name, where, h)
                vals_down = _perturbed(graph, base, name, where, -h)
                n = (np.sum(seed * vals_up[out]) - np.sum(seed * vals_down[out])) / (2 * h)
                numeric[where] = float(n)
                a = float(np.asarray(analytic)[where])
                err = abs(a - n) / max(abs(a), abs(n), floor)
                worst = err if np.isnan(err) else max(worst, err)
                kink = kink or _straddles(kink_nodes, vals_up, vals_down)
            ok = bool(worst <= PASS_RTOL) or kink
            passed = passed and ok
            report[name] = {
                "analytic": analytic,
                "numeric": numeric.tolist() if x.ndim else numeric[()],
                "rel_error": float(worst),
                "kink": kink,
                "checked": len(flat),
                "size": int(x.size),
            }
    return {"h": h, "passed": passed, "inputs": report}


def _perturbed(graph, base: dict, name: str, where: tuple, step: float) -> list[np.ndarray]:
    x = base[name].copy()
    x[where] += step
    return graph.forward({**base, name: x})


def _straddles(kink_nodes, vals_up, vals_down) -> bool:
    """True when a gate with a kink takes a different branch at x+h than at x-h (its local
    derivative or, for a step, its output jumps), or sits exactly on its kink: the two sides then
    disagree by design."""
    for node in kink_nodes:
        gate = GATES[node.op]
        up = [vals_up[i.index] for i in node.inputs]
        down = [vals_down[i.index] for i in node.inputs]
        if all(np.array_equal(u, d) for u, d in zip(up, down, strict=True)):
            continue  # this input does not reach the gate
        if gate.kink(*up, **node.attrs) or gate.kink(*down, **node.attrs):
            return True
        # on numpy scalars: inf or nan where math would raise (e^800 on elu's unused branch)
        ones = np.ones_like(vals_up[node.index])
        with np.errstate(all="ignore"):
            local_up = gate.vjp(ones, *map(np.asarray, [vals_up[node.index], *up]), **node.attrs)
            local_down = gate.vjp(ones, *map(np.asarray, [vals_down[node.index], *down]),
                                  **node.attrs)
        if any(not np.array_equal(u, d) for u, d in zip(local_up, local_down, strict=True)
               if u is not None):
            return True
        flat = not any(np.any(u) for u in (*local_up, *local_down) if u is not None)
        if flat and not np.array_equal(vals_up[node.index], vals_down[node.index]):
            return True  # flat on both sides, yet its output moved: it stepped (a comparison)
    return False
