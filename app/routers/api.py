"""The engine behind the HTTP contract: circuit, gradcheck, code, backward-check, descent,
presets, ops, healthz."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

import engine
from app.lanes import computing, run_in_worker
from app.problems import NoWorker, TimeLimitExceeded
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


def parse_job(text: str, expand: bool) -> Graph | None:
    """The graph of a text too long to parse on the event loop (fresh: it pickles), if it is
    small enough to be traced on the loop some day; a bigger one would cost the loop more to
    unpickle than it saves, and stays in the worker's cache only."""
    graph = compile_text(text, expand, LIMITS)
    return graph if len(graph.nodes) * US_PER_SCALAR_GATE * 1e-6 <= INLINE_SECONDS else None


def traced_job(text: str, values: dict, expand: bool, grad: Any, method: Callable[..., dict],
               *args: Any) -> bytes:
    """The response body `method(circuit, *args)` makes of the traced circuit: Circuit.to_dict
    (/api/circuit, whose response size is checked before the work), .check or .code."""
    graph = compile_text(text, expand, LIMITS)
    cost = estimate(graph, values, LIMITS, BUDGET)
    if method is engine.Circuit.to_dict:
        check_response(cost, BUDGET)
    return dumps(method(engine.Circuit(text, graph, values, LIMITS, grad), *args))


def job(fn: Callable[..., Any], kw: dict[str, Any]) -> bytes:
    """The response body `fn(**kw)` makes; `fn` returns strict JSON data (engine.descent,
    engine.backward_check, the labs)."""
    return dumps(fn(**kw))


async def _run(request: Request, body: CircuitRequest, method: Callable[..., dict],
               *args: Any) -> EncodedJSON:
    """traced_job where the cost model says: refused before any work when over a budget; traced
    here, on the event loop, when tiny; in a worker process otherwise. Text is parsed here when
    it is short, else in a worker, and kept in this process's cache either way."""
    limit = request.app.state.settings.time_limit
    start = time.monotonic()
    values = body.engine_values()
    text, expand = body.expression, body.expand
    grad = body.engine_grad()
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
        if method is engine.Circuit.to_dict:
            check_response(cost, BUDGET)
            if cost.seconds <= INLINE_SECONDS:
                with computing():  # as a worker would
                    circuit = engine.Circuit(text, graph, values, LIMITS, grad)
                return EncodedJSON(dumps(circuit.to_dict()))
    remaining = limit - (time.monotonic() - start)  # the parse took some of the time
    try:
        if remaining <= 0:
            raise TimeLimitExceeded(remaining)
        result = await run_in_worker(traced_job, text, values, expand, grad, method, *args,
                                     limit=remaining)
    except (TimeLimitExceeded, NoWorker) as e:  # of the whole limit, not what remained
        raise type(e)(limit) from None
    return EncodedJSON(result)


async def in_worker(request: Request, fn: Callable[..., Any], **kw: Any) -> EncodedJSON:
    """The response body `fn(**kw)` makes in a worker process, within the time limit."""
    limit = request.app.state.settings.time_limit
    return EncodedJSON(await run_in_worker(job, fn, kw, limit=limit))


# Handlers return their response directly: the engine's to_dict() already is the body, so
# response_model only documents it (no second validation pass per request).


@router.post("/api/circuit", response_model=CircuitResponse, responses=ERRORS, tags=["circuit"])
async def circuit(body: CircuitRequest, request: Request) -> EncodedJSON:
    """Trace an expression: every wire's forward value and gradient."""
    return await _run(request, body, engine.Circuit.to_dict)


@router.post("/api/gradcheck", response_model=GradcheckResponse, responses=ERRORS,
             tags=["circuit"])
async def gradcheck(body: GradcheckRequest, request: Request) -> EncodedJSON:
    """Check backprop's gradients against central differences."""
    return await _run(request, body, engine.Circuit.check,
                      *(() if body.h is None else (float(body.h),)))


@router.post("/api/code", response_model=CodeResponse, responses=ERRORS, tags=["circuit"])
async def code(body: CircuitRequest, request: Request) -> EncodedJSON:
    """Staged forward and backward Python for the circuit, in the course's style."""
    return await _run(request, body, engine.Circuit.code)


@router.post("/api/backward-check", response_model=BackwardCheckResponse, responses=ERRORS,
             tags=["circuit"])
async def backward_check(body: BackwardCheckRequest, request: Request) -> EncodedJSON:
    """Judge a hand-written backward pass line by line against the engine's gradients."""
    return await in_worker(request, engine.backward_check, code=body.code,
                           values=body.engine_values(), limits=LIMITS)


@router.post("/api/descent", response_model=DescentResponse, responses=ERRORS, tags=["circuit"])
async def post_descent(body: DescentRequest, request: Request) -> EncodedJSON:
    """Plain gradient descent on named inputs of a circuit whose output is a scalar loss."""
    return await in_worker(
        request, engine.descent, text=body.expression, values=body.engine_values(),
        params=body.params, lr=float(body.lr), steps=body.steps, tol=float(body.tol),
        expand=body.expand, limits=LIMITS)


_OPS = [{"op": g.op, "label": g.label, "arity": g.arity, "formula": g.formula,
         "pattern": g.pattern, "nondiff": list(g.nondiff), "constants": g.names}
        for g in GATES.values()]


@router.get("/api/presets", response_model=list[Preset], tags=["reference"])
async def presets() -> StrictJSONResponse:
    """The worked examples of the course notes, ready to load."""
    return StrictJSONResponse(PRESETS)


@router.get("/api/ops", response_model=list[Op], tags=["reference"])
async def ops() -> StrictJSONResponse:
    """The gate table: op, label, arity, local-derivative formula, gradient pattern, and the
    inputs that take no gradient."""
    return StrictJSONResponse(_OPS)


# HEAD too, as load balancers check health: the same answer without a body (the server drops
# it). A route of its own, as one route for both methods gives both the same operation id.
@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", response_model=Health, tags=["service"])
async def healthz() -> dict[str, str]:
    """Liveness: the service is up (HEAD /healthz: the same without a body)."""
    return {"status": "ok"}
