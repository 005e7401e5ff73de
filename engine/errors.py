"""What one call may ask for (Limits), the one error type the engine raises for bad user input,
its place in the text in words, and a list in words ('a, b and c')."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for. The library's functions take `limits=None`, no
    bounds at all, unless given a Limits (the server passes its own)."""

    max_chars: int = 10_000
    max_gates: int = 5_000
    max_depth: int = 200
    max_elements: int = 1_000_000


def spot(text: str, i: int) -> str:
    """Where character i of `text` is, in words: 'column 5', or 'line 2, column 5' in a text of
    several lines."""
    line = text.count("\n", 0, i) + 1
    column = i - text.rfind("\n", 0, i)
    return f"line {line}, column {column}" if "\n" in text else f"column {column}"


def listed(items) -> str:
    """'a', 'a and b', 'a, b and c'; '' for no items."""
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


class ExpressionError(ValueError):
    """Something is wrong with the expression or its values; `start`/`end` point into the text."""

    def __init__(
        self,
        message: str,
        start: int | None = None,
        end: int | None = None,
        hint: str | None = None,
        missing: list[str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end
        self.hint = hint
        self.missing = missing or []  # names of inputs that still need a value
        self.where: str | None = None  # the start in words ("line 2, column 5"), once located

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


def located(fn):
    """Decorate a public function whose first argument is the text. Its arguments are checked
    first, in this one place: the text must be a string, `values` (if it takes them) a mapping
    of names to values, `expand` a bool and `limits` a Limits or None; each value itself is
    checked where it is read (`engine.graph.as_value`). An ExpressionError it raises says
    where in the text it starts, in words (str(err)); its offsets stay as they are."""

    names = list(inspect.signature(fn).parameters)
    first = names[0]  # the text's name

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        given = dict(zip(names, args, strict=False), **kwargs)  # fewer args than names
        _check_arguments(first, given)
        try:
            return fn(*args, **kwargs)
        except ExpressionError as err:
            text = given[first]
            if err.start is not None and err.where is None:
                err.where = spot(text, min(err.start, len(text)))
            raise

    return wrapper


def _check_arguments(first: str, arguments: dict) -> None:
    text = arguments.get(first)
    if not isinstance(text, str):
        raise ExpressionError(f"{first} must be a string (str), not {type(text).__name__}")
    values = arguments.get("values")
    if values is not None:
        if not isinstance(values, Mapping):
            raise ExpressionError(f"values must be a mapping of input names to values, like "
                                  f"{{'x': 2.0}}, not {type(values).__name__}")
        for name in values:
            if not isinstance(name, str):
                raise ExpressionError(f"values: the name {name!r} is not a string")
    expand = arguments.get("expand", False)
    if not isinstance(expand, bool):
        raise ExpressionError(f"expand must be True or False, not {expand!r}")
    limits = arguments.get("limits")
    if limits is not None and not isinstance(limits, Limits):
        raise ExpressionError(f"limits must be a Limits (or None: no limits), not {limits!r}")
