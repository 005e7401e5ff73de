"""Staged code: it reads like the notes and, run, reproduces the engine's values and gradients.

Executing the generated source is safe: it is built from the gate table's templates and numbers,
never from the user's text."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_ops import CASES
from test_presets import drawn

from engine import backward_check, trace
from engine.circuit import Circuit
from engine.graph import Graph
from engine.presets import PRESETS, STAGED


def run_source(circuit) -> dict:
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        exec(circuit.code()["source"], ns)  # noqa: S102 - our own output, see the module note
    return ns


def assert_round_trip(circuit) -> None:
    ns = run_source(circuit)  # it imports what it uses
    source = circuit.code()["source"]
    body = re.sub(r"^import .*$", "", source, flags=re.M)
    for module, alias in re.findall(r"^import (\w+)(?: as (\w+))?$", source, re.M):
        assert re.search(rf"\b{alias or module}\.", body), f"import {module} is not used"
    for node in circuit.nodes:
        if node.kind == "input":
            grad = circuit.grads[node.index]
            if grad is None:
                assert ns["d" + node.name] is None
            else:
                np.testing.assert_allclose(ns["d" + node.name], grad, rtol=1e-12, atol=1e-300)
    out = circuit.graph.output
    if out.name and out.name.isidentifier():  # c′ and labels like 'x1*w1' get Python names
        np.testing.assert_allclose(ns[out.name], circuit.value, rtol=1e-12)


@pytest.mark.parametrize("preset", PRESETS, ids=[p["id"] for p in PRESETS])
@pytest.mark.parametrize("expand", [False, True])
def test_code_round_trip_on_every_preset(preset, expand):
    assert_round_trip(trace(drawn(preset), preset["values"], expand=expand))


@pytest.mark.parametrize("op, xs, attrs", [
    pytest.param(op, xs, attrs, id=f"{op}-{k}")
    for op, cases in CASES.items() for k, (xs, attrs) in enumerate(cases)])
def test_code_round_trip_on_every_gate(op, xs, attrs):
    g = Graph()
    ins = [g.input(f"a{k}", x) for k, x in enumerate(xs)]
    g.gate("sum", (g.gate(op, ins, **attrs),))
    assert_round_trip(Circuit("", g, {}))


# the notes' staged example with each sigmoid written as one gate, as the notes stage it
STAGED_GROUPED = STAGED.replace("1.0 / (1 + math.exp(-y))", "sigmoid(y)").replace(
    "1.0 / (1 + math.exp(-x))", "sigmoid(x)")


@pytest.mark.parametrize(("text", "values"), [
    ("f = sum((Z1 > 0).astype(np.float32) * G)", {"Z1": [[-1, 2], [3, -4]], "G": [[1, 2], [3, 4]]}),
    ("(x >= y) * x - (x < y)", {"x": 2, "y": 2}),
    ("(x >= y) * x - (x < y)", {"x": [1, 2], "y": 1.5}),
])
def test_a_comparison_is_staged_as_a_float_mask_and_runs(text, values):
    c = trace(text, values)
    assert re.search(r"^(gt|ge)1 = 1\.0 \* \((Z1 > 0|x >= y)\)", c.code()["forward"], re.M)
    assert_round_trip(c)


def test_staged_example_reads_like_the_notes():
    code = trace(STAGED_GROUPED).code()
    fwd = code["forward"].splitlines()
    assert fwd[1].startswith("sigy = 1.0 / (1 + np.exp(-y))") and fwd[1].endswith("#(1)")
    assert re.match(r"f = num \* invden +#\(8\)$", fwd[8])
    bwd = code["backward"]
    assert re.search(r"^dnum = \(invden\) \* df +#\(8\)$", bwd, re.M)
    assert re.search(r"^dden = \(-1\.0 / den\*\*2\) \* dinvden +#\(7\)$", bwd, re.M)
    assert re.search(r"^dsigx = \(1\) \* dden +#\(6\)$", bwd, re.M)
    assert re.search(r"^dxpy = \(2 \* xpy\) \* dxpysqr +#\(5\)$", bwd, re.M)
    assert re.search(r"^dx \+= \(\(1 - sigx\) \* sigx\) \* dsigx +#\(3\)$", bwd, re.M)
    assert re.search(r"^dy \+= \(\(1 - sigy\) \* sigy\) \* dsigy +#\(1\)$", bwd, re.M)
    # x gets one `=` and then `+=` at each further fork
    assert len(re.findall(r"^dx = ", bwd, re.M)) == 1
    assert len(re.findall(r"^dx \+= ", bwd, re.M)) == 2


@pytest.mark.parametrize(("expr", "values", "imports"), [
    ("(x + y) * z", {"x": -2, "y": 5, "z": -4}, ""),
    ("sigmoid(x)", {"x": 1}, "import numpy as np\n\n"),
    ("1 / x", {"x": 0}, "import numpy as np\n\n"),  # np.seterr, np.float64
])
def test_the_staged_code_imports_only_what_it_uses(expr, values, imports):
    source = trace(expr, values).code()["source"]
    assert source.startswith(imports + "# inputs") or source.startswith(imports + "np.seterr")
    assert_round_trip(trace(expr, values))


@pytest.mark.parametrize(("expr", "local"), [
    ("x**3", "(3 * x**2)"), ("x**0.5", "(0.5 * x**-0.5)"), ("x**-1", "(-1 * x**-2)"),
    ("x**1", "(1)"), ("x**0", "(0 * x**-1)")])
def test_a_constant_power_is_differentiated_with_its_exponent_worked_out(expr, local):
    code = trace(expr, {"x": 4.0}).code()
    assert f"dx = {local} * d" in code["backward"]
    ns: dict = {}
    exec(code["source"], ns)  # the generated code runs and gives the engine's gradient
    assert ns["dx"] == pytest.approx(float(trace(expr, {"x": 4.0}).gradients["x"]))


@pytest.mark.parametrize("x", [4.0, 0.0, float("nan"), float("inf"), [[1.0, float("nan")]]])
def test_the_first_power_is_staged_with_the_notes_1_and_gives_the_same_numbers(x):
    """x**0 is 1 for every float, nan and inf included: (1) * df is what (1 * x**0) * df was."""
    c = trace("x**1 * 3", {"x": x})
    assert re.search(r"^dx = \(1\) \* d\w+ +#\(1\)$", c.code()["backward"], re.M)
    ns = run_source(c)
    got, want = ns["dx"], c.gradients["x"]
    assert np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(got, want)


def test_inputs_named_inf_and_nan_are_names_in_the_staged_code_not_numbers():
    """Two numbers are worked out in the staged code; a name float() reads (inf, nan) is not one."""
    c = trace("inf = 3.0\nnan = 2.0\nf = inf ** 2 + nan * inf")
    assert "nan * inf" in c.code()["forward"]
    ns: dict = {}
    exec(c.code()["source"], ns)
    assert (ns["dinf"], ns["dnan"]) == (c.gradients["inf"], c.gradients["nan"]) == (8.0, 3.0)


def test_pasted_staged_example_gets_one_line_per_gate():
    c = trace(STAGED)
    lines = c.code()["forward"].splitlines()[1:]
    assert len(lines) == sum(n.kind == "gate" for n in c.nodes) == 14
    assert [ln.split(" = ")[0] for ln in lines if not ln.split(" = ")[0][-1].isdigit()] == [
        "sigy", "num", "sigx", "xpy", "xpysqr", "den", "invden", "f"]


def test_marks_are_aligned_and_every_backward_line_points_at_a_forward_line():
    code = trace(STAGED_GROUPED).code()
    fwd_marks = re.findall(r"#\((\d+)\)$", code["forward"], re.M)
    assert fwd_marks == [str(k) for k in range(1, 9)]
    columns = {line.index("#(") for line in code["forward"].splitlines() if "#(" in line}
    assert len(columns) == 1
    bwd_marks = {m for m in re.findall(r"#\((\d+)\)$", code["backward"], re.M)}
    assert bwd_marks <= set(fwd_marks)


def test_unnamed_gates_get_names_from_the_gate():
    code = trace("(x + y) * sigmoid(z)", {"x": 1, "y": 2, "z": 0}).code()
    assert "add1 = x + y" in code["forward"]
    assert "sig2 = 1.0 / (1 + np.exp(-z))" in code["forward"]
    assert re.search(r"^f = add1 \* sig2", code["forward"], re.M)


def test_a_name_assigned_again_is_staged_as_the_readme_says():
    c = trace("a = 1.0\nb = 2.0\nc = a + b\nc += c + 1\nc += 1 + c")
    staged = re.findall(r"^(c\w*) = ", c.code()["forward"], re.M)
    assert staged == ["c", "c_2", "c_3"]
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert "in the staged code they are `c`, `c_2`, `c_3`." in readme


def test_names_never_collide_with_gradient_names():
    c = trace("dx = x * 2; f = dx + x", {"x": 3})
    assert_round_trip(c)


def test_index_gradients_accumulate_into_one_array():
    code = trace(PRESETS[4]["expression"]).code()["backward"]
    assert "dw = np.zeros_like(w)" in code and "dw[2] += " in code


def test_random_values_are_regenerated_not_printed():
    p = next(p for p in PRESETS if p["id"] == "matmul")
    source = trace(p["expression"], p["values"]).code()["source"]
    assert "W = np.random.default_rng(0).standard_normal([5, 10])" in source
    assert re.search(r"^dW = dD\.dot\(X\.T\)", source, re.M)


@pytest.mark.parametrize("text", [
    "W = np.random.randn(2, 3)\nX = np.random.randn(3, 2)\nD = W.dot(X)",
    "W = np.random.default_rng(0).standard_normal([2, 3])\n"
    "X = np.random.default_rng(1).standard_normal([3, 2])\nD = W.dot(X)",
])
def test_random_inputs_made_in_the_code_are_regenerated_not_printed(text):
    """The n-th np.random.randn call has seed n: the staged code makes it again by that seed,
    as it does a random value given in the request; run, it gives the engine's gradients, and
    read back into check mode, every line is right."""
    c = trace(text)
    source = c.code()["source"]
    assert "W = np.random.default_rng(0).standard_normal([2, 3])\n" in source
    assert "X = np.random.default_rng(1).standard_normal([3, 2])\n" in source
    assert "np.array" not in source
    assert_round_trip(c)
    assert c.code() == trace("D = W.dot(X)", {"W": {"randn": [2, 3], "seed": 0},
                                              "X": {"randn": [3, 2], "seed": 1}}).code()
    r = backward_check(source.removeprefix("import numpy as np\n"))
    assert r["passed"], r
    for name in "WX":
        np.testing.assert_allclose(r["gradients"][name]["got"], c.gradients[name], rtol=1e-12)


def test_matrix_gradients_use_the_notes_formulas():
    code = trace("D = W.dot(X); f = sum(D)", {"W": np.ones((2, 3)), "X": np.ones((3, 4))}).code()
    assert re.search(r"^dW = dD\.dot\(X\.T\)", code["backward"], re.M)
    assert re.search(r"^dX = W\.T\.dot\(dD\)", code["backward"], re.M)


@pytest.mark.parametrize(("grad", "seed_line"), [
    ({"randn": [5, 3], "seed": 2}, "dD = np.random.default_rng(2).standard_normal([5, 3])"),
    (np.random.default_rng(2).standard_normal((5, 3)).tolist(), "dD = np.array([["),
])
def test_the_given_output_gradient_starts_the_staged_backward_pass(grad, seed_line):
    """The notes' matrix multiply with dD from above: the code sets dD as it was given (a
    random one by its seed, as inputs are written), and its run gives dW = dD.dot(X.T) and
    dX = W.T.dot(dD)."""
    values = {"W": {"randn": [5, 10], "seed": 0}, "X": {"randn": [10, 3], "seed": 1}}
    c = trace("D = W.dot(X)", values, grad=grad)
    backward = c.code()["backward"].splitlines()
    assert backward[1] == "# the gradient on D from above, as given"
    assert backward[2].startswith(seed_line)
    ns = run_source(c)
    W, X, dD = (np.random.default_rng(s).standard_normal(n) for s, n in
                enumerate(((5, 10), (10, 3), (5, 3))))
    np.testing.assert_allclose(ns["dD"], dD, rtol=0)
    np.testing.assert_allclose(ns["dW"], dD @ X.T, rtol=1e-12)
    np.testing.assert_allclose(ns["dX"], W.T @ dD, rtol=1e-12)


R = np.random.default_rng(7)


@pytest.mark.parametrize("expr, values", [
    ("sum(W @ S)", {"W": R.standard_normal((3, 4)), "S": R.standard_normal((2, 4, 5))}),
    ("sum(S @ W)", {"S": R.standard_normal((2, 3, 4)), "W": R.standard_normal((4, 5))}),
    ("sum(A.T @ B)", {"A": R.standard_normal((2, 4, 3)), "B": R.standard_normal((1, 4, 5))}),
])
def test_stacks_of_matrices_are_multiplied_by_matmul_in_the_code(expr, values):
    # numpy's dot and .T are other operations on more than two axes
    c = trace(expr, values)
    assert c.check()["passed"]  # the engine's gradients, against central differences
    code = c.code()
    assert ".dot(" not in code["source"] and "np.matmul(" in code["forward"]
    assert (".T" in expr) == ("np.swapaxes(" in code["forward"])
    assert_round_trip(c)


@pytest.mark.parametrize("expr", ["y.T * 2", "transpose(3.0) + y", "f = y; f.T", "v.T @ v"])
def test_a_transposed_number_runs_in_the_code(expr):
    # a Python float has no .T, and 3.T is no Python
    assert_round_trip(trace(expr, {"y": -1.3, "v": [1.0, 2.0]}))


@pytest.mark.parametrize("expr, values", [
    ("1 / x", {"x": 0}),
    ("log(x) + x", {"x": -1}),
    ("x ** 0.5", {"x": -8}),
    ("exp(x) * 0", {"x": 1000}),
])
def test_non_finite_circuits_still_round_trip(expr, values):
    c = trace(expr, values)
    ns = run_source(c)
    for name, grad in c.gradients.items():
        np.testing.assert_array_equal(np.isnan(ns["d" + name]), np.isnan(grad))
        finite = np.isfinite(grad)
        np.testing.assert_allclose(np.where(finite, ns["d" + name], 0), np.where(finite, grad, 0))


def test_unused_and_label_inputs_still_get_a_gradient_name():
    g = Graph()
    z, y = g.input("z", [[1.0, 2.0]]), g.input("y", [1.0])
    g.input("unused", 4.0)
    g.gate("softmax_ce", (z, y))
    ns = run_source(Circuit("", g, {}))
    assert ns["dy"] is None and ns["dunused"] == 0.0


def test_every_builtin_the_helpers_use_is_reserved():
    # an input named like one (int, len...) would shadow it in the staged code
    import builtins
    import inspect

    from engine.codegen import RESERVED
    from engine.fns import HELPERS
    from engine.ops import unbroadcast

    for fn in (unbroadcast, *HELPERS.values()):
        code = re.sub(r'"""[\s\S]*?"""', "", inspect.getsource(fn))
        names = set(re.findall(r"(?<![.\w])([A-Za-z_]\w*)", code))
        used = {n for n in names if hasattr(builtins, n)} - {"None", "True", "False"}
        assert used <= RESERVED, used - RESERVED


F32 = {"x": np.array([[0.1, -0.7], [1.3, 2.2]], dtype=np.float32),
       "w": np.array([[0.3], [-0.45]], dtype=np.float32),
       "b": np.array(0.25, dtype=np.float32)}  # a float32 number: the engine keeps it float32


@pytest.mark.parametrize("text", [
    "sum(tanh(x @ w + b) * x[0][0])",
    "mean(sigmoid(x) * exp(w.T) / (1 + relu(x - b)))",
    "mse(softplus(x @ w), w) * b",
])
def test_float32_inputs_are_staged_as_float32_and_give_the_engines_numbers(text):
    """The Python library takes float32 arrays and computes in float32; the staged code makes
    its inputs in that dtype, so running it gives the engine's numbers in float32 (to its last
    digits: a product may be summed in another order)."""
    c = trace(text, F32)
    source = c.code()["source"]
    assert "x = np.array([[0.1, -0.7], [1.3, 2.2]], dtype=np.float32)" in source
    assert "b = np.float32(0.25)" in source
    ns = run_source(c)
    assert np.asarray(ns["f"]).dtype == np.float32
    np.testing.assert_allclose(ns["f"], c.value, rtol=1e-6)
    for name, grad in c.gradients.items():
        assert ns["d" + name].dtype == np.float32, name
        np.testing.assert_allclose(ns["d" + name], grad, rtol=1e-6, atol=1e-9)
