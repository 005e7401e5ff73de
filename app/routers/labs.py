"""The labs' API: gradient flow through deep MLPs; the cliff and gradient clipping; gradient
descent on a circuit; training a network, streamed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator
from starlette.exceptions import HTTPException

import engine
from app import worker
from app.compute import run_limited
from app.problems import TimeLimitExceeded
from app.responses import StrictJSONResponse, dumps
from app.schemas import (
    DescentRequest,
    DescentResponse,
    Number,
    OutNumber,
    Problem,
    TrainRequest,
)
from app.worker import WorkerFailed, stream_in_worker
from engine.labs.cliff import cliff
from engine.labs.gradient_flow import SATURATION, gradient_flow
from engine.labs.training import train

log = logging.getLogger("chainrule")

router = APIRouter(tags=["labs"])

# A request must fit in memory and in the time limit: the weights (depth × width²) and the
# activations (depth × width × batch) are what grows; both limits allow the papers' setups.
MAX_WEIGHTS = 2**23  # 30 × 512² (He et al.) and 5 × 1000² (Glorot & Bengio) fit
MAX_UNITS = 2**22

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": Problem, "description": "The request body is larger than 1 MB."},
    422: {"model": Problem, "description": "The request does not match the schema or its "
          "bounds (detail says which field and why)."},
    503: {"model": Problem, "description": "The computation took longer than the time limit."},
}

# --- gradient flow ------------------------------------------------------------------------------


class GradientFlowRequest(BaseModel):
    """A deep MLP at initialisation: depth hidden layers of `width` units, 10 classes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"depth": 5, "width": 1000, "activation": "tanh", "init": "standard", "scale": 1.0,
         "batch": 64, "residual": False, "seed": 0},
        {"depth": 30, "width": 512, "activation": "relu", "init": "he", "scale": 1.0,
         "batch": 64, "residual": False, "seed": 0},
    ]})
    depth: StrictInt = Field(5, ge=1, le=100,
                             description="Number of hidden layers.")
    width: StrictInt = Field(1000, ge=2, le=1024,
                             description="Units per hidden layer (and inputs).")
    activation: Literal["sigmoid", "tanh", "relu", "linear"] = "tanh"
    init: Literal["standard", "xavier", "he", "normal"] = Field(
        "standard", description="standard: U[-1/√n, 1/√n]; xavier: U[±√6/√(n_in+n_out)]; "
        "he: N(0, 2/n_in); normal: N(0, 1).")
    scale: Number = Field(1.0, gt=0, le=100,
                         description="Multiplies every weight; above 1 makes gradients explode.")
    batch: StrictInt = Field(64, ge=1, le=512,
                             description="Rows of the standard-normal input batch.")
    residual: StrictBool = Field(False, description="Add a skip connection around every layer.")
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="Seed of data, labels and weights.")

    @model_validator(mode="after")
    def _fits(self) -> GradientFlowRequest:
        weights = self.depth * self.width**2
        if weights > MAX_WEIGHTS:
            raise ValueError(f"depth × width² = {weights:,} weights is more than the limit of "
                             f"{MAX_WEIGHTS:,}; use fewer or narrower layers")
        units = self.depth * self.width * self.batch
        if units > MAX_UNITS:
            raise ValueError(f"depth × width × batch = {units:,} activations is more than the "
                             f"limit of {MAX_UNITS:,}; use a smaller batch or fewer layers")
        return self


class Histogram(BaseModel):
    edges: list[OutNumber] = Field(description="Bin edges, one more than counts.")
    counts: list[int]


class LayerStats(BaseModel):
    """One hidden layer; s is its pre-activation, f(s) its activation."""

    layer: int = Field(description="1 is the layer nearest the input.")
    activation_mean: OutNumber = Field(description="Mean of f(s) over batch and units.")
    activation_std: OutNumber = Field(description="Standard deviation of f(s).")
    saturated: float = Field(description="Fraction of units in the activation's flat tails: "
                             + "; ".join(f"{k}: {v}" for k, v in SATURATION.items()) + ".")
    grad_var: OutNumber = Field(description="Variance of the back-propagated gradient dL/ds.")
    grad_norm: OutNumber = Field(description="Frobenius norm of dL/ds.")
    weight_grad_var: OutNumber = Field(description="Variance of dL/dW of the layer's weights.")
    weight_grad_norm: OutNumber = Field(description="Frobenius norm of dL/dW.")
    histogram: Histogram = Field(description="Counts of the finite activations f(s).")


class GradientFlowResponse(BaseModel):
    loss: OutNumber = Field(description="Softmax cross-entropy, averaged over the batch.")
    layers: list[LayerStats]
    saturation: str = Field(description="What `saturated` counts for this activation.")
    warnings: list[str] = Field(description="Layers whose numbers overflowed.")


@router.post("/api/labs/gradient-flow", response_model=GradientFlowResponse, responses=ERRORS)
async def post_gradient_flow(body: GradientFlowRequest, request: Request) -> StrictJSONResponse:
    """Per-layer activations and back-propagated gradient sizes of a freshly initialised MLP."""
    params = body.model_dump()
    return StrictJSONResponse(await run_limited(request, lambda: gradient_flow(**params)))


# --- the cliff ------------------------------------------------------------------------------------

class CliffRequest(BaseModel):
    """The loss surface of x_t = w·σ(x_{t-1}) + b over 50 steps, and two descent paths."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"w_range": [0, 10], "b_range": [-6, 2], "grid": 61, "start": [4, -4], "lr": 3,
         "iterations": 40, "threshold": 0.3}]})
    w_range: tuple[Number, Number] = Field((0.0, 10.0), description="[low, high] of w.")
    b_range: tuple[Number, Number] = Field((-6.0, 2.0), description="[low, high] of b.")
    grid: StrictInt = Field(61, ge=5, le=121,
                            description="Points along each axis of the surface.")
    start: tuple[Number, Number] = Field((4.0, -4.0), description="[w, b] where descent starts.")
    lr: Number = Field(3.0, gt=0, le=100, description="Learning rate.")
    iterations: StrictInt = Field(40, ge=1, le=200,
                                  description="Gradient-descent steps per path.")
    threshold: Number = Field(0.3, gt=0, le=1000,
                             description="Clip the gradient's norm to this on the clipped path.")

    @model_validator(mode="after")
    def _ranges(self) -> CliffRequest:
        for name in ("w_range", "b_range", "start"):
            if not all(-50 <= v <= 50 for v in getattr(self, name)):
                raise ValueError(f"{name}: every number must be between -50 and 50")
        for name in ("w_range", "b_range"):
            low, high = getattr(self, name)
            if not low < high:
                raise ValueError(f"{name}: the low end ({low:g}) must be below the high end "
                                 f"({high:g})")
        return self


class Surface(BaseModel):
    w: list[float]
    b: list[float]
    loss: list[list[OutNumber]] = Field(description="Rows by b, columns by w.")


class PathPoint(BaseModel):
    w: OutNumber
    b: OutNumber
    loss: OutNumber
    grad_norm: OutNumber


class Wall(BaseModel):
    """The first step where clipping acts: both paths stand at the same point."""

    iteration: int
    w: float
    b: float
    grad_norm: OutNumber
    unclipped_step: OutNumber = Field(description="Length of the step without clipping.")
    clipped_step: OutNumber = Field(description="Length of the clipped step (lr × threshold).")


class CliffResponse(BaseModel):
    steps: int = Field(description="Time steps of the recurrence (50).")
    surface: Surface
    unclipped: list[PathPoint]
    clipped: list[PathPoint]
    wall: Wall | None = Field(description="Null when the gradient never exceeds the threshold.")


@router.post("/api/labs/cliff", response_model=CliffResponse, responses=ERRORS)
async def post_cliff(body: CliffRequest, request: Request) -> StrictJSONResponse:
    """The cliff: loss surface of a one-unit recurrent net and descent with/without clipping."""
    params = body.model_dump()
    return StrictJSONResponse(await run_limited(request, lambda: cliff(**params)))


# --- gradient descent on a circuit ---------------------------------------------------------------

DESCENT_ERRORS = {400: {"model": Problem, "description": "The expression or its values are wrong, "
                        "a parameter is not an input, or the output is not a scalar."}, **ERRORS}


@router.post("/api/descent", response_model=DescentResponse, responses=DESCENT_ERRORS,
             tags=["circuit"])
async def post_descent(body: DescentRequest, request: Request) -> StrictJSONResponse:
    """Plain gradient descent on named inputs of a circuit whose output is a scalar loss."""
    limits = engine.Limits()  # the same limits as /api/circuit

    def run() -> dict:
        return engine.descent(body.expression, body.engine_values(limits.max_elements),
                              body.params, lr=float(body.lr), steps=body.steps,
                              tol=float(body.tol), expand=body.expand, limits=limits)

    return StrictJSONResponse(await run_limited(request, run))


# --- training, streamed ------------------------------------------------------------------------

TRAIN_LINES = """Newline-delimited JSON, one object a line, the first at once:
`{start: true, dataset, train_size, test_size, features, classes, batch, iterations, epochs,
params: {name: shape}, points: [[x, y, class]] (2-D data) or null}`; then every few iterations
`{epoch, iteration, loss, accuracy, test_accuracy (digits, else null), grad_norms: {param: ‖∇‖},
check: {W1, W2: largest |engine − notes' formula| for this minibatch}, seconds}`, with a
`boundary: {x: [lo, hi], y: [lo, hi], size, classes: rows by y}` on every tenth line of 2-D data
and on the last; last `{done: true, stopped: "epochs" | "diverged" | "time limit" | "error",
epochs, loss, accuracy, test_accuracy, seconds}` (and `error` when stopped by one)."""


TRAININGS = 4  # worker processes training at once in one server process; more wait their turn


@router.post("/api/labs/train", responses={
    200: {"description": TRAIN_LINES, "content": {"application/x-ndjson": {}}},
    413: ERRORS[413], 422: ERRORS[422],
    503: {"model": Problem, "description": "Too many trainings are running; retry shortly."}})
async def post_train(body: TrainRequest, request: Request) -> StreamingResponse:
    """Train a classifier live: progress streamed as newline-delimited JSON."""
    if len(worker.RUNNING) >= TRAININGS:
        raise HTTPException(503, f"{TRAININGS} trainings are running already; try again when "
                            "one has finished.", headers={"Retry-After": "10"})
    limit = request.app.state.settings.train_limit
    return StreamingResponse(_train_lines(body.model_dump(), limit),
                             media_type="application/x-ndjson")


async def _train_lines(params: dict[str, Any], limit: float) -> AsyncIterator[bytes]:
    """The worker's lines as they come; a time limit or a failure still ends with `done`."""
    last: dict[str, Any] = {}
    try:
        async for item in stream_in_worker(train, params, limit):
            if "epoch" in item:
                last = item
            yield dumps(item) + b"\n"
    except TimeLimitExceeded:
        yield dumps({"done": True, "stopped": "time limit", **_so_far(last),
                     "error": f"training stopped at the time limit of {limit:g} s"}) + b"\n"
    except WorkerFailed as e:
        log.error("training failed: %s", e)
        yield dumps({"done": True, "stopped": "error", **_so_far(last),
                     "error": "training failed on the server; the error has been logged"}
                    ) + b"\n"


def _so_far(line: dict[str, Any]) -> dict[str, Any]:
    return {"epochs": line.get("epoch", 0), "loss": line.get("loss"),
            "accuracy": line.get("accuracy"), "test_accuracy": line.get("test_accuracy"),
            "seconds": line.get("seconds")}
