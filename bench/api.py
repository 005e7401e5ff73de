"""Throughput and latency of POST /api/circuit next to GET /healthz (the framework's floor).

Starts `chainrule serve` with one worker on a free loopback port, sends a bounded number of
requests over keep-alive connections, prints req/s, p50 and p99, and the ratios; then stops.

    .venv/bin/python bench/api.py [--requests 2000] [--connections 4]
"""

from __future__ import annotations

import argparse
import http.client
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


def request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> bytes:
    headers = {"content-type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def latencies(port: int, method: str, path: str, body: bytes | None, n: int) -> list[float]:
    """Per-request seconds over one keep-alive connection, one request at a time."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        request(conn, method, path, body)
        out.append(time.perf_counter() - t)
    conn.close()
    return out


def throughput(port: int, method: str, path: str, body: bytes | None, n: int, k: int) -> float:
    """Requests per second with k connections sending n requests in all."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            latencies(port, method, path, body, n // k)
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
            request(http.client.HTTPConnection("127.0.0.1", port, timeout=1), "GET", "/healthz",
                    None)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def neuron_preset(port: int) -> dict:
    """The sigmoid-neuron preset from /api/presets (the notes' example if none matches)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    try:
        presets = json.loads(request(conn, "GET", "/api/presets", None))
    except RuntimeError:
        return NEURON
    for p in presets:
        if "neuron" in (p["id"] + p["title"]).lower():
            return {k: p[k] for k in ("expression", "values", "expand")}
    return NEURON


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="per measurement")
    ap.add_argument("--connections", type=int, default=4)
    args = ap.parse_args()

    port = free_port()
    chainrule = Path(sys.executable).parent / "chainrule"
    proc = subprocess.Popen([str(chainrule), "serve", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_until_up(port, proc)
        cases = [("GET /healthz (floor)", "GET", "/healthz", None),
                 ("POST /api/circuit (x+y)*z", "POST", "/api/circuit", json.dumps(XYZ).encode()),
                 ("POST /api/circuit neuron", "POST", "/api/circuit",
                  json.dumps(neuron_preset(port)).encode())]
        rows = []
        for name, method, path, body in cases:
            latencies(port, method, path, body, 200)  # warm up: parse cache, connections
            lat = sorted(latencies(port, method, path, body, args.requests))
            rps = throughput(port, method, path, body, args.requests, args.connections)
            rows.append((name, rps, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3,
                         statistics.mean(lat) * 1e3))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    floor = rows[0][1]
    print(f"one worker, {args.requests} requests per measurement, "
          f"{args.connections} connections for req/s, 1 for latency")
    print(f"{'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs floor':>9}")
    for name, rps, p50, p99, _mean in rows:
        print(f"{name:28} {rps:8.0f} {p50:8.2f} {p99:8.2f} {rps / floor:9.2f}")
    ok = all(rps / floor >= 0.5 and p50 < 2.0 for _, rps, p50, _, _ in rows[1:])
    print("target (circuit >= 0.50 of floor req/s, p50 < 2 ms):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
