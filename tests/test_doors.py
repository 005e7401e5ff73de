"""The doors: security headers, the import map's hash, JSON-only POST bodies, odd paths, the
body's time limit, disconnects and the request log."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from anyio.from_thread import start_blocking_portal
from helpers import assert_problem, strict
from test_api import XYZ

from app.main import create_app
from app.security import IMPORT_MAP, sha256
from app.settings import Settings


def policy(r) -> dict[str, str]:
    csp = r.headers["content-security-policy"]
    return {part.split()[0]: part for part in (p.strip() for p in csp.split(";"))}


@pytest.mark.parametrize(("method", "path"), [("GET", "/healthz"), ("GET", "/"),
                                              ("GET", "/labs/gradients"), ("GET", "/nope"),
                                              ("GET", "/vendor/katex/dist/katex.min.js"),
                                              ("GET", "/static/css/base.css"),
                                              ("POST", "/api/circuit")])
def test_every_response_carries_the_security_headers(client, method, path):
    r = client.request(method, path, json=XYZ if method == "POST" else None)
    csp = policy(r)
    assert "'unsafe-inline'" not in csp["script-src"] and "'self'" in csp["script-src"]
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["object-src"] == "object-src 'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/labs/gradients", "/docs"])
def test_every_inline_script_of_a_page_is_allowed_by_its_hash_and_no_other(client, path):
    r = client.get(path)
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.text, re.S)
    assert scripts
    allowed = set(re.findall(r"'sha256-[^']+'", policy(r)["script-src"]))
    assert {sha256(s) for s in scripts} <= allowed
    if path != "/docs":
        assert len(allowed) == len({sha256(s) for s in scripts})


def test_the_import_map_is_rendered_from_its_one_definition_and_allowed_by_its_hash(client):
    r = client.get("/")
    found = re.search(r'<script type="importmap">(.*?)</script>', r.text, re.S)
    assert found and json.loads(found.group(1)) == IMPORT_MAP
    assert sha256(found.group(1)) in policy(r)["script-src"]


@pytest.mark.parametrize("headers", [{"content-type": "text/plain"}, {},
                                     {"content-type": "application/x-www-form-urlencoded"},
                                     {"content-type": "multipart/form-data; boundary=x"}])
@pytest.mark.parametrize("route", ["/api/circuit", "/api/gradcheck", "/api/code",
                                   "/api/labs/cliff"])
def test_a_post_body_that_is_not_json_is_415(client, route, headers):
    import json

    r = client.post(route, content=json.dumps(XYZ), headers=headers)
    assert "application/json" in assert_problem(r, 415)["detail"]


def test_json_with_a_charset_is_json(client):
    import json

    r = client.post("/api/circuit", content=json.dumps(XYZ),
                    headers={"content-type": "Application/JSON; charset=utf-8"})
    assert r.status_code == 200 and r.json()["value"] == -12.0


@pytest.mark.parametrize("path", ["/vendor/d3/%00", "/%00", "/api/circuit%0a", "/a%0d%0ab",
                                  "/vendor/katex/%ff.js", "/static/%1b[31m.js"])
def test_nul_and_other_odd_bytes_in_a_path_are_400(client, path):
    assert "control character" in assert_problem(client.get(path), 400)["detail"]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records():
    handler = Records()
    log = logging.getLogger("chainrule")
    log.addHandler(handler)
    yield handler.records
    log.removeHandler(handler)


def test_control_characters_in_a_logged_path_are_escaped(client, records):
    client.get("/a%0a2026-12-02 chainrule.request GET /forged 200")
    (line,) = [r.getMessage() for r in records]
    assert "\n" not in line and line.startswith("GET /a\\x0a2026-12-02 ") and " 400 " in line


def test_a_body_that_stalls_is_408_and_the_connection_closes(client_for):
    async def stalled():
        yield b'{"expression": "x", '
        await asyncio.sleep(30)
        yield b"}"

    c = client_for(create_app(Settings(body_timeout=0.2)))
    r = c.post("/api/circuit", content=stalled(), headers={"content-type": "application/json"})
    assert "0.2 s" in assert_problem(r, 408)["detail"]
    assert r.headers["connection"] == "close"


def test_a_client_that_leaves_mid_body_is_one_info_line(records):
    app = create_app(Settings())
    messages = [{"type": "http.request", "body": b'{"expression": ', "more_body": True},
                {"type": "http.disconnect"}]

    async def receive():
        return messages.pop(0) if messages else await asyncio.sleep(30)

    async def send(message):
        pass

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "path": "/api/circuit", "raw_path": b"/api/circuit",
             "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1234),
             "headers": [(b"content-type", b"application/json")]}
    with start_blocking_portal() as portal:
        portal.call(app, scope, receive, send)
    assert [(r.levelno, r.getMessage().split()[:3]) for r in records] == [
        (logging.INFO, ["POST", "/api/circuit", "499"])]
    assert "client disconnected" in records[0].getMessage()


def _scope(method: str, path: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1234),
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]}


def test_past_the_requests_that_may_compute_at_once_one_more_is_503_before_its_body_is_read():
    from app.middleware import Doors

    async def scenario():
        release = asyncio.Event()

        async def app(scope, receive, send):  # a computation, until released; else at once
            await receive()
            if scope["method"] == "POST":
                await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        doors = Doors(app, Settings(processes=1, queue=1))

        async def call(method: str, path: str) -> tuple[int, dict, bytes, bool]:
            sent, read = [], []

            async def receive():
                read.append(True)
                return {"type": "http.request", "body": b"{}", "more_body": False}

            async def send(message):
                sent.append(message)

            await doors(_scope(method, path), receive, send)
            return (sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"], bool(read))

        held = [asyncio.create_task(call("POST", "/api/circuit")) for _ in range(2)]
        while doors.computing < 2:  # one computing, one waiting for a worker: as many as may
            await asyncio.sleep(0)
        refused = await call("POST", "/api/gradcheck")
        data = await call("GET", "/api/labs/datasets/spiral")  # made in a worker too
        page = await call("GET", "/healthz")  # not a computation: never refused as busy
        release.set()
        done = await asyncio.gather(*held)
        return refused, data, page, done, await call("POST", "/api/code"), doors.computing

    with start_blocking_portal() as portal:
        refused, data, page, done, after, computing = portal.call(scenario)
    assert data[0] == 503
    status, headers, body, read = refused
    assert status == 503 and not read
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"retry-after"] == b"1"
    problem = strict(body.decode())
    assert problem["type"] == "urn:chainrule:problem:busy" and "2 requests" in problem["detail"]
    assert page[0] == 200
    assert [d[0] for d in done] == [200, 200] and after[0] == 200 and computing == 0
