"""Every lab's number fields have the server's limits, read from its schema: no page can allow
what the server refuses, or refuse what it allows."""

from __future__ import annotations

import pytest
from conftest import wait_ready
from playwright.sync_api import Page

# Each lab's number fields: the request schema, and the field's place in the request body.
FLOW = {f"fieldset[data-side='{side}'] input[name='{name}']": ("GradientFlowRequest", name)
        for side in "ab" for name in ("depth", "width", "batch", "scale", "seed")}
CLIFF = {f"#cliff-form input[name='{name}']": ("CliffRequest", place) for name, place in [
    ("start_w", "start.0"), ("start_b", "start.1"), ("lr", "lr"), ("iterations", "iterations"),
    ("threshold", "threshold"), ("grid", "grid")]}
FIELDS = {
    "/labs/gradients": {**FLOW, **CLIFF},
    "/labs/descent": {"#lr": ("DescentRequest", "lr"), "#tol": ("DescentRequest", "tol"),
                      "#lr7": ("DescentRequest", "lr"), "#steps7": ("DescentRequest", "steps"),
                      "#tol7": ("DescentRequest", "tol")},
    "/labs/training": {f"#train-form input[name='{name}']": ("TrainRequest", name)
                       for name in ("hidden", "lr", "reg", "batch", "epochs", "seed")},
}
PAGE_ONLY = {"/labs/descent": ["#seed"]}  # the seed of the page's own random start: never sent

# Every number field of the page: the selector of FIELDS or PAGE_ONLY it matches, and its limits.
READ = """(selectors) => [...document.querySelectorAll('input[type=number]')].map((el) => ({
  selector: selectors.find((s) => el.matches(s)) ?? el.outerHTML,
  min: el.getAttribute('min'), max: el.getAttribute('max'),
  exclusive: el.hasAttribute('data-min-exclusive'), whole: el.step === '1',
}))"""


def number(text: str | None) -> float | None:
    return None if text is None else float(text)


def schema_limits(prop: dict) -> dict:
    """A field's limits as the schema writes them (gt, ge and le, or JSON Schema's words)."""
    at_least = prop.get("minimum", prop.get("ge"))
    above = prop.get("exclusiveMinimum", prop.get("gt"))
    return {"min": at_least if at_least is not None else above,
            "max": prop.get("maximum", prop.get("le")),
            "exclusive": at_least is None and above is not None,
            "whole": prop.get("type") == "integer"}


def prop_at(schema: dict, place: str) -> dict:
    name, _, index = place.partition(".")
    prop = schema["properties"][name]
    return prop["prefixItems"][int(index)] if index else prop


@pytest.mark.parametrize("path", list(FIELDS))
def test_every_number_field_has_the_limits_of_the_servers_schema(page: Page, base_url: str,
                                                                 path: str):
    page.goto(base_url + path)
    wait_ready(page, timeout=60_000)
    schemas = page.request.get(f"{base_url}/openapi.json").json()["components"]["schemas"]
    fields = page.evaluate(READ, [*FIELDS[path], *PAGE_ONLY.get(path, [])])
    assert sorted(f["selector"] for f in fields) == sorted([*FIELDS[path],
                                                            *PAGE_ONLY.get(path, [])])
    for field in fields:
        if field["selector"] not in FIELDS[path]:
            continue
        name, place = FIELDS[path][field["selector"]]
        want = schema_limits(prop_at(schemas[name], place))
        got = {**field, "min": number(field["min"]), "max": number(field["max"])}
        del got["selector"]
        assert got == want, (field["selector"], name, place)
