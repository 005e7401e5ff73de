"""Strict JSON: no NaN or Infinity literal ever leaves the service (JSON.parse rejects them)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
from fastapi.responses import JSONResponse

from engine.circuit import jsonable

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


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
        return orjson.dumps(jsonable(obj), default=_numpy, option=_OPTIONS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, say: the standard library's way
        return json.dumps(jsonable(obj), allow_nan=False, ensure_ascii=False,
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
