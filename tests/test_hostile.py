"""The hostile requests of issue 11 against a live server (`chainrule serve`, short time limits):
each gets a 4xx, or a 503 at its time limit; the server's processes stay small; /healthz stays
fast while they run, measured against /healthz at rest (a ratio, not a time)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

TIME_LIMIT = 1.0
TIMEOUTS = 0.5  # for headers and body
MAX_CONNECTIONS = 40
GB = 2**30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(port: int, raw: bytes, timeout: float = 60) -> str:
    """Send raw bytes on a new connection: the status of the answer, or "closed"."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        try:
            s.sendall(raw)
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    return data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "closed"


def post(path: str, body: dict | str, length: int | None = None) -> bytes:
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data) if length is None else length}\r\n"
            "Connection: close\r\n\r\n").encode() + data


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        chainrule = Path(sys.executable).parent / "chainrule"
        env = {**os.environ, "CHAINRULE_TIME_LIMIT": str(TIME_LIMIT),
               "CHAINRULE_HEADER_TIMEOUT": str(TIMEOUTS),
               "CHAINRULE_BODY_TIMEOUT": str(TIMEOUTS),
               "CHAINRULE_MAX_CONNECTIONS": str(MAX_CONNECTIONS)}
        self.proc = subprocess.Popen([str(chainrule), "serve", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.log: list[str] = []
        threading.Thread(target=self._read_log, daemon=True).start()
        for _ in range(300):
            try:
                if exchange(self.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n", 5) == "200":
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not come up")

    def _read_log(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line.decode(errors="replace"))

    def rss(self) -> list[int]:
        """Resident bytes of the server and every process under it."""
        sizes, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/statm") as f:
                    sizes.append(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return sizes

    def healthz(self, conn: list[socket.socket]) -> float:
        """Seconds for one /healthz on the keep-alive connection conn[0]; a new connection if
        the server closed it (0.5 s without a request, when the probe was not scheduled)."""
        for _ in range(2):
            start = time.perf_counter()
            try:
                conn[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while not data.endswith(b'{"status":"ok"}'):
                    chunk = conn[0].recv(4096)
                    if not chunk:
                        raise ConnectionError
                    data += chunk
                return time.perf_counter() - start
            except OSError:
                conn[0].close()
                conn[0] = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        raise AssertionError("/healthz did not answer twice in a row")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def under_attack(server: Server, attack: Callable[[], object]) -> tuple[object, float, int]:
    """Run `attack` while /healthz is probed every 50 ms: its result, the worst probe latency
    as a ratio to the worst of 40 probes at rest, and the peak RSS of any one server process.
    (At rest the worst is the machine's own noise: other processes share its cores.)"""
    conn = [socket.create_connection(("127.0.0.1", server.port), timeout=30)]
    try:
        idle = max(server.healthz(conn) for _ in range(40))
        worst, peak, done = 0.0, 0, threading.Event()

        def probe() -> None:
            nonlocal worst, peak
            while not done.is_set():
                worst = max(worst, server.healthz(conn))
                peak = max(peak, *server.rss())
                time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            result = attack()
        finally:
            done.set()
            prober.join()
    finally:
        conn[0].close()
    return result, worst / max(idle, 1e-3), peak


# Worst /healthz under attack, to the worst at rest: an event loop blocked for the seconds a
# computation takes (the 10 KB parse held it 2.7 s) shows as a ratio in the thousands; a machine
# whose two cores are shared with the workers and with other busy programs, as up to ~100.
RATIO = 200


# (the gate limit of an expanded program is found after parsing 10 KB: in a worker, which may
# take longer than this server's 1 s time limit on a busy machine; tests/test_cost.py has its 400)
@pytest.mark.parametrize(("name", "body"), [
    ("a broadcast of 512 million numbers", {"expression": "sum(A + B)", "values": {
        "A": {"randn": [800, 1, 800]}, "B": {"randn": [1, 800, 1]}}}),
    ("an outer product of 100 million", {"expression": "A @ B", "values": {
        "A": {"randn": [10000, 1]}, "B": {"randn": [1, 10000]}}}),
    ("a 49 MB response", {"expression": "sum(log(W))",
                          "values": {"W": {"randn": [700, 700]}}}),
    ("expand past the gate limit", {"expression": "+".join(["tanh(x)"] * 1249),
                                    "values": {"x": 1}, "expand": True}),
])
def test_a_request_over_budget_is_400_before_any_work(server, name, body):
    status, ratio, peak = under_attack(server, lambda: exchange(
        server.port, post("/api/circuit", body)))
    assert status == "400" or (status == "503" and "expand" in name), name
    assert ratio < RATIO and peak < GB


def test_sixteen_ten_kilobyte_parses_answer_503_and_the_server_goes_on(server):
    def attack():
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(lambda i: exchange(server.port, post(
                "/api/circuit", {"expression": "9" * (9999 - i)}), TIME_LIMIT + 30), range(16)))

    statuses, ratio, peak = under_attack(server, attack)
    assert set(statuses) <= {"400", "503"}
    assert ratio < RATIO and peak < GB


def test_slow_gradchecks_answer_503_and_the_server_goes_on(server):
    body = {"expression": "sum(tanh(W @ V))",
            "values": {"W": {"randn": [450, 450]}, "V": {"randn": [450, 450]}}}

    def attack():
        with ThreadPoolExecutor(12) as pool:
            return list(pool.map(lambda i: exchange(
                server.port, post("/api/gradcheck", body), TIME_LIMIT + 30), range(12)))

    statuses, ratio, peak = under_attack(server, attack)
    assert set(statuses) == {"503"}
    assert ratio < RATIO and peak < GB
    assert exchange(server.port, post("/api/circuit", {"expression": "2 * 3"})) == "200"


def test_a_body_shorter_than_its_length_is_408(server):
    assert exchange(server.port, post("/api/circuit", '{"expression": "x",', length=1000)) \
        == "408"


def test_a_client_that_leaves_mid_body_is_logged_as_one_info_line(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(post("/api/circuit", '{"expression": "x",', length=1000))
        time.sleep(0.1)
    deadline = time.monotonic() + 30  # a bound against hanging, not a timing assertion
    while not any(" 499 " in line for line in server.log) and time.monotonic() < deadline:
        time.sleep(0.05)
    (line,) = [line for line in server.log if " 499 " in line]
    assert "POST /api/circuit 499" in line and "client disconnected" in line
    assert not any("Traceback" in line or "ERROR" in line for line in server.log)


def test_headers_sent_a_byte_at_a_time_get_408_and_a_close(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        data = b""
        for _ in range(600):  # a header byte every 50 ms, until the server answers
            try:
                s.sendall(b"X")
            except OSError:
                break
            s.settimeout(0.05)
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 ") and b"application/problem+json" in data


def test_a_refused_client_still_sending_reads_its_answer(server):
    """The server answers a malformed request at once, but the client goes on sending a
    megabyte: closing with those bytes unread would reset the connection, losing the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"NOT HTTP\r\n" + b"X" * 2**20)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 ") and b"application/problem+json" in data


def test_an_idle_connection_is_closed(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 408 ")
        assert s.recv(4096) == b""  # closed


def test_past_the_connection_cap_a_new_connection_gets_503(server):
    """The server's busy problem, which a page may ask again after a moment."""
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=30)
             for _ in range(MAX_CONNECTIONS + 5)]
    try:
        answers = []
        for s in socks:
            data = s.recv(4096)
            answers.append(data.split(b" ", 2)[1] if data else b"closed")
            if answers[-1] == b"503":
                while more := s.recv(4096):  # the whole answer: the server closes after it
                    data += more
                head, body = data.split(b"\r\n\r\n", 1)
                assert b"\r\nretry-after: 1\r\n" in head
                assert json.loads(body)["type"] == "urn:chainrule:problem:busy"
        assert answers.count(b"503") >= 5 and set(answers) <= {b"503", b"408"}
    finally:
        for s in socks:
            s.close()
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert exchange(server.port, get) == "200"
