"""Live accuracy of warnings: once a window has closed, did it come true? (issue 15, item 2)

The backtest promises a precision per level (the operating points chosen at training time);
this measures what the issued warnings delivered. A warning counts under the level the model
gave it (``original_level``) — a reviewer's adjustment or decision does not change what the
model promised — and comes true when at least one event of its target (any category for
``any``) occurred in its window.

The same counting serves a whole scoring run once its window has closed (issue 17, item 1):
`count_by_level` over every grid's model level, and `realised_calibration` — the ECE of
DESIGN §5 (`risk.metrics.ece`) and its reliability bins — over every grid's probability.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from risk.levels import LEVELS
from risk.metrics import ECE_BINS, ece
from risk.review import ReviewItem


@dataclass(frozen=True)
class LevelAccuracy:
    model_version: str
    level: str
    n: int  # warnings whose window closed
    came_true: int

    @property
    def precision(self) -> float | None:
        return self.came_true / self.n if self.n else None


def closed_windows(
    items: Iterable[ReviewItem], now: datetime, days: int, known_until: datetime
) -> list[ReviewItem]:
    """Items whose window closed in the last ``days`` days and before the events known end."""
    since = now - timedelta(days=days)
    return [i for i in items if since < i.window_end <= now and i.window_end <= known_until]


def count_by_level(
    keys: Iterable[tuple[str, str]], came_true: Sequence[bool]
) -> list[LevelAccuracy]:
    """Per (model version, level) key, most severe level first within a version: how many
    and how many came true."""
    keys = list(keys)
    if len(keys) != len(came_true):
        raise ValueError(f"{len(keys)} items but {len(came_true)} outcomes")
    counts: dict[tuple[str, str], list[int]] = {}
    for key, hit in zip(keys, came_true, strict=True):
        n_hit = counts.setdefault(key, [0, 0])
        n_hit[0] += 1
        n_hit[1] += bool(hit)
    rank = {name: i for i, name in enumerate(LEVELS)}
    ordered = sorted(counts, key=lambda k: (k[0], -rank.get(k[1], -1)))
    return [LevelAccuracy(v, lvl, *counts[(v, lvl)]) for v, lvl in ordered]


def accuracy_by_level(
    items: Sequence[ReviewItem], came_true: Sequence[bool]
) -> list[LevelAccuracy]:
    """Per model version and model level (most severe first): warnings and how many came true."""
    if len(items) != len(came_true):
        raise ValueError(f"{len(items)} items but {len(came_true)} outcomes")
    return count_by_level(((i.model_version, i.original_level) for i in items), came_true)


@dataclass(frozen=True)
class Calibration:
    """Realised calibration of probabilities against outcomes: ``bins`` are the equal-count
    bins of `risk.metrics.ece` (same order, same cut), each ``{"n", "mean_prob",
    "observed"}``; ``ece`` = Σ n_b · |mean_prob_b − observed_b| / n."""

    n: int
    came_true: int
    ece: float | None
    bins: list[dict[str, float]]

    def as_dict(self) -> dict[str, object]:
        return {"n": self.n, "came_true": self.came_true, "ece": self.ece, "bins": self.bins}


def realised_calibration(
    prob: Sequence[float], came_true: Sequence[bool], n_bins: int = ECE_BINS, seed: int = 0
) -> Calibration:
    """ECE and reliability bins of ``prob`` against ``came_true`` (None/empty for no rows)."""
    p = np.asarray(prob, dtype=float).ravel()
    y = np.asarray(came_true, dtype=float).ravel()
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities but {y.size} outcomes")
    if not p.size:
        return Calibration(0, 0, None, [])
    perm = np.random.default_rng(seed).permutation(p.size)
    order = perm[np.argsort(p[perm], kind="stable")]  # as risk.metrics.ece orders them
    bins = [
        {"n": int(len(part)), "mean_prob": float(p[part].mean()), "observed": float(y[part].mean())}
        for part in np.array_split(order, min(n_bins, p.size))
    ]
    return Calibration(int(p.size), int(y.sum()), ece(p[None, :], y[None, :], n_bins, seed), bins)
