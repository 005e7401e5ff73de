"""Check a hand-written backward pass, line by line, against the engine's own backward pass.

The code is a forward pass followed by a backward pass in the course's staged style. Each forward
statement `v = expr(u1, u2, ...)` is a stage; its contribution to du is the local gradient
∂expr/∂u times dv, computed by the engine's backward pass over that statement's circuit seeded
with dv. A backward line `du = ...` or `du += ...` that reads dv (or no gradient at all, right
below the output) is expected to add the contributions of those stages, and it is judged in two
steps: is its own step right, given the d values the code holds at that point (the cause of an
error), and is its result right (a line whose step is right can still inherit an earlier error)?
Backward lines are evaluated by the engine too: each right side is a circuit run forward with
the forward values and the current d values bound. User text is never run as Python.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from engine.circuit import json_value, ones_warning, value_warnings
from engine.codegen import _consts
from engine.errors import ExpressionError, listed, located
from engine.fns import Sym, shape_text, sym
from engine.graph import Graph, Limits, as_value, missing_values
from engine.ops import GATES, unbroadcast
from engine.parse import AUGMENTED, _equality, parse_program, tokenize

RTOL, ATOL = 1e-6, 1e-9  # a hand-written local gradient agrees with the engine's to ~1e-15


# --- statements: the one place that knows how the parser splits a program ----------------------


@dataclass(frozen=True)
class Statement:
    """One `target op rhs` statement of the pasted code, as the checker needs it."""

    line: int  # 1-based line number in the code
    target: str
    op: str  # "=" or "+="
    span: tuple[int, int]  # the whole statement, [start, end) in the code
    target_span: tuple[int, int]
    rhs_span: tuple[int, int]
    # the right side as circuits whose inputs are the names it reads: one, or one per element
    # of a list `[a * g, b * g]` (is_list)
    rhs: tuple[Graph, ...]
    is_list: bool = False
    # np.random.randn(5, 10) -> (5, 10); np.random.randn(*D.shape) -> "D"; rhs is then ()
    randn: tuple[int, ...] | str | None = None
    # dw[2] += ... -> 2, dW[1, 0] += ... -> (1, 0): the right side added into that element
    index: int | tuple[int, ...] | None = None


# The statements come from the parser's tokens (engine.parse.tokenize: comments, brackets across
# lines and lexical mistakes handled there); each right side, and each element of a list of
# expressions `[e1, e2]`, is parsed by engine.parse as an expression of its own, so that a line
# reads the d values the code holds at that point (parse_program reads a whole program as one
# circuit, where `dnum = invden` makes dnum the very wire invden).
_RANDN = re.compile(r"np\.random\.randn\(\s*(?:(\d+(?:\s*,\s*\d+)*)\s*,?|\*\s*([A-Za-z_]\w*)"
                    r"\s*\.\s*shape)\s*\)")
_WORDS = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


def _statements(code: str, limits: Limits | None) -> list[Statement]:
    toks = tokenize(code, limits, "code")
    kind, text, starts, ends = toks.kind, toks.text, toks.start, toks.end
    out = []
    stops = [k for k, kd in enumerate(kind) if kd == "sep" or kd == "end"]
    for first, stop in zip([0, *(k + 1 for k in stops[:-1])], stops, strict=True):
        if first == stop:
            continue  # an empty line
        last = stop - 1  # the statement's tokens: first..last
        start, end = starts[first], ends[last]
        if kind[first] == "kw" or (text[first] == "print" and kind[first + 1] == "("):
            continue  # imports and prints do nothing here
        index, at = None, first + 1  # the token after the target (and its index)
        if kind[first] == "name" and kind[at] == "[":
            index, at = _target_index(toks, at)
        op = kind[at]
        if kind[first] == "name" and op == "==":  # dq == ..., most likely meant as dq = ...
            raise _equality(toks[first + 1], text[first])
        if kind[first] != "name" or (op != "=" and op not in AUGMENTED):
            raise ExpressionError("each line assigns a name: name = expression", start, end,
                                  hint="in the backward pass: dname = ... or dname += ...")
        if op not in ("=", "+="):
            raise ExpressionError(f"'{op}' is not supported here", starts[at], ends[at],
                                  hint="use = or +=")
        if at + 1 > last:
            raise ExpressionError("the line ends too early; expected an expression", end, end)
        rhs_span = (starts[at + 1], end)
        items = _list_items(toks, at + 1, last)
        r = _RANDN.fullmatch(code, *rhs_span)  # np.random.randn(5, 10) or (*D.shape)
        randn = r and (tuple(int(n) for n in r[1].split(",")) if r[1] else r[2])
        rhs = () if r else tuple(_parse_piece(code, s, e, limits) for s, e in items or [rhs_span])
        out.append(Statement(
            line=code.count("\n", 0, start) + 1, target=text[first], op=op, span=(start, end),
            target_span=(starts[first], ends[first]), rhs_span=rhs_span, rhs=rhs,
            is_list=bool(items), randn=randn, index=index))
    return out


def _target_index(toks, k: int) -> tuple[int | tuple[int, ...], int]:
    """The whole-number index `[2]` or `[1, -1]` starting at token k (a '['), and the token after
    its ']'."""
    kind, text = toks.kind, toks.text
    numbers, begin = [], k
    k += 1
    while True:
        sign = -1 if kind[k] == "-" else 1
        k += kind[k] == "-"
        if kind[k] != "num" or not text[k].isdigit():
            raise ExpressionError("an index must be a whole-number literal, like 0 or -1",
                                  toks.start[k], toks.end[k], hint="write dw[0] += ...")
        numbers.append(sign * int(text[k]))
        k += 1
        if kind[k] == "]":
            return (numbers[0] if len(numbers) == 1 else tuple(numbers)), k + 1
        if kind[k] != ",":
            raise ExpressionError("an index is whole numbers between [ and ]", toks.start[begin],
                                  toks.end[k], hint="write dw[0] += ... or dW[1, 2] += ...")
        k += 1


def _list_items(toks, first: int, last: int) -> list[tuple[int, int]]:
    """The span of each element when tokens first..last are one list `[a, b, ...]`, else []."""
    if toks.kind[first] != "[":
        return []
    depth, items, begin = 0, [], first + 1
    for k in range(first, last + 1):
        kind = toks.kind[k]
        depth += (kind in "([") - (kind in ")]")
        if depth == 0 and k != last:
            return []  # `[a, b][0]`, `[a] + b`: not a list as a whole
        if (kind == "," and depth == 1) or k == last:
            if begin == k and k == last and items:
                break  # a trailing comma, as Python allows
            if begin == k:
                raise ExpressionError("empty element in a list", toks.start[k], toks.end[k])
            items.append((toks.start[begin], toks.end[k - 1]))
            begin = k + 1
    return items


def _parse_piece(code: str, start: int, end: int, limits: Limits | None) -> Graph:
    """code[start:end] as an expression's circuit, its spans in the whole code. It is read alone
    (parse_program's `piece`), not knowing the statements before it."""
    try:
        graph = parse_program(code[start:end], limits, piece=True).graph
    except ExpressionError as e:
        e.start, e.end = (None if at is None else at + start for at in (e.start, e.end))
        raise
    for node in graph.nodes:
        if node.span is not None:
            node.span = (node.span[0] + start, node.span[1] + start)
    return graph


# --- right sides: values and local gradients, by the engine's two passes ---------------------


def _pairs(name: str, known) -> list[tuple[str, str]]:
    """Each way to read name as d<a>d<b> (the notes' dfdx, dqdx) with a and b in known."""
    return [(name[1:k], name[k + 1:]) for k in range(2, len(name) - 1)
            if name[0] == "d" and name[k] == "d" and name[1:k] in known and name[k + 1:] in known]


def _dname(name: str, known) -> bool:
    """Whether name can be a gradient (d<name>) or a local gradient (d<a>d<b>) of the forward
    names `known`; _Check._resolve says which, once the output is known."""
    return name[0] == "d" and (name[1:] in known or bool(_pairs(name, known)))


def _target(code: str, st: Statement) -> tuple[str, tuple[int, int]]:
    """The text a statement assigns, with its index (dw[2]), and its span."""
    text = code[st.target_span[0]:st.rhs_span[0]].rstrip().removesuffix(st.op).rstrip()
    return text, (st.target_span[0], st.target_span[0] + len(text))


def _reads(st: Statement) -> dict[str, tuple[int, int]]:
    """Names the right side reads, each with the span of its first use."""
    names: dict[str, tuple[int, int]] = {}
    for g in st.rhs:
        for name, node in g.inputs().items():
            names.setdefault(name, node.span or st.rhs_span)
    if isinstance(st.randn, str):
        names.setdefault(st.randn, st.rhs_span)
    return names


def _run(g: Graph, scope: Mapping, limits: Limits | None = None) -> list:
    """Every node's value in circuit g, its inputs read from scope."""
    return g.forward({name: scope[name] for name in g.inputs()}, limits)


def _value(st: Statement, scope: Mapping, limits: Limits | None) -> np.ndarray:
    parts = [_run(g, scope, limits)[g.output.index] for g in st.rhs]
    if not st.is_list:
        return parts[0]
    if len({np.shape(p) for p in parts}) > 1:
        raise ExpressionError("the elements of this list have different shapes", *st.rhs_span)
    return np.array(parts, dtype=float)


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and bool(
        np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True))


def _json(x):
    """A gradient as JSON data, always as floats."""
    return json_value(np.asarray(x, dtype=float))


def _num(x) -> str:
    return f"{float(x):.4g}"


def _factor(got, right, sign: str, size: str) -> str | None:
    """How got is off from right by one factor, in words: `sign` when its sign is wrong, and
    `size` then how many times too large or too small; None when no finite factor says it (a
    zero, inf or nan)."""
    # floats: a numpy number would warn where 1 / r overflows
    r = float(got) / float(right) if right != 0 else 0.0
    if not (r != 0 and math.isfinite(r) and math.isfinite(1 / r)):  # finite either way round
        return None
    words = [sign] if r < 0 else []
    if abs(abs(r) - 1) > RTOL:
        words.append(size + (f"{_num(abs(r))} times too large" if abs(r) > 1
                             else f"{_num(1 / abs(r))} times too small (a missing factor?)"))
    return " and ".join(words)


@functools.cache
def _written_out() -> dict[tuple, str]:
    """Each one-input gate by the chain of gates its expansion writes out: sigmoid by the
    notes' 1.0 / (1 + math.exp(-x)), the chain *-1, exp, +1, 1/x."""
    out = {}
    for op, gate in GATES.items():
        if gate.arity == 1 and gate.expand is not None:
            g = Graph()
            g.gate(op, [g.input("x")])
            out[_chain_of(g.rebuilt(expand=True))] = op
    return out


def _chain_of(g: Graph) -> tuple | None:
    """A circuit that is a chain of one-input gates from one input as its gates, (op,
    constants) each; None for any other circuit."""
    nodes = g.topo()
    if nodes[0].kind != "input" or len(nodes) < 2 or any(
            n.kind != "gate" or n.inputs != (prev,)
            for prev, n in zip(nodes[:-1], nodes[1:], strict=True)):
        return None
    return tuple((n.op, tuple(sorted(n.attrs.items()))) for n in nodes[1:])


def _finite(*xs: float) -> bool:
    return all(math.isfinite(x) for x in xs)


# --- the check ----------------------------------------------------------------------------------


class _Check:
    def __init__(self, code: str, statements: list[Statement], values: Mapping,
                 limits: Limits | None):
        self.code = code
        self.limits = limits
        self.max_elements = limits.max_elements if limits else None
        self.warnings: list[str] = []
        self._split(statements)
        self._forward(values)
        self._seed()
        self._resolve()
        self._reference()

    # the forward pass and the backward pass

    def _split(self, statements: list[Statement]) -> None:
        self.forward: list[Statement] = []
        self.backward: list[Statement] = []
        assigned: dict[str, Statement] = {}
        self.free: dict[str, tuple[int, int]] = {}  # inputs read but never assigned: first use
        for st in statements:
            if not self.backward and st.op == "=" and not self._starts_backward(st, assigned):
                if st.index is not None:
                    text, span = _target(self.code, st)
                    raise ExpressionError(f"{text} = ... assigns one element: each line of the "
                                          "forward pass assigns a whole variable", *span,
                                          hint=f"write {st.target} whole, as {st.target} = "
                                          "np.array([...])")
                if st.target in assigned:
                    raise ExpressionError(
                        f"'{st.target}' is assigned twice in the forward pass", *st.target_span,
                        hint="give each stage its own name, so that d<name> names one gradient")
                if st.target in self.free:
                    raise ExpressionError(f"'{st.target}' is used before it is assigned",
                                          *self.free[st.target], hint="assign names before "
                                          "using them")
                for name, span in _reads(st).items():
                    if name not in assigned:
                        self.free.setdefault(name, span)
                assigned[st.target] = st
                self.forward.append(st)
            else:
                self.backward.append(st)
        self.names = list(self.free) + list(assigned)  # every forward variable
        known = set(self.names)
        for name in self.names:
            if name[0] == "d" and name[1:] in known:
                span = assigned[name].target_span if name in assigned else self.free[name]
                raise ExpressionError(
                    f"'{name}' is a forward variable, but d{name[1:]} names the gradient of "
                    f"'{name[1:]}' in the backward pass", *span, hint=f"rename {name}")
        if not self.backward:
            raise ExpressionError(
                "there is no backward pass: after the forward pass, add lines that compute "
                "the gradients, like dx = ... and dx += ...", len(self.code), len(self.code))
        for st in self.backward:
            u = st.target[1:]
            if st.target in known or not _dname(st.target, known):
                written, span = _target(self.code, st)  # with its index: x[0]
                if st.target in known and st.op == "+=":
                    what = (f"'{written} +=' changes a forward variable: give each stage its "
                            "own name")
                elif st.target in known:
                    what = (f"'{written} =' changes a forward variable" if st.index is not None
                            else f"'{written}' is a forward variable") + (
                        ": the backward pass assigns only gradients d<name>")
                elif st.target[0] == "d":
                    what = (f"'{st.target}' names the gradient of '{u}', but the forward pass "
                            f"has no variable '{u}'")
                else:
                    what = (f"'{st.target}' is not a gradient: in the backward pass each line "
                            "assigns d<name> for a variable of the forward pass")
                raise ExpressionError(what, *span, hint=None if st.target in known
                                      else self._suggest(st.target))
            if st.index is not None and st.op != "+=":
                text, span = _target(self.code, st)
                raise ExpressionError("an element of a gradient is added to, with +=", *span,
                                      hint=f"start {st.target} = np.zeros_like("
                                      f"{u if u in known else '...'}) and add into it: "
                                      f"{text} += ...")
            for name, span in _reads(st).items():
                if name in known or _dname(name, known):
                    continue
                what = f"unknown name '{name}'"
                hint = self._suggest(name)
                if name[0] == "d":
                    what += f": the forward pass has no variable '{name[1:]}'"
                elif "d" + name in known:  # dnum = ... above, and no num: no forward pass
                    what += ": the backward pass reads the forward pass's variables"
                    hint = f"paste the forward pass that computes {name} above the backward pass"
                raise ExpressionError(what, *span, hint=hint)
        # a number, a list of numbers or random numbers is an input, whose gradient is asked for
        stages = [st for st in self.forward if any(g.output.kind != "const" for g in st.rhs)]
        if not any(_reads(st) for st in stages):
            raise ExpressionError("the forward pass computes nothing: it has no statement that "
                                  "uses a variable", 0, len(self.code))
        self.stages = {st.target: st for st in stages}
        self.reads = {v: list(_reads(st)) for v, st in self.stages.items()}
        self.readers = {name: [v for v in self.stages if name in self.reads[v]]
                        for name in self.names}

    def _starts_backward(self, st: Statement, assigned: Mapping[str, Statement]) -> bool:
        """Whether st, read after the statements `assigned`, starts the backward pass: it assigns
        d<name> for a name used before it, or d<a>d<b> where b was used before and a is the last
        variable assigned (the output) or was computed from b. (static/js/backcheck.js
        `backwardStart` decides the same way.)"""
        known = assigned.keys() | self.free.keys()
        if st.target[0] == "d" and st.target[1:] in known:
            return True
        return any(a == self._last or b in _reads(assigned[a])
                   for a, b in _pairs(st.target, known) if a in assigned)

    @property
    def _last(self) -> str:
        """The last forward variable assigned so far: the output, unless data says otherwise."""
        return self.forward[-1].target

    def _suggest(self, name: str) -> str | None:
        pool = self.names + ["d" + n for n in self.names] + [
            f"d{self._last}d{n}" for n in self.names if n != self._last]
        close = difflib.get_close_matches(name, pool, n=1)
        return f"did you mean {close[0]}?" if close else None

    def _forward(self, values: Mapping) -> None:
        """Every forward variable's value: inputs from the code or the request, stages by the
        engine's forward pass over each statement."""
        if missing := [n for n in self.free if n not in values]:
            raise missing_values(missing, self.free[missing[0]], self.names)
        self.env = {name: as_value(values[name], name, self.max_elements) for name in self.free}
        inputs = dict.fromkeys(self.free)
        for st in self.forward:
            v = st.target
            self.env[v] = (self._randn(st) if st.randn is not None
                           else _value(st, self.env, self.limits))
            if v in values and v not in self.stages:
                inputs[v] = self.env[v]
                self.env[v] = as_value(values[v], v, self.max_elements)
        # worded as the drawing's warnings, which the page shows once
        self.warnings += value_warnings(values, inputs, set(self.stages))

    def _randn(self, st: Statement) -> np.ndarray:
        """np.random.randn(...) as a seeded random value: the n-th such call in the code gets
        seed n."""
        seed = [s for s in self.forward + self.backward if s.randn is not None].index(st)
        shape = st.randn
        if isinstance(shape, str):
            shape = np.shape(self.env[shape])
            if not shape:
                return np.float64(np.random.default_rng(seed).standard_normal())
        return as_value({"randn": list(shape), "seed": seed}, st.target, self.max_elements)

    # the gradient the backward pass starts from

    def _seed(self) -> None:
        """The output and its gradient: a line giving d<v> as data (np.random.randn, or numbers
        for the last forward variable when it is a tensor) makes v the output; otherwise the
        last forward variable is, with gradient 1 (ones for a tensor)."""
        self.data_line: Statement | None = None
        self.output = self._last
        for st in self.backward:
            u = st.target[1:]
            if u not in self.env:  # the notes' d<v>d<v>: the gradient of v itself
                u = next((a for a, b in _pairs(st.target, self.env) if a == b), u)
            if u not in self.env or st.index is not None or not (st.randn is not None or (
                    u == self._last and not _reads(st) and np.ndim(self.env[u]))):
                continue
            if self.data_line is not None:
                raise ExpressionError(
                    f"a second upstream gradient given as data: line "
                    f"{self.data_line.line} already gives d{self.data_line.target[1:]}",
                    *st.span, hint="give data only for the output's gradient")
            if self.readers[u]:
                raise ExpressionError(
                    f"{st.target} is given as data, so {u} must be the output, but "
                    f"{self.readers[u][0]} uses {u}", *st.span,
                    hint="compute this gradient from the lines below it instead")
            self.data_line, self.output = st, u
            self.seed = self._randn(st) if st.randn is not None else _value(st, {}, self.limits)
            self._check_shape(st, u, self.seed)
        if self.output not in self.stages:
            where = next((st for st in self.forward if st.target == self.output), self.data_line)
            raise ExpressionError(f"the output {self.output} is not computed from anything",
                                  *where.span,
                                  hint="end the forward pass with the statement that computes "
                                       "the output")
        if self.data_line is None:
            out = self.env[self.output]
            self.seed = np.ones_like(out)[()]
            if (warning := ones_warning(out, self.output)) is not None:
                self.warnings.append(warning)

    # the backward pass's names

    def _resolve(self) -> None:
        """Each d name of the backward pass as what it names: the gradient of v, written d<v>
        or, as the notes do, d<output>d<v>; or the local gradient ∂a/∂b, written d<a>d<b>, of a
        stage a that reads b. The statements are renamed to d<v> for gradients; self.spell
        keeps the code's name for each gradient, self.locals the local gradients."""
        self.spell: dict[str, str] = {}  # v: the code's name for the gradient of v
        self.locals: dict[str, tuple[str, str]] = {}  # d<a>d<b>: (a, b)
        meaning: dict[str, str] = {}
        for st in self.backward:
            if st.randn is not None and st is not self.data_line:
                raise ExpressionError(
                    f"'{st.target}' is not the output's gradient: np.random.randn(...) gives "
                    "only the output's gradient as data", *st.span,
                    hint=f"write d{self.output} = np.random.randn(...)")
            for name, span in [(st.target, st.target_span), *_reads(st).items()]:
                if name not in self.env and name not in meaning:
                    meaning[name] = self._meaning(name, span)
        for k, st in enumerate(self.backward):
            for g in st.rhs:
                for node in g.inputs().values():
                    node.name = meaning.get(node.name, node.name)
            self.backward[k] = replace(st, target=meaning[st.target])
            if st is self.data_line:
                self.data_line = self.backward[k]
        # a gradient no line assigns is named as the code names the others: d<output>d<v> in
        # the notes' naming, else d<v>
        notes = any(name != "d" + v for v, name in self.spell.items())
        for v in self.names:
            self.spell.setdefault(v, f"d{self.output}d{v}" if notes else "d" + v)

    def _meaning(self, name: str, span: tuple[int, int]) -> str:
        """The name a d name of the code stands for: d<v> for a gradient, itself for a local
        gradient."""
        readings = [(name[1:],)] if name[1:] in self.env else []
        pairs = _pairs(name, self.env)
        for a, b in pairs:
            if a == self.output:
                readings.append((b,))
            elif b in self.reads.get(a, ()):
                readings.append((a, b))
        if not readings:
            a, b = pairs[0]
            why = (f"{a} is an input, which has no local gradient" if a not in self.stages else
                   f"{a} = {self.code[slice(*self.stages[a].rhs_span)]} does not use {b}")
            raise ExpressionError(
                f"'{name}' reads as ∂{a}/∂{b}, but {why}", *span,
                hint=f"the gradient of the output {self.output} with respect to {b} is "
                     f"d{b} (or d{self.output}d{b})")
        if len(readings) > 1:
            said = [f"the gradient of {r[0]}" if len(r) == 1 else f"∂{r[0]}/∂{r[1]}"
                    for r in readings]
            raise ExpressionError(f"'{name}' could name {listed(said).replace(' and ', ' or ')}",
                                  *span, hint="rename a forward variable so that each d name "
                                  "reads one way")
        if len(readings[0]) == 2:
            self.locals[name] = readings[0]
            return name
        v = readings[0][0]
        other = self.spell.setdefault(v, name)
        if other != name:
            raise ExpressionError(f"'{name}' and '{other}' both name the gradient of {v}",
                                  *span, hint=f"use one name: {other}")
        return "d" + v

    def _respell(self, text: str | None) -> str | None:
        """A message with each gradient d<v> under the code's own name for it."""
        return text and re.sub(r"(?<![\w.])d(\w+)", lambda m: self.spell.get(m[1], m[0]), text)

    def _shape_rule(self, u: str) -> str:
        return f"d{u} must have {u}'s shape {shape_text(self.env[u])}"

    def _check_shape(self, st: Statement, u: str, value) -> None:
        if np.shape(value) != np.shape(self.env[u]):
            raise ExpressionError(
                f"{self._shape_rule(u)}, but this line gives {shape_text(value)}", *st.rhs_span,
                hint="a gradient always has the shape of its variable")

    # the right answer, stage by stage

    def _shares(self, v: str, seed, env: Mapping | None = None) -> dict[str, list[np.ndarray]]:
        """Stage v's contribution to the gradient of each name u it reads, seeded with its own
        gradient `seed`, as one share per use of u: per gate input that takes u (the gate's vjp
        there, from the engine's backward pass over the statement's circuit) and per list element
        that is u itself. People write a line per use (x * x, x*y + y) or one for them all.
        `env`: the forward values (by default the code's own)."""
        st = self.stages[v]
        seed = np.asarray(seed, dtype=float)
        out: dict[str, list] = {u: [] for u in self.reads[v]}
        for k, g in enumerate(st.rhs):
            vals = _run(g, self.env if env is None else env)
            grads = g.backward(vals, (seed[k] if st.is_list else seed)[()])
            nums = [np.float64(x) if type(x) is float else x for x in vals]  # 1/0 is inf here
            uses = [(g.output, grads[g.output.index])] if g.output.kind == "input" else []
            for n in g.nodes:
                takes = [j for j, i in enumerate(n.inputs) if i.kind == "input" and j not in
                         GATES[n.op].nondiff] if n.index not in g._label_only() else []
                if takes:
                    parts = GATES[n.op].vjp(grads[n.index], nums[n.index],
                                            *[nums[i.index] for i in n.inputs], **n.attrs)
                    uses += [(n.inputs[j], parts[j]) for j in takes]
            for i, c in uses:
                shape = np.shape(self.env[i.name])
                out[i.name].append(unbroadcast(np.asarray(c, dtype=float), shape)[()])
        return {u: c or [self._zero(u)] for u, c in out.items()}  # labels take no gradient

    def _contrib(self, v: str, seed, env: Mapping | None = None) -> dict[str, np.ndarray]:
        """Stage v's whole contribution to the gradient of each name it reads."""
        return {u: sum(c) for u, c in self._shares(v, seed, env).items()}

    def _reference(self) -> None:
        """Each stage's contribution to each variable it reads, seeded with the true gradient
        of the stage: the engine's backward pass, one statement at a time."""
        # (v, u): the true share of each use of u that stage v makes
        self.ref_shares: dict[tuple[str, str], list[np.ndarray]] = {}
        self.ref: dict[str, np.ndarray] = {self.output: self.seed}
        for v in reversed(list(self.stages)):
            for u, shares in self._shares(v, self.ref.get(v, self._zero(v))).items():
                self.ref_shares[(v, u)] = shares
                self.ref[u] = self.ref.get(u, 0) + sum(shares)
        for name in self.names:
            self.ref.setdefault(name, self._zero(name))

    # judging the backward lines

    def _intent(self, st: Statement) -> tuple[str, list[str]]:
        """What a line sets out to do: ("data" | "seed" | "reads" | "implicit" | "none", the
        stages whose contributions it adds), ("zero", []) for a gradient started at zeros,
        ("same", []) for a line that leaves its gradient as it is, or ("local", []) for a local
        gradient."""
        u = st.target[1:]
        if st.target in self.locals:
            return "local", []
        if st is self.data_line:
            return "data", []
        if u == self.output:
            return "seed", []
        if self._changes_nothing(st):
            return "same", []
        dreads = [n[1:] for n in _reads(st)
                  if n not in self.env and n not in self.locals and n[1:] != u]
        if dreads:
            return "reads", dreads
        if st.op == "=" and len(st.rhs) == 1 and st.rhs[0].output.op == "zeros_like":
            return "zero", []  # dw = np.zeros_like(w): a gradient started at zeros
        if self.output in self.readers[u] and self.data_line is None:
            return "implicit", [self.output]  # the output's gradient 1, left out
        return "none", []

    def _changes_nothing(self, st: Statement) -> bool:
        """Whether a line gives back its gradient, whatever it holds (dx = dx, dx += 0): it reads
        no other name, and its right side is d<u> (with =) or 0 (with +=) at two values of d<u>."""
        if not _reads(st).keys() <= {st.target}:
            return False
        for x in (0.75, -1.5):
            held = np.full(np.shape(self.env[st.target[1:]]), x)[()]
            try:
                value = self._rhs(st, {st.target: held})
            except ExpressionError:
                return False
            if not _close(value, np.zeros_like(held) if st.op == "+=" else held):
                return False
        return True

    def judge(self) -> dict:
        intents = [self._intent(st) for st in self.backward]
        self.adders: dict[tuple[str, str], list[int]] = {}  # (u, v): lines adding dv's to du
        for st, (_, of) in zip(self.backward, intents, strict=True):
            for v in of:
                self.adders.setdefault((st.target[1:], v), []).append(st.line)
        self.got: dict[str, np.ndarray] = {}
        # a contribution is a share (stage, use) of a stage's contribution (see _shares)
        self.covered = {n: set() for n in self.names}  # shares the code's d<n> holds
        self.should = {n: set() for n in self.names}  # those a right backward pass holds here
        self.lost = {n: {} for n in self.names}  # shares overwritten, and by which line
        self.taint: dict[str, int] = {}  # d<n> is wrong since this line
        self.local_got: dict[str, np.ndarray] = {}  # local gradients as the code holds them
        self.local_true: dict[str, np.ndarray] = {}  # and as they are, where judged
        lines = [self._local_line(st) if kind == "local" else self._line(st, kind, of)
                 for st, (kind, of) in zip(self.backward, intents, strict=True)]
        lines = [e for e in lines if e is not None]
        gradients = {n: self._final(n) for n in self.names
                     if n not in self.stages and (n in self.got or not self._label_only(n))}
        for e in [*lines, *gradients.values()]:
            e["message"] = self._respell(e["message"])
        return {
            "output": self.output,
            "value": json_value(self.env[self.output]),
            "passed": all(e["ok"] for e in lines) and all(g["ok"] for g in gradients.values()),
            "first_wrong": next((e["line"] for e in lines if e["status"] == "wrong"), None),
            "lines": lines,
            "gradients": gradients,
            "forward_end": self.backward[0].span[0],
            "warnings": self.warnings,
        }

    def _current(self, v: str):
        """d<v> as the code holds it now: zeros before any line assigns it (reading it then
        is a fault of the reading line), the seed for the output."""
        return self.got.get(v, self.seed if v == self.output else self._zero(v))

    def _zero(self, name: str):
        """A zero of the shape of `name`: a number for a scalar."""
        return np.zeros_like(self.env[name])[()]

    def _share_keys(self, v: str, u: str) -> list[tuple[str, int]]:
        """The shares (v, use) of stage v's contribution to du."""
        return [(v, i) for i in range(len(self.ref_shares[(v, u)]))]

    def _line(self, st: Statement, kind: str, of: list[str]) -> dict:
        u = st.target[1:]
        before = self.got.get(u)
        self_read = ("d" + u) in _reads(st)
        accumulates = st.op == "+=" or self_read
        faults: list[str] = []
        if self_read and before is None and u != self.output and st.op != "+=":
            faults.append(f"d{u} has no value before this line, which reads it: the first line "
                          f"for d{u} sets it without reading it.")
        if kind == "data":
            value = fair = self.seed
        else:
            try:
                value, fair = self._evaluate(st)
            except ExpressionError as e:
                e.hint = e.hint or self._shape_rule(u)
                raise
        after = before + value if st.op == "+=" and before is not None else value
        self._check_shape(st, u, after)

        valid = [v for v in of if v in self.stages and u in self.reads[v]]
        faults += [f"d{v} does not flow back into d{u}: {v} is computed without {u}."
                   for v in of if v not in valid]
        if kind == "none" and not self.readers[u] and not _close(fair, np.zeros_like(fair)):
            faults.append(f"no stage of the forward pass uses {u}, so d{u} is 0.")
        elif kind == "none" and self.readers[u]:
            guess = next((s for s in reversed(self.readers[u])
                          if (s, len(self.ref_shares[(s, u)]) - 1) not in self.should[u]),
                         self.readers[u][-1])
            valid = [guess]
            # the forward value guess written for its gradient: with dguess there, it is right
            swapped = guess in _reads(st) and _close(
                self._rhs(st, {**self._scope(st, fair=True), guess: self._current(guess)}),
                self._contrib(guess, self._current(guess))[u])
            faults.append(f"this line reads {guess}, the forward value, where the gradient "
                          f"d{guess} belongs: d{u}'s contribution through {guess} is the local "
                          f"gradient times d{guess}." if swapped else
                          f"this line uses no gradient: d{u}'s contribution through {guess} "
                          f"is the local gradient times d{guess}, the gradient arriving at "
                          f"{guess}.")
        if st.op == "+=" and before is None:
            faults.append(f"d{u} has no value before this line: the first line for d{u} "
                          "uses =, the later ones +=.")
        # the shares this line adds: those of its stages still missing from du (or, where a
        # stage uses u more than once, one of them)
        adds: list[tuple[str, int]] = []
        full = None  # a stage's uses left out with no later line for them: what it should add
        shares: dict[tuple[str, int], np.ndarray] = {}
        for v in valid:
            left = [k for k in self._share_keys(v, u) if k not in self.should[u]]
            if not left:
                earlier = [n for n in self.adders.get((u, v), []) if n < st.line]
                where = f" (line {earlier[0]})" if earlier else ""
                faults.append(f"d{u} already holds its contribution through {v}{where}: this "
                              "line adds it a second time.")
            shares.update(zip(self._share_keys(v, u), self._shares(v, self._current(v))[u],
                              strict=True))
            adds += left or self._share_keys(v, u)
        for v in valid:  # dv read before every contribution to it was added
            gaps = []
            for s in self.readers[v]:
                if self.should[v].issuperset(self._share_keys(s, v)):
                    continue
                later = [n for n in self.adders.get((v, s), []) if n > st.line]
                gaps.append(f"d{v} was read before its contribution from {s} was added "
                            f"(line {later[0]} adds it, after this line)" if later else
                            f"no line computes d{v}'s contribution through {s} before this "
                            f"line reads d{v}")
            if gaps:
                faults.append("; ".join(gaps) + ".")

        if kind in ("data", "seed"):
            expected = self.seed
            if kind == "seed" and not _close(after, expected):
                faults.append(f"the gradient of the output {u} with respect to itself is "
                              f"{'1' if np.ndim(expected) == 0 else 'ones'}.")
        else:
            base = before if self_read and before is not None else 0.0
            own = base + sum((shares[k] for k in adds), self._zero(u))
            # some uses of one stage's several, in any order: the fewest that give the line's
            # value (any number of them up to 8 uses, one at a time beyond)
            some = None
            if len(adds) > 1 and len({k[0] for k in adds}) == 1:
                sizes = range(1, len(adds)) if len(adds) <= 8 else range(1, 2)
                some = next((c for r in sizes for c in combinations(adds, r)
                             if _close(fair, base + sum(shares[k] for k in c))), None)
            later = some and any(n > st.line for n in self.adders[(u, adds[0][0])])
            if some and (later or not _close(fair, own)):
                # where the numbers cannot tell (as at 0), a later line for the stage says so
                if not later:
                    faults.append(self._some_uses(st, u, adds[0][0], len(some), len(adds),
                                                  fair - base, own - base))
                    full = adds
                adds, own = list(some), base + sum(shares[k] for k in some)
            if kind != "none" and not _close(fair, own):  # told as what the line adds
                faults.append(self._wrong_value(st, u, valid, fair - base, own - base))
            if st.op == "=" and not self_read and self.should[u]:
                held = listed(s for s in self.readers[u]
                              if any(k[0] == s for k in self.covered[u])) or "before"
                faults.insert(0, f"d{u} was overwritten: it already held the gradient from "
                                 f"{held} — use +=.")
            should_after = self.should[u] | set(full or adds)
            expected = sum((self.ref_shares[(s, u)][i] for s, i in sorted(should_after)),
                           self._zero(u))

        self.got[u] = after
        if not accumulates:  # what du held is overwritten
            self.lost[u].update(dict.fromkeys(self.covered[u], st.line))
            self.covered[u] = set()
        self.covered[u] |= set(adds)
        for k in adds:
            self.lost[u].pop(k, None)
        self.should[u] |= set(full or adds)
        if kind == "same" and not faults:
            self.warnings.append(f"line {st.line}, {self.code[slice(*st.span)]}, changes nothing: "
                                 f"{self.code[slice(*st.target_span)]} keeps the value it has")
        return self._entry(st, u, valid, after, expected, faults, accumulates)

    def _scope(self, st: Statement, fair: bool = False) -> dict:
        """What the names a backward line reads hold at that point: forward values, gradients
        and local gradients as the code holds them (fair: local gradients as they are)."""
        scope = {}
        for n, span in _reads(st).items():
            if n in self.env:
                scope[n] = self.env[n]
            elif n in self.locals:
                if n not in self.local_got:
                    raise ExpressionError(f"'{n}' is used before a line assigns it", *span,
                                          hint=f"compute {n} above this line")
                scope[n] = self.local_true.get(n, self.local_got[n]) if fair else self.local_got[n]
            else:
                scope[n] = self._current(n[1:])
        return scope

    def _evaluate(self, st: Statement) -> tuple:
        """A backward line's right side, with the local gradients it reads as the code holds
        them, and as they are (fair): the line's own step is judged by the fair value, so that
        a wrong local gradient is the fault of its own line, not of the lines that use it."""
        value = self._rhs(st, self._scope(st))
        judged = any(n in self.local_true for n in _reads(st))  # else both are the same
        return value, self._rhs(st, self._scope(st, fair=True)) if judged else value

    def _rhs(self, st: Statement, scope: Mapping):
        """A backward line's right side at scope: for dw[k] += ..., zeros of w's shape with it
        added into element k."""
        value = _value(st, scope, self.limits)
        if st.index is None:
            return value
        u = st.target[1:]
        full = np.zeros_like(self.env[u], dtype=float)
        where, shape = _target(self.code, st)[0], shape_text(self.env[u])
        try:
            part = full[st.index]
        except IndexError:
            raise ExpressionError(f"{where} is out of range: d{u} has {u}'s shape {shape}",
                                  *st.span, hint="an index counts from 0 along each axis, or "
                                  "from -1 back from its end") from None
        try:
            full[st.index] += value
        except ValueError:
            what = "a scalar" if np.ndim(part) == 0 else f"of shape {shape_text(part)}"
            raise ExpressionError(f"{where} is {what}, but the right side has shape "
                                  f"{shape_text(value)}", *st.span,
                                  hint=f"d{u} has {u}'s shape {shape}") from None
        return full

    def _entry(self, st: Statement, var: str, of: list[str], after, expected,
               faults: list[str], accumulates: bool = False) -> dict:
        """A backward line's report: wrong when its own step is, else ok when its result is
        right, else it inherits an earlier error."""
        key = st.target if st.target in self.locals else var  # as _inherits keeps the taint
        if faults:
            status, message = "wrong", " ".join(faults)
            self.taint[key] = self.taint[key] if accumulates and key in self.taint else st.line
        elif _close(after, expected):
            status, message = "ok", None
            self.taint.pop(key, None)
        else:
            status, message = "inherits", self._inherits(st, key, accumulates)
        return {"line": st.line, "name": self.code[slice(*st.target_span)], "var": var,
                "of": of, "ok": status == "ok", "status": status, "got": _json(after),
                "expected": _json(expected), "message": message, "span": list(st.span),
                "given": st is self.data_line}

    def _local_line(self, st: Statement) -> dict | None:
        """A line d<a>d<b> = ...: the local gradient ∂a/∂b, judged against the engine's when a
        is a number (for a tensor a it is a Jacobian: the line's value is used unjudged)."""
        name = st.target
        a, b = self.locals[name]
        if st.index is not None:
            raise ExpressionError(f"{name} is a local gradient: it is assigned whole, not by "
                                  "element", *st.span, hint=f"write {name} = ...")
        before = self.local_got.get(name)
        plus = st.op == "+=" and before is not None
        if np.ndim(self.env[a]):
            value = _value(st, self._scope(st), self.limits)
            self.local_got[name] = before + value if plus else value
            self.warnings.append(f"{name} is not checked: {a} is not a number, so ∂{a}/∂{b} "
                                 "is a Jacobian; the lines that use it are checked with it")
            return None
        value, fair = self._evaluate(st)
        after, fair = (before + value, before + fair) if plus else (value, fair)
        self.local_got[name] = after
        expected = self.local_true[name] = self._contrib(a, 1.0)[b]
        faults = []
        if st.op == "+=" and before is None:
            faults.append(f"{name} has no value before this line.")
        if np.shape(fair) != np.shape(expected):
            faults.append(f"∂{a}/∂{b} has {b}'s shape {shape_text(expected)}, but this line "
                          f"gives {shape_text(fair)}.")
        elif not _close(fair, expected):
            if np.ndim(expected) == 0:
                faults.append(self._local_message(st, a, b, float(expected), float(fair),
                                                      None))
            else:
                wrong = ~np.isclose(fair, expected, rtol=RTOL, atol=ATOL, equal_nan=True)
                where = tuple(int(i) for i in np.argwhere(wrong)[0])
                at = ", ".join(map(str, where))
                faults.append(f"∂{a}/∂{b}[{at}] is {_num(expected[where])}, but this line "
                              f"gives {_num(fair[where])}.")
        return self._entry(st, b, [a], after, expected, faults)

    def _inherits(self, st: Statement, u: str, accumulates: bool) -> str:
        """Why a line whose own step is right holds a wrong value: the earliest wrong line it
        builds on. The taint of d<v> is kept under v, that of a local gradient under its name."""
        causes = [(self.taint[k], n) for n in _reads(st) if n not in self.env
                  for k in [n if n in self.locals else n[1:]] if k in self.taint]
        if accumulates and u in self.taint:
            causes.append((self.taint[u], "d" + u))
        if not causes:
            self.taint.pop(u, None)
            return "this line's own step is right, but a value it uses is off."
        line, name = min(causes)
        self.taint[u] = line
        return (f"this line's own step is right, but it builds on {name}, which is wrong since "
                f"line {line}.")

    def _some_uses(self, st: Statement, u: str, v: str, some: int, left: int, value,
                   own) -> str:
        """Why a line that adds the shares of only some of stage v's uses of u (`left` of them
        not yet added) is wrong when no later line adds the rest."""
        text = self.code[slice(*self.stages[v].rhs_span)]
        uses = len(self.ref_shares[(v, u)])
        of = "them" if left == uses else f"the {left} not yet added"
        rest = "the other" if left - some == 1 else f"the other {left - some}"
        sums = (f" ({_num(own)} in all, where this line gives {_num(value)})"
                if np.ndim(own) == 0 else "")
        return (f"{v} = {text} uses {u} {uses} times; this line adds the share of {some} of "
                f"{of}, and no later line adds {rest}{sums}.")

    def _wrong_value(self, st: Statement, u: str, valid: list[str], value, own) -> str:
        """Why a line's own step gives the wrong number (value, where it should give own): for
        scalars, the first stage whose local gradient the line gets wrong, compared with the
        engine's."""
        scalar = np.ndim(self.env[u]) == 0 and all(np.ndim(self.env[v]) == 0 for v in valid)
        if scalar and len(st.rhs) == 1:
            scope = _reads(st)
            for v in valid:
                exp = float(self._contrib(v, 1.0)[u])
                # below the output, whose gradient is 1, a line that reads no dv is the local
                # gradient itself
                dv = "d" + v if "d" + v in scope else None
                mine = self._coefficient(st, dv)
                if not _close(mine, exp):
                    return self._local_message(st, v, u, exp, mine, dv)
        formula = self._formula(valid[0], u) if len(valid) == 1 else None
        said = f" ({formula})" if formula else ""
        if np.ndim(own) == 0:
            return f"d{u} should get {_num(own)}{said} from this line, but it gives {_num(value)}."
        value, own = np.broadcast_arrays(np.asarray(value, dtype=float), own)
        wrong = ~np.isclose(value, own, rtol=RTOL, atol=ATOL, equal_nan=True)
        where = tuple(int(i) for i in np.argwhere(wrong)[0]) if wrong.any() else ()
        at = ", ".join(map(str, where))
        msg = (f"d{u}[{at}] should get {_num(own[where])}{said} from this line, but it gives "
               f"{_num(value[where])}")
        big = np.unravel_index(np.argmax(np.abs(own)), own.shape)
        off = _factor(value[big], own[big], "has the wrong sign", "is ")
        if off is not None and _close(value, value[big] / own[big] * own):  # one factor for all
            return f"{msg}: every element it gives {off}."
        return f"{msg} ({int(wrong.sum())} of {wrong.size} elements differ)."

    def _coefficient(self, st: Statement, dv: str | None, env: Mapping | None = None,
                     swap: tuple[str, str] | None = None) -> float:
        """What a scalar line multiplies the gradient dv by (with dv None: the line's value):
        the other gradients 0 (du in du = du + ..., what the line adds to, too), local gradients
        as they are, forward values from env (the code's own by default), and with swap =
        (n, m), m's value read for n. nan where a local gradient the line reads is not known at
        env."""
        scope = self._scope(st, fair=True)
        for n in scope:
            if n in self.env:
                scope[n] = (self.env if env is None else env)[swap[1] if swap and n == swap[0]
                                                              else n]
            elif n in self.locals:
                if env is not None:
                    if n not in self.local_true:
                        return math.nan
                    scope[n] = self._contrib(self.locals[n][0], 1.0, env)[self.locals[n][1]]
            else:
                scope[n] = 1.0 if n == dv else 0.0
        return float(self._rhs(st, scope))

    def _local_message(self, st: Statement, v: str, u: str, exp: float, mine: float,
                       dv: str | None) -> str:
        text = self.code[slice(*self.stages[v].rhs_span)]
        formula = self._formula(v, u)
        named = f"{formula} = {_num(exp)}" if formula and formula != _num(exp) else _num(exp)
        factor = self._factor_text(st, dv)
        uses = f"{factor} = {_num(mine)}" if factor else _num(mine)
        msg = (f"the local gradient of {v} = {text} with respect to {u} is {named}, "
               f"but this line uses {uses}")
        why = self._mistake(st, v, u, dv, exp, mine, formula, factor)
        return msg + (f": {why}." if why else ".")

    def _mistake(self, st: Statement, v: str, u: str, dv: str | None, exp: float, mine: float,
                 formula: str | None, factor: str | None) -> str | None:
        """What a line gets wrong in the local gradient ∂v/∂u, in words, or None. Each reading
        must hold at the code's own values and at a few other points (_elsewhere), so that none
        fits by chance: one factor off everywhere is a wrong sign or size; a line that is right
        with one of its names read as a name of the stage or as a part of the right formula
        has that name where the other belongs; a line off everywhere by such a name or part
        leaves out a factor or has one too many."""
        envs = [self.env, *self._elsewhere(v)]
        true = [exp, *(float(self._contrib(v, 1.0, env)[u]) for env in envs[1:])]
        line = [mine, *(self._coefficient(st, dv, env) for env in envs[1:])]
        usable = [0, *(k for k in range(1, len(envs)) if _finite(line[k], true[k]))]
        off = _factor(mine, true[0], "its sign is wrong", "it is ")
        if len(usable) == 1 or not _close(self._coefficient(st, dv), mine):
            return off  # nothing to compare with: how far off it is here

        def fits(got, want) -> bool:
            return all(_finite(got[k], want[k]) and _close(got[k], want[k]) for k in usable)

        tie = self._tie(v)
        if tie is not None and all(
                _close(self._coefficient(st, dv, env), self._contrib(v, 1.0, env)[u])
                for env in tie[2]):
            a, b, _ = tie
            return (f"{a} = {b} here, a tie, where the engine splits the gradient evenly between "
                    f"{a} and {b}; {factor or 'this line'} is right everywhere but at the tie")

        if off is not None and fits(line, [mine / true[0] * t for t in true]):
            return off
        # the names of the stage, those of the right formula first, and the formula's parts
        said = _WORDS.findall(formula or "")
        stage = sorted((n for n in [*self.reads[v], v] if np.ndim(self.env[n]) == 0),
                       key=lambda n: n not in said)
        parts = self._parts(formula, envs)
        for n, c, g in self._replacements(factor, [*parts, *stage]):
            if fits([float(_run(g, env)[g.output.index]) for env in envs], true):
                return f"it has {n} where the local gradient has {c}"
        for n in [n for n in _reads(st) if n in self.env]:
            for m in stage:
                if m != n and np.shape(self.env[m]) == np.shape(self.env[n]) and fits(
                        [self._coefficient(st, dv, env, (n, m)) for env in envs], true):
                    return f"it has {n} where the local gradient has {m}"
        for c, vals in [*((m, [env[m] for env in envs]) for m in stage), *parts.items()]:
            if fits([a * b for a, b in zip(line, vals, strict=True)], true):
                return f"it leaves out the factor {c}"
            if fits(line, [a * b for a, b in zip(true, vals, strict=True)]):
                return f"it has an extra factor {c}"
        return None

    def _tie(self, v: str) -> tuple[str, str, list[dict]] | None:
        """When stage v is one gate whose two inputs tie at the code's values, at its kink (max(x,
        y) at x = y): the two as written, and the forward values with the tie broken either way
        (the first name of the two moved a little up, then down); else None."""
        g = self.stages[v].rhs[0]
        out = g.output
        if self.stages[v].is_list or out.kind != "gate" or len(out.inputs) != 2 or any(
                i.kind == "gate" for i in out.inputs) or GATES[out.op].kink is None:
            return None
        a, b = (_run(g, self.env)[i.index] for i in out.inputs)
        name = next((i.name for i in out.inputs if i.kind == "input"), None)
        if np.ndim(a) or np.ndim(b) or a != b or name is None or not GATES[out.op].kink(
                a, b, **out.attrs):
            return None
        x = self.env[name]
        sides = [{**self.env, name: x + step * max(abs(x), 1.0)} for step in (1e-3, -1e-3)]
        for env in sides:
            env[v] = _value(self.stages[v], env, self.limits)
        return (*(i.label for i in out.inputs), sides)

    def _factor_text(self, st: Statement, dv: str | None) -> str | None:
        """The user's own text for the local gradient: `factor` in `factor * dv` or
        `dv * factor`, or the whole right side of a line that reads no dv; None when it reads
        no name (a number says itself). In du = du + ..., the part added."""
        out, whole = st.rhs[0].output, st.rhs_span
        if out.kind == "gate" and out.op == "add":
            rest = [i for i in out.inputs if not (i.kind == "input" and i.name == st.target)]
            if len(rest) == 1:
                out, whole = rest[0], rest[0].span
        span = whole if dv is None else None
        if dv is not None and out.kind == "gate" and out.op == "mul":
            span = next((out.inputs[1 - k].span for k, i in enumerate(out.inputs)
                         if i.kind == "input" and i.name == dv), None)
        text = None if span is None else self.code[slice(*span)]
        if text is None or not any(w in self.env or w in self.locals
                                   for w in _WORDS.findall(text)):
            return None
        return text

    def _elsewhere(self, v: str) -> list[dict]:
        """The forward values at a few other points for stage v's local gradients: each name v
        reads (but integer labels) moved by a random factor around 1 (a zero by a small random
        number), and v computed from them; every other value as it is."""
        points = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            env = dict(self.env)
            for name in self.reads[v]:
                x = self.env[name]
                step = rng.standard_normal(np.shape(x))
                moved = np.where(np.equal(x, 0), 0.3 * step, x * np.exp(0.3 * step))
                env[name] = x if self._label_only(name) else (
                    float(moved) if np.ndim(x) == 0 else moved.astype(x.dtype))
            env[v] = _value(self.stages[v], env, self.limits)
            points.append(env)
        return points

    def _parts(self, formula: str | None, envs: list[Mapping]) -> dict[str, list[float]]:
        """Each part of a local gradient's formula (its gates but the last) as its text, with
        its value at each of envs; {} when there is no formula of forward names."""
        if formula is None:
            return {}
        try:
            g = _parse_piece(formula, 0, len(formula), self.limits)
        except ExpressionError:
            return {}
        if any(name not in self.env for name in g.inputs()):
            return {}
        vals = [_run(g, env) for env in envs]
        return {formula[slice(*n.span)]: [float(x[n.index]) for x in vals] for n in g.nodes
                if n.kind == "gate" and n is not g.output and n.span
                and np.ndim(vals[0][n.index]) == 0}

    def _replacements(self, factor: str | None, candidates: list[str]):
        """The user's local gradient `factor` with one use of a forward name n (of its first
        eight) replaced by a candidate c (a name, or a part of the right formula), the first
        candidates first: each as (n, c, its circuit)."""
        if factor is None:
            return
        uses = [m for m in re.finditer(r"(?<![\w.])[A-Za-z_]\w*(?!\w)(?!\s*\()", factor)
                if m[0] in self.env and np.ndim(self.env[m[0]]) == 0][:8]
        for c in candidates:
            for m in uses:
                if c == m[0]:
                    continue
                text = factor[:m.start()] + (c if c in self.env else f"({c})") + factor[m.end():]
                try:
                    g = _parse_piece(text, 0, len(text), self.limits)
                except ExpressionError:
                    continue
                if all(name in self.env for name in g.inputs()):  # no gradient read
                    yield m[0], c, g

    def _formula(self, v: str, u: str) -> str | None:
        """The local gradient as code, written by the gate's own derivative run on symbols,
        when stage v is one gate (for a matrix gate: the whole contribution, dD.dot(X.T)) or
        writes one out (the notes' sigmoid: (1 - f) * f)."""
        g = self.stages[v].rhs[0]
        out, op = g.output, _written_out().get(_chain_of(g))
        ins = g.topo()[:1] if op else out.inputs  # a gate written out reads the chain's input
        slots = [k for k, i in enumerate(ins) if i.kind == "input" and i.name == u]
        if self.stages[v].is_list or len(slots) != 1 or any(i.kind == "gate" for i in ins):
            return None
        gate = GATES[op or out.op]
        xs = [Sym(i.name, shape=np.shape(self.env[i.name])) if i.kind == "input"
              else sym(i.default if np.ndim(i.default) else float(i.default)) for i in ins]
        attrs = {} if op else _consts(out)  # as the staged code writes them: 2, not 2.0
        y = Sym(v, shape=np.shape(self.env[v]))
        k = slots[0]
        try:
            if gate.d is not None and np.ndim(self.env[v]) == 0 and gate.d[k] is not None:
                py = sym(gate.d[k](*xs, gate.read(y, *xs, **attrs), **attrs)).py
            elif gate.linear is not None:
                g = Sym("d" + v, shape=np.shape(self.env[v]))
                py = sym(gate.linear[k](g, y, *xs, **attrs)).py
            else:
                return None
        except (TypeError, ValueError, AttributeError, IndexError):  # math that needs numbers
            return None
        # the staged code's private helpers (_rows, ...) mean nothing in the user's code
        return None if re.search(r"\b_\w+\(", py) else py

    def _label_only(self, name: str) -> bool:
        """Whether every use of name is a slot that takes no gradient (integer labels)."""
        readers = self.readers[name]
        return bool(readers) and all(n.index in g._label_only() for v in readers
                                     for g in self.stages[v].rhs for n in g.nodes if n.name == name)

    def _final(self, name: str) -> dict:
        """An input's gradient as the code leaves it, against the engine's."""
        expected = self.ref[name]
        got = self.got.get(name)
        readers = self.readers[name]
        ok = _close(got, expected) if got is not None else not readers
        message = None
        if not ok and got is None:
            message = (f"no line computes d{name} (its contributions come through "
                       f"{listed(readers)})")
        elif not ok:
            parts = []
            for s in readers:
                shares = self._share_keys(s, name)
                lost = [self.lost[name][k] for k in shares if k in self.lost[name]]
                held = [k for k in shares if k in self.covered[name]]
                if len(held) == len(shares):
                    continue
                if lost:
                    parts.append(f"d{name} lost its contribution through {s} when line "
                                 f"{lost[0]} overwrote it")
                elif held:
                    parts.append(f"d{name} holds only part of its contribution through {s} "
                                 f"({len(held)} of {len(shares)} uses of {name})")
                else:
                    parts.append(f"no line computes d{name}'s contribution through {s}")
            if not parts and name in self.taint:
                parts.append(f"d{name} is wrong since line {self.taint[name]}")
            message = "; ".join(parts) or f"d{name} differs from the engine's gradient"
        return {"name": self.spell[name],
                "got": None if got is None else _json(got), "expected": _json(expected),
                "ok": ok, "message": message}


@located
def backward_check(code: str, values: Mapping | None = None, *,
                   limits: Limits | None = None) -> dict:
    """Judge a forward pass followed by a hand-written backward pass, line by line.

    Returns {output, value, passed, first_wrong, lines, gradients, forward_end, warnings} (the
    /api/backward-check response); every mistake in the code itself is an ExpressionError."""
    with np.errstate(all="ignore"):
        check = _Check(code, _statements(code, limits), values or {}, limits)
        try:
            return check.judge()
        except ExpressionError as e:  # in the code's own names for the gradients
            e.message, e.hint = check._respell(e.message), check._respell(e.hint)
            raise
