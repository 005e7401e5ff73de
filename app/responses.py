"""Strict JSON: no NaN or Infinity literal ever leaves the service (JSON.parse rejects them)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from fastapi.responses import JSONResponse

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def finite(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by "NaN", "Infinity" or "-Infinity"."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "NaN" if math.isnan(obj) else _NON_FINITE[obj]
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, (np.ndarray, np.generic)):
        return finite(obj.tolist())
    return obj


def _numpy(obj: Any) -> Any:
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> bytes:
    """Strict JSON bytes; the sanitizing pass runs only when a non-finite number is present."""
    try:
        text = json.dumps(obj, allow_nan=False, ensure_ascii=False, separators=(",", ":"),
                          default=_numpy)
    except ValueError:
        text = json.dumps(finite(obj), allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


class StrictJSONResponse(JSONResponse):
    """JSONResponse that can never emit NaN/Infinity literals."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


class ProblemResponse(StrictJSONResponse):
    """An RFC 9457 problem document."""

    media_type = "application/problem+json"
