"""The one error type the engine raises for bad user input, and its place in the text in words."""

from __future__ import annotations

import functools
import inspect


def spot(text: str, i: int) -> str:
    """Where character i of `text` is, in words: 'column 5', or 'line 2, column 5' in a text of
    several lines."""
    line = text.count("\n", 0, i) + 1
    column = i - text.rfind("\n", 0, i)
    return f"line {line}, column {column}" if "\n" in text else f"column {column}"


class ExpressionError(ValueError):
    """Something is wrong with the expression or its values; `start`/`end` point into the text."""

    def __init__(
        self,
        message: str,
        start: int | None = None,
        end: int | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end
        self.hint = hint
        self.missing: list[str] = []  # names of inputs that still need a value
        self.where: str | None = None  # the start in words ("line 2, column 5"), once located

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


def located(fn):
    """Decorate a function whose first argument is the text: an ExpressionError it raises says
    where in that text it starts, in words (str(err)); its offsets stay as they are."""

    first = next(iter(inspect.signature(fn).parameters))  # the text's name, if passed by it

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ExpressionError as err:
            text = args[0] if args else kwargs.get(first)
            if err.start is not None and err.where is None and isinstance(text, str):
                err.where = spot(text, min(err.start, len(text)))
            raise

    return wrapper
