"""Service settings, read from the environment once when the app is created."""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: templates/, static/, node_modules/


@dataclass(frozen=True)
class Settings:
    """Limits of one request; the engine's own limits (characters, gates, depth) come on top."""

    time_limit: float = 5.0  # seconds of computation per request, then 503
    max_body: int = 1_000_000  # bytes of request body, then 413
    body_timeout: float = 10.0  # seconds from the start of a request to the end of its body, 408
    header_timeout: float = 10.0  # seconds for a connection to send a request's headers, 408
    max_connections: int = 512  # open connections at once; one more is answered 503 and closed
    train_limit: float = 60.0  # seconds of one training run (/api/labs/train), then it stops
    processes: int = 4  # worker processes for work that is not tiny (pages send a few at once)
    queue: int = 32  # requests that may wait for a worker process; one more is answered 503
    worker_memory: int = 768 << 20  # bytes of address space a worker may add to its start's

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from CHAINRULE_TIME_LIMIT, CHAINRULE_MAX_BODY, ... (defaults otherwise):
        CHAINRULE_ and the field's name in capitals."""
        return cls(**{name: _positive("CHAINRULE_" + name.upper(), type(default), default)
                      for name, default in cls().__dict__.items()})


def _positive(name: str, kind: type, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    with suppress(ValueError):
        if (value := kind(text)) > 0:
            return value
    raise ValueError(f"{name}={text!r}: expected a positive {kind.__name__}")
