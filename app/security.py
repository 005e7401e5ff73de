"""What the pages may load and run: the import map, the Content-Security-Policy and the other
headers every response carries, and the allow-list of front-end files under /vendor/.

Scripts run only from this origin, or inline when the server knows their hash: the import map
(defined here, rendered by templates/base.html as `{{ import_map|tojson }}`) and the inline
scripts of the page templates, hashed when the app starts. Styles may be inline ('unsafe-inline'
in style-src): KaTeX writes its formulas with style attributes.
"""

from __future__ import annotations

import base64
import hashlib
import re

# Bare module names the pages import, and where /vendor/ serves them.
_ESM = {  # package -> its ES module entry inside the package
    **{f"@codemirror/{name}": "dist/index.js" for name in (
        "autocomplete", "commands", "lang-python", "language", "lint", "state", "streamparser",
        "view")},
    **{f"@lezer/{name}": "dist/index.js" for name in ("common", "highlight", "lr", "python")},
    "@marijn/find-cluster-break": "src/index.js",
    "crelt": "index.js",
    "style-mod": "src/style-mod.js",
    "w3c-keyname": "index.js",
}

VENDOR = "/vendor"  # the URL prefix of the front-end files (app.routers.pages serves them)
IMPORT_MAP: dict = {"imports": {name: f"{VENDOR}/{name}/{entry}" for name, entry in _ESM.items()}}

# Files /vendor/<package>/ serves: package (a trailing * matches any package of a scope) ->
# patterns of paths inside it, where ** is any number of directories and * any name part.
VENDOR_FILES: dict[str, tuple[str, ...]] = {
    "katex": ("dist/*.js", "dist/*.mjs", "dist/*.css", "dist/fonts/*"),
    "elkjs": ("lib/elk.bundled.js",),
    "d3": ("dist/*.js",),
    "@observablehq/plot": ("dist/*.js",),
    "swagger-ui-dist": ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
    # the editor: CodeMirror 6 and the packages it imports
    "@codemirror/*": ("dist/**/*.js", "dist/**/*.css"),
    "@lezer/*": ("dist/**/*.js",),
    "@marijn/find-cluster-break": ("src/*.js",),
    "style-mod": ("src/*.js",),
    "w3c-keyname": ("*.js",),
    "crelt": ("*.js",),
}

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def _glob(pattern: str) -> str:
    parts = (re.escape(p).replace(r"\*", "[^/]*") for p in pattern.split("**/"))
    return "(?:[^/]+/)*".join(parts)


# One regex per package, matching "package/path" with the package as its group 1.
_VENDOR_RULES = tuple(re.compile(
    "(" + re.escape(package).replace(r"\*", "[^/.][^/]*") + ")/(?:"
    + "|".join(_glob(p) for p in patterns) + ")")
    for package, patterns in VENDOR_FILES.items())


def vendor_file(path: str) -> tuple[str, str] | None:
    """(package, file inside it) when /vendor/<path> may be served, else None."""
    if any(part.startswith(".") or not part for part in path.split("/")):
        return None
    for rule in _VENDOR_RULES:
        if m := rule.fullmatch(path):
            return m.group(1), path[m.end(1) + 1:]
    return None


def sha256(text: str) -> str:
    """A CSP source for an inline script of exactly this text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_hashes(html: str) -> list[str]:
    """CSP sources for the inline scripts of a page."""
    return [sha256(body) for body in _INLINE_SCRIPT.findall(html)]


def csp(script_hashes: list[str]) -> str:
    """The Content-Security-Policy, allowing the inline scripts with these hashes."""
    scripts = " ".join(["'self'", *sorted(set(script_hashes))])
    return ("default-src 'self'; "
            f"script-src {scripts}; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def headers(policy: str) -> list[tuple[bytes, bytes]]:
    """The headers every response carries."""
    return [(b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY")]
