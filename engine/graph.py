"""The circuit as data: nodes in a topological order, and the forward and backward passes over it.

A Graph holds structure only. Values and gradients live in lists indexed by node position, so one
parsed graph can be cached and shared by many evaluations at once.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import math
import reprlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial, wraps

import numpy as np

from engine.errors import ExpressionError, Limits
from engine.fns import shape_text
from engine.ops import GATES, NARROWER, Gate, fmt_const, unbroadcast


class Node:
    __slots__ = ("index", "kind", "op", "inputs", "name", "attrs", "span", "default", "called")

    def __init__(self, index, kind, op=None, inputs=(), name=None, attrs=None, span=None,
                 default=None, called=None):
        self.index = index
        self.kind = kind  # "input" | "const" | "gate"
        self.op = op
        self.inputs = tuple(inputs)
        self.name = name
        # a gate's constants; a random input's {"randn": shape, "seed": s}, which its default
        # was made from (the staged code makes it again)
        self.attrs = attrs or {}
        self.span = span
        self.default = default
        self.called = called  # the name the program called a gate by (np.dot: dot), if any

    @property
    def id(self) -> str:
        return f"n{self.index}"

    @property
    def label(self) -> str:
        if self.kind == "gate":
            return GATES[self.op].label_for(self.attrs)
        if self.kind == "input":
            return self.name
        return fmt_const(self.default) if np.ndim(self.default) == 0 else "const"

    @property
    def where(self) -> tuple:
        """Its [start, end) in the text, or (None, None): where an error about it points."""
        return self.span or (None, None)

    def misfit(self, shapes) -> ExpressionError:
        """The error of a gate whose inputs' shapes (or values) don't fit together."""
        return ExpressionError(f"shapes {' and '.join(map(shape_text, shapes))} don't fit "
                               f"together in {self.label}", *self.where)

    def __repr__(self) -> str:
        return f"Node({self.id} {self.kind} {self.op or self.name or ''})"


TOO_LARGE = "an integer beyond ±1.8e308 (the largest float)"


def too_large(n) -> bool:
    """Whether n is an integer no float64 holds, such as 10**400 (JSON and Python integers have
    no size limit)."""
    return isinstance(n, int) and abs(n) > sys.float_info.max


def as_value(value, where: str = "value", max_elements: int | None = None):
    """A request value (number, nested list, or {"randn": shape, "seed": s}) as the engine holds
    it: a Python float for a number, a numpy array otherwise (float64, or float32 if given so).
    Anything else (None, a string, a bool, a complex number, an integer past the largest float,
    whether given alone or inside a list) is an ExpressionError that names `where`."""
    if type(value) is float:
        return value
    if type(value) is int and not too_large(value):
        return float(value)
    if isinstance(value, np.ndarray):
        arr = value
        if arr.dtype == np.float64 or arr.dtype == np.float32:  # as it is
            return _checked(arr, where, max_elements)
    elif isinstance(value, Mapping):
        return _checked(_randn(value, where, max_elements), where, max_elements)
    else:
        try:
            arr = np.array(value)  # no dtype yet: what the elements are decides what to say
        except (ValueError, TypeError, OverflowError):
            raise ExpressionError(
                f"{where}: expected a number or a rectangular list of numbers "
                "(every row the same length)"
            ) from None
    if arr.dtype.kind not in "iuf":
        wrong = _not_a_number(value, where)
        if wrong is not None:
            raise ExpressionError(wrong)
    try:
        arr = arr if arr.dtype == np.float64 else arr.astype(float)
    except (ValueError, TypeError, OverflowError):
        raise ExpressionError(f"{where}: expected a number or a list of numbers") from None
    return _checked(arr, where, max_elements)


def _checked(arr: np.ndarray, where: str, max_elements: int | None):
    _check_elements(arr.size, where, max_elements)
    if arr.size == 0:  # as a list literal in the code: no numbers, no circuit to speak of
        raise ExpressionError(f"{where}: an empty list; a list needs at least one number")
    if arr.ndim == 0:
        return float(arr) if arr.dtype == np.float64 else arr[()]
    return arr


def _not_a_number(value, where: str) -> str | None:
    """What is wrong with the first element of a (nested) value that is not a real number that
    fits a float, and where it is ("x[1]: expected a number, got None"); None if nothing is."""
    stack = [((), value)]
    while stack:
        at, v = stack.pop()
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if isinstance(v, (list, tuple)):
            stack.extend(((*at, k), item) for k, item in reversed(list(enumerate(v))))
            continue
        place = where + "".join(f"[{k}]" for k in at)
        got = "a number or a list of numbers" if not at else "a number"
        if isinstance(v, (complex, np.complexfloating)):
            return f"{place}: {v!r} is a complex number; values are real numbers"
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
            return f"{place}: expected {got}, got {reprlib.repr(v)}"
        if too_large(v):
            return f"{place}: {TOO_LARGE} has no float64 value"
    return None


def _randn(value: Mapping, where: str, max_elements: int | None) -> np.ndarray:
    """The array a {"randn": shape, "seed": s} value stands for (seed 0 if none is given)."""
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
        return np.random.default_rng(seed).standard_normal(shape)
    except (ValueError, OverflowError, MemoryError):
        raise ExpressionError(
            f"{where}: randn {list(shape)} holds {math.prod(shape):,} numbers, "
            "too many to fit in memory"
        ) from None


_pause_lock = threading.Lock()
_pauses = [0, False]  # builds under way, and whether the collector ran before the first


@contextlib.contextmanager
def acyclic_build() -> Iterator[None]:
    """The cyclic garbage collector paused while a graph is built: a graph and the parser's
    pieces hold no reference cycles, and collections falling due as it grows would scan them
    (and, at times, every object of the process) for nothing. The previous state comes back
    when the last build under way ends, by return or by exception."""
    with _pause_lock:
        if _pauses[0] == 0:
            _pauses[1] = gc.isenabled()
            gc.disable()
        _pauses[0] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses[0] -= 1
            if _pauses[0] == 0 and _pauses[1]:
                gc.enable()


def missing_values(names: list[str], where: tuple, known: Iterable[str] = ()) -> ExpressionError:
    """The error for inputs without a value: it names them all, and lists them in `missing`.
    A first name close to one of the `known` names (those the program has) is most likely a
    misspelling of it, and the hint says so (`bb` for `b`)."""
    close = difflib.get_close_matches(names[0], [k for k in known if k not in names], n=1)
    hint = f"did you mean {close[0]}?" if close else "give every input a value"
    return ExpressionError(f"missing value for {', '.join(names)}", *where, hint=hint,
                           missing=names)


def _check_elements(n: int, where: str, max_elements: int | None) -> None:
    if max_elements is not None and n > max_elements:
        raise ExpressionError(f"{where}: {n:,} elements is more than the limit of {max_elements:,}")


def _passes(g, y, a, b):
    return g  # a local derivative of 1: the upstream gradient passes unchanged


def _slots(gate: Gate, attrs: dict) -> tuple[Callable | None, ...]:
    """Each input's share of the upstream gradient as a function of (g, out, a, b): upstream ×
    local, or the linear gate's vjp (None for a slot that takes no gradient). A unary gate is
    called with its input as a and b."""
    return tuple(None if k in gate.nondiff else _slot(gate, k, attrs) for k in range(gate.arity))


def _slot(gate: Gate, k: int, attrs: dict) -> Callable:
    if gate.passes[k:k + 1] == (True,):
        return _passes
    f = _bind(gate.d[k] if gate.linear is None else gate.linear[k], attrs)
    if gate.linear is not None:
        return f if gate.arity == 2 else lambda g, y, x, _: f(g, y, x)
    return (lambda g, y, x, _: g * f(x, y)) if gate.arity == 1 else (
        lambda g, y, a, b: g * f(a, b, y))


def _bind(f: Callable, attrs: dict) -> Callable:
    return partial(f, **attrs) if attrs else f


def _shared(memo: dict, key, attrs: dict, make: Callable, *args):
    """make(*args, attrs), once per graph for each key and constants: a plan holds functions
    per kind of gate, not per node."""
    if attrs:
        if not all(type(v) is float or type(v) is int for v in attrs.values()):
            return make(*args, attrs)  # an array or a tuple: bound for this node alone
        key = (key, *attrs, *map(repr, attrs.values()))  # repr tells -0.0 from 0.0
    f = memo.get(key)
    if f is None:
        f = memo[key] = make(*args, attrs)
    return f


def _fit(c, x):
    """A gradient contribution in the shape of the value x it belongs to: summed back over
    broadcast axes, and a Python float for a scalar."""
    if type(x) is float:
        return float(np.sum(c))
    return c if type(c) is np.ndarray and c.shape == x.shape else unbroadcast(c, x.shape)


def _on_numpy(f: Callable, args: list):
    """f again on numpy float64 scalars, for Python floats where math raised (1/0, exp(1000),
    log(-1)): numpy gives inf or nan there."""
    v = f(*[np.float64(a) if type(a) is float else a for a in args])
    return float(v) if np.ndim(v) == 0 and np.asarray(v).dtype == np.float64 else v


def per_size(build: Callable) -> Callable:
    """A function of a graph (and hashable arguments), run once per graph size and arguments:
    a graph only grows, by appending nodes, so what is built from its nodes so far stays true."""
    @wraps(build)
    def cached(graph: Graph, *args):
        cache = getattr(graph, "_cache", None)
        if cache is None or cache[0] != len(graph.nodes):
            cache = graph._cache = (len(graph.nodes), {})
        key = (build.__qualname__, *args)
        if key not in cache[1]:
            cache[1][key] = build(graph, *args)
        return cache[1][key]

    return cached


class Graph:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.output: Node | None = None

    def __getstate__(self) -> dict:
        """A graph goes to and from worker processes without its plans (they hold the gates'
        functions, which do not pickle); they are built again on first use."""
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    # --- building -----------------------------------------------------------------------------

    def _add(self, kind, op=None, inputs=(), name=None, attrs=None, span=None,
             default=None, called=None) -> Node:
        node = Node(len(self.nodes), kind, op, inputs, name, attrs, span, default, called)
        self.nodes.append(node)
        self.output = node
        return node

    def input(self, name: str, default=None, span=None, randn=None) -> Node:
        """An input; `randn`, the {"randn": shape, "seed": s} its default was made from."""
        if default is not None:
            default = as_value(default, name)
        return self._add(kind="input", name=name, span=span, default=default, attrs=randn)

    def const(self, value, span=None) -> Node:
        return self._add(kind="const", span=span, default=as_value(value, "constant"))

    def gate(self, op: str, inputs: Sequence[Node], *, name=None, span=None, called=None,
             **attrs) -> Node:
        gate = GATES[op]
        if len(inputs) != gate.arity:
            raise ExpressionError(
                f"{op} takes {gate.arity} input(s), got {len(inputs)}", *(span or ())
            )
        return self._add("gate", op, inputs, name, attrs, span, called=called)

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
        # every input, then what the output needs (a constant has no name, a gate no default)
        for node in self._sources()[0] + [n for n in self.topo() if n.kind != "input"]:
            xs = tuple(mapped[i.index] for i in node.inputs)
            gate = GATES.get(node.op)
            if expand and gate is not None and gate.expand is not None:
                out = gate.expand(new, xs, node.attrs, node.span)
                out.name = node.name
            else:
                out = new._add(node.kind, node.op, xs, node.name, dict(node.attrs), node.span,
                               node.default, node.called)
            mapped[node.index] = out
        new.output = mapped[self.output.index]
        return new

    # --- the two passes -----------------------------------------------------------------------

    def forward(self, values: Mapping | None = None, limits: Limits | None = None) -> list:
        """Every node's value, in node order, followed by the by-products that gates which keep
        one (`Gate.keeps`) leave for the backward pass. Missing input values are reported all
        at once."""
        values = values or {}
        max_elements = limits.max_elements if limits else None
        inputs, consts = self._sources()
        missing = [n for n in inputs if n.name not in values and n.default is None]
        if missing:
            known = [n.name for n in self.nodes if n.name and n.name.isidentifier()]
            raise missing_values([n.name for n in missing], missing[0].where, known)
        kept = self._kept()
        vals: list = [None] * (len(self.nodes) + len(kept))
        for node in inputs:
            vals[node.index] = (as_value(values[node.name], node.name, max_elements)
                                if node.name in values else node.default)
        for node in consts:
            vals[node.index] = node.default
        watch = bool(kept) or max_elements is not None  # by-products, or elements to count
        total = 0 if max_elements is None else sum(
            1 if type(v) is float else v.size for v in vals if v is not None)
        with np.errstate(all="ignore"):
            for i, f, a, b in zip(*self._plan(), strict=True):
                try:
                    v = f(vals[a]) if b < 0 else f(vals[a], vals[b])
                except ExpressionError as e:
                    raise self._forward_error(self.nodes[i], vals, e) from None
                except (ArithmeticError, ValueError, TypeError) as e:
                    args = [vals[a]] if b < 0 else [vals[a], vals[b]]
                    if not all(type(x) is float for x in args):
                        raise self._forward_error(self.nodes[i], vals, e) from None
                    v = _on_numpy(f, args)
                if watch:  # else a gate costs one test here, not two
                    if type(v) is tuple:  # a gate that keeps a by-product
                        v, vals[kept[i]] = v
                    if max_elements is not None:
                        total += 1 if type(v) is float else v.size
                        if total > max_elements:
                            raise ExpressionError(
                                f"the circuit holds more than {max_elements:,} "
                                f"number{'s' * (max_elements != 1)} in all",
                                *self.nodes[i].where,
                            )
                vals[i] = v
        return vals

    @per_size
    def _plan(self) -> tuple[list, ...]:
        """The gates in order, as columns: positions, forwards with their constants bound, and
        input positions (-1 for a unary gate's second)."""
        at, fs, xa, xb = [], [], [], []
        shared: dict = {}
        for n in self.nodes:
            if n.kind == "gate":
                at.append(n.index)
                fs.append(NARROWER.get(n.called) or _shared(shared, n.op, n.attrs, _bind,
                                                            GATES[n.op].forward))
                xa.append(n.inputs[0].index)
                xb.append(n.inputs[1].index if len(n.inputs) > 1 else -1)
        return at, fs, xa, xb

    @per_size
    def _sources(self) -> tuple[list[Node], list[Node]]:
        """The input nodes and the constant nodes."""
        return ([n for n in self.nodes if n.kind == "input"],
                [n for n in self.nodes if n.kind == "const"])

    @per_size
    def _kept(self) -> dict[int, int]:
        """The position, after the nodes' values, of each keeping gate's by-product."""
        gates = [n.index for n in self.nodes if n.kind == "gate" and GATES[n.op].keeps]
        return {i: len(self.nodes) + k for k, i in enumerate(gates)}

    @per_size
    def _back_plan(self, wrt: frozenset[str] | None) -> tuple[list, ...]:
        """Per gate input that takes a gradient (and, with `wrt`, leads to those inputs), last
        gate first, as columns: the gate's position, the position of what its backward reads
        as its output (its by-product, for a gate that keeps one), its input positions, the
        input's, the function giving the input's share, and whether it is the gate's last input
        (with `wrt`, the gate's own gradient is then dropped)."""
        needed = [wrt is None] * len(self.nodes)
        if wrt is not None:
            for n in self.nodes:
                needed[n.index] = (n.name in wrt if n.kind == "input"
                                   else any(needed[i.index] for i in n.inputs))
        at, ys, xa, xb, to, fs = [], [], [], [], [], []
        kept = self._kept()
        shared: dict = {}
        for n in reversed(self.nodes):
            if n.kind != "gate" or not needed[n.index]:
                continue
            slots = _shared(shared, n.op, n.attrs, _slots, GATES[n.op])
            a = n.inputs[0].index
            b = n.inputs[-1].index  # a unary gate's functions take its input twice
            for f, x in zip(slots, n.inputs, strict=False):
                if f is not None and needed[x.index]:
                    at.append(n.index)
                    ys.append(kept.get(n.index, n.index))
                    xa.append(a)
                    xb.append(b)
                    to.append(x.index)
                    fs.append(f)
        drop = [wrt is not None and (e + 1 == len(at) or at[e + 1] != i)
                for e, i in enumerate(at)]
        return at, ys, xa, xb, to, fs, drop

    @staticmethod
    def _forward_error(node: Node, vals: list, e: Exception) -> ExpressionError:
        if isinstance(e, ExpressionError):
            return ExpressionError(e.message, *node.where, hint=e.hint)
        return node.misfit([vals[x.index] for x in node.inputs])

    def backward(self, vals: list, seed=None, wrt=None) -> list:
        """Every node's gradient, accumulated at forks. None marks an input that takes no
        gradient (it only feeds slots such as integer labels). `wrt` (input names) limits the
        work to what those inputs' gradients need; other nodes may then hold None."""
        wrt = None if wrt is None else frozenset(wrt)
        grads: list = [None] * len(self.nodes)
        out = vals[self.output.index]
        if seed is None:
            seed = 1.0 if type(out) is float else np.ones_like(out)
        grads[self.output.index] = seed
        with np.errstate(all="ignore"):
            for i, iy, a, b, j, f, drop in zip(*self._back_plan(wrt), strict=True):
                g = grads[i]
                if drop:
                    grads[i] = None  # with `wrt`, a gate's gradient is not kept past its use
                if g is None:
                    continue
                y, xa, xb = vals[iy], vals[a], vals[b]
                try:
                    c = f(g, y, xa, xb)
                except (ArithmeticError, ValueError):  # math raised: numpy gives inf or nan
                    c = _on_numpy(f, [g, y, xa, xb])
                x = vals[j]
                if type(c) is not float or type(x) is not float:
                    c = _fit(c, x)
                prev = grads[j]
                grads[j] = c if prev is None else prev + c
        # differentiable nodes (with `wrt`, those inputs) with no path to the output get zeros;
        # label-only ones keep None
        missing = [i for i, g in enumerate(grads) if g is None] if wrt is None else [
            n.index for n in self._sources()[0] if n.name in wrt and grads[n.index] is None]
        label_only = self._label_only() if missing else ()
        for i in missing:
            if i not in label_only:
                v = vals[i]
                grads[i] = 0.0 if type(v) is float else np.zeros_like(v)
        return grads

    @per_size
    def _label_only(self) -> set[int]:
        """Nodes whose every use is a slot that takes no gradient (integer labels)."""
        label, other = set(), set()
        for node in self.nodes:
            if node.kind == "gate":
                nondiff = GATES[node.op].nondiff
                for slot, inp in enumerate(node.inputs):
                    (label if slot in nondiff else other).add(inp.index)
        return label - other

    def locals(self, vals: list) -> list[list[float | None] | None]:
        """Every scalar gate's local derivative with respect to each input, in node order: its
        share of an upstream gradient of 1. None for inputs, constants and gates that touch a
        tensor."""
        out: list = [None] * len(self.nodes)
        with np.errstate(all="ignore"):
            at, _, xa, xb = self._plan()
            for i, a, b, slots in zip(at, xa, xb, self._local_plan(), strict=True):
                y, x = vals[i], vals[a]
                x2 = x if b < 0 else vals[b]
                if slots and type(y) is float and type(x) is float and type(x2) is float:
                    out[i] = [_local(f, (1.0, y, x, x2)) for f in slots]
        return out

    @per_size
    def _local_plan(self) -> list:
        """For the gates of _plan, the functions giving each input's share (see _slots); None
        for a gate that keeps a by-product (its shares read that, not the output)."""
        shared: dict = {}
        gates = [self.nodes[i] for i in self._plan()[0]]
        return [None if GATES[n.op].keeps else _shared(shared, n.op, n.attrs, _slots,
                                                       GATES[n.op]) for n in gates]


def _local(f: Callable | None, args: tuple) -> float | None:
    if f is None:
        return None
    try:
        return float(f(*args))
    except (ArithmeticError, ValueError):  # math raised: numpy gives inf or nan
        return float(_on_numpy(f, list(args)))
