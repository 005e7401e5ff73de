"""The `chainrule` command: `chainrule serve`, `chainrule trace "(x+y)*z" x=-2 y=5 z=-4` and
`chainrule train spiral --hidden 100`."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence

import numpy as np


def _number(x: np.ndarray | float | None) -> str:
    if x is None:
        return "-"
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        # Shortest text that reads back as the same float, in exponent form from 1e16 and below
        # 1e-4 (1e+308, not 309 digits); a whole number without its ".0": -12.0 prints as -12.
        return repr(float(arr)).removesuffix(".0")
    return np.array2string(arr, precision=6, suppress_small=True)


def _values(args: argparse.Namespace) -> dict[str, object]:
    """The name=value arguments as values; one that is not JSON is a usage error (exit 2). JSON
    that is no number or list of numbers (null, "a") is the engine's to refuse."""
    values: dict[str, object] = {}
    for pair in args.values:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            args.usage.error(f"{pair!r}: write a value as name=number, e.g. x=-2")
        try:
            values[name.strip()] = value = json.loads(text)  # a number or a JSON list; never eval
        except json.JSONDecodeError:
            args.usage.error(f"{pair!r}: the value must be a number or a list like [1, 2]")
        if not _finite(value):  # as over HTTP: 1e400 reads as inf, NaN is JSON's spelling
            args.usage.error(f"{pair!r}: the value must be a finite number, within ±1.8e308")
    return values


def _finite(value: object) -> bool:
    if isinstance(value, list):
        return all(map(_finite, value))
    return not isinstance(value, float) or math.isfinite(value)


def trace(args: argparse.Namespace) -> int:
    """Print the output value, every input's gradient and optionally the staged code."""
    from engine import ExpressionError
    from engine import trace as run

    values = _values(args)
    if args.expression == "-":  # the program from standard input
        args.expression = sys.stdin.read()
    try:
        circuit = run(args.expression, values, expand=args.expand, limits=None)
        code = circuit.code() if args.code else None
    except ExpressionError as err:
        text = args.expression
        where = f"{err.where}: " if err.where and "\n" in text else ""  # a program's line
        print(f"error: {where}{err.message}", file=sys.stderr)
        if err.start is not None:  # the line it is on, and a caret under it
            first = text.rfind("\n", 0, err.start) + 1
            last = text.find("\n", err.start) % (len(text) + 1)  # -1: the text's end
            width = max(1, min(err.end or err.start + 1, last) - err.start)
            print(f"  {text[first:last]}\n  {' ' * (err.start - first)}{'^' * width}",
                  file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return 2
    print(f"value: {_number(circuit.value)}")
    print("gradients:")
    for name, grad in circuit.gradients.items():
        prefix = f"  d{name} = "
        print(prefix + _number(grad).replace("\n", "\n" + " " * len(prefix)))
    for note in circuit.notes:  # the program's print lines
        print(f"note: {note}")
    for warning in circuit.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if code is not None:
        print("\n" + code["forward"] + "\n" + code["backward"], end="")  # each has its header
    return 0


def train(args: argparse.Namespace) -> int:
    """Train a classifier on one of the lab's data sets, printing progress as it goes."""
    from pydantic import ValidationError

    from app.schemas import TrainRequest
    from engine.labs.training import train as run

    try:  # the API's bounds: what POST /api/labs/train refuses, the command refuses
        options = {name: getattr(args, name) for name in TrainRequest.model_fields
                   if name != "bias"}  # an option of the same name each, but --no-bias
        request = TrainRequest(**options, bias=not args.no_bias)
    except ValidationError as err:
        problem = err.errors()[0]
        name = "".join(map(str, problem["loc"]))
        where = "" if not name else f"argument {'--no-bias' if name == 'bias' else '--' + name}: "
        args.usage.error(where + problem["msg"].removeprefix("Value error, "))
    bar = sys.stdout.isatty()  # a progress bar on a terminal, plain lines when piped
    total = None
    for line in run(**request.model_dump()):
        if line.get("start"):
            total = line["iterations"]
            held = f", {line['test_size']} held out" if line["test_size"] else ""
            print(f"{line['dataset']}: {line['train_size']} training rows{held}, "
                  f"{total} iterations", flush=True)
        elif line.get("done"):
            if bar:
                print()
            test = "" if line["test_accuracy"] is None else (
                f", test accuracy {line['test_accuracy']:.3f}")
            print(f"{line['stopped']}: {line['epochs']} epochs in {line['seconds']:.1f} s, "
                  f"loss {float(line['loss']):.4f}, accuracy {line['accuracy']:.3f}{test}")
            return 0 if line["stopped"] == "epochs" else 1
        else:
            test = "" if line["test_accuracy"] is None else (
                f"  test {line['test_accuracy']:.3f}")
            text = (f"iteration {line['iteration']}/{total} (epoch {line['epoch']}/"
                    f"{request.epochs})  loss {float(line['loss']):.4f}  "
                    f"accuracy {line['accuracy']:.3f}{test}  {line['seconds']:.1f} s")
            if bar:
                done = line["iteration"] / total
                print(f"\r[{'#' * round(30 * done):<30}] {text}", end="", flush=True)
            else:
                print(text, flush=True)
    return 1


def serve(args: argparse.Namespace) -> int:
    """Serve the web app and the API with uvicorn."""
    import uvicorn

    print(f"chainrule: serving on http://{args.host}:{args.port} "
          f"({args.workers} worker{'s' if args.workers > 1 else ''}; Ctrl-C stops)", flush=True)
    # access_log off: app.middleware.Doors already writes one line per request. The loop is
    # uvloop and the HTTP parser httptools (uvicorn[standard]), with app.server's time limit on
    # headers and cap on connections.
    uvicorn.run("app.main:app", host=args.host, port=args.port, workers=args.workers,
                http="app.server:Protocol", access_log=False, log_level="warning")
    return 0


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (no upper end: None)."""

    def whole(text: str) -> int:
        value = int(text)
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"must be at least {low}" if high is None else f"must be from {low} to {high}")
        return value

    return whole


def parser() -> argparse.ArgumentParser:
    """The command line: three subcommands."""
    top = argparse.ArgumentParser(prog="chainrule", description="See backpropagation.")
    sub = top.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the web app and the API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_whole(1, 65535), default=8000)
    s.add_argument("--workers", type=_whole(1), default=1,
                   help="worker processes (the app is stateless)")
    s.set_defaults(run=serve)

    t = sub.add_parser("trace", help="print the value and gradients of an expression")
    t.add_argument("expression", help='e.g. "(x+y)*z", or a program; - reads it from '
                   "standard input")
    t.add_argument("values", nargs="*", default=[], metavar="name=value",
                   help="e.g. x=-2 y=5 z=-4 w=[1,2] (a number or a list of numbers)")
    t.add_argument("--code", action="store_true", help="also print the staged Python code")
    t.add_argument("--expand", action="store_true", help="expand composite gates")
    t.set_defaults(run=trace, usage=t)

    from app.schemas import TrainRequest
    from engine.labs.datasets import NAMES
    from engine.labs.training import ACTIVATIONS, INITS

    n = sub.add_parser("train", help="train a classifier, printing its progress")
    n.add_argument("dataset", choices=NAMES)
    n.add_argument("--hidden", type=int, help="hidden units (0: linear)")
    n.add_argument("--activation", choices=ACTIVATIONS)
    n.add_argument("--no-bias", action="store_true", help="the notes' bias-free network")
    n.add_argument("--init", choices=INITS)
    n.add_argument("--lr", type=float, help="learning rate")
    n.add_argument("--reg", type=float, help="L2 strength")
    n.add_argument("--batch", type=int, help="minibatch rows (0: all)")
    n.add_argument("--epochs", type=int)
    n.add_argument("--seed", type=int)
    # Defaults and bounds are the API's (app.schemas.TrainRequest); train() checks the bounds.
    n.set_defaults(run=train, usage=n, **{name: field.default for name, field in
                                          TrainRequest.model_fields.items() if name != "bias"})
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `chainrule` console script."""
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # a reader that has gone shows here, not in Python's flush at exit
    except BrokenPipeError:
        # The reader stopped reading (`chainrule train spiral | head`): stop quietly as Unix
        # tools do, with the status of a process ended by SIGPIPE; stdout to /dev/null so
        # that nothing more is written to the closed pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return status


if __name__ == "__main__":
    sys.exit(main())
