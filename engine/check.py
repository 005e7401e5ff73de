"""The numerical gradient check: every input's analytic gradient against central differences."""

from __future__ import annotations

import numpy as np

from engine.errors import ExpressionError
from engine.graph import Node
from engine.ops import GATES

PASS_RTOL = 1e-4  # wrong gradients are off by percents; central differences agree to ~1e-7
MAX_PER_INPUT = 64  # elements checked per input at most
WORK_BUDGET = 2_000_000  # gate evaluations in all, so one check stays well under a second
H_MIN, H_MAX = 1e-10, 1.0  # a smaller step drowns in round-off, a larger one in curvature


def gradcheck(circuit, h: float = 1e-5) -> dict:
    """Central differences (f(x+h) - f(x-h)) / 2h per element, against the circuit's gradients.
    f is the output weighted by the gradient the backward pass started from, sum(g * out): with
    the default ones, the sum of the output's elements.

    The relative error |a-n| / max(|a|, |n|, floor) is the largest over the checked elements
    (`worst` is that element's index); the floor is the smallest gradient central differences can
    resolve at this h (round-off in f divided by h), so a true zero is not a failure. An element
    that fails, away from kinks and edges, is judged again on Richardson's extrapolation from
    steps h and 2h where x ± 2h stays in the domain and on one side of every kink: it removes
    central differences' own h**2 error where the curvature is large against the gradient. Two
    places central differences cannot judge, and so are reported, not failed, with a `note`
    saying why: x - h and x + h on both sides of a gate's kink (relu at 0, a max tie...: `kink`),
    and x - h or x + h outside a gate's domain while x is inside it (sqrt or log at 0: `edge`).
    An input passes when each checked element is within PASS_RTOL or at a kink or an edge."""
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
                                "kink": False, "edge": False, "passed": None, "worst": None,
                                "note": None, "checked": 0, "size": int(x.size)}
                continue
            flat = (sorted(rng.choice(x.size, per_input, replace=False).tolist())
                    if x.size > per_input else range(x.size))
            numeric = np.full(x.shape, None, dtype=object)  # unchecked elements stay null
            worst, at, ok, seen, note = 0.0, None, True, set(), None
            for i in flat:
                where = np.unravel_index(i, x.shape)
                n, vals_up, vals_down = _central(graph, base, name, where, h, seed, out)
                a = float(np.asarray(analytic)[where])
                err = abs(a - n) / max(abs(a), abs(n), floor)
                label = name + (f"[{', '.join(map(str, where))}]" if x.ndim else "")
                why = _unjudged(graph, circuit.vals, kink_nodes, vals_up, vals_down, label,
                                a, n)
                if why is None and not err <= PASS_RTOL:  # the curvature's h**2 error, maybe
                    n2, up, down = _central(graph, base, name, where, 2 * h, seed, out)
                    better = (4 * n - n2) / 3
                    # only where 2h is as judgeable as h: in the domain, on one side of kinks
                    if np.isfinite(better) and _straddles(kink_nodes, up, down) is None:
                        n = better
                        err = abs(a - n) / max(abs(a), abs(n), floor)
                numeric[where] = float(n)
                if at is None or (not np.isnan(worst) and not err <= worst):  # NaN is worst
                    worst, at = err, where
                if why is not None:
                    seen.add(why[0])
                    note = note or why[1]
                ok = ok and (bool(err <= PASS_RTOL) or why is not None)
            passed = passed and ok
            report[name] = {
                "analytic": analytic,
                "numeric": numeric.tolist() if x.ndim else numeric[()],
                "rel_error": float(worst),
                "kink": "kink" in seen,
                "edge": "edge" in seen,
                "passed": ok,
                "worst": [int(k) for k in at] if at is not None else None,
                "note": note,
                "checked": len(flat),
                "size": int(x.size),
            }
    return {"h": h, "passed": passed, "inputs": report}


def _unjudged(graph, vals, kink_nodes, vals_up, vals_down, label: str, a: float,
              n: float) -> tuple[str, str] | None:
    """("kink" or "edge", why) when central differences cannot judge the element `label` of
    analytic gradient `a` and numeric `n`; None when they can."""
    gate = _straddles(kink_nodes, vals_up, vals_down)
    if gate is not None:
        return "kink", (f"{label} - h and {label} + h fall on both sides of the {gate.label} "
                        "gate's kink, where its slope changes: central differences cannot check "
                        "the gradient there")
    side, gate = _leaves_domain(graph, vals, vals_up, vals_down) if np.isnan(n) else ("", None)
    if gate is None:
        return None
    edge = f"the edge of the {gate.label} gate's domain"
    if np.isinf(a):
        return "edge", (f"{label} is at {edge}, where the derivative is infinite: {label} {side} "
                        "h leaves the domain, so central differences cannot measure it")
    return "edge", (f"{label} is within h of {edge}: {label} {side} h leaves it, so central "
                    "differences cannot measure the derivative (try a smaller h)")


def _central(graph, base: dict, name: str, where: tuple, step: float, seed,
             out: int) -> tuple[float, list, list]:
    """The central difference of sum(seed * output) in element `where` of input `name`, with
    the forward values at x + step and at x - step."""
    sides = []
    for s in (step, -step):
        x = base[name].copy()
        x[where] += s
        sides.append(graph.forward({**base, name: x}))
    up, down = sides
    return (np.sum(seed * up[out]) - np.sum(seed * down[out])) / (2 * step), up, down


def _straddles(kink_nodes, vals_up, vals_down) -> Node | None:
    """The gate with a kink that takes a different branch at x+h than at x-h (its local
    derivative or, for a step, its output jumps), or sits exactly on its kink: the two sides then
    disagree by design. None when there is none."""
    for node in kink_nodes:
        gate = GATES[node.op]
        up = [vals_up[i.index] for i in node.inputs]
        down = [vals_down[i.index] for i in node.inputs]
        if all(np.array_equal(u, d) for u, d in zip(up, down, strict=True)):
            continue  # this input does not reach the gate
        # the elements the step moved (every gate with a kink works element by element)
        shape = np.broadcast_shapes(*map(np.shape, up))
        moved = np.zeros(shape, dtype=bool)
        for u, d in zip(up, down, strict=True):
            moved |= np.broadcast_to(np.not_equal(u, d), shape)
        if any(gate.kink(*(np.broadcast_to(v, shape)[moved] for v in side), **node.attrs)
               for side in (up, down)):
            return node
        # on numpy scalars: inf or nan where math would raise (e^800 on elu's unused branch)
        ones = np.ones_like(vals_up[node.index])
        with np.errstate(all="ignore"):
            local_up = gate.vjp(ones, *map(np.asarray, [vals_up[node.index], *up]), **node.attrs)
            local_down = gate.vjp(ones, *map(np.asarray, [vals_down[node.index], *down]),
                                  **node.attrs)
        if any(not np.array_equal(u, d) for u, d in zip(local_up, local_down, strict=True)
               if u is not None):
            return node
        flat = not any(np.any(u) for u in (*local_up, *local_down) if u is not None)
        if flat and not np.array_equal(vals_up[node.index], vals_down[node.index]):
            return node  # flat on both sides, yet its output moved: it stepped (a comparison)
    return None


def _leaves_domain(graph, vals, vals_up, vals_down) -> tuple[str, Node | None]:
    """The side ("+" or "-") and the gate that gives NaN from finite inputs at x+h or x-h, where
    at x it does not: the step left the gate's domain (sqrt or log below 0). ("", None) if none."""
    for side, moved in (("-", vals_down), ("+", vals_up)):
        for node in graph.nodes:
            if node.kind != "gate":
                continue
            new = np.isnan(moved[node.index]) & ~np.isnan(vals[node.index])
            if np.any(new) and all(np.all(np.isfinite(moved[i.index])) for i in node.inputs):
                return side, node
    return "", None
