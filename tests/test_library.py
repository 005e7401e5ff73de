"""The engine as a Python library: wrong arguments to its public functions are ExpressionErrors
that say what is wrong and where, never a raw Python exception or a silent NaN."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import ExpressionError, backward_check, descent, trace


@pytest.mark.parametrize("text, values, message", [
    ("x", {"x": None}, "x: expected a number or a list of numbers, got None"),
    ("x*2", {"x": None}, "x: expected a number or a list of numbers, got None"),
    ("sum(x)", {"x": [1, None]}, "x[1]: expected a number, got None"),
    ("sum(x)", {"x": [[1, 2], [3, None]]}, "x[1][1]: expected a number, got None"),
    ("sum(x)", {"x": [1, "2"]}, "x[1]: expected a number, got '2'"),
    ("sum(x)", {"x": [True, False]}, "x[0]: expected a number, got True"),
    ("x*2", {"x": 10**400}, "x: an integer beyond ±1.8e308 (the largest float) has no float64"),
    ("sum(x)", {"x": [1, -10**400]}, "x[1]: an integer beyond ±1.8e308"),
    ("x*2", {"x": np.array(["a"])}, "x[0]: expected a number, got 'a'"),
    ("x*2", {"x": 1j}, "x: 1j is a complex number; values are real numbers"),
    ("x*2", {"x": np.array([1j])}, "x[0]: 1j is a complex number; values are real numbers"),
    ("x*2", {"x": np.array([1 + 0j])}, "x[0]: (1+0j) is a complex number"),
])
def test_a_value_that_is_not_real_numbers_is_an_error_naming_the_input(text, values, message):
    with pytest.raises(ExpressionError) as err:
        trace(text, values)
    assert err.value.message.startswith(message), err.value.message


def test_values_that_are_numbers_of_any_numeric_type_still_work():
    c = trace("sum(x * y)", {"x": np.array([1, 2], dtype=np.int32), "y": [10**20, 0.5]})
    assert c.value == 1e20 + 1.0
    assert c.gradients["x"].tolist() == [1e20, 0.5]
    assert c.gradients["y"].tolist() == [1.0, 2.0]
    assert trace("x*2", {"x": np.float32(1.5)}).value == 3.0


@pytest.mark.parametrize("call, message", [
    (lambda: trace(123), "text must be a string (str), not int"),
    (lambda: backward_check(b"f = x"), "code must be a string (str), not bytes"),
    (lambda: descent(None, {"a": 1}, ["a"]), "text must be a string (str), not NoneType"),
    (lambda: trace("x", [1]), "values must be a mapping of input names to values"),
    (lambda: backward_check("f = x * 2\ndx = 2", [1]), "values must be a mapping"),
    (lambda: descent("a * a", [("a", 1)], ["a"]), "values must be a mapping"),
    (lambda: trace("x", {1: 2}), "values: the name 1 is not a string"),
    (lambda: trace("x * 2", {"x": 1}, limits=5), "limits must be a Limits (or None"),
    (lambda: backward_check("f = x * 2\ndx = 2", {"x": 1}, limits={}), "limits must be a"),
    (lambda: descent("a * a", {"a": 1}, ["a"], limits=5), "limits must be a Limits"),
    (lambda: trace("x * 2", {"x": 1}, expand="yes"), "expand must be True or False, not 'yes'"),
    (lambda: descent("a * a", {"a": 1}, ["a"], expand=1), "expand must be True or False"),
    (lambda: descent("a * b", {"a": 1, "b": 2}, "ab"),
     "the parameters must be a list of input names, like ['w', 'b'], not 'ab'"),
    (lambda: descent("a * b", {"a": 1, "b": 2}, 5), "the parameters must be a list"),
    (lambda: descent("a * b", {"a": 1, "b": 2}, [0]), "a parameter is named by a string"),
    (lambda: descent("a * a", {"a": 1}, ["a"], steps=True), "steps must be a whole number"),
    (lambda: descent("a * a", {"a": 1}, ["a"], lr=True), "the learning rate must be a positive"),
])
def test_public_functions_refuse_arguments_of_the_wrong_type_clearly(call, message):
    with pytest.raises(ExpressionError) as err:
        call()
    assert err.value.message.startswith(message), err.value.message


@pytest.mark.parametrize("setting, message", [
    ({"lr": 10**400}, "the learning rate must be a positive number, not an integer beyond "
                      "±1.8e308 (the largest float)"),
    ({"lr": -10**5000}, "the learning rate must be a positive number, not an integer beyond "
                        "±1.8e308 (the largest float)"),
    ({"lr": int(sys.float_info.max) + 1}, "the learning rate must be a positive number, not "
                                          "an integer beyond ±1.8e308 (the largest float)"),
    ({"tol": 10**400}, "tol must be a number >= 0, not an integer beyond ±1.8e308 (the "
                       "largest float)"),
    ({"lr": float("inf")}, "the learning rate must be a positive number, not inf"),
])
def test_descent_refuses_a_setting_too_large_for_a_float_clearly(setting, message):
    """An integer beyond the largest float (10**400) is no float a step can be taken with."""
    with pytest.raises(ExpressionError) as err:
        descent("x * x", {"x": 1.0}, ["x"], **setting)
    assert err.value.message == message


def test_descent_errors_say_where_in_the_text():
    with pytest.raises(ExpressionError) as err:
        descent("y = 1\nf = a * [1, 2]", {"a": 1}, ["a"])
    assert str(err.value).startswith("line 2, column 5: the output has shape 2: descent needs")


ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("fn", [trace, backward_check, descent])
def test_the_docs_give_the_library_default_of_no_limits(fn):
    assert inspect.signature(fn).parameters["limits"].default is None
    interface = (ROOT / "engine" / "INTERFACE.md").read_text()
    shown = [line for line in interface.splitlines()
             if re.match(rf"(c = )?{fn.__name__}\(", line) and "limits=" in line]
    assert shown and all("limits=None" in line.split("#")[0] for line in shown), shown
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "the Python library has no limits unless it is given some" in readme


def test_a_random_value_without_a_seed_is_seed_0_as_the_docs_say():
    c = trace("sum(W)", {"W": {"randn": [2, 3]}})
    assert np.array_equal(c.inputs["W"], np.random.default_rng(0).standard_normal((2, 3)))
    assert "seed 0 when `\"seed\"` is left out" in " ".join(
        (ROOT / "README.md").read_text().split())
    assert '`"seed"` may be left out, and is then 0' in " ".join(
        (ROOT / "engine" / "INTERFACE.md").read_text().split())
