"""HTML pages, the front-end libraries from node_modules, and Swagger UI at /docs."""

from __future__ import annotations

from contextlib import suppress
from functools import cache

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import TemplateNotFound
from starlette.exceptions import HTTPException

from app.security import IMPORT_MAP, VENDOR, csp, inline_hashes, vendor_file
from app.settings import ROOT

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=ROOT / "templates")

NODE_MODULES = ROOT / "node_modules"
STATIC = "/static"
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
          ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf"}
CONTEXT = {"vendor": VENDOR, "static": STATIC, "import_map": IMPORT_MAP}


@cache
def page_csp() -> str:
    """The Content-Security-Policy of every response: it allows the inline scripts of the page
    templates (the import map among them), hashed as the pages render them."""
    env = templates.env
    return csp([h for name in env.list_templates(extensions=["html"])
                for h in inline_hashes(env.get_template(name).render(CONTEXT))])


# The pages: path -> template.
PAGES = {
    "/": "index.html",  # the circuit playground
    "/labs/gradients": "lab_gradients.html",  # the vanishing/exploding gradients lab
    "/labs/descent": "lab_descent.html",  # gradient descent on the dosage network, step by step
    "/labs/training": "lab_training.html",  # training the two-layer network live
}


async def page(request: Request) -> HTMLResponse:
    """The page at the route's path, rendered from its template."""
    name = PAGES[request.scope["route"].path]
    try:
        return templates.TemplateResponse(request, name, CONTEXT)
    except TemplateNotFound:
        raise HTTPException(404, f"The page template {name} is missing.") from None


for _path in PAGES:
    router.add_api_route(_path, page, methods=["GET"])


def not_found_page(request: Request) -> HTMLResponse | None:
    """What a browser is shown at an address with nothing at it: a page with the links to the
    pages; None for any other client and under /api, which get the problem+json of every error."""
    if (request.method != "GET" or "text/html" not in request.headers.get("accept", "")
            or request.url.path == "/api" or request.url.path.startswith("/api/")):
        return None
    return templates.TemplateResponse(request, "not_found.html",
                                      {**CONTEXT, "path": request.url.path}, status_code=404)


@router.get(VENDOR + "/{path:path}")
async def vendor(path: str) -> FileResponse:
    """A file the pages load from a front-end library (app.security.VENDOR_FILES)."""
    found = vendor_file(path)
    if found is not None:
        base = (NODE_MODULES / found[0]).resolve()
        file = (base / found[1]).resolve()
        with suppress(OSError):  # a name too long for the file system, say
            # resolve() folds "..": anything that leaves the package directory is not served.
            if file.is_relative_to(base) and file.is_file():
                return FileResponse(file, media_type=_TYPES.get(file.suffix),
                                    headers={"Cache-Control": "public, max-age=3600"})
    raise HTTPException(404, f"No vendored file {path!r}.")


@router.get("/docs")
async def docs() -> HTMLResponse:
    """Swagger UI from local files: works with no internet."""
    swagger = f"{VENDOR}/swagger-ui-dist"
    page = get_swagger_ui_html(
        openapi_url="/openapi.json", title="chainrule API",
        swagger_js_url=f"{swagger}/swagger-ui-bundle.js",
        swagger_css_url=f"{swagger}/swagger-ui.css",
        swagger_favicon_url=f"{swagger}/favicon-32x32.png",
        # validatorUrl None: Swagger UI would otherwise call an online validator.
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["content-security-policy"] = csp(inline_hashes(page.body.decode()))
    return page
