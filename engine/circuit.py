"""`trace`: text and values in, a circuit with a value and a gradient on every wire out."""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from engine.errors import ExpressionError, located, spot
from engine.fns import shape_text
from engine.graph import Graph, Limits, Node, acyclic_build, as_value, per_size
from engine.ops import fmt_const

PARSED_NODES = 100_000  # nodes of the parsed programs kept, the least recently used dropped first

_parsed: OrderedDict[tuple, Graph] = OrderedDict()
_parsed_nodes = 0  # in all the graphs of _parsed
_parsed_lock = threading.Lock()  # the server's threads share the cache


def parsed(text: str, expand: bool = False, limits: Limits | None = None) -> Graph | None:
    """The graph compile_text made of this text before, if it is still kept."""
    key = (text, expand, limits)
    with _parsed_lock:
        graph = _parsed.get(key)
        if graph is not None:
            _parsed.move_to_end(key)
        return graph


def compile_text(text: str, expand: bool = False, limits: Limits | None = None) -> Graph:
    """Parse once per (text, expand, limits): changing only values re-runs just the two passes.

    The cache is bounded by what it holds, PARSED_NODES nodes in all (a node with its text and
    plans is a few hundred bytes), not by a count of programs: a few big programs push out
    many small ones."""
    from engine.parse import parse_program

    graph = parsed(text, expand, limits)
    if graph is None:
        with acyclic_build():
            program = parse_program(text, limits)
            graph = program.graph.rebuilt(expand=expand)
        # the print lines, their names as the wires' names (nodes do not survive `rebuilt`)
        graph.prints = [(str(p), p.text, {k: n.name for k, n in p.wires.items()},
                         p.after_backward, p.dtype, p.kept) for p in program.prints]
        graph.unused = _backward_pass(program, text) + _unused(program)
        graph = remember(text, expand, limits, graph)
    return graph


_COMMENT = re.compile(r"#[^\n]*")
_STATEMENT = re.compile(r"\s*([A-Za-z_]\w*)\s*\+?=(?!=)", re.ASCII)
_WORD = re.compile(r"(?<![\w.])[A-Za-z_]\w*", re.ASCII)


def backward_start(text: str) -> int:
    """Where the text's hand-written backward pass starts, or -1: at a statement assigning
    (with = or +=) d<name> for a name used before it, or d<a>d<b> (the notes' dfdx, dqdx) for a
    name b used before it and a the last name assigned (the output) or one assigned from b,
    when every assignment from there on assigns a d name. The page's check mode decides the same
    way (static/js/backcheck.js backwardStart; tests/backward_start.json holds both to it)."""
    src = _COMMENT.sub(lambda m: " " * len(m[0]), text)
    seen: set[str] = set()
    reads: dict[str, set[str]] = {}  # each name assigned so far: the names its right side reads
    last = None
    start = -1

    def starts(t: str) -> bool:
        return t[1:] in seen or any(
            t[k] == "d" and t[k + 1:] in seen and t[1:k] in reads
            and (t[1:k] == last or t[k + 1:] in reads[t[1:k]]) for k in range(2, len(t) - 1))

    for m in re.finditer(r"[^\n;]+", src):
        words = _WORD.findall(m[0])
        target = _STATEMENT.match(m[0])
        if target:
            target = target[1]
            gradient = len(target) > 1 and target[0] == "d"
            if start >= 0 and not gradient:
                return -1  # a forward statement follows: not a backward pass
            if start < 0 and gradient and starts(target):
                start = m.start() + len(m[0]) - len(m[0].lstrip())
            if start < 0:
                reads[target] = set(words[1:])
                last = target
        seen.update(words)
    return start


def _backward_pass(program, text: str) -> list[str]:
    """A warning when the program ends with a hand-written backward pass: the circuit is then of
    its last line, which is seldom what was meant."""
    at = backward_start(text)
    if at < 0:
        return []
    target = _STATEMENT.match(text, at)[1]
    last = [s for s in program.statements if s.kind == "assign"][-1].target
    return [f"line {text.count(chr(10), 0, at) + 1} on reads as a hand-written backward pass "
            f"({target} = ...), and this circuit is of its last line, {last}: check mode "
            "(POST /api/backward-check, engine.backward_check) judges a backward pass line by "
            "line"]


def _unused(program) -> list[str]:
    """The assignments the output does not read, as warnings: `rebuilt` drops their gates."""
    gates = [s for s in program.statements if s.kind == "assign" and s.node is not None
             and s.node.kind == "gate" and s.node is not program.graph.output]
    if not gates:
        return []
    needed = {n.index for n in program.graph.topo()}
    name = program.graph.output.name
    out = f"the output {name}" if name else "the output"
    return [f"line {s.line}: {s.target} is not drawn: {out} does not use it"
            for s in gates if s.node.index not in needed]


def remember(text: str, expand: bool, limits: Limits | None, graph: Graph) -> Graph:
    """Keep `graph` as compile_text's result for this text (it may come from another process)."""
    global _parsed_nodes
    key = (text, expand, limits)
    with _parsed_lock:
        if key not in _parsed:
            _parsed[key] = graph
            _parsed_nodes += len(graph.nodes)
        while _parsed_nodes > PARSED_NODES and len(_parsed) > 1:
            _parsed_nodes -= len(_parsed.popitem(last=False)[1].nodes)
        return _parsed[key]


@located
def trace(text: str, values: Mapping | None = None, *, expand: bool = False,
          limits: Limits | None = None, grad=None) -> Circuit:
    """Parse `text`, run the forward and backward passes, and return the circuit. The backward
    pass starts from `grad`, the output's gradient (ones by default)."""
    return Circuit(text, compile_text(text, expand, limits), values or {}, limits, grad)


def ones_warning(out, name: str | None) -> str | None:
    """The warning for an output of many elements whose backward pass starts from ones; None for
    a number (PyTorch's tensor([0.7071]) is one number too)."""
    if np.size(out) == 1:
        return None
    named = f" {name}" if name else ""
    return (f"the output{named} has shape {shape_text(out)}: the backward pass starts from ones "
            "(the gradient of the sum of its elements)")


def jsonable(x):
    """Plain JSON data with non-finite numbers spelled as strings, as the HTTP contract says."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (float, np.floating)):
        return spelled(float(x))
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def spelled(x: float) -> float | str:
    """A float as the HTTP contract sends it: "NaN", "Infinity" or "-Infinity" if not finite."""
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def json_value(v: np.ndarray | None) -> float | str | list | None:
    """A wire's value or gradient as JSON data: a number or nested lists of numbers.

    Only the numbers need converting, so this is the whole cost of a response body: an array
    that is all finite goes out by one tolist()."""
    if v is None:
        return None
    if type(v) is float:
        return v if v - v == 0 else spelled(v)
    if v.ndim == 0:
        return spelled(float(v))
    if _finite(v):
        return v.tolist()
    return jsonable(v)


def value_warnings(values: Mapping, inputs: Mapping, computed: set) -> list[str]:
    """What happens to each given value: `inputs` maps each input to the code's value for it
    (None when the code gives none), `computed` holds the names the code computes. A value an
    input takes (one `as_value` has read) is also named if it holds a NaN or an infinity."""
    said = []
    for name, value in values.items():
        if name in computed:
            said.append(f"value for {name} ignored: the code computes it")
        elif name not in inputs:
            said.append(f"value for {name} ignored: the code does not use it")
        else:
            code = inputs[name]  # the code's literal: its number, or its list's shape
            if code is not None:
                said.append(f"value for {name} overrides the code's {name} = " + (
                    fmt_const(code) if np.ndim(code) == 0 else f"[…] ({shape_text(code)})"))
            if isinstance(value, Mapping):
                continue  # {"randn": ...}: finite
            v = value if type(value) is float or isinstance(value, np.ndarray) else (
                float(value) if type(value) is int else np.asarray(value, dtype=float))
            if not _finite(v):
                said.append(f"input {name} holds {_nonfinite_kinds(*_holds(v), (False, False))}")
    return said


def _holds(v) -> tuple[bool, bool]:
    """Whether a value holds a NaN, and whether it holds an infinity."""
    if type(v) is float or v.ndim == 0:
        return math.isnan(v), math.isinf(v)
    return bool(np.isnan(v).any()), bool(np.isinf(v).any())


def _nonfinite_kinds(nan: bool, inf: bool, before: tuple[bool, bool]) -> str:
    """The kinds of non-finite numbers a value holds that `before` (what its sources held) did
    not, in words: "NaN", "an infinite value", both, or "" for none."""
    return " and ".join(what for what, new in (("NaN", nan and not before[0]),
                                                ("an infinite value", inf and not before[1]))
                        if new)


@per_size
def _fixed(graph: Graph) -> list[dict]:
    """Each node's fields that no value changes (id, kind, name, label, op, inputs; a gate's
    constants, attrs, when it has any), once per graph: a cached graph serves every request with
    the same text."""
    return [{"id": n.id, "kind": n.kind, "name": n.name, "label": n.label, "op": n.op,
             "inputs": [i.id for i in n.inputs],
             **({"attrs": jsonable(n.attrs)} if n.kind == "gate" and n.attrs else {})}
            for n in graph.nodes]


# what a print line's numbers are written as: x.data, x.grad, x.item(), x.data.item(), ...
_REF = re.compile(r"([A-Za-z_]\w*)(\.data|\.grad)?(\.item\(\))?")
_STRING = re.compile(r"([rRuUfF]{0,2})(['\"])(.*)\2", re.S)
_FIELD = re.compile(r"\{([^{}:!]*)(?::([^{}]*))?\}")


def _arguments(text: str) -> list[str]:
    """A call's arguments as written, split at the commas outside brackets and quotes."""
    args, depth, quote, start = [], 0, "", 0
    for k, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[start:k].strip())
            start = k + 1
    return [*args, text[start:].strip()] if text.strip() else []


def _finite(v) -> bool:
    if type(v) is float or v.ndim == 0:
        return math.isfinite(v)
    if v.size <= 64:  # a short vector: math on its numbers costs less than a numpy reduction
        return all(map(math.isfinite, v.ravel().tolist()))
    return bool(np.isfinite(v).all())


PRINTED = 20  # the elements of a tensor a print note shows; a bigger one is shown as written


def pytorch_str(v, dtype: str) -> str:
    """What PyTorch prints for a tensor of this value and dtype ("float32" or "float64"),
    "tensor([0.5000, 0.0000, 0.5000])": four decimals, "4." when every number is whole, all
    in scientific notation when the numbers span more than three powers of ten (or pass 1e8,
    or go below 1e-4), each padded to the widest. A note is one line, so its line breaks
    (and the indentation after them) are one space: "tensor([[1., 2.], [3., 4.]])"."""
    a = np.asarray(v, dtype=dtype)
    # the finite numbers other than zero choose the notation and the width
    nonzero = [x for x in a.ravel().tolist() if x != 0 and math.isfinite(x)]
    sizes = [abs(x) for x in nonzero]
    sci = bool(sizes) and (max(sizes) / min(sizes) > 1000 or max(sizes) > 1e8
                           or min(sizes) < 1e-4)
    whole = not sci and all(x.is_integer() for x in nonzero)

    def cell(x: float) -> str:
        if sci or not whole:
            return format(x, ".4e" if sci else ".4f")
        return f"{x:.0f}." if math.isfinite(x) else str(x)

    width = max(map(len, map(cell, nonzero)), default=1)

    def nested(x) -> str:
        if type(x) is float:
            return cell(x).rjust(width)
        return "[" + ", ".join(map(nested, x)) + "]"

    suffix = ", dtype=torch.float64" if dtype == "float64" else ""
    return f"tensor({nested(a.tolist())}{suffix})"


class Circuit:
    def __init__(self, text: str, graph: Graph, values: Mapping, limits: Limits | None = None,
                 grad=None):
        self.text = text
        self.graph = graph
        self.limits = limits
        names = graph.inputs()
        self.values = {k: v for k, v in values.items() if k in names}
        self.vals = graph.forward(self.values, limits)
        self.warnings: list[str] = value_warnings(  # the values as read, not read again
            {k: self.vals[names[k].index] if k in names else v for k, v in values.items()},
            {name: n.default for name, n in names.items()},
            {n.name for n in graph.nodes if n.kind == "gate" and n.name})
        out = self.vals[graph.output.index]
        self.grad = grad  # as given (the staged code writes a random one by its seed)
        if grad is not None:  # the upstream gradient of a circuit that is part of a bigger one
            grad = as_value(grad, "the output's gradient", limits and limits.max_elements)
            if np.shape(grad) != np.shape(out):
                name = f" {graph.output.name}" if graph.output.name else ""
                raise ExpressionError(f"the output's gradient has shape {shape_text(grad)}, but "
                                      f"the output{name} has shape {shape_text(out)}")
        elif (warning := ones_warning(out, graph.output.name)) is not None:
            self.warnings.append(warning)
        self.grads = graph.backward(self.vals, grad)
        del self.vals[len(graph.nodes):]  # gates' by-products: the backward pass has read them
        self.warnings += self._nonfinite() + getattr(graph, "unused", [])
        self.notes = [self._printed(*p) for p in getattr(graph, "prints", ())]

    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes

    @property
    def value(self) -> np.ndarray:
        return self.vals[self.graph.output.index]

    @property
    def inputs(self) -> dict[str, np.ndarray]:
        """Every input's value as used in this evaluation."""
        return {name: self.vals[n.index] for name, n in self.graph.inputs().items()}

    @property
    def gradients(self) -> dict[str, np.ndarray | None]:
        return {name: self.grads[n.index] for name, n in self.graph.inputs().items()}

    def _nonfinite(self) -> list[str]:
        """Name the gates where a NaN or an infinity first appears: a gate none of whose inputs
        held that kind (not every gate downstream; a given value that holds one is named by
        value_warnings). An unnamed gate is named by where it starts in the text."""
        finite = [v - v == 0 if type(v) is float else _finite(v) for v in self.vals]
        bad_grads = [n.name for n in self.nodes if n.kind == "input"
                     and self.grads[n.index] is not None and not _finite(self.grads[n.index])]
        if all(finite) and not bad_grads:
            return []
        notes = []
        held: dict[int, tuple[bool, bool]] = {}  # each non-finite node: NaN?, infinity?
        for node in self.nodes:
            if finite[node.index]:
                continue
            held[node.index] = _holds(self.vals[node.index])
            if node.kind != "gate":
                continue
            before = [held.get(i.index, (False, False)) for i in node.inputs]
            what = _nonfinite_kinds(*held[node.index], (any(b[0] for b in before),
                                                        any(b[1] for b in before)))
            if what:
                where = (f" ({node.name})" if node.name else
                         f" at {spot(self.text, node.span[0])}" if node.span else "")
                notes.append(f"the {node.label} gate{where} produced {what}")
        return notes + [f"the gradient on {name} is not finite" for name in bad_grads]

    def _printed(self, note: str, text: str, wires: dict, after_backward: bool,
                 dtype: str | None, kept: frozenset[str]) -> str:
        """What a print line shows, "line 15 prints 24.7041", where each of its arguments is a
        string, a wire's number (x.data, x.item()), its gradient below o.backward() (x.grad),
        or an f-string of those; in PyTorch code (`dtype` set) x.data and x.grad are tensors,
        printed as PyTorch prints them, and x.grad is None but for an input that requires a
        gradient (`kept`) below o.backward(); else the line as written, "line 15 prints x"."""
        at = {n.name: n.index for n in reversed(self.nodes) if n.name is not None}

        def number(ref: str, spec: str | None = None):
            m = _REF.fullmatch(ref.strip())
            if m is None or m[1] not in wires or wires[m[1]] not in at or not (m[2] or m[3]):
                return None
            k = at[wires[m[1]]]
            if m[2] == ".grad" and dtype is not None and not (after_backward and m[1] in kept):
                return None if m[3] or spec else "None"  # None has no .item() and no format
            if m[2] == ".grad" and not after_backward:
                return None  # before the backward pass, micrograd and PyTorch print 0 or None
            v = (self.grads if m[2] == ".grad" else self.vals)[k]
            if v is None:
                return None
            # in a float32 program the numbers are float32's (0.1 prints as 0.10000000149011612,
            # past float32's range as inf)
            with np.errstate(over="ignore"):
                v = np.asarray(v, dtype or "float64")
            # a tensor prints as tensor(...); in an f-string, one of no dimensions as a number
            if dtype is not None and not m[3] and (spec is None or v.ndim > 0):
                return pytorch_str(v, dtype) if not spec and v.size <= PRINTED else None
            if v.size != 1:
                return None
            try:
                return format(float(v.ravel()[0]), spec or "")
            except ValueError:  # a format spec a float does not take
                return None

        shown = []
        for arg in _arguments(text):
            m = _STRING.fullmatch(arg)
            if m is None:
                shown.append(number(arg))
            elif "f" not in m[1].lower():
                shown.append(m[3])
            else:
                parts = _FIELD.split(m[3])  # text, ref, spec, text, ref, spec, ..., text
                for k in range(1, len(parts), 3):
                    parts[k] = number(parts[k], parts[k + 1] or "")
                    parts[k + 1] = ""
                shown.append(None if None in parts else "".join(parts))
        if not shown or None in shown:
            return note
        return f"{note.split(' prints ')[0]} prints {' '.join(shown)}"

    def to_dict(self) -> dict:
        """The /api/circuit response body, ready for strict JSON."""
        nodes = []
        for node, fixed, v, g, local in zip(self.nodes, _fixed(self.graph), self.vals,
                                            self.grads, self.graph.locals(self.vals),
                                            strict=True):
            d = fixed.copy()
            d["inputs"] = fixed["inputs"].copy()
            d["value"] = json_value(v)
            d["grad"] = json_value(g)
            d["shape"] = [] if type(v) is float else list(v.shape)
            if node.kind == "gate":
                d["local"] = None if local is None else [json_value(p) for p in local]
                d["span"] = list(node.span) if node.span else None
            nodes.append(d)
        return {
            "expression": self.text,
            "output": self.graph.output.id,
            "value": json_value(self.value),
            "gradients": {name: json_value(g) for name, g in self.gradients.items()},
            "nodes": nodes,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }

    def code(self) -> dict:
        """Staged forward and backward Python in the notes' style."""
        from engine.codegen import generate

        return generate(self)

    def check(self, h: float = 1e-5) -> dict:
        """Central-difference check of every input's gradient, as strict JSON data."""
        from engine.check import gradcheck  # check.py reads circuits; it is not needed to trace

        return jsonable(gradcheck(self, h))
