"""The ASGI application: `app.main:app` (see DESIGN.md for the HTTP contract)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema

from app import problems
from app.middleware import BodyLimit, RequestLog
from app.responses import StrictJSONResponse
from app.routers import api, labs, pages
from app.settings import Settings

DESCRIPTION = """Expressions become circuits: every wire's forward value and gradient.

Errors are `application/problem+json` (RFC 9457): 400 for a wrong expression or values (with the
`position` in the text when known), 413 for a body over the size limit, 422 for a request that
does not match the schema, 503 when the computation exceeds the time limit (5 s by default).
Numbers that are not finite are sent as the strings "NaN", "Infinity" and "-Infinity".
"""


def _log_to_stderr() -> None:
    log = logging.getLogger("chainrule")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _problem_json_openapi(app: FastAPI) -> dict[str, Any]:
    """OpenAPI with every error response documented as application/problem+json."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path in schema["paths"].values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    response["content"] = {"application/problem+json": problem}
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)
    # the request bodies the API routes read themselves (see app.routers.api._read)
    _, bodies = models_json_schema([(m, "validation") for m in api.BODIES],
                                   ref_template="#/components/schemas/{model}")
    schema["components"]["schemas"].update(bodies["$defs"])
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; settings default to the environment's (CHAINRULE_TIME_LIMIT, ...)."""
    settings = settings or Settings.from_env()
    _log_to_stderr()
    app = FastAPI(
        title="chainrule", version="0.1.0", description=DESCRIPTION,
        docs_url=None, redoc_url=None, default_response_class=StrictJSONResponse,
    )
    app.state.settings = settings
    problems.install(app)
    app.include_router(api.router)
    app.include_router(labs.router)
    app.include_router(pages.router)
    app.mount(pages.STATIC, StaticFiles(directory=pages.static_dir(), check_dir=False),
              name="static")
    app.openapi = lambda: _problem_json_openapi(app)  # type: ignore[method-assign]
    # Added last is outermost: the log sees every response, 413s included.
    app.add_middleware(BodyLimit, limit=settings.max_body)
    app.add_middleware(RequestLog)
    return app


app = create_app()
