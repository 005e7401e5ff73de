"""Text -> Graph: chainrule's language, read by one hand-written parser.

Two linear passes. The tokenizer is one master regular expression (alternatives without nested
quantifiers) that also matches brackets and reports what a reader says in words: `^`, `2x`,
non-ASCII look-alikes, Python keywords. The parser is precedence climbing with explicit stacks
(a table of binding powers, no recursion), so 3,000 nested brackets or a 100,000-statement
program parse like a short one. The graph is built as the parser reduces: a literal stays a
number until it is used (so `x + 1` becomes a `+1` gate and `2*3` folds to 6), a name is looked
up only when used (so `math.exp` is never taken for a variable), and a new gate can still be
widened by parentheses or named by an assignment.

Which functions and methods exist is read from the gate table (engine/ops.py: `calls`,
`methods`, `defaults`); the code people paste from micrograd and PyTorch (imports, prints,
`Value(2.0, label='x1')`, `torch.tensor(...)`, `+=`, `o.backward()`) is part of the language.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from engine.codegen import RESERVED
from engine.errors import ExpressionError, spot
from engine.graph import Graph, Limits, Node, acyclic_build, as_value
from engine.ops import GATES


def callables() -> tuple[dict[str, str], dict[str, str]]:
    """(function name -> gate, method name -> gate), read from the gate table's rows."""
    functions = {name: op for op, gate in GATES.items() for name in gate.calls}
    methods = {name: op for op, gate in GATES.items() for name in gate.methods}
    return functions, methods


# the modules a program may reach with a dot (an alias -> the module), and what it may import
MODULES = {"math": "math", "np": "numpy", "torch": "torch"}
IMPORTABLE = ("math", "numpy", "torch", "torch.nn", "torch.nn.functional",
              "micrograd", "micrograd.engine", "micrograd.nn")
SUBMODULES = {"torch": ("nn",), "torch.nn": ("functional",), "numpy": ("random",)}
MODULE_CONSTANTS = {"pi": math.pi, "e": math.e}
# functions that make an input from a number or a list: micrograd's Value, PyTorch's tensors;
# and from a shape, numpy's random numbers
RANDN = "numpy.random.randn"
# np.random.default_rng(seed).standard_normal([5, 10]): random numbers of that seed, as the
# staged code writes a random input ({"randn": [5, 10], "seed": seed})
RNG = "numpy.random.default_rng"
ARRAY = "numpy.array"  # np.array([1, 2, 3]): a list of numbers, as a list literal is
CONSTRUCTORS = frozenset({"Value", "torch.tensor", "torch.Tensor", RANDN, RNG, ARRAY})
CONSTRUCTOR_KEYWORDS = ("label", "requires_grad", "dtype")
# the dtypes a program may name: torch.float64 in a constructor (the only one, as in the
# micrograd lecture), numpy's floats in .astype(...), which reads as the value itself
DTYPES = {("torch", "float64"), ("torch", "double"), ("numpy", "float32"), ("numpy", "float64")}
# a name assigned again names a new wire: c, then c′, c″, c‴, c⁽⁴⁾, c⁽⁵⁾...
PRIMES = ("", "′", "″", "‴")
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")

KEYWORDS = {
    "lambda": "lambdas are not part of the language; write the expression itself",
    "for": "loops and comprehensions are not supported: write the steps out, or use a tensor",
    "while": "loops are not supported: write the steps out, or use a tensor",
    **dict.fromkeys(("if", "else"), "conditionals are not part of the language; max(x, y) and "
                                    "relu(x) choose"),
    "def": "functions are not supported: write their steps out, naming each result",
    "class": "classes are not supported: write the computation out, one statement a line",
    "return": "write the output as the last line instead of returning it",
    "assert": "checks are not needed: chainrule computes the values and gradients itself",
    **dict.fromkeys(("and", "or", "not"), "boolean logic is not part of the language"),
    "with": "blocks are not supported: the forward pass and o.backward() are drawn; an update "
            "such as p -= lr * p.grad under torch.no_grad() is the Descend tab's step",
    "None": "'None' is not part of the language; every input needs a number",
}
# Python's keywords as tokens: import, from and as are "kw", True and False names (where PyTorch
# wants them), and every other one is refused in the words of KEYWORDS
_KEYWORD_KINDS = {**dict.fromkeys(keyword.kwlist, "refused"),
                  **dict.fromkeys(("import", "from", "as"), "kw"), "True": "name", "False": "name"}

# look-alikes typed by keyboards or pasted from documents, and the ASCII character meant
LOOKALIKES = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-", "\u00d7": "*",
    "\u22c5": "*", "\u00b7": "*", "\u2217": "*", "\u00f7": "/", "\u2215": "/", "\u00b2": "**2",
    "\u00b3": "**3", "\u00a0": " ", "\u2009": " ", "\u200b": "(nothing)", "\u2018": "'",
    "\u2019": "'", "\u201c": '"', "\u201d": '"',
    # Cyrillic letters drawn like Latin ones
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0445": "x",
    "\u0443": "y", "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M",
    "\u041d": "H", "\u041e": "O", "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X",
    "\u0456": "i", "\u0458": "j",
}

# --- tokens -----------------------------------------------------------------------------------

_NUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
# One alternative per token shape; none nests a quantifier, so a match never backtracks more
# than the token it reads, and every character is in exactly one match.
_TOKEN = re.compile(
    r"[ \t\f\r]*(?:"  # spaces before a token are part of its match
    r"#[^\n]*|\\[ \t]*\r?\n"  # skipped: comments and line continuations
    rf"|{_NUM}"
    r"|[A-Za-z_][A-Za-z0-9_]*"
    r"|==|\*\*=|\*\*|[-+*/@<>]="
    r"|'[^'\n]*'|\"[^\"\n]*\""
    r"|[^ \t\f\r])"  # one character: an operator, a bracket, a separator, or a mistake
    r"|[ \t\f\r]+",  # spaces at the end
    re.DOTALL,
)
# what a token is, from its first character (a lone quote or backslash is a mistake)
_FIRST = {
    **dict.fromkeys(("", "#", "\\"), "skip"),
    **dict.fromkeys("0123456789", "num"),
    **dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_", "name"),
    **dict.fromkeys("+-*/@<>=,", "op"),
    **dict.fromkeys("([", "("),
    **dict.fromkeys(")]", ")"),
    **dict.fromkeys("\n;", "sep"),
    **dict.fromkeys("'\"", "str"),
    ".": ".",
}
_CLOSER = {"(": ")", "[": "]"}
# what an ASCII character that starts no token was probably meant for (others, like % and !,
# are told the operators)
_COMPARE = "compare with > < >= <=, which give 1 where they hold and 0 elsewhere"
_CHAR_HINTS = {
    ":": "slices are not supported; index with whole numbers, like w[0]",
    "!": f"!= is not part of the language; {_COMPARE}: a != b is (a < b) + (a > b)",
    **dict.fromkeys("{}", "use [ ] for lists"),
}

# A token is (kind, text, start, end); kind is "num", "name", "str", "kw" (import, from, as),
# "sep" (a new line or ';' outside brackets), "end", or the operator's own text.
Token = tuple


@dataclass(slots=True, eq=False)
class Tokens:
    """The tokens of a text as four parallel lists (no object per token for the garbage
    collector to scan); tokens[i] is the token i as a tuple."""

    kind: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)

    def __getitem__(self, i: int) -> Token:
        return (self.kind[i], self.text[i], self.start[i], self.end[i])


def tokenize(text: str, limits: Limits | None = None, what: str = "expression") -> Tokens:
    """The tokens of `text`, in one pass; a text over the limits (`what` names it in the
    message), lexical mistakes and bracket nesting are reported here, in the order they appear."""
    if limits is not None and len(text) > limits.max_chars:
        raise ExpressionError(f"the {what} has {len(text):,} characters, more than the limit of "
                              f"{limits.max_chars:,}", limits.max_chars, len(text))
    max_depth = limits.max_depth if limits is not None else None
    tokens = Tokens()
    kinds, texts, starts, ends = tokens.kind, tokens.text, tokens.start, tokens.end
    stack: list[int] = []  # positions of the open brackets
    after_num = -1  # where the last number token ended
    end = 0
    first = _FIRST
    for s in _TOKEN.findall(text):  # every character is in exactly one match
        end += len(s)
        s = s.lstrip(" \t\f\r")
        i = end - len(s)
        kind = first.get(s[:1], "bad")
        if kind == "skip":
            if s == "\\":
                raise _bad_character(s, i)
            continue
        if kind == "name":
            if i == after_num:
                raise _number_then_name(tokens[-1], s)
            kind = _KEYWORD_KINDS.get(s, "name")
            if kind == "refused":
                raise ExpressionError(
                    f"'{s}' is not part of the language", i, end,
                    hint=KEYWORDS.get(s, "the language is assignments, expressions, imports "
                                         "and prints"))
        elif kind == "op" or (kind == "." and len(s) == 1):
            kind = s
        elif kind == "(":
            stack.append(i)
            if max_depth is not None and len(stack) > max_depth:
                raise ExpressionError(
                    f"brackets nested more than {max_depth} deep", i, i + 1,
                    hint="name some parts (a = ...) to flatten the expression")
            kind = s
        elif kind == ")":
            if not stack:
                raise ExpressionError(f"'{s}' has no matching opening bracket", i, i + 1)
            j = stack.pop()
            if _CLOSER[text[j]] != s:
                raise ExpressionError(f"'{s}' does not match the '{text[j]}' at {spot(text, j)}",
                                      i, i + 1, hint=f"close it with '{_CLOSER[text[j]]}'")
            kind = s
        elif kind == "num" or kind == ".":
            kind = "num"
            after_num = end
        elif kind == "sep":
            if stack:
                if s == ";":
                    raise ExpressionError("';' inside brackets", i, i + 1,
                                          hint=f"close the '{text[stack[-1]]}' first")
                continue  # a new line inside brackets continues the statement
        elif kind != "str" or len(s) == 1:
            raise _bad_character(s, i)
        kinds.append(kind)
        texts.append(s)
        starts.append(i)
        ends.append(end)
    if stack:
        j = stack[-1]
        raise ExpressionError(f"this '{text[j]}' is never closed", j, j + 1,
                              hint=f"add '{_CLOSER[text[j]]}' where its expression ends")
    for column, value in zip((kinds, texts, starts, ends), ("end", "", len(text), len(text)),
                             strict=True):
        column.append(value)
    return tokens


def _number_then_name(num: Token, name: str) -> ExpressionError:
    start = num[2]
    if name[0] == "_":  # 1_000: Python's digit separators
        word = num[1] + name
        if re.fullmatch(_NUM, word.replace("_", "")):
            return ExpressionError(f"'{word}': numbers are written without underscores",
                                   start, start + len(word), hint=f"write {word.replace('_', '')}")
    return ExpressionError(f"a number is directly followed by a name in '{num[1]}{name}'",
                           start, num[3] + len(name), hint=f"write {num[1]}*{name}")


def _bad_character(ch: str, i: int) -> ExpressionError:
    if ch == "^":
        return ExpressionError("'^' is not a power here", i, i + 1,
                               hint="use ** for powers, like x**2")
    if ch in "'\"":
        return ExpressionError("unterminated string (strings are not part of the language)",
                               i, i + 1)
    if ch < " " or ch == "\x7f":  # invisible as itself
        return ExpressionError(f"unexpected control character U+{ord(ch):04X}", i, i + 1,
                               hint="delete it: it may have come with pasted text")
    if ord(ch) < 128:
        return ExpressionError(f"unexpected character '{ch}'", i, i + 1,
                               hint=_CHAR_HINTS.get(ch, "the operators are + - * / ** @ > < >= <="))
    what = unicodedata.name(ch, f"U+{ord(ch):04X}")
    ascii_ = LOOKALIKES.get(ch)
    if ascii_ is None:
        if unicodedata.category(ch).startswith("L") and what.startswith("GREEK"):
            ascii_ = what.split()[-1].lower()  # GREEK SMALL LETTER ALPHA -> alpha
        else:
            ascii_ = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    hint = f"type {ascii_!r} instead" if ascii_ else "use ASCII characters only"
    return ExpressionError(f"non-ASCII character '{ch}' ({what})", i, i + 1, hint=hint)


# --- values of parsed pieces ------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Val:
    """What a parsed piece stands for, with the [start, end) span of its text."""

    # "lit" (data: float or ndarray), "int" (an integer literal, data: int), "ref" (an
    # unresolved name), "node", "gate" (a node no one uses yet), "leaf" (a Value or tensor:
    # (value, label, randn, grad), randn the {"randn": shape, "seed": s} of a random one, grad
    # whether PyTorch's requires_grad=True was given), "mod" (data:
    # (module, as written)), "func" (data: (as written, gate)), "ctor" (data: constructor),
    # "method" (data: (receiver, name)), "str", "kwarg" (data: (name, value)), "dtype", "rng"
    # (data: its seed), "output" (data: (node, "backward" or "draw_dot")): o.backward(),
    # draw_dot(o)
    kind: str
    span: tuple[int, int]
    data: object
    ints: bool = False  # a list of whole-number literals only (Python's, PyTorch's integers)


def _err(message: str, span: tuple[int, int], hint: str | None = None) -> ExpressionError:
    return ExpressionError(message, span[0], span[1], hint=hint)


def _is_lit(v: _Val) -> bool:
    return v.kind == "lit" or v.kind == "int"


def _is_scalar_lit(v: _Val) -> bool:
    return v.kind == "int" or (v.kind == "lit" and np.ndim(v.data) == 0)


_WIRES = frozenset({"gate", "node", "ref"})  # values that are (or name) a wire
_FOLDS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "pow": np.power}  # the operators folded when both sides are numbers (not @)


# pieces that are no value, used as one: kind -> (message, hint), filled with the piece's data
_NOT_VALUES = {
    "func": ("'{0[0]}' is a function, not a value", "call it, like {0[0]}(x)"),
    "ctor": ("'{0}' makes a value: call it, like {0}(2.0)", None),
    "method": ("'.{0[1]}' is a method: call it, like a.{0[1]}(...)", None),
    "mod": ("'{0[1]}' is a module, not a value", "call its functions, like {0[1]}.exp(x)"),
    "str": ("strings are not part of the language", "use numbers and names only"),
    "output": ("'.backward()' marks the output: write it on a line of its own", None),
    "dtype": ("a dtype is not a value",
              "write it in a call: dtype=torch.float64, or .astype(np.float32)"),
    "kwarg": ("keyword arguments are not supported", "pass arguments by position, like max(x, 0)"),
    "rng": ("a random generator is not a value",
            "draw its numbers: np.random.default_rng({0}).standard_normal([5, 10])"),
}


def _not_a_value(v: _Val) -> ExpressionError:
    message, hint = _NOT_VALUES[v.kind]
    return _err(message.format(v.data), v.span, hint and hint.format(v.data))


# Binary operators: token -> (left binding power, right binding power, gate). Left-associative
# operators bind their right side one tighter; ** binds its right side looser (2**3**2 is
# 2**9), and tighter than unary minus on its left (-x**2 is -(x**2)). Comparisons bind both
# sides alike, so a second one finds the first still pending: a chain, refused (_chained).
INFIX = {
    ">": (5, 5, "gt"),
    "<": (5, 5, "lt"),
    ">=": (5, 5, "ge"),
    "<=": (5, 5, "le"),
    "+": (10, 11, "add"),
    "-": (10, 11, "sub"),
    "*": (20, 21, "mul"),
    "/": (20, 21, "div"),
    "@": (20, 21, "matmul"),
    "**": (41, 40, "pow"),
}
_COMPARISONS = frozenset({"gt", "lt", "ge", "le"})
PREFIX_POWER = 30  # unary - and +
AUGMENTED = {"+=": "add", "-=": "sub", "*=": "mul", "/=": "div", "**=": "pow", "@=": "matmul"}

# A number on one side of an operator (not @) makes the notes' one-input gate: op -> (gate, its
# constants from the number, or None where the two-input gate is kept).
_NUMBER_RIGHT = {
    "add": ("addc", lambda c: {"c": c}),
    "sub": ("addc", lambda c: {"c": -c}),
    "mul": ("scale", lambda c: {"a": c}),
    "div": ("scale", lambda c: {"a": 1.0 / c} if c != 0 and math.isfinite(1.0 / c) else None),
    "pow": ("powc", lambda c: {"p": c}),
}
_NUMBER_LEFT = {
    "add": ("addc", lambda c: {"c": c}),
    "mul": ("scale", lambda c: {"a": c}),
    "div": ("recip", lambda c: {} if c == 1.0 else None),
}


@dataclass(slots=True)
class Statement:
    """One statement of the program as written: enough to judge it line by line."""

    line: int  # 1-based line of its first character
    kind: str  # "assign", "expression", "import", "print", "attribute", "output"
    target: str | None  # the name assigned ("c" for c += 1), or labelled, or marked as output
    op: str | None  # "=", "+=", "-=", "*=", "/=", "**=", "@=" for assignments, else None
    span: tuple[int, int]  # the statement's [start, end) in the text
    node: Node | None  # the node it produced (or names, or marks); None for imports and prints


@dataclass(slots=True)
class Print:
    """A print line: what it prints as written, and the wire each name stood for at that line."""

    line: int
    text: str  # between the brackets: "f'{g.data:.4f}'", "a.grad", ...
    wires: dict[str, Node]  # the names it uses that had a value there
    after_backward: bool  # below o.backward(): a gradient it prints is the output's
    dtype: str | None  # "float32" or "float64" once the program made a PyTorch tensor
    kept: frozenset[str]  # the names whose .grad PyTorch keeps: inputs that require a gradient

    def __str__(self) -> str:
        return f"line {self.line} prints {self.text}"


@dataclass
class Program:
    """What parse_program returns: the graph, each statement, and the print lines."""

    graph: Graph
    statements: list[Statement] = field(default_factory=list)
    prints: list[Print] = field(default_factory=list)


# --- the builder: the graph and the names, one per parse --------------------------------------


def _tanh_form(shown: str, args: list[_Val], span: tuple[int, int]) -> list[_Val]:
    """PyTorch's gelu is the exact one, x·Φ(x), unless it is asked for the tanh form
    (approximate='tanh'), which is chainrule's gelu. The arguments without that keyword."""
    rest = [a for a in args if a.kind != "kwarg" or a.data[0] != "approximate"]
    asked = [a.data[1] for a in args if a not in rest]
    if not asked or asked[0].kind != "str" or asked[0].data[1:-1] != "tanh":
        raise _err(f"{shown}(x) is PyTorch's exact gelu, x·Φ(x); chainrule's gelu is its tanh "
                   "form", asked[0].span if asked else span,
                   f"write {shown}(x, approximate='tanh')")
    return rest


class _Builder:
    def __init__(self, text: str, limits: Limits | None, piece: bool) -> None:
        self.text = text
        self.piece = piece  # an expression read alone (parse_program's `piece`)
        self.g = Graph()
        self.max_gates = limits.max_gates if limits else None
        self.max_elements = limits.max_elements if limits else None
        self.randns = 0  # np.random.randn calls so far: the n-th gets seed n
        self.names: dict[str, Node] = {}
        self.free: dict[str, tuple[int, int]] = {}  # names used without a value: first use
        self.modules = dict(MODULES)
        self.from_torch: set[str] = set()  # names imported from torch: from ... import gelu
        self.versions: dict[str, int] = {}  # how many times a name was assigned again
        self.functions, self.methods = callables()
        self.gates = 0
        self.bare: _Val | None = None  # a bare expression, allowed only as the last statement
        self.marked: Node | None = None  # the output named by o.backward() or draw_dot(o)
        self.backward: Statement | None = None  # the o.backward() line
        self.dtype: str | None = None  # PyTorch's dtype of its tensors: float32 unless asked
        self.kept: set[Node] = set()  # inputs that require a gradient: PyTorch keeps their .grad
        self.last: Statement | None = None  # the statement of the bare expression

    def finish(self) -> None:
        if self.bare is not None:
            self.g.output = self.last.node = self.node(self.bare)
        if self.marked is not None:
            self.g.output = self.marked
        elif self.g.output is None:
            raise ExpressionError("the expression is empty", 0, 0, hint="type an expression")
        inputs: dict[str, Node] = {}
        for node in self.g.nodes:  # a label names an input: two would share a value by name
            if node.kind == "input" and inputs.setdefault(node.name, node) is not node:
                raise _err(f"'{node.name}' names two inputs: a label gave an earlier one this "
                           "name", node.span, "choose another name here, or another label there")
        for name, node in inputs.items():
            if name[0] == "d" and name[1:] in inputs and not self.piece:  # a gradient's name
                raise _err(f"'{name}' is the name the generated code gives the gradient of "
                           f"'{name[1:]}'", node.span, f"rename one of {name[1:]} and {name}")

    def expression(self, value: _Val, statement: Statement) -> None:
        """A statement that is an expression: o.backward() marks the output; any other is the
        output if it is the last statement."""
        self.unused()
        if value.kind == "output":
            node, how = value.data
            if how == "backward":
                if self.backward is not None:
                    # micrograd and PyTorch add each call's gradients to the ones before
                    first = self.backward
                    raise _err(f"a second backward(): the circuit has one output, named by "
                               f"{self.text[first.span[0]:first.span[1]]} on line "
                               f"{first.line}; called again, backward() makes the gradients "
                               "add up across the calls", value.span,
                               "keep one backward() call, on the output")
                self.backward = statement
            self.marked = statement.node = node
            statement.kind = "output"
        else:
            self.bare, self.last = value, statement

    def unused(self) -> None:
        """A new statement follows: a bare expression before it would be lost."""
        if self.bare is not None:
            raise _err("this expression's value is not used", self.bare.span,
                       "assign it to a name, or make it the last line")

    def assign(self, name: str, span: tuple[int, int], value: _Val) -> Node:
        if name in self.modules:
            raise _err(f"'{name}' is a module name and cannot be assigned", span,
                       "choose another name")
        _check_name(name, span)
        self.unused()
        if name in self.free:
            first = self.free[name]
            raise _err(f"'{name}' is assigned here but was already used as an input at "
                       f"{spot(self.text, first[0])}", span, "assign names before using them")
        kind = value.kind
        if _is_lit(value) or kind == "leaf":
            if name in self.names:
                raise _err(f"'{name}' already has a value", span, "use a new name")
            data, label, randn, grad = (value.data if kind == "leaf"
                                        else (value.data, None, None, False))
            if label is not None and label != name:
                if not label.isidentifier() or label in self.names or label in self.free:
                    label = None  # a label that is not a free plain name: the variable's name
                else:
                    _check_name(label, value.span)
            node = self.g.input(label or name, default=data, span=span, randn=randn)
            if grad:
                self.kept.add(node)
        elif kind == "gate":
            node = value.data
            node.name = name
            if name in self.names:  # assigned again: a prime for each time before
                k = self.versions[name] = self.versions.get(name, 0) + 1
                node.name += PRIMES[k] if k < 4 else f"⁽{str(k).translate(SUPERSCRIPTS)}⁾"
        else:
            node = self.node(value)  # an alias: the name refers to the same wire
        self.names[name] = node
        self.g.output = node
        return node

    def set_attribute(self, name: Token, attr: Token, value: _Val) -> Node:
        """x.label = 'x1' names the wire; x.requires_grad = True gives an input PyTorch's .grad
        (every wire's gradient is drawn anyway); any other attribute is refused."""
        span = (name[2], attr[3])
        if attr[1] == "requires_grad":
            _check_bool(value)
            node = self.resolve(name[1], (name[2], name[3]))
            if node.kind == "input" and value.data == "True":
                self.kept.add(node)
            else:
                self.kept.discard(node)
            return node
        if attr[1] != "label":
            hint = ("chainrule computes every value and gradient itself: drop this line"
                    if attr[1] in ("grad", "data") else "only .label and .requires_grad can be set")
            raise _err(f"'{name[1]}.{attr[1]}' cannot be set", span, hint)
        node = self.names.get(name[1])
        if node is None:
            raise _err(f"'{name[1]}' has no value yet", span, "assign it before labelling it")
        if value.kind != "str":
            raise _err("a label is a string, like x.label = 'x1'", value.span)
        text = value.data[1:-1]
        if node.kind == "gate":
            node.name = text
        elif text != node.name:  # an input keeps its name: values are sent by it
            if not text.isidentifier() or text in self.g.inputs():
                raise _err(f"the input '{node.name}' cannot be labelled '{text}'", value.span,
                           "an input's label is a new plain name, like x1")
            _check_name(text, value.span)
            node.name = text
        return node

    # values -> nodes

    def node(self, v: _Val) -> Node:
        kind = v.kind
        if kind == "gate" or kind == "node":
            return v.data
        if kind == "ref":
            return self.resolve(v.data, v.span)
        if _is_lit(v):
            return self.g.const(v.data, span=v.span)
        if kind == "leaf":
            return self.g.const(v.data[0], span=v.span)
        raise _not_a_value(v)

    def resolve(self, name: str, span: tuple[int, int]) -> Node:
        node = self.names.get(name)
        if node is not None:
            return node
        if name in self.modules:
            raise _not_a_value(_Val("mod", span, (self.modules[name], name)))
        if name in self.functions:
            if not self.piece:
                raise _not_a_value(_Val("func", span, (name, self.functions[name])))
        elif name in ("True", "False"):
            raise _err(f"'{name}' is not part of the language", span,
                       "booleans are not part of the language; use 1 and 0")
        else:
            _check_name(name, span)
        node = self.names[name] = self.g.input(name, span=span)
        self.free[name] = span
        return node

    def gate(self, op: str, args: list[_Val], span: tuple[int, int], called: str | None = None,
             **attrs) -> _Val:
        """A new gate; until something uses it, parentheses may widen its span and an
        assignment may name it."""
        inputs = [a.data if a.kind == "gate" or a.kind == "node" else self.node(a)
                  for a in args]
        self.gates += 1
        if self.max_gates is not None and self.gates > self.max_gates:
            raise _err(f"the circuit has more than {_count(self.max_gates, 'gate')}", span,
                       "split it into smaller circuits")
        return _Val("gate", span, self.g.gate(op, inputs, span=span, called=called, **attrs))

    # operators

    def binary(self, op: str, a: _Val, b: _Val) -> _Val:
        span = (a.span[0], b.span[1])
        if a.kind in _WIRES and b.kind in _WIRES:  # no number on either side
            return self.gate(op, [a, b], span)
        if op in _FOLDS and _is_scalar_lit(a) and _is_scalar_lit(b):
            with np.errstate(all="ignore"):  # float64 arithmetic: inf or nan, never an exception
                r = float(_FOLDS[op](np.float64(a.data), np.float64(b.data)))
            if math.isfinite(r):
                return _Val("lit", span, r)
            a = _Val("node", a.span, self.node(a))  # not finite: the graph computes and warns
        for number, other, table in ((b, a, _NUMBER_RIGHT), (a, b, _NUMBER_LEFT)):
            if op in table and _is_scalar_lit(number):
                gate, constants = table[op]
                attrs = constants(float(number.data))
                if attrs is not None:
                    return self.gate(gate, [other], span, **attrs)
        return self.gate(op, [a, b], span)

    def unary(self, sign: str, start: int, v: _Val) -> _Val:
        span = (start, v.span[1])
        if sign == "+":
            return self.widen(v, span)
        if _is_lit(v):
            return _Val(v.kind, span, -v.data)
        return self.gate("neg", [v], span)

    def widen(self, v: _Val, span: tuple[int, int]) -> _Val:
        """The same value, written with parentheses or a unary plus around it."""
        if v.kind == "gate":
            v.data.span = span  # a gate's span includes its parentheses
        elif v.kind == "ref":  # an input's span stays its name
            v = _Val("node", v.span, self.node(v))
        return _Val(v.kind, span, v.data)

    def number(self, text: str, span: tuple[int, int]) -> _Val:
        if len(text) <= 18 and text.isdigit():  # short integers stay exact (for indexing)
            return _Val("int", span, int(text))
        value = float(text)  # linear in the length: no int() of a long digit string
        if not math.isfinite(value):
            raise _err("number too large", span,
                       "numbers must fit in float64 (below about 1.8e308)")
        return _Val("lit", span, value)

    def items_list(self, items: list[_Val], span: tuple[int, int]) -> _Val:
        if not items:
            raise _err("empty list", span, "a list needs at least one number")
        for v in items:
            if v.kind in _NOT_VALUES:
                raise _not_a_value(v)
            if not _is_lit(v):  # a wire, a Value or a tensor
                raise _err("list elements must be numbers", v.span,
                           "write a list of numbers, like [2, -3, -3]")
        shapes = {np.shape(v.data) for v in items}
        if len(shapes) > 1:
            raise _err("every row of a list must have the same length", span)
        if len(next(iter(shapes))) >= 32:
            raise _err("list nested too deeply", span)
        return _Val("lit", span, np.array([v.data for v in items], dtype=float),
                    all(v.kind == "int" or v.ints for v in items))

    def index(self, target: _Val, items: list[_Val], span: tuple[int, int]) -> _Val:
        for v in items:
            if v.kind != "int":
                hint = "write w[0], w[-1] or W[1, 2]"
                if _is_scalar_lit(v) and float(v.data).is_integer() and abs(v.data) < 1e15:
                    hint = f"write {int(v.data)}"  # w[1+1], w[2.0]
                raise _err("an index must be a whole-number literal, like 0 or -1", v.span, hint)
        idx = items[0].data if len(items) == 1 else tuple(v.data for v in items)
        return self.gate("index", [target], span, index=idx)

    def attribute(self, target: _Val, name: str, span: tuple[int, int],
                  dot: tuple[int, int]) -> _Val:
        if target.kind == "ref" and target.data in self.modules and target.data not in self.names:
            target = _Val("mod", target.span, (self.modules[target.data], target.data))
        if target.kind == "mod":
            module, alias = target.data
            path = f"{module}.{name}"
            shown = f"{alias}.{name}"
            if name in SUBMODULES.get(module, ()):
                return _Val("mod", span, (path, shown))
            if name in MODULE_CONSTANTS and module in ("math", "numpy", "torch"):
                return _Val("lit", span, MODULE_CONSTANTS[name])
            if name in self.functions:
                return _Val("func", span, (shown, self.functions[name]))
            if path in CONSTRUCTORS:
                return _Val("ctor", span, path)
            if (module, name) in DTYPES:
                return _Val("dtype", span, module)
            raise self.unknown_function(shown, span)
        if target.kind == "rng":
            if name != "standard_normal":
                raise _err(f"'.{name}' of a random generator is not supported", (dot[0], span[1]),
                           "random numbers are drawn with .standard_normal([5, 10])")
            return _Val("method", span, (target, name))
        if name == "T":
            return self.gate("transpose", [target], span)
        if name in self.methods or name in ("backward", "double", "astype"):
            return _Val("method", span, (target, name))
        if name in ("data", "grad", "item"):
            raise _err(f"'.{name}' can be read only in a print line", span,
                       "chainrule shows every wire's value and gradient in the circuit")
        methods = ", ".join(f".{m}()" for m in sorted(self.methods))
        if target.kind == "ref":
            hint = (f"only math. and np. (or torch.) functions and the methods {methods} "
                    "can be reached with a dot")
            if name.startswith("__"):
                hint = "names with double underscores are never reachable; " + hint
            raise _err(f"'{target.data}.{name}' is not available", span, hint)
        raise _err(f"attribute '.{name}' is not supported", (dot[0], span[1]),
                   f"only .T and the methods {methods} work on values")

    def unknown_function(self, name: str, span: tuple[int, int]) -> ExpressionError:
        if name in ("exec", "eval", "compile", "open", "__import__", "getattr"):
            return _err(f"unknown function '{name}'", span,
                        "chainrule never runs code: write the computation itself")
        short = name.rsplit(".", 1)[-1]
        if short in ("MLP", "Layer", "Neuron"):
            return _err(f"unknown function '{name}'", span,
                        "micrograd's networks are not drawn: write its neurons out, like "
                        "(w1*x1 + w2*x2 + b).tanh()")
        if short in ("zeros", "ones", "full", "arange", "linspace"):
            return _err(f"unknown function '{name}'", span,
                        "write the numbers out as a list, like b = [0.0, 0.0, 0.0], or use "
                        "np.array([...]) or np.random.randn(5, 10)")
        if short in ("rand", "randn", "randint", "normal", "uniform", "randn_like", "rand_like",
                     "standard_normal"):
            return _err(f"unknown function '{name}'", span,
                        "random numbers are written np.random.randn(5, 10) (standard normal, "
                        "the same numbers on every draw), or write the numbers out as a list")
        close = difflib.get_close_matches(short, list(self.functions), n=1)
        hint = (f"did you mean {close[0]}?" if close
                else "available: " + ", ".join(sorted(self.functions)))
        return _err(f"unknown function '{name}'", span, hint)

    def call(self, callee: _Val, args: list[_Val], span: tuple[int, int]) -> _Val:
        kind = callee.kind
        if kind == "ref":  # a function, a constructor or draw_dot, by its plain name
            fname = callee.data
            if fname in self.names and not (self.piece and fname in self.functions):
                raise _err(f"'{fname}' is a variable, not a function", callee.span)
            if fname in self.functions:
                if self.functions[fname] == "gelu" and fname in self.from_torch:
                    args = _tanh_form(fname, args, callee.span)
                return self.apply(fname, self.functions[fname], args, span, 0)
            if fname in CONSTRUCTORS:
                return self.construct(fname, args, span)
            if fname == "draw_dot":  # like o.backward(), names the output
                if len(args) != 1 or args[0].kind == "kwarg":
                    raise _err("draw_dot() takes the output, like draw_dot(o)", span)
                return _Val("output", span, (self.node(args[0]), "draw_dot"))
            raise self.unknown_function(fname, callee.span)
        if kind == "func":
            shown, op = callee.data
            if op == "gelu" and self.modules.get(shown.split(".")[0], "").startswith("torch"):
                args = _tanh_form(shown, args, callee.span)
            return self.apply(shown, op, args, span, 0)
        if kind == "ctor":
            return self.construct(callee.data, args, span)
        if kind == "method":
            receiver, mname = callee.data
            if mname == "backward" or mname == "double":
                if args:
                    raise _err(f".{mname}() takes no arguments here", span)
                if mname == "double":  # values are float64 already; PyTorch prints them so
                    self.dtype = self.dtype and "float64"
                    return self.widen(receiver, span) if receiver.kind != "leaf" else receiver
                return _Val("output", span, (self.node(receiver), "backward"))
            if mname == "astype":
                return self.astype(receiver, args, span)
            if mname == "standard_normal":
                return self.standard_normal(receiver.data, args, span)
            if args and receiver.kind == "ref" and receiver.data == "F" and "F" not in self.names:
                raise _err("'F' is not imported", receiver.span,  # F.relu(x) read as a method
                           "add import torch.nn.functional as F above it")
            return self.apply(f".{mname}", self.methods[mname], [receiver, *args], span, 1)
        raise _err("only functions can be called", callee.span)

    def astype(self, receiver: _Val, args: list[_Val], span: tuple[int, int]) -> _Val:
        """x.astype(float), x.astype(np.float32), x.astype(np.float64): the value itself, as
        x.double() is (values are float64 already; the notes cast a relu's mask so)."""
        if len(args) != 1 or args[0].kind == "kwarg":
            raise _err(".astype() takes one dtype here", span,
                       "write .astype(float) or .astype(np.float32)")
        (dtype,) = args
        if not (dtype.kind == "dtype" and dtype.data == "numpy"
                or dtype.kind == "ref" and dtype.data == "float"):
            raise _err(f"'.astype({self.text[dtype.span[0]:dtype.span[1]]})' is not supported",
                       dtype.span, "values are floats: .astype(float), .astype(np.float32) and "
                                   ".astype(np.float64) read as the value itself")
        return self.widen(receiver, span) if receiver.kind != "leaf" else receiver

    def standard_normal(self, seed: int, args: list[_Val], span: tuple[int, int]) -> _Val:
        """np.random.default_rng(seed).standard_normal(shape): the value {"randn": shape,
        "seed": seed} stands for; shape a whole number or a list of them."""
        shape = args[0].data if len(args) == 1 else None
        if len(args) == 1 and args[0].kind == "int":
            shape = [shape]
        elif len(args) == 1 and args[0].kind == "lit" and np.ndim(shape) == 1:
            shape = [int(n) if float(n).is_integer() else 0 for n in shape]
        if not (isinstance(shape, list) and all(n > 0 for n in shape)):
            raise _err(".standard_normal() takes a shape of positive whole sizes here", span,
                       "write .standard_normal([5, 10])")
        return self.random(shape, seed, "np.random.default_rng", span)

    def random(self, shape: list[int], seed: int, shown: str, span: tuple[int, int]) -> _Val:
        """A random input the code makes: its value, kept with the {"randn": shape, "seed":
        seed} it was made from (the staged code makes it again)."""
        randn = {"randn": shape, "seed": seed}
        try:
            value = as_value(randn, shown, self.max_elements)
        except ExpressionError as e:
            raise _err(e.message, span) from None
        return _Val("leaf", span, (value, None, randn, False))

    def apply(self, shown: str, op: str, args: list[_Val], span: tuple[int, int],
              receiver: int) -> _Val:
        """A gate called by name: its inputs first, then its constants (by position or by
        keyword, in `attrs` order; missing ones from `defaults`)."""
        row = GATES[op]
        called = shown.rsplit(".", 1)[-1]  # np.dot, .dot: dot
        if called == "max" or called == "min":
            self.extremum(shown, op, len(args), span)
        if len(args) == row.arity and not row.attrs and (not args or args[-1].kind != "kwarg"):
            return self.gate(op, args, span, called)  # the usual call: inputs only
        positional = [a for a in args if a.kind != "kwarg"]
        keywords = [a for a in args if a.kind == "kwarg"]
        n = row.arity - receiver  # the inputs asked for: a method's receiver is not counted
        attrs: dict[str, _Val] = {}
        for kw in keywords:
            name, value = kw.data
            if name not in row.attrs:
                if not row.attrs:  # sum(x, axis=0): sum has no axis, by keyword or not
                    raise _err(f"{shown}() has no argument '{name}'", kw.span,
                               f"it takes {_count(n, 'argument')}, by position, and no keywords"
                               if n else "it takes no arguments")
                raise _err(f"{shown}() has no constant '{name}'", kw.span,
                           f"its constants: {', '.join(row.attrs)}")
            attrs[name] = value
        if not row.arity <= len(positional) <= row.arity + len(row.attrs):
            need = _count(n, "argument")
            if row.attrs:
                need = (f"{_count(n, 'input')} and at most {_count(len(row.attrs), 'constant')}"
                        f" ({', '.join(row.attrs)})")
            raise _err(f"{shown}() takes {need}, got {len(args) - receiver}", span)
        for name, value in zip(row.attrs, positional[row.arity:], strict=False):
            if name in attrs:
                raise _err(f"'{name}' is given twice", value.span)
            attrs[name] = value
        constants = {}
        for name in row.attrs:
            if name in attrs:
                v = attrs[name]
                if not _is_scalar_lit(v):
                    raise _err(f"{shown}()'s constant '{name}' must be a number", v.span,
                               f"write a number, like {name}=0.01")
                constants[name] = float(v.data)
            elif name in row.defaults:
                constants[name] = row.defaults[name]
            else:
                raise _err(f"{shown}() needs its constant '{name}'", span,
                           f"write {shown}(..., {name}=...)")
        return self.gate(op, positional[:row.arity], span, called, **constants)

    def extremum(self, shown: str, op: str, n: int, span: tuple[int, int]) -> None:
        """The max and min gates are elementwise, of two values: max(x, y), torch.max(x, y),
        np.maximum(x, y). Refuse max(x) of one value (the largest element: a reduction, no gate
        here) and numpy's np.max(x, y) (its second argument is an axis to reduce along)."""
        numpy = self.modules.get(shown.split(".")[0]) == "numpy" and "." in shown
        elementwise = f"{shown}imum" if numpy else shown  # np.max -> np.maximum
        most, word = ("largest", "maximum") if op == "max" else ("smallest", "minimum")
        if n == 1:
            raise _err(f"{shown}(x) is the {most} element of x, a reduction that is not a gate "
                       "here", span, f"{elementwise}(x, y) is the elementwise {word} of two "
                                     "values")
        if numpy:
            raise _err(f"{shown}(x, y) is not the elementwise {word}: numpy reads y as an axis "
                       "of x to reduce along", span,
                       f"{elementwise}(x, y) is the elementwise {word}")

    def construct(self, ctor: str, args: list[_Val], span: tuple[int, int]) -> _Val:
        """Value(2.0, label='x1'), torch.tensor(2.0, requires_grad=True), torch.Tensor([2.0]),
        np.array([1, 2]): a number or a list that becomes an input when assigned to a name;
        np.random.randn(5, 10) random numbers of that shape (the n-th such call gets seed n, as
        the checker gives)."""
        if ctor == RNG:
            if len(args) != 1 or args[0].kind != "int":
                raise _err("np.random.default_rng() takes a whole-number seed here", span,
                           "write np.random.default_rng(0).standard_normal([5, 10])")
            return _Val("rng", span, args[0].data)
        if ctor == RANDN:
            if not args or not all(a.kind == "int" and a.data > 0 for a in args):
                raise _err("np.random.randn() takes positive whole sizes", span,
                           "write np.random.randn(5, 10)")
            leaf = self.random([a.data for a in args], self.randns, "np.random.randn", span)
            self.randns += 1
            return leaf
        shown = "np.array" if ctor == ARRAY else ctor
        positional = [a for a in args if a.kind != "kwarg"]
        if len(positional) != 1 or not _is_lit(positional[0]):
            example = {ARRAY: "[1.0, 2.0]", "torch.Tensor": "[2.0]"}.get(ctor, "2.0")
            what = "list" if ctor == "torch.Tensor" else "number or list"
            raise _err(f"{shown}() takes one {what} of numbers", span,
                       f"write {shown}({example})")
        given = positional[0]
        if ctor == "torch.Tensor" and _is_scalar_lit(given):  # a size, or PyTorch's TypeError
            written = self.text[given.span[0]:given.span[1]]
            number = repr(float(given.data))
            why = (f"is not the number {written}: PyTorch reads a whole number here as a size "
                   f"(a tensor of {written} uninitialised numbers)" if given.kind == "int"
                   else "is an error in PyTorch: torch.Tensor takes a list of numbers")
            raise _err(f"torch.Tensor({written}) {why}", span,
                       f"write torch.Tensor([{number}]) or torch.tensor({number})")
        label, grad = None, False
        for kw in args:
            if kw.kind != "kwarg":
                continue
            name, value = kw.data
            if ctor == ARRAY:
                raise _err(f"np.array() keyword '{name}' is not supported", kw.span,
                           "write np.array([1.0, 2.0]): its numbers are float64")
            if name not in CONSTRUCTOR_KEYWORDS:
                raise _err(f"{ctor}() keyword '{name}' is not supported", kw.span,
                           "accepted: " + ", ".join(CONSTRUCTOR_KEYWORDS))
            if name == "label":
                if value.kind != "str":
                    raise _err("a label is a string, like label='x1'", value.span)
                label = value.data[1:-1]
            elif name == "requires_grad":
                _check_bool(value)
                grad = value.data == "True"
            elif value.kind != "dtype" or value.data != "torch":
                raise _err("the only dtype is torch.float64", value.span)
        data = given.data
        if ctor.startswith("torch."):  # PyTorch's tensors: float32 unless dtype= says float64
            asked = any(kw.kind == "kwarg" and kw.data[0] == "dtype" for kw in args)
            if grad and not asked and ctor == "torch.tensor" and (given.kind == "int"
                                                                  or given.ints):
                # whole numbers make an integer tensor, which PyTorch refuses to differentiate
                raise _err("PyTorch refuses requires_grad=True here: only tensors of floating "
                           "point and complex dtype can require gradients, and whole numbers "
                           "make an integer tensor", given.span,
                           f"write {data}.0" if given.kind == "int"
                           else "write the numbers with a decimal point, like 1.0")
            self.dtype = "float64" if asked else self.dtype or "float32"
            if not asked:  # its numbers rounded to float32, as a .double() after it keeps them
                with np.errstate(over="ignore"):
                    data = np.asarray(data, dtype=np.float32).astype(float).tolist()
        return _Val("leaf", span, (data, label, None, grad))


def _count(n: int, noun: str) -> str:
    """'1 input', '2 inputs', '5,000 gates'."""
    return f"{n:,} {noun}" + ("s" if n != 1 else "")


def _check_bool(v: _Val) -> None:
    if not (v.kind == "ref" and v.data in ("True", "False")):
        raise _err("requires_grad is True or False", v.span)


def _check_name(name: str, span: tuple[int, int]) -> None:
    """Refuse a name that the staged Python (engine/codegen.py) needs for itself."""
    if name in RESERVED:
        raise _err(f"'{name}' is a name the generated Python code needs", span,
                   "choose another name")
    if name.startswith("__"):
        raise _err(f"'{name}': names with double underscores are not part of the language",
                   span, "choose another name")


# --- the parser -------------------------------------------------------------------------------

_KIND_WORDS = {"num": "number ", "name": "name ", "str": "string "}  # before the token's text


def _equality(tok: Token, name: str | None = None) -> ExpressionError:
    """'==', after the name that starts a statement (`x == y`, most likely meant as x = y) or
    elsewhere: the language compares with > < >= <= only."""
    compare = f"{_COMPARE}: a == b is (a >= b) * (a <= b)"
    if name is None:
        return ExpressionError("'==' is not part of the language", tok[2], tok[3], hint=compare)
    return ExpressionError("'==' is not part of the language: a single = gives a name its value",
                           tok[2], tok[3],
                           hint=f"to give {name} a value, write {name} = ...; or {compare}")


def _unexpected(tok: Token, expected: str, hint: str | None = None) -> ExpressionError:
    kind, text, start, end = tok
    if kind == "=":
        return ExpressionError("only a single name can be assigned to", start, end,
                               hint="write name = expression")
    if kind == "==":
        return _equality(tok)
    if kind == "end":
        return ExpressionError(f"the input ends too early; expected {expected}", start, end)
    if kind == "sep" and text == "\n":
        return ExpressionError(f"the line ends too early; expected {expected}", start, end,
                               hint=hint)
    found = _KIND_WORDS.get(kind, "")
    return ExpressionError(f"unexpected {found}'{text}'; expected {expected}", start, end,
                           hint=hint)


class _Frame:
    """An open bracket: ( for grouping or a call, [ for a list or an index. (Written out: one
    is made per bracket, and a dataclass's default_factory would make that slower.)"""

    __slots__ = ("kind", "start", "items", "callee", "keyword")

    def __init__(self, kind: str, start: int, callee: _Val | None) -> None:
        self.kind = kind  # "paren", "call", "list", "index"
        self.start = start
        self.items: list[_Val] = []
        self.callee = callee
        self.keyword: Token | None = None  # the name of a keyword argument being read


# what may follow an operand, by the innermost open bracket (None: no bracket is open)
_AFTER_OPERAND = {
    None: "an operator or the end of the line",
    "paren": "an operator or ')'",
    "call": "an operator, ',' or ')'",
    "list": "an operator, ',' or ']'",
    "index": "an operator, ',' or ']'",
}
# on the operator stack, an open bracket (or the start): it binds looser than every operator,
# so no reduction goes past it
_WALL = (-2, None, 0)


def _expression(b: _Builder, toks: Tokens, i: int) -> tuple[_Val, int]:
    """Precedence climbing with explicit stacks: the expression starting at token i, and the
    index of the token after it (a separator or the end)."""
    kinds, texts, starts, ends = toks.kind, toks.text, toks.start, toks.end
    values: list[_Val] = []
    ops: list[tuple] = [_WALL]  # pending operators: (right binding power, gate or sign, start)
    frames: list[_Frame] = []
    operand = True  # whether an operand comes next
    while True:
        kind = kinds[i]
        if operand:
            if kind == "name":
                if (kinds[i + 1] == "=" and frames and frames[-1].kind == "call"
                        and ops[-1] is _WALL):
                    frames[-1].keyword = toks[i]  # name=value in a call
                    i += 2
                    continue
                values.append(_Val("ref", (starts[i], ends[i]), texts[i]))
            elif kind == "(" or kind == "[":
                frames.append(_Frame("paren" if kind == "(" else "list", starts[i], None))
                ops.append(_WALL)
                i += 1
                continue
            elif kind == "num":
                values.append(b.number(texts[i], (starts[i], ends[i])))
            elif kind == "-" or kind == "+":
                ops.append((PREFIX_POWER, kind, starts[i]))
                i += 1
                continue
            elif kind == "str":
                values.append(_Val("str", (starts[i], ends[i]), texts[i]))
            elif (kind == ")" or kind == "]") and ops[-1] is _WALL and frames and (
                    frames[-1].items or frames[-1].kind in ("call", "list")) and (
                    frames[-1].keyword is None):
                # f(), [] and a trailing comma: the bracket closes with no value pending
                _close(b, values, ops, frames, ends[i], pending=False)
            else:
                raise _unexpected(toks[i], "an expression")
            i += 1
            operand = False
            continue
        # after an operand: a postfix, an operator, a comma, a closing bracket or the end
        if kind == ")" or kind == "]":
            _close(b, values, ops, frames, ends[i], pending=True)
            i += 1
        elif kind in INFIX:
            lbp, rbp, op = INFIX[kind]
            _reduce(b, values, ops, lbp)
            ops.append((rbp, op, starts[i]))
            operand = True
            i += 1
        elif kind == "(" or kind == "[":
            frames.append(_Frame("call" if kind == "(" else "index", starts[i], values.pop()))
            ops.append(_WALL)
            operand = True
            i += 1
        elif kind == ".":
            if kinds[i + 1] != "name":
                raise _unexpected(toks[i + 1], "a name after '.'")
            target = values.pop()
            values.append(b.attribute(target, texts[i + 1], (target.span[0], ends[i + 1]),
                                      (starts[i], ends[i])))
            i += 2
        elif kind == "," and frames and frames[-1].kind != "paren":
            _reduce(b, values, ops)
            _item(frames[-1], values.pop())
            operand = True
            i += 1
        elif kind == "sep" or kind == "end":  # no bracket is open here: the tokenizer checked
            _reduce(b, values, ops)
            return values[0], i
        else:
            hint = ("put an operator such as * between the two"
                    if kind in ("name", "num", "str") else None)
            raise _unexpected(toks[i], _AFTER_OPERAND[frames[-1].kind if frames else None], hint)


def _reduce(b: _Builder, values: list[_Val], ops: list[tuple], power: int = _WALL[0]) -> None:
    """Apply the pending operators that bind tighter than `power` to the values they take (by
    default, all of them back to the innermost open bracket)."""
    while power < ops[-1][0]:
        _, op, start = ops.pop()
        if op == "-" or op == "+":
            values.append(b.unary(op, start, values.pop()))
        else:
            right = values.pop()
            left = values.pop()
            if ops[-1][1] in _COMPARISONS and op in _COMPARISONS:
                raise _chained(b, values, ops, [left, right])
            values.append(b.binary(op, left, right))


def _chained(b: _Builder, values: list[_Val], ops: list[tuple],
             operands: list[_Val]) -> ExpressionError:
    """a < b < c: Python reads it as a < b and b < c, where each comparison is a gate here."""
    while ops[-1][1] in _COMPARISONS:  # the comparisons before these two operands
        ops.pop()
        operands.insert(0, values.pop())
    pairs = [b.text[x.span[0]:y.span[1]] for x, y in zip(operands, operands[1:], strict=False)]
    span = (operands[0].span[0], operands[-1].span[1])
    return _err(f"comparisons cannot be chained: Python reads {b.text[span[0]:span[1]]} as "
                + " and ".join(pairs), span,
                "write " + " * ".join(f"({p})" for p in pairs)
                + ", or put brackets around the comparison meant first")


def _item(frame: _Frame, value: _Val) -> None:
    if frame.keyword is not None:
        name = frame.keyword
        if any(v.kind == "kwarg" and v.data[0] == name[1] for v in frame.items):
            raise _err(f"keyword argument '{name[1]}' is repeated", (name[2], name[3]),
                       "give it once")  # as Python refuses it
        value = _Val("kwarg", (name[2], value.span[1]), (name[1], value))
        frame.keyword = None
    frame.items.append(value)


def _close(b: _Builder, values: list[_Val], ops: list[tuple], frames: list[_Frame], end: int,
           pending: bool) -> None:
    """A closing bracket (ending at `end`) ends the innermost frame: its value replaces it."""
    _reduce(b, values, ops)
    ops.pop()
    frame = frames.pop()
    kind = frame.kind
    if kind == "paren":
        values.append(b.widen(values.pop(), (frame.start, end)))
        return
    if pending:
        _item(frame, values.pop())
    if kind == "list":
        values.append(b.items_list(frame.items, (frame.start, end)))
    elif kind == "index":
        values.append(b.index(frame.callee, frame.items, (frame.callee.span[0], end)))
    else:
        values.append(b.call(frame.callee, frame.items, (frame.callee.span[0], end)))


# --- statements -------------------------------------------------------------------------------


@acyclic_build()
def parse_program(text: str, limits: Limits | None = None, piece: bool = False) -> Program:
    """Read a program: its graph, each statement (line, target, operator, span, node) and the
    text of its print lines. Every mistake is an ExpressionError with a span. A `piece` is one
    right side of engine.backcheck, read without the statements before it: a name read like a
    function's (dot) is a variable there, and x may be read with its gradient dx."""
    toks = tokenize(text, limits)
    kinds, texts, starts, ends = toks.kind, toks.text, toks.start, toks.end
    b = _Builder(text, limits, piece)
    program = Program(b.g)
    add = program.statements.append
    line, counted = 1, 0  # the line at text position `counted`
    i = 0
    while True:
        kind = kinds[i]
        if kind == "sep":
            i += 1
            continue
        if kind == "end":
            break
        start = starts[i]
        line += text.count("\n", counted, start)
        counted = start
        name, nxt = texts[i], kinds[i + 1]
        if kind == "name" and (nxt == "=" or nxt in AUGMENTED):
            span = (start, ends[i])
            if nxt != "=" and name not in b.names:
                raise _err(f"'{name}' has no value yet", span, f"assign it before {name} {nxt} ...")
            value, i = _expression(b, toks, i + 2)
            if nxt != "=":
                value = b.binary(AUGMENTED[nxt], _Val("ref", span, name), value)
            add(Statement(line, "assign", name, nxt, (start, ends[i - 1]),
                          b.assign(name, span, value)))
        elif kind == "kw":
            i = _import(b, toks, i)
            add(Statement(line, "import", None, None, (start, ends[i - 1]), None))
        elif kind == "name" and nxt == "." and kinds[i + 2] == "name" and kinds[i + 3] == "=":
            target, attr = toks[i], toks[i + 2]
            value, i = _expression(b, toks, i + 4)
            node = b.set_attribute(target, attr, value)
            add(Statement(line, "attribute", name, None, (start, ends[i - 1]), node))
        elif kind == "name" and nxt == "==":
            raise _equality(toks[i + 1], name)
        elif kind == "name" and name == "print" and nxt == "(":
            i = _skip_print(b, toks, i, program.prints, line)
            add(Statement(line, "print", None, None, (start, ends[i - 1]), None))
        else:
            value, i = _expression(b, toks, i)
            statement = Statement(line, "expression", None, None, (start, ends[i - 1]), None)
            b.expression(value, statement)
            add(statement)
        if kinds[i] != "sep" and kinds[i] != "end":
            raise _unexpected(toks[i], "the end of the line")
    b.finish()
    return program


def parse(text: str, limits: Limits | None = None) -> Graph:
    """Build the circuit for an expression or a program; every mistake is an ExpressionError."""
    return parse_program(text, limits).graph


def _skip_print(b: _Builder, toks: Tokens, i: int, prints: list[Print], line: int) -> int:
    """print(...): nothing is computed here; its text is kept with the wires its names stand for
    (the circuit shows what it prints)."""
    depth = 1
    j = i + 2  # after 'print('
    while depth:  # to the ')' that closes it (the tokenizer matched every bracket)
        depth += {"(": 1, ")": -1}.get(toks.kind[j], 0)
        j += 1
    inner = b.text[toks.end[i + 1]:toks.start[j - 1]].strip()
    wires = {name: b.names[name] for name in re.findall(r"[A-Za-z_]\w*", inner)
             if name in b.names}
    prints.append(Print(line, inner, wires, b.marked is not None, b.dtype,
                        frozenset(name for name, node in wires.items() if node in b.kept)))
    return j


def _import(b: _Builder, toks: Tokens, i: int) -> int:
    """import m [as a], ... | from m import n [as a], ...: the modules chainrule knows are
    accepted (their aliases reach their functions); any other is an error that names it."""
    first = toks.text[i]
    if first == "as":
        raise _unexpected(toks[i], "an expression")

    def dotted(j: int) -> tuple[str, int]:
        if toks.kind[j] != "name":
            raise _unexpected(toks[j], "a module name")
        begin = j
        j += 1
        while toks.kind[j] == "." and toks.kind[j + 1] == "name":
            j += 2
        module = "".join(toks.text[begin:j])  # its names and dots
        if module not in IMPORTABLE:
            raise _err(f"'{module}' cannot be imported here", (toks.start[begin], toks.end[j - 1]),
                       "chainrule reads programs that import " + ", ".join(IMPORTABLE[:5])
                       + " or micrograd; it never runs code")
        return module, j

    def alias(j: int) -> tuple[str | None, int]:
        if toks.text[j] == "as":
            if toks.kind[j + 1] != "name":
                raise _unexpected(toks[j + 1], "a name")
            return toks.text[j + 1], j + 2
        return None, j

    if first == "import":
        j = i + 1
        while True:
            module, j = dotted(j)
            name, j = alias(j)
            if name is not None or "." not in module:  # import torch.nn binds no name
                b.modules[name or module] = module
            if toks.kind[j] != ",":
                return j
            j += 1
    module, j = dotted(i + 1)
    if toks.text[j] != "import":
        raise _unexpected(toks[j], "'import'")
    j += 1
    paren = toks.kind[j] == "("
    j += paren
    while True:
        if toks.kind[j] != "name":
            raise _unexpected(toks[j], "a name to import")
        name = toks.text[j]
        local, j = alias(j + 1)
        if f"{module}.{name}" in IMPORTABLE:  # from torch.nn import functional as F
            b.modules[local or name] = f"{module}.{name}"
        elif module.startswith("torch"):
            b.from_torch.add(local or name)
        if toks.kind[j] != ",":
            break
        j += 1
        if paren and toks.kind[j] == ")":
            break
    if paren:
        if toks.kind[j] != ")":
            raise _unexpected(toks[j], "')'")
        j += 1
    return j
