"""The circuit as data: nodes in a topological order, and the forward and backward passes over it.

A Graph holds structure only. Values and gradients live in lists indexed by node position, so one
parsed graph can be cached and shared by many evaluations at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
        _check_elements(int(np.prod(shape)), where, max_elements)
        seed = value.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ExpressionError(f"{where}: seed must be a whole number >= 0")
        arr = np.random.default_rng(seed).standard_normal(shape)
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

    def _plan(self) -> list[tuple]:
        """The gates in order with their functions and input positions looked up once."""
        plan = getattr(self, "_plan_cache", None)
        if plan is None or plan[0] != len(self.nodes):
            steps = [(n, GATES[n.op].forward, GATES[n.op].vjp, GATES[n.op].nondiff,
                      tuple(i.index for i in n.inputs), n.attrs)
                     for n in self.nodes if n.kind == "gate"]
            plan = self._plan_cache = (len(self.nodes), steps)
        return plan[1]

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
        for i, g in enumerate(grads):
            if g is None and i not in self._label_only():
                grads[i] = np.zeros_like(vals[i])
        return grads

    def _label_only(self) -> set[int]:
        """Nodes whose every use is a slot that takes no gradient (integer labels)."""
        cached = getattr(self, "_label_cache", None)
        if cached is None or cached[0] != len(self.nodes):
            slots: dict[int, set[bool]] = {}
            for node in self.nodes:
                if node.kind == "gate":
                    nondiff = GATES[node.op].nondiff
                    for slot, inp in enumerate(node.inputs):
                        slots.setdefault(inp.index, set()).add(slot in nondiff)
            cached = (len(self.nodes), {i for i, kinds in slots.items() if kinds == {True}})
            self._label_cache = cached
        return cached[1]

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
