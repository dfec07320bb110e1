"""Input and score drift of one scoring run against the model's training window (issue 17,
item 1). Pure: arrays in, numbers out; the reference comes from `models.health` at training
and is stored with the model (small: bin edges, shares and ranges, never rows).

**PSI** (population stability index) of one quantity::

    PSI = Σ_b (a_b − e_b) · ln(a_b / e_b)

over bins ``b``, with ``e_b`` the reference (training) share and ``a_b`` the run's share. Both
shares are floored at `EPSILON` (``max(share, ε)``, not renormalised), so an empty bin on
either side adds a finite term and identical distributions give exactly 0.

**Bins** of a numeric quantity: the quantiles ``1/n … (n−1)/n`` of the reference's non-missing
values are the edges, bins are right-closed — ``(−∞, e₁], (e₁, e₂], …, (e_k, ∞)`` — so a mass
point (say 70 % zeros) fills one bin instead of being split, plus one bin for NaN. Edges
closer than `MIN_EDGE_GAP` (1 %) of the values' range to each other, to the minimum or to the
maximum are merged (`quantile_edges`): a quantity like "events per day of the record" moves
by a hair each day, and a hair-thin bin would empty itself and look like drift. A categorical quantity (``grid_type``) has one bin per category seen at
training, one for any unseen category and one for NaN. The number of bins follows the city's
size (`bins_for`): at least about 25 grids per bin, so an unchanged city's sampling noise
(PSI ≈ (bins − 1) / grids) stays well below the 0.1 warning level.

**Family PSI** = the **maximum** of its member features' PSI: one broken input (a category
reported twice as often, a feed that stopped) is what drift is meant to catch, and a mean
over a family of dozens of features would dilute it.

**Which features get a PSI.** A run is one issue time; the reference pools many. A feature
that is the same for every grid at an issue time (the window's weekdays, month, holidays —
families ``time`` and ``calendar``) or that takes only a few values per issue time (sums over
a city's handful of streets) differs from the pool on every ordinary day, so one run's PSI
says nothing about the grids; so do spatially smoothed features (events in the rings of
neighbours over 7 days), whose grids move together. The reference records each feature's
``baseline`` — the 90th percentile, over the training sample's issue times, of one issue
time's PSI against the whole sample — and only features whose baseline is below
`BASELINE_LIMIT` (0.1) are checked; the others are counted as unchecked. The score is always
checked.

**Inputs missing / out of range**: a grid's inputs are *missing* when a feature that was never
NaN in the training rows is NaN for it; *out of range* when a numeric feature lies outside
the training ``[min, max]`` widened by `RANGE_MARGIN` (10 %) of its width on each side —
days since the last event and 28-day trends edge past the training extremes every day, which
is no news — or a categorical one holds a category never seen in training. The range check
covers the checked features only: a sum over a community's grids one event above its
training maximum flags every grid of that community at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

EPSILON = 1e-4
MAX_BINS = 10
MIN_BINS = 2
GRIDS_PER_BIN = 25
MIN_EDGE_GAP = 0.01  # edges closer than 1 % of the range are one edge
NUMERIC = "numeric"
CATEGORY = "category"
SCORE_FAMILY = "score"
BASELINE_QUANTILE = 0.9  # the baseline is the 90th percentile of the daily PSIs
BASELINE_LIMIT = 0.1  # features whose ordinary training day already has this PSI: unchecked
RANGE_MARGIN = 0.1  # the training range widened by 10 % of its width on each side


def bins_for(n_grids: int) -> int:
    """Bins per quantity for a city of ``n_grids``: ``n_grids // 25`` within [2, 10]."""
    return int(min(MAX_BINS, max(MIN_BINS, n_grids // GRIDS_PER_BIN)))


def quantile_edges(values: Any, n_bins: int) -> np.ndarray:
    """Bin edges from the quantiles ``i / n_bins`` (i = 1 … n_bins − 1) of the non-NaN
    ``values`` (each an observed value: ``inverted_cdf``), with ``gap`` = `MIN_EDGE_GAP` × the
    values' range: an edge within ``gap`` of the minimum becomes ``minimum + gap`` (the mass at
    the bottom — zeros, or decays a hair above zero — is one bin), an edge within ``gap`` of
    the maximum or of the previous edge is dropped. Empty when no value is finite."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if not v.size or n_bins < 2:
        return np.empty(0)
    q = np.quantile(v, np.arange(1, n_bins) / n_bins, method="inverted_cdf")
    low, high = float(v.min()), float(v.max())
    gap = MIN_EDGE_GAP * (high - low)
    kept: list[float] = []
    for edge in q.tolist():
        edge = max(edge, low + gap)
        if high - edge <= gap or (kept and edge - kept[-1] <= gap):
            continue
        kept.append(edge)
    return np.asarray(kept)


def numeric_shares(values: Any, edges: Any) -> np.ndarray:
    """Shares of ``values`` in the right-closed bins of ``edges`` then NaN: ``len(edges) + 2``
    numbers summing to 1 (all zero for no values)."""
    v = np.asarray(values, dtype=float).ravel()
    e = np.asarray(edges, dtype=float)
    nan = np.isnan(v)
    idx = np.searchsorted(e, v[~nan], side="left")  # edges[i-1] < x <= edges[i] → bin i
    counts = np.bincount(idx, minlength=e.size + 1).astype(float)
    counts = np.append(counts, float(nan.sum()))
    return counts / v.size if v.size else counts


def category_shares(values: Any, categories: Sequence[str]) -> np.ndarray:
    """Shares of each of ``categories``, then of any other category, then of missing values."""
    s = pd.Series(values, dtype=object)
    missing = s.isna().to_numpy()
    known = s[~missing].astype(str)
    counts = [float((known == c).sum()) for c in categories]
    counts.append(float((~known.isin(list(categories))).sum()))
    counts.append(float(missing.sum()))
    out = np.asarray(counts)
    return out / len(s) if len(s) else out


def psi(expected: Any, actual: Any, eps: float = EPSILON) -> float:
    """``Σ (a − e) · ln(a / e)`` with both shares floored at ``eps`` (module docstring)."""
    e = np.maximum(np.asarray(expected, dtype=float), eps)
    a = np.maximum(np.asarray(actual, dtype=float), eps)
    if e.shape != a.shape:
        raise ValueError(f"{e.size} reference bins but {a.size} actual bins")
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class QuantityReference:
    """What the training window looked like for one feature (or one target's score)."""

    name: str
    family: str
    kind: str  # NUMERIC or CATEGORY
    shares: tuple[float, ...]  # per bin, the last one NaN
    edges: tuple[float, ...] = ()  # NUMERIC: right-closed bin edges
    categories: tuple[str, ...] = ()  # CATEGORY: the categories seen in training
    low: float | None = None  # NUMERIC: training min and max (None: never a value)
    high: float | None = None
    nan_seen: bool = False  # a NaN occurred in the training rows
    per_issue_time: bool = False  # the same for every grid at an issue time: not checked
    baseline: float = 0.0  # 90th pct PSI of one training issue time against the sample

    def shares_of(self, values: Any) -> np.ndarray:
        if self.kind == CATEGORY:
            return category_shares(values, self.categories)
        return numeric_shares(values, self.edges)

    def psi(self, values: Any) -> float:
        return psi(self.shares, self.shares_of(values))

    def missing(self, values: Any) -> np.ndarray:
        """Per row: NaN where training never had one."""
        nan = pd.isna(pd.Series(values, dtype=object if self.kind == CATEGORY else float))
        return nan.to_numpy() & (not self.nan_seen)

    def out_of_range(self, values: Any, margin: float = 0.0) -> np.ndarray:
        """Per row: outside the training [min, max] widened by ``margin`` × its width on each
        side, or a category training never saw."""
        if self.kind == CATEGORY:
            s = pd.Series(values, dtype=object)
            return (s.notna() & ~s.astype(str).isin(list(self.categories))).to_numpy()
        v = np.asarray(values, dtype=float).ravel()
        if self.low is None or self.high is None:
            return ~np.isnan(v)  # training never saw a value at all
        tol = margin * (self.high - self.low) + 1e-9 * max(1.0, abs(self.high - self.low))
        with np.errstate(invalid="ignore"):
            return (v < self.low - tol) | (v > self.high + tol)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "family": self.family,
            "kind": self.kind,
            "shares": [round(s, 6) for s in self.shares],
        }
        if self.kind == CATEGORY:
            out["categories"] = list(self.categories)
        else:
            out.update(edges=list(self.edges), low=self.low, high=self.high)
        if self.nan_seen:
            out["nan_seen"] = True
        if self.per_issue_time:
            out["per_issue_time"] = True
        out["baseline"] = round(self.baseline, 6)
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> QuantityReference:
        return cls(
            name=name,
            family=str(data["family"]),
            kind=str(data["kind"]),
            shares=tuple(float(s) for s in data["shares"]),
            edges=tuple(float(e) for e in data.get("edges", ())),
            categories=tuple(str(c) for c in data.get("categories", ())),
            low=None if data.get("low") is None else float(data["low"]),
            high=None if data.get("high") is None else float(data["high"]),
            nan_seen=bool(data.get("nan_seen", False)),
            per_issue_time=bool(data.get("per_issue_time", False)),
            baseline=float(data.get("baseline", 0.0)),
        )


def _is_categorical(values: Any) -> bool:
    dtype = getattr(values, "dtype", None)
    return isinstance(dtype, pd.CategoricalDtype) or (
        dtype is not None and pd.api.types.is_object_dtype(dtype)
    )


def _bin_index(ref: QuantityReference, values: Any) -> np.ndarray:
    """Each value's bin (the last bin is NaN)."""
    if ref.kind == CATEGORY:
        s = pd.Series(values, dtype=object)
        lookup = {c: i for i, c in enumerate(ref.categories)}
        other, nan = len(ref.categories), len(ref.categories) + 1
        return np.asarray(
            [nan if pd.isna(v) else lookup.get(str(v), other) for v in s], dtype=np.int64
        )
    v = np.asarray(values, dtype=float).ravel()
    idx = np.searchsorted(np.asarray(ref.edges, dtype=float), v, side="left")
    return np.where(np.isnan(v), len(ref.edges) + 1, idx)


def reference_of(
    name: str,
    family: str,
    values: Any,
    n_bins: int,
    *,
    issue_times: int = 1,
    low: float | None = None,
    high: float | None = None,
    nan_seen: bool | None = None,
) -> QuantityReference:
    """The reference of one quantity from its training sample ``values`` (issue-time major
    over ``issue_times`` equal blocks of grids). ``low``/``high``/``nan_seen``, when given,
    come from more rows than the sample (the whole training window).

    ``baseline``: the `BASELINE_QUANTILE` (90th percentile), over the sample's issue times, of
    the PSI of one issue time against the whole sample — how far an ordinary training day
    already is from the pool."""
    if _is_categorical(values):
        s = pd.Series(values, dtype=object)
        cats = tuple(sorted(s.dropna().astype(str).unique()))
        ref = QuantityReference(
            name,
            family,
            CATEGORY,
            tuple(float(x) for x in category_shares(s, cats)),
            categories=cats,
            nan_seen=bool(s.isna().any()) if nan_seen is None else nan_seen,
        )
        return replace(ref, baseline=_baseline(ref, s, issue_times))
    v = np.asarray(values, dtype=float).ravel()
    edges = quantile_edges(v, n_bins)
    finite = v[~np.isnan(v)]
    lo = low if low is not None else (float(finite.min()) if finite.size else None)
    hi = high if high is not None else (float(finite.max()) if finite.size else None)
    ref = QuantityReference(
        name,
        family,
        NUMERIC,
        tuple(float(x) for x in numeric_shares(v, edges)),
        edges=tuple(float(e) for e in edges),
        low=lo,
        high=hi,
        nan_seen=bool(np.isnan(v).any()) if nan_seen is None else nan_seen,
        per_issue_time=_per_issue_time(v, issue_times),
    )
    return replace(ref, baseline=_baseline(ref, v, issue_times))


def _baseline(ref: QuantityReference, values: Any, issue_times: int) -> float:
    """`BASELINE_QUANTILE` of the PSIs of each issue-time block of ``values`` against ``ref``
    (0 for a single block)."""
    n = len(values)
    if issue_times <= 1 or n % issue_times or not n:
        return 0.0
    bins = len(ref.shares)
    idx = _bin_index(ref, values).reshape(issue_times, -1)
    counts = np.zeros((issue_times, bins))
    np.add.at(counts, (np.repeat(np.arange(issue_times), idx.shape[1]), idx.ravel()), 1.0)
    actual = np.maximum(counts / idx.shape[1], EPSILON)
    expected = np.maximum(np.asarray(ref.shares, dtype=float), EPSILON)
    each = ((actual - expected) * np.log(actual / expected)).sum(axis=1)
    return float(np.quantile(each, BASELINE_QUANTILE))


def _per_issue_time(values: np.ndarray, issue_times: int) -> bool:
    """Whether, in every issue-time block, all grids hold the same value (NaN equal to NaN);
    never for a quantity that is NaN throughout (it is checked: a value would be news)."""
    if issue_times < 1 or values.size % issue_times or values.size == issue_times:
        return False
    if np.isnan(values).all():
        return False
    block = values.reshape(issue_times, -1)
    same = (block == block[:, :1]) | (np.isnan(block) & np.isnan(block[:, :1]))
    return bool(same.all())


@dataclass(frozen=True)
class DriftReference:
    """Every feature's and every target's score reference, and how it was drawn."""

    features: dict[str, QuantityReference]
    scores: dict[str, QuantityReference]  # per target: the calibrated probability
    n_bins: int
    rows: int  # training rows the sample came from
    sample_rows: int
    issue_times: tuple[str, str]  # the first and last issue time of the sample (ISO)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_bins": self.n_bins,
            "rows": self.rows,
            "sample_rows": self.sample_rows,
            "issue_times": list(self.issue_times),
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReference:
        return cls(
            features={k: QuantityReference.from_dict(k, v) for k, v in data["features"].items()},
            scores={k: QuantityReference.from_dict(k, v) for k, v in data["scores"].items()},
            n_bins=int(data["n_bins"]),
            rows=int(data.get("rows", 0)),
            sample_rows=int(data.get("sample_rows", 0)),
            issue_times=tuple(data.get("issue_times") or ("", "")),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class RunDrift:
    """One run against the reference (module docstring for each definition)."""

    score_psi: dict[str, float]  # per target
    family_psi: dict[str, float]  # per feature family: max of its features' PSI
    feature_psi: dict[str, float]  # per checked feature
    missing_share: float  # grids with a missing input
    out_of_range_share: float  # grids with an input outside the training range
    grids: int
    top_features: list[tuple[str, float]] = field(default_factory=list)  # highest PSI first
    unchecked: int = 0  # features left out of PSI (issue-time-wide or too coarse)

    def as_dict(self) -> dict[str, Any]:
        return {
            "score_psi": self.score_psi,
            "family_psi": self.family_psi,
            "missing_share": self.missing_share,
            "out_of_range_share": self.out_of_range_share,
            "grids": self.grids,
            "top_features": [[n, v] for n, v in self.top_features],
            "features_checked": len(self.feature_psi),
            "features_unchecked": self.unchecked,
        }


def family_psi(feature_psi: Mapping[str, float], families: Mapping[str, str]) -> dict[str, float]:
    """Per family, the maximum PSI of its features (features without a family: ``other``)."""
    out: dict[str, float] = {}
    for name, value in feature_psi.items():
        fam = families.get(name, "other")
        out[fam] = max(out.get(fam, 0.0), float(value))
    return dict(sorted(out.items()))


def run_drift(
    frame: pd.DataFrame,
    scores: Mapping[str, Any],
    reference: DriftReference,
    *,
    baseline_limit: float = BASELINE_LIMIT,
    range_margin: float = RANGE_MARGIN,
    top: int = 10,
) -> RunDrift:
    """Drift of one run: ``frame`` holds one row per grid with the features (columns the
    reference does not know are ignored; a known one that is absent counts as missing for
    every grid), ``scores`` the calibrated probability per target.

    PSI and the range check (the range widened by ``range_margin`` of its width on each side)
    cover the checked features — those varying per grid whose ``baseline`` is below
    ``baseline_limit`` (module docstring); the missing check covers every feature."""
    n = len(frame)
    feature_psi: dict[str, float] = {}
    missing = np.zeros(n, dtype=bool)
    outside = np.zeros(n, dtype=bool)
    unchecked = 0
    for name, ref in reference.features.items():
        if name in frame.columns:
            values = frame[name]
            values = values.to_numpy() if ref.kind == NUMERIC else values.astype(object)
        else:
            values = np.full(n, np.nan)
        missing |= ref.missing(values)
        if ref.per_issue_time or ref.baseline >= baseline_limit:
            unchecked += 1
            continue
        outside |= ref.out_of_range(values, range_margin)
        feature_psi[name] = ref.psi(values)
    score_psi = {
        t: reference.scores[t].psi(np.asarray(p, dtype=float))
        for t, p in scores.items()
        if t in reference.scores
    }
    families = {k: v.family for k, v in reference.features.items()}
    ranked = sorted(feature_psi.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return RunDrift(
        score_psi=score_psi,
        family_psi=family_psi(feature_psi, families),
        feature_psi=feature_psi,
        missing_share=float(missing.mean()) if n else 0.0,
        out_of_range_share=float(outside.mean()) if n else 0.0,
        grids=n,
        top_features=ranked,
        unchecked=unchecked,
    )


__all__ = [
    "CATEGORY",
    "EPSILON",
    "NUMERIC",
    "SCORE_FAMILY",
    "DriftReference",
    "QuantityReference",
    "RunDrift",
    "bins_for",
    "category_shares",
    "family_psi",
    "numeric_shares",
    "psi",
    "quantile_edges",
    "reference_of",
    "run_drift",
]
