"""The gradients lab's API: gradient flow through deep MLPs; the cliff and gradient clipping."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.lanes import run_in_worker
from app.responses import StrictJSONResponse
from app.schemas import (
    ERRORS,
    CliffRequest,
    CliffResponse,
    GradientFlowRequest,
    GradientFlowResponse,
)
from engine.circuit import jsonable
from engine.labs.cliff import cliff
from engine.labs.gradient_flow import gradient_flow

router = APIRouter(tags=["labs"])


def gradient_flow_job(params: dict) -> dict:
    return jsonable(gradient_flow(**params))


def cliff_job(params: dict) -> dict:
    return jsonable(cliff(**params))


@router.post("/api/labs/gradient-flow", response_model=GradientFlowResponse, responses=ERRORS)
async def post_gradient_flow(body: GradientFlowRequest, request: Request) -> StrictJSONResponse:
    """Per-layer activations and back-propagated gradient sizes of a freshly initialised MLP."""
    return StrictJSONResponse(await run_in_worker(
        gradient_flow_job, body.model_dump(), limit=request.app.state.settings.time_limit))


@router.post("/api/labs/cliff", response_model=CliffResponse, responses=ERRORS)
async def post_cliff(body: CliffRequest, request: Request) -> StrictJSONResponse:
    """The cliff: loss surface of a one-unit recurrent net and descent with/without clipping."""
    return StrictJSONResponse(await run_in_worker(
        cliff_job, body.model_dump(), limit=request.app.state.settings.time_limit))
