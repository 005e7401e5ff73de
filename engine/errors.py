"""The one error type the engine raises for bad user input."""

from __future__ import annotations


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

    def __str__(self) -> str:
        where = f" (at {self.start}..{self.end})" if self.start is not None else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.message}{where}{hint}"
