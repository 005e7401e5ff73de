"""The ASGI application: `app.main:app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import problems
from app.lanes import POOL
from app.middleware import Doors
from app.responses import StrictJSONResponse
from app.routers import api, labs, pages
from app.schemas import STATUSES
from app.settings import ROOT, Settings
from engine.circuit import compile_text

DESCRIPTION = (
    "Expressions become circuits: every wire's forward value and gradient.\n\n"
    "Errors are `application/problem+json` (RFC 9457):\n\n"
    + "".join(f"- {status}: {text}\n" for status, text in STATUSES.items())
    + '\nNumbers that are not finite are sent as the strings "NaN", "Infinity" and '
    '"-Infinity".\n')


class _Lines(logging.Formatter):
    """"%(asctime)s %(name)s %(message)s", the time text made once a second: a line per request
    costs half of what logging.Formatter takes for it."""

    _second, _text = -1, ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._text = second, self.formatTime(record, "%Y-%m-%d %H:%M:%S")
        line = f"{self._text},{int(record.msecs):03d} {record.name} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _log_to_stderr() -> None:
    log = logging.getLogger("chainrule")
    if not log.handlers:
        handler = logging.StreamHandler()  # to sys.stderr
        handler.setFormatter(_Lines())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """A server starts its worker processes with itself, and stops them with itself."""
    POOL.start()
    yield
    POOL.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; settings default to the environment's (CHAINRULE_TIME_LIMIT, ...)."""
    settings = settings or Settings.from_env()
    _log_to_stderr()
    app = FastAPI(
        title="chainrule", version="0.1.0", description=DESCRIPTION,
        docs_url=None, redoc_url=None, default_response_class=StrictJSONResponse,
        lifespan=_lifespan, exception_handlers=problems.HANDLERS,
        # no OpenTelemetry: its check for a configured provider costs every request's turn
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    # workers started already keep their memory cap
    POOL.size, POOL.memory = settings.processes, settings.worker_memory
    POOL.start()  # in the background: the first requests do not wait for them
    compile_text("0")  # the parser's tables are built now, not during a request's turn
    app.include_router(api.router)
    app.include_router(labs.router)
    app.include_router(pages.router)
    app.mount(pages.STATIC, StaticFiles(directory=ROOT / "static", check_dir=False),
              name="static")
    app.add_middleware(Doors, settings=settings)
    return app


app = create_app()
