"""The hostile requests of issue 11 against a live server, with a /healthz probe at 10 Hz.

Starts `chainrule serve` (one uvicorn worker, the default four worker processes) on a free
loopback port, measures /healthz at rest, then sends each bomb in turn while the probe runs and
the resident memory of every server process is sampled. Per bomb it prints: what the client got,
the seconds until it got it, the peak RSS of the largest single server process (and of all of
them), the worst probe latency with its ratio to the idle median, and the CPU seconds the event
loop's thread spent (unlike the probe's latency, this does not grow with the machine's load).

    .venv/bin/python bench/abuse.py [--only NAME] [--time-limit 5] [--timeouts 3]

Targets: every 503 within 1 s of the time limit, probe latency never above 10x idle, peak RSS
under 1 GB for any one process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from api import free_port  # noqa: E402


def raw_post(path: str, body: dict | str, *, content_type: str = "application/json",
             length: int | None = None) -> bytes:
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data) if length is None else length}\r\n"
            "Connection: close\r\n\r\n").encode() + data


def raw_get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


def exchange(port: int, raw: bytes, timeout: float = 60) -> tuple[str, float]:
    """Send raw bytes on a new connection; (status or "closed", seconds until the answer)."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "closed"
    return status, time.perf_counter() - start


class Server:
    """`chainrule serve` in a subprocess, its log in a temporary file."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        chainrule = Path(sys.executable).parent / "chainrule"
        self.proc = subprocess.Popen(
            [str(chainrule), "serve", "--port", str(self.port)], stdout=subprocess.DEVNULL,
            stderr=self.log, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"})
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited")
            try:
                if exchange(self.port, raw_get("/healthz"), 2)[0] == "200":
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not come up")

    def pids(self) -> list[int]:
        """The server and every process under it (the fork server, the workers)."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return out

    def rss(self) -> list[int]:
        """Resident bytes of each server process."""
        sizes = []
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/statm") as f:
                    sizes.append(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
            except OSError:
                pass
        return sizes

    def loop_cpu(self) -> float:
        """CPU seconds of the server's main thread, the event loop's."""
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.unlink(self.log.name)


class Probe(threading.Thread):
    """GET /healthz every 0.1 s on a keep-alive connection from a process of its own (the
    bombs' threads must not delay it), and the RSS of the server's processes: samples of
    (time, latency, largest RSS, total RSS)."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float, int, int]] = []
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--probe", str(server.port), str(server.proc.pid)],
            stdout=subprocess.PIPE, text=True)

    def run(self) -> None:
        for line in self.proc.stdout:
            tick, latency, largest, total = line.split()
            self.samples.append((float(tick), float(latency), int(largest), int(total)))

    def stop(self) -> None:
        self.proc.terminate()
        self.join()

    def window(self, start: float, end: float) -> tuple[float, int, int]:
        """Worst latency, peak largest RSS, peak total RSS between start and end."""
        inside = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        return (max(s[1] for s in inside), max(s[2] for s in inside),
                max(s[3] for s in inside))


def run_probe(port: int, pid: int) -> None:
    """The probe process: one line per sample on stdout, until terminated."""
    server = Server.__new__(Server)
    server.port, server.proc = port, SimpleNamespace(pid=pid)
    raw, conn = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", None
    while True:
        tick = time.perf_counter()
        latency = float("nan")
        for _ in range(2):  # the server may have closed an idle connection: one retry
            try:
                if conn is None:
                    conn = socket.create_connection(("127.0.0.1", port), 30)
                start = time.perf_counter()
                conn.sendall(raw)
                data = b""
                while not data.endswith(b'{"status":"ok"}'):
                    chunk = conn.recv(4096)
                    if not chunk:
                        raise ConnectionError
                    data += chunk
                latency = time.perf_counter() - start
                break
            except OSError:
                if conn is not None:
                    conn.close()
                conn = None
        sizes = server.rss() or [0]
        print(tick, latency, max(sizes), sum(sizes), flush=True)
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))


# --- the bombs: each sends its requests and says what came back ------------------------------

XYZ = {"expression": "(x + y) * z", "values": {"x": -2, "y": 5, "z": -4}}


def _post(body: dict) -> Callable[[int], tuple[str, float]]:
    return lambda port: exchange(port, raw_post("/api/circuit", body))


def _many(n: int, make: Callable[[int], bytes]) -> Callable[[int], tuple[str, float]]:
    """n requests at once; every status with its count, and the slowest answer."""
    def run(port: int) -> tuple[str, float]:
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(lambda i: exchange(port, make(i)), range(n)))
        counts: dict[str, int] = {}
        for status, _ in results:
            counts[status] = counts.get(status, 0) + 1
        return (" ".join(f"{c}x{s}" for s, c in sorted(counts.items())),
                max(t for _, t in results))
    return run


def _ten_kb(i: int) -> str:
    term = f"tanh(x{i})"
    return "+".join([term] * (10_000 // (len(term) + 1)))


def slowloris(n: int) -> Callable[[int], tuple[str, float]]:
    """n connections that send a request's headers one byte a second."""
    def run(port: int) -> tuple[str, float]:
        start = time.perf_counter()
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
        answers: dict[int, str] = {}
        while len(answers) < n and time.perf_counter() - start < 120:
            for i, s in enumerate(socks):
                if i in answers:
                    continue
                try:
                    data = s.recv(4096)
                    answers[i] = data.split(b" ", 2)[1].decode() if data else "closed"
                except BlockingIOError:
                    try:
                        s.send(b"X")
                    except OSError:
                        answers[i] = "closed"
                except OSError:
                    answers[i] = "closed"
            time.sleep(1)
        for s in socks:
            s.close()
        counts: dict[str, int] = {}
        for a in answers.values():
            counts[a] = counts.get(a, 0) + 1
        return " ".join(f"{c}x{a}" for a, c in counts.items()), time.perf_counter() - start
    return run


def idle_sockets(n: int) -> Callable[[int], tuple[str, float]]:
    """n connections that send nothing; then a new client's /healthz."""
    def run(port: int) -> tuple[str, float]:
        start = time.perf_counter()
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
        time.sleep(0.5)
        newcomer, _ = exchange(port, raw_get("/healthz"), 30)
        for s in socks:
            s.settimeout(60)
        codes: dict[str, int] = {}
        for s in socks:
            try:
                data = s.recv(4096)
                code = data.split(b" ", 2)[1].decode() if data else "closed"
            except OSError:
                code = "closed"
            codes[code] = codes.get(code, 0) + 1
            s.close()
        after, _ = exchange(port, raw_get("/healthz"), 30)
        summary = " ".join(f"{c}x{k}" for k, c in sorted(codes.items()))
        return (f"{summary}; new client during {newcomer}, after {after}",
                time.perf_counter() - start)
    return run


def short_body(port: int) -> tuple[str, float]:
    """Content-Length promises 1,000 bytes; 20 come."""
    return exchange(port, raw_post("/api/circuit", '{"expression": "x",', length=1000))


def leaves_mid_body(port: int) -> tuple[str, float]:
    """Half a body, then the client goes away: the log must say so in one line."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(raw_post("/api/circuit", '{"expression": "x",', length=1000))
        time.sleep(0.2)
    time.sleep(0.5)
    return "client gone", time.perf_counter() - start


BOMBS: list[tuple[str, Callable[[int], tuple[str, float]]]] = [
    ("'9' * 9999 (10 KB)", _post({"expression": "9" * 9999})),
    ("16 x '9' * 9999", _many(16, lambda i: raw_post(
        "/api/circuit", {"expression": "9" * (9999 - i)}))),
    ("sum(A + B) [800,1,800]+[1,800,1]", _post({"expression": "sum(A + B)", "values": {
        "A": {"randn": [800, 1, 800]}, "B": {"randn": [1, 800, 1]}}})),
    ("sum(A + B) [1000,1,1000]", _post({"expression": "sum(A + B)", "values": {
        "A": {"randn": [1000, 1, 1000]}, "B": {"randn": [1, 1000, 1]}}})),
    ("A @ B [10000,1]@[1,10000]", _post({"expression": "A @ B", "values": {
        "A": {"randn": [10000, 1]}, "B": {"randn": [1, 10000]}}})),
    ("sum(log(W)) 700x700", _post({"expression": "sum(log(W))",
                                   "values": {"W": {"randn": [700, 700]}}})),
    ("1249 tanh, expand", _post({"expression": "+".join(["tanh(x)"] * 1249),
                                 "values": {"x": 0.5}, "expand": True})),
    ("300 distinct 10 KB, expand", _many(300, lambda i: raw_post(
        "/api/circuit", {"expression": _ten_kb(i), "values": {f"x{i}": 1}, "expand": True}))),
    ("20 slow gradchecks", _many(20, lambda i: raw_post("/api/gradcheck", {
        "expression": "sum(tanh(W @ V))",
        "values": {"W": {"randn": [300, 300], "seed": i}, "V": {"randn": [300, 300]}}}))),
    ("20 x 2 MB responses", _many(20, lambda i: raw_post("/api/circuit", {
        "expression": "sum(tanh(W))", "values": {"W": {"randn": [150, 150], "seed": i}}}))),
    ("GET /vendor/d3/%00", lambda port: exchange(port, raw_get("/vendor/d3/%00"))),
    ("GET /vendor/d3/package.json", lambda port: exchange(port, raw_get(
        "/vendor/d3/package.json"))),
    ("GET /%0a forged log line", lambda port: exchange(port, raw_get(
        "/x%0a2026-01-01%20chainrule.request%20GET%20/admin%20200"))),
    ("POST text/plain (cross-site)", lambda port: exchange(port, raw_post(
        "/api/circuit", XYZ, content_type="text/plain"))),
    ("Content-Length lie", short_body),
    ("client leaves mid-body", leaves_mid_body),
    ("slowloris x 200", slowloris(200)),
    ("1,100 idle sockets", idle_sockets(1100)),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run the bombs whose name contains this")
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--timeouts", type=float, default=3.0,
                    help="header and body time limits of the server, seconds")
    ap.add_argument("--probe", nargs=2, type=int, help=argparse.SUPPRESS)  # port, server pid
    args = ap.parse_args()
    if args.probe:
        run_probe(*args.probe)
        return 0
    server = Server({"CHAINRULE_TIME_LIMIT": str(args.time_limit),
                     "CHAINRULE_HEADER_TIMEOUT": str(args.timeouts),
                     "CHAINRULE_BODY_TIMEOUT": str(args.timeouts)})
    probe = Probe(server)
    probe.start()
    try:
        time.sleep(4)  # the probe process starts, then measures the server at rest
        idle = statistics.median(s[1] for s in probe.samples[5:])
        print(f"time limit {args.time_limit:g} s, header/body limits {args.timeouts:g} s; "
              f"idle /healthz {idle * 1e3:.2f} ms, RSS {max(server.rss()) / 2**20:.0f} MB "
              "largest process")
        print(f"{'bomb':34} {'answer':38} {'s':>6} {'RSS MB':>7} {'(all)':>6} "
              f"{'probe ms':>9} {'x idle':>7} {'loop s':>7}")
        for name, bomb in BOMBS:
            if args.only and args.only not in name:
                continue
            start, cpu = time.perf_counter(), server.loop_cpu()
            status, seconds = bomb(server.port)
            time.sleep(0.3)
            worst, largest, total = probe.window(start, time.perf_counter())
            print(f"{name:34} {status:38} {seconds:6.2f} {largest / 2**20:7.0f} "
                  f"{total / 2**20:6.0f} {worst * 1e3:9.1f} {worst / idle:7.1f} "
                  f"{server.loop_cpu() - cpu:7.2f}", flush=True)
        log = server.log_text()
        escaped = "/x\\x0a2026-01-01" in log
        print(f"server log: {log.count(' 499 ')} disconnects logged, "
              f"{log.count('Traceback')} tracebacks, forged line escaped: {escaped}")
    finally:
        probe.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
