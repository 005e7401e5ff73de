"""POST /api/labs/train: lines streamed from a worker process, which stops with its reader."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from helpers import assert_problem, gone, strict

from app import lanes
from app.main import create_app
from app.settings import Settings


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The app on a free loopback port, served by uvicorn in a thread of this process (so the
    test can see the worker processes it starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(train_limit=30))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def wait_until_gone(pid: int) -> bool:
    for _ in range(200):  # polled, not timed: up to ~10 s
        if gone(pid) and pid not in lanes.STREAMS:
            return True
        time.sleep(0.05)
    return False


def test_train_streams_lines_as_they_come_and_a_client_that_goes_away_stops_the_worker(
        server):
    body = {"dataset": "spiral", "hidden": 100, "epochs": 100_000}
    with httpx.stream("POST", f"{server}/api/labs/train", json=body, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = r.iter_lines()
        first = strict(next(lines))
        # the first line is here while the work that makes the others still goes on
        (pid,) = lanes.STREAMS
        assert not gone(pid)
        assert first["start"] and first["iterations"] == 100_000
        assert "epoch" in strict(next(lines)) and not gone(pid)
    # the response is closed: the connection is gone mid-training, and so is the worker
    assert wait_until_gone(pid)


def test_a_whole_training_stream(client):
    r = client.post("/api/labs/train", json={"dataset": "spiral", "hidden": 20, "epochs": 300})
    assert r.status_code == 200
    first, *rest = [strict(line) for line in r.text.splitlines()]
    assert first["start"] and first["dataset"] == "spiral" and len(first["points"]) == 300
    assert first["params"] == {"W1": [2, 20], "b1": [20], "W2": [20, 3], "b2": [3]}
    progress = [line for line in rest if "epoch" in line]
    assert len(progress) >= 100
    assert [p["iteration"] for p in progress] == sorted(p["iteration"] for p in progress)
    assert max(max(p["check"].values()) for p in progress) < 1e-12
    done = rest[-1]
    assert done["done"] and done["stopped"] == "epochs" and done["epochs"] == 300
    assert done["accuracy"] == progress[-1]["accuracy"] > 0.4
    assert not lanes.STREAMS


def test_training_stops_at_its_time_limit_with_a_last_line(client_for):
    client = client_for(create_app(Settings(train_limit=3)))
    r = client.post("/api/labs/train", json={"hidden": 100, "epochs": 100_000})
    assert r.status_code == 200
    lines = [strict(line) for line in r.text.splitlines()]
    assert lines[-1]["done"] and lines[-1]["stopped"] == "time limit"
    assert "3 s" in lines[-1]["error"]
    assert not lanes.STREAMS


def test_a_training_beyond_the_running_ones_is_refused_with_503(client, monkeypatch):
    from app.routers import labs

    monkeypatch.setattr(labs, "_trainings", labs.TRAININGS)
    r = client.post("/api/labs/train", json={"epochs": 10})
    problem = assert_problem(r, 503)
    assert "4 trainings are running already" in problem["detail"]
    # the busy problem the README describes, after a training's kind of wait
    assert problem["type"] == "urn:chainrule:problem:busy" and problem["title"] == "Busy"
    assert r.headers["retry-after"] == "10"


def test_trainings_asked_for_at_once_are_refused_past_the_limit(server):
    """Each training counts from its request on: the requests that come while the first
    workers start are refused past TRAININGS, as they are once those run."""
    from app.routers import labs

    asked = labs.TRAININGS + 2
    for pid in list(lanes.STREAMS):  # the trainings of earlier tests have ended
        assert wait_until_gone(pid)
    statuses, pids = [], []
    sent = threading.Barrier(asked)
    # every answer is in before any stream ends: the workers running then are the admitted ones
    answered = threading.Barrier(asked, action=lambda: pids.extend(lanes.STREAMS))

    def train() -> None:
        sent.wait(timeout=60)
        with httpx.stream("POST", f"{server}/api/labs/train", timeout=60,
                          json={"dataset": "spiral", "epochs": 100_000}) as r:
            statuses.append(r.status_code)
            answered.wait(timeout=60)

    threads = [threading.Thread(target=train) for _ in range(asked)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * labs.TRAININGS + [503] * 2
    assert len(pids) == labs.TRAININGS and all(wait_until_gone(pid) for pid in pids)


def test_the_train_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHAINRULE_TRAIN_LIMIT", "12.5")
    assert Settings.from_env().train_limit == 12.5
    monkeypatch.setenv("CHAINRULE_TRAIN_LIMIT", "-1")
    with pytest.raises(ValueError, match="CHAINRULE_TRAIN_LIMIT"):
        Settings.from_env()


@pytest.mark.parametrize("body, words", [
    ({"dataset": "mnist"}, "dataset"),
    ({"hidden": -1}, "hidden"),
    ({"hidden": 5000}, "hidden"),
    ({"activation": "gelu"}, "activation"),
    ({"init": "zeros"}, "init"),
    ({"lr": 0}, "lr"),
    ({"lr": "NaN"}, "lr"),
    ({"reg": -0.1}, "reg"),
    ({"batch": -5}, "batch"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1.5}, "epochs"),
    ({"seed": -1}, "seed"),
    ({"bias": "yes"}, "bias"),
    ({"dataset": "digits", "batch": 1, "epochs": 100}, "iterations"),
    ({"dataset": "digits", "hidden": 1000, "epochs": 5000}, "hidden units"),
    ({"momentum": 0.9}, "momentum"),
])
def test_train_bad_bodies_are_problems_that_say_what(client, body, words):
    problem = assert_problem(client.post("/api/labs/train", json=body), 422)
    assert words in problem["detail"], problem
    assert not lanes.STREAMS


def test_train_body_that_is_not_json_is_a_problem(client):
    r = client.post("/api/labs/train", content=b"{epochs: 5",
                    headers={"content-type": "application/json"})
    assert_problem(r, 422)


def test_a_worker_whose_function_raises_reports_it_and_is_gone():
    from anyio.from_thread import start_blocking_portal

    from app.routers.labs import train_job

    async def drain() -> list[dict]:
        return [item async for item in lanes.stream_in_worker(train_job, {"dataset": "nope"},
                                                              limit=30)]

    # a portal's own loop: the browser tests keep an event loop running in this thread
    with start_blocking_portal() as portal, pytest.raises(RuntimeError,
                                                          match="unknown data set 'nope'"):
        portal.call(drain)
    assert not lanes.STREAMS


def test_a_training_whose_worker_is_starting_counts_once(monkeypatch):
    """From its worker's start to its first line a training is running: it counts once, so
    the trainings asked for alongside it are admitted up to the limit."""
    from app.routers import labs

    async def trainings() -> tuple[int, int]:
        started, go_on = asyncio.Event(), asyncio.Event()

        async def worker(fn, params, limit):  # stream_in_worker, the first line held
            pid = -params["seed"]
            lanes.STREAMS.add(pid)
            try:
                if params["seed"] == 1:
                    started.set()
                    await go_on.wait()
                yield {"start": True}
            finally:
                lanes.STREAMS.discard(pid)

        monkeypatch.setattr(labs, "stream_in_worker", worker)
        monkeypatch.setattr(labs, "TRAININGS", 2)
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            first = asyncio.create_task(c.post("/api/labs/train", json={"seed": 1}))
            await started.wait()
            second = await c.post("/api/labs/train", json={"seed": 2})
            go_on.set()
            return (await first).status_code, second.status_code

    assert asyncio.run(trainings()) == (200, 200)
    assert not lanes.STREAMS


# --- GET /api/labs/datasets/{name}: the data before training -------------------------------------

@pytest.mark.parametrize("name, seed", [("spiral", 0), ("circles", 7), ("digits", 3)])
def test_a_data_set_is_the_one_a_training_with_its_seed_starts_on(client, name, seed):
    r = client.get(f"/api/labs/datasets/{name}", params={"seed": seed})
    assert r.status_code == 200, r.text
    data = strict(r.text)
    train = client.post("/api/labs/train", json={"dataset": name, "seed": seed, "hidden": 0,
                                                 "epochs": 1})
    first = strict(train.text.splitlines()[0])
    assert data == {k: first[k] for k in data}
    assert set(data) == {"dataset", "train_size", "test_size", "features", "classes", "points"}


def test_a_data_set_says_its_sizes_and_2d_data_its_points(client):
    spiral = client.get("/api/labs/datasets/spiral").json()  # seed 0
    assert (spiral["train_size"], spiral["test_size"], spiral["features"], spiral["classes"]) == (
        300, 0, 2, 3)
    assert len(spiral["points"]) == 300 and {p[2] for p in spiral["points"]} == {0, 1, 2}
    assert client.get("/api/labs/datasets/spiral?seed=1").json()["points"] != spiral["points"]
    digits = client.get("/api/labs/datasets/digits").json()
    assert digits == {"dataset": "digits", "train_size": 1437, "test_size": 360, "features": 64,
                      "classes": 10, "points": None}


@pytest.mark.parametrize("url, where", [
    ("/api/labs/datasets/moons", "path.name: Input should be 'spiral', 'digits', 'circles' or"),
    ("/api/labs/datasets/xor?seed=-1", "query.seed: Input should be greater than or equal to 0"),
    ("/api/labs/datasets/xor?seed=4294967296", "query.seed: Input should be less than or equal"),
    ("/api/labs/datasets/xor?seed=one", "query.seed: Input should be a valid integer"),
])
def test_a_bad_data_set_name_or_seed_is_a_problem_that_names_it(client, url, where):
    problem = assert_problem(client.get(url), 422)
    assert problem["detail"].startswith(where), problem["detail"]


def test_the_data_set_route_is_documented(client):
    spec = client.get("/openapi.json").json()
    get = spec["paths"]["/api/labs/datasets/{name}"]["get"]
    assert get["tags"] == ["labs"]
    assert get["parameters"][0]["schema"]["enum"] == ["spiral", "digits", "circles", "xor"]
    assert "application/problem+json" in get["responses"]["422"]["content"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DatasetResponse")
