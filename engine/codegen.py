"""Staged forward and backward Python for a circuit, written the way the course notes write it.

One line per gate; each backward line is `dx = (local) * dupstream` and carries the `#(k)` mark of
the forward line it undoes. The first contribution to a gradient is `=`, later ones (a wire that
forks) are `+=`. Every line is the gate table's own statement of the forward pass or the local
derivative, run on symbols (engine.fns.Sym) instead of numbers; the helpers the code calls are
the engine's own functions.
"""

from __future__ import annotations

import inspect
import keyword
import math
import re

import numpy as np

from engine import fns
from engine.cost import shape_of
from engine.fns import ATOM, HELPERS, NEG, Sym, sym
from engine.graph import Node
from engine.ops import GATES, unbroadcast

# Names for gates the program did not name: the stem plus the forward line number (mul1, sig2).
_STEMS = {"recip": "inv", "addc": "plus", "scale": "scaled", "powc": "pow", "sigmoid": "sig",
          "softplus": "splus", "matmul": "dot", "transpose": "T", "index": "pick",
          "softmax_ce": "loss"}

# names the code needs for itself: a program's inputs may not take them (engine/parse.py)
RESERVED = frozenset({"np", "math", "unbroadcast", *HELPERS, "enumerate", "float", "int", "len",
                      "max"})


def literal(x, numpy_scalar: bool = False) -> str:
    """A number or array as Python source that evaluates to exactly the same values in the same
    dtype: float64, or float32 when given so (np.float32(...), np.array([...], dtype=np.float32)).
    A float64 number is a plain Python float, or with numpy_scalar np.float64(...) (for which
    1/0 is inf, not an error)."""
    arr = np.asarray(x)
    f32 = arr.dtype == np.float32
    arr = arr if f32 else arr.astype(float)
    number = _float32 if f32 else _float
    if arr.ndim == 0:
        text = number(arr.item())
        return f"np.float32({text})" if f32 else f"np.float64({text})" if numpy_scalar else text
    return f"np.array({_nested(arr.tolist(), number)}{', dtype=np.float32' if f32 else ''})"


def _const(v) -> str:
    """A gate's constant as the notes write it (2, not 2.0); exact either way."""
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else _float(v)


def _float(v: float) -> str:
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)  # repr round-trips a float exactly


def _float32(v: float) -> str:
    """A float32 by its shortest digits when they read back as it, else by all of its float64's."""
    short = float(str(np.float32(v)))
    return _float(short if np.float32(short) == v else v)


def _nested(v, number) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_nested(i, number) for i in v) + "]"
    return number(v)


def _fresh(base: str, taken: set[str]) -> str:
    """A value name (base, else base_2, base_3, ...) that, with its gradient name (`d` + name),
    collides with nothing in `taken`; both are taken from then on."""
    name, k = base, 1
    while any(n in taken or keyword.iskeyword(n) for n in (name, "d" + name)):
        k += 1
        name = f"{base}_{k}"
    taken |= {name, "d" + name}
    return name


def generate(circuit) -> dict[str, str]:
    """{"forward", "backward", "source"}: staged Python whose run leaves d<name> for every input."""
    graph, vals, grads = circuit.graph, circuit.vals, circuit.grads
    inputs = [n for n in graph.nodes if n.kind == "input"]
    taken = {*RESERVED, *(n.name for n in inputs), *("d" + n.name for n in inputs)}
    name: dict[int, str] = {n.index: n.name for n in inputs}
    needed = {n.index for n in graph.topo()}
    gates = [n for n in graph.nodes if n.kind == "gate" and n.index in needed]

    # plain Python numbers read like the notes; numpy scalars keep 1/0 and 0**-1 from raising
    finite = all(np.all(np.isfinite(v)) for v in vals) and all(
        g is None or np.all(np.isfinite(g)) for g in grads)
    setup = ["# inputs", *(
        f"{n.name} = {_value_text(circuit.values.get(n.name, n.attrs), vals[n.index], finite)}"
        for n in inputs)]
    consts = [n for n in graph.nodes if n.kind == "const" and n.index in needed]
    for n in consts:
        v = vals[n.index]
        if np.ndim(v):
            name[n.index] = _fresh(f"c{n.index}", taken)
            setup.append(f"{name[n.index]} = {literal(v)}")
        else:
            name[n.index] = _const(v) if finite else literal(v, numpy_scalar=True)

    def wire(n: Node) -> Sym:
        return Sym(name[n.index], shape=np.shape(vals[n.index]),
                   prec=NEG if name[n.index].startswith("-") else ATOM)

    line: dict[int, int] = {}
    forward: list[tuple[str, str]] = []
    for k, n in enumerate(gates, start=1):
        line[n.index] = k
        named = (n.name or "").rstrip("′″‴⁽⁾⁰¹²³⁴⁵⁶⁷⁸⁹")  # c′ (c assigned again) is c_2; a
        base = named if named.isidentifier() else (  # label like 'x1*w1' is no Python name
            "f" if n is graph.output else f"{_STEMS.get(n.op, n.op)}{k}")
        expr = GATES[n.op].forward(*map(wire, n.inputs), **_consts(n))
        expr = (expr[0] if GATES[n.op].keeps else expr).py
        name[n.index] = _fresh(base, taken)
        forward.append((f"{name[n.index]} = {expr}", f"#({k})"))

    backward: list[tuple[str, str]] = []
    defined: set[int] = set()
    out = graph.output
    if out.kind != "const":
        if circuit.grad is not None:
            backward.append((f"# the gradient on {name[out.index]} from above, as given", ""))
            seed = _value_text(circuit.grad, grads[out.index], finite)
        else:
            seed = "1.0" if np.ndim(vals[out.index]) == 0 else f"np.ones_like({name[out.index]})"
        backward.append((f"d{name[out.index]} = {seed}", ""))
        defined.add(out.index)
    for n in reversed(gates):
        if n.index not in defined:
            continue  # its output only feeds slots that take no gradient
        gate = GATES[n.op]
        mark = f"#({line[n.index]})"
        up = Sym("d" + name[n.index], shape=np.shape(vals[n.index]))
        backward.append((f"# backprop {forward[line[n.index] - 1][0]}", ""))
        xs = [wire(i) for i in n.inputs]
        for slot, inp in enumerate(n.inputs):
            if inp.kind == "const" or slot in gate.nondiff:
                continue
            dx = "d" + name[inp.index]
            if gate.scatter:
                # the notes' pattern for picking elements: start from zeros, add into each slot
                if inp.index not in defined:
                    defined.add(inp.index)
                    backward.append((f"{dx} = np.zeros_like({name[inp.index]})", mark))
                backward.append((f"{dx}[{fns.index_text(n.attrs['index'])}] += {up.py}", mark))
                continue
            if gate.linear is not None:
                text = gate.linear[slot](up, wire(n), *xs, **_consts(n)).py
            else:
                y = gate.read(wire(n), *xs, **_consts(n))
                local = sym(gate.d[slot](*xs, y, **_consts(n))).py
                text = f"({local}) * {up.py}"
            if _contribution_shape(circuit, n, slot) != np.shape(vals[inp.index]):
                # a number broadcast over a tensor gets the sum, as the notes write it
                text = (f"np.sum({text})" if np.ndim(vals[inp.index]) == 0 else
                        f"unbroadcast({text}, np.shape({name[inp.index]}))")
            op = "+=" if inp.index in defined else "="
            defined.add(inp.index)
            backward.append((f"{dx} {op} {text}", mark))
    for n in inputs:
        if n.index not in defined:
            zero = "None" if grads[n.index] is None else (
                "0.0" if np.ndim(vals[n.index]) == 0 else f"np.zeros_like({n.name})")
            backward.append((f"d{n.name} = {zero}", ""))

    fwd = "# forward pass\n" + _aligned(forward)
    bwd = "# backward pass\n" + _aligned(backward)
    code = fwd + bwd
    parts = []
    if not finite:
        parts += ["np.seterr(all='ignore')  # infinities and NaNs as the engine gives them", ""]
    for helper in (unbroadcast, *HELPERS.values()):
        if helper.__name__ + "(" in code:
            parts += [inspect.getsource(helper), ""]
    parts += ["\n".join(setup), "", fwd, bwd]
    body = "\n".join(parts)
    imports = [f"import {module}\n\n" for module, name in (("math", "math"), ("numpy as np", "np"))
               if re.search(rf"\b{name}\.", body)]  # only what the code uses
    return {"forward": fwd, "backward": bwd, "source": "".join(imports) + body}


def _consts(node: Node) -> dict:
    """A gate's constants for its written forms: numbers as the notes write them (2, not 2.0);
    an index as it is."""
    return {k: v if k == "index" else sym(_const(v)) for k, v in node.attrs.items()}


def _contribution_shape(circuit, node: Node, slot: int) -> tuple[int, ...]:
    """The shape of the gradient a gate hands an input before unbroadcasting."""
    g, y, *xs = (np.float64(v) if type(v) is float else v for v in
                 (circuit.grads[node.index], circuit.vals[node.index],
                  *(circuit.vals[i.index] for i in node.inputs)))
    with np.errstate(all="ignore"):  # numpy scalars: 1/0 is inf here, as in the engine
        return np.shape(GATES[node.op].vjp(g, y, *xs, **node.attrs)[slot])


def _value_text(given, v, finite: bool) -> str:
    """An input's value, or the output's gradient, as the code sets it: a random one given (or
    made by the program) as {"randn": shape, "seed": s} made again from its seed, any other by
    its numbers `v`."""
    if isinstance(given, dict) and "randn" in given:
        shape = list(shape_of(given))  # a list, as the language reads it back
        return f"np.random.default_rng({given.get('seed', 0)}).standard_normal({shape})"
    return literal(v, numpy_scalar=not finite)


MARK_COLUMN = 72


def _aligned(lines: list[tuple[str, str]]) -> str:
    """Code with its #(k) marks lined up in one column, as the notes print them."""
    # a very long line (a gelu) keeps its mark two spaces after it instead of pushing the column
    width = min(MARK_COLUMN, max((len(code) for code, mark in lines if mark), default=0))
    out = [f"{code.ljust(width)}  {mark}" if mark else code for code, mark in lines]
    return "\n".join(out) + "\n"
