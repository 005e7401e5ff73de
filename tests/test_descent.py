"""Gradient descent on a circuit: StatQuest's b3 steps, all seven dosage parameters, bad bodies."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_problem, strict

import engine
from app.main import create_app
from app.settings import Settings
from engine import ExpressionError
from engine.presets import DOSAGE

SEVEN = ["w1", "b1", "w2", "b2", "w3", "w4", "b3"]


def seeded_start(seed: int) -> dict:
    """Weights from a standard normal, biases 0, as the StatQuest page starts "fit all seven"."""
    w = np.random.default_rng(seed).standard_normal(4).tolist()
    return {"w1": w[0], "w2": w[1], "w3": w[2], "w4": w[3], "b1": 0.0, "b2": 0.0, "b3": 0.0}


def test_descent_on_b3_reproduces_statquest_steps_through_the_api(client):
    r = client.post("/api/descent", json={"expression": DOSAGE, "params": ["b3"], "lr": 0.1})
    assert r.status_code == 200, r.text
    data = strict(r.text)
    s = data["steps"]
    # b3 = 0: SSR 20.4, slope -15.7, step size -1.57 -> new b3 = 0 - (-1.57) = 1.57
    assert s[0]["values"] == {"b3": 0.0}
    assert round(s[0]["loss"], 1) == 20.4
    assert round(s[0]["gradients"]["b3"], 1) == -15.7
    assert round(s[0]["step_sizes"]["b3"], 2) == -1.57
    assert round(s[1]["values"]["b3"], 2) == 1.57
    # b3 = 1.57: slope -6.26 -> b3 = 2.19
    assert round(s[1]["gradients"]["b3"], 2) == -6.26
    assert round(s[2]["values"]["b3"], 2) == 2.19
    # the steps shrink until the step size is tiny at b3 ≈ 2.61
    assert data["stopped"] == "tol"
    assert abs(s[-1]["step_sizes"]["b3"]) < 0.001 <= abs(s[-2]["step_sizes"]["b3"])
    assert round(data["final"]["b3"], 2) == 2.61
    assert data["loss"] == s[-1]["loss"] < 0.001
    # every step: new value = old value - step size
    for before, after in zip(s, s[1:], strict=False):
        assert after["values"]["b3"] == pytest.approx(
            before["values"]["b3"] - before["step_sizes"]["b3"], abs=1e-12)
        assert before["step_sizes"]["b3"] == pytest.approx(0.1 * before["gradients"]["b3"])


def test_descent_slopes_match_central_differences():
    data = engine.descent(DOSAGE, seeded_start(3), SEVEN, lr=0.05, steps=3)
    h = 1e-6
    for step in data["steps"]:
        for name in SEVEN:
            up = {**step["values"], name: step["values"][name] + h}
            down = {**step["values"], name: step["values"][name] - h}
            numeric = (float(engine.trace(DOSAGE, up).value)
                       - float(engine.trace(DOSAGE, down).value)) / (2 * h)
            assert step["gradients"][name] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_all_seven_parameters_fit_the_data_from_a_seeded_random_start(client_for):
    # From this start the loss falls at every step (a larger step size oscillates, and where it
    # ends then depends on rounding), and stops on tol after ~740 steps.
    body = {"expression": DOSAGE, "values": seeded_start(3), "params": SEVEN, "lr": 0.05,
            "steps": 5000, "tol": 1e-4}
    client = client_for(create_app(Settings(time_limit=60)))  # the fit, not the time limit
    r = client.post("/api/descent", json=body)
    assert r.status_code == 200, r.text
    data = strict(r.text)
    assert data["steps"][0]["loss"] > 1
    assert data["loss"] < 0.01 and data["stopped"] == "tol"
    losses = [s["loss"] for s in data["steps"]]
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    assert set(data["final"]) == set(SEVEN)
    c = engine.trace(DOSAGE, data["final"])
    predicted = next(n for n in c.nodes if n.name == "predicted")
    assert np.allclose(c.vals[predicted.index], [0, 1, 0], atol=0.06)


def test_descent_stops_after_the_step_budget():
    data = engine.descent(DOSAGE, {}, ["b3"], lr=0.1, steps=2, tol=0)
    assert data["stopped"] == "steps"
    assert [s["step"] for s in data["steps"]] == [0, 1, 2]
    assert data["final"] == data["steps"][2]["values"]


def test_a_learning_rate_too_large_overshoots_and_diverges_in_strict_json(client):
    r = client.post("/api/descent", json={"expression": "x**4", "values": {"x": 3},
                                          "params": ["x"], "lr": 1, "steps": 50})
    assert r.status_code == 200, r.text
    data = strict(r.text)
    assert data["stopped"] == "diverged"
    xs = [s["values"]["x"] for s in data["steps"]]
    assert xs[0] == 3 and xs[1] == 3 - 108  # overshoots far past the minimum at 0
    last = data["steps"][-1]
    assert "Infinity" in (last["loss"], last["values"]["x"]) or last["loss"] == "NaN"
    assert data["loss"] == last["loss"]


def test_overshooting_with_lr_half_still_oscillates_around_the_minimum():
    data = engine.descent(DOSAGE, {}, ["b3"], lr=0.5, steps=3, tol=0)
    b3 = [s["values"]["b3"] for s in data["steps"]]
    assert b3[1] > 2.61 and b3[2] < 2.61  # jumps over the minimum and back


def test_tensor_parameters_descend_too():
    data = engine.descent("sum((W @ x - t)**2)", {"W": [[1.0, 0.0]], "x": [1.0, 2.0],
                                                  "t": [3.0]}, ["W"], lr=0.05, steps=500)
    assert data["stopped"] == "tol"
    w = np.array(data["final"]["W"])
    assert w.shape == (1, 2) and w @ [1.0, 2.0] == pytest.approx([3.0], abs=0.01)


@pytest.mark.parametrize("body, status, words", [
    ({"params": ["b4"]}, 400, "'b4' is not an input"),
    ({"params": ["w"], "expression": "w * [1, 2]", "values": {"w": 1}}, 400, "scalar loss"),
    ({"params": ["y"], "expression": "softmax_ce(z, y)", "values": {"z": [1, 2], "y": 0}},
     400, "'y' takes no gradient"),
    ({"params": ["b3"], "expression": "b3 +"}, 400, "ends too early"),
    ({"params": ["b3", "b3"]}, 400, "named twice"),
    ({"params": []}, 422, "params"),
    ({"params": ["b3"], "lr": 0}, 422, "lr"),
    ({"params": ["b3"], "lr": -1}, 422, "lr"),
    ({"params": ["b3"], "lr": "fast"}, 422, "lr"),
    ({"params": ["b3"], "steps": 10_001}, 422, "steps"),
    ({"params": ["b3"], "steps": 2.5}, 422, "steps"),
    ({"params": ["b3"], "tol": -1}, 422, "tol"),
    ({"params": ["b3"], "speed": 1}, 422, "speed"),
    ({"params": "b3"}, 422, "params"),
    ({"params": ["w"], "expression": "log(w)", "values": {"w": -1}}, 400,
     "the loss is NaN at the start, where the log gate at column 1 produced NaN"),
    ({"params": ["w"], "expression": "(w*x - 3)**2", "values": {"w": 1e308, "x": 2}}, 400,
     "the loss is Infinity at the start, where the * gate at column 2 produced an infinite"),
    ({"params": ["w"], "expression": "sum(w * w)", "values": {"w": [1, "NaN"]}}, 422, "w"),
    ({"params": ["w"], "expression": "sqrt(w) + w", "values": {"w": 0}}, 400,
     "the slope in w is Infinity at the start"),
])
def test_descent_bad_bodies_are_problems_that_say_what(client, body, status, words):
    problem = assert_problem(client.post("/api/descent", json={"expression": DOSAGE, **body}),
                             status)
    assert words in problem["detail"], problem


def test_descent_on_a_big_tensor_too_many_to_record_is_refused():
    with pytest.raises(ExpressionError, match="take fewer steps"):
        engine.descent("sum(W)", {"W": {"randn": [1000, 100]}}, ["W"], steps=100)


def test_descent_keeps_to_the_time_limit(client_for):
    from app.main import create_app
    from app.settings import Settings

    slow = client_for(create_app(Settings(time_limit=0.2)))
    body = {"expression": "x" + "*1.01" * 1500, "values": {"x": 1}, "params": ["x"],
            "lr": 1e-9, "steps": 10_000, "tol": 0}
    assert_problem(slow.post("/api/descent", json=body), 503)


def test_a_loss_that_keeps_growing_stops_early_as_diverged():
    """b3 at learning rate 0.5 lands twice as far from the minimum each step: five rises in a
    row past the start are enough to call it, long before the numbers overflow."""
    data = engine.descent(DOSAGE, {}, ["b3"], lr=0.5, steps=100, tol=0.001)
    assert data["stopped"] == "diverged"
    assert [s["step"] for s in data["steps"]] == [0, 1, 2, 3, 4, 5]
    losses = [s["loss"] for s in data["steps"]]
    assert losses == sorted(losses)


def test_an_overshoot_that_settles_is_not_diverged():
    data = engine.descent(DOSAGE, {}, ["b3"], lr=0.3, steps=100, tol=0.001)
    assert data["stopped"] == "tol"
    b3 = [s["values"]["b3"] for s in data["steps"]]
    assert b3[1] > 2.61 > b3[2]  # past the minimum and back


def test_a_start_that_holds_nan_is_refused_by_name():
    """The library takes NaN in a value (with a warning elsewhere); descent cannot start there."""
    with pytest.raises(ExpressionError, match="the loss is NaN at the start, where input w holds"):
        engine.descent("sum(w * w)", {"w": [1, float("nan")]}, ["w"])
