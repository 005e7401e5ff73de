"""HTML pages, the front-end libraries from node_modules, and Swagger UI at /docs."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import TemplateNotFound
from starlette.exceptions import HTTPException

from app.security import IMPORT_MAP
from app.settings import ROOT

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=ROOT / "templates")

NODE_MODULES = ROOT / "node_modules"
VENDOR = "/vendor"
STATIC = "/static"
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
          ".map": "application/json", ".json": "application/json"}


@cache
def vendored() -> tuple[str, ...]:
    """The packages /vendor may serve: exactly the dependencies in package.json."""
    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    return tuple(sorted(deps, key=len, reverse=True))  # "@scope/pkg" before any prefix of it


def _page(request: Request, name: str) -> HTMLResponse:
    try:
        return templates.TemplateResponse(request, name, {
            "vendor": VENDOR, "static": STATIC, "import_map": IMPORT_MAP})
    except TemplateNotFound:
        raise HTTPException(404, f"The page template {name} is missing.") from None


@router.get("/")
async def index(request: Request) -> HTMLResponse:
    """The circuit playground."""
    return _page(request, "index.html")


@router.get("/labs/gradients")
async def lab_gradients(request: Request) -> HTMLResponse:
    """The vanishing/exploding gradients lab."""
    return _page(request, "lab_gradients.html")


@router.get("/labs/descent")
async def lab_descent(request: Request) -> HTMLResponse:
    """Gradient descent on the dosage network, step by step."""
    return _page(request, "lab_descent.html")


@router.get("/labs/training")
async def lab_training(request: Request) -> HTMLResponse:
    """Training the two-layer network live."""
    return _page(request, "lab_training.html")


@router.get(VENDOR + "/{path:path}")
async def vendor(path: str) -> FileResponse:
    """A file of one of package.json's front-end libraries."""
    for package in vendored():
        if path.startswith(package + "/"):
            base = (NODE_MODULES / package).resolve()
            file = (base / path[len(package) + 1:]).resolve()
            # resolve() folds "..": anything that leaves the package directory is not served.
            if file.is_relative_to(base) and file.is_file():
                return FileResponse(file, media_type=_TYPES.get(file.suffix),
                                    headers={"Cache-Control": "public, max-age=3600"})
            break
    raise HTTPException(404, f"No vendored file {path!r}.")


@router.get("/docs")
async def docs() -> HTMLResponse:
    """Swagger UI from local files: works with no internet."""
    swagger = f"{VENDOR}/swagger-ui-dist"
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="chainrule API",
        swagger_js_url=f"{swagger}/swagger-ui-bundle.js",
        swagger_css_url=f"{swagger}/swagger-ui.css",
        swagger_favicon_url=f"{swagger}/favicon-32x32.png",
        # validatorUrl None: Swagger UI would otherwise call an online validator.
        swagger_ui_parameters={"validatorUrl": None},
    )


def static_dir() -> Path:
    """The directory served under /static."""
    return ROOT / "static"
