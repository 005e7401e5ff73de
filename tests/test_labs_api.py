"""The gradients lab's HTTP routes: /api/labs/gradient-flow and /api/labs/cliff."""

from __future__ import annotations

import pytest
from helpers import assert_problem, strict

from app.main import create_app
from app.settings import Settings

LAYER_FIELDS = {"layer", "activation_mean", "activation_std", "saturated", "grad_var",
                "grad_norm", "weight_grad_var", "weight_grad_norm", "histogram"}


# --- /api/labs/gradient-flow -----------------------------------------------------------------

def test_gradient_flow_answers_the_issue_example(client):
    body = {"depth": 5, "width": 1000, "activation": "tanh", "init": "standard", "scale": 1.0,
            "batch": 64, "residual": False, "seed": 0}
    r = client.post("/api/labs/gradient-flow", json=body)
    assert r.status_code == 200, r.text
    data = strict(r.text)
    assert 2.0 < data["loss"] < 2.6  # about ln 10 for a net that knows nothing yet
    assert [layer["layer"] for layer in data["layers"]] == [1, 2, 3, 4, 5]
    for layer in data["layers"]:
        assert set(layer) == LAYER_FIELDS
        assert sum(layer["histogram"]["counts"]) == 64 * 1000
    ratio = data["layers"][0]["grad_var"] / data["layers"][4]["grad_var"]
    assert (1 / 3) ** 5 <= ratio <= 1.5 * (1 / 3) ** 4
    assert "tanh" in data["saturation"]


def test_gradient_flow_defaults_and_seed_reproduce(client):
    small = {"depth": 3, "width": 32, "batch": 8}
    a = client.post("/api/labs/gradient-flow", json=small).json()
    b = client.post("/api/labs/gradient-flow", json=small).json()
    c = client.post("/api/labs/gradient-flow", json={**small, "seed": 1}).json()
    assert a == b
    assert a["loss"] != c["loss"]


def test_gradient_flow_activation_changes_the_answer(client):
    small = {"depth": 4, "width": 64, "batch": 16, "init": "xavier"}
    relu = client.post("/api/labs/gradient-flow", json={**small, "activation": "relu"}).json()
    sig = client.post("/api/labs/gradient-flow", json={**small, "activation": "sigmoid"}).json()
    assert relu["layers"][0]["saturated"] == pytest.approx(0.5, abs=0.1)  # half the units dead
    assert sig["layers"][0]["grad_var"] < relu["layers"][0]["grad_var"]


def test_gradient_flow_overflow_stays_strict_json(client):
    body = {"depth": 100, "width": 64, "batch": 4, "activation": "relu", "init": "normal",
            "scale": 100}
    r = client.post("/api/labs/gradient-flow", json=body)
    assert r.status_code == 200
    data = strict(r.text)
    # ~10^275 activations are finite, but their variance is not: sent as a string
    assert "Infinity" in [layer["activation_std"] for layer in data["layers"]] or \
        "Infinity" in [layer["grad_var"] for layer in data["layers"]]


def test_gradient_flow_says_which_layers_underflowed(client):
    body = {"depth": 10, "width": 64, "scale": 1e-300}
    data = strict(client.post("/api/labs/gradient-flow", json=body).text)
    assert [layer["grad_var"] for layer in data["layers"]] == [0.0] * 10
    assert any(w.startswith("tanh, standard init ×1e-300, depth 10, width 64: in layers 1–9 "
                            "the gradient ∂L/∂s underflowed to 0") for w in data["warnings"])


@pytest.mark.parametrize("body", [
    {"depth": 100, "width": 8, "batch": 4, "activation": "linear", "init": "xavier",
     "scale": 1e-5},
    {"depth": 1, "width": 8, "batch": 4, "activation": "relu", "init": "he", "scale": 5e-324},
])
def test_gradient_flow_vanishing_to_subnormals_is_answered(client, body):
    # numpy refuses to cut a range a few subnormals wide into 30 bins; that was a 500
    r = client.post("/api/labs/gradient-flow", json=body)
    assert r.status_code == 200, r.text
    for layer in strict(r.text)["layers"]:
        assert sum(layer["histogram"]["counts"]) == 8 * 4

@pytest.mark.parametrize(("body", "where"), [
    ({"depth": 0}, "depth"),
    ({"depth": 101}, "depth"),
    ({"width": 5000}, "width"),
    ({"batch": 0}, "batch"),
    ({"depth": True}, "depth"),
    ({"depth": "5"}, "depth"),
    ({"activation": "gelu"}, "activation"),
    ({"init": "orthogonal"}, "init"),
    ({"scale": 0}, "scale"),
    ({"scale": -1}, "scale"),
    ({"seed": -1}, "seed"),
    ({"residual": "yes"}, "residual"),
    ({"dropout": 0.5}, "dropout"),
])
def test_gradient_flow_bad_input_names_the_field(client, body, where):
    problem = assert_problem(client.post("/api/labs/gradient-flow", json=body), 422)
    assert where in problem["detail"]


def test_gradient_flow_too_many_weights_is_refused_with_the_product(client):
    r = client.post("/api/labs/gradient-flow", json={"depth": 100, "width": 1024})
    problem = assert_problem(r, 422)
    assert "depth × width²" in problem["detail"] and "104,857,600" in problem["detail"]


def test_gradient_flow_too_many_activations_is_refused(client):
    r = client.post("/api/labs/gradient-flow", json={"depth": 100, "width": 256, "batch": 512})
    assert "depth × width × batch" in assert_problem(r, 422)["detail"]


def test_gradient_flow_not_json_is_a_problem(client):
    r = client.post("/api/labs/gradient-flow", content=b"{depth: 5",
                    headers={"Content-Type": "application/json"})
    assert_problem(r, 422)


def test_gradient_flow_over_the_time_limit_is_503(client_for):
    slow = client_for(create_app(Settings(time_limit=0.001)))
    r = slow.post("/api/labs/gradient-flow", json={"depth": 30, "width": 512})
    assert_problem(r, 503)


# --- /api/labs/cliff ---------------------------------------------------------------------------

def test_cliff_defaults_show_the_wall_and_clipping(client):
    r = client.post("/api/labs/cliff", json={})
    assert r.status_code == 200, r.text
    data = strict(r.text)
    assert data["steps"] == 50
    surface = data["surface"]
    assert len(surface["loss"]) == len(surface["b"]) == 61
    assert all(len(row) == len(surface["w"]) == 61 for row in surface["loss"])
    assert len(data["unclipped"]) == len(data["clipped"]) == 41
    wall = data["wall"]
    assert wall["unclipped_step"] >= 10 * wall["clipped_step"]
    assert wall["clipped_step"] == pytest.approx(3 * 0.3)


def test_cliff_user_threshold_sets_the_clipped_step(client):
    body = {"start": [4, -4], "lr": 3, "iterations": 15, "threshold": 1.0, "grid": 11}
    data = client.post("/api/labs/cliff", json=body).json()
    assert data["wall"]["clipped_step"] == pytest.approx(3.0)
    assert len(data["clipped"]) == 16


@pytest.mark.parametrize(("body", "where"), [
    ({"grid": 4}, "grid"),
    ({"grid": 1000}, "grid"),
    ({"iterations": 0}, "iterations"),
    ({"iterations": 10_000}, "iterations"),
    ({"lr": 0}, "lr"),
    ({"threshold": -1}, "threshold"),
    ({"start": [1]}, "start"),
    ({"start": [1, "b"]}, "start"),
    ({"w_range": [3, 1]}, "w_range"),
    ({"b_range": [0, 0]}, "b_range"),
    ({"w_range": [0, 1e6]}, "w_range"),
    ({"steps": 100}, "steps"),
])
def test_cliff_bad_input_names_the_field(client, body, where):
    problem = assert_problem(client.post("/api/labs/cliff", json=body), 422)
    assert where in problem["detail"]


def test_labs_routes_are_in_the_openapi_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/labs/gradient-flow" in paths and "/api/labs/cliff" in paths
    post = paths["/api/labs/gradient-flow"]["post"]
    assert post["summary"] and "422" in post["responses"]


def test_gradient_flow_combined_limits_are_published_and_are_the_servers(client):
    """The schema's x-combined-limits are what the server enforces: one past a limit is refused
    with its name, and a request at the limit is not refused for it."""
    schema = client.get("/openapi.json").json()["components"]["schemas"]["GradientFlowRequest"]
    limits = {lim["name"]: lim for lim in schema["x-combined-limits"]}
    assert limits["weights"]["powers"] == {"depth": 1, "width": 2}
    assert limits["activations"]["powers"] == {"depth": 1, "width": 1, "batch": 1}
    # 8 × 1024² is the weights' limit exactly; one more layer is over it.
    assert 8 * 1024**2 == limits["weights"]["max"]
    over = assert_problem(client.post("/api/labs/gradient-flow",
                                      json={"depth": 9, "width": 1024, "batch": 1}), 422)
    assert limits["weights"]["formula"] in str(over) and "weights" in str(over)
    at = client.post("/api/labs/gradient-flow", json={"depth": 8, "width": 1024, "batch": 1})
    assert at.status_code != 422, at.text
