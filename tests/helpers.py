"""Assertions the API tests share (imported by name: `from helpers import assert_problem`), and
whether a worker process has ended."""

from __future__ import annotations

import json
from typing import Any

import httpx


def strict(text: str) -> Any:
    """json.loads that refuses NaN/Infinity literals, like a browser's JSON.parse."""
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def assert_problem(r: httpx.Response, status: int) -> dict:
    """The response is an RFC 9457 problem with this status, strict JSON, no traceback."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = strict(r.text)
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    assert "Traceback" not in r.text
    return body


def gone(pid: int) -> bool:
    """The process has ended (a zombie has ended too). A process reaped between the open and
    the read of its stat file is gone as well (the read raises ProcessLookupError)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True
