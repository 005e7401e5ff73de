"""The page's import map: bare module names of the front-end libraries -> their /vendor/ files.

Kept in this one place: templates/base.html renders it inline, and a Content-Security-Policy
can allow exactly that inline script by its hash."""

from __future__ import annotations

_ESM = {  # package -> its ES module entry inside the package
    "@codemirror/autocomplete": "dist/index.js",
    "@codemirror/commands": "dist/index.js",
    "@codemirror/lang-python": "dist/index.js",
    "@codemirror/language": "dist/index.js",
    "@codemirror/lint": "dist/index.js",
    "@codemirror/state": "dist/index.js",
    "@codemirror/streamparser": "dist/index.js",
    "@codemirror/view": "dist/index.js",
    "@lezer/common": "dist/index.js",
    "@lezer/highlight": "dist/index.js",
    "@lezer/lr": "dist/index.js",
    "@lezer/python": "dist/index.js",
    "@marijn/find-cluster-break": "src/index.js",
    "crelt": "index.js",
    "style-mod": "src/style-mod.js",
    "w3c-keyname": "index.js",
}

IMPORT_MAP: dict = {"imports": {name: f"/vendor/{name}/{entry}" for name, entry in _ESM.items()}}
