"""The training lab's data sets: three 2-D toys and the 8×8 handwritten digits.

Each is made from a seed (or, for the digits, split by one), so a run can be repeated exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

# each one's training rows, features and classes, known before it is made (app.schemas bounds a
# training run's work with them)
SIZES = {"spiral": (300, 2, 3), "digits": (1437, 64, 10), "circles": (300, 2, 2),
         "xor": (300, 2, 2)}
NAMES = tuple(SIZES)
TEST_SHARE = 0.2  # of the digits, held out


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray  # rows are examples, float64
    y: np.ndarray  # integer class labels
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: int

    @property
    def planar(self) -> bool:
        """Two features: the decision boundary can be drawn."""
        return self.X.shape[1] == 2

    def to_dict(self) -> dict[str, Any]:
        """What a page shows of the data before training: its sizes, and each row of 2-D data
        as [x, y, class] (None for other data)."""
        points = [[float(a), float(b), int(c)] for (a, b), c in zip(
            self.X, self.y, strict=True)] if self.planar else None
        return {"dataset": self.name, "train_size": len(self.X),
                "test_size": 0 if self.X_test is None else len(self.X_test),
                "features": self.X.shape[1], "classes": self.classes, "points": points}


def spiral(points: int = 100, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`classes` arms of `points` points each, winding out from the origin (the CS231n case
    study's data: radius 0 to 1, angle over 4 radians per arm plus noise of 0.2)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((points * classes, 2))
    y = np.zeros(points * classes, dtype=int)
    for k in range(classes):
        rows = slice(points * k, points * (k + 1))
        r = np.linspace(0.0, 1.0, points)
        t = np.linspace(k * 4, (k + 1) * 4, points) + rng.standard_normal(points) * 0.2
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = k
    return X, y


def circles(points: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings: class 0 at radius 0.5, class 1 at radius 1."""
    rng = np.random.default_rng(seed)
    y = np.arange(points) % 2
    t = rng.uniform(0, 2 * np.pi, points)
    r = np.where(y == 0, 0.5, 1.0) + rng.standard_normal(points) * 0.08
    return np.c_[r * np.cos(t), r * np.sin(t)], y


def xor(points: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points in the square [-1, 1]²: class 1 where x and y have the same sign."""
    X = np.random.default_rng(seed).uniform(-1, 1, (points, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


@cache
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8×8 digit images, pixels 0 to 16, and their digits; read once (the
    worker processes' fork server reads them, so that no request waits for scikit-learn)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data, data.target


def digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digit images (pixels scaled to [0, 1]), shuffled by the seed and split into training
    and test rows."""
    images, labels = digit_images()
    order = np.random.default_rng(seed).permutation(len(labels))
    X = images[order] / 16.0
    y = labels[order]
    cut = len(y) - int(np.ceil(len(y) * TEST_SHARE))
    return X[:cut], y[:cut], X[cut:], y[cut:]


def load(name: str, seed: int = 0) -> Dataset:
    """A data set by name; the seed draws the toys and splits the digits."""
    if name not in SIZES:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(NAMES)}")
    if name == "digits":
        return Dataset(name, *digits(seed), 10)
    X, y = {"spiral": spiral, "circles": circles, "xor": xor}[name](seed=seed)
    return Dataset(name, X, y, None, None, int(y.max()) + 1)
