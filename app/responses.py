"""Strict JSON: no NaN or Infinity literal ever leaves the service (JSON.parse rejects them)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
from fastapi.responses import JSONResponse

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


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
    """Strict JSON bytes, non-finite numbers spelled as strings.

    orjson writes a non-finite float as null, so output that holds a null is made again from a
    copy with those numbers spelled (a None is a null too: it only costs that second pass)."""
    try:
        data = orjson.dumps(obj, default=_numpy, option=_OPTIONS)
        if b"null" not in data:
            return data
        return orjson.dumps(finite(obj), default=_numpy, option=_OPTIONS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, say: the standard library's way
        return json.dumps(finite(obj), allow_nan=False, ensure_ascii=False,
                          separators=(",", ":"), default=_numpy).encode("utf-8")


class StrictJSONResponse(JSONResponse):
    """JSONResponse that can never emit NaN/Infinity literals."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


class SpelledJSONResponse(JSONResponse):
    """For a body that spells its non-finite numbers already (Circuit.to_dict does): encoded
    as it is, in one pass."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)


class ProblemResponse(StrictJSONResponse):
    """An RFC 9457 problem document."""

    media_type = "application/problem+json"
