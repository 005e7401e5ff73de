"""The engine as a Python library: wrong arguments to its public functions are ExpressionErrors
that say what is wrong and where, never a raw Python exception or a silent NaN."""

from __future__ import annotations

import numpy as np
import pytest

from engine import ExpressionError, trace


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
