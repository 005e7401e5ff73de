"""Text -> Graph: chainrule's language (engine/grammar.lark) parsed into a circuit of gates.

The graph is built while lark's LALR parser reduces rules (an in-parse transformer), so no parse
tree is kept and nothing recurses: a 100,000-statement program parses like a short one. A reduced
rule yields a small value object: a literal stays a number until it is used (so `x + 1` becomes a
`+1` gate and `2*3` folds to 6), a name is looked up only when used (so `math.exp` is never taken
for a variable), and a new gate can still be widened by parentheses or named by an assignment.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
import threading
import unicodedata
from importlib.resources import files

import numpy as np
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from engine.codegen import RESERVED
from engine.errors import ExpressionError
from engine.graph import Graph, Limits, Node

# function name -> (gate, number of arguments); each also answers to math.<name> and np.<name>
FUNCTIONS: dict[str, tuple[str, int]] = {
    **{
        f: (f, 1)
        for f in (
            "exp",
            "log",
            "sqrt",
            "abs",
            "sigmoid",
            "tanh",
            "relu",
            "softplus",
            "sin",
            "cos",
            "sum",
            "mean",
            "transpose",
        )
    },
    "max": ("max", 2),
    "min": ("min", 2),
    "maximum": ("max", 2),
    "minimum": ("min", 2),
    "dot": ("matmul", 2),
    "softmax_ce": ("softmax_ce", 2),
}
MODULES = ("math", "np")
MODULE_CONSTANTS = {"pi": math.pi, "e": math.e}
METHODS = {"dot": ("matmul", 1), "sum": ("sum", 0), "mean": ("mean", 0)}

KEYWORDS = {
    "lambda": "lambdas are not part of the language; write the expression itself",
    "for": "comprehensions and loops are not part of the language; write each term out",
    "while": "loops are not part of the language",
    "if": "conditionals are not part of the language; max(x, y) and relu(x) choose",
    "else": "conditionals are not part of the language; max(x, y) and relu(x) choose",
    "import": "imports are not needed: math. and np. functions work as they are",
    "from": "imports are not needed: math. and np. functions work as they are",
    "def": "function definitions are not part of the language; assign names instead",
    "class": "classes are not part of the language",
    "return": "write the output as the last line instead of returning it",
    "and": "boolean logic is not part of the language",
    "or": "boolean logic is not part of the language",
    "not": "boolean logic is not part of the language",
    "in": "'in' is not part of the language",
    "is": "'is' is not part of the language",
    "with": "'with' is not part of the language",
    "yield": "'yield' is not part of the language",
    "del": "'del' is not part of the language",
    "global": "'global' is not part of the language",
    "await": "'await' is not part of the language",
    "True": "booleans are not part of the language; use 1 and 0",
    "False": "booleans are not part of the language; use 1 and 0",
    "None": "'None' is not part of the language; every input needs a number",
}

# look-alikes typed by keyboards or pasted from documents, and the ASCII character meant
LOOKALIKES = {
    "\u2212": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u00d7": "*",
    "\u22c5": "*",
    "\u00b7": "*",
    "\u2217": "*",
    "\u00f7": "/",
    "\u2215": "/",
    "\u00b2": "**2",
    "\u00b3": "**3",
    "\u00a0": " ",
    "\u2009": " ",
    "\u200b": "(nothing)",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    # Cyrillic letters drawn like Latin ones
    "\u0430": "a",
    "\u0435": "e",
    "\u043e": "o",
    "\u0440": "p",
    "\u0441": "c",
    "\u0445": "x",
    "\u0443": "y",
    "\u0410": "A",
    "\u0412": "B",
    "\u0415": "E",
    "\u041a": "K",
    "\u041c": "M",
    "\u041d": "H",
    "\u041e": "O",
    "\u0420": "P",
    "\u0421": "C",
    "\u0422": "T",
    "\u0425": "X",
    "\u0456": "i",
    "\u0458": "j",
}

_GRAMMAR = files("engine").joinpath("grammar.lark").read_text()
# what the scan before parsing looks at: comments, strings, brackets, new lines, '^', non-ASCII
_SCAN = re.compile(r"#[^\n]*|'[^'\n]*'|\"[^\"\n]*\"|[()\[\]\n;^]|[^\x00-\x7f]")
_NUMBER_NAME = re.compile(
    r"(?<![A-Za-z0-9_.])(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"(?![eE][+-]?\d)([A-Za-z_]\w*)"
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CLOSER = {"(": ")", "[": "]"}


# --- values of reduced rules ------------------------------------------------------------------


class _Val:
    """What a reduced rule stands for, with the [start, end) span of its text."""

    __slots__ = ("kind", "span", "data")

    def __init__(self, kind: str, span: tuple[int, int], data) -> None:
        # kind: "lit" (data: float or ndarray), "int" (an integer literal, data: int),
        # "ref" (an unresolved name), "node", "gate" (a node no one uses yet),
        # "func" (data: function name), "method" (data: (receiver, name)), "str", "kwarg"
        self.kind = kind
        self.span = span
        self.data = data


def _tspan(tok: Token) -> tuple[int, int]:
    """A token's span in the whole text (lark sees one chunk of it at a time)."""
    off = _local.builder.offset
    return (tok.start_pos + off, tok.end_pos + off)


def _span(first, last) -> tuple[int, int]:
    a = _tspan(first)[0] if isinstance(first, Token) else first.span[0]
    b = _tspan(last)[1] if isinstance(last, Token) else last.span[1]
    return (a, b)


def _err(message: str, span: tuple[int, int], hint: str | None = None) -> ExpressionError:
    return ExpressionError(message, span[0], span[1], hint=hint)


def _is_lit(v: _Val) -> bool:
    return v.kind in ("lit", "int")


def _is_scalar_lit(v: _Val) -> bool:
    return v.kind == "int" or (v.kind == "lit" and np.ndim(v.data) == 0)


_FOLDS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "pow": np.power}  # the operators folded when both sides are numbers (not @)


def _fold(op: str, a: float, b: float) -> float | None:
    """Two numbers combined at parse time; None where the answer is not a finite number, so the
    graph computes it instead and warns about it."""
    with np.errstate(all="ignore"):
        try:
            r = float(_FOLDS[op](np.float64(a), np.float64(b)))
        except (OverflowError, ValueError, ZeroDivisionError):
            return None
    return r if math.isfinite(r) else None


# --- the builder: one per parse, reached through a thread-local -------------------------------


class _Builder:
    def __init__(self, limits: Limits | None) -> None:
        self.g = Graph()
        self.limits = limits
        self.names: dict[str, Node] = {}
        self.free: dict[str, tuple[int, int]] = {}  # names used without a value: first use
        self.gates = 0
        self.offset = 0  # where the chunk lark is reading starts in the whole text
        self.bare: _Val | None = None  # a bare expression, allowed only as the last statement

    def statement(self, value: _Val | None) -> None:
        """One statement done: None for an assignment, else a bare expression's value."""
        if self.bare is not None:
            raise _err(
                "this expression's value is not used",
                self.bare.span,
                "assign it to a name, or make it the last line",
            )
        self.bare = value

    def finish(self) -> Graph:
        if self.bare is not None:
            self.g.output = self.node(self.bare)
        elif self.g.output is None:
            raise ExpressionError("the expression is empty", 0, 0, hint="type an expression")
        inputs = self.g.inputs()
        for name, node in inputs.items():
            if name[0] == "d" and name[1:] in inputs:  # the staged code's name for a gradient
                raise _err(f"'{name}' is the name the generated code gives the gradient of "
                           f"'{name[1:]}'", node.span, f"rename one of {name[1:]} and {name}")
        return self.g

    def assign(self, name: str, span: tuple[int, int], value: _Val) -> None:
        if name in MODULES:
            raise _err(
                f"'{name}' is a module name and cannot be assigned", span, "choose another name"
            )
        _check_name(name, span)
        if name in self.free:
            first = self.free[name]
            raise _err(
                f"'{name}' is assigned here but was already used as an input at "
                f"{first[0]}..{first[1]}",
                span,
                "assign names before using them",
            )
        if _is_lit(value):
            if name in self.names:
                raise _err(f"'{name}' already has a value", span, "use a new name")
            node = self.g.input(name, default=value.data, span=span)
        elif value.kind == "gate":
            node = value.data
            node.name = name
        else:
            node = self.node(value)  # an alias: the name refers to the same wire
        self.names[name] = node
        self.g.output = node
        self.statement(None)

    # values -> nodes

    def node(self, v: _Val) -> Node:
        kind = v.kind
        if kind == "node":
            return v.data
        if kind == "gate":
            return v.data
        if kind in ("lit", "int"):
            return self.g.const(v.data, span=v.span)
        if kind == "ref":
            return self.resolve(v.data, v.span)
        if kind == "func":
            return _fail_func(v)
        if kind == "method":
            raise _err(f"'.{v.data[1]}' is a method: call it, like a.{v.data[1]}(...)", v.span)
        if kind == "str":
            raise _err("strings are not part of the language", v.span, "use numbers and names only")
        raise _err(
            "keyword arguments are not supported",
            v.span,
            "pass arguments by position, like max(x, 0)",
        )

    def resolve(self, name: str, span: tuple[int, int]) -> Node:
        node = self.names.get(name)
        if node is not None:
            return node
        if name in MODULES:
            raise _err(
                f"'{name}' is a module, not a value",
                span,
                f"call its functions, like {name}.exp(x)",
            )
        if name in FUNCTIONS:
            raise _err(f"'{name}' is a function, not a value", span, f"call it, like {name}(x)")
        _check_name(name, span)
        node = self.names[name] = self.g.input(name, span=span)
        self.free[name] = span
        return node

    def gate(self, op: str, args: list[_Val], span: tuple[int, int], **attrs) -> _Val:
        """A new gate; until something uses it, parentheses may widen its span and an
        assignment may name it."""
        inputs = tuple(self.node(a) for a in args)
        self.gates += 1
        if self.limits is not None and self.gates > self.limits.max_gates:
            raise _err(
                f"the circuit has more than {self.limits.max_gates:,} gates",
                span,
                "split it into smaller circuits",
            )
        return _Val("gate", span, self.g.gate(op, inputs, span=span, **attrs))

    # operators

    def binary(self, op: str, a: _Val, b: _Val) -> _Val:
        span = (a.span[0], b.span[1])
        if op in _FOLDS and _is_scalar_lit(a) and _is_scalar_lit(b):
            r = _fold(op, a.data, b.data)
            if r is not None:
                return _Val("lit", span, r)
            a = _Val("node", a.span, self.node(a))  # not finite: the graph computes and warns
        if op == "matmul":
            return self.gate("matmul", [a, b], span)
        if _is_scalar_lit(b):
            c = float(b.data)
            if op == "add":
                return self.gate("addc", [a], span, c=c)
            if op == "sub":
                return self.gate("addc", [a], span, c=-c)
            if op == "mul":
                return self.gate("scale", [a], span, a=c)
            if op == "div" and c != 0 and math.isfinite(1.0 / c):
                return self.gate("scale", [a], span, a=1.0 / c)
            if op == "pow":
                return self.gate("powc", [a], span, p=c)
        if _is_scalar_lit(a):
            c = float(a.data)
            if op == "add":
                return self.gate("addc", [b], span, c=c)
            if op == "mul":
                return self.gate("scale", [b], span, a=c)
            if op == "div" and c == 1.0:
                return self.gate("recip", [b], span)
        return self.gate(op, [a, b], span)

    def call(self, callee: _Val, args: list[_Val], span: tuple[int, int]) -> _Val:
        if callee.kind == "method":
            receiver, mname = callee.data
            op, n = METHODS[mname]
            args = [receiver, *args]
            shown = f".{mname}"
        elif callee.kind == "func":
            op, n = FUNCTIONS[callee.data]
            shown = callee.data
        elif callee.kind == "ref":
            fname = callee.data
            if fname in self.names:
                raise _err(f"'{fname}' is a variable, not a function", callee.span)
            if fname not in FUNCTIONS:
                raise _unknown_function(fname, callee.span)
            op, n = FUNCTIONS[fname]
            shown = fname
        else:
            raise _err("only functions can be called", callee.span)
        for a in args:
            if a.kind == "kwarg":
                raise _err(
                    f"keyword arguments are not supported ('{a.data}=')",
                    a.span,
                    "pass arguments by position",
                )
        given = len(args) - (callee.kind == "method")
        if len(args) != n + (callee.kind == "method"):
            need = f"{n} argument" + ("s" if n != 1 else "")
            raise _err(f"{shown}() takes {need}, got {given}", span)
        return self.gate(op, args, span)


_local = threading.local()


def _b() -> _Builder:
    return _local.builder


def _check_name(name: str, span: tuple[int, int]) -> None:
    """Refuse a name that the staged Python (engine/codegen.py) needs for itself."""
    if name in RESERVED:
        raise _err(f"'{name}' is a name the generated Python code needs", span,
                   "choose another name")


def _fail_func(v: _Val) -> Node:
    raise _err(f"'{v.data}' is a function, not a value", v.span, f"call it, like {v.data}(x)")


def _unknown_function(name: str, span: tuple[int, int]) -> ExpressionError:
    close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
    hint = f"did you mean {close[0]}?" if close else ("available: " + ", ".join(sorted(FUNCTIONS)))
    return _err(f"unknown function '{name}'", span, hint)


def _widen(v: _Val, span: tuple[int, int]) -> _Val:
    """The same value, written with parentheses or a unary plus around it."""
    if v.kind == "gate":
        v.data.span = span  # a gate's span includes its parentheses
    elif v.kind == "ref":  # an input's span stays its name
        v = _Val("node", v.span, _b().node(v))
    return _Val(v.kind, span, v.data)


def _number(tok: Token) -> _Val:
    return _number_text(str(tok), _tspan(tok))


def _number_text(text: str, span: tuple[int, int]) -> _Val:
    if text.isdigit() and len(text) <= 18:  # short integers stay exact (for indexing)
        return _Val("int", span, int(text))
    value = float(text)  # linear in the length: no int() of a long digit string
    if not math.isfinite(value):
        raise _err("number too large", span, "numbers must fit in float64 (below about 1.8e308)")
    return _Val("lit", span, value)


class _Rules(Transformer):
    """Callbacks of the grammar's rules, run by lark as it reduces them."""

    def bare(self, c):
        _b().statement(c[0])

    def assign(self, c):
        _b().assign(str(c[0]), _tspan(c[0]), c[2])

    def add(self, c):
        return _b().binary("add", c[0], c[2])

    def sub(self, c):
        return _b().binary("sub", c[0], c[2])

    def mul(self, c):
        return _b().binary("mul", c[0], c[2])

    def div(self, c):
        return _b().binary("div", c[0], c[2])

    def matmul(self, c):
        return _b().binary("matmul", c[0], c[2])

    def pow(self, c):
        return _b().binary("pow", c[0], c[2])

    def neg(self, c):
        v = c[1]
        span = _span(c[0], v)
        if _is_lit(v):
            return _Val("int" if v.kind == "int" else "lit", span, -v.data)
        return _b().gate("neg", [v], span)

    def pos(self, c):
        return _widen(c[1], _span(c[0], c[1]))

    def paren(self, c):
        return _widen(c[1], _span(c[0], c[2]))

    def number(self, c):
        return _number(c[0])

    def name(self, c):
        tok = c[0]
        return _Val("ref", _tspan(tok), str(tok))

    def string(self, c):
        tok = c[0]
        return _Val("str", _tspan(tok), str(tok))

    def kwarg(self, c):
        return _Val("kwarg", _span(c[0], c[2]), str(c[0]))

    def items(self, c):
        return [v for v in c if not isinstance(v, Token)]

    args = items

    def list(self, c):
        span = _span(c[0], c[-1])
        if len(c) == 2:
            raise _err("empty list", span, "a list needs at least one number")
        items = c[1]
        for v in items:
            if not _is_lit(v):
                if v.kind in ("ref", "node", "gate"):
                    raise _err(
                        "list elements must be numbers",
                        v.span,
                        "write a list of numbers, like [2, -3, -3]",
                    )
                _b().node(v)
        shapes = {np.shape(v.data) for v in items}
        if len(shapes) > 1:
            raise _err("every row of a list must have the same length", span)
        if len(next(iter(shapes))) >= 32:
            raise _err("list nested too deeply", span)
        return _Val("lit", span, np.array([v.data for v in items], dtype=float))

    def index(self, c):
        target, items = c[0], c[2]
        span = _span(target, c[-1])
        for v in items:
            if v.kind != "int":
                hint = "write w[0], w[-1] or W[1, 2]"
                if _is_scalar_lit(v) and float(v.data).is_integer() and abs(v.data) < 1e15:
                    hint = f"write {int(v.data)}"  # w[1+1], w[2.0]
                raise _err("an index must be a whole-number literal, like 0 or -1", v.span, hint)
        idx = items[0].data if len(items) == 1 else tuple(v.data for v in items)
        return _b().gate("index", [target], span, index=idx)

    def attr(self, c):
        target, name = c[0], str(c[2])
        span = _span(target, c[2])
        b = _b()
        if target.kind == "ref" and target.data in MODULES and target.data not in b.names:
            if name in MODULE_CONSTANTS:
                return _Val("lit", span, MODULE_CONSTANTS[name])
            if name in FUNCTIONS:
                return _Val("func", span, name)
            raise _unknown_function(f"{target.data}.{name}", span)
        if name == "T":
            return b.gate("transpose", [target], span)
        if name in METHODS:
            return _Val("method", span, (target, name))
        if target.kind == "ref":
            raise _err(
                f"'{target.data}.{name}' is not available",
                span,
                "only math. and np. functions can be reached with a dot",
            )
        raise _err(
            f"attribute '.{name}' is not supported",
            _span(c[1], c[2]),
            "only .T, .dot(), .sum() and .mean() work on values",
        )

    def call(self, c):
        args = c[2] if len(c) == 4 else []
        return _b().call(c[0], args, _span(c[0], c[-1]))


_parser_lock = threading.Lock()
_parser: Lark | None = None


def _lark() -> Lark:
    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = Lark(_GRAMMAR, parser="lalr", lexer="contextual", transformer=_Rules())
        return _parser


# --- before and after lark: plain-words errors ------------------------------------------------


def _prepare(text: str, limits: Limits | None) -> str:
    """Check what lark cannot say well, and blank comments and the new lines inside brackets
    (which continue a statement, as in Python). Positions are kept: every change is in place."""
    max_depth = limits.max_depth if limits else None
    stack: list[int] = []
    out: list[str] = []
    done = 0
    for m in _SCAN.finditer(text):
        s = m.group()
        i = m.start()
        if s[0] == "#":
            out.append(text[done:i])
            out.append(" " * len(s))
            done = m.end()
        elif s in "([":
            stack.append(i)
            if max_depth is not None and len(stack) > max_depth:
                raise ExpressionError(
                    f"brackets nested more than {max_depth} deep",
                    i,
                    i + 1,
                    hint="name some parts (a = ...) to flatten the expression",
                )
        elif s in ")]":
            if not stack:
                raise ExpressionError(f"'{s}' has no matching opening bracket", i, i + 1)
            j = stack.pop()
            if _CLOSER[text[j]] != s:
                raise ExpressionError(
                    f"'{s}' does not match the '{text[j]}' at {j}",
                    i,
                    i + 1,
                    hint=f"close it with '{_CLOSER[text[j]]}'",
                )
        elif s == "\n":
            if stack:
                out.append(text[done:i])
                out.append(" ")
                done = i + 1
        elif s == ";":
            if stack:
                raise ExpressionError(
                    "';' inside brackets", i, i + 1, hint=f"close the '{text[stack[-1]]}' first"
                )
        elif s == "^":
            raise ExpressionError(
                "'^' is not a power here", i, i + 1, hint="use ** for powers, like x**2"
            )
        elif s[0] in "'\"":
            pass  # strings are reported where they are used
        else:
            raise _non_ascii(s, i)
    if stack:
        j = stack[-1]
        raise ExpressionError(
            f"the '{text[j]}' at {j} is never closed",
            len(text),
            len(text),
            hint=f"add '{_CLOSER[text[j]]}'",
        )
    out.append(text[done:])
    clean = "".join(out)
    m = _NUMBER_NAME.search(clean)
    if m and m.group(2)[0] == "_":
        word = re.match(r"[\w.]+", clean[m.start():]).group()
        if re.fullmatch(_NUM, word.replace("_", "")):
            raise ExpressionError(
                f"'{word}': numbers are written without underscores",
                m.start(),
                m.start() + len(word),
                hint=f"write {word.replace('_', '')}",
            )
    if m:
        raise ExpressionError(
            f"a number is directly followed by a name in '{m.group()}'",
            m.start(),
            m.end(),
            hint=f"write {m.group(1)}*{m.group(2)}",
        )
    for m in _WORD.finditer(clean):
        if keyword.iskeyword(m.group()):
            raise ExpressionError(
                f"'{m.group()}' is not part of the language",
                m.start(),
                m.end(),
                hint=KEYWORDS.get(m.group(), "Python's keywords are not part of the language"),
            )
    return clean


def _non_ascii(ch: str, i: int) -> ExpressionError:
    try:
        what = unicodedata.name(ch)
    except ValueError:
        what = f"U+{ord(ch):04X}"
    ascii_ = LOOKALIKES.get(ch)
    if ascii_ is None:
        if unicodedata.category(ch).startswith("L") and what.startswith("GREEK"):
            ascii_ = what.split()[-1].lower()  # GREEK SMALL LETTER ALPHA -> alpha
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            ascii_ = plain or None
    hint = f"type '{ascii_}' instead" if ascii_ else "use ASCII characters only"
    return ExpressionError(
        f"non-ASCII character '{ch}' ({what}) at position {i}", i, i + 1, hint=hint
    )


_TOKEN_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "_SEP": "a new line or ';'",
    "$END": "the end of the input",
}
_EXPR_START = {"NAME", "NUMBER", "STRING", "LPAR", "LSQB", "MINUS", "PLUS"}
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "AT", "POW", "DOT", "LPAR", "LSQB"}
_CHAR_HINTS = {
    ":": "slices are not supported; index with whole numbers, like w[0]",
    "%": "the operators are + - * / ** @",
    "!": "the operators are + - * / ** @",
    "<": "comparisons are not part of the language",
    ">": "comparisons are not part of the language",
    "{": "use [ ] for lists",
    "}": "use [ ] for lists",
}


def _describe_expected(parser: Lark, expected: set[str]) -> str:
    words = []
    if {"NAME", "NUMBER"} <= expected:
        words.append("an expression")
        expected = expected - _EXPR_START
    if {"STAR", "SLASH"} <= expected:
        words.append("an operator")
        expected = expected - _OPERATORS
    for t in sorted(expected):
        if t in _TOKEN_WORDS:
            words.append(_TOKEN_WORDS[t])
        else:
            words.append(f"'{parser.get_terminal(t).pattern.value}'")
    if len(words) > 1:
        return ", ".join(words[:-1]) + " or " + words[-1]
    return words[0] if words else "something else"


def _syntax_error(
    e: UnexpectedInput, text: str, off: int, stop: int, parser: Lark
) -> ExpressionError:
    """Lark's complaint about text[off:stop], in plain words and whole-text positions."""
    if isinstance(e, UnexpectedCharacters):
        i = off + e.pos_in_stream
        ch = text[i]
        if ch in "'\"":
            return ExpressionError(
                "unterminated string (strings are not part of the language)", i, i + 1
            )
        return ExpressionError(
            f"unexpected character '{ch}'",
            i,
            i + 1,
            hint=_CHAR_HINTS.get(ch, "the operators are + - * / ** @"),
        )
    if isinstance(e, UnexpectedToken):
        tok = e.token
        expected = _describe_expected(parser, set(e.expected))
        if tok.type == "$END":
            where = "input" if stop == len(text) else "line"
            return ExpressionError(f"the {where} ends too early; expected {expected}", stop, stop)
        start = off + tok.start_pos
        end = off + (tok.end_pos if tok.end_pos is not None else tok.start_pos + len(tok))
        if tok.type == "EQUAL":
            return ExpressionError(
                "only a single name can be assigned to",
                start,
                end,
                hint="write name = expression (there are no comparisons)",
            )
        if tok.type == "_SEP":
            found = "the end of the line" if str(tok) == "\n" else "';'"
        elif tok.type in ("NAME", "NUMBER"):
            found = f"{tok.type.lower()} '{tok}'"
        else:
            found = f"'{tok}'"
        hint = None
        if tok.type in ("NAME", "NUMBER", "LPAR") and "STAR" in e.expected:
            hint = "put an operator such as * between the two"
        return ExpressionError(f"unexpected {found}; expected {expected}", start, end, hint=hint)
    return ExpressionError(f"could not read the expression: {e}")


# The commonest statements (`a1 = a0 + 1`, `x = -2`) skip lark: they are built by the same
# builder calls lark's callbacks make, and long generated programs parse several times faster.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_SIMPLE = re.compile(
    rf"[ \t]*({_NAME})[ \t]*=[ \t]*(?:(-)[ \t]*({_NUM})"
    rf"|({_NAME}|{_NUM})(?:[ \t]*([-+*/])[ \t]*({_NAME}|{_NUM}))?)[ \t]*"
)
_STATEMENT = re.compile(r"[^;\n]+")
_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


def _operand(m: re.Match, group: int) -> _Val:
    text, span = m.group(group), m.span(group)
    if text[0].isdigit() or text[0] == ".":
        return _number_text(text, span)
    return _Val("ref", span, text)


def _simple(b: _Builder, m: re.Match) -> None:
    if m.group(3):  # name = -number
        v = _number_text(m.group(3), m.span(3))
        v = _Val(v.kind, (m.start(2), v.span[1]), -v.data)
    else:
        v = _operand(m, 4)
        if m.group(5):
            v = b.binary(_OPS[m.group(5)], v, _operand(m, 6))
    b.assign(m.group(1), m.span(1), v)


def _parse_chunk(b: _Builder, parser: Lark, text: str, start: int, end: int) -> None:
    b.offset = start
    try:
        parser.parse(text[start:end])
    except UnexpectedInput as e:
        raise _syntax_error(e, text, start, end, parser) from None


def parse(text: str, limits: Limits | None = None, *, fast: bool = True) -> Graph:
    """Build the circuit for an expression or a program; every mistake is an ExpressionError.

    `fast=False` sends every statement through lark (the tests compare both ways)."""
    if limits is not None and len(text) > limits.max_chars:
        raise ExpressionError(
            f"the expression has {len(text):,} characters, more than the limit of "
            f"{limits.max_chars:,}",
            limits.max_chars,
            len(text),
        )
    clean = _prepare(text, limits)
    parser = _lark()
    b = _local.builder = _Builder(limits)
    try:
        pending = None  # start of statements not yet given to lark
        if fast:
            for st in _STATEMENT.finditer(clean):
                m = _SIMPLE.fullmatch(st.group())
                if m is None:
                    if st.group().isspace():
                        continue
                    if pending is None:
                        pending = st.start()
                    continue
                if pending is not None:
                    _parse_chunk(b, parser, clean, pending, st.start())
                    pending = None
                _simple(b, _Shifted(m, st.start()))
        else:
            pending = 0
        if pending is not None:
            _parse_chunk(b, parser, clean, pending, len(clean))
        return b.finish()
    finally:
        _local.builder = None


class _Shifted:
    """A match on one statement, with spans in the whole text."""

    __slots__ = ("m", "off")

    def __init__(self, m: re.Match, off: int) -> None:
        self.m, self.off = m, off

    def group(self, i: int) -> str | None:
        return self.m.group(i)

    def span(self, i: int) -> tuple[int, int]:
        a, b = self.m.span(i)
        return (a + self.off, b + self.off)

    def start(self, i: int) -> int:
        return self.m.start(i) + self.off
