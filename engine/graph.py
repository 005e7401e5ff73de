"""The circuit as data: nodes in a topological order, and the forward and backward passes over it.

A Graph holds structure only. Values and gradients live in lists indexed by node position, so one
parsed graph can be cached and shared by many evaluations at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from engine.errors import ExpressionError
from engine.ops import GATES, unbroadcast


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for; `trace(..., limits=None)` lifts them all."""

    max_chars: int = 10_000
    max_gates: int = 5_000
    max_depth: int = 200
    max_elements: int = 1_000_000


class Node:
    __slots__ = ("index", "kind", "op", "inputs", "name", "attrs", "span", "default")

    def __init__(self, index, kind, op=None, inputs=(), name=None, attrs=None, span=None,
                 default=None):
        self.index = index
        self.kind = kind  # "input" | "const" | "gate"
        self.op = op
        self.inputs = tuple(inputs)
        self.name = name
        self.attrs = attrs or {}
        self.span = span
        self.default = default

    @property
    def id(self) -> str:
        return f"n{self.index}"

    @property
    def label(self) -> str:
        if self.kind == "gate":
            return GATES[self.op].label_for(self.attrs)
        if self.kind == "input":
            return self.name
        from engine.ops import fmt_const

        return fmt_const(self.default) if self.default.ndim == 0 else "const"

    def __repr__(self) -> str:
        return f"Node({self.id} {self.kind} {self.op or self.name or ''})"


def as_value(value, where: str = "value", max_elements: int | None = None) -> np.ndarray:
    """A request value (number, nested list, or {"randn": shape, "seed": s}) as float64.

    Scalars become numpy float64 scalars rather than 0-d arrays: they behave the same in every
    gate and are several times cheaper, which matters for circuits of thousands of scalar gates."""
    if type(value) is float or type(value) is int:
        return np.float64(value)
    if isinstance(value, np.ndarray):
        arr = value.astype(float, copy=False)
    elif isinstance(value, Mapping):
        extra = set(value) - {"randn", "seed"}
        if "randn" not in value or extra:
            raise ExpressionError(
                f'{where}: a random value is written {{"randn": [rows, cols], "seed": 0}}'
            )
        shape = value["randn"]
        if isinstance(shape, int):
            shape = [shape]
        if not (isinstance(shape, Sequence) and all(
                isinstance(n, int) and not isinstance(n, bool) and 0 < n for n in shape)):
            raise ExpressionError(
                f"{where}: randn needs a list of positive whole sizes, like [5, 10]"
            )
        if len(shape) > 4:
            raise ExpressionError(f"{where}: randn supports at most 4 dimensions")
        _check_elements(math.prod(shape), where, max_elements)
        seed = value.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ExpressionError(f"{where}: seed must be a whole number >= 0")
        try:
            arr = np.random.default_rng(seed).standard_normal(shape)
        except (ValueError, OverflowError, MemoryError):
            raise ExpressionError(
                f"{where}: randn {list(shape)} holds {math.prod(shape):,} numbers, "
                "too many to fit in memory"
            ) from None
    else:
        if isinstance(value, (bool, str)) or value is None:
            raise ExpressionError(f"{where}: expected a number or a list of numbers, got {value!r}")
        try:
            arr = np.array(value, dtype=float)
        except (ValueError, TypeError):
            raise ExpressionError(
                f"{where}: expected a number or a rectangular list of numbers "
                "(every row the same length)"
            ) from None
    _check_elements(arr.size, where, max_elements)
    return arr[()] if arr.ndim == 0 else arr


def _on_numpy(fn, node: Node, xs: list[float], g: float | None = None):
    """A gate's numpy forward (or, given the upstream gradient g, its vjp) on float64 scalars:
    for the inputs where math raises (1/0, exp(1000), log(-1)) and numpy gives inf or nan."""
    args = [xs[i.index] for i in node.inputs]
    if g is not None:
        args = [g, xs[node.index], *args]
    with np.errstate(all="ignore"):
        return fn(*map(np.float64, args), **node.attrs)


def _picks(node: Node) -> bool:
    """True for a whole-number index straight into an input or a constant (w[0])."""
    return (node.op == "index" and node.inputs[0].kind != "gate"
            and type(node.attrs["index"]) is int)


def _unpacked(vals: list) -> list:
    """Values for the passes on floats: scalars as floats, vectors as lists of floats."""
    return [v if v is None else float(v) if type(v) is np.float64 else v.tolist() for v in vals]


def _check_elements(n: int, where: str, max_elements: int | None) -> None:
    if max_elements is not None and n > max_elements:
        raise ExpressionError(f"{where}: {n:,} elements is more than the limit of {max_elements:,}")


class Graph:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.output: Node | None = None

    # --- building -----------------------------------------------------------------------------

    def _add(self, **kw) -> Node:
        node = Node(len(self.nodes), **kw)
        self.nodes.append(node)
        self.output = node
        return node

    def input(self, name: str, default=None, span=None) -> Node:
        if default is not None:
            default = as_value(default, name)
        return self._add(kind="input", name=name, span=span, default=default)

    def const(self, value, span=None) -> Node:
        return self._add(kind="const", span=span, default=as_value(value, "constant"))

    def gate(self, op: str, inputs: Sequence[Node], *, name=None, span=None, **attrs) -> Node:
        gate = GATES[op]
        if len(inputs) != gate.arity:
            raise ExpressionError(
                f"{op} takes {gate.arity} input(s), got {len(inputs)}", *(span or ())
            )
        return self._add(kind="gate", op=op, inputs=inputs, name=name, attrs=attrs, span=span)

    def inputs(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes if n.kind == "input"}

    # --- derived graphs -----------------------------------------------------------------------

    def topo(self) -> list[Node]:
        """Nodes the output depends on, inputs before the gates that use them (iterative DFS)."""
        seen: set[int] = set()
        order: list[Node] = []
        stack: list[tuple[Node, bool]] = [(self.output, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if node.index in seen:
                continue
            seen.add(node.index)
            stack.append((node, True))
            stack.extend((i, False) for i in reversed(node.inputs) if i.index not in seen)
        return order

    def rebuilt(self, expand: bool = False) -> Graph:
        """A copy keeping every input but only the gates the output needs.

        `expand` replaces composite gates with their primitive circuits; the gradients on the
        inputs do not change."""
        new = Graph()
        mapped: dict[int, Node] = {}
        for node in self.nodes:
            if node.kind == "input":
                mapped[node.index] = new._add(kind="input", name=node.name, span=node.span,
                                              default=node.default)
        for node in self.topo():
            if node.kind == "input":
                continue
            if node.kind == "const":
                mapped[node.index] = new._add(kind="const", span=node.span, default=node.default)
                continue
            xs = tuple(mapped[i.index] for i in node.inputs)
            gate = GATES[node.op]
            if expand and gate.expand is not None:
                out = gate.expand(new, xs, node.attrs, node.span)
                out.name = node.name
            else:
                out = new._add(kind="gate", op=node.op, inputs=xs, name=node.name,
                               attrs=dict(node.attrs), span=node.span)
            mapped[node.index] = out
        new.output = mapped[self.output.index]
        return new

    # --- the two passes -----------------------------------------------------------------------

    def forward(self, values: Mapping | None = None, limits: Limits | None = None
                ) -> list[np.ndarray]:
        """Every node's value, in node order. Missing input values are reported all at once."""
        values = values or {}
        max_elements = limits.max_elements if limits else None
        names = self.inputs()
        missing = [n for n in names.values() if n.name not in values and n.default is None]
        if missing:
            first = missing[0]
            span = first.span or (None, None)
            err = ExpressionError(
                f"missing value for {', '.join(n.name for n in missing)}", *span,
                hint="give every input a value",
            )
            err.missing = [n.name for n in missing]
            raise err
        vals: list[np.ndarray] = [None] * len(self.nodes)  # type: ignore[list-item]
        for node in self.nodes:
            if node.kind == "input":
                v = values.get(node.name)
                vals[node.index] = (
                    node.default if v is None else as_value(v, node.name, max_elements)
                )
            elif node.kind == "const":
                vals[node.index] = node.default
        if self._on_floats(vals) and (max_elements is None or len(vals) + sum(
                vals[i].size for i in self._float_leaves()[1]) <= max_elements):
            return self._forward_floats(vals)
        total = sum(v.size for v in vals if v is not None)
        with np.errstate(all="ignore"):
            for node, forward, _, _, args, attrs in self._plan():
                try:
                    if len(args) == 2 and not attrs:
                        v = forward(vals[args[0]], vals[args[1]])
                    else:
                        v = forward(*[vals[i] for i in args], **attrs)
                except (ExpressionError, ValueError, TypeError) as e:
                    raise self._forward_error(node, [vals[i] for i in args], e) from None
                if type(v) is not np.float64 and type(v) is not np.ndarray:
                    v = np.asarray(v, dtype=float)
                    v = v[()] if v.ndim == 0 else v
                vals[node.index] = v
                if max_elements is not None:
                    total += v.size
                    if total > max_elements:
                        raise ExpressionError(
                            f"the circuit holds more than {max_elements:,} numbers in all",
                            *(node.span or (None, None)),
                        )
        return vals

    def _forward_floats(self, vals: list) -> list[np.float64]:
        """The forward pass on Python floats (see _on_floats): a vector is a list here."""
        xs = _unpacked(vals)
        for i, forward, _, j, k, node in self._float_plan():
            if forward is None:  # a whole-number index into a vector
                xs[i] = xs[j][k]
                continue
            try:
                xs[i] = forward(xs[j]) if k is None else forward(xs[j], xs[k])
            except (ArithmeticError, ValueError):  # numpy gives inf or nan here
                xs[i] = float(_on_numpy(GATES[node.op].forward, node, xs))
        vectors = self._float_leaves()[1]
        for i in vectors:
            xs[i] = 0.0
        out = list(np.array(xs))
        for i in vectors:
            out[i] = vals[i]
        return out

    def _plan(self) -> list[tuple]:
        """The gates in order with their functions and input positions looked up once."""
        return self._cached("_plan_cache", lambda: [
            (n, GATES[n.op].forward, GATES[n.op].vjp, GATES[n.op].nondiff,
             tuple(i.index for i in n.inputs), n.attrs)
            for n in self.nodes if n.kind == "gate"])

    def _float_plan(self) -> list[tuple] | None:
        """The plan for Python floats, with each gate's one or two input positions and its
        constants bound in; None when a gate only runs on arrays. A whole-number index into an
        input or a constant is (i, None, None, its position, the index, node)."""
        def build():
            plan = []
            for n in self.nodes:
                if n.kind != "gate":
                    continue
                gate = GATES[n.op]
                if _picks(n):
                    plan.append((n.index, None, None, n.inputs[0].index, n.attrs["index"], n))
                    continue
                if gate.scalar is None:
                    return None
                forward, vjp = gate.scalar, gate.scalar_vjp or gate.vjp
                if n.attrs:
                    forward, vjp = partial(forward, **n.attrs), partial(vjp, **n.attrs)
                ins = [i.index for i in n.inputs] + [None]
                plan.append((n.index, forward, vjp, ins[0], ins[1], n))
            return plan

        return self._cached("_float_plan_cache", build)

    def _float_leaves(self) -> tuple[list[int], dict[int, tuple[int, int]]]:
        """The inputs and constants that must be scalars for the passes to run on floats, and
        those used only through whole-number indices (w[0]), which may be vectors: each with
        the range its length must cover, as (lowest index, highest index)."""
        def build():
            picked: dict[int, list[int]] = {}
            others: set[int] = set()
            for n in self.nodes:
                for slot, x in enumerate(n.inputs):
                    if x.kind != "gate":
                        if slot == 0 and _picks(n):
                            picked.setdefault(x.index, []).append(n.attrs["index"])
                        else:
                            others.add(x.index)
            vectors = {i: (min(ks), max(ks)) for i, ks in picked.items() if i not in others}
            scalars = [n.index for n in self.nodes if n.kind != "gate" and n.index not in vectors]
            return scalars, vectors

        return self._cached("_leaves_cache", build)

    def _on_floats(self, vals: list, seed=None) -> bool:
        """True when every gate has a scalar form (or picks one number from a vector), every
        other input and constant is a scalar, and every index is in range: then every value a
        gate makes is a scalar, and the passes run on Python floats."""
        if self._float_plan() is None or (seed is not None and np.ndim(seed) != 0):
            return False
        scalars, vectors = self._float_leaves()
        for i, (low, high) in vectors.items():
            v = vals[i]
            if type(v) is not np.ndarray or v.ndim != 1 or not -len(v) <= low <= high < len(v):
                return False
        return all(type(vals[i]) is np.float64 for i in scalars)

    def _cached(self, name: str, build):
        """build() once per graph size (a graph only grows, by appending nodes)."""
        cached = getattr(self, name, None)
        if cached is None or cached[0] != len(self.nodes):
            cached = (len(self.nodes), build())
            setattr(self, name, cached)
        return cached[1]

    @staticmethod
    def _forward_error(node: Node, xs: list[np.ndarray], e: Exception) -> ExpressionError:
        span = node.span or (None, None)
        if isinstance(e, ExpressionError):
            return ExpressionError(e.message, *span, hint=e.hint)
        shapes = " and ".join("×".join(map(str, x.shape)) or "scalar" for x in xs)
        label = GATES[node.op].label_for(node.attrs)
        return ExpressionError(f"shapes {shapes} don't fit together in {label}", *span)

    def backward(self, vals: list[np.ndarray], seed: np.ndarray | None = None
                 ) -> list[np.ndarray | None]:
        """Every node's gradient, accumulated at forks. None marks an input that takes no
        gradient (it only feeds slots such as integer labels)."""
        if self._on_floats(vals, seed):
            return self._backward_floats(vals, seed)
        grads: list[np.ndarray | None] = [None] * len(self.nodes)
        out = self.output
        grads[out.index] = np.ones_like(vals[out.index]) if seed is None else seed
        with np.errstate(all="ignore"):
            for node, _, vjp, nondiff, args, attrs in reversed(self._plan()):
                g = grads[node.index]
                if g is None:
                    continue
                if len(args) == 2 and not attrs:
                    contributions = vjp(g, vals[node.index], vals[args[0]], vals[args[1]])
                else:
                    contributions = vjp(g, vals[node.index], *[vals[i] for i in args], **attrs)
                for slot, (i, c) in enumerate(zip(args, contributions, strict=True)):
                    if c is None or slot in nondiff:
                        continue
                    if type(c) is not np.float64 and type(c) is not np.ndarray:
                        c = np.asarray(c, dtype=float)
                    if c.shape != vals[i].shape:
                        c = unbroadcast(c, vals[i].shape)
                    prev = grads[i]
                    grads[i] = c if prev is None else prev + c
        # differentiable nodes with no path to the output get zeros; label-only inputs keep None
        label_only = self._label_only()
        for i, g in enumerate(grads):
            if g is None and i not in label_only:
                grads[i] = np.zeros_like(vals[i])
        return grads

    def _backward_floats(self, vals: list, seed) -> list[np.float64]:
        """The backward pass on Python floats (see _on_floats); a vector's gradient is gathered
        in a list. Scalar gates take a gradient on every input, so no node is label-only."""
        xs = _unpacked(vals)
        grads: list = [None] * len(xs)
        grads[self.output.index] = 1.0 if seed is None else float(seed)
        for i, _, vjp, j, k, node in reversed(self._float_plan()):
            g = grads[i]
            if g is None:
                continue
            if vjp is None:  # a whole-number index into a vector: a list of gradients
                if grads[j] is None:
                    grads[j] = [0.0] * len(xs[j])
                grads[j][k] += g
                continue
            try:
                cs = vjp(g, xs[i], xs[j]) if k is None else vjp(g, xs[i], xs[j], xs[k])
            except (ArithmeticError, ValueError):  # numpy gives inf or nan here
                cs = [float(c) for c in _on_numpy(GATES[node.op].vjp, node, xs, g)]
            grads[j] = cs[0] if grads[j] is None else grads[j] + cs[0]
            if k is not None:
                grads[k] = cs[1] if grads[k] is None else grads[k] + cs[1]
        vectors = self._float_leaves()[1]
        picked = {i: grads[i] for i in vectors}
        out = list(np.array([0.0 if g is None or i in picked else g
                             for i, g in enumerate(grads)]))
        for i, g in picked.items():
            out[i] = np.zeros_like(vals[i]) if g is None else np.array(g)
        return out

    def _label_only(self) -> set[int]:
        """Nodes whose every use is a slot that takes no gradient (integer labels)."""
        def build():
            slots: dict[int, set[bool]] = {}
            for node in self.nodes:
                if node.kind == "gate":
                    nondiff = GATES[node.op].nondiff
                    for slot, inp in enumerate(node.inputs):
                        slots.setdefault(inp.index, set()).add(slot in nondiff)
            return {i for i, kinds in slots.items() if kinds == {True}}

        return self._cached("_label_cache", build)

    def locals(self, vals: list[np.ndarray]) -> list[list[float | None] | None]:
        """Every node's local derivatives (see `local`) in node order: None for inputs,
        constants and gates on tensors. A circuit on floats (see _on_floats) gets them so."""
        if not self._on_floats(vals):
            return [self.local(n, vals) if n.kind == "gate" else None for n in self.nodes]
        xs = _unpacked(vals)
        out: list[list[float | None] | None] = [None] * len(xs)
        for i, _, vjp, j, k, node in self._float_plan():
            if vjp is None:  # an index: its input is a vector
                continue
            try:
                cs = vjp(1.0, xs[i], xs[j]) if k is None else vjp(1.0, xs[i], xs[j], xs[k])
            except (ArithmeticError, ValueError):  # numpy gives inf or nan here
                cs = _on_numpy(GATES[node.op].vjp, node, xs, 1.0)
            out[i] = [float(c) for c in cs]
        return out

    def local(self, node: Node, vals: list[np.ndarray]) -> list[float | None] | None:
        """A scalar gate's local derivative with respect to each input, in order."""
        xs = [vals[i.index] for i in node.inputs]
        out = vals[node.index]
        if out.ndim or any(x.ndim for x in xs):
            return None
        with np.errstate(all="ignore"):
            parts = GATES[node.op].vjp(np.float64(1.0), out, *xs, **node.attrs)
        return [None if p is None or slot in GATES[node.op].nondiff else float(p)
                for slot, p in enumerate(parts)]
