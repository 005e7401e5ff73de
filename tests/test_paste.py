"""Code people already have - micrograd's and PyTorch's - pasted as printed becomes its circuit,
with the numbers those libraries print. micrograd itself (in the test extra) is the oracle."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import re
from pathlib import Path
from unittest.mock import ANY

import micrograd.engine as micrograd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from notes_code import CHAIN_RULE_CODE, MATRIX_CODE, VECTORS_CODE

from engine import trace
from engine.circuit import backward_start, pytorch_str
from engine.errors import ExpressionError
from engine.graph import Limits
from engine.parse import parse, parse_program
from engine.presets import LECTURE_NEURON, MICROGRAD_README

# micrograd's test/test_engine.py: the micrograd half and the PyTorch half of each test's body,
# as printed there (the `xmg, ymg = x, y` bookkeeping and the asserts left out)
SANITY_MICROGRAD = """\
x = Value(-4.0)
z = 2 * x + 2 + x
q = z.relu() + z * x
h = (z * z).relu()
y = h + q + q * x
y.backward()
"""
SANITY_TORCH = """\
x = torch.Tensor([-4.0]).double()
x.requires_grad = True
z = 2 * x + 2 + x
q = z.relu() + z * x
h = (z * z).relu()
y = h + q + q * x
y.backward()
"""
MORE_OPS_MICROGRAD = """\
a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
g.backward()
"""
MORE_OPS_TORCH = """\
a = torch.Tensor([-4.0]).double()
b = torch.Tensor([2.0]).double()
a.requires_grad = True
b.requires_grad = True
c = a + b
d = a * b + b**3
c = c + c + 1
c = c + 1 + c + (-a)
d = d + d * 2 + (b + a).relu()
d = d + 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g = g + 10.0 / f
g.backward()
"""

LECTURE_NEURON_EXP = LECTURE_NEURON.replace(
    "o = n.tanh(); o.label = 'o'",
    "# ----\ne = (2*n).exp()\no = (e - 1) / (e + 1)\n# ----\no.label = 'o'")

LECTURE_TORCH = """\
import torch
x1 = torch.Tensor([2.0]).double()                ; x1.requires_grad = True
x2 = torch.Tensor([0.0]).double()                ; x2.requires_grad = True
w1 = torch.Tensor([-3.0]).double()               ; w1.requires_grad = True
w2 = torch.Tensor([1.0]).double()                ; w2.requires_grad = True
b = torch.Tensor([6.8813735870195432]).double()  ; b.requires_grad = True
n = x1*w1 + x2*w2 + b
o = torch.tanh(n)

print(o.data.item())
o.backward()

print('---')
print('x2', x2.grad.item())
print('w2', w2.grad.item())
print('x1', x1.grad.item())
print('w1', w1.grad.item())
"""


def run_micrograd(code: str, output: str) -> dict[str, float]:
    """Run a test's own snippet with the real micrograd: {name: grad} and the output's data."""
    ns: dict = {"Value": micrograd.Value, "draw_dot": lambda o: None}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, ns)  # the test's fixed snippet, run by micrograd as the oracle
    values = {k: v for k, v in ns.items() if isinstance(v, micrograd.Value)}
    return {"value": values[output].data, **{k: v.grad for k, v in values.items()}}


def numbers(c) -> dict[str, float]:
    return {"value": float(np.ravel(c.value)[0]),
            **{k: float(np.ravel(g)[0]) for k, g in c.gradients.items()}}


@pytest.mark.parametrize(("code", "output"), [
    (MICROGRAD_README, "g"), (SANITY_MICROGRAD, "y"), (MORE_OPS_MICROGRAD, "g")])
def test_micrograd_programs_give_micrograds_numbers(code, output):
    theirs = run_micrograd(code, output)
    ours = numbers(trace(code))
    assert set(ours) <= set(theirs)
    for name, value in ours.items():
        assert value == pytest.approx(theirs[name], rel=1e-12, abs=1e-12), name


def test_readme_prints_its_numbers_and_shows_what_its_print_lines_print():
    c = trace(MICROGRAD_README)
    assert (round(float(c.value), 4), round(float(c.gradients["a"]), 4),
            round(float(c.gradients["b"]), 4)) == (24.7041, 138.8338, 645.5773)
    assert c.to_dict()["notes"] == [
        "line 15 prints 24.7041", "line 17 prints 138.8338", "line 18 prints 645.5773"]


@pytest.mark.parametrize(("prints", "shown"), [
    # a number, its gradient below backward(), .item(), strings and f-strings with a format
    ("b.data", "4.0"), ("a.grad", "4.0"), ("b.item(), a.data.item()", "4.0 2.0"),
    ("'b =', b.data", "b = 4.0"), ("f'{a.grad:.3f} and {b.data:>5}'", "4.000 and   4.0"),
    # as written: a bare Value (micrograd prints its repr), an expression, a name with no wire,
    # a format a number does not take, nothing at all
    ("b", "b"), ("b.data * 2", "b.data * 2"), ("z.data", "z.data"), ("f'{b.data:d}'",
                                                                        "f'{b.data:d}'"),
    ("", ""),
])
def test_a_print_line_shows_the_numbers_it_prints(prints, shown):
    code = f"a = Value(2.0)\nb = a * a\nb.backward()\nprint({prints})"
    assert trace(code).notes == [f"line 4 prints {shown}"]


def test_a_print_line_reads_each_name_as_the_wire_it_was_at_that_line():
    code = ("a = Value(3.0)\nc = a * 2\nprint(c.data, c.grad)\nc += 1\nc.backward()\n"
            "print(c.data, a.grad)")
    # the first print's c is the old wire (6.0); its gradient is not printed above backward()
    assert trace(code).notes == ["line 3 prints c.data, c.grad", "line 6 prints 7.0 2.0"]


TORCH_PRINTS = """\
import torch
x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
w = torch.tensor([0.5, 0.5, 0.5], requires_grad=True)
y = (w * x).relu().sum()
print(x.data)
y.backward()
print(x.grad)
print(w.grad, f'{w.grad}')
print(f'{w.grad:.2f}')
"""


def test_a_pytorch_print_line_shows_the_tensor_as_pytorch_prints_it():
    # PyTorch's output for this program, line by line; a tensor takes no format spec
    assert trace(TORCH_PRINTS).notes == [
        "line 5 prints tensor([ 1., -2.,  3.])",
        "line 7 prints tensor([0.5000, 0.0000, 0.5000])",
        "line 8 prints tensor([1., -0., 3.]) tensor([1., -0., 3.])",
        "line 9 prints f'{w.grad:.2f}'"]


@pytest.mark.parametrize(("made", "prints", "shown"), [
    # a tensor of no dimensions prints as tensor(4.); .item() and an f-string give its number
    ("torch.tensor(2.0, requires_grad=True)", "x.grad", "tensor(4.)"),
    ("torch.tensor(2.0, requires_grad=True)", "x.data, x.grad.item()", "tensor(2.) 4.0"),
    ("torch.tensor(2.0, requires_grad=True)", "f'{x.grad} {x.grad:.2f}'", "4.0 4.00"),
    ("torch.Tensor([2.0]).double(); x.requires_grad = True", "x.grad",
     "tensor([4.], dtype=torch.float64)"),
    ("torch.tensor([2.0], dtype=torch.float64, requires_grad=True)", "f'{x.grad}'",
     "tensor([4.], dtype=torch.float64)"),
    # PyTorch's default dtype is float32: its numbers are float32's
    ("torch.tensor(0.1, requires_grad=True)", "x.data, x.data.item()",
     "tensor(0.1000) 0.10000000149011612"),
    ("torch.tensor(0.1, dtype=torch.float64)", "x.data.item()", "0.1"),
    (f"torch.tensor({[0.1] * 20})", "x.data", f"tensor([{', '.join(['0.1000'] * 20)}])"),
    (f"torch.tensor({[0.1] * 21})", "x.data", "x.data"),  # too long for a note: as written
    ("Value(2.0)", "x.grad", "4.0"),  # micrograd prints a number
])
def test_a_pytorch_print_line_shows_tensors_and_numbers_as_pytorch_does(made, prints, shown):
    code = f"import torch\nx = {made}\ny = (x * x).sum()\ny.backward()\nprint({prints})"
    assert trace(code).notes == [f"line 5 prints {shown}"]


def test_a_pytorch_print_of_a_grad_pytorch_does_not_keep_shows_none():
    # PyTorch keeps a .grad on a leaf made with requires_grad=True (or given it) only, filled
    # by backward(): an input without it, a computed tensor, any tensor above it print None
    code = ("import torch\nx = torch.tensor([2.0, 1.0])\n"
            "w = torch.tensor([1.0, 3.0], requires_grad=True)\nprint(w.grad, f'{w.grad}')\n"
            "n = x * w\no = n.sum()\no.backward()\nprint(x.grad)\nprint(n.grad, f'{n.grad}')\n"
            "print(w.grad)\nprint(f'{n.grad:.2f}', n.grad.item())")
    assert trace(code).notes == [
        "line 4 prints None None", "line 8 prints None", "line 9 prints None None",
        "line 10 prints tensor([2., 1.])", "line 11 prints f'{n.grad:.2f}', n.grad.item()"]
    # the lecture's x.requires_grad = True gives x its .grad
    given = code.replace("x = torch.tensor([2.0, 1.0])", "x = torch.tensor([2.0, 1.0]); "
                         "x.requires_grad = True")
    assert trace(given).notes[1] == "line 8 prints tensor([1., 3.])"


# torch's str of torch.tensor(value, dtype=...), a line break and the indentation after it as
# one space (what PyTorch prints, for the last two, is shown above each)
PYTORCH_PRINTS = [
    ([0.5, 0.0, 0.5], "float32", "tensor([0.5000, 0.0000, 0.5000])"),
    (4.0, "float32", "tensor(4.)"),
    (-0.0, "float64", "tensor(-0., dtype=torch.float64)"),
    ([0.1, 0.2, 0.3], "float32", "tensor([0.1000, 0.2000, 0.3000])"),
    ([1.00000001, -2.0], "float32", "tensor([ 1., -2.])"),  # whole in float32, not in float64
    ([1.00000001, -2.0], "float64", "tensor([ 1.0000, -2.0000], dtype=torch.float64)"),
    ([1.0, -1000.0], "float32", "tensor([    1., -1000.])"),
    ([1e-5, 1.0], "float32", "tensor([1.0000e-05, 1.0000e+00])"),
    ([123456789.0, 2.0], "float32", "tensor([1.2346e+08, 2.0000e+00])"),
    ([1.0, -1000.5], "float64", "tensor([ 1.0000e+00, -1.0005e+03], dtype=torch.float64)"),
    ([0.0001, 0.5], "float64", "tensor([1.0000e-04, 5.0000e-01], dtype=torch.float64)"),
    ([math.nan, 1.0, -math.inf], "float32", "tensor([nan, 1., -inf])"),
    ([math.nan, 1.5, math.inf], "float32", "tensor([   nan, 1.5000,    inf])"),
    ([math.nan, 1e-7, math.inf], "float64",
     "tensor([       nan, 1.0000e-07,        inf], dtype=torch.float64)"),
    ([0.0, -0.0], "float32", "tensor([0., -0.])"),
    ([[0.001, 2.0]], "float32", "tensor([[1.0000e-03, 2.0000e+00]])"),
    # tensor([[ 1.5000, -2.0000],
    #         [ 3.0000, 40.0000]], dtype=torch.float64)
    ([[1.5, -2.0], [3.0, 40.0]], "float64",
     "tensor([[ 1.5000, -2.0000], [ 3.0000, 40.0000]], dtype=torch.float64)"),
    # tensor([[-3.0000, -2.6667, -2.3333, -2.0000, -1.6667, -1.3333, -1.0000, -0.6667,
    #          -0.3333,  0.0000],
    #         [ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,
    #          12.0000, 13.5000]], dtype=torch.float64)
    ([[k / 3 - 3 for k in range(10)], [k * 1.5 for k in range(10)]], "float64",
     "tensor([[-3.0000, -2.6667, -2.3333, -2.0000, -1.6667, -1.3333, -1.0000, -0.6667, "
     "-0.3333,  0.0000], [ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, "
     "10.5000, 12.0000, 13.5000]], dtype=torch.float64)"),
]


@pytest.mark.parametrize(("value", "dtype", "printed"), PYTORCH_PRINTS)
def test_pytorch_str_is_what_pytorch_prints(value, dtype, printed):
    assert pytorch_str(np.array(value), dtype) == printed


_SPECIAL = re.compile(r"-?(?:nan|inf)")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([(), (1,), (3,), (20,), (1, 4), (2, 3), (4, 5)]).flatmap(
    lambda shape: st.lists(st.floats(width=32) | st.integers(-2000, 2000).map(float),
                           min_size=math.prod(shape), max_size=math.prod(shape))
    .map(lambda xs: np.array(xs).reshape(shape))), st.sampled_from(["float32", "float64"]))
def test_pytorch_str_reads_back_as_its_numbers_each_padded_to_one_width(value, dtype):
    text = pytorch_str(value, dtype)
    suffix = ", dtype=torch.float64)" if dtype == "float64" else ")"
    assert text.startswith("tensor(") and text.endswith(suffix) and "\n" not in text
    inner = text[len("tensor("):-len(suffix)]
    shown = np.array(ast.literal_eval(_SPECIAL.sub(r"'\g<0>'", inner)), dtype=float)
    assert shown.shape == value.shape
    for x, y in zip(value.ravel(), shown.ravel(), strict=True):
        assert x == y or abs(x - y) <= 5.0001e-5 * max(1, abs(x)) or np.isnan([x, y]).all()
    # the nonzero numbers set the width; zeros, NaNs and infinities are padded to it
    cells = [len(c.strip("[]")) for c in inner.split(", ")]
    numbers = value.ravel().tolist()
    widths = {n for n, x in zip(cells, numbers, strict=True) if x and math.isfinite(x)}
    assert len(widths) <= 1 and min(cells) >= max(widths, default=1)


@pytest.mark.parametrize(("torch_code", "micrograd_code", "output"), [
    (SANITY_TORCH, SANITY_MICROGRAD, "y"), (MORE_OPS_TORCH, MORE_OPS_MICROGRAD, "g")])
def test_pytorch_halves_give_the_same_numbers(torch_code, micrograd_code, output):
    theirs = run_micrograd(micrograd_code, output)
    c = trace(torch_code)
    assert c.value.shape == (1,) and not c.warnings  # PyTorch's one-element tensors
    for name, value in numbers(c).items():
        assert value == pytest.approx(theirs[name], rel=1e-12, abs=1e-12), name


NEURON_NUMBERS = {"x1": -1.5, "x2": 0.5, "w1": 1.0, "w2": 0.0, "b": 0.5}


def test_lecture_pytorch_neuron_gives_pytorchs_numbers():
    """torch.Tensor makes float32: b's 6.8813735870195432 is rounded to float32 before .double(),
    so PyTorch prints 0.7071066904050358, not micrograd's 0.7071067811865476."""
    c = trace(LECTURE_TORCH)
    b = float(np.float32(6.8813735870195432))
    o = math.tanh(2.0 * -3.0 + 0.0 * 1.0 + b)
    assert float(c.value[0]) == o and repr(o) == "0.7071066904050358"
    dn = 1 - o * o
    want = {"x1": -3.0 * dn, "x2": 1.0 * dn, "w1": 2.0 * dn, "w2": 0.0, "b": dn}
    assert {k: float(g[0]) for k, g in c.gradients.items()} == want
    assert c.notes[0].endswith("prints 0.7071066904050358")


@pytest.mark.parametrize("code", [LECTURE_NEURON, LECTURE_NEURON_EXP])
def test_lecture_neuron_in_each_form(code):
    c = trace(code)
    n = 2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432
    assert float(np.ravel(c.value)[0]) == pytest.approx(math.tanh(n), rel=1e-12)
    assert round(float(np.ravel(c.value)[0]), 4) == 0.7071
    grads = {k: float(np.ravel(g)[0]) for k, g in c.gradients.items()}
    assert grads == pytest.approx(NEURON_NUMBERS, abs=1e-12)


def test_lecture_labels_name_the_wires():
    g = parse(LECTURE_NEURON)
    named = [n.name for n in g.nodes if n.kind == "gate"]
    assert named == ["x1*w1", "x2*w2", "x1*w1 + x2*w2", "n", "o"]
    assert g.output.name == "o"
    assert list(g.inputs()) == ["x1", "x2", "w1", "w2", "b"]


def test_a_value_label_names_its_input():
    c = trace("a = Value(2.0, label='x'); b = a * a")
    assert {k: float(v) for k, v in c.gradients.items()} == {"x": 4.0}


def test_a_name_assigned_again_shows_as_successive_wires():
    g = parse("x = 2\nc = x * 3\nc += c + 1\nc -= 1\nc *= 2\nc /= 4" + "\nc = c + 1" * 8)
    assert [n.name for n in g.nodes if n.kind == "gate" and n.name] == [
        "c", "c′", "c″", "c‴", "c⁽⁴⁾", *(f"c⁽{k}⁾" for k in "⁵⁶⁷⁸⁹"), "c⁽¹⁰⁾", "c⁽¹¹⁾",
        "c⁽¹²⁾"]
    c = trace("x = 2\nc = x * 3\nc += c + 1")  # c′ = c + (c + 1) = 2c + 1 = 6x + 1
    assert float(c.gradients["x"]) == 6.0


def test_augmented_assignment_works_in_plain_programs_and_its_code_runs():
    c = trace("x = 1.5\ny = x * x\ny += x\ny *= y")
    ns: dict = {}
    exec(c.code()["source"], ns)  # the generated code names y′ as y_2: it runs
    x = 1.5
    assert float(c.value) == pytest.approx((x * x + x) ** 2)
    assert ns["dx"] == pytest.approx(2 * (x * x + x) * (2 * x + 1)) == float(c.gradients["x"])


def test_backward_marks_the_output_even_with_lines_after_it():
    g = parse("a = Value(1.0)\nb = a * 2\nb.backward()\nc = b + 1")
    assert g.output.name == "b"
    g = parse("a = 3\nb = a * 2\nc = b + 1\ndraw_dot(b)")
    assert g.output.name == "b"


@pytest.mark.parametrize("code", [
    "import math\nimport numpy as np\nimport torch\nx = 2\nf = np.exp(x) + math.exp(x)",
    "import torch.nn.functional as F\nx = torch.tensor(2.0, requires_grad=True)\nf = F.relu(x)",
    "from torch.nn import functional as F\nx = 2\nf = F.sigmoid(x)",
    "from micrograd.engine import Value\nfrom micrograd.nn import Neuron, Layer, MLP\n"
    "x = Value(2.0)\nf = x.tanh()",
    "import numpy\nx = 2\nf = numpy.tanh(x)",
    "x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)\n"
    "f = (x * x).sum() + torch.nn.functional.relu(x).mean()",
])
def test_imports_of_the_known_libraries_are_accepted(code):
    assert trace(code).value is not None


def test_pytorch_tanh_gelu_is_chainrules_gelu():
    """F.gelu(x, approximate='tanh') against its formula (PyTorch prints 0.5306 for x = 0.7),
    and its gradient against central differences."""
    def gelu(x):
        return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    c = trace("import torch.nn.functional as F\nx = torch.tensor(0.7, requires_grad=True)\n"
              "y = F.gelu(x, approximate='tanh')\ny.backward()")
    x = float(np.float32(0.7))  # the number a float32 tensor holds
    assert round(float(c.value), 4) == 0.5306
    assert float(c.value) == pytest.approx(gelu(x), rel=1e-14)
    h = 1e-6
    assert float(c.gradients["x"]) == pytest.approx((gelu(x + h) - gelu(x - h)) / (2 * h),
                                                    rel=1e-8)


def test_torch_matrix_product_and_reductions():
    c = trace("W = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)\n"
              "x = torch.tensor([1.0, -1.0])\ny = (W @ x).sum()\ny.backward()")
    assert float(c.value) == -2.0
    assert c.gradients["W"].tolist() == [[1.0, -1.0], [1.0, -1.0]]


def error(code: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(code, Limits())
    return info.value


@pytest.mark.parametrize(("code", "message", "span", "hint"), [
    ("import os", "'os' cannot be imported", (7, 9), "never runs code"),
    ("from os.path import join", "'os.path' cannot be imported", (5, 12), None),
    ("import numpy as np, sklearn", "'sklearn'", (20, 27), None),
    ("for i in range(3):\n    x = i", "'for' is not part of the language", (0, 3),
     "write the steps out, or use a tensor"),
    ("while x:\n    x = x - 1", "'while'", (0, 5), "loops are not supported"),
    ("w = [x * 2 for x in v]", "'for'", (11, 14), "comprehensions"),
    ("def f(x):\n    return x * 2", "'def'", (0, 3), "functions are not supported"),
    ("class Neuron:\n    pass", "'class'", (0, 5), "classes are not supported"),
    ("y = x if x > 0 else 0", "'if'", (6, 8), None),
    ("exec('x = 1')", "unknown function 'exec'", (0, 4), "never runs code"),
    ("x = Value(2.0)\ny = x.__class__", "'x.__class__' is not available", (19, 30),
     "double underscores"),
    ("__x = 2", "double underscores", (0, 3), None),
    ("a = Value(2.0)\nb = a.data * 2", "'.data' can be read only in a print", (19, 25),
     None),
    ("a = Value(2.0)\nb = a * 2\nb.grad = 1.0", "'b.grad' cannot be set", (25, 31),
     "computes every value and gradient"),
    ("a = Value(2.0)\na._backward()", "'a._backward' is not available", (15, 26), None),
    ("a = Value(2.0)\na.foo = 3", "'a.foo' cannot be set", (15, 20), ".label"),
    ("a = Value(x)", "Value() takes one number", (4, 12), "Value(2.0)"),
    ("a = Value(2.0, grad=1)", "keyword 'grad' is not supported", (15, 21), "label"),
    ("a = torch.tensor(2.0, requires_grad=1)", "requires_grad is True or False", (36, 37),
     None),
    ("a = Value(2.0)\nb = a.backward() + 1", "marks the output", (19, 31), None),
    # torch.Tensor(7) makes 7 uninitialised numbers, torch.Tensor(2.5) is PyTorch's TypeError
    ("x = torch.Tensor(7)", "torch.Tensor(7) is not the number 7", (4, 19),
     "torch.Tensor([7.0]) or torch.tensor(7.0)"),
    ("x = torch.Tensor(2.5)", "torch.Tensor(2.5) is an error in PyTorch", (4, 21),
     "torch.Tensor([2.5]) or torch.tensor(2.5)"),
    ("x = torch.Tensor()", "torch.Tensor() takes one list of numbers", (4, 18),
     "write torch.Tensor([2.0])"),
    # PyTorch: "Only Tensors of floating point and complex dtype can require gradients"
    ("x = torch.tensor(3, requires_grad=True)", "only tensors of floating point", (17, 18),
     "write 3.0"),
    ("x = torch.tensor([[1, 2]], requires_grad=True)", "only tensors of floating point",
     (17, 25), "a decimal point"),
    ("x = True", "'True' is not part of the language", (4, 8), "booleans"),
    ("x = torch.tensor(2.0)\ny = F.relu(x)", "'F' is not imported", (26, 27),
     "import torch.nn.functional as F"),
    # PyTorch's gelu is the exact (erf) one unless asked for the tanh form, chainrule's gelu
    ("import torch.nn.functional as F\nx = 0.7\ny = F.gelu(x)", "F.gelu(x) is PyTorch's exact",
     (44, 50), "F.gelu(x, approximate='tanh')"),
    ("x = 0.7\ny = torch.nn.functional.gelu(x, approximate='none')", "exact gelu", (52, 58),
     "approximate='tanh'"),
    ("import torch.nn.functional as F\ny = F.gelu(0.7, approximate=0)", "exact gelu", (60, 61),
     None),
    ("from torch.nn.functional import gelu\ny = gelu(0.7)", "gelu(x) is PyTorch's exact gelu",
     (41, 45), "gelu(x, approximate='tanh')"),
])
def test_unsupported_code_says_what_and_where(code, message, span, hint):
    e = error(code)
    assert message in e.message
    assert (e.start, e.end) == span
    if hint is not None:
        assert hint in e.hint


def test_a_second_backward_is_refused_where_it_is_called():
    # micrograd and PyTorch add the second call's gradients to the first's: a.grad prints 3,
    # then 12; a circuit has one output, its gradients from one backward pass
    code = ("from micrograd.engine import Value\na = Value(2.0)\nb = a * 3\nb.backward()\n"
            "print(a.grad)\nc = b * 2\nc.backward()\nprint(a.grad)")
    e = error(code)
    second = code.index("c.backward()")
    assert (e.start, e.end) == (second, second + len("c.backward()"))
    assert "one output" in e.message and "line 4" in e.message and "add up" in e.message
    assert "keep one backward() call" in e.hint
    assert "line 3" in error("x = 2.0\ny = x * x\ny.backward()\ny.backward()").message
    # draw_dot(o) below o.backward() draws the same output, as the lecture does
    assert parse("a = Value(2.0)\nb = a * 3\nb.backward()\ndraw_dot(b)").output.op == "scale"


@pytest.mark.parametrize("made", [
    "torch.tensor(3)", "torch.tensor(3, requires_grad=False)", "torch.tensor([1, 2.0], "
    "requires_grad=True)", "torch.tensor(3, dtype=torch.float64, requires_grad=True)",
    "torch.Tensor([7])",
])
def test_pytorch_tensors_pytorch_makes_are_read(made):
    assert trace(f"import torch\nx = {made}\ny = (x * 2).sum()").gradients["x"] is not None


def test_each_statement_is_recorded_with_its_line_target_operator_span_and_node():
    code = "import math\nx = 2\nc = x * 3  # stage\nc += 1\nprint(c.data)\nc.label = 'out'\nc"
    program = parse_program(code)
    rows = [(s.line, s.kind, s.target, s.op, code[s.span[0]:s.span[1]]) for s in
            program.statements]
    assert rows == [
        (1, "import", None, None, "import math"),
        (2, "assign", "x", "=", "x = 2"),
        (3, "assign", "c", "=", "c = x * 3"),
        (4, "assign", "c", "+=", "c += 1"),
        (5, "print", None, None, "print(c.data)"),
        (6, "attribute", "c", None, "c.label = 'out'"),
        (7, "expression", None, None, "c"),
    ]
    nodes = [s.node for s in program.statements]
    assert nodes[0] is None and nodes[4] is None
    assert nodes[1].kind == "input" and nodes[2].op == "scale" and nodes[3].op == "addc"
    assert nodes[3].inputs == (nodes[2],) and nodes[5] is nodes[3] is nodes[6]
    assert program.graph.output is nodes[3] and nodes[3].name == "out"
    assert [str(p) for p in program.prints] == ["line 5 prints c.data"]
    assert program.prints[0].wires == {"c": nodes[3]}



def test_print_lines_with_brackets_and_the_import_forms_are_read_to_their_ends():
    code = ("import torch.nn\nimport torch.nn as nn, math\nfrom math import (exp as e, log,)\n"
            "a = Value(2.0)\nprint(f(a), [(a)], (a.grad))\nb = exp(log(a))")
    program = parse_program(code)
    rows = [(s.kind, code[s.span[0]:s.span[1]]) for s in program.statements]
    assert rows == [
        ("import", "import torch.nn"),
        ("import", "import torch.nn as nn, math"),
        ("import", "from math import (exp as e, log,)"),
        ("assign", "a = Value(2.0)"),
        ("print", "print(f(a), [(a)], (a.grad))"),
        ("assign", "b = exp(log(a))"),
    ]
    assert [(p.text, list(p.wires)) for p in program.prints] == [("f(a), [(a)], (a.grad)", ["a"])]
    assert [n.op for n in program.graph.nodes if n.kind == "gate"] == ["log", "exp"]
    assert parse("import torch.nn as nn\ny = nn.functional.relu(x)").nodes[-1].op == "relu"
    # a dotted import binds no name here; a plain one binds the module's
    assert parse("import micrograd.engine\ny = micrograd * 2").inputs() == {"micrograd": ANY}
    assert "is a module" in error("import micrograd\ny = micrograd * 2").message

# --- the same computation written in micrograd's style and in plain style --------------------

UNARY = ["relu", "tanh", "exp", "sigmoid"]


@st.composite
def programs(draw):
    """(micrograd style, plain style) of one random program."""
    n_inputs = draw(st.integers(1, 3))
    values = [draw(st.sampled_from([-1.5, -0.5, 0.25, 0.75, 1.25])) for _ in range(n_inputs)]
    mg = [f"x{i} = Value({v})" for i, v in enumerate(values)]
    plain = [f"x{i} = {v}" for i, v in enumerate(values)]
    names = [f"x{i}" for i in range(n_inputs)]
    for k in range(draw(st.integers(1, 6))):
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        op = draw(st.sampled_from(["+", "-", "*"]))
        fn = draw(st.sampled_from([None, *UNARY]))
        number = draw(st.sampled_from([None, 2.0, -3.0, 0.5]))
        mg_rhs, plain_rhs = f"{a} {op} {b}", f"{a} {op} {b}"
        if fn:
            mg_rhs, plain_rhs = f"({mg_rhs}).{fn}()", f"{fn}({plain_rhs})"
        if number is not None:
            mg_rhs, plain_rhs = f"{number} * {mg_rhs}", f"{number} * {plain_rhs}"
        target = draw(st.sampled_from([f"v{k}", *(n for n in names if n.startswith("v"))]))
        if target in names and draw(st.booleans()):
            aug = draw(st.sampled_from(["+", "-", "*"]))
            mg.append(f"{target} {aug}= {mg_rhs}")
            plain.append(f"{target} = {target} {aug} ({plain_rhs})")
        else:
            mg.append(f"{target} = {mg_rhs}")
            plain.append(f"{target} = {plain_rhs}")
        if target not in names:
            names.append(target)
    out = mg[-1].split()[0]
    mg.append(f"{out}.backward()")
    return "\n".join(mg), "\n".join(plain)


def structure(g):
    return [(n.kind, n.op, n.attrs, [i.index for i in n.inputs]) for n in g.nodes], \
        g.output.index


@settings(max_examples=150, deadline=None)
@given(pair=programs())
def test_micrograd_style_and_plain_style_give_the_same_circuit(pair):
    mg, plain = pair
    assert structure(parse(mg)) == structure(parse(plain))
    a, b = trace(mg), trace(plain)
    assert float(a.value) == float(b.value) or (np.isnan(a.value) and np.isnan(b.value))
    assert {k: float(v) for k, v in a.gradients.items()} == pytest.approx(
        {k: float(v) for k, v in b.gradients.items()}, nan_ok=True)


# --- over HTTP and on the command line -------------------------------------------------------


def test_circuit_of_the_micrograd_readme_over_http(client):
    r = client.post("/api/circuit", json={"expression": MICROGRAD_README})
    assert r.status_code == 200
    body = r.json()
    assert round(body["value"], 4) == 24.7041
    assert {k: round(v, 4) for k, v in body["gradients"].items()} == {
        "a": 138.8338, "b": 645.5773}
    assert body["notes"][0] == "line 15 prints 24.7041"
    names = [n["name"] for n in body["nodes"] if n["kind"] == "gate" and n["name"]]
    assert names[:3] == ["c", "c′", "c″"] and names[-2:] == ["g", "g′"]


def test_a_misspelt_name_in_pasted_code_is_a_missing_value_that_suggests_the_name(client):
    # Python stops there with a NameError: the engine says where, and which name was meant
    code = MICROGRAD_README.replace("d = a * b + b**3", "d = a * bb + b**3")
    r = client.post("/api/circuit", json={"expression": code})
    body = r.json()
    assert r.status_code == 400 and body["missing"] == ["bb"], body
    assert body["detail"] == "missing value for bb" and body["hint"] == "did you mean b?"
    assert code[body["position"]["start"]:body["position"]["end"]] == "bb"
    # a name close to none the program has keeps the plain hint
    r = client.post("/api/circuit", json={"expression": "x * k", "values": {"x": 1}})
    assert r.json()["hint"] == "give every input a value"


@pytest.mark.parametrize(("code", "span"), [
    ("import os\nx = 2", (7, 9)),
    ("for i in range(3):\n    x = i", (0, 3)),
    ("a = Value(2.0)\nb = a.grad * 2", (19, 25)),
])
def test_circuit_refuses_other_code_with_a_400_that_points_at_it(client, code, span):
    r = client.post("/api/circuit", json={"expression": code})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["position"]["start"], body["position"]["end"]) == span and body["hint"]


def test_command_line_traces_the_lecture_neuron(capsys):
    from app.cli import main

    assert main(["trace", LECTURE_NEURON]) == 0
    out = capsys.readouterr().out
    assert "value: 0.70710678" in out and "dx1 = -1.49999999" in out and "dw2 = 0\n" in out
    assert main(["trace", MICROGRAD_README]) == 0
    out = capsys.readouterr().out
    assert "value: 24.7040816" in out and "note: line 17 prints 138.8338" in out


def test_numpy_random_numbers_are_seeded_inputs_numbered_as_the_checker_numbers_them():
    """np.random.randn(5, 10) is numpy's default_rng(n).standard_normal of that shape for the
    n-th call, so the circuit of the notes' forward pass has the checker's D."""
    from engine import backward_check
    code = "W = np.random.randn(5, 10)\nX = np.random.randn(10, 3)\nD = W.dot(X)"
    c = trace(code)
    W = np.random.default_rng(0).standard_normal((5, 10))
    X = np.random.default_rng(1).standard_normal((10, 3))
    np.testing.assert_array_equal(c.value, W @ X)
    np.testing.assert_array_equal(c.gradients["W"], np.ones((5, 3)) @ X.T)
    backward = "\ndD = np.random.randn(*D.shape)\ndW = dD.dot(X.T)\ndX = W.T.dot(dD)"
    report = backward_check(code + backward, {})
    assert report["passed"] and np.array_equal(report["value"], c.value)
    same = trace("import numpy\nW = numpy.random.randn(2, 3)\nf = sum(W)")
    assert same.value == pytest.approx(np.random.default_rng(0).standard_normal((2, 3)).sum())


@pytest.mark.parametrize("call", ["np.random.randn()", "np.random.randn(5.0, 2)",
                                  "np.random.randn(0, 2)", "np.random.randn(x)",
                                  "np.random.randn(2, size=3)"])
def test_numpy_random_numbers_take_positive_whole_sizes(call):
    with pytest.raises(ExpressionError, match=r"takes positive whole sizes") as e:
        trace(f"W = {call}")
    assert (e.value.start, e.value.end) == (4, 4 + len(call))


@pytest.mark.parametrize(("shape", "size"), [("[2, 3]", (2, 3)), ("3", 3), ("[4]", (4,))])
def test_a_seeded_generators_random_numbers_are_the_input_of_that_seed(shape, size):
    """np.random.default_rng(s).standard_normal(shape), as the staged code writes a random
    input: numpy's numbers of that seed, whatever other random inputs the code has."""
    c = trace(f"V = np.random.randn(2)\nW = np.random.default_rng(7).standard_normal({shape})\n"
              "f = sum(W) + sum(V)")
    np.testing.assert_array_equal(c.inputs["W"], np.random.default_rng(7).standard_normal(size))
    np.testing.assert_array_equal(c.inputs["V"], np.random.default_rng(0).standard_normal(2))


@pytest.mark.parametrize(("code", "message", "fragment"), [
    ("W = np.random.default_rng(0)", "a random generator is not a value",
     "np.random.default_rng(0)"),
    ("W = np.random.default_rng(0).normal([2])", "'.normal' of a random generator", ".normal"),
    ("W = np.random.default_rng(1.5).standard_normal([2])", "takes a whole-number seed",
     "np.random.default_rng(1.5)"),
    ("W = np.random.default_rng(-1).standard_normal([2])", "seed must be a whole number >= 0",
     "np.random.default_rng(-1).standard_normal([2])"),
    ("W = np.random.default_rng(0).standard_normal([2.5, 0])", "positive whole sizes",
     "np.random.default_rng(0).standard_normal([2.5, 0])"),
    ("W = np.random.default_rng(0).standard_normal(x)", "positive whole sizes",
     "np.random.default_rng(0).standard_normal(x)"),
    ("W = np.random.default_rng(0).standard_normal([5000, 5000])", "25,000,000 elements",
     "np.random.default_rng(0).standard_normal([5000, 5000])"),
])
def test_a_seeded_generator_written_otherwise_is_refused_where_it_is(code, message, fragment):
    with pytest.raises(ExpressionError, match=re.escape(message)) as e:
        trace(code, limits=Limits())
    assert code[e.value.start:e.value.end] == fragment


def test_numpy_random_numbers_past_the_size_limit_are_refused_before_they_are_made():
    with pytest.raises(ExpressionError, match="25,000,000 elements") as e:
        trace("W = np.random.randn(5000, 5000)", limits=Limits())
    assert e.value.start == 4


def test_numpy_arrays_are_inputs_and_an_assignment_the_output_skips_is_named():
    """The notes' vectorised example: np.array([...]) is a list of numbers, as a list literal
    is; the output is the last line, and the line it does not read is named, not lost."""
    c = trace(VECTORS_CODE)
    np.testing.assert_array_equal(c.value, [[6, 8], [10, 12]])
    np.testing.assert_array_equal(c.inputs["a"], [1, 2, 3])
    np.testing.assert_array_equal(c.gradients["A"], np.ones((2, 2)))
    np.testing.assert_array_equal(c.gradients["a"], np.zeros(3))
    assert "line 6: c is not drawn: the output C does not use it" in c.warnings
    alone = trace("import numpy\na = numpy.array([1, 2, 3])\nb = np.array(4)\nc = a * b")
    np.testing.assert_array_equal(alone.gradients["b"], 6.0)
    assert not [w for w in alone.warnings if "not drawn" in w]


@pytest.mark.parametrize("code, line, first, last", [
    (CHAIN_RULE_CODE, 10, "dfdz", "dfdy"),  # the notes' first naming: dfdz, dqdx
    (MATRIX_CODE.replace("*D.shape", "5, 3"), 7, "dD", "dX"),
    ("x = -2; y = 5; z = -4\nq = x + y\nf = q * z\ndq = z; dz = q", 4, "dq", "dz"),
])
def test_code_ending_in_a_backward_pass_is_drawn_with_a_warning_that_points_to_check_mode(
        code, line, first, last):
    assert trace(code).warnings.count(
        f"line {line} on reads as a hand-written backward pass ({first} = ...), and this "
        f"circuit is of its last line, {last}: check mode (POST /api/backward-check, "
        "engine.backward_check) judges a backward pass line by line") == 1


BACKWARD_STARTS = json.loads((Path(__file__).parent / "backward_start.json").read_text())


@pytest.mark.parametrize("case", BACKWARD_STARTS, ids=lambda c: c["code"][-24:])
def test_where_a_backward_pass_starts_is_decided_as_the_page_decides(case):
    """The table the page's backwardStart is held to too (tests/js/backcheck.test.mjs)."""
    code, starts = case["code"], case["starts"]
    assert backward_start(code) == (-1 if starts is None else code.index(starts)), case.get("why")


@pytest.mark.parametrize("code", [
    "x = 3\ndx = 2 * x\ny = dx + 1",  # a forward line follows: dx is a variable
    "x = 3\ndelta = 2 * x",  # d + a name used nowhere before
    "x = 3\nd = 2 * x",
    "# x is the input\ny = 2\ndx = y*3",  # a name in a comment is no variable
    "a = 1\nb = 2\nc = a*b\ndadb = c*3",  # a is neither the output nor computed from b
])
def test_d_names_in_a_forward_pass_get_no_backward_pass_warning(code):
    assert not [w for w in trace(code).warnings if "backward pass" in w]


def test_a_line_an_unnamed_output_does_not_read_is_named():
    c = trace("a = 2\nb = a * 3\na + 1")
    assert c.warnings == ["line 2: b is not drawn: the output does not use it"]


@pytest.mark.parametrize(("code", "message", "start"), [
    ("a = np.array([1.0], dtype=float)", "np.array() keyword 'dtype' is not supported", 20),
    ("a = np.array(x)", "np.array() takes one number or list of numbers", 4),
    ("a = np.array([1, 2], [3])", "np.array() takes one number or list of numbers", 4),
])
def test_numpy_arrays_refuse_what_they_do_not_take(code, message, start):
    with pytest.raises(ExpressionError) as e:
        trace(code)
    assert (e.value.message, e.value.start) == (message, start)
