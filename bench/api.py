"""Throughput and latency of POST /api/circuit next to GET /healthz (the framework's floor).

Starts `chainrule serve` with one worker on a free loopback port (or measures a server already
running, with --port), then measures every case once per round, the cases interleaved and their
order rotated from round to round, so that a slow spell of the machine hits them alike. Each
round gives each case's req/s over a few keep-alive connections and its latency one request at a
time; the ratio to the floor is taken within the round, and the medians over the rounds are
printed. Requests are bounded in number; the server is stopped at the end.

    .venv/bin/python bench/api.py [--rounds 9] [--requests 1000] [--connections 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

XYZ = {"expression": "(x + y) * z", "values": {"x": -2, "y": 5, "z": -4}}
NEURON = {"expression": "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
          "values": {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}, "expand": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(method: str, path: str, body: bytes | None) -> bytes:
    """The bytes of one keep-alive request (built once: the client should cost little)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + (body or b"")


class Connection:
    """A minimal HTTP/1.1 keep-alive client: send a prepared request, read one response."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def call(self, raw: bytes) -> bytes:
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                      if line.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += self._recv()
        body, self.buffer = rest[:length], rest[length:]
        if status != b"200":
            raise RuntimeError(f"{raw.split(b' ', 2)[:2]}: {status.decode()} {body[:200]!r}")
        return body

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


def latencies(port: int, raw: bytes, n: int) -> list[float]:
    """Per-request seconds over one keep-alive connection, one request at a time."""
    conn = Connection(port)
    out = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            conn.call(raw)
            out.append(time.perf_counter() - t)
    finally:
        conn.close()
    return out


def throughput(port: int, raw: bytes, n: int, k: int) -> float:
    """Requests per second with k connections sending n requests in all."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            latencies(port, raw, n // k)
        except BaseException as err:  # reported below, not swallowed
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(k)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return (n // k) * k / (time.perf_counter() - t)


def wait_until_up(port: int, proc: subprocess.Popen) -> None:
    for _ in range(300):  # polled: up to ~30 s
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            Connection(port).call(http_request("GET", "/healthz", None))
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def neuron_preset(port: int) -> dict:
    """The sigmoid-neuron preset from /api/presets (the notes' example if none matches)."""
    try:
        presets = json.loads(Connection(port).call(http_request("GET", "/api/presets", None)))
    except RuntimeError:
        return NEURON
    for p in presets:
        if "neuron" in (p["id"] + p["title"]).lower():
            return {k: p[k] for k in ("expression", "values", "expand")}
    return NEURON


def measure(port: int, rounds: int, n: int, k: int) -> list[dict]:
    def circuit(body: dict) -> bytes:
        return http_request("POST", "/api/circuit", json.dumps(body).encode())

    cases = [("GET /healthz (floor)", http_request("GET", "/healthz", None)),
             ("POST /api/circuit (x+y)*z", circuit(XYZ)),
             ("POST /api/circuit neuron", circuit(neuron_preset(port)))]
    for _, raw in cases:
        latencies(port, raw, 200)  # warm up: parse cache, connections
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in cases}
    for r in range(rounds):
        for name, raw in cases[r % len(cases):] + cases[:r % len(cases)]:
            rps = throughput(port, raw, n, k)
            lat = sorted(latencies(port, raw, n))
            runs[name].append((rps, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3))
    floor = runs[cases[0][0]]
    rows = []
    for name, _ in cases:
        ratios = [run[0] / f[0] for run, f in zip(runs[name], floor, strict=True)]
        rows.append({"name": name, "rps": statistics.median(r[0] for r in runs[name]),
                     "p50": statistics.median(r[1] for r in runs[name]),
                     "p99": statistics.median(r[2] for r in runs[name]),
                     "ratio": statistics.median(ratios), "low": min(ratios), "high": max(ratios)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds (medians taken)")
    ap.add_argument("--requests", type=int, default=1000, help="per case per round")
    ap.add_argument("--connections", type=int, default=4, help="for req/s (latency uses 1)")
    ap.add_argument("--port", type=int, help="measure a server already running on this port")
    args = ap.parse_args()

    proc = None
    port = args.port
    if port is None:
        port = free_port()
        chainrule = Path(sys.executable).parent / "chainrule"
        proc = subprocess.Popen([str(chainrule), "serve", "--port", str(port), "--workers", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        if proc is not None:
            wait_until_up(port, proc)
        rows = measure(port, args.rounds, args.requests, args.connections)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    found = {m: importlib.util.find_spec(m) is not None for m in ("uvloop", "httptools")}
    server = (f"one worker ({'uvloop' if found['uvloop'] else 'asyncio'}, "
              f"{'httptools' if found['httptools'] else 'h11'})" if proc else f"port {port}")
    print(f"{server}; {args.rounds} rounds of {args.requests} requests per case, "
          f"{args.connections} connections for req/s, 1 for latency; medians over the rounds")
    print(f"{'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs floor':>9}  {'(range)':>11}")
    for row in rows:
        print(f"{row['name']:28} {row['rps']:8.0f} {row['p50']:8.2f} {row['p99']:8.2f} "
              f"{row['ratio']:9.2f}  ({row['low']:.2f}-{row['high']:.2f})")
    ok = all(row["ratio"] >= 0.5 and row["p50"] < 2.0 for row in rows[1:])
    print("target (circuit >= 0.50 of floor req/s, p50 < 2 ms):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
