"""Plain gradient descent on the inputs of any circuit whose output is a scalar loss.

Each step runs the circuit's forward and backward passes (the program is parsed once) and moves
every parameter against its slope: step size = lr × slope, new value = old value - step size,
as StatQuest writes it. Step k records the values *before* its update, so step 0 is the start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from engine.circuit import Circuit, compile_text, jsonable, spelled
from engine.errors import ExpressionError, located
from engine.fns import shape_text
from engine.graph import TOO_LARGE, Limits, too_large

MAX_STEPS = 10_000
MAX_RECORDED = 1_000_000  # numbers of parameter values kept over all steps
RISES = 5  # a loss that grows this many steps in a row, past where it started, has diverged


@located
def descent(text: str, values: Mapping | None = None, params: Sequence[str] = (), *,
            lr: float = 0.1, steps: int = 100, tol: float = 0.001, expand: bool = False,
            limits: Limits | None = None) -> dict[str, Any]:
    """Gradient descent on the inputs named in `params`, from `values`.

    Stops when every |step size| is below `tol` ("tol"), after `steps` updates ("steps"), or
    when the loss or a parameter stops being finite or the loss has grown at each of the last
    RISES steps to above where it started ("diverged"). A start whose loss or a slope is not
    finite is an ExpressionError. Returns strict-JSON data:
    {params, lr, stopped, steps: [{step, values, loss, gradients, step_sizes}], final, loss}.
    """
    params = _parameters(params)
    _check_settings(lr, steps, tol)
    graph = compile_text(text, expand, limits)
    inputs = graph.inputs()
    for name in params:
        if name not in inputs:
            known = ", ".join(sorted(inputs)) or "none"
            raise ExpressionError(f"parameter {name!r} is not an input of the circuit "
                                  f"(its inputs: {known})")
    current = dict(values or {})
    vals = graph.forward(current, limits)
    loss = vals[graph.output.index]
    if np.ndim(loss):
        raise ExpressionError(f"the output has shape {shape_text(loss)}: descent needs a scalar "
                              "loss (wrap it in sum() or mean())", *graph.output.where)
    grads = graph.backward(vals, wrt=params)
    for name in params:
        if grads[inputs[name].index] is None:
            raise ExpressionError(f"parameter {name!r} takes no gradient: it only feeds labels")
    _check_start(text, graph, current, limits, float(loss),
                 {name: grads[inputs[name].index] for name in params})
    size = sum(np.size(vals[inputs[name].index]) for name in params)
    if size * (steps + 1) > MAX_RECORDED:
        raise ExpressionError(f"{size:,} parameter numbers over {steps + 1:,} steps is more "
                              f"than {MAX_RECORDED:,} to record; take fewer steps")
    point = {name: vals[inputs[name].index] for name in params}

    record: list[dict[str, Any]] = []
    stopped = "steps"
    rises = 0  # steps in a row that raised the loss
    for k in range(steps + 1):
        if k:
            current.update({n: float(v) if np.ndim(v) == 0 else v for n, v in point.items()})
            vals = graph.forward(current, limits)
            grads = graph.backward(vals, wrt=params)
        loss = float(vals[graph.output.index])
        slopes = {name: grads[inputs[name].index] for name in params}
        sizes = {name: lr * g for name, g in slopes.items()}
        record.append({"step": k, "values": point, "loss": loss, "gradients": slopes,
                       "step_sizes": sizes})
        rises = rises + 1 if k and loss > record[-2]["loss"] else 0
        if not (math.isfinite(loss) and all(np.isfinite(v).all() for v in point.values())) or (
                rises >= RISES and loss > record[0]["loss"]):
            stopped = "diverged"
            break
        if all(np.all(np.abs(s) < tol) for s in sizes.values()):
            stopped = "tol"
            break
        if k == steps:
            break
        point = {name: point[name] - sizes[name] for name in params}
    return jsonable({"params": params, "lr": lr, "stopped": stopped, "steps": record,
                     "final": record[-1]["values"], "loss": record[-1]["loss"]})


def _check_start(text: str, graph, values: Mapping, limits: Limits | None, loss: float,
                 slopes: Mapping[str, Any]) -> None:
    """A start whose loss or slopes are not finite is no place to descend from (log(w) at
    w = -1): an error that says which, and which gate made it (as /api/circuit warns)."""
    if math.isfinite(loss):
        bad = [name for name, g in slopes.items() if not np.isfinite(g).all()]
        if not bad:
            return
        g = np.ravel(slopes[bad[0]])
        what = f"the slope in {bad[0]} is {spelled(float(g[~np.isfinite(g)][0]))}"
    else:
        what = f"the loss is {spelled(loss)}"
    made = [w for w in Circuit(text, graph, values, limits).warnings
            if " produced " in w or w.startswith("input ")]
    raise ExpressionError(f"{what} at the start{', where ' + made[0] if made else ''}: descent "
                          "needs a start where the loss and its slopes are finite numbers")


def _parameters(params) -> list[str]:
    """The parameters' names as a list; a string or anything but a collection of names is an
    error (descent("loss", values, "ab") would otherwise descend on 'a' and 'b')."""
    if isinstance(params, str) or not isinstance(params, Iterable):
        raise ExpressionError(f"the parameters must be a list of input names, like ['w', 'b'], "
                              f"not {params!r}")
    params = list(params)
    if not params:
        raise ExpressionError("name at least one input as a parameter to descend on")
    for name in params:
        if not isinstance(name, str):
            raise ExpressionError(f"a parameter is named by a string, not {name!r}")
    if len(set(params)) != len(params):
        raise ExpressionError("a parameter is named twice")
    return params


def _check_settings(lr: float, steps: int, tol: float) -> None:
    if not (_finite(lr) and lr > 0):
        raise ExpressionError(f"the learning rate must be a positive number, not {_shown(lr)}")
    if not (_number(steps) and isinstance(steps, int) and 0 <= steps <= MAX_STEPS):
        raise ExpressionError(f"steps must be a whole number from 0 to {MAX_STEPS:,}")
    if not (_finite(tol) and tol >= 0):
        raise ExpressionError(f"tol must be a number >= 0, not {_shown(tol)}")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite(x) -> bool:
    return _number(x) and not too_large(x) and math.isfinite(x)


def _shown(x) -> str:
    return TOO_LARGE if too_large(x) else repr(x)
