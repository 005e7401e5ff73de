"""The HTTP contract (README, "The REST API"), endpoint by endpoint, against the app in process."""

from __future__ import annotations

import json
import logging
import math
import re

import httpx
import pytest
from helpers import assert_problem, strict

from app.main import create_app
from app.routers import pages
from app.settings import Settings

XYZ = {"expression": "(x + y) * z", "values": {"x": -2, "y": 5, "z": -4}}
NEURON = {"expression": "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
          "values": {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}}


# --- /healthz, /api/ops, /api/presets --------------------------------------------------------

def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_healthz_answers_head_like_get_without_a_body(client):
    # load balancers check health with HEAD
    get, head = client.get("/healthz"), client.request("HEAD", "/healthz")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_ops_lists_the_gate_table(client):
    r = client.get("/api/ops")
    assert r.status_code == 200
    rows = {row["op"]: row for row in r.json()}
    assert {"add", "mul", "sigmoid", "matmul", "max"} <= set(rows)
    assert rows["mul"]["arity"] == 2 and rows["mul"]["label"]
    for row in rows.values():
        assert set(row) == {"op", "label", "arity", "formula", "pattern", "nondiff",
                            "constants"}
    assert rows["softmax_ce"]["nondiff"] == [1] and rows["mul"]["nondiff"] == []
    # each constant (as /api/circuit's attrs name it) with its name in the formula
    assert rows["index"]["constants"] == {"index": "k"} and rows["mul"]["constants"] == {}
    assert rows["elu"]["constants"] == {"alpha": "α"}
    assert rows["clip"]["constants"] == {"lo": "lo", "hi": "hi"}
    for op, label in (("gt", ">"), ("lt", "<"), ("ge", "≥"), ("le", "≤")):
        assert rows[op]["label"] == label and rows[op]["arity"] == 2
        assert rows[op]["formula"].endswith(r"\mathbb{I}(a " + label.replace("≥", r"\ge")
                                            .replace("≤", r"\le") + " b) = 0")


def test_presets_all_trace(client):
    r = client.get("/api/presets")
    assert r.status_code == 200
    presets = r.json()
    assert presets, "no presets"
    for p in presets:
        assert {"id", "title", "expression", "values", "expand", "notes", "backward"} <= set(p)
        expression = p["expression"]
        if p["backward"]:  # the page judges the backward pass and draws the forward part
            b = client.post("/api/backward-check", json={"code": expression, "values": p["values"]})
            assert b.status_code == 200 and b.json()["passed"], (p["id"], b.text)
            expression = expression[:b.json()["forward_end"]]
        c = client.post("/api/circuit", json={
            "expression": expression, "values": p["values"], "expand": p["expand"]})
        assert c.status_code == 200, (p["id"], c.text)


# --- /api/circuit ----------------------------------------------------------------------------

def test_circuit_add_mul_matches_notes(client):
    r = client.post("/api/circuit", json=XYZ)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["value"] == -12.0
    assert body["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert body["expression"] == "(x + y) * z"
    ids = {n["id"] for n in body["nodes"]}
    assert body["output"] in ids
    add = next(n for n in body["nodes"] if n["op"] == "add")
    assert add["kind"] == "gate" and add["value"] == 3.0 and add["grad"] == -4.0
    assert add["local"] == [1.0, 1.0] and add["span"] == [0, 7] and "attrs" not in add
    assert all(i in ids for i in add["inputs"])
    x = next(n for n in body["nodes"] if n["name"] == "x")
    assert x["kind"] == "input" and x["shape"] == [] and x["grad"] == -4.0


def test_a_gates_constants_come_with_it(client):
    """b * 3 and clip(b, -1, 2): each gate carries its constants, named as its formula names
    them; an input, and a gate without constants, carries none."""
    r = client.post("/api/circuit", json={"expression": "f = clip(b * 3, -1, 2) * b",
                                          "values": {"b": 1}})
    nodes = {n["op"]: n for n in r.json()["nodes"]}
    assert nodes["scale"]["attrs"] == {"a": 3.0}
    assert nodes["clip"]["attrs"] == {"lo": -1.0, "hi": 2.0}
    assert "attrs" not in nodes[None] and "attrs" not in nodes["mul"]


def test_circuit_sigmoid_neuron_matches_notes(client):
    r = client.post("/api/circuit", json={**NEURON, "expand": True})
    assert r.status_code == 200
    body = r.json()
    s = 1 / (1 + math.exp(-1.0))  # the dot product is 1 in the notes' example
    assert body["value"] == pytest.approx(s, rel=1e-12)
    local = s * (1 - s)
    expected = {"w0": -1 * local, "x0": 2 * local, "w1": -2 * local, "x1": -3 * local, "w2": local}
    for name, grad in expected.items():
        assert body["gradients"][name] == pytest.approx(grad, rel=1e-9)
    assert {"exp", "recip"} <= {n["op"] for n in body["nodes"]}  # expanded into primitives


def test_circuit_nan_is_strict_json(client):
    r = client.post("/api/circuit", json={"expression": "0/0"})
    assert r.status_code == 200
    body = strict(r.text)
    assert body["value"] == "NaN"
    assert body["warnings"], "a NaN must come with a warning naming its node"


def test_circuit_tensor_with_infinities_and_nan_is_spelled(client):
    r = client.post("/api/circuit", json={"expression": "sum(log(x) * y)",
                                          "values": {"x": [[0, 1], [-1, 2]], "y": 1e308}})
    assert r.status_code == 200
    body = strict(r.text)
    log = next(n for n in body["nodes"] if n["op"] == "log")
    assert log["value"][0] == ["-Infinity", 0.0] and log["value"][1][0] == "NaN"
    assert log["grad"] == [[1e308, 1e308], [1e308, 1e308]] and log["local"] is None
    assert body["gradients"]["x"][0][0] == "Infinity"  # 1e308 / 0
    assert body["value"] == "NaN"


def test_circuit_randn_value(client):
    r = client.post("/api/circuit", json={
        "expression": "sum(W @ x)", "values": {"W": {"randn": [3, 4], "seed": 0},
                                                "x": [1, 2, 3, 4]}})
    assert r.status_code == 200
    body = r.json()
    assert len(body["gradients"]["W"]) == 3 and len(body["gradients"]["W"][0]) == 4
    assert body["gradients"]["W"][0] == [1.0, 2.0, 3.0, 4.0]  # d sum(Wx) / dW = ones * x^T


# The notes' matrix multiply D = W.dot(X) with dD given, and its gradients worked out by hand:
# dW = dD.dot(X.T), dX = W.T.dot(dD).
W, X, dD = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[1.0, -1.0], [2.0, 0.5]], [[1.0, 0.0],
                                                                          [0.0, 2.0],
                                                                          [-1.0, 3.0]]
dW = [[sum(dD[i][k] * X[j][k] for k in range(2)) for j in range(2)] for i in range(3)]
dX = [[sum(W[k][i] * dD[k][j] for k in range(3)) for j in range(2)] for i in range(2)]
MATMUL = {"expression": "D = W @ X", "values": {"W": W, "X": X}}


def test_circuit_backward_pass_starts_from_the_given_output_gradient(client):
    r = client.post("/api/circuit", json={**MATMUL, "grad": dD})
    assert r.status_code == 200
    got = r.json()
    assert got["gradients"] == {"W": dW, "X": dX}
    assert got["warnings"] == []  # no word of ones: the backward pass starts from dD
    ones = client.post("/api/circuit", json=MATMUL).json()
    assert "starts from ones" in ones["warnings"][0]


@pytest.mark.parametrize("path", ["/api/circuit", "/api/gradcheck", "/api/code"])
@pytest.mark.parametrize(("grad", "message"), [
    ([1.0, 2.0], "the output's gradient has shape 2, but the output D has shape 3×2"),
    ({"randn": [2, 3], "seed": 0}, "the output's gradient has shape 2×3, but the output D has "
                                   "shape 3×2")])
def test_output_gradient_of_another_shape_is_400(client, path, grad, message):
    r = client.post(path, json={"expression": "D = W @ X", "grad": grad, "values": {
        "W": {"randn": [3, 4], "seed": 0}, "X": {"randn": [4, 2], "seed": 1}}})
    assert message in assert_problem(r, 400)["detail"]


def test_circuit_value_overriding_a_literal_is_used_and_named_in_a_warning(client):
    program = "x = 3\ny = -4\nf = x * y"
    r = client.post("/api/circuit", json={"expression": program, "values": {"x": 1}})
    assert r.status_code == 200
    body = r.json()
    assert body["value"] == -4.0  # the request's x = 1, not the program's 3
    assert body["warnings"] == ["value for x overrides the code's x = 3"]
    plain = client.post("/api/circuit", json={"expression": program, "values": {}}).json()
    assert plain["value"] == -12.0 and plain["warnings"] == []


# --- /api/gradcheck, /api/code ---------------------------------------------------------------

def test_gradcheck_passes_on_notes_example(client):
    r = client.post("/api/gradcheck", json={**XYZ, "h": 1e-4})
    assert r.status_code == 200
    body = r.json()
    assert body["h"] == 1e-4 and body["passed"] is True
    assert set(body["inputs"]) == {"x", "y", "z"}
    assert body["inputs"]["z"]["analytic"] == 3.0
    assert body["inputs"]["z"]["numeric"] == pytest.approx(3.0, rel=1e-6)
    assert body["inputs"]["x"]["rel_error"] < 1e-6


def test_gradcheck_explains_an_edge_of_a_domain(client):
    """sqrt at 0: an infinite analytic gradient and a NaN numeric one, sent as strings, with a
    note saying why."""
    r = client.post("/api/gradcheck", json={"expression": "sqrt(x)", "values": {"x": 0}})
    assert r.status_code == 200
    x = r.json()["inputs"]["x"]
    assert (x["analytic"], x["numeric"], x["edge"], x["passed"]) == ("Infinity", "NaN", True, True)
    assert "edge of the √ gate's domain" in x["note"] and x["worst"] == []


def test_code_has_forward_backward_source(client):
    r = client.post("/api/code", json=XYZ)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"forward", "backward", "source"}
    assert "dx" in body["backward"] and "dz" in body["backward"]
    assert body["forward"] in body["source"] or body["forward"].splitlines()[0] in body["source"]


def test_gradcheck_is_of_the_given_output_gradient(client):
    """Backprop from dD against central differences of sum(dD * D): both are the drawn ones."""
    r = client.post("/api/gradcheck", json={**MATMUL, "grad": dD})
    assert r.status_code == 200
    body = r.json()
    assert body["passed"] is True
    for name, want in {"W": dW, "X": dX}.items():
        assert body["inputs"][name]["analytic"] == want
        assert body["inputs"][name]["numeric"] == [pytest.approx(row, rel=1e-7) for row in want]


def test_code_starts_its_backward_pass_from_the_given_output_gradient(client):
    r = client.post("/api/code", json={**MATMUL, "grad": dD})
    assert r.status_code == 200
    code = r.json()
    assert "\ndD = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 3.0]])\n" in code["backward"]
    ns: dict = {}
    exec(code["source"], ns)  # noqa: S102 - the gate table's templates and numbers, no user text
    assert (ns["dW"].tolist(), ns["dX"].tolist()) == (dW, dX)


# --- 400: the expression or its values -------------------------------------------------------

def test_circuit_syntax_error_has_position_and_hint(client):
    r = client.post("/api/circuit", json={"expression": "x ^ 2", "values": {"x": 3}})
    body = assert_problem(r, 400)
    assert body["position"]["start"] == 2 and body["position"]["end"] >= 3
    assert "**" in (body.get("hint", "") + body["detail"])


@pytest.mark.parametrize("payload", [
    {"expression": "x * k", "values": {"x": 1}},                    # missing value
    {"expression": "frobnicate(x)", "values": {"x": 1}},            # unknown function
    {"expression": "x @ y", "values": {"x": [1, 2], "y": [1, 2, 3]}},  # shape mismatch
    {"expression": "x" + " + x" * 2600, "values": {"x": 1}},        # over 10,000 characters
    {"expression": "sum(x)", "values": {"x": {"randn": [2**62, 4]}}},  # 2**64 elements
])
def test_circuit_bad_expression_is_400(client, payload):
    assert_problem(client.post("/api/circuit", json=payload), 400)


@pytest.mark.parametrize("empty", [[], [[], []]])
def test_an_empty_list_value_is_400_as_in_the_code(client, empty):
    """An empty list holds no numbers: refused as the same list written in the code is (mean
    of it was NaN, with numpy's warning in the log)."""
    r = client.post("/api/circuit", json={"expression": "mean(x)", "values": {"x": empty}})
    assert assert_problem(r, 400)["detail"] == "x: an empty list; a list needs at least one number"


def test_circuit_missing_values_are_named_and_pointed_at(client):
    r = client.post("/api/circuit", json={"expression": "x * k + m", "values": {"x": 1}})
    body = assert_problem(r, 400)
    assert body["type"] == "urn:chainrule:problem:expression"
    assert body["missing"] == ["k", "m"]
    assert "k" in body["detail"] and "m" in body["detail"]
    assert body["position"] == {"start": 4, "end": 5}  # the first name without a value


@pytest.mark.parametrize("route", ["/api/gradcheck", "/api/code"])
def test_other_posts_report_expression_errors(client, route):
    r = client.post(route, json={"expression": "(x +", "values": {"x": 1}})
    assert "position" in assert_problem(r, 400)


# --- 413, 422, 404, 405, 500, 503 ------------------------------------------------------------

def test_two_megabyte_body_is_413(client):
    big = json.dumps({"expression": "x", "values": {"x": [1.0] * 500_000}})
    assert len(big) > 2_000_000
    r = client.post("/api/circuit", content=big,
                          headers={"content-type": "application/json"})
    assert "1,000,000" in assert_problem(r, 413)["detail"]


def test_streamed_body_without_length_is_413(client):
    async def chunks():
        yield b'{"expression": "x", "values": {"x": ['
        for _ in range(300):
            yield b"1.0, " * 1000
        yield b"1.0]}}"

    r = client.post("/api/circuit", content=chunks(),
                          headers={"content-type": "application/json"})
    assert_problem(r, 413)


@pytest.mark.parametrize("payload", [
    {"expression": 42},
    {"values": {"x": 1}},
    {"expression": "x", "values": {"x": "one"}},
    {"expression": "x", "values": {"x": {"randn": [0]}}},
    {"expression": "x", "expand": "yes"},
    {"expression": "x", "colour": "red"},
])
def test_circuit_schema_mismatch_is_422(client, payload):
    body = assert_problem(client.post("/api/circuit", json=payload), 422)
    assert body["errors"] and all({"loc", "msg", "type"} == set(e) for e in body["errors"])


@pytest.mark.parametrize(("value", "detail"), [
    # meant as a random tensor: what is wrong with it, not that it is no integer
    ({"randn": [2, 2], "seed": -1}, "body.values.x.seed: Input should be greater than or equal "
                                    "to 0 (and 3 more)"),
    ({"randn": [0]}, "body.values.x.randn.0: Input should be greater than 0 (and 3 more)"),
    ({"randn": [2], "sed": 1}, "body.values.x.sed: Extra inputs are not permitted (and 3 more)"),
    # ... also when the mistake inside it is one of kind (a string for the shape or the seed)
    ({"randn": "a"}, "body.values.x.randn: Input should be a valid list (and 3 more)"),
    ({"randn": [2], "seed": "a"}, "body.values.x.seed: Input should be a valid integer "
                                  "(and 3 more)"),
    # of no member's kind: what a value may be, at the element that is not one
    ("3", "body.values.x: expected a number or a list of numbers (and 3 more)"),
    (True, "body.values.x: expected a number or a list of numbers (and 3 more)"),
    (None, "body.values.x: expected a number or a list of numbers (and 3 more)"),
    ([[1, 2], [3, "4"]], "body.values.x.1.1: expected a number or a list of numbers (and 7 more)"),
    # a number out of range: the number's own error
    ([1, -(10**400)], "body.values.x.1: an integer beyond ±1.8e308 (the largest float) has no "
                      "float64 value (and 5 more)"),
])
def test_422_detail_leads_with_the_member_the_value_was_meant_as(client, value, detail):
    raw = json.dumps({"expression": "sum(x)", "values": {"x": value}})
    r = client.post("/api/circuit", content=raw, headers={"content-type": "application/json"})
    body = assert_problem(r, 422)
    assert body["detail"] == detail
    assert len(body["errors"]) == int(detail.split("(and ")[1].split()[0]) + 1


@pytest.mark.parametrize(("raw", "detail"), [
    (b'{"expression": ', "line 1, column 16: Expecting value"),
    (b'{"expression": "x",\n "values": {"x": 1,}}', "line 2, column 20: Expecting property "
                                                   "name enclosed in double quotes"),
    (b'{"expression": "x"} {}', "line 1, column 21: Extra data"),
    ('{"expression": "é",\n\t"values": [}'.encode(), "line 2, column 13: Expecting value"),
])
def test_malformed_json_is_422_saying_where(client, raw, detail):
    r = client.post("/api/circuit", content=raw, headers={"content-type": "application/json"})
    body = assert_problem(r, 422)
    assert body["detail"] == f"body: not valid JSON at {detail}"
    with pytest.raises(json.JSONDecodeError) as err:
        json.loads(raw)
    assert (err.value.lineno, err.value.colno) == tuple(
        int(n.strip(",")) for n in detail.split(":")[0].split()[1::2])
    assert body["errors"] == [{"loc": ["body", err.value.pos], "msg": "JSON decode error",
                               "type": "json_invalid"}]  # as before


def test_body_that_is_not_utf8_is_422(client):
    r = client.post("/api/circuit", content=b'\x1f\x8b\xff{"expression": "x"}',
                    headers={"content-type": "application/json"})
    assert assert_problem(r, 422)["errors"][0]["loc"] == ["body"]


# JSON may escape a lone surrogate, "\ud800", which is no character: UTF-8 cannot carry it
@pytest.mark.parametrize(("raw", "status"), [
    ('{"expression": "\\ud800 + x"}', 400),  # the tokenizer names it
    ('{"expression": "x # \\ud800", "values": {"x": 1}}', 200),  # echoed in "expression"
    ('{"expression": "x", "values": {"x": 1, "\\ud800": 2}}', 200),  # named in a warning
    ('{"expression": "x", "values": {"\\ud800": "two"}}', 422),  # in a place of the body
    ('{"code": "x = 1\\nf = x\\ndx = 1", "values": {"\\udfff": 1}}', 200),
])
def test_a_lone_surrogate_is_answered_and_echoed_as_sent(client, raw, status):
    path = "/api/backward-check" if '"code"' in raw else "/api/circuit"
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    if status != 200:
        assert_problem(r, status)
    assert r.status_code == status, r.text
    sent = json.loads(raw)
    if "expression" in r.json():
        assert r.json()["expression"] == sent["expression"]
    if status == 400:
        assert r.json()["position"] == {"start": 0, "end": 1}


@pytest.mark.parametrize("values", [{"x": 10**400}, {"x": [1, -(10**400)]}])
def test_circuit_integer_beyond_the_largest_float_is_422(client, values):
    # JSON integers have no size limit; float64 has: this was a 500 (OverflowError)
    raw = json.dumps({"expression": "sum(x)", "values": values})
    r = client.post("/api/circuit", content=raw, headers={"content-type": "application/json"})
    detail = assert_problem(r, 422)["detail"]
    # such an integer has no float64 value (read as a float, it is infinite)
    assert detail.startswith("body.values.x")
    assert "largest float" in detail or "finite number" in detail


@pytest.mark.parametrize("h", [0, -1e-5, 1e-11, 5e-324, 1.5, 1e308])
def test_gradcheck_step_outside_its_bounds_is_422(client, h):
    body = assert_problem(client.post("/api/gradcheck", json={**XYZ, "h": h}), 422)
    assert body["errors"][0]["loc"][-1] == "h"


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a numpy warning in the worker fails
@pytest.mark.parametrize("h", [1e-10, 1])
@pytest.mark.parametrize(("expression", "values"), [
    ("exp(x)", {"x": 710}),                      # inf on both sides of x
    ("x * y", {"x": 1e308, "y": 10}),
    ("x", {"x": 1.7976931348623157e308}),       # the largest float
    ("1 / x", {"x": 0}),
])
def test_gradcheck_at_the_bounds_of_h_overflows_quietly(client, h, expression, values):
    r = client.post("/api/gradcheck", json={"expression": expression, "values": values, "h": h})
    assert r.status_code == 200, r.text
    assert strict(r.text)["h"] == h


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/static/nope.js",
                                  "/vendor/katex/nope.js", "/vendor/commander/package.json",
                                  "/vendor/katex/%2e%2e/%2e%2e/package.json",
                                  "/vendor/katex/..%2f..%2fpackage.json"])
def test_unknown_path_is_404(client, path):
    assert_problem(client.get(path), 404)


def test_a_browser_at_an_unknown_address_gets_a_page_with_the_links(client):
    """A browser asks for text/html: it is shown a page (404) that names the address, escaped,
    and links every page; under /api it gets the problem+json any client gets."""
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = client.get("/lab/<gradients>", headers=html)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "/lab/&lt;gradients&gt;" in r.text and "<gradients>" not in r.text
    for href in ("/", "/labs/gradients", "/labs/descent", "/labs/training", "/docs"):
        assert f'href="{href}"' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert_problem(client.get("/api/nope", headers=html), 404)
    assert_problem(client.get("/api", headers=html), 404)
    assert_problem(client.post("/nope", headers=html), 404)


def test_wrong_method_is_405(client):
    r = client.get("/api/circuit")
    assert_problem(r, 405)
    assert "POST" in r.headers["allow"]
    assert_problem(client.delete("/healthz"), 405)


def test_unexpected_error_is_500_without_traceback(client_for):
    app = create_app(Settings())

    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", boom)
    body = assert_problem(client_for(app).get("/boom"), 500)
    assert "secret" not in json.dumps(body)


def test_slow_request_hits_time_limit(client_for):
    app = create_app(Settings(time_limit=0.001))
    # ~3 million multiply-adds in all, ~60,000 numbers to send: more than a millisecond.
    heavy = {"expression": "sum(exp(W @ V / 400))",
             "values": {"W": {"randn": [60, 400]}, "V": {"randn": [400, 60]}}}
    c = client_for(app)
    body = assert_problem(c.post("/api/circuit", json=heavy), 503)
    assert "0.001 s" in body["detail"]
    assert c.get("/healthz").status_code == 200  # the service goes on answering


def test_time_limit_from_environment(monkeypatch):
    monkeypatch.setenv("CHAINRULE_TIME_LIMIT", "2.5")
    assert Settings.from_env().time_limit == 2.5
    monkeypatch.setenv("CHAINRULE_TIME_LIMIT", "soon")
    with pytest.raises(ValueError, match="CHAINRULE_TIME_LIMIT"):
        Settings.from_env()


# --- pages, vendor files, docs, request log --------------------------------------------------

def test_pages_render_templates_with_prefixes(client, tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text("{{ vendor }}|{{ static }}")
    (tmp_path / "lab_gradients.html").write_text("lab {{ vendor }}")
    monkeypatch.setattr(pages, "templates", pages.Jinja2Templates(directory=tmp_path))
    r = client.get("/")
    assert r.status_code == 200 and r.text == "/vendor|/static"
    assert (client.get("/labs/gradients")).text == "lab /vendor"


def test_missing_page_template_is_404(client, tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "templates", pages.Jinja2Templates(directory=tmp_path))
    assert_problem(client.get("/labs/gradients"), 404)


def test_vendor_serves_the_files_the_pages_load(client):
    r = client.get("/vendor/@observablehq/plot/dist/plot.umd.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    r = client.get("/vendor/katex/dist/katex.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    r = client.get("/vendor/katex/dist/fonts/KaTeX_Main-Regular.woff2")
    assert r.status_code == 200 and r.headers["content-type"] == "font/woff2"


@pytest.mark.parametrize("path", ["@observablehq/plot/package.json", "katex/README.md",
                                  "swagger-ui-dist/index.html", "katex/dist/contrib/x.js",
                                  "d3/package.json", "katex/dist/" + "a" * 300 + ".js"])
def test_vendor_serves_nothing_else(client, path):
    assert_problem(client.get("/vendor/" + path), 404)


def test_pages_have_one_inline_script_the_import_map_and_it_resolves(client):
    from app.security import IMPORT_MAP

    for page in ("/", "/labs/gradients"):
        html = client.get(page).text
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
        assert [attrs.strip() for attrs, _ in inline] == ['type="importmap"'], page
        assert json.loads(inline[0][1]) == IMPORT_MAP
        assert not re.search(r"\son[a-z]+=", html), f"{page} has an inline event handler"
    for name, url in IMPORT_MAP["imports"].items():
        r = client.get(url)
        assert r.status_code == 200, name
        assert r.headers["content-type"].startswith("text/javascript"), name


def test_docs_is_local_swagger_ui(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert "swagger-ui" in r.text
    assert not re.findall(r"https?://", r.text), "the docs page must not load anything remote"
    for asset in re.findall(r'(?:src|href)="(/vendor/[^"]+)"', r.text):
        assert (client.get(asset)).status_code == 200, asset


def test_openapi_documents_errors_as_problem_json(client):
    spec = (client.get("/openapi.json")).json()
    circuit = spec["paths"]["/api/circuit"]["post"]
    for status in ("400", "413", "422", "503"):
        assert "application/problem+json" in circuit["responses"][status]["content"]
    assert spec["components"]["schemas"]["CircuitRequest"]["examples"]
    for path in ("/api/circuit", "/api/gradcheck", "/api/code", "/api/presets", "/api/ops",
                 "/healthz"):
        assert path in spec["paths"]


def test_the_api_docs_list_each_operation_once(client):
    spec = (client.get("/openapi.json")).json()
    tags = {f"{verb} {path}": op.get("tags", []) for path, ops in spec["paths"].items()
            for verb, op in ops.items()}
    assert {k: t for k, t in tags.items() if len(t) != 1} == {}
    assert tags["post /api/descent"] == ["circuit"]


def test_requests_are_logged(client):
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    log = logging.getLogger("chainrule.request")
    log.addHandler(handler)
    try:
        client.get("/healthz")
        client.get("/nope")
    finally:
        log.removeHandler(handler)
    assert re.fullmatch(r"GET /healthz 200 \d+\.\dms", records[0])
    assert records[1].startswith("GET /nope 404 ")


def test_gradcheck_of_big_tensor_samples_and_fits_schema(client):
    from app.schemas import GradcheckResponse

    r = client.post("/api/gradcheck", json={"expression": "sum(W * W)",
                                            "values": {"W": {"randn": [10, 10], "seed": 1}}})
    assert r.status_code == 200
    body = r.json()
    assert body["passed"] is True
    GradcheckResponse.model_validate(body)  # unsampled elements are null, and documented so


def test_strict_json_never_writes_a_nan_literal():
    import numpy as np

    from app.responses import dumps
    from engine.circuit import jsonable

    nan, inf = float("nan"), float("inf")
    data = {"a": [1.5, nan, None], "b": np.array([inf, -inf]), "c": np.float64(nan)}
    assert strict(dumps(jsonable(data))) == {
        "a": [1.5, "NaN", None], "b": ["Infinity", "-Infinity"], "c": "NaN"}
    assert strict(dumps(data)) == {"a": [1.5, None, None], "b": [None, None], "c": None}
    assert strict(dumps({"big": 2**70, "x": -inf})) == {"big": 2**70, "x": "-Infinity"}
    assert strict(dumps({"x": [1.0, 2.0], "s": "é"})) == {"x": [1.0, 2.0], "s": "é"}


def test_many_requests_stopped_by_the_time_limit_leave_no_500_and_no_lost_worker():
    import asyncio

    from anyio.from_thread import start_blocking_portal

    heavy = ("/api/labs/gradient-flow", {"depth": 20, "width": 256, "batch": 64})
    light = ("/api/circuit", XYZ)

    async def storm(app, requests):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            replies = await asyncio.gather(*(c.post(path, json=body) for path, body in requests))
        return [r.status_code for r in replies]

    with start_blocking_portal() as portal:
        # stops land anywhere: in the engine, in numpy calls, as work returns
        statuses = portal.call(storm, create_app(Settings(time_limit=0.02)),
                               [heavy, light, light] * 12)
        assert set(statuses) <= {200, 503}, statuses
        assert 503 in statuses
        # every worker thread is still there to serve the next requests
        statuses = portal.call(storm, create_app(Settings()), [light] * 40)
        assert statuses == [200] * 40
