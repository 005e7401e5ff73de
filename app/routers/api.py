"""The engine behind the HTTP contract: circuit, gradcheck, code, backward-check, descent,
presets, ops, healthz."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

import engine
from app.lanes import computing, run_in_worker
from app.problems import TimeLimitExceeded
from app.responses import EncodedJSON, StrictJSONResponse, dumps
from app.schemas import (
    ERRORS,
    BackwardCheckRequest,
    BackwardCheckResponse,
    CircuitRequest,
    CircuitResponse,
    CodeResponse,
    DescentRequest,
    DescentResponse,
    GradcheckRequest,
    GradcheckResponse,
    Health,
    Op,
    Preset,
)
from engine.circuit import compile_text, parsed, remember
from engine.cost import US_PER_SCALAR_GATE, Budget, check_response, estimate, parse_seconds
from engine.graph import Graph
from engine.ops import GATES
from engine.presets import PRESETS

router = APIRouter()

LIMITS = engine.Limits()  # text from the network gets the engine's default limits
BUDGET = Budget()
INLINE_SECONDS = 0.001  # work the cost model puts under this runs on the event loop


# The jobs: module-level functions, so that a worker process can be handed them by name.


def _traced(text: str, values: dict, expand: bool, response: bool) -> engine.Circuit:
    graph = compile_text(text, expand, LIMITS)
    cost = estimate(graph, values, LIMITS, BUDGET)
    if response:
        check_response(cost, BUDGET)
    return engine.Circuit(text, graph, values, LIMITS)


def parse_job(text: str, expand: bool) -> Graph | None:
    """The graph of a text too long to parse on the event loop (fresh: it pickles), if it is
    small enough to be traced on the loop some day; a bigger one would cost the loop more to
    unpickle than it saves, and stays in the worker's cache only."""
    graph = compile_text(text, expand, LIMITS)
    return graph if len(graph.nodes) * US_PER_SCALAR_GATE * 1e-6 <= INLINE_SECONDS else None


def circuit_job(text: str, values: dict, expand: bool) -> bytes:
    """The /api/circuit response body."""
    return dumps(_traced(text, values, expand, True).to_dict())


def gradcheck_job(text: str, values: dict, expand: bool, h: float | None) -> bytes:
    """The /api/gradcheck response body."""
    return dumps(_traced(text, values, expand, False).check(*(() if h is None else (h,))))


def code_job(text: str, values: dict, expand: bool) -> bytes:
    """The /api/code response body."""
    return dumps(_traced(text, values, expand, False).code())


async def _run(request: Request, job: Callable[..., bytes], body: CircuitRequest,
               *more: Any) -> EncodedJSON:
    """`job` where the cost model says: refused before any work when over a budget; traced here,
    on the event loop, when tiny; in a worker process otherwise. Text is parsed here when it is
    short, else in a worker, and kept in this process's cache either way."""
    limit = request.app.state.settings.time_limit
    start = time.monotonic()
    values = body.engine_values()
    text, expand = body.expression, body.expand
    graph = parsed(text, expand, LIMITS)
    if graph is None:
        if parse_seconds(text) <= INLINE_SECONDS / 2:
            graph = compile_text(text, expand, LIMITS)
        else:
            graph = await run_in_worker(parse_job, text, expand, limit=limit)
            if graph is not None:
                graph = remember(text, expand, LIMITS, graph)
    if graph is not None:  # else the worker checks the cost before the work
        cost = estimate(graph, values, LIMITS, BUDGET)
        if job is circuit_job:
            check_response(cost, BUDGET)
            if cost.seconds <= INLINE_SECONDS:
                with computing():  # as a worker would
                    circuit = engine.Circuit(text, graph, values, LIMITS)
                return EncodedJSON(dumps(circuit.to_dict()))
    remaining = limit - (time.monotonic() - start)  # the parse took some of the time
    try:
        if remaining <= 0:
            raise TimeLimitExceeded(remaining)
        result = await run_in_worker(job, text, values, expand, *more, limit=remaining)
    except TimeLimitExceeded:
        raise TimeLimitExceeded(limit) from None
    return EncodedJSON(result)


async def in_worker(request: Request, job: Callable[..., bytes], *args: Any) -> EncodedJSON:
    """The response body `job(*args)` makes in a worker process, within the time limit."""
    limit = request.app.state.settings.time_limit
    return EncodedJSON(await run_in_worker(job, *args, limit=limit))


# Handlers return their response directly: the engine's to_dict() already is the body, so
# response_model only documents it (no second validation pass per request).


@router.post("/api/circuit", response_model=CircuitResponse, responses=ERRORS, tags=["circuit"])
async def circuit(body: CircuitRequest, request: Request) -> EncodedJSON:
    """Trace an expression: every wire's forward value and gradient."""
    return await _run(request, circuit_job, body)


@router.post("/api/gradcheck", response_model=GradcheckResponse, responses=ERRORS,
             tags=["circuit"])
async def gradcheck(body: GradcheckRequest, request: Request) -> EncodedJSON:
    """Check backprop's gradients against central differences."""
    return await _run(request, gradcheck_job, body, None if body.h is None else float(body.h))


@router.post("/api/code", response_model=CodeResponse, responses=ERRORS, tags=["circuit"])
async def code(body: CircuitRequest, request: Request) -> EncodedJSON:
    """Staged forward and backward Python for the circuit, in the course's style."""
    return await _run(request, code_job, body)


def backward_check_job(code: str, values: dict) -> bytes:
    """The /api/backward-check response body."""
    return dumps(engine.backward_check(code, values, limits=LIMITS))


@router.post("/api/backward-check", response_model=BackwardCheckResponse, responses=ERRORS,
             tags=["circuit"])
async def backward_check(body: BackwardCheckRequest, request: Request) -> EncodedJSON:
    """Judge a hand-written backward pass line by line against the engine's gradients."""
    return await in_worker(request, backward_check_job, body.code, body.engine_values())


def descent_job(text: str, values: dict, params: list[str], lr: float, steps: int, tol: float,
                expand: bool) -> bytes:
    return dumps(engine.descent(text, values, params, lr=lr, steps=steps, tol=tol,
                                expand=expand, limits=LIMITS))


@router.post("/api/descent", response_model=DescentResponse, responses=ERRORS, tags=["circuit"])
async def post_descent(body: DescentRequest, request: Request) -> EncodedJSON:
    """Plain gradient descent on named inputs of a circuit whose output is a scalar loss."""
    return await in_worker(
        request, descent_job, body.expression, body.engine_values(),
        body.params, float(body.lr), body.steps, float(body.tol), body.expand)


_OPS = [{"op": g.op, "label": g.label, "arity": g.arity, "formula": g.formula,
         "pattern": g.pattern} for g in GATES.values()]


@router.get("/api/presets", response_model=list[Preset], tags=["reference"])
async def presets() -> StrictJSONResponse:
    """The worked examples of the course notes, ready to load."""
    return StrictJSONResponse(PRESETS)


@router.get("/api/ops", response_model=list[Op], tags=["reference"])
async def ops() -> StrictJSONResponse:
    """The gate table: op, label, arity, local-derivative formula, gradient pattern."""
    return StrictJSONResponse(_OPS)


@router.get("/healthz", response_model=Health, tags=["service"])
async def healthz() -> dict[str, str]:
    """Liveness: the service is up."""
    return {"status": "ok"}
