"""The functions the gate table is written with. Each works on three kinds of value:

- Python floats, with `math` (a call costs ~50 ns, where numpy on a scalar costs ~1 µs);
- numpy arrays (and the float64 scalars numpy hands back), with numpy;
- `Sym`, a symbol: the same call then writes itself down, as Python for the staged code and as
  LaTeX for the formula shown beside a gate.

So a gate states its forward pass and its local derivative once, and the engine runs that
statement on numbers while the code generator and the formula read the very same statement.

Where `math` raises (1/0, exp(1000), log(-1)) the engine runs the gate again on numpy float64
scalars, so such a value is numpy's inf or nan whichever path it took.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

import numpy as np

from engine.errors import ExpressionError

# Binding strength of a written expression, weakest first (Python's own order).
CMP, ADD, MUL, NEG, POW, ATOM = range(6)


def _wrap(s: Sym, prec: int, tex: bool = False) -> str:
    text = s.tex if tex else s.py
    if (s.texprec if tex else s.prec) >= prec:
        return text
    return rf"\left({text}\right)" if tex else f"({text})"


def _number(s: Sym) -> float | None:
    """The finite number a symbol writes down (2, -1.0), or None (a name, such as inf or nan)."""
    try:
        v = float(s.py)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


# Two numbers are worked out, as the notes write a power's derivative: 2 * x, not 2 * x**(2 - 1.0)
_WORK = {" + ": operator.add, " - ": operator.sub, " * ": operator.mul}


def _binary(a, b, py_op: str, tex_op: str, prec: int) -> Sym:
    a, b = sym(a), sym(b)
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None and py_op in _WORK:
        v = _WORK[py_op](na, nb)
        return sym(int(v) if v.is_integer() and abs(v) < 1e15 else v)
    # a number times x**0 is the number: the derivative of x**1 is 1, as the notes write it
    if py_op == " * " and (na is not None and isinstance(b, _One) or
                           nb is not None and isinstance(a, _One)):
        return a if na is not None else b
    # left-associative: the right operand must bind strictly tighter (a - (b - c))
    py = _wrap(a, prec) + py_op + _wrap(b, prec + 1)
    tex = _wrap(a, prec, True) + tex_op + _wrap(b, prec + 1, True)
    s = Sym(py, tex, prec, shape=_broadcast(a.shape if na is None else (),
                                            b.shape if nb is None else ()))
    return _powers(s, a, b) if py_op == " * " else s


def _powers(s: Sym, a: Sym, b: Sym) -> Sym:
    """s = a * b with a name written once for each time it repeats at the end of a product: x x
    is x^{2}, 0.044715 x x x is 0.044715 x^{3}. Only the LaTeX: the Python keeps the products,
    whose numbers the gate's are."""
    if not b.py.isidentifier():
        return s
    if a.py == b.py:
        head, n = None, 2
    elif a.last is not None and a.last[1] == b.tex:
        head, n = a.last[0], a.last[2] + 1
    else:
        s.last = (_wrap(a, MUL, True), b.tex, 1)
        return s
    s.tex = (head + r"\," if head else "") + f"{b.tex}^{{{n}}}"
    s.texprec = MUL if head else POW
    s.last = (head, b.tex, n)
    return s


def _broadcast(*shapes):
    """The broadcast shape of known shapes (np.size of a symbol of it is a number), else None."""
    try:
        return None if None in shapes else np.broadcast_shapes(*shapes)
    except ValueError:
        return None


def _fraction(a, b) -> Sym:
    """a / b; in LaTeX a fraction over b is one fraction, (u / v) / b written u / (b v), whose
    terms are set at full size where a fraction inside a fraction would be small."""
    a, b = sym(a), sym(b)
    u, v = a.over or (a.tex, None)
    den = b.tex if v is None else _wrap(b, MUL, True) + r"\," + _wrap(v, MUL, True)
    s = Sym(_wrap(a, MUL) + " / " + _wrap(b, MUL + 1), rf"\frac{{{u}}}{{{den}}}", MUL)
    s.over = (u, b if v is None else Sym(den, den, MUL))
    return s


def _power(a, b) -> Sym:
    a, b = sym(a), sym(b)
    if _number(b) == 1:
        return a
    # right-associative, and tighter than a unary minus on its left: (-x)**2, x**-1
    return (_One if _number(b) == 0 else Sym)(
        _wrap(a, POW + 1) + "**" + _wrap(b, NEG), _wrap(a, ATOM, True) + f"^{{{b.tex}}}", POW)


# The indicator: 1 where its condition holds, 0 elsewhere. A double-struck I, as KaTeX has no
# double-struck 1 (it sets \mathbb{1} as a plain 1: 0.5 1(a = b) would read 0.51)
INDICATOR = r"\mathbb{I}"


def _compare(a, b, op: str) -> Sym:
    a, b = sym(a), sym(b)
    tex_op = {">=": r"\ge", "<=": r"\le", "==": "="}.get(op, op)
    return Sym(f"({a.py} {op} {b.py})", rf"{INDICATOR}({a.tex} {tex_op} {b.tex})", ATOM)


def _operator(f: Callable, *args, reflected: bool = False) -> Callable:
    """A Sym operator: f(self, other, *args), or f(other, self, *args) when reflected."""
    if reflected:
        return lambda self, o: f(o, self, *args)
    return lambda self, o: f(self, o, *args)


class Sym:
    """An expression written down: `py` is Python, `tex` is LaTeX, `prec` how tightly it binds.
    `shape` is known for the symbols that stand for a circuit's wires (the code generator's);
    `texprec` is how tightly the LaTeX binds, where it differs from the Python (1.0 * (a > b) is
    a product, its LaTeX 𝕀(a > b) a call). `last` is a product's last factor where it is a name,
    with its power and the LaTeX before it: (head, name, n); `over` a fraction's numerator (its
    LaTeX) and denominator."""

    __slots__ = ("py", "tex", "prec", "shape", "texprec", "last", "over")
    __hash__ = object.__hash__

    def __init__(self, py: str, tex: str | None = None, prec: int = ATOM, shape=None,
                 texprec: int | None = None):
        self.py, self.tex, self.prec, self.shape = py, py if tex is None else tex, prec, shape
        self.texprec = prec if texprec is None else texprec
        self.last = self.over = None

    def __repr__(self) -> str:
        return f"Sym({self.py!r})"

    def __neg__(self):
        return Sym("-" + _wrap(self, NEG), "-" + _wrap(self, NEG, tex=True), NEG)

    __add__ = _operator(_binary, " + ", "+", ADD)
    __radd__ = _operator(_binary, " + ", "+", ADD, reflected=True)
    __sub__ = _operator(_binary, " - ", "-", ADD)
    __rsub__ = _operator(_binary, " - ", "-", ADD, reflected=True)
    __mul__ = _operator(_binary, " * ", r"\,", MUL)
    __rmul__ = _operator(_binary, " * ", r"\,", MUL, reflected=True)
    __truediv__ = _operator(_fraction)
    __rtruediv__ = _operator(_fraction, reflected=True)
    __pow__ = _operator(_power)
    __rpow__ = _operator(_power, reflected=True)
    __gt__ = _operator(_compare, ">")
    __lt__ = _operator(_compare, "<")
    __ge__ = _operator(_compare, ">=")
    __le__ = _operator(_compare, "<=")
    __eq__ = _operator(_compare, "==")  # type: ignore[assignment]


class _One(Sym):
    """x**0: 1 for every float (nan and inf too), written as a power, which keeps x's shape."""

    __slots__ = ()


def sym(x) -> Sym:
    """A number (or its text) or a symbol as a symbol: 1 stays 1, 2.0 is written 2.0, -1.0 binds
    as a negation."""
    if isinstance(x, Sym):
        return x
    text = repr(x) if isinstance(x, float) else str(x)
    tex = text[:-2] if text.endswith(".0") else text
    return Sym(text, tex, NEG if text.startswith("-") else ATOM)


def _call(py: str, tex: str, *args) -> Sym:
    """A written call: `py` and `tex` are templates with {0}, {1}... for the arguments."""
    xs = [sym(a) for a in args]
    return Sym(py.format(*(x.py for x in xs)), tex.format(*(x.tex for x in xs)), ATOM)


def unary(py: str, tex: str, on_float: Callable, on_array: Callable) -> Callable:
    """A function of one value, elementwise or a reduction: `on_float` for a Python float,
    `on_array` otherwise, and for a symbol the call written with the `py` and `tex` templates."""

    def fn(x):
        if type(x) is float:
            return on_float(x)
        if isinstance(x, Sym):
            return _call(py, tex, x)
        return on_array(x)

    fn.__name__ = py.split("(")[0].split(".")[-1]
    return fn


# --- elementwise functions: floats, arrays, symbols ------------------------------------------


def _sigmoid_float(x: float) -> float:
    e = math.exp(-abs(x))  # exp of a non-positive number only: neither branch overflows
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


def _sigmoid_array(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sign_float(x: float) -> float:
    return float((x > 0) - (x < 0)) if x == x else x


exp = unary("np.exp({0})", "e^{{{0}}}", math.exp, np.exp)
log = unary("np.log({0})", r"\ln({0})", math.log, np.log)
log1p = unary("np.log1p({0})", r"\ln(1 + {0})", math.log1p, np.log1p)
expm1 = unary("np.expm1({0})", "(e^{{{0}}} - 1)", math.expm1, np.expm1)
sqrt = unary("np.sqrt({0})", r"\sqrt{{{0}}}", math.sqrt, np.sqrt)
tanh = unary("np.tanh({0})", r"\tanh({0})", math.tanh, np.tanh)
sin = unary("np.sin({0})", r"\sin({0})", math.sin, np.sin)
cos = unary("np.cos({0})", r"\cos({0})", math.cos, np.cos)
absolute = unary("np.abs({0})", r"|{0}|", abs, np.abs)
sign = unary("np.sign({0})", r"\operatorname{{sign}}({0})", _sign_float, np.sign)
sigmoid = unary("1.0 / (1 + np.exp(-{0}))", r"\sigma({0})", _sigmoid_float, _sigmoid_array)
softplus = unary(
    "np.logaddexp(0, {0})", r"\ln(1 + e^{{{0}}})",
    lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))) if x == x else x,
    lambda x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))))


def power(a, b):
    """a ** b as numpy computes it: no complex results (math.pow raises where numpy gives nan)."""
    if type(a) is float and type(b) is float:
        return math.pow(a, b)
    if isinstance(a, Sym) or isinstance(b, Sym):
        return _power(a, b)
    return np.power(a, b)


def maximum(a, b):
    """max(a, b); a tie gives b and a NaN wins, as np.maximum."""
    if type(a) is float and type(b) is float:
        return a if a > b else b if b >= a else a + b
    if isinstance(a, Sym) or isinstance(b, Sym):
        return _call("np.maximum({0}, {1})", r"\max({0}, {1})", a, b)
    return np.maximum(a, b)


def minimum(a, b):
    if type(a) is float and type(b) is float:
        return a if a < b else b if b <= a else a + b
    if isinstance(a, Sym) or isinstance(b, Sym):
        return _call("np.minimum({0}, {1})", r"\min({0}, {1})", a, b)
    return np.minimum(a, b)


def where(cond, a, b):
    """a where cond holds, else b (both are computed)."""
    if type(cond) is bool:
        return a if cond else b
    if isinstance(cond, Sym):
        cond = Sym(cond.py, cond.tex.removeprefix(INDICATOR), cond.prec)
        return _call("np.where({0}, {1}, {2})", r"\begin{{cases}} {1} & {0} \\ {2} & \text{{else}}"
                     r"\end{{cases}}", cond, a, b)
    return np.where(cond, a, b)


def _comparison(op: str, on_values: Callable) -> Callable:
    """a op b as a number, as numpy's bool is one: 1.0 where it holds, 0.0 elsewhere (a float32
    input stays float32). Written down, the Python is 1.0 * (a op b), which is a float for a
    Python number and for an array alike; the LaTeX is the indicator 𝕀(a op b)."""

    def fn(a, b):
        if type(a) is float and type(b) is float:
            return 1.0 if on_values(a, b) else 0.0
        if isinstance(a, Sym) or isinstance(b, Sym):
            c = _compare(a, b, op)
            return Sym("1.0 * " + c.py, c.tex, MUL, texprec=ATOM)
        return _scalar(np.asarray(on_values(a, b)).astype(np.result_type(a, b, 0.0)))

    return fn


def tie(a, b):
    """Whether a equals b, as (a >= b) * (a <= b): the language has no ==, so staged code that
    writes this reads back in check mode. Written down, the LaTeX is the indicator 𝕀(a = b)."""
    if isinstance(a, Sym) or isinstance(b, Sym):
        c = _compare(a, b, ">=") * _compare(a, b, "<=")
        return Sym(c.py, _compare(a, b, "==").tex, c.prec, texprec=ATOM)
    return (a >= b) * (a <= b)


greater = _comparison(">", operator.gt)
less = _comparison("<", operator.lt)
greater_equal = _comparison(">=", operator.ge)
less_equal = _comparison("<=", operator.le)


def clip(x, lo, hi):
    if type(x) is float:
        return x if lo <= x <= hi else min(max(x, lo), hi)  # as numpy: hi when lo > hi
    if isinstance(x, Sym):
        return _call("np.clip({0}, {1}, {2})", r"\operatorname{{clip}}({0}, {1}, {2})", x, lo, hi)
    return np.clip(x, lo, hi)


# --- reductions and tensor functions ------------------------------------------------------------


def _scalar(v):
    """A 0-d result as a Python float (the engine's scalar), an array as it is."""
    return float(v) if type(v) is np.float64 or (type(v) is np.ndarray and v.ndim == 0
                                                  and v.dtype == np.float64) else v


def _same(x):
    return x


total = unary("np.sum({0})", r"\sum {0}", _same, lambda x: _scalar(np.sum(x)))
mean = unary("np.mean({0})", r"\operatorname{{mean}}({0})", _same, lambda x: _scalar(np.mean(x)))
_size = unary("np.size({0})", "n", lambda x: 1, lambda x: max(1, np.size(x)))


def size(x):
    """How many numbers x holds (at least 1); of a wire's symbol, whose shape is known, that
    number itself, as the staged code writes a mean's gradient: np.ones_like(x) / 6."""
    if isinstance(x, Sym) and x.shape is not None:
        return sym(max(1, math.prod(x.shape)))
    return _size(x)
ones_like = unary("np.ones_like({0})", "1", lambda x: 1.0, np.ones_like)
zeros_like = unary("np.zeros_like({0})", "0", lambda x: 0.0, np.zeros_like)


def T(x):
    """The transpose of a matrix (of the last two axes of a stack); a vector stays itself."""
    if isinstance(x, Sym):
        if x.shape == ():  # a number is its own transpose, and a Python float has no .T
            return x
        shape = None if x.shape is None else x.shape[:-2] + x.shape[-2:][::-1]
        # numpy's .T reverses every axis of a stack
        py = f"np.swapaxes({x.py}, -1, -2)" if _stacked(x) else _wrap(x, ATOM) + ".T"
        return Sym(py, _wrap(x, ATOM, True) + r"^\top", ATOM, shape)
    if type(x) is float or x.ndim < 2:
        return x
    return x.T if x.ndim == 2 else np.swapaxes(x, -1, -2)


def matmul(a, b):
    """a @ b, with an error in the notes' words where the shapes don't line up."""
    if isinstance(a, Sym) or isinstance(b, Sym):
        return _product(a, b)
    lines_up(getattr(a, "shape", ()), getattr(b, "shape", ()))  # a Python float has none
    return _scalar(np.matmul(a, b))


def lines_up(a: tuple, b: tuple) -> None:
    """Refuse shapes a @ b cannot take, in the notes' words (the forward pass and the cost
    model both ask)."""
    if not a or not b:
        raise ExpressionError("@ needs vectors or matrices; use * for scalars")
    if min(len(a), len(b)) == 1 and max(len(a), len(b)) > 2:
        raise ExpressionError(
            f"@ takes a vector with a matrix, not with a stack of matrices "
            f"({shape_text(a)} @ {shape_text(b)}): write the vector as a one-column or one-row "
            f"matrix")
    inner = b[0 if len(b) == 1 else -2]
    if a[-1] != inner:
        raise ExpressionError(
            f"shapes {shape_text(a)} and {shape_text(b)} don't line up for @: the last size of "
            f"the left ({a[-1]}) must equal the {'size' if len(b) == 1 else 'first size'} "
            f"of the right ({inner})")


def dot(a, b):
    """np.dot(a, b) and a.dot(b): a @ b for vectors and matrices; numpy's dot of a stack of
    matrices is another product, refused."""
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise ExpressionError("np.dot of stacks is not matmul; use @",
                              hint="np.matmul(a, b) and a @ b multiply each matrix of a stack")
    return matmul(a, b)


def gdot(p, q):
    """The product in a matrix gradient (dW = dD·Xᵀ, dX = Wᵀ·dD): a number (the gradient of a
    vector·vector product) scales, two vectors make their outer product, anything else is
    np.matmul (faster than np.dot on a transposed float32 matrix)."""
    if isinstance(p, Sym):
        if p.shape == () or q.shape == ():
            return p * q
        if p.shape is not None and q.shape is not None and len(p.shape) == len(q.shape) == 1:
            return _call("np.outer({0}, {1})", r"{0}\,{1}^\top", p, q)
        return _product(p, q)
    dims = getattr(p, "ndim", 0), getattr(q, "ndim", 0)  # a Python float has none
    if 0 in dims:
        return p * q
    return np.outer(p, q) if dims == (1, 1) else np.matmul(p, q)


def _stacked(*xs) -> bool:
    """Whether a symbol stands for a stack of matrices (more than two axes)."""
    return any(len(sym(x).shape or ()) > 2 for x in xs)


def _product(a, b) -> Sym:
    """a @ b written down: a.dot(b), as the notes write it, or np.matmul(a, b) where an operand
    is a stack (numpy's dot of a stack is another product)."""
    if _stacked(a, b):
        return _call("np.matmul({0}, {1})", r"{0}\,{1}", a, b)
    return _call("{0}.dot({1})", r"{0}\,{1}", a, b)


def shape_text(a) -> str:
    """A value's shape, or a shape (a tuple), as the messages write it: 2×3, or scalar."""
    return "×".join(map(str, a if type(a) is tuple else np.shape(a))) or "scalar"


def pick(x, index):
    """x[index], with an error that names the shape where the index does not fit."""
    if isinstance(x, Sym):
        return Sym(f"{_wrap(x, ATOM)}[{index_text(index)}]", f"{x.tex}_{{{index_text(index)}}}")
    try:
        return _scalar(np.asarray(x[index]))
    except (IndexError, TypeError):
        raise ExpressionError(
            f"index [{index_text(index)}] is out of range for shape {shape_text(x)}") from None


def index_text(index) -> str:
    return ", ".join(map(str, index)) if isinstance(index, tuple) else str(index)


def labels(z, y):
    """Integer class labels for the rows of logits z, checked."""
    if isinstance(z, Sym):
        return sym(y)
    if getattr(z, "ndim", 0) == 0:  # a Python float has none
        raise ExpressionError("softmax_ce needs a vector or a matrix of logits, not a scalar")
    y = np.asarray(y)
    if y.shape != z.shape[:-1]:
        raise ExpressionError(
            f"softmax_ce needs one label per row of logits: logits are {shape_text(z)}, "
            f"labels are {shape_text(y)}")
    k = z.shape[-1]
    whole = y.astype(np.intp)  # NaN, inf and fractions change here and fail the equality
    # read as unsigned, a negative label is huge: one comparison tests both ends of the range
    if not ((whole == y) & (whole.view(np.uintp) < k)).all():
        raise ExpressionError(f"softmax_ce labels must be whole numbers from 0 to {k - 1}")
    return whole


# Helpers the staged code calls: plain numpy functions, emitted into the code as they are here.


def softmax_ce(z, labels):
    """Mean cross-entropy of softmax(z) against integer labels (log-sum-exp, max subtracted)."""
    m = z.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))).ravel()
    rows = z.reshape(-1, z.shape[-1])
    losses = lse - rows[np.arange(len(rows)), np.asarray(labels, dtype=int).ravel()]
    return float(losses.sum() / losses.size)


def _softmax_minus_onehot(z, labels):
    """softmax(z), less 1 at each row's label."""
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    rows = p.reshape(-1, p.shape[-1])  # a view: the change lands in p
    rows[np.arange(len(rows)), np.asarray(labels, dtype=int).ravel()] -= 1.0
    return p


def _rows(z):
    return max(1, math.prod(np.shape(z)[:-1]))


def _log_or_0(a):
    """ln a where a > 0, else 0 (the exponent's gradient where a**b has no real log)."""
    return np.log(np.where(a > 0, a, 1.0)) * (a > 0)


log_or_0 = unary("_log_or_0({0})", r"\ln({0})", lambda a: math.log(a) if a > 0 else 0.0,
                 _log_or_0)


rows = unary("_rows({0})", "m", _rows, _rows)  # m, the batch size a loss averages over


def cross_entropy(z, labels):
    """Mean softmax cross-entropy of logits z against integer labels, and what its gradient
    needs, softmax(z) less the one-hot labels: both from one softmax. On symbols, the two as
    the staged code writes them (with the helpers softmax_ce and _softmax_minus_onehot)."""
    if isinstance(z, Sym):
        return (_call("softmax_ce({0}, {1})", r"\operatorname{{CE}}({0}, {1})", z, labels),
                _call("_softmax_minus_onehot({0}, {1})",
                      r"\operatorname{{softmax}}({0})-I_{{{1}}}", z, labels))
    # the helpers' statements, in their order: the same numbers as the staged code. The row
    # maxima are taken down the columns of a contiguous transpose: numpy reduces a short last
    # axis a row at a time, several times slower (a maximum is exact either way)
    m = np.ascontiguousarray(z.transpose(-1, *range(z.ndim - 1))).max(axis=0)[..., None]
    p = np.exp(z - m)
    total = p.sum(axis=-1, keepdims=True)
    lse = (m + np.log(total)).ravel()
    flat = p.reshape(-1, p.shape[-1])  # a view: the change below lands in p
    picked = (np.arange(len(flat)), labels.ravel())
    losses = lse - z.reshape(flat.shape)[picked]
    p /= total
    flat[picked] -= 1.0
    return float(losses.sum() / losses.size), p


# the helper functions above, by the name the staged code calls them
HELPERS = {f.__name__: f for f in (softmax_ce, _softmax_minus_onehot, _rows, _log_or_0)}
