"""The engine behind the HTTP contract: circuit, gradcheck, code, backward-check, presets, ops,
healthz."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

import engine
from app.compute import run_limited
from app.responses import SpelledJSONResponse, StrictJSONResponse
from app.schemas import (
    BackwardCheckRequest,
    BackwardCheckResponse,
    CircuitRequest,
    CircuitResponse,
    CodeResponse,
    GradcheckRequest,
    GradcheckResponse,
    Health,
    Op,
    Preset,
    Problem,
)
from engine.circuit import quick

router = APIRouter()

LIMITS = engine.Limits()  # text from the network gets the engine's default limits

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The expression or its values are wrong "
          "(syntax, unknown name, missing value, shape mismatch, limit exceeded)."},
    413: {"model": Problem, "description": "The request body is larger than 1 MB."},
    422: {"model": Problem, "description": "The request does not match the schema."},
    503: {"model": Problem, "description": "The computation took longer than the time limit."},
}


def _trace(body: CircuitRequest) -> engine.Circuit:
    return engine.trace(body.expression, body.engine_values(LIMITS.max_elements),
                        expand=body.expand, limits=LIMITS)


def _quick(body: CircuitRequest) -> bool:
    return quick(body.expression, body.values, expand=body.expand, limits=LIMITS)


M = TypeVar("M", bound=BaseModel)
# documented as request bodies (see app.main)
BODIES = (CircuitRequest, GradcheckRequest, BackwardCheckRequest)


async def _read(request: Request, model: type[M]) -> M:
    """The JSON body as `model`, parsed and validated by pydantic in one step: FastAPI's own
    body parameter costs more per request than tracing a small circuit. A mismatch is the
    same 422 problem."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as e:
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])}
                                      for err in e.errors(include_url=False)]) from None


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra documenting `model` as the JSON request body."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


# Handlers return their response directly: the engine's to_dict() already is the body, so
# response_model only documents it (no second validation pass per request).


@router.post("/api/circuit", response_model=CircuitResponse, responses=ERRORS, tags=["circuit"],
             openapi_extra=_body(CircuitRequest))
async def circuit(request: Request) -> SpelledJSONResponse:
    """Trace an expression: every wire's forward value and gradient."""
    body = await _read(request, CircuitRequest)
    return SpelledJSONResponse(await run_limited(request, lambda: _trace(body).to_dict(),
                                                 quick=_quick(body)))


@router.post("/api/gradcheck", response_model=GradcheckResponse, responses=ERRORS,
             tags=["circuit"], openapi_extra=_body(GradcheckRequest))
async def gradcheck(request: Request) -> StrictJSONResponse:
    """Check backprop's gradients against central differences."""
    body = await _read(request, GradcheckRequest)
    kwargs = {} if body.h is None else {"h": float(body.h)}
    return StrictJSONResponse(await run_limited(request, lambda: _trace(body).check(**kwargs)))


@router.post("/api/code", response_model=CodeResponse, responses=ERRORS, tags=["circuit"],
             openapi_extra=_body(CircuitRequest))
async def code(request: Request) -> StrictJSONResponse:
    """Staged forward and backward Python for the circuit, in the course's style."""
    body = await _read(request, CircuitRequest)
    return StrictJSONResponse(await run_limited(request, lambda: _trace(body).code()))


@router.post("/api/backward-check", response_model=BackwardCheckResponse, responses=ERRORS,
             tags=["circuit"], openapi_extra=_body(BackwardCheckRequest))
async def backward_check(request: Request) -> StrictJSONResponse:
    """Judge a hand-written backward pass line by line against the engine's gradients."""
    body = await _read(request, BackwardCheckRequest)
    return StrictJSONResponse(await run_limited(request, lambda: engine.backward_check(
        body.code, body.engine_values(LIMITS.max_elements), limits=LIMITS)))


@cache
def _presets() -> list[dict[str, Any]]:
    from engine.presets import PRESETS

    return [dict(p) for p in PRESETS]


@cache
def _ops() -> list[dict[str, Any]]:
    from engine.ops import GATES

    return [{"op": g.op, "label": g.label, "arity": g.arity, "formula": g.formula,
             "pattern": g.pattern} for g in GATES.values()]


@router.get("/api/presets", response_model=list[Preset], tags=["reference"])
async def presets() -> StrictJSONResponse:
    """The worked examples of the course notes, ready to load."""
    return StrictJSONResponse(_presets())


@router.get("/api/ops", response_model=list[Op], tags=["reference"])
async def ops() -> StrictJSONResponse:
    """The gate table: op, label, arity, local-derivative formula, gradient pattern."""
    return StrictJSONResponse(_ops())


@router.get("/healthz", response_model=Health, tags=["service"])
async def healthz() -> dict[str, str]:
    """Liveness: the service is up."""
    return {"status": "ok"}
