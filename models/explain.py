"""Plain-language reasons for a forecast (DESIGN §4 "Prediction"; issue #5 item 1, issue 15
item 4; docs/adr/017-reasons-in-plain-words.md).

`explain(forecaster, frame, feature_info)` turns TreeSHAP contributions of the raw log-odds
into the top reasons per (grid, issue time). Contributions are summed per *reason group*
(`models.reason_groups`: features that mean one thing to a person, such as "thefts here
over the past year" or "the kind of place"), expressed in percentage points of the
*calibrated* probability, and each reason says in plain words what its group's values are for
that grid (`models.reason_texts`), in English and Chinese:

    "9 thefts here in the past year (a typical grid: 3): +12 pts"
    "本网格近一年盗窃9起（一般网格3起）：+12个百分点"

Points. With `z0` the expected value (SHAP base), `z = z0 + Σ_g φ_g` the row's raw log-odds
(`φ_g` the summed contributions of the features of group `g` — of that group only), `g(z) =
calibrator(sigmoid(z))` the calibrated link, `p0 = g(z0)` and `p = g(z)`, group `g` gets

    points_g = 100 · (p − p0) · φ_g / Σ_g φ_g

so the points of all groups add up exactly to `100 · (p − p0)`. This is the secant of the
link between `z0` and `z` applied to every group alike. Limits: it ignores the curvature of
the link; when groups cancel (`Σφ` small against the `φ_g`) the points of each are large and
opposite, though still of the right sign for a non-decreasing calibrator; an isotonic
calibrator flat between `z0` and `z` gives every group 0 points. The reasons shown are the
`top` groups by |points| (at least `min_points`); `other_points` is the rest, the sum of the
groups not shown, so base + reasons + other factors = the forecast.

Output: a long table, one row per reason, ranked by |points| within each frame row — see
`REASON_COLUMNS`. Frame rows where no group reaches `min_points` have no reason row.
`reason_lists(table)` packs it as JSON-ready lists per (grid, issue time, target), which is
what the service stores.

The city median a count is compared with is taken over the rows of `frame` at the same issue
time: pass every grid of the city (not a partition) for "a typical grid" to mean the city's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from features.base import FeatureInfo
from models.reason_groups import GROUPS, aspect_of, group_of
from models.reason_texts import (
    NAN,
    NAN_TEXT,
    describe,
    format_points,
    format_value,
    reason_texts,
)
from risk.contract import HORIZON_HOURS
from risk.errors import RiskError
from risk.labels import LabelTable, load_labels

__all__ = [
    "NAN_TEXT",
    "REASON_COLUMNS",
    "AdditivityError",
    "Partition",
    "check_additivity",
    "city_medians",
    "explain",
    "explain_targets",
    "format_points",
    "format_value",
    "group_points",
    "partition",
    "reason_lists",
    "reasons_from_contributions",
]

REASON_COLUMNS = (
    "row",  # position of the explained row in `frame`
    "grid_id",
    "issue_time",
    "target",
    "rank",  # 1 = largest |points|
    "group",  # the reason group (models.reason_groups.GROUPS)
    "family",  # feature family of `feature`
    "feature",  # the feature whose value the words give first
    "value",  # its actual value (float; NaN for a categorical feature or a missing value)
    "value_text",  # the value as written in the words ('—' when missing)
    "median",  # the city median the words compare with (NaN when they do not)
    "points",  # change in calibrated probability, percentage points, of this group only
    "other_points",  # points of the row's groups not shown ("other factors")
    "prob",  # calibrated probability of the row
    "base_prob",  # calibrated probability at the expected value
    "words_en",  # the reason without its points
    "words_zh",
    "text_en",  # the reason with its points
    "text_zh",
)


class AdditivityError(RiskError):
    """SHAP contributions plus the expected value do not reproduce the model's raw score."""


# ----------------------------------------------------------------------------- additivity


def check_additivity(
    forecaster: Any,
    frame: pd.DataFrame,
    atol: float = 1e-6,
    contributions: np.ndarray | None = None,
    raw: np.ndarray | None = None,
) -> float:
    """Max |Σ contributions (with the expected value) − raw log-odds| over the rows of `frame`.

    Raises `AdditivityError` when it exceeds `atol`: the reasons would not explain the score.
    Pass `contributions` already computed for `frame` to skip the second TreeSHAP pass, and
    `raw` (its `decision_function`, computed from the trees, not from the contributions) to
    skip a second pass of the trees.
    """
    contrib = forecaster.contributions(frame) if contributions is None else contributions
    raw = forecaster.decision_function(frame) if raw is None else np.asarray(raw)
    error = float(np.max(np.abs(contrib.sum(axis=1) - raw))) if len(raw) else 0.0
    if not error <= atol:
        raise AdditivityError(
            f"SHAP contributions of target {getattr(forecaster, 'target', '?')!r} miss the raw "
            f"score by up to {error:.3g} (tolerance {atol:g}); the model file and the LightGBM "
            "version may disagree — re-train or re-save the model with this LightGBM version"
        )
    return error


# ----------------------------------------------------------------------------- the partition


@dataclass(frozen=True)
class Partition:
    """The groups present (in `GROUPS` order), each feature's group index, and the aspects:
    (group index, aspect) per aspect column and each feature's aspect index."""

    groups: list[str]
    group_of: np.ndarray
    aspects: list[tuple[int, str]]
    aspect_of: np.ndarray

    def features_of(self, group: str, names: list[str]) -> list[str]:
        k = self.groups.index(group)
        return [n for n, g in zip(names, self.group_of.tolist(), strict=True) if g == k]


def partition(
    feature_names: list[str], target: str, info: dict[str, FeatureInfo] | None = None
) -> Partition:
    """Every feature in exactly one group of the reasons of `target` (`models.reason_groups`)."""
    info = info or {}
    family = [info[n].family if n in info else None for n in feature_names]
    of = [group_of(n, target, f) for n, f in zip(feature_names, family, strict=True)]
    groups = [g for g in GROUPS if g in set(of)]
    index = {g: k for k, g in enumerate(groups)}
    aspects: list[tuple[int, str]] = []
    aspect_index: dict[tuple[int, str], int] = {}
    aspect_of_feature = []
    for name, f, g in zip(feature_names, family, of, strict=True):
        key = (index[g], aspect_of(name, target, f))
        if key not in aspect_index:
            aspect_index[key] = len(aspects)
            aspects.append(key)
        aspect_of_feature.append(aspect_index[key])
    return Partition(
        groups,
        np.array([index[g] for g in of], dtype=np.int64),
        aspects,
        np.array(aspect_of_feature, dtype=np.int64),
    )


def _sum_by(phi: np.ndarray, index: np.ndarray, k: int) -> np.ndarray:
    """(n, k): the columns of `phi` summed by `index` (no BLAS: a busy machine's threads
    make a product with a one-hot matrix slower than these sums)."""
    order = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[order], np.arange(k))
    out = np.zeros((phi.shape[0], k))
    present = np.unique(index)
    if len(order):
        sums = np.add.reduceat(phi[:, order], starts[present], axis=1)
        out[:, present] = sums
    return out


# ----------------------------------------------------------------------------- the numeric work


def group_points(
    contributions: np.ndarray,
    group_of: np.ndarray,
    n_groups: int,
    calibrate: Callable[[np.ndarray], np.ndarray],
    link: Callable[[np.ndarray], np.ndarray] = expit,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(points (n, K), calibrated prob (n,), base calibrated prob) by the proportional rule
    of the module docstring. `contributions` is (n, F + 1), the last column the expected value;
    `calibrate` maps raw probabilities to calibrated ones."""
    contrib = np.asarray(contributions, dtype=np.float64)
    phi = contrib[:, :-1]
    base = float(contrib[0, -1]) if len(contrib) else 0.0
    fam = _sum_by(phi, group_of, n_groups)
    total = fam.sum(axis=1)
    p0 = float(np.asarray(calibrate(link(np.array([base]))), dtype=np.float64)[0])
    p = np.asarray(calibrate(link(base + total)), dtype=np.float64)
    delta = p - p0
    tiny = np.abs(total) < 1e-12
    rate = np.divide(delta, total, out=np.zeros_like(delta), where=~tiny)
    points = 100.0 * fam * rate[:, None]
    # No log-odds movement but a different probability (only a jump in the calibrator):
    # nothing to apportion by, give it to the group with the largest |φ| (all zero: the first).
    jump = tiny & (delta != 0)
    if jump.any():
        rows = np.flatnonzero(jump)
        points[rows, np.argmax(np.abs(fam[rows]), axis=1)] = 100.0 * delta[rows]
    return points, p, p0


def _select(points: np.ndarray, top: int, min_points: float) -> tuple[np.ndarray, ...]:
    """(row, group, rank) of the kept reasons, row-major, rank 1 first."""
    k = points.shape[1]
    width = min(top, k)
    order = np.argsort(-np.abs(points), axis=1, kind="stable")[:, :width]
    kept = np.abs(np.take_along_axis(points, order, axis=1)) >= min_points
    rows, pos = np.nonzero(kept)
    return rows, order[rows, pos], pos + 1


class _FrameFacts:
    """`models.reason_texts.Facts` over the rows of a frame: `row` is the row read. Columns
    and per-issue-time medians are read once, when first asked for."""

    def __init__(self, frame: pd.DataFrame, medians: Mapping[str, float] | None = None) -> None:
        self._frame = frame
        self._given = medians
        self._columns: dict[str, np.ndarray | None] = {}
        self._medians: dict[str, np.ndarray | None] = {}
        self._codes: np.ndarray | None = None
        self._months: np.ndarray | None = None
        self.row = 0

    def _column(self, name: str) -> np.ndarray | None:
        if name not in self._columns:
            column = None
            if name in self._frame.columns:
                s = self._frame[name]
                numeric = pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(
                    s.dtype, pd.CategoricalDtype
                )
                column = (
                    s.to_numpy(dtype=np.float64, na_value=np.nan)
                    if numeric
                    else s.to_numpy(dtype=object, na_value=np.nan)
                )
            self._columns[name] = column
        return self._columns[name]

    def value(self, name: str) -> Any:
        column = self._column(name)
        return None if column is None else column[self.row]

    def median(self, name: str) -> float:
        if self._given is not None:  # the whole city's, for a partition of one issue time
            return float(self._given.get(name, NAN))
        if name not in self._medians:
            column = self._column(name)
            if column is None or column.dtype == object:
                self._medians[name] = None
            else:
                if self._codes is None:
                    self._codes = pd.factorize(self._frame["issue_time"])[0]
                self._medians[name] = (
                    pd.Series(column).groupby(self._codes).median().to_numpy(dtype=np.float64)
                )
        medians = self._medians[name]
        return NAN if medians is None else float(medians[self._codes[self.row]])

    def month(self) -> int | None:
        if self._months is None:
            self._months = pd.DatetimeIndex(self._frame["issue_time"]).month.to_numpy()
        return int(self._months[self.row])


def _ranked_aspects(
    part: Partition, phi: np.ndarray, rows: np.ndarray, chosen: np.ndarray, pts: np.ndarray
) -> list[list[tuple[str, float]]]:
    """Per kept reason, its group's aspects with their push in the direction of its points,
    largest first (one numpy pass per group, not per reason)."""
    pushes = _sum_by(phi, part.aspect_of, len(part.aspects))
    out: list[list[tuple[str, float]]] = [[] for _ in range(len(rows))]
    for k in range(len(part.groups)):
        at = np.flatnonzero(chosen == k)
        if not len(at):
            continue
        cols = np.array([a for a, (g, _) in enumerate(part.aspects) if g == k], dtype=np.int64)
        names = np.asarray([part.aspects[a][1] for a in cols.tolist()], dtype=object)
        if len(cols) == 1:
            only = [(str(names[0]), 1.0)]
            for i in at.tolist():
                out[i] = only
            continue
        sign = np.where(pts[at] >= 0, 1.0, -1.0)
        block = pushes[np.ix_(rows[at], cols)] * sign[:, None]
        order = np.argsort(-block, axis=1, kind="stable")
        ranked_names = names[order].tolist()
        ranked_pushes = np.take_along_axis(block, order, axis=1).tolist()
        for i, n, v in zip(at.tolist(), ranked_names, ranked_pushes, strict=True):
            out[i] = list(zip(n, v, strict=True))
    return out


@functools.cache
def _packaged_labels() -> LabelTable:
    return load_labels()


def reasons_from_contributions(
    contributions: np.ndarray,
    frame: pd.DataFrame,
    feature_names: list[str],
    feature_info: Iterable[FeatureInfo],
    calibrate: Callable[[np.ndarray], np.ndarray],
    target: str,
    top: int = 3,
    min_points: float = 0.5,
    link: Callable[[np.ndarray], np.ndarray] = expit,
    labels: LabelTable | None = None,
    horizon_hours: int = HORIZON_HOURS,
    medians: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The reason table (`REASON_COLUMNS`) from contributions already computed.

    `contributions` is (len(frame), len(feature_names) + 1) SHAP values of the raw score (the
    log-odds, or the log expected count of a poisson model), the last column the expected
    value; `link` maps raw scores to raw probabilities (logistic by default) and `calibrate`
    maps raw probabilities to calibrated ones. `labels`: the label table (default the
    packaged one, `risk.labels`). Features no group knows form the group `other`, named by
    their feature label. `medians` (`city_medians`): the medians "a typical grid" means, for
    a frame of one issue time that holds part of the city.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    contrib = np.asarray(contributions, dtype=np.float64)
    if contrib.shape != (len(frame), len(feature_names) + 1):
        raise ValueError(
            f"contributions of shape {contrib.shape} do not match {len(frame)} rows and "
            f"{len(feature_names)} features + the expected value"
        )
    labels = labels or _packaged_labels()
    info = {i.name: i for i in feature_info}
    part = partition(feature_names, target, info)
    points, prob, p0 = group_points(contrib, part.group_of, len(part.groups), calibrate, link)
    rows, chosen, rank = _select(points, top, min_points)
    pts = points[rows, chosen]
    other = 100.0 * (prob - p0)
    np.subtract.at(other, rows, pts)
    aspects = _ranked_aspects(part, contrib[:, :-1], rows, chosen, pts)
    feature_labels = {n: (i.label_en, i.label_zh) for n, i in info.items()}

    facts = _FrameFacts(frame, medians)
    out: dict[str, list[Any]] = {c: [] for c in ("feature", "family", "value", "value_text",
                                                 "median", "words_en", "words_zh", "text_en",
                                                 "text_zh")}  # fmt: skip
    for r, g, p, ranked in zip(rows.tolist(), chosen.tolist(), pts.tolist(), aspects, strict=True):
        facts.row = r
        words = describe(part.groups[g], target, facts, ranked, labels, horizon_hours,
                         feature_labels)  # fmt: skip
        en, zh = reason_texts(words.en, words.zh, p)
        value = words.value
        number = (
            float(value)
            if isinstance(value, int | float | np.number) and not isinstance(value, bool)
            else NAN
        )
        out["feature"].append(words.feature)
        out["family"].append(info[words.feature].family if words.feature in info else "other")
        out["value"].append(number)
        out["value_text"].append(words.value_text)
        out["median"].append(words.median)
        out["words_en"].append(words.en)
        out["words_zh"].append(words.zh)
        out["text_en"].append(en)
        out["text_zh"].append(zh)

    def objects(key: str) -> np.ndarray:
        return np.asarray(out[key], dtype=object)

    return pd.DataFrame(
        {
            "row": rows,
            "grid_id": frame["grid_id"].array.take(rows),
            "issue_time": frame["issue_time"].array.take(rows),
            "target": np.repeat(target, len(rows)).astype(object),
            "rank": rank.astype(np.int64),
            "group": np.asarray(part.groups, dtype=object)[chosen],
            "family": objects("family"),
            "feature": objects("feature"),
            "value": np.asarray(out["value"], dtype=np.float64),
            "value_text": objects("value_text"),
            "median": np.asarray(out["median"], dtype=np.float64),
            "points": pts,
            "other_points": other[rows],
            "prob": prob[rows],
            "base_prob": np.full(len(rows), p0),
            "words_en": objects("words_en"),
            "words_zh": objects("words_zh"),
            "text_en": objects("text_en"),
            "text_zh": objects("text_zh"),
        },
        columns=list(REASON_COLUMNS),
    )


# ----------------------------------------------------------------------------- the entry points


def _calibrator(forecaster: Any) -> Callable[[np.ndarray], np.ndarray]:
    return forecaster.calibrator_.transform


def explain(
    forecaster: Any,
    frame: pd.DataFrame,
    feature_info: Iterable[FeatureInfo],
    top: int = 3,
    min_points: float = 0.5,
    contributions: np.ndarray | None = None,
    labels: LabelTable | None = None,
    medians: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Top `top` reasons per row of `frame` for one fitted `LightGBMForecaster` (one TreeSHAP
    pass, or `contributions` already computed for `frame`); see the module docstring for the
    rule and `REASON_COLUMNS` for the table. Its `prob` column equals `predict_proba(frame)`.
    `medians`: the city's (`city_medians`) when `frame` is a partition of one issue time."""
    contrib = forecaster.contributions(frame) if contributions is None else contributions
    return reasons_from_contributions(
        contrib,
        frame,
        list(forecaster.feature_names_),
        feature_info,
        _calibrator(forecaster),
        forecaster.target,
        top,
        min_points,
        link=getattr(forecaster, "raw_to_prob", expit),
        labels=labels,
        horizon_hours=int(getattr(forecaster, "horizon_hours", HORIZON_HOURS)),
        medians=medians,
    )


def city_medians(frame: pd.DataFrame) -> dict[str, float]:
    """The median of every numeric column of a frame of one issue time over the whole city,
    exactly as the reasons compute it: what partitions of that frame pass as `medians`."""
    if frame["issue_time"].nunique() > 1:
        raise ValueError("city_medians takes a frame of one issue time")
    facts = _FrameFacts(frame)  # row 0: every row has the one issue time
    return {str(name): facts.median(str(name)) for name in frame.columns} if len(frame) else {}


def explain_targets(
    model: Any,
    frame: pd.DataFrame,
    feature_info: Iterable[FeatureInfo],
    top: int = 3,
    min_points: float = 0.5,
    labels: LabelTable | None = None,
) -> pd.DataFrame:
    """`explain` for every target of a fitted `MultiTargetForecaster`, target-major."""
    info = list(feature_info)
    parts = [
        explain(f, frame, info, top, min_points, labels=labels) for f in model.forecasters_.values()
    ]
    return pd.concat(parts, ignore_index=True)


_RECORD_FIELDS = (
    "rank",
    "group",
    "family",
    "feature",
    "value",
    "value_text",
    "median",
    "points",
    "other_points",  # the groups not shown: base_prob + points + other_points = prob
    "base_prob",  # the calibrated probability at the base value: where the points start
    "words_en",
    "words_zh",
    "text_en",
    "text_zh",
)


def reason_lists(table: pd.DataFrame) -> dict[tuple[str, pd.Timestamp, str], list[dict]]:
    """{(grid_id, issue_time, target): [reason dicts by rank]} — JSON-ready values (NaN value
    or median as None), for storing the reasons of each (grid, target) of a run."""
    ordered = table.sort_values(["target", "row", "rank"], kind="stable")
    keys = zip(
        ordered["grid_id"].tolist(),
        ordered["issue_time"].tolist(),
        ordered["target"].tolist(),
        strict=True,
    )
    columns = [ordered[c].tolist() for c in _RECORD_FIELDS]
    out: dict[tuple[str, pd.Timestamp, str], list[dict]] = {}
    for key, values in zip(keys, zip(*columns, strict=True), strict=False):
        record = dict(zip(_RECORD_FIELDS, values, strict=True))
        for name in ("value", "median"):
            if isinstance(record[name], float) and math.isnan(record[name]):
                record[name] = None
        record["rank"] = int(record["rank"])
        out.setdefault(key, []).append(record)
    return out
