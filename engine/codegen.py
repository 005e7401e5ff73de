"""Staged forward and backward Python for a circuit, written the way the course notes write it.

One line per gate; each backward line is `dx = (local) * dupstream` and carries the `#(k)` mark of
the forward line it undoes. The first contribution to a gradient is `=`, later ones (a wire that
forks) are `+=`. The code is built from the gate table's templates and the circuit's numbers only.
"""

from __future__ import annotations

import keyword
import math

import numpy as np

from engine.graph import Node
from engine.ops import GATES

# Names for gates the program did not name: the stem plus the forward line number (mul1, sig2).
_STEMS = {"recip": "inv", "addc": "plus", "scale": "scaled", "powc": "pow", "sigmoid": "sig",
          "softplus": "splus", "matmul": "dot", "transpose": "T", "index": "pick",
          "softmax_ce": "loss"}

# Helpers the templates may call; each is emitted only when the code uses it.
_HELPERS = {
    "_unbroadcast": '''def _unbroadcast(grad, shape):
    """Sum a gradient back down to the shape of the input it belongs to."""
    grad = np.asarray(grad, dtype=float)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.reshape(shape)''',
    "_picked": '''def _picked(x, index, g):
    """Gradient of x[index]: the picked element gets g, the others 0."""
    grad = np.zeros_like(x)
    grad[index] += g
    return grad''',
    "_log_or_0": '''def _log_or_0(a):
    """ln a where a > 0, else 0 (the exponent's gradient where a**b has no real log)."""
    return np.log(np.where(a > 0, a, 1.0)) * (a > 0)''',
    "_softmax": '''def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)''',
    "_onehot": '''def _onehot(labels, z):
    y = np.zeros_like(z)
    np.put_along_axis(y, np.asarray(labels, dtype=int)[..., None], 1.0, axis=-1)
    return y''',
    "_rows": '''def _rows(z):
    return max(1, int(np.prod(np.shape(z)[:-1])))''',
    "softmax_ce": '''def softmax_ce(z, labels):
    """Mean cross-entropy of softmax(z) against integer labels (log-sum-exp, max subtracted)."""
    m = z.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]
    y = np.asarray(labels, dtype=int)[..., None]
    return np.mean(lse - np.take_along_axis(z, y, axis=-1)[..., 0])''',
    "_matmul_grads": '''def _matmul_grads(a, b, g):
    """Gradients of a @ b for any mix of vectors, matrices and stacks of matrices."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.reshape(g, np.matmul(a2, b2).shape)
    ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
    gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
    ga = ga[..., 0, :] if a.ndim == 1 else ga
    gb = gb[..., 0] if b.ndim == 1 else gb
    return _unbroadcast(ga, a.shape), _unbroadcast(gb, b.shape)''',
}
_HELPER_NEEDS = {"softmax_ce": (), "_matmul_grads": ("_unbroadcast",)}
# names the code needs for itself: a program's inputs may not take them (engine/parse.py)
RESERVED = frozenset({"np", "math", *_HELPERS, "enumerate", "float", "int", "len", "max"})


def literal(x) -> str:
    """A number or array as Python source that evaluates to exactly the same float64 values."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return _float(float(arr))
    return f"np.array({_nested(arr.tolist())})"


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


def _nested(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_nested(i) for i in v) + "]"
    return _float(v)


def _index_text(index) -> str:
    if isinstance(index, tuple):
        return ", ".join(str(int(i)) for i in index)
    return str(int(index))


class _Namer:
    """Value names and gradient names (`d` + name) that never collide with each other."""

    def __init__(self, inputs: list[str]):
        self.taken = set(RESERVED) | set(inputs) | {"d" + n for n in inputs}

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while (name in self.taken or "d" + name in self.taken or keyword.iskeyword(name)
               or keyword.iskeyword("d" + name)):
            k += 1
            name = f"{base}_{k}"
        self.taken |= {name, "d" + name}
        return name


def generate(circuit) -> dict[str, str]:
    """{"forward", "backward", "source"}: staged Python whose run leaves d<name> for every input."""
    graph, vals, grads = circuit.graph, circuit.vals, circuit.grads
    inputs = [n for n in graph.nodes if n.kind == "input"]
    namer = _Namer([n.name for n in inputs])
    name: dict[int, str] = {n.index: n.name for n in inputs}
    needed = {n.index for n in graph.topo()}
    gates = [n for n in graph.nodes if n.kind == "gate" and n.index in needed]
    helpers: set[str] = set()

    # plain Python numbers read like the notes; numpy scalars keep 1/0 and 0**-1 from raising
    finite = all(np.all(np.isfinite(v)) for v in vals) and all(
        g is None or np.all(np.isfinite(g)) for g in grads)
    setup = ["# inputs"]
    for n in inputs:
        setup.append(f"{n.name} = {_input_text(circuit, n, finite)}")
    consts = [n for n in graph.nodes if n.kind == "const" and n.index in needed]
    for n in consts:
        v = vals[n.index]
        if v.ndim:
            name[n.index] = namer.fresh(f"c{n.index}")
            setup.append(f"{name[n.index]} = {literal(v)}")
        else:
            name[n.index] = _paren(_const(v)) if finite else f"np.float64({literal(v)})"

    line: dict[int, int] = {}
    forward: list[tuple[str, str]] = []
    for k, n in enumerate(gates, start=1):
        line[n.index] = k
        named = (n.name or "").rstrip("′″‴⁽⁾⁰¹²³⁴⁵⁶⁷⁸⁹")  # c′ (c assigned again) is c_1; a
        base = named if named.isidentifier() else (  # label like 'x1*w1' is no Python name
            "f" if n is graph.output else f"{_STEMS.get(n.op, n.op)}{k}")
        name[n.index] = namer.fresh(base)
        expr = _fill(GATES[n.op].py, n, name, helpers)
        forward.append((f"{name[n.index]} = {expr}", f"#({k})"))

    backward: list[tuple[str, str]] = []
    defined: set[int] = set()
    out = graph.output
    if out.kind != "const":
        seed = "1.0" if vals[out.index].ndim == 0 else f"np.ones_like({name[out.index]})"
        backward.append((f"d{name[out.index]} = {seed}", ""))
        defined.add(out.index)
    for n in reversed(gates):
        if n.index not in defined:
            continue  # its output only feeds slots that take no gradient
        mark = f"#({line[n.index]})"
        backward.append((f"# backprop {forward[line[n.index] - 1][0]}", ""))
        for slot, inp in enumerate(n.inputs):
            if inp.kind == "const" or slot in GATES[n.op].nondiff:
                continue
            if n.op == "index":
                # the notes' pattern for picking elements: start from zeros, add into each slot
                if inp.index not in defined:
                    defined.add(inp.index)
                    backward.append((f"d{name[inp.index]} = np.zeros_like({name[inp.index]})",
                                     mark))
                idx = _index_text(n.attrs["index"])
                backward.append((f"d{name[inp.index]}[{idx}] += d{name[n.index]}", mark))
                continue
            contribution = _gradient(circuit, n, slot, name, helpers)
            op = "+=" if inp.index in defined else "="
            defined.add(inp.index)
            backward.append((f"d{name[inp.index]} {op} {contribution}", mark))
    for n in inputs:
        if n.index not in defined:
            zero = "None" if grads[n.index] is None else (
                "0.0" if vals[n.index].ndim == 0 else f"np.zeros_like({n.name})")
            backward.append((f"d{n.name} = {zero}", ""))

    fwd = "# forward pass\n" + _aligned(forward)
    bwd = "# backward pass\n" + _aligned(backward)
    parts = ["import math", "", "import numpy as np", ""]
    if not finite:
        parts += ["np.seterr(all='ignore')  # infinities and NaNs as the engine gives them", ""]
    for h in _with_needs(helpers):
        parts += [_HELPERS[h], ""]
    parts += ["\n".join(setup), "", fwd, bwd]
    return {"forward": fwd, "backward": bwd, "source": "\n".join(parts)}


def _input_text(circuit, node: Node, finite: bool) -> str:
    given = circuit.values.get(node.name)
    if isinstance(given, dict) and "randn" in given:
        shape = given["randn"]
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else (shape,)
        return f"np.random.default_rng({given.get('seed', 0)}).standard_normal({shape})"
    v = circuit.vals[node.index]
    return literal(v) if v.ndim or finite else f"np.float64({literal(v)})"


def _paren(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def _fill(template: str, node: Node, name: dict[int, str], helpers: set[str],
          **extra: str) -> str:
    args = [name[i.index] for i in node.inputs]
    consts = {k: (_index_text(v) if k == "index" else _paren(_const(v)))
              for k, v in node.attrs.items()}
    text = template.format(*args, **consts, **extra)
    helpers.update(h for h in _HELPERS if h + "(" in text)
    return text


def _gradient(circuit, node: Node, slot: int, name: dict[int, str], helpers: set[str]) -> str:
    """The contribution of `node`'s upstream gradient to the input in `slot`."""
    gate = GATES[node.op]
    up = "d" + name[node.index]
    if node.op == "matmul":
        return _matmul_gradient(circuit, node, slot, name, helpers)
    if gate.local_py:
        local = _fill(gate.local_py[slot], node, name, helpers, out=name[node.index])
        text = f"({local}) * {up}"
        inp = node.inputs[slot]
        if circuit.vals[inp.index].shape != circuit.vals[node.index].shape:
            helpers.add("_unbroadcast")
            text = f"_unbroadcast({text}, np.shape({name[inp.index]}))"
        return text
    return _fill(gate.vjp_py[slot], node, name, helpers, g=up)


def _matmul_gradient(circuit, node: Node, slot: int, name: dict[int, str],
                     helpers: set[str]) -> str:
    # the notes' dW = dD.dot(X.T), dX = W.T.dot(dD) for matrices; vectors need their own forms
    a, b = (circuit.vals[i.index] for i in node.inputs)
    up = "d" + name[node.index]
    if a.ndim == 2 and b.ndim == 2:
        return _fill(GATES["matmul"].vjp_py[slot], node, name, helpers, g=up)
    na, nb = (name[i.index] for i in node.inputs)
    forms = {(1, 1): (f"{up} * {nb}", f"{up} * {na}"),
             (1, 2): (f"{nb}.dot({up})", f"np.outer({na}, {up})"),
             (2, 1): (f"np.outer({up}, {nb})", f"{na}.T.dot({up})")}
    if (a.ndim, b.ndim) in forms:
        return forms[a.ndim, b.ndim][slot]
    helpers.update({"_matmul_grads", "_unbroadcast"})
    return f"_matmul_grads({na}, {nb}, {up})[{slot}]"


def _with_needs(helpers: set[str]) -> list[str]:
    needed = set(helpers)
    for h in helpers:
        needed.update(_HELPER_NEEDS.get(h, ()))
    return [h for h in _HELPERS if h in needed]


def _aligned(lines: list[tuple[str, str]]) -> str:
    """Code with its #(k) marks lined up in one column, as the notes print them."""
    width = max((len(code) for code, mark in lines if mark), default=0)
    out = [f"{code.ljust(width)}  {mark}" if mark else code for code, mark in lines]
    return "\n".join(out) + "\n"
