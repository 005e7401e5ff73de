"""Time from /api/circuit response to finished drawing (layout + SVG) in headless chromium.

Targets: under 100 ms for the (x+y)*z circuit, under 500 ms for a generated 300-gate circuit.
Run: .venv/bin/python bench/render.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import launch  # noqa: E402


def program(gates: int) -> tuple[str, dict]:
    """A staged forward pass of `gates` gates: a tanh layer chain with shared weights (forks)."""
    lines, values = [], {"h0": 0.5}
    for w in range(5):
        values[f"w{w}"] = 0.3 + 0.1 * w
    values["b"] = 0.1
    i = 0
    while 3 * i < gates:  # three gates per line: *, +, tanh
        lines.append(f"h{i + 1} = tanh(h{i} * w{i % 5} + b)")
        i += 1
    return "\n".join(lines), values


def serve():
    import threading
    import time

    import uvicorn

    from app.main import app
    from tests.browser.conftest import _free_port

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    server, base = serve()
    cases = [("(x+y)*z", "(x + y) * z", {"x": -2, "y": 5, "z": -4}, 100.0),
             ("300 gates", *program(300), 500.0)]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        head = ("circuit", "gates", "first ms", "median ms", "target ms", "ratio")
        print("{:<12}{:>7}{:>10}{:>11}{:>11}{:>8}".format(*head))
        for name, expr, values, target in cases:
            page.goto("about:blank")  # a fresh document: a hash-only change would not reload
            page.goto(f"{base}/#e={quote(expr)}&v={quote(json.dumps(values))}")
            page.wait_for_selector("body[data-ready]")
            first = page.evaluate("window.chainrule.lastRender")
            if first is None:
                sys.exit(f"{name}: the page did not draw: {page.inner_text('#error')}")
            times = [page.evaluate("window.chainrule.redraw()") for _ in range(args.repeat)]
            med = statistics.median(times)
            print(f"{name:<12}{first['gates']:>7}{first['ms']:>10.1f}{med:>11.1f}{target:>11.0f}"
                  f"{med / target:>8.2f}")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
