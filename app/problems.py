"""Every error leaves as application/problem+json (RFC 9457); none leaks a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.responses import StrictJSONResponse
from app.routers.pages import not_found_page
from engine import ExpressionError

log = logging.getLogger("chainrule")

# Problem types are URNs: they name the kind of error without pointing at any host.
EXPRESSION = "urn:chainrule:problem:expression"
VALIDATION = "urn:chainrule:problem:validation"
BODY_TOO_LARGE = "urn:chainrule:problem:body-too-large"
TIME_LIMIT = "urn:chainrule:problem:time-limit"
WORKER_LOST = "urn:chainrule:problem:worker-lost"
BUSY = "urn:chainrule:problem:busy"
MEDIA_TYPE = "application/problem+json"
INTERNAL = "urn:chainrule:problem:internal"


class TimeLimitExceeded(Exception):
    """The computation of one request took longer than the configured limit."""

    def __init__(self, seconds: float):
        super().__init__(f"time limit of {seconds:g} s exceeded")
        self.seconds = seconds


class NoWorker(Exception):
    """No worker process came free within the request's time limit (the server is busy)."""

    def __init__(self, seconds: float):
        super().__init__(f"no worker came free within {seconds:g} s")
        self.seconds = seconds


class WorkerLost(Exception):
    """The worker process running the request ended before it answered."""


class BodyTooLarge(HTTPException):
    """The request body is larger than the configured limit."""

    def __init__(self, limit: int):
        super().__init__(413, f"The request body is larger than the limit of {limit:,} bytes.")


class BodyTimeout(HTTPException):
    """The request body did not arrive in time; the connection is closed after the answer."""

    def __init__(self, seconds: float):
        super().__init__(408, f"The request body did not arrive within {seconds:g} s.",
                         headers={"connection": "close"})


def problem(status: int, detail: str, *, type: str = "about:blank", title: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> StrictJSONResponse:
    """A problem+json response; `extra` members with value None are left out."""
    body = {"type": type, "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return StrictJSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


async def expression_error(request: Request, exc: ExpressionError) -> StrictJSONResponse:
    position = None if exc.start is None else {
        "start": exc.start, "end": exc.start + 1 if exc.end is None else exc.end}
    return problem(400, exc.message, type=EXPRESSION, title="Invalid expression or values",
                   position=position, hint=exc.hint, missing=exc.missing or None)


def _place(loc: tuple | list) -> list:
    """A pydantic error's loc as a place in the body: without the names pydantic gives the
    members of a union it tried (function-after[...], list[...])."""
    return [part for part in loc if not (isinstance(part, str) and "[" in part)]


# What a member of a union that refused a value for its kind expected (a dict's member, Randn,
# and null are left out: a value meant as one of those is not of a kind to be refused so).
_EXPECTED = {"int_type": "a number", "float_type": "a number", "list_type": "a list of numbers"}


def _kind(error: dict) -> bool:
    """The error refuses the value for its kind (a string where a number goes), not for a bound
    or a missing field."""
    return error["type"].endswith("_type") or error["type"] == "none_required"


def _lead(errors: list[dict]) -> str:
    """The detail's first error, as "place: message". A value that fits no member of a union
    fails once per member: the member whose type it has (a dict, Randn) says best what is wrong,
    deepest in the body (a list's element) best where; a value of no member's type is told what
    the members expect."""
    places = {tuple(e["loc"]) for e in errors}

    def tags(loc: list) -> set[int]:  # where the loc names a union's member (Randn, float)
        return {i for i, part in enumerate(loc)
                if isinstance(part, str) and 0 < i and tuple(loc[:i]) in places}

    def where(error: dict) -> str:
        loc = error["loc"]
        return ".".join(str(part) for i, part in enumerate(loc)
                        if i not in tags(loc)) or "request"

    def depth(error: dict) -> int:
        return sum(isinstance(part, int) for part in error["loc"])

    def refused(error: dict) -> bool:
        """By a member the value was not meant as: for its kind, at the member itself. An error
        inside a member (a Randn's shape or seed) is of the member the value was meant as."""
        loc = error["loc"]
        return _kind(error) and not any(i < len(loc) - 1 for i in tags(loc))

    meant = [e for e in errors if not refused(e)]
    if meant:
        first = max(meant, key=lambda e: (depth(e), e["type"] == "value_error"))
        return f"{where(first)}: {first['msg'].removeprefix('Value error, ')}"
    if not errors:
        return "request: invalid request"
    first = max(errors, key=depth)
    members = [e for e in errors if where(e) == where(first)]
    expected = list(dict.fromkeys(_EXPECTED[e["type"]] for e in members if e["type"] in _EXPECTED))
    if len(members) > 1 and expected:
        return f"{where(first)}: expected {' or '.join(expected)}"
    return f"{where(first)}: {first['msg']}"


def _not_json(error: dict, text: str) -> str:
    """The detail for a body that is not JSON: what the parser expected, at which line and
    column (from 1) of the body; the error's loc is ["body", character offset]."""
    at = error["loc"][-1]
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    return f"body: not valid JSON at line {line}, column {column}: {error['ctx']['error']}"


async def validation_error(request: Request, exc: RequestValidationError) -> StrictJSONResponse:
    # Keep loc/msg/type only: "input" may echo a whole (large) body, "ctx" may hold exceptions.
    errors = [{"loc": _place(e.get("loc", ())), "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if errors and errors[0]["type"] == "json_invalid" and isinstance(exc.body, str):
        detail = _not_json(exc.errors()[0], exc.body)  # FastAPI's only error for such a body
    else:
        detail = _lead(errors) + more
    return problem(422, detail, type=VALIDATION, title="Request does not match the schema",
                   errors=errors)


async def http_error(request: Request, exc: HTTPException) -> StrictJSONResponse:
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        # FastAPI's answer to a body that is not UTF-8 JSON: a schema matter, like bad JSON.
        return problem(422, "body: the request body is not valid UTF-8 JSON", type=VALIDATION,
                       title="Request does not match the schema",
                       errors=[{"loc": ["body"], "msg": "not valid UTF-8 JSON",
                                "type": "json_invalid"}])
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and exc.detail == "Not Found":
        if (page := not_found_page(request)) is not None:
            return page
        detail = f"Nothing here: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    kind = BODY_TOO_LARGE if exc.status_code == 413 else "about:blank"
    return problem(exc.status_code, detail, type=kind, headers=exc.headers)


async def time_limit(request: Request, exc: TimeLimitExceeded) -> StrictJSONResponse:
    detail = (f"Computing this request took longer than {exc.seconds:g} s; "
              "try a smaller expression or smaller values.")
    return problem(503, detail, type=TIME_LIMIT, title="Time limit exceeded")


async def worker_lost(request: Request, exc: WorkerLost) -> StrictJSONResponse:
    detail = ("The computation stopped before it finished: its worker process ended (it may "
              "have needed more memory than a worker may use); try a smaller request.")
    return problem(503, detail, type=WORKER_LOST, title="Computation stopped")


def busy(reason: str, retry_after: int = 1) -> StrictJSONResponse:
    """The answer to a request the server has no room to compute now: ask again in
    `retry_after` seconds."""
    return problem(503, f"The server is busy: {reason}; try again in a moment.", type=BUSY,
                   title="Busy", headers={"retry-after": str(retry_after)})


async def no_worker(request: Request, exc: NoWorker) -> StrictJSONResponse:
    return busy(f"no worker process came free within {exc.seconds:g} s")


async def internal_error(request: Request, exc: Exception) -> StrictJSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Something went wrong on the server; the error has been logged.",
                   type=INTERNAL, title="Internal error")


HANDLERS = {  # the app's exception handlers: every error answered as problem+json
    ExpressionError: expression_error,
    RequestValidationError: validation_error,
    HTTPException: http_error,
    TimeLimitExceeded: time_limit,
    NoWorker: no_worker,
    WorkerLost: worker_lost,
    Exception: internal_error,
}
