"""The `chainrule` command prints the notes' numbers and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main, parser

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
    assert "# forward pass" in out and "# backward pass" in out and "dz" in out


def test_trace_list_value(capsys) -> None:
    assert main(["trace", "sum(w * x)", "w=[1, 2]", "x=[3, 4]"]) == 0
    out = capsys.readouterr().out
    assert "value: 11\n" in out and "dw = [3. 4.]" in out


def test_trace_bad_expression_points_at_it(capsys) -> None:
    assert main(["trace", "x ^ 2", "x=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "  x ^ 2\n    ^" in err


@pytest.mark.parametrize("pair", ["x", "x=two", "=3"])
def test_trace_bad_value_says_how_to_write_it(pair) -> None:
    with pytest.raises(SystemExit, match="chainrule trace"):
        main(["trace", "x", pair])


def test_serve_options() -> None:
    args = parser().parse_args(["serve", "--port", "9000", "--workers", "3"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 9000, 3)
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--workers", "0"])
