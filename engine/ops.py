"""The gate table: one row per gate, holding everything the engine, the code generator and the UI
know about it. Adding a gate is adding a row (and its sample inputs in tests/test_ops.py).

A row states each fact once, written with the functions of engine.fns, which run on Python
floats, on numpy arrays, and on symbols:

- `forward(*xs, **consts)`: the gate's output. Run on symbols it is the staged code's forward line.
- `d`: per input, its local derivative `(*xs, out, **consts) -> local`; the vjp is upstream × local
  (summed back over broadcast axes). Run on symbols it is the staged code's backward line and,
  with the forward, the LaTeX formula shown beside the gate.
- `linear` instead of `d`, for the gates whose Jacobian is no elementwise factor (matmul,
  transpose, index): per input, `(g, out, *xs, **consts) -> gradient`.
- `keeps`: the forward returns `(out, kept)`, a by-product its backward reads (softmax_ce's
  softmax), and `d` receives `kept` where it would receive `out`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine import fns as m
from engine.fns import Sym, sym

GATES: dict[str, Gate] = {}


@dataclass(frozen=True)
class Gate:
    op: str
    label: str  # as the notes draw it; {c} {a} {p} {index} are filled from the gate's constants
    arity: int
    forward: Callable
    pattern: str  # how the gate sends gradient back
    d: tuple[Callable | None, ...] | None = None  # local derivative per input (None: no gradient)
    linear: tuple[Callable, ...] | None = None  # or the gradient per input, for linear gates
    formula: str = ""  # LaTeX, derived from `forward` and `d` (or `linear`) by _row
    # composite gates: (graph, inputs, attrs, span) -> the last node of a primitive circuit
    expand: Callable | None = None
    # (*xs, **attrs) -> True when an input sits where the gate is not differentiable
    kink: Callable | None = None
    attrs: tuple[str, ...] = ()  # the gate's constants, in call order
    # How the language calls the gate: function names (also after a `math.`, `np.` or `torch.`
    # prefix) and method names (the receiver is the first input). Call arguments after the
    # gate's inputs are its constants, in `attrs` order or by keyword; `defaults` fills the rest.
    calls: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)
    scatter: bool = False  # the gradient lands in one element of the input (the notes' dw[k] +=)
    passes: tuple[bool, ...] = ()  # per input: the local derivative is 1 (the gradient passes)
    nondiff: tuple[int, ...] = ()  # input slots that take no gradient (such as integer labels)
    names: dict = field(default_factory=dict)  # each constant's name in the formula, as text
    keeps: bool = False  # forward gives (out, kept); d reads kept in the place of out

    def label_for(self, attrs: dict) -> str:
        return self.label.format(**{k: fmt_const(v) for k, v in attrs.items()})

    def read(self, out, *xs, **attrs):
        """What `d` reads as the gate's output: `out`, or the by-product a gate that keeps one
        gives with it (its forward run again, on numbers or symbols)."""
        return self.forward(*xs, **attrs)[1] if self.keeps else out

    def vjp(self, g, out, *xs, **attrs) -> tuple:
        """Each input's share of the upstream gradient g (in the broadcast shape)."""
        out = self.read(out, *xs, **attrs)
        if self.linear is not None:
            return tuple(f(g, out, *xs, **attrs) for f in self.linear)
        return tuple(None if f is None else g * f(*xs, out, **attrs) for f in self.d)


def fmt_const(v) -> str:
    """A constant as the notes write it on a gate: 1 not 1.0, -1 not -1.0."""
    if isinstance(v, tuple):
        return ", ".join(fmt_const(i) for i in v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:g}"


def unbroadcast(grad, shape):
    """Bring a gradient to the shape of its input: summed over the axes numpy's broadcasting
    added, and spread over any the gradient lacks (a loss's share that does not vary along them,
    like bce's for its target)."""
    grad = np.asarray(grad)
    full = np.broadcast_shapes(grad.shape, shape)
    if full != grad.shape:
        grad = np.broadcast_to(grad, full).copy()
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.reshape(shape)


GREEK = {"alpha": "α"}  # names a formula writes as their Greek letter


def tex_name(name: str) -> str:
    """An input's or a constant's name in LaTeX: a Greek letter's sign, one letter in italics, a
    longer name upright (in italics it would read as a product of letters)."""
    if name in GREEK:
        return rf"\{name}"
    return name if len(name) == 1 else rf"\mathrm{{{name}}}"


def _row(op, label, arity, forward, pattern, *, out="y", **kw) -> None:
    """Add a gate, deriving its formula (and which inputs the gradient passes to unchanged)."""
    names = list(inspect.signature(forward).parameters)
    xs = [Sym(n, tex_name(n)) for n in names[:arity]]
    consts = {n: Sym(n, tex_name(n)) for n in names[arity:]}
    y = forward(*xs, **consts)
    if kw.get("keeps"):
        y, kept = y
    wrt = r"\frac{{d}}{{d{}}}" if arity == 1 else r"\frac{{\partial}}{{\partial {}}}"
    if "formula" in kw:  # stated in words where the gradient is no expression (index)
        parts = [kw.pop("formula")]
    elif "d" in kw:
        outs = kept if kw.get("keeps") else Sym(out, y.tex, y.prec)
        local = [f and sym(f(*xs, outs, **consts)) for f in kw["d"]]
        kw["passes"] = tuple(s is not None and s.py == "1" for s in local)
        parts = [f"{wrt.format(x.tex)}{m._wrap(y, m.ATOM, True)} = {s.tex}"
                 for x, s in zip(xs, local, strict=True) if s is not None]
    else:
        g = Sym("d" + out, rf"\frac{{\partial L}}{{\partial {out}}}")
        outs = Sym(out)
        parts = [rf"\frac{{\partial L}}{{\partial {x.tex}}} = {f(g, outs, *xs, **consts).tex}"
                 for x, f in zip(xs, kw["linear"], strict=True)]
        parts[0] = f"{out} = {y.tex}:\\quad " + parts[0]
    nondiff = tuple(k for k, f in enumerate(kw.get("d") or ()) if f is None)
    named = kw.pop("names", {})  # where a formula stated in words names a constant its own way
    names = {n: named.get(n) or GREEK.get(n, n) for n in consts}
    GATES[op] = Gate(op, label, arity, forward, pattern, formula=r",\quad ".join(parts),
                     attrs=tuple(consts), nondiff=nondiff, names=names, **kw)


# --- expansions of composite gates into the primitive gates the notes draw -----------------

def _chain(steps):
    """The expansion of a one-input gate into a chain of one-input gates: (op, constants) each."""
    def expand(g, xs, attrs, span):
        (n,) = xs
        for op, consts in steps:
            n = g.gate(op, (n,), span=span, **consts)
        return n

    return expand


# sigma(x) = 1 / (1 + exp(-x)): the chain *-1, exp, +1, 1/x of the notes' neuron figure
_SIGMOID = (("neg", {}), ("exp", {}), ("addc", {"c": 1.0}), ("recip", {}))
# tanh(x) = 2 sigma(2x) - 1
_TANH = (("scale", {"a": 2.0}), *_SIGMOID, ("scale", {"a": 2.0}), ("addc", {"c": -1.0}))
_SOFTPLUS = (("exp", {}), ("addc", {"c": 1.0}), ("log", {}))


def _inverted(op, inverse):
    """The expansion of a - b as a + (-b), of a / b as a * (1/b)."""
    return lambda g, xs, attrs, span: g.gate(op, (xs[0], g.gate(inverse, (xs[1],), span=span)),
                                             span=span)


def _tie(a, b):
    """Share of the gradient that max(a, b) sends to a: 1 if a wins, 0 if it loses, 1/2 on a tie
    (m.tie: shown as a = b, written as the language reads it)."""
    return (a > b) + 0.5 * m.tie(a, b)


def _tied(a, b) -> bool:
    """A kink test for two inputs: True where they are equal (a max's tie, a comparison's step)."""
    return bool(np.any(a == b))


def _at(*points):
    """A kink test: True when the first input equals any of the given points (a gate's
    constants, such as leaky_relu's slope, are no kinks)."""
    return lambda x, *rest, **consts: bool(np.any([np.any(x == p) for p in points]))


def _scatter(g, out, x, index):
    grad = np.zeros_like(x)
    grad[index] += g  # whole-number indices pick each element once (0 + g, as np.add.at)
    return grad


GELU_K = float(np.sqrt(2.0 / np.pi))  # GPT-2's tanh form of GELU


def _gelu_k(x):
    return Sym(repr(GELU_K), r"\sqrt{2/\pi}") if isinstance(x, Sym) else GELU_K


def _gelu_inner(x):
    return m.tanh(_gelu_k(x) * (x + 0.044715 * x * x * x))


# --- binary gates (broadcasting) --------------------------------------------------------------
_row("add", "+", 2, lambda a, b: a + b,
     "distributes: every input gets the upstream gradient unchanged",
     d=(lambda a, b, y: 1, lambda a, b, y: 1))
_row("sub", "-", 2, lambda a, b: a - b,
     "distributes: a gets the upstream gradient, b gets it negated",
     d=(lambda a, b, y: 1, lambda a, b, y: -1), expand=_inverted("add", "neg"))
_row("mul", "*", 2, lambda a, b: a * b,
     "swaps: each input gets the other input's value times the upstream gradient",
     d=(lambda a, b, y: b, lambda a, b, y: a))
_row("div", "/", 2, lambda a, b: a / b,
     "scales: a gets upstream/b; b gets -a/b² times upstream",
     d=(lambda a, b, y: 1.0 / b, lambda a, b, y: -a / b**2), expand=_inverted("mul", "recip"))
_row("pow", "**", 2, m.power,
     "scales: the base gets b·a^(b-1) times upstream, the exponent a^b·ln a times upstream",
     d=(lambda a, b, y: b * m.power(a, b - 1.0), lambda a, b, y: y * m.log_or_0(a)))
_row("max", "max", 2, m.maximum,
     "routes: the larger input gets all of the upstream gradient, the other none "
     "(a tie splits it evenly, as PyTorch and JAX do, so the two shares still add up to it)",
     d=(lambda a, b, y: _tie(a, b), lambda a, b, y: _tie(b, a)),
     kink=_tied, calls=("max", "maximum"))
_row("min", "min", 2, m.minimum,
     "routes: the smaller input gets all of the upstream gradient, the other none "
     "(a tie splits it evenly)",
     d=(lambda a, b, y: _tie(b, a), lambda a, b, y: _tie(a, b)),
     kink=_tied, calls=("min", "minimum"))

# comparisons: 1 where they hold, 0 elsewhere. A step is flat on both sides: its local
# derivatives are 0 (as central differences find), and only a tie is a kink
_BLOCKS = "blocks: a comparison is flat on both sides of its step, so it sends 0 back to each input"
_FLAT = (lambda a, b, y: 0, lambda a, b, y: 0)
_row("gt", ">", 2, m.greater, _BLOCKS, d=_FLAT, kink=_tied)
_row("lt", "<", 2, m.less, _BLOCKS, d=_FLAT, kink=_tied)
_row("ge", "≥", 2, m.greater_equal, _BLOCKS, d=_FLAT, kink=_tied)
_row("le", "≤", 2, m.less_equal, _BLOCKS, d=_FLAT, kink=_tied)

# --- unary gates, including the notes' constant gates +c and *a --------------------------------
_row("neg", "*-1", 1, lambda x: -x, "flips the sign of the upstream gradient",
     d=(lambda x, y: -1,))
_row("recip", "1/x", 1, lambda x: 1.0 / x, "scales the upstream gradient by -1/x²",
     d=(lambda x, y: -1.0 / x**2,))
_row("addc", "+{c}", 1, lambda x, c: x + c, "passes the upstream gradient through unchanged",
     d=(lambda x, y, c: 1,))
_row("scale", "*{a}", 1, lambda x, a: a * x, "scales the upstream gradient by the constant a",
     d=(lambda x, y, a: a,))
# numpy takes the square root for a constant 0.5, where (-inf)**0.5 is nan rather than inf
_row("powc", "**{p}", 1,
     lambda x, p: m.sqrt(x) if type(p) is float and p == 0.5 else m.power(x, p),
     "scales the upstream gradient by p·x^(p-1)",
     d=(lambda x, y, p: p * m.power(x, p - 1.0),))
_row("square", "x²", 1, lambda x: x * x, "scales the upstream gradient by 2x",
     d=(lambda x, y: 2.0 * x,), calls=("square",))
_row("exp", "exp", 1, m.exp, "scales the upstream gradient by its own output e^x",
     d=(lambda x, y: y,), calls=("exp",), methods=("exp",))
_row("expm1", "exp-1", 1, m.expm1, "scales the upstream gradient by e^x",
     d=(lambda x, y: m.exp(x),), calls=("expm1",))
_row("log", "log", 1, m.log, "scales the upstream gradient by 1/x",
     d=(lambda x, y: 1.0 / x,), calls=("log",), methods=("log",))
_row("log1p", "log1p", 1, m.log1p, "scales the upstream gradient by 1/(1+x)",
     d=(lambda x, y: 1.0 / (1.0 + x),), calls=("log1p",))
_row("sqrt", "√", 1, m.sqrt, "scales the upstream gradient by 1/(2√x)",
     d=(lambda x, y: 0.5 / y,), calls=("sqrt",), methods=("sqrt",))
_row("abs", "|x|", 1, m.absolute,
     "passes the upstream gradient with the sign of x (none at x = 0)",
     d=(lambda x, y: m.sign(x),), kink=_at(0.0), calls=("abs",), methods=("abs",))
_row("sigmoid", "σ", 1, m.sigmoid,
     "squashes: scales the upstream gradient by σ(1-σ), at most 1/4",
     d=(lambda x, y: (1 - y) * y,), expand=_chain(_SIGMOID), calls=("sigmoid",),
     methods=("sigmoid",))
_row("tanh", "tanh", 1, m.tanh, "squashes: scales the upstream gradient by 1-tanh², at most 1",
     d=(lambda x, y: 1 - y**2,), expand=_chain(_TANH), calls=("tanh",), methods=("tanh",))
# relu is not expanded: as max(x, 0) it would send half the gradient at x = 0, where it sends none
_row("relu", "relu", 1, lambda x: m.maximum(x, 0.0),
     "gates: passes the upstream gradient where x > 0, blocks it elsewhere (0 at x = 0)",
     d=(lambda x, y: x > 0,), kink=_at(0.0), calls=("relu",), methods=("relu",))
_row("leaky_relu", "leaky relu", 1, lambda x, a: m.where(x > 0, x, a * x),
     "gates, leaking: passes the upstream gradient where x > 0, a times it elsewhere "
     "(a at x = 0)",
     d=(lambda x, y, a: m.where(x > 0, 1.0, a),), kink=_at(0.0), calls=("leaky_relu",),
     defaults={"a": 0.01})
_row("elu", "elu", 1, lambda x, alpha: m.where(x > 0, x, alpha * m.expm1(x)),
     "passes the upstream gradient where x > 0, scales it by α·e^x elsewhere (α at x = 0)",
     d=(lambda x, y, alpha: m.where(x > 0, 1.0, alpha * m.exp(x)),), kink=_at(0.0),
     calls=("elu",), defaults={"alpha": 1.0})
_row("gelu", "gelu", 1, lambda x: 0.5 * x * (1.0 + _gelu_inner(x)),
     "smooth gate: scales the upstream gradient by about 1 for large x, 0 for very negative x",
     d=(lambda x, y: 0.5 * (1.0 + _gelu_inner(x)) + 0.5 * x * (1.0 - _gelu_inner(x) ** 2)
        * _gelu_k(x) * (1.0 + 3 * 0.044715 * x * x),), calls=("gelu",))
_row("softsign", "softsign", 1, lambda x: x / (1.0 + m.absolute(x)),
     "squashes: scales the upstream gradient by 1/(1+|x|)², at most 1",
     d=(lambda x, y: 1.0 / (1.0 + m.absolute(x)) ** 2,), calls=("softsign",))
_row("clip", "clip", 1, m.clip,
     "passes the upstream gradient where lo ≤ x ≤ hi, blocks it outside",
     d=(lambda x, y, lo, hi: (x >= lo) * (x <= hi),),
     kink=lambda x, lo, hi: bool(np.any((x == lo) | (x == hi))), calls=("clip",))
_row("softplus", "softplus", 1, m.softplus, "scales the upstream gradient by σ(x)",
     d=(lambda x, y: m.sigmoid(x),), expand=_chain(_SOFTPLUS), calls=("softplus",))
_row("sin", "sin", 1, m.sin, "scales the upstream gradient by cos x",
     d=(lambda x, y: m.cos(x),), calls=("sin",))
_row("cos", "cos", 1, m.cos, "scales the upstream gradient by -sin x",
     d=(lambda x, y: -m.sin(x),), calls=("cos",))

# --- reductions, losses and tensor gates -------------------------------------------------------
# ones or zeros of x's shape, as the staged code starts a gradient (np.ones_like(x) for a sum's
# local gradient): their value does not depend on x's numbers, so they send 0 back
_SHAPE_ONLY = "blocks: its value depends only on the shape of x, so it sends 0 back"
_row("ones_like", "ones", 1, m.ones_like, _SHAPE_ONLY, d=(lambda x, y: 0,), calls=("ones_like",))
_row("zeros_like", "zeros", 1, m.zeros_like, _SHAPE_ONLY, d=(lambda x, y: 0,),
     calls=("zeros_like",))
_row("sum", "Σ", 1, m.total, "distributes: every element gets the upstream gradient",
     d=(lambda x, y: m.ones_like(x),), calls=("sum",), methods=("sum",))
_row("mean", "mean", 1, m.mean,
     "distributes: every element gets the upstream gradient divided by n",
     d=(lambda x, y: m.ones_like(x) / m.size(x),), calls=("mean",), methods=("mean",))
_row("mse", "MSE", 2, lambda p, t: m.mean((p - t) ** 2),
     "pushes each prediction toward its target, in proportion to the miss: 2(p - t)/n",
     d=(lambda p, t, y: 2.0 * (p - t) / m.size(p - t),
        lambda p, t, y: -2.0 * (p - t) / m.size(p - t)), calls=("mse",))
_row("bce", "BCE", 2,
     lambda p, t: -m.mean(t * m.log(p) + (1.0 - t) * m.log(1.0 - p)),
     "pushes each probability toward its target: (p - t)/(p(1 - p))/n",
     d=(lambda p, t, y: (p - t) / (p * (1.0 - p)) / m.size(p - t),
        lambda p, t, y: (m.log(1.0 - p) - m.log(p)) / m.size(p - t)), calls=("bce",))
_row("softmax_ce", "softmax CE", 2, lambda z, y: m.cross_entropy(z, m.labels(z, y)),
     "pushes each row's logits toward its label: softmax minus one-hot, over the batch size",
     d=(lambda z, labels, p_less_onehot: p_less_onehot / m.rows(z), None), keeps=True,
     calls=("softmax_ce",))
_row("matmul", "@", 2, lambda W, X: m.matmul(W, X),
     "swaps, as a matrix: dW = dD·Xᵀ and dX = Wᵀ·dD (the shapes allow no other order)",
     linear=(lambda g, D, W, X: m.gdot(g, m.T(X)), lambda g, D, W, X: m.gdot(m.T(W), g)),
     out="D", calls=("dot", "matmul"), methods=("dot",))
# calls whose forward is narrower than their gate's: numpy's dot is matmul up to matrices only
NARROWER = {"dot": m.dot}
_row("transpose", "ᵀ", 1, m.T, "transposes the upstream gradient back",
     linear=(lambda g, y, x: m.T(g),), calls=("transpose",))
_row("index", "[{index}]", 1, lambda x, index: m.pick(x, index),
     "routes: the picked element gets the upstream gradient, the others none",
     linear=(_scatter,), scatter=True, names={"index": "k"},
     formula=r"\frac{\partial x_k}{\partial x_i} = " + (Sym("i") == Sym("k")).tex)
