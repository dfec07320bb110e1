"""Risk levels (red / orange / yellow / blue) from a calibrated probability and the base rate.

A level says how many times more likely than an average grid the event is: with the default
thresholds a grid is red at ≥ 4× the base rate, orange at ≥ 2.5×, yellow at ≥ 1.5×, blue
below. Each bound is inclusive (ratio exactly 2.5 → orange), up to float rounding (1e-9
relative). An optional absolute floor keeps
a grid blue when its probability is tiny even if the ratio is large (rare targets).

Which levels enter the review queue is `warning_mask` (issue 5, item 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from risk.errors import ConfigError
from risk.metrics import top_k_mask

LEVELS = ("blue", "yellow", "orange", "red")  # ascending severity
DEFAULT_THRESHOLDS: Mapping[str, float] = {"red": 4.0, "orange": 2.5, "yellow": 1.5}
_RANK = {name: i for i, name in enumerate(LEVELS)}
_REL_TOL = 1e-9


def validate_thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """Thresholds as ``{'yellow': a, 'orange': b, 'red': c}`` with ``0 < a < b < c``."""
    t = dict(DEFAULT_THRESHOLDS if thresholds is None else thresholds)
    if set(t) != {"red", "orange", "yellow"}:
        raise ConfigError(
            f"risk level thresholds need exactly the keys red, orange, yellow (got {sorted(t)}); "
            "fix: give e.g. {'red': 4.0, 'orange': 2.5, 'yellow': 1.5} (multiples of the base rate)"
        )
    values = [float(t["yellow"]), float(t["orange"]), float(t["red"])]
    if not all(np.isfinite(values)) or not 0 < values[0] < values[1] < values[2]:
        raise ConfigError(
            f"risk level thresholds must satisfy 0 < yellow < orange < red (got {t}); "
            "fix: order them, e.g. yellow 1.5, orange 2.5, red 4.0"
        )
    return {"yellow": values[0], "orange": values[1], "red": values[2]}


def risk_level(
    prob: Any,
    base_rate: Any,
    thresholds: Mapping[str, float] | None = None,
    *,
    min_prob: float = 0.0,
) -> Any:
    """Level of each probability: ``ratio = prob / base_rate`` against the thresholds.

    ``prob`` and ``base_rate`` broadcast (one base rate per target, or one per row). A
    probability below ``min_prob`` is blue whatever its ratio. Returns a ``str`` for scalar
    input, else an array of level names with the broadcast shape.
    """
    t = validate_thresholds(thresholds)
    p = np.asarray(prob, dtype=float)
    b = np.asarray(base_rate, dtype=float)
    if not (np.isfinite(p) & (p >= 0) & (p <= 1)).all():
        bad = float(p[~(np.isfinite(p) & (p >= 0) & (p <= 1))].ravel()[0])
        raise ConfigError(f"prob must be a probability in [0, 1] (got {bad!r})")
    if not (np.isfinite(b) & (b > 0) & (b <= 1)).all():
        bad = float(b[~(np.isfinite(b) & (b > 0) & (b <= 1))].ravel()[0])
        raise ConfigError(
            f"base_rate must be in (0, 1] (got {bad!r}); fix: use the target's share of "
            "grid-windows with at least one event in the training period"
        )
    if not 0.0 <= min_prob <= 1.0:
        raise ConfigError(f"min_prob must be in [0, 1] (got {min_prob!r})")
    ratio = p / b * (1 + _REL_TOL)  # 0.3 / 0.1 is 2.9999999999999996; bounds stay inclusive
    rank = (
        (ratio >= t["yellow"]).astype(np.int8)
        + (ratio >= t["orange"]).astype(np.int8)
        + (ratio >= t["red"]).astype(np.int8)
    )
    rank = np.where(p < min_prob, 0, rank)
    names = np.asarray(LEVELS)[rank]
    return str(names) if names.ndim == 0 else names


def level_rank(level: Any) -> Any:
    """0 for blue … 3 for red; ``int`` for a scalar, an int array otherwise."""
    arr = np.asarray(level, dtype=object)
    flat = arr.ravel()
    unknown = sorted({str(x) for x in flat if x not in _RANK})
    if unknown:
        raise ConfigError(f"unknown risk level {unknown[0]!r}; accepted: {', '.join(LEVELS)}")
    ranks = np.fromiter((_RANK[x] for x in flat), dtype=np.int8, count=flat.size)
    ranks = ranks.reshape(arr.shape)
    return int(ranks) if ranks.ndim == 0 else ranks


def at_least(level: Any, minimum: str) -> Any:
    """``level >= minimum`` in severity order (``at_least('red', 'orange')`` is True)."""
    result = np.asarray(level_rank(level)) >= level_rank(minimum)
    return bool(result) if result.ndim == 0 else result


def max_level(levels: Any) -> str:
    """The most severe of several levels."""
    return LEVELS[int(np.max(level_rank(np.asarray(levels, dtype=object))))]


def warning_mask(
    level: Any,
    prob: Any,
    *,
    min_level: str | None = "orange",
    top_percent: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Which grids of one (issue time, target) become review items.

    A grid qualifies when its level is at least ``min_level``, or (when ``top_percent`` is
    given) it is among the ``ceil(top_percent% · n)`` highest probabilities — ties broken
    at random with ``seed``, never by grid order. Give either rule or both (their union).
    """
    if min_level is None and top_percent is None:
        raise ConfigError("warning rule needs min_level, top_percent or both")
    lv = np.asarray(level, dtype=object)
    p = np.asarray(prob, dtype=float)
    if lv.shape != p.shape or p.ndim != 1:
        raise ConfigError(
            f"level and prob must be 1-D arrays of the same length (got {lv.shape} and {p.shape})"
        )
    mask = np.zeros(p.shape, dtype=bool)
    if min_level is not None:
        mask |= np.asarray(at_least(lv, min_level), dtype=bool)
    if top_percent is not None and p.size:
        mask |= top_k_mask(p[None, :], top_percent, seed)[0]
    return mask
