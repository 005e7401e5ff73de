"""Service settings, read from the environment once when the app is created."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: templates/, static/, node_modules/


@dataclass(frozen=True)
class Settings:
    """Limits of one request; the engine's own limits (characters, gates, depth) come on top."""

    time_limit: float = 5.0  # seconds of computation per request, then 503
    max_body: int = 1_000_000  # bytes of request body, then 413
    train_limit: float = 60.0  # seconds of one training run (/api/labs/train), then it stops

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from CHAINRULE_TIME_LIMIT, CHAINRULE_MAX_BODY and CHAINRULE_TRAIN_LIMIT
        (defaults otherwise)."""
        return cls(
            time_limit=_positive("CHAINRULE_TIME_LIMIT", float, cls.time_limit),
            max_body=_positive("CHAINRULE_MAX_BODY", int, cls.max_body),
            train_limit=_positive("CHAINRULE_TRAIN_LIMIT", float, cls.train_limit),
        )


def _positive(name: str, kind: type, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected a positive {kind.__name__}") from None
    if not value > 0:
        raise ValueError(f"{name}={text!r}: expected a positive {kind.__name__}")
    return value
