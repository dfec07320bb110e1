"""Plain-language reasons for a forecast (DESIGN §4 "Prediction"; issue #5 item 1).

`explain(forecaster, frame, feature_info)` turns TreeSHAP contributions of the raw log-odds
into the top reasons per (grid, issue time): contributions are summed per feature family,
expressed in percentage points of the *calibrated* probability, and each reason names the
family's most influential feature in that row with its actual value, in English and Chinese:

    "9 theft events in the last 28 days, 3× the city median: +12 pts"
    "近28天盗窃事件9起，为全市中位数的3倍：+12个百分点"

Points. With `z0` the expected value (SHAP base), `z = z0 + Σ_f φ_f` the row's raw log-odds
(`φ_f` the summed contributions of family `f`), `g` the calibrated link
`g(z) = calibrator(sigmoid(z))`, `p0 = g(z0)` and `p = g(z)`, family `f` gets

    points_f = 100 · (p − p0) · φ_f / Σ_f φ_f

so the points of all families add up exactly to `100 · (p − p0)`. This is the secant of `g`
between `z0` and `z` applied to every family alike. Limits: it ignores the curvature of `g`
(a family pushing the score through the steep middle of the sigmoid gets the same rate as
one in the flat tail); when families cancel (`Σφ` small against the `φ_f`) the points of each
are large and opposite, though still of the right sign for a non-decreasing calibrator; an
isotonic calibrator that is flat between `z0` and `z` gives every family 0 points. The
exact alternative (Shapley values of `g` over the families, 2^7 coalitions) was not taken:
the issue asks for the proportional rule and it is cheap and easy to state.

Output: a long table, one row per reason, ranked by |points| within each frame row — see
`REASON_COLUMNS`. Frame rows where no family reaches `min_points` have no reason row.
`reason_lists(table)` packs it as JSON-ready lists per (grid, issue time, target), which is
what the service stores.

The city median of a count or rate feature is taken over the rows of `frame` at the same
issue time: pass every grid of the city (not a partition) for the comparison to mean "city".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from features.base import FAMILIES, FeatureInfo
from risk.errors import RiskError

OTHER_FAMILY = "other"
NAN_TEXT = "—"

REASON_COLUMNS = (
    "row",  # position of the explained row in `frame`
    "grid_id",
    "issue_time",
    "target",
    "rank",  # 1 = largest |points|
    "family",
    "feature",  # the family's most influential feature in that row
    "value",  # its actual value (float; NaN for a categorical feature or a missing value)
    "value_text",  # the value as written in the texts ('—' when missing)
    "median",  # city median at that issue time (NaN when not compared)
    "points",  # change in calibrated probability, percentage points
    "prob",  # calibrated probability of the row
    "base_prob",  # calibrated probability at the expected value
    "text_en",
    "text_zh",
)

# Feature kinds by name (the names `features/` generates). Counts print as integers; counts and
# rates are compared with the city median; shares print with 2 decimals.
_COUNT = re.compile(
    r"^(events_\d+d_|same_window_|(nbr\d+|community|street)_events_)|^(population|households)$"
)
_RATE = re.compile(r"^((nbr\d+|community|street)_)?decay_|^rate_all_|^density_per_km2$|_per_1000$")
_SHARE = re.compile(r"(^|_)share(_|$)")


class AdditivityError(RiskError):
    """SHAP contributions plus the expected value do not reproduce the model's raw score."""


# ----------------------------------------------------------------------------- additivity


def check_additivity(
    forecaster: Any,
    frame: pd.DataFrame,
    atol: float = 1e-6,
    contributions: np.ndarray | None = None,
) -> float:
    """Max |Σ contributions (with the expected value) − raw log-odds| over the rows of `frame`.

    Raises `AdditivityError` when it exceeds `atol`: the reasons would not explain the score.
    Pass `contributions` already computed for `frame` to skip the second TreeSHAP pass.
    """
    contrib = forecaster.contributions(frame) if contributions is None else contributions
    raw = forecaster.decision_function(frame)
    error = float(np.max(np.abs(contrib.sum(axis=1) - raw))) if len(raw) else 0.0
    if not error <= atol:
        raise AdditivityError(
            f"SHAP contributions of target {getattr(forecaster, 'target', '?')!r} miss the raw "
            f"score by up to {error:.3g} (tolerance {atol:g}); the model file and the LightGBM "
            "version may disagree — re-train or re-save the model with this LightGBM version"
        )
    return error


# ----------------------------------------------------------------------------- numbers


def feature_kind(name: str) -> str:
    """`count`, `rate`, `share` or `other`, from the feature's name."""
    if _COUNT.search(name):
        return "count"
    if _RATE.search(name):
        return "rate"
    if _SHARE.search(name):
        return "share"
    return "other"


def format_value(value: Any, kind: str = "other") -> str:
    """Counts as integers, shares with 2 decimals, other numbers with 2 decimals below 10
    (2 significant digits below 0.01), 1 decimal below 100, none above; whole numbers of any
    kind without decimals except shares; '—' for a missing value; text as is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NAN_TEXT
    if not isinstance(value, int | float | np.number):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return NAN_TEXT
    if kind == "share":
        return f"{v:.2f}"
    a = abs(v)
    if kind == "count" or (v == round(v) and a < 1e15):
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01:
        return f"{v:.2f}"
    return f"{v:.2g}"


def format_points(points: float) -> str:
    """Signed, no decimals from 10 points up, one below: '+12', '-3.4'."""
    return f"{points:+.0f}" if abs(points) >= 9.95 else f"{points:+.1f}"


MAX_RATIO = 100  # ratios above this are shown as "over 100×"


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 9.95 else f"{ratio:.1f}".removesuffix(".0")


def compare_to_median(value: float, median: float) -> tuple[str, str]:
    """(en, zh) phrase comparing a value with the city median: 'N× the city median', or
    above / below / at it when the median is 0 (or the ratio rounds to 0), 'over 100×' when
    the ratio is larger (a median near 0); ('', '') when either is NaN."""
    if math.isnan(value) or math.isnan(median):
        return "", ""
    if median == 0 or value < 0 or median < 0:
        if value > median:
            return "above the city median", "高于全市中位数"
        if value < median:
            return "below the city median", "低于全市中位数"
        return "at the city median", "与全市中位数持平"
    if value > MAX_RATIO * median:  # a near-zero median (decayed counts): no 10^20×
        return f"over {MAX_RATIO}× the city median", f"超过全市中位数的{MAX_RATIO}倍"
    ratio = _ratio_text(value / median)
    if ratio == "0":
        return "below the city median", "低于全市中位数"
    return f"{ratio}× the city median", f"为全市中位数的{ratio}倍"


def _fill(label: str, value_text: str) -> str:
    return label.replace("{value}", value_text) if "{value}" in label else f"{label} {value_text}"


def reason_texts(
    label_en: str,
    label_zh: str,
    value_text: str,
    comparison: tuple[str, str],
    points: float,
) -> tuple[str, str]:
    """The English and Chinese sentence of one reason."""
    en, zh = _fill(label_en, value_text), _fill(label_zh, value_text)
    cmp_en, cmp_zh = comparison
    if cmp_en:
        en, zh = f"{en}, {cmp_en}", f"{zh}，{cmp_zh}"
    pts = format_points(points)
    en = f"{en} ({pts} pts)" if ":" in en else f"{en}: {pts} pts"
    zh = f"{zh}（{pts}个百分点）" if ("：" in zh or ":" in zh) else f"{zh}：{pts}个百分点"
    return en, zh


# ----------------------------------------------------------------------------- the numeric work


def _families(names: list[str], info: dict[str, FeatureInfo]) -> tuple[list[str], np.ndarray]:
    """Families in `FAMILIES` order (then others alphabetically) and each feature's index."""
    of = [info[n].family if n in info else OTHER_FAMILY for n in names]
    present = set(of)
    order = [f for f in FAMILIES if f in present] + sorted(present - set(FAMILIES))
    index = {f: k for k, f in enumerate(order)}
    return order, np.array([index[f] for f in of], dtype=np.int64)


def family_points(
    contributions: np.ndarray,
    family_of: np.ndarray,
    n_families: int,
    calibrate: Callable[[np.ndarray], np.ndarray],
    link: Callable[[np.ndarray], np.ndarray] = expit,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(points (n, K), calibrated prob (n,), base calibrated prob) by the proportional rule
    of the module docstring. `contributions` is (n, F + 1), the last column the expected value;
    `calibrate` maps raw probabilities to calibrated ones."""
    contrib = np.asarray(contributions, dtype=np.float64)
    phi = contrib[:, :-1]
    base = float(contrib[0, -1]) if len(contrib) else 0.0
    onehot = np.zeros((phi.shape[1], n_families))
    onehot[np.arange(phi.shape[1]), family_of] = 1.0
    fam = phi @ onehot
    total = fam.sum(axis=1)
    p0 = float(np.asarray(calibrate(link(np.array([base]))), dtype=np.float64)[0])
    p = np.asarray(calibrate(link(base + total)), dtype=np.float64)
    delta = p - p0
    tiny = np.abs(total) < 1e-12
    rate = np.divide(delta, total, out=np.zeros_like(delta), where=~tiny)
    points = 100.0 * fam * rate[:, None]
    # No log-odds movement but a different probability (only a jump in the calibrator):
    # nothing to apportion by, give it to the family with the largest |φ| (all zero: the first).
    jump = tiny & (delta != 0)
    if jump.any():
        rows = np.flatnonzero(jump)
        points[rows, np.argmax(np.abs(fam[rows]), axis=1)] = 100.0 * delta[rows]
    return points, p, p0


def _top_feature(phi: np.ndarray, points: np.ndarray, family_of: np.ndarray) -> np.ndarray:
    """(n, K) index of the feature of each family pushing hardest in the family's direction."""
    n, k = points.shape
    out = np.zeros((n, k), dtype=np.int64)
    sign = np.where(points >= 0, 1.0, -1.0)
    for f in range(k):  # a loop over the handful of families
        cols = np.flatnonzero(family_of == f)
        out[:, f] = cols[np.argmax(phi[:, cols] * sign[:, f : f + 1], axis=1)]
    return out


def _select(points: np.ndarray, top: int, min_points: float) -> tuple[np.ndarray, ...]:
    """(row, family, rank) of the kept reasons, row-major, rank 1 first."""
    k = points.shape[1]
    width = min(top, k)
    order = np.argsort(-np.abs(points), axis=1, kind="stable")[:, :width]
    kept = np.abs(np.take_along_axis(points, order, axis=1)) >= min_points
    rows, pos = np.nonzero(kept)
    return rows, order[rows, pos], pos + 1


def _values(
    frame: pd.DataFrame, names: list[str], rows: np.ndarray, feats: np.ndarray
) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """Actual values (float, NaN for text), raw values (float or text) and the city medians
    at the row's issue time (counts and rates only) of the chosen (row, feature) cells."""
    value = np.full(len(rows), np.nan)
    text: dict[int, Any] = {}
    compared: list[int] = []
    for f in np.unique(feats).tolist():  # a loop over the distinct features named
        at = np.flatnonzero(feats == f)
        column = frame[names[f]]
        if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
            column.dtype
        ):
            picked = np.asarray(column.iloc[rows[at]], dtype=object)
            text.update(
                (i, None if pd.isna(v) else v) for i, v in zip(at.tolist(), picked, strict=True)
            )
            continue
        value[at] = column.to_numpy(dtype=np.float64, na_value=np.nan)[rows[at]]
        if feature_kind(names[f]) in ("count", "rate"):
            compared.append(f)
    raw: list[Any] = value.tolist()
    for i, v in text.items():
        raw[i] = v

    median = np.full(len(rows), np.nan)
    if compared:
        codes = pd.factorize(frame["issue_time"])[0]
        per_time = (
            frame[[names[f] for f in compared]]
            .astype(np.float64)
            .groupby(codes)
            .median()
            .to_numpy()
        )  # (distinct issue times, compared features); row k is issue-time code k
        for j, f in enumerate(compared):
            at = np.flatnonzero(feats == f)
            median[at] = per_time[codes[rows[at]], j]
    return value, raw, median


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
) -> pd.DataFrame:
    """The reason table (`REASON_COLUMNS`) from contributions already computed.

    `contributions` is (len(frame), len(feature_names) + 1) SHAP values of the raw score (the
    log-odds, or the log expected count of a poisson model), the last column the expected
    value; `link` maps raw scores to raw probabilities (logistic by default) and `calibrate`
    maps raw probabilities to calibrated ones.
    Features without a `FeatureInfo` form the family `other` and are labelled by name.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    contrib = np.asarray(contributions, dtype=np.float64)
    if contrib.shape != (len(frame), len(feature_names) + 1):
        raise ValueError(
            f"contributions of shape {contrib.shape} do not match {len(frame)} rows and "
            f"{len(feature_names)} features + the expected value"
        )
    info = {i.name: i for i in feature_info}
    order, family_of = _families(feature_names, info)
    points, prob, p0 = family_points(contrib, family_of, len(order), calibrate, link)
    rows, fams, rank = _select(points, top, min_points)
    feats = _top_feature(contrib[:, :-1], points, family_of)[rows, fams]
    value, raw, median = _values(frame, feature_names, rows, feats)
    pts = points[rows, fams]

    labels = [
        (info[n].label_en, info[n].label_zh) if n in info else (f"{n}: {{value}}",) * 2
        for n in feature_names
    ]
    kinds = [feature_kind(n) for n in feature_names]
    text_en: list[str] = []
    text_zh: list[str] = []
    value_text: list[str] = []
    for f, v, m, p in zip(feats.tolist(), raw, median.tolist(), pts.tolist(), strict=True):
        vt = format_value(v, kinds[f])
        cmp = compare_to_median(v, m) if isinstance(v, float) else ("", "")
        en, zh = reason_texts(labels[f][0], labels[f][1], vt, cmp, p)
        value_text.append(vt)
        text_en.append(en)
        text_zh.append(zh)

    names = np.asarray(feature_names, dtype=object)
    return pd.DataFrame(
        {
            "row": rows,
            "grid_id": frame["grid_id"].array.take(rows),
            "issue_time": frame["issue_time"].array.take(rows),
            "target": np.repeat(target, len(rows)).astype(object),
            "rank": rank.astype(np.int64),
            "family": np.asarray(order, dtype=object)[fams],
            "feature": names[feats],
            "value": value,
            "value_text": np.asarray(value_text, dtype=object),
            "median": median,
            "points": pts,
            "prob": prob[rows],
            "base_prob": np.full(len(rows), p0),
            "text_en": np.asarray(text_en, dtype=object),
            "text_zh": np.asarray(text_zh, dtype=object),
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
) -> pd.DataFrame:
    """Top `top` reasons per row of `frame` for one fitted `LightGBMForecaster` (one TreeSHAP
    pass, or `contributions` already computed for `frame`); see the module docstring for the
    rule and `REASON_COLUMNS` for the table. Its `prob` column equals `predict_proba(frame)`."""
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
    )


def explain_targets(
    model: Any,
    frame: pd.DataFrame,
    feature_info: Iterable[FeatureInfo],
    top: int = 3,
    min_points: float = 0.5,
) -> pd.DataFrame:
    """`explain` for every target of a fitted `MultiTargetForecaster`, target-major."""
    info = list(feature_info)
    parts = [explain(f, frame, info, top, min_points) for f in model.forecasters_.values()]
    return pd.concat(parts, ignore_index=True)


_RECORD_FIELDS = (
    "rank",
    "family",
    "feature",
    "value",
    "value_text",
    "median",
    "points",
    "base_prob",  # the calibrated probability at the base value: where the points start
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
