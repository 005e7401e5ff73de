"""The labs' API: gradient flow through deep MLPs; the cliff and gradient clipping; training a
network, streamed, and the data sets it trains on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

import engine
from app.lanes import stream_in_worker
from app.problems import TimeLimitExceeded, WorkerLost, busy
from app.responses import EncodedJSON, dumps
from app.routers.api import in_worker
from app.schemas import (
    ERRORS,
    SEED_MAX,
    CliffRequest,
    CliffResponse,
    DatasetName,
    DatasetResponse,
    GradientFlowRequest,
    GradientFlowResponse,
    Problem,
    TrainRequest,
)
from engine.labs.cliff import cliff
from engine.labs.datasets import load
from engine.labs.gradient_flow import gradient_flow
from engine.labs.training import summary, train

log = logging.getLogger("chainrule")
router = APIRouter(tags=["labs"])


@router.post("/api/labs/gradient-flow", response_model=GradientFlowResponse, responses=ERRORS)
async def post_gradient_flow(body: GradientFlowRequest, request: Request) -> EncodedJSON:
    """Per-layer activations and back-propagated gradient sizes of a freshly initialised MLP."""
    return await in_worker(request, gradient_flow, **body.model_dump())


@router.post("/api/labs/cliff", response_model=CliffResponse, responses=ERRORS)
async def post_cliff(body: CliffRequest, request: Request) -> EncodedJSON:
    """The cliff: loss surface of a one-unit recurrent net and descent with/without clipping."""
    return await in_worker(request, cliff, **body.model_dump())


def dataset_job(name: str, seed: int) -> dict[str, Any]:
    return load(name, seed).to_dict()


@router.get("/api/labs/datasets/{name}", response_model=DatasetResponse,
            responses={400: {**ERRORS[400], "description": "The path holds a control "
                             "character or an invalid escape."}, 422: ERRORS[422],
                       503: ERRORS[503]})
async def get_dataset(name: DatasetName, request: Request, seed: Annotated[int, Query(
        ge=0, le=SEED_MAX, description="Seed of the data (as in the training request).")] = 0
                      ) -> EncodedJSON:
    """A training lab data set as a training run with this seed trains on it: its sizes and,
    for 2-D data, its points."""
    return await in_worker(request, dataset_job, name=name, seed=seed)


# --- training, streamed ------------------------------------------------------------------------

TRAIN_LINES = """Newline-delimited JSON, one object a line, the first at once:
`{start: true, dataset, train_size, test_size, features, classes, batch, iterations, epochs,
params: {name: shape}, points: [[x, y, class]] (2-D data) or null}`; then every few iterations
`{epoch, iteration, loss, accuracy, test_accuracy (digits, else null), grad_norms: {param: ‖∇‖},
check: {W1, W2: largest |engine − notes' formula| for this minibatch}, seconds}`, with a
`boundary: {x: [lo, hi], y: [lo, hi], size, classes: rows by y}` on every tenth line of 2-D data
and on the last; last `{done: true, stopped: "epochs" | "diverged" | "time limit" | "error",
epochs, loss, accuracy, test_accuracy, seconds}` (and `error` when stopped by one)."""


TRAININGS = 4  # worker processes training at once in one server process; more are refused
_trainings = 0  # trainings admitted whose lines have not ended: each counts from its request


@router.post("/api/labs/train", responses={
    200: {"description": TRAIN_LINES, "content": {"application/x-ndjson": {}}},
    413: ERRORS[413], 422: ERRORS[422],
    503: {"model": Problem, "description": "Too many trainings are running; retry shortly."}})
async def post_train(body: TrainRequest, request: Request) -> Response:
    """Train a classifier live: progress streamed as newline-delimited JSON."""
    global _trainings
    if _trainings >= TRAININGS:  # a run lasts up to a minute: ask again in seconds, not at once
        return busy(f"{TRAININGS} trainings are running already", retry_after=10)
    _trainings += 1  # until its lines end (_train_lines): requests that come meanwhile see it
    lines = _train_lines(body.model_dump(), request.app.state.settings.train_limit)
    first = await anext(lines)  # made by the worker, which has started
    return StreamingResponse(_then(first, lines), media_type="application/x-ndjson")


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`first`, then the lines of `rest`, which is closed (its worker ended) with the stream."""
    async with aclosing(rest):
        yield first
        async for line in rest:
            yield line


def train_job(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The lines of one training run, as dicts (in a worker process of its own)."""
    return train(**params)


async def _train_lines(params: dict[str, Any], limit: float) -> AsyncIterator[bytes]:
    """The worker's lines as they come; a time limit or a failure still ends with `done`. The
    training admitted by post_train ends with them."""
    global _trainings
    last: dict[str, Any] = {}
    try:
        async for item in stream_in_worker(train_job, params, limit=limit):
            if "epoch" in item:
                last = item
            yield dumps(item) + b"\n"
    except TimeLimitExceeded:
        yield dumps({"done": True, "stopped": "time limit", **summary(last, last.get("seconds")),
                     "error": f"training stopped at the time limit of {limit:g} s"}) + b"\n"
    except (engine.ExpressionError, RuntimeError, WorkerLost) as e:
        log.error("training failed: %s", e)
        yield dumps({"done": True, "stopped": "error", **summary(last, last.get("seconds")),
                     "error": "training failed on the server; the error has been logged"}
                    ) + b"\n"
    finally:
        _trainings -= 1

