"""The gate table: one row per gate, holding everything the engine, the code generator and the UI
know about it. Adding a gate is adding a row; the tests are parametrized over this table.

Every vjp takes the upstream gradient `g`, the gate's output `out`, its inputs `*xs` and its
constants, and returns one gradient per input (None where an input takes no gradient, such as
integer labels). Elementwise gates return gradients in the broadcast shape; the graph undoes the
broadcasting with `unbroadcast`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.errors import ExpressionError


@dataclass(frozen=True)
class Gate:
    op: str
    label: str  # as the notes draw it; {c} {a} {p} {index} are filled from the gate's constants
    arity: int
    forward: Callable
    vjp: Callable
    formula: str  # LaTeX: the local derivative, the same fact `vjp` implements
    pattern: str  # how the gate sends gradient back
    # composite gates: (graph, inputs, attrs) -> the last node of an equivalent primitive circuit
    expand: Callable | None = None
    # (*xs, **attrs) -> True when an input sits where the gate is not differentiable
    kink: Callable | None = None
    nondiff: tuple[int, ...] = ()  # input slots that take no gradient
    # The forward (and vjp, when `vjp` itself calls numpy) on Python floats, for circuits of
    # scalars: math on a float costs ~50 ns, a numpy call on a scalar ~1 µs. They may raise
    # where numpy gives inf or nan (1/0, exp(1000), log(-1)); the engine then runs the numpy
    # functions for that gate. None: the gate only runs on arrays.
    scalar: Callable | None = None
    scalar_vjp: Callable | None = None
    py: str = ""  # forward code: {0} {1} are input names, constants by name
    local_py: tuple[str, ...] = ()  # elementwise local derivative per input ({out} is the output)
    vjp_py: tuple[str, ...] = ()  # otherwise the whole gradient per input, {g} the upstream one
    attrs: tuple[str, ...] = field(default=())
    # How the language calls the gate: function names (also after a `math.`, `np.` or `torch.`
    # prefix) and method names (the receiver is the first input). Call arguments after the
    # gate's inputs are its constants, in `attrs` order or by keyword; `defaults` fills the rest.
    calls: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)

    def label_for(self, attrs: dict) -> str:
        return self.label.format(**{k: fmt_const(v) for k, v in attrs.items()})


def fmt_const(v) -> str:
    """A constant as the notes write it on a gate: 1 not 1.0, -1 not -1.0."""
    if isinstance(v, tuple):
        return ", ".join(fmt_const(i) for i in v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:g}"


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient back down to the shape of its input, undoing numpy's broadcasting."""
    if grad.shape == shape:
        return grad
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.reshape(shape)


def _sigmoid(x):
    # exp of a non-positive number only, so neither branch overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _tie_split(a, b):
    """Share of the gradient that max(a, b) sends to a: 1 if a wins, 0 if it loses, 1/2 on a tie."""
    return (a > b) + 0.5 * (a == b)


def _relu(x):
    return x if not x <= 0.0 else 0.0  # NaN stays NaN, as in np.maximum


def _max(a, b):
    return a if a > b else b if b >= a else a + b  # ties give b and a NaN wins, as in np.maximum


def _min(a, b):
    return a if a < b else b if b <= a else a + b


def _sign(x):
    return (x > 0) - (x < 0) if x == x else x


def _sigmoid_scalar(x):
    e = math.exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


def _safe_log(a):
    with np.errstate(all="ignore"):
        return np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), 0.0)


# --- matrix multiply, for 1-D and 2-D operands (and stacks of them) --------------------------


def _matmul_vjp(g, out, a, b):
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.reshape(g, np.matmul(a2, b2).shape)
    ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
    gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
    ga = ga[..., 0, :] if a.ndim == 1 else ga
    gb = gb[..., 0] if b.ndim == 1 else gb
    return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


def _matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ExpressionError("@ needs vectors or matrices; use * for scalars")
    if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
        raise ExpressionError(
            f"shapes {_shape(a)} and {_shape(b)} don't line up for @: "
            f"the last size of the left ({a.shape[-1]}) must equal the "
            f"{'size' if b.ndim == 1 else 'first size'} of the right "
            f"({b.shape[0 if b.ndim == 1 else -2]})"
        )
    return np.matmul(a, b)


def _shape(a) -> str:
    return "×".join(map(str, a.shape)) if a.ndim else "scalar"


# --- indexing ---------------------------------------------------------------------------------


def _index(x, index):
    try:
        return np.asarray(x[index], dtype=float)
    except IndexError:
        raise ExpressionError(
            f"index [{fmt_const(index)}] is out of range for shape {_shape(x)}"
        ) from None


def _index_vjp(g, out, x, index):
    grad = np.zeros_like(x)
    grad[index] += g  # whole-number indices pick each element once (0 + g, as np.add.at)
    return (grad,)


# --- softmax cross-entropy --------------------------------------------------------------------


def _labels(logits, labels):
    y = np.asarray(labels)
    batch = logits.shape[:-1]
    if logits.ndim == 0:
        raise ExpressionError("softmax_ce needs a vector or a matrix of logits, not a scalar")
    if y.shape != batch:
        raise ExpressionError(
            f"softmax_ce needs one label per row of logits: logits are {_shape(logits)}, "
            f"labels are {_shape(y)}"
        )
    k = logits.shape[-1]
    if not np.all((y == np.round(y)) & (y >= 0) & (y < k)):
        raise ExpressionError(f"softmax_ce labels must be whole numbers from 0 to {k - 1}")
    return y.astype(int)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_ce(z, labels):
    y = _labels(z, labels)
    m = z.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]
    picked = np.take_along_axis(z, y[..., None], axis=-1)[..., 0]
    return np.mean(lse - picked)


def _softmax_ce_vjp(g, out, z, labels):
    y = _labels(z, labels)
    onehot = np.zeros_like(z)
    np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
    n = max(1, int(np.prod(z.shape[:-1])))
    return (g * (_softmax(z) - onehot) / n, None)


# --- expansions of composite gates into the primitive gates the notes draw -----------------


def _expand_sigmoid(g, xs, attrs, span):
    # sigma(x) = 1 / (1 + exp(-x)): the chain *-1, exp, +1, 1/x of the notes' neuron figure
    (x,) = xs
    n = g.gate("neg", (x,), span=span)
    n = g.gate("exp", (n,), span=span)
    n = g.gate("addc", (n,), span=span, c=1.0)
    return g.gate("recip", (n,), span=span)


def _expand_tanh(g, xs, attrs, span):
    # tanh(x) = 2 sigma(2x) - 1
    (x,) = xs
    n = g.gate("scale", (x,), span=span, a=2.0)
    n = _expand_sigmoid(g, (n,), {}, span)
    n = g.gate("scale", (n,), span=span, a=2.0)
    return g.gate("addc", (n,), span=span, c=-1.0)


def _expand_softplus(g, xs, attrs, span):
    (x,) = xs
    n = g.gate("exp", (x,), span=span)
    n = g.gate("addc", (n,), span=span, c=1.0)
    return g.gate("log", (n,), span=span)


def _expand_sub(g, xs, attrs, span):
    return g.gate("add", (xs[0], g.gate("neg", (xs[1],), span=span)), span=span)


def _expand_div(g, xs, attrs, span):
    return g.gate("mul", (xs[0], g.gate("recip", (xs[1],), span=span)), span=span)


GATES: dict[str, Gate] = {}


SAME = object()  # scalar=SAME: the forward uses only Python operators, so it runs on floats too


def _row(op, label, arity, forward, vjp, *args, scalar=None, **kwargs) -> None:
    scalar = forward if scalar is SAME else scalar
    GATES[op] = Gate(op, label, arity, forward, vjp, *args, scalar=scalar, **kwargs)


# --- binary gates (broadcasting) --------------------------------------------------------------
_row("add", "+", 2, operator.add, lambda g, out, a, b: (g, g),
     r"\frac{\partial}{\partial a}(a+b) = 1,\quad \frac{\partial}{\partial b}(a+b) = 1",
     "distributes: every input gets the upstream gradient unchanged",
     py="{0} + {1}", local_py=("1", "1"), scalar=SAME)
_row("sub", "-", 2, operator.sub, lambda g, out, a, b: (g, -g),
     r"\frac{\partial}{\partial a}(a-b) = 1,\quad \frac{\partial}{\partial b}(a-b) = -1",
     "distributes: a gets the upstream gradient, b gets it negated",
     expand=_expand_sub, py="{0} - {1}", local_py=("1", "-1"), scalar=SAME)
_row("mul", "*", 2, operator.mul, lambda g, out, a, b: (g * b, g * a),
     r"\frac{\partial}{\partial a}(ab) = b,\quad \frac{\partial}{\partial b}(ab) = a",
     "swaps: each input gets the other input's value times the upstream gradient",
     py="{0} * {1}", local_py=("{1}", "{0}"), scalar=SAME)
_row("div", "/", 2, operator.truediv, lambda g, out, a, b: (g / b, -g * a / b**2),
     r"\frac{\partial}{\partial a}\frac{a}{b} = \frac{1}{b},\quad "
     r"\frac{\partial}{\partial b}\frac{a}{b} = -\frac{a}{b^2}",
     "scales: a gets upstream/b; b gets -a/b² times upstream",
     expand=_expand_div, py="{0} / {1}", local_py=("1.0 / {1}", "-{0} / {1}**2"),
     scalar=SAME)
_row("pow", "**", 2, np.power,
     lambda g, out, a, b: (g * b * np.power(a, b - 1.0), g * out * _safe_log(a)),
     r"\frac{\partial}{\partial a}a^b = b\,a^{b-1},\quad "
     r"\frac{\partial}{\partial b}a^b = a^b \ln a",
     "scales: the base gets b·a^(b-1) times upstream, the exponent a^b·ln a times upstream",
     py="{0} ** {1}", local_py=("{1} * {0} ** ({1} - 1)", "{out} * _log_or_0({0})"),
     scalar=math.pow, scalar_vjp=lambda g, out, a, b: (
         g * b * math.pow(a, b - 1.0), g * out * (math.log(a) if a > 0 else 0.0)))
_row("max", "max", 2, np.maximum,
     lambda g, out, a, b: (g * _tie_split(a, b), g * _tie_split(b, a)),
     r"\frac{\partial}{\partial a}\max(a,b) = \mathbb{1}(a>b),\quad "
     r"\frac{\partial}{\partial b}\max(a,b) = \mathbb{1}(b>a)",
     "routes: the larger input gets all of the upstream gradient, the other none "
     "(a tie splits it evenly, as PyTorch and JAX do, so the two shares still add up to it)",
     kink=lambda a, b: bool(np.any(a == b)),
     py="np.maximum({0}, {1})",
     local_py=("({0} > {1}) + 0.5 * ({0} == {1})", "({1} > {0}) + 0.5 * ({0} == {1})"),
     scalar=_max, calls=("max", "maximum"))
_row("min", "min", 2, np.minimum,
     lambda g, out, a, b: (g * _tie_split(b, a), g * _tie_split(a, b)),
     r"\frac{\partial}{\partial a}\min(a,b) = \mathbb{1}(a<b),\quad "
     r"\frac{\partial}{\partial b}\min(a,b) = \mathbb{1}(b<a)",
     "routes: the smaller input gets all of the upstream gradient, the other none "
     "(a tie splits it evenly)",
     kink=lambda a, b: bool(np.any(a == b)),
     py="np.minimum({0}, {1})",
     local_py=("({0} < {1}) + 0.5 * ({0} == {1})", "({1} < {0}) + 0.5 * ({0} == {1})"),
     scalar=_min, calls=("min", "minimum"))

# --- unary gates, including the notes' constant gates +c and *a --------------------------------
_row("neg", "*-1", 1, operator.neg, lambda g, out, x: (-g,),
     r"\frac{d}{dx}(-x) = -1", "flips the sign of the upstream gradient",
     py="-{0}", local_py=("-1",), scalar=SAME)
_row("recip", "1/x", 1, lambda x: 1.0 / x, lambda g, out, x: (-g * out * out,),
     r"\frac{d}{dx}\frac{1}{x} = -\frac{1}{x^2}",
     "scales the upstream gradient by -1/x²", py="1.0 / {0}", local_py=("-1.0 / {0}**2",),
     scalar=SAME)
_row("addc", "+{c}", 1, lambda x, c: x + c, lambda g, out, x, c: (g,),
     r"\frac{d}{dx}(x + c) = 1", "passes the upstream gradient through unchanged",
     py="{0} + {c}", local_py=("1",), attrs=("c",), scalar=SAME)
_row("scale", "*{a}", 1, lambda x, a: x * a, lambda g, out, x, a: (g * a,),
     r"\frac{d}{dx}(a x) = a", "scales the upstream gradient by the constant a",
     py="{a} * {0}", local_py=("{a}",), attrs=("a",), scalar=SAME)
_row("powc", "**{p}", 1, lambda x, p: np.power(x, p),
     lambda g, out, x, p: (g * p * np.power(x, p - 1.0),),
     r"\frac{d}{dx}x^p = p\,x^{p-1}", "scales the upstream gradient by p·x^(p-1)",
     py="{0}**{p}", local_py=("{p} * {0}**({p} - 1)",), attrs=("p",),
     # numpy takes the square root for p = 0.5, where (-inf)**0.5 is nan rather than inf
     scalar=lambda x, p: math.sqrt(x) if p == 0.5 else math.pow(x, p),
     scalar_vjp=lambda g, out, x, p: (g * p * math.pow(x, p - 1.0),))
_row("exp", "exp", 1, np.exp, lambda g, out, x: (g * out,),
     r"\frac{d}{dx}e^x = e^x", "scales the upstream gradient by its own output e^x",
     py="np.exp({0})", local_py=("{out}",), scalar=math.exp, calls=("exp",), methods=("exp",))
_row("log", "log", 1, np.log, lambda g, out, x: (g / x,),
     r"\frac{d}{dx}\ln x = \frac{1}{x}", "scales the upstream gradient by 1/x",
     py="np.log({0})", local_py=("1.0 / {0}",), scalar=math.log, calls=("log",), methods=("log",))
_row("sqrt", "√", 1, np.sqrt, lambda g, out, x: (g * 0.5 / out,),
     r"\frac{d}{dx}\sqrt{x} = \frac{1}{2\sqrt{x}}", "scales the upstream gradient by 1/(2√x)",
     py="np.sqrt({0})", local_py=("0.5 / {out}",), scalar=math.sqrt,
     calls=("sqrt",), methods=("sqrt",))
_row("abs", "|x|", 1, np.abs, lambda g, out, x: (g * np.sign(x),),
     r"\frac{d}{dx}|x| = \operatorname{sign}(x)\quad(0 \text{ at } x = 0)",
     "passes the upstream gradient with the sign of x (none at x = 0)",
     kink=lambda x: bool(np.any(x == 0)), py="np.abs({0})", local_py=("np.sign({0})",),
     scalar=abs, scalar_vjp=lambda g, out, x: (g * _sign(x),), calls=("abs",), methods=("abs",))
_row("sigmoid", "σ", 1, _sigmoid, lambda g, out, x: (g * out * (1.0 - out),),
     r"\frac{d}{dx}\sigma(x) = (1-\sigma(x))\,\sigma(x)",
     "squashes: scales the upstream gradient by σ(1-σ), at most 1/4",
     expand=_expand_sigmoid, py="1.0 / (1 + np.exp(-{0}))", local_py=("(1 - {out}) * {out}",),
     scalar=_sigmoid_scalar, calls=("sigmoid",), methods=("sigmoid",))
_row("tanh", "tanh", 1, np.tanh, lambda g, out, x: (g * (1.0 - out * out),),
     r"\frac{d}{dx}\tanh x = 1 - \tanh^2 x",
     "squashes: scales the upstream gradient by 1-tanh², at most 1",
     expand=_expand_tanh, py="np.tanh({0})", local_py=("1 - {out}**2",), scalar=math.tanh,
     calls=("tanh",), methods=("tanh",))
# relu is not expanded: as max(x, 0) it would send half the gradient at x = 0, where it sends none
_row("relu", "relu", 1, lambda x: np.maximum(x, 0.0), lambda g, out, x: (g * (x > 0),),
     r"\frac{d}{dx}\max(0, x) = \mathbb{1}(x > 0)",
     "gates: passes the upstream gradient where x > 0, blocks it elsewhere (0 at x = 0)",
     kink=lambda x: bool(np.any(x == 0)),
     py="np.maximum({0}, 0)", local_py=("1.0 * ({0} > 0)",), scalar=_relu,
     calls=("relu",), methods=("relu",))
_row("softplus", "softplus", 1, _softplus, lambda g, out, x: (g * _sigmoid(x),),
     r"\frac{d}{dx}\ln(1+e^x) = \sigma(x)", "scales the upstream gradient by σ(x)",
     expand=_expand_softplus, py="np.logaddexp(0, {0})",
     local_py=("1.0 / (1 + np.exp(-{0}))",),
     scalar=lambda x: _relu(x) + math.log1p(math.exp(-abs(x))),
     scalar_vjp=lambda g, out, x: (g * _sigmoid_scalar(x),), calls=("softplus",))
_row("sin", "sin", 1, np.sin, lambda g, out, x: (g * np.cos(x),),
     r"\frac{d}{dx}\sin x = \cos x", "scales the upstream gradient by cos x",
     py="np.sin({0})", local_py=("np.cos({0})",),
     scalar=math.sin, scalar_vjp=lambda g, out, x: (g * math.cos(x),), calls=("sin",))
_row("cos", "cos", 1, np.cos, lambda g, out, x: (-g * np.sin(x),),
     r"\frac{d}{dx}\cos x = -\sin x", "scales the upstream gradient by -sin x",
     py="np.cos({0})", local_py=("-np.sin({0})",),
     scalar=math.cos, scalar_vjp=lambda g, out, x: (-g * math.sin(x),), calls=("cos",))

# --- tensor gates -------------------------------------------------------------------------------
_row("matmul", "@", 2, _matmul, _matmul_vjp,
     r"D = WX:\quad \frac{\partial L}{\partial W} = \frac{\partial L}{\partial D} X^\top,\quad "
     r"\frac{\partial L}{\partial X} = W^\top \frac{\partial L}{\partial D}",
     "swaps, as a matrix: dW = dD·Xᵀ and dX = Wᵀ·dD (the shapes allow no other order)",
     py="{0}.dot({1})", vjp_py=("{g}.dot({1}.T)", "{0}.T.dot({g})"),
     calls=("dot", "matmul"), methods=("dot",))
_row("sum", "Σ", 1, lambda x: np.sum(x), lambda g, out, x: (np.broadcast_to(g, x.shape).copy(),),
     r"\frac{\partial}{\partial x_i}\sum_j x_j = 1",
     "distributes: every element gets the upstream gradient", py="np.sum({0})",
     vjp_py=("np.ones_like({0}) * {g}",), calls=("sum",), methods=("sum",))
_row("mean", "mean", 1, lambda x: np.mean(x),
     lambda g, out, x: (np.broadcast_to(g / max(x.size, 1), x.shape).copy(),),
     r"\frac{\partial}{\partial x_i}\frac{1}{n}\sum_j x_j = \frac{1}{n}",
     "distributes: every element gets the upstream gradient divided by n",
     py="np.mean({0})", vjp_py=("np.ones_like({0}) * {g} / {0}.size",),
     calls=("mean",), methods=("mean",))
_row("transpose", "ᵀ", 1, lambda x: np.transpose(x), lambda g, out, x: (np.transpose(g),),
     r"\frac{\partial L}{\partial X} = \left(\frac{\partial L}{\partial X^\top}\right)^\top",
     "transposes the upstream gradient back", py="{0}.T", vjp_py=("{g}.T.copy()",),
     calls=("transpose",))
_row("index", "[{index}]", 1, _index, _index_vjp,
     r"\frac{\partial x_k}{\partial x_i} = \mathbb{1}(i = k)",
     "routes: the picked element gets the upstream gradient, the others none",
     py="{0}[{index}]", vjp_py=("_picked({0}, {index}, {g})",), attrs=("index",))
_row("softmax_ce", "softmax CE", 2, _softmax_ce, _softmax_ce_vjp,
     r"\frac{\partial \ell}{\partial z} = "
     r"\frac{1}{m}\left(\operatorname{softmax}(z) - I_y\right)",
     "pushes each row's logits toward its label: softmax minus one-hot, over the batch size",
     nondiff=(1,), py="softmax_ce({0}, {1})",
     vjp_py=("(_softmax({0}) - _onehot({1}, {0})) / _rows({0}) * {g}", ""), calls=("softmax_ce",))

PRIMITIVE = frozenset(op for op, gate in GATES.items() if gate.expand is None)
