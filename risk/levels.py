"""Risk levels (red / orange / yellow / blue) from a calibrated probability.

**Operating points with a stated precision** (docs/adr/013-levels-as-operating-points.md).
A level is a threshold on the calibrated probability, chosen per target on held-out data at
training time (:func:`operating_points`): **red** is the lowest threshold whose measured
precision — the share of the grid-windows at or above it that saw at least one event — is at
least 0.80 (the planning document's accuracy target), **orange** 0.60 and **yellow** 0.40
(`risk/levels.toml`) — with confidence: the more conservative of the Wilson bound and a
cluster-robust bound over weeks of issue days (`risk.precision_bounds`) must clear it, since
grid-windows of one week are not independent. A level the target never reaches with enough
support is not issued for it. Being absolute, the thresholds let a city-wide surge raise
levels: more grids cross them. :func:`levels_at` applies them.

**Ratio to a base rate** (:func:`risk_level`, kept for models saved before operating points):
red at ≥ 4× the base rate, orange at ≥ 2.5×, yellow at ≥ 1.5×, blue below; each bound
inclusive up to float rounding (1e-9 relative); an optional absolute floor keeps a grid blue
when its probability is tiny. It cannot say how often a red warning comes true, and with a
base rate above 0.25 no grid can be red at all.

Which levels enter the review queue is `warning_mask` (issue 5, item 2).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from risk.errors import ConfigError
from risk.metrics import top_k_mask
from risk.precision_bounds import (
    cluster_counts,
    cluster_precision_lower_bound,
    clusters_of,
    precision_lower_bound,
)

LEVELS = ("blue", "yellow", "orange", "red")  # ascending severity
LEVELS_FILE = Path(__file__).with_name("levels.toml")
WARNING_LEVELS = ("red", "orange", "yellow")  # the levels with an operating point
DEFAULT_THRESHOLDS: Mapping[str, float] = {"red": 4.0, "orange": 2.5, "yellow": 1.5}
_RANK = {name: i for i, name in enumerate(LEVELS)}
_REL_TOL = 1e-9
CLUSTER_DAYS = 7  # default [support] cluster_days: a week of overlapping 72-hour windows
PROMISES = ("week", "mean")  # [support] promise: what the cluster bound holds for
MAX_CUTS = 4_096  # candidate thresholds the cluster bound is computed at (a quantile grid)


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


# ----------------------------------------------------------------------------- operating points


def load_level_config(path: Path | str | None = None) -> dict[str, Any]:
    """``{"precision": {red, orange, yellow}, "min_flagged": n, "confidence": c,
    "cluster_days": d, "promise": "week" | "mean"}`` from ``risk/levels.toml`` (or ``path``);
    precisions must fall from red to yellow, each in (0, 1]."""
    path = Path(path) if path is not None else LEVELS_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: level settings not found; give an existing TOML") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    precision = raw.get("precision", {})
    if set(precision) != set(WARNING_LEVELS):
        raise ConfigError(
            f"{path}: [precision] needs exactly red, orange, yellow (got {sorted(precision)})"
        )
    values = [float(precision[k]) for k in WARNING_LEVELS]
    if not all(0 < v <= 1 for v in values) or not values[0] >= values[1] >= values[2]:
        raise ConfigError(
            f"{path}: [precision] must satisfy 1 >= red >= orange >= yellow > 0 (got {precision})"
        )
    min_flagged = raw.get("support", {}).get("min_flagged", 50)
    if not isinstance(min_flagged, int) or isinstance(min_flagged, bool) or min_flagged < 1:
        raise ConfigError(f"{path}: [support] min_flagged must be an integer >= 1")
    confidence = raw.get("support", {}).get("confidence", 0.9)
    if not isinstance(confidence, int | float) or not 0.5 <= float(confidence) < 1:
        raise ConfigError(f"{path}: [support] confidence must be a number in [0.5, 1)")
    cluster_days = raw.get("support", {}).get("cluster_days", CLUSTER_DAYS)
    if not isinstance(cluster_days, int) or isinstance(cluster_days, bool) or cluster_days < 0:
        raise ConfigError(
            f"{path}: [support] cluster_days must be an integer >= 0 (got {cluster_days!r}); "
            "fix: 7 (weeks of issue days), or 0 for the Wilson bound alone"
        )
    promise = raw.get("support", {}).get("promise", PROMISES[0])
    if promise not in PROMISES:
        raise ConfigError(
            f"{path}: [support] promise must be one of {', '.join(PROMISES)} (got {promise!r}); "
            "fix: 'week' (the precision holds in one coming week) or 'mean' (on average)"
        )
    return {
        "precision": dict(zip(WARNING_LEVELS, values, strict=True)),
        "min_flagged": min_flagged,
        "confidence": float(confidence),
        "cluster_days": cluster_days,
        "promise": promise,
    }


def operating_points(
    prob: Any,
    label: Any,
    config: Mapping[str, Any] | None = None,
    *,
    issue_time: Any = None,
) -> dict[str, dict[str, Any]]:
    """Per level: the lowest probability threshold whose precision is at least the level's
    target with ``confidence``, measured on these held-out rows (`prob` calibrated, `label`
    >= 1 = an event; a config without ``confidence`` uses the point estimate).

    "With confidence" means the more conservative of two one-sided lower bounds clears the
    target: Wilson's (rows as independent trials) and, given the rows' ``issue_time``, the
    cluster-robust one over blocks of ``cluster_days`` issue days (7 by default;
    `risk.precision_bounds`), since grid-windows of the same week share city-wide swings and
    overlapping windows. ``promise`` "week" (the default) bounds the precision of one coming
    week, "mean" the precision on average over weeks. The cluster bound is computed at up to
    ``MAX_CUTS`` candidate cuts (a quantile grid of them), so a threshold may sit a grid step
    above the exact one. Without ``issue_time``, or with ``cluster_days`` 0, Wilson alone
    decides (rows taken as independent; kept for callers with no times, and the result then
    has no ``bound``).

    Thresholds sit on the distinct probabilities (all rows of a tie flag together). Only cuts
    flagging at least ``min_flagged`` rows count. Returns ``{level: {"threshold": t | None,
    "target": precision wanted, "precision": measured at t, "flagged": rows at or above t,
    "share": flagged / rows}}`` plus, given ``issue_time``, ``"bound": {"method", "confidence",
    "cluster_days", "promise", "clusters", "wilson", "cluster"}`` (the two bounds at t; None
    where the level is not issued or the cluster bound not used); ``threshold`` None means the
    target never reaches that precision here, so the level is not issued.
    """
    cfg = dict(config) if config is not None else load_level_config()
    p = np.asarray(prob, dtype=float).ravel()
    y = (np.asarray(label, dtype=float).ravel() >= 1).astype(float)
    if p.shape != y.shape:
        raise ConfigError(f"prob and label differ in length ({p.size} and {y.size})")
    if issue_time is not None and len(issue_time) != p.size:
        raise ConfigError(
            f"prob and issue_time differ in length ({p.size} and {len(issue_time)}); "
            "fix: give the issue time of every row"
        )
    days = int(cfg.get("cluster_days", CLUSTER_DAYS)) if issue_time is not None else 0
    promise = str(cfg.get("promise", PROMISES[0]))
    confidence = float(cfg.get("confidence", 0.5))
    order = np.argsort(-p, kind="stable")
    p, y = p[order], y[order]
    hits = np.cumsum(y)
    flagged = np.arange(1, p.size + 1)
    last_of_tie = np.r_[p[1:] != p[:-1], True] if p.size else np.zeros(0, dtype=bool)
    precision = np.divide(hits, flagged, out=np.zeros_like(hits), where=flagged > 0)
    # The precision must hold with `confidence`, not only on average: a cut that is 0.80 on
    # the calibration slice is as likely as not to fall below it later.
    cuts = np.flatnonzero(last_of_tie & (flagged >= cfg["min_flagged"]))
    by_cluster, n_clusters = None, None
    if days > 0:
        if cuts.size > MAX_CUTS:  # a quantile grid of the cuts, the shallowest and deepest kept
            cuts = cuts[np.unique(np.linspace(0, cuts.size - 1, MAX_CUTS).round().astype(int))]
        cluster = clusters_of(issue_time, days)[order]
        n_clusters = int(cluster.max()) + 1 if cluster.size else 0
        by_cluster = cluster_precision_lower_bound(
            *cluster_counts(y, cluster, cuts), confidence, coming_week=promise == "week"
        )
    wilson = precision_lower_bound(hits[cuts], flagged[cuts], confidence)
    lower = wilson if by_cluster is None else np.minimum(wilson, by_cluster)
    out: dict[str, dict[str, Any]] = {}
    for level in WARNING_LEVELS:
        wanted = float(cfg["precision"][level])
        ok = np.flatnonzero(lower >= wanted - 1e-12)
        j = int(ok[-1]) if ok.size else None  # the deepest cut that still holds the precision
        if j is None:
            point: dict[str, Any] = {"threshold": None, "target": wanted, "precision": None,
                                     "flagged": 0, "share": 0.0}  # fmt: skip
        else:
            k = int(cuts[j])
            point = {
                "threshold": float(p[k]),
                "target": wanted,
                "precision": float(precision[k]),
                "flagged": int(flagged[k]),
                "share": float(flagged[k] / p.size),
            }
        if issue_time is not None:
            point["bound"] = {
                "method": "min(wilson, cluster)" if days > 0 else "wilson",
                "confidence": confidence,
                "cluster_days": days or None,
                "promise": promise if days else None,
                "clusters": n_clusters,
                "wilson": None if j is None else float(wilson[j]),
                "cluster": None if j is None or by_cluster is None else float(by_cluster[j]),
            }
        out[level] = point
    return out


def unissued(points: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The warning levels (yellow, orange, red) that :func:`operating_points` left without a
    threshold: the target never reached their precision on enough flagged rows, so its
    forecasts never carry them."""
    return [
        level
        for level in ("yellow", "orange", "red")
        if (points.get(level) or {}).get("threshold") is None
    ]


def level_notes(points_by_target: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """At most three lines for the commands that train a model to print: the targets that
    issue no warning level at all, those without red, those with yellow only. Otherwise a
    near-certain grid shows as blue with no word of why (small or single-hotspot cities rarely
    flag enough held-out rows)."""
    support = load_level_config()["min_flagged"]
    groups: dict[str, list[str]] = {"none": [], "no_red": [], "yellow_only": []}
    for target, points in points_by_target.items():
        missing = unissued(points)
        if len(missing) == 3:
            groups["none"].append(target)
        elif missing == ["orange", "red"]:
            groups["yellow_only"].append(target)
        elif "red" in missing:
            groups["no_red"].append(target)
    lines = []
    if groups["none"]:
        lines.append(
            f"note: no warning level is issued for {', '.join(groups['none'])}: on the "
            f"held-out calibration rows no threshold flagged at least {support} grid-windows "
            "with the precision a level promises, so their forecasts stay blue and reach "
            "review only through `risk score --top-percent` (more history or more grids give "
            "them levels; docs/adr/013)"
        )
    if groups["no_red"]:
        lines.append(
            f"note: no red level for {', '.join(groups['no_red'])} (not reached with "
            f"{support}+ flagged held-out grid-windows)"
        )
    if groups["yellow_only"]:
        lines.append(
            f"note: yellow only for {', '.join(groups['yellow_only'])} (orange and red not "
            f"reached with {support}+ flagged held-out grid-windows)"
        )
    return lines


def levels_at(prob: Any, points: Mapping[str, Mapping[str, Any]]) -> np.ndarray:
    """Level names of `prob` from :func:`operating_points` (a missing threshold never fires;
    each threshold inclusive)."""
    p = np.asarray(prob, dtype=float)
    rank = np.zeros(p.shape, dtype=np.int8)
    for i, level in enumerate(("yellow", "orange", "red"), start=1):
        threshold = (points.get(level) or {}).get("threshold")
        if threshold is not None and math.isfinite(threshold):
            rank = np.where(p >= threshold, np.maximum(rank, i), rank)
    return np.asarray(LEVELS)[rank]


def level_table(level: Any, count: Any) -> dict[str, dict[str, float | int | None]]:
    """How the levels did against what happened: per level and for "orange_or_above", the
    share of grid-windows flagged, the precision (flagged with >= 1 event) and the recall of
    events (events in flagged windows / all events). `level` and `count` are same-shape
    panels."""
    lv = np.asarray(level, dtype=object)
    c = np.asarray(count, dtype=float)
    total_events = float(c.sum())
    groups = {name: lv == name for name in ("red", "orange", "yellow")}
    groups["orange_or_above"] = groups["red"] | groups["orange"]
    out: dict[str, dict[str, float | int | None]] = {}
    for name, mask in groups.items():
        n = int(mask.sum())
        out[name] = {
            "flagged": n,
            "share": n / lv.size if lv.size else 0.0,
            "precision": float((c[mask] >= 1).mean()) if n else None,
            "recall": float(c[mask].sum() / total_events) if total_events else None,
        }
    return out
