"""The `chainrule` command prints the notes' numbers and clear errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.cli import main, parser
from app.schemas import TrainRequest

CHAINRULE = Path(sys.executable).parent / "chainrule"  # the console script pip installed


def test_console_script_traces_notes_example() -> None:
    assert CHAINRULE.exists(), "run: pip install -e . (scripts/test.sh does)"
    out = subprocess.run([str(CHAINRULE), "trace", "(x+y)*z", "x=-2", "y=5", "z=-4"],
                         capture_output=True, text=True, check=True).stdout
    assert "value: -12\n" in out
    assert "dx = -4\n" in out and "dy = -4\n" in out and "dz = 3\n" in out


def test_trace_with_code_prints_staged_passes(capsys) -> None:
    assert main(["trace", "(x+y)*z", "x=-2", "y=5", "z=-4", "--code"]) == 0
    out = capsys.readouterr().out
    assert out.count("# forward pass") == 1 and out.count("# backward pass") == 1
    assert "  dz = 3\n\n# forward pass\nadd1 = x + y  #(1)\n" in out
    assert "f = add1 * z  #(2)\n\n# backward pass\ndf = 1.0\n" in out
    assert out.endswith("dy = (1) * dadd1  #(1)\n") and "\n\n\n" not in out


@pytest.mark.parametrize("command", [
    ["trace", "(x+y)*z", "x=-2", "y=5", "z=-4", "--code"],
    ["train", "xor", "--hidden", "2", "--epochs", "20"],
])
def test_a_reader_that_stops_reading_ends_it_quietly(command) -> None:
    # `chainrule ... | head -3`: the pipe closes before everything is written. Here it is
    # closed before anything is: every write fails.
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([str(CHAINRULE), *command], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 141  # 128 + SIGPIPE, as a shell reports


@pytest.mark.parametrize(("command", "lines"), [
    (["y", "y=1e308"], ["value: 1e+308", "  dy = 1"]),
    (["x", "x=1e-300"], ["value: 1e-300", "  dx = 1"]),
    (["x*y", "x=1e200", "y=1e200"], ["value: inf", "  dx = 1e+200", "  dy = 1e+200"]),
    (["sigmoid(x)", "x=1"], ["value: 0.7310585786300049", "  dx = 0.19661193324148185"]),
    (["x*y", "x=1e15", "y=0.5"], ["value: 500000000000000", "  dx = 0.5",
                                  "  dy = 1000000000000000"]),
])
def test_trace_prints_big_and_small_numbers_readably(capsys, command, lines) -> None:
    assert main(["trace", *command]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line != "gradients:"] == lines


def test_trace_list_value(capsys) -> None:
    assert main(["trace", "sum(w * x)", "w=[1, 2]", "x=[3, 4]"]) == 0
    out = capsys.readouterr().out
    assert "value: 11\n" in out and "dw = [3. 4.]" in out


def test_trace_bad_expression_points_at_it(capsys) -> None:
    assert main(["trace", "x ^ 2", "x=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "  x ^ 2\n    ^" in err


def test_trace_bad_program_points_at_its_line(capsys) -> None:
    assert main(["trace", "x = 3\ny = x ^ 2\nf = y + 1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: line 2, column 7: '^'") and "  y = x ^ 2\n        ^\n" in err


@pytest.mark.parametrize(("pair", "error"), [
    ("x", "'x': write a value as name=number, e.g. x=-2"),
    ("=3", "'=3': write a value as name=number, e.g. x=-2"),
    ("x=two", "'x=two': the value must be a number or a list like [1, 2]"),
    # as over HTTP, a value is a finite number: 1e400 is inf once read, NaN is JSON's spelling
    ("x=1e400", "'x=1e400': the value must be a finite number, within ±1.8e308"),
    ("x=[1e400, 1]", "'x=[1e400, 1]': the value must be a finite number, within ±1.8e308"),
    ("x=NaN", "'x=NaN': the value must be a finite number, within ±1.8e308"),
    ("x=-Infinity", "'x=-Infinity': the value must be a finite number, within ±1.8e308"),
    ("x=inf", "'x=inf': the value must be a number or a list like [1, 2]"),
])
def test_trace_bad_value_is_a_usage_error(capsys, pair, error) -> None:
    # exit 2 like every other usage or input error (an expression error is 2 too)
    with pytest.raises(SystemExit) as exit:
        main(["trace", "x", pair])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: chainrule trace") and f"chainrule trace: error: {error}\n" in err


@pytest.mark.parametrize(("pair", "error"), [
    ("x=null", "x: expected a number or a list of numbers, got None"),
    ("x=[1, null]", "x[1]: expected a number, got None"),
    ('x=[1, "a"]', "x[1]: expected a number, got 'a'"),
    ("x=[[1, 2], [3]]", "x: expected a number or a rectangular list of numbers (every row the "
                        "same length)"),
])
def test_trace_value_the_engine_refuses_is_named_with_its_element(capsys, pair, error) -> None:
    # JSON that is no number or list of numbers: the engine's error, the element it names
    assert main(["trace", "sum(x)", pair]) == 2
    assert capsys.readouterr().err == f"error: {error}\n"


def test_trace_without_arguments_asks_for_the_expression_only(capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["trace"])
    assert exit.value.code == 2
    assert "the following arguments are required: expression\n" in capsys.readouterr().err


def test_trace_reads_the_program_from_stdin_for_a_dash(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("q = x + y\nf = q * z\n"))
    assert main(["trace", "-", "x=-2", "y=5", "z=-4"]) == 0
    assert capsys.readouterr().out.startswith("value: -12\ngradients:\n  dx = -4\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("q = x +\nf = q * z\n"))
    assert main(["trace", "-", "x=-2"]) == 2
    assert capsys.readouterr().err.startswith("error: line 1, column 8: ")


def test_serve_options() -> None:
    args = parser().parse_args(["serve", "--port", "9000", "--workers", "3"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 9000, 3)
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--workers", "0"])


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_serve_refuses_a_port_out_of_range(capsys, port) -> None:
    # uvicorn listens on a random port for 0, and fails late on the others
    with pytest.raises(SystemExit) as exit:
        parser().parse_args(["serve", "--port", port])
    assert exit.value.code == 2
    assert "argument --port: must be from 1 to 65535" in capsys.readouterr().err


def test_train_prints_plain_progress_lines_when_piped(capsys) -> None:
    assert main(["train", "spiral", "--hidden", "0", "--epochs", "200"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "spiral: 300 training rows, 200 iterations"
    assert out[1].startswith("iteration 1/200 (epoch 1/200)  loss ") and "\r" not in "".join(out)
    assert out[-2].startswith("iteration 200/200 (epoch 200/200)")
    accuracy = float(out[-1].split("accuracy ")[1])
    assert out[-1].startswith("epochs: 200 epochs in ") and 0.4 < accuracy < 0.6


def test_train_progress_counts_what_the_header_counts(capsys) -> None:
    # minibatches of 20 of the 300 rows: 15 iterations an epoch
    assert main(["train", "spiral", "--hidden", "0", "--batch", "20", "--epochs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "spiral: 300 training rows, 30 iterations"
    assert [line.split("  ")[0] for line in out[1:-1]] == (
        [f"iteration {i}/30 (epoch 1/2)" for i in range(1, 16)]
        + [f"iteration {i}/30 (epoch 2/2)" for i in range(16, 31)])


def test_train_draws_a_progress_bar_on_a_terminal(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["train", "xor", "--hidden", "8", "--epochs", "50"]) == 0
    out = capsys.readouterr().out
    assert "\r[" + "#" * 30 + "] iteration 50/50 (epoch 50/50)" in out
    assert out.rstrip().splitlines()[-1].startswith("epochs: 50 epochs")


@pytest.mark.parametrize(("options", "error"), [
    (["--hidden", "1001"], "error: argument --hidden: Input should be less than or equal to 1000"),
    (["--reg", "-5"], "error: argument --reg: Input should be greater than or equal to 0"),
    (["--reg", "nan"], "error: argument --reg: Input should be a finite number"),
    (["--lr", "101"], "error: argument --lr: Input should be less than or equal to 100"),
    (["--seed", str(2**32)], "error: argument --seed: Input should be less than or equal to"),
    (["--batch", "1", "--epochs", "334", "--hidden", "0"],
     "error: 100,200 iterations (334 epochs of 300 minibatches) is more than the limit of"),
])
def test_train_refuses_what_the_api_refuses(capsys, options, error) -> None:
    argv = ["train", "spiral", "--epochs", "1", *options]
    params = {"dataset": "spiral", "epochs": 1, "batch": 0, "hidden": 100, "lr": 1.0,
              "reg": 1e-3, "seed": 0}
    params.update({k.removeprefix("--"): float(v) if k in ("--reg", "--lr") else int(v)
                   for k, v in zip(options[::2], options[1::2], strict=True)})
    with pytest.raises(ValidationError):  # the API's schema refuses it...
        TrainRequest(**params)
    with pytest.raises(SystemExit) as exit:  # ...and so does the command, as a usage error
        main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: chainrule train") and f"chainrule train: {error}" in err


def test_train_takes_the_api_defaults() -> None:
    args = parser().parse_args(["train", "xor"])
    request = TrainRequest(dataset="xor")
    assert {k: getattr(args, k) for k in ("hidden", "activation", "init", "lr", "reg", "batch",
                                          "epochs", "seed")} == request.model_dump(
        exclude={"dataset", "bias"}) and not args.no_bias


def test_train_refuses_a_bad_option(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "mnist"])
    assert "invalid choice: 'mnist'" in capsys.readouterr().err
