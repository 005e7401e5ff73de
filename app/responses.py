"""The one response class: strict JSON, written by orjson.

Numbers that are not finite are spelled "NaN", "Infinity", "-Infinity" by the engine
(`engine.circuit.jsonable`) before they get here; orjson itself never writes a NaN or Infinity
literal (it writes null), so no response can break a browser's JSON.parse."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
from fastapi.responses import JSONResponse, Response

from engine.circuit import jsonable

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _numpy(obj: Any) -> Any:
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> bytes:
    """Strict JSON bytes."""
    try:
        return orjson.dumps(obj, default=_numpy, option=_OPTIONS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, say: the standard library's way
        # in ASCII: a lone surrogate ("\ud800" in the request) goes back escaped, as it came
        return json.dumps(jsonable(obj), allow_nan=False, separators=(",", ":"),
                          default=_numpy).encode("ascii")


class StrictJSONResponse(JSONResponse):
    """JSONResponse that can never emit NaN/Infinity literals."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


class EncodedJSON(Response):
    """A body dumps() has made already: in a worker process, so that the event loop only hands
    the bytes on (decoding a result and encoding it again would take the loop as long as a
    large result is large)."""

    media_type = "application/json"
