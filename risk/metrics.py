"""Forecast metrics of DESIGN §5, as pure numpy functions on (issue time × grid) panels.

Every array is a **full panel** shaped ``(T, G)``: row ``t`` is one issue time, column ``g``
one grid, and every grid is present at every issue time (the backtest scores all grids at
every ``t``; pivot long predictions to this shape first — NaN cells are refused, not
skipped). ``score`` is any real number, higher = riskier; ``count`` is the event count
``c_g`` in the 72-hour window; the binary label is ``count >= 1``.

Conventions, fixed here so every model and baseline is measured alike:

* ``K = ceil(k% · n)`` grids per issue time. Ties in ``score`` are broken by a random key drawn
  once per ``(t, g)`` from ``numpy.random.default_rng(seed)`` — never by grid order.
* Pooled ratios (``hit_rate``, ``pei``, ``miss_rate``) sum numerator and denominator over all
  issue times, so a ``t`` without events adds 0 to both. A ratio whose denominator is 0 is NaN.
* ``pai@k`` divides the pooled hit rate by the pooled area share
  ``Σ_t area(top K_t) / (T · total area)``; with equal areas that is exactly ``K / n``.
* ``pr_auc`` (average precision) and ``roc_auc`` treat tied scores as one threshold, as
  scikit-learn does, so they never depend on order and need no tie-breaking. ``roc_auc`` is
  NaN when the labels hold a single class, ``pr_auc`` when there is no positive.
* ``miss_rate_true@10`` ranks the oracle's expected counts with the same seeded tie-break.
* ``ece`` sorts rows by probability (ties in a seeded random order), splits the sorted
  order into ``n_bins`` equal-count bins with ``np.array_split`` (the first ``N mod n_bins``
  bins hold one extra row; tied probabilities may straddle a bin edge), and sums
  ``|mean prob − mean label| · bin size / N``.

NaN means "undefined on this data"; ``None`` means "not applicable" (no probabilities for a
ranking-only baseline). :func:`json_ready` turns NaN into ``None`` for ``metrics.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-6
ECE_BINS = 15
MISS_K = 10
# Segment key whose values go flat under "by_segment" (DESIGN §6); other keys go to "by_<key>".
FLAT_SEGMENT = "grid_type"


def segment_key(name: str) -> str:
    """The ``metrics.json`` key of a segment kind: ``by_segment`` for grid types, else
    ``by_<name>`` (``by_street``, ``by_floating_share``)."""
    return "by_segment" if name == FLAT_SEGMENT else f"by_{name}"


# ----------------------------------------------------------------------------- validation


def _panel(name: str, a: Any) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d (issue time × grid) array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values; every grid needs a finite value")
    return arr


def _pair(score: Any, count: Any, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    s, c = _panel(name, score), _panel("count", count)
    if s.shape != c.shape:
        raise ValueError(f"{name} shape {s.shape} differs from count shape {c.shape}")
    if (c < 0).any():
        raise ValueError("count must be >= 0")
    return s, c


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else math.nan


def k_grids(k_percent: float, n: int) -> int:
    """``K = ceil(k% · n)`` (at least 1 for any k > 0)."""
    if not 0 < k_percent <= 100:
        raise ValueError(f"k_percent must be in (0, 100], got {k_percent!r}")
    # The 1e-9 guards against float noise such as 7 * 100 / 100 landing just above 7.
    return max(1, math.ceil(k_percent * n / 100 - 1e-9))


def _tiebreak(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


# ----------------------------------------------------------------------------- ranking


def rank_positions(score: Any, seed: int = 0) -> np.ndarray:
    """Integer ``(T, G)`` panel: 0 for the riskiest grid at each issue time, G − 1 the least.

    Ties are broken by a seeded random key per cell, so the order among tied grids does not
    follow column order; the same seed gives the same order. ``rank < K`` is the top K.
    """
    s = _panel("score", score)
    order = np.lexsort((_tiebreak(s.shape, seed), -s), axis=-1)  # primary key: -score
    rank = np.empty(s.shape, dtype=np.int64)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(s.shape[1]), s.shape), axis=1)
    return rank


def top_k_mask(score: Any, k_percent: float, seed: int = 0) -> np.ndarray:
    """Boolean ``(T, G)`` mask of the ``K = ceil(k% · G)`` highest scores at each issue time."""
    rank = rank_positions(score, seed)
    return rank < k_grids(k_percent, rank.shape[1])


def _hindsight_best(count: np.ndarray, k: int) -> np.ndarray:
    """Per issue time, the sum of the K largest counts."""
    return np.sort(count, axis=1)[:, -k:].sum(axis=1)


def truly_high_risk(count: Any, k_percent: float = MISS_K) -> np.ndarray:
    """Grids with ``c_g >= max(1, K-th largest c_g at t)``; ties can make more than K."""
    c = _panel("count", count)
    k = k_grids(k_percent, c.shape[1])
    kth = np.sort(c, axis=1)[:, -k]
    return c >= np.maximum(1.0, kth)[:, None]


def _areas(area: Any, n: int) -> np.ndarray:
    if area is None:
        return np.ones(n)
    a = np.asarray(area, dtype=float)
    if a.shape != (n,) or not (np.isfinite(a) & (a > 0)).all():
        raise ValueError(f"area must be {n} finite positive values, one per grid column")
    return a


# ----------------------------------------------------------------------------- pooled ratios
# Kernels take a precomputed rank panel so `evaluate` sorts each score panel once.


def _hit_rate(rank: np.ndarray, c: np.ndarray, k: float) -> float:
    return _ratio(c[rank < k_grids(k, c.shape[1])].sum(), c.sum())


def _pai(rank: np.ndarray, c: np.ndarray, k: float, a: np.ndarray) -> float:
    top = rank < k_grids(k, c.shape[1])
    share = float((top * a).sum() / (c.shape[0] * a.sum()))
    return _hit_rate(rank, c, k) / share


def _pei(rank: np.ndarray, c: np.ndarray, k: float) -> float:
    kk = k_grids(k, c.shape[1])
    return _ratio(c[rank < kk].sum(), _hindsight_best(c, kk).sum())


def _miss(rank: np.ndarray, truth: np.ndarray, k: float) -> float:
    caught = (truth & (rank < k_grids(k, rank.shape[1]))).sum()
    return 1.0 - _ratio(caught, truth.sum())


def hit_rate_at(score: Any, count: Any, k: float, seed: int = 0) -> float:
    """Σ_t Σ_{top K} c / Σ_t Σ_g c."""
    s, c = _pair(score, count)
    return _hit_rate(rank_positions(s, seed), c, k)


def pai_at(score: Any, count: Any, k: float, area: Any = None, seed: int = 0) -> float:
    """Hit rate / pooled area share ``Σ_t area(top K_t) / (T · total area)``.

    With equal areas (``area=None``) the share is exactly ``K / n``.
    """
    s, c = _pair(score, count)
    return _pai(rank_positions(s, seed), c, k, _areas(area, c.shape[1]))


def pei_at(score: Any, count: Any, k: float, seed: int = 0) -> float:
    """Σ_t Σ_{top K} c / Σ_t (sum of the K largest c at t): share of the hindsight best."""
    s, c = _pair(score, count)
    return _pei(rank_positions(s, seed), c, k)


def miss_rate_at(score: Any, count: Any, k: float = MISS_K, seed: int = 0) -> float:
    """1 − Σ_t |truly high-risk ∩ predicted top K| / Σ_t |truly high-risk| (NaN if no truth)."""
    s, c = _pair(score, count)
    return _miss(rank_positions(s, seed), truly_high_risk(c, k), k)


def miss_rate_true_at(score: Any, expected: Any, k: float = MISS_K, seed: int = 0) -> float:
    """Share of the oracle's top K (by expected count) outside the predicted top K.

    The truth uses the same seeded tie-break as the prediction, so scoring the oracle's own
    expected counts gives exactly 0.
    """
    s, e = _pair(score, expected, "score")
    return _miss(rank_positions(s, seed), top_k_mask(e, k, seed), k)


# ----------------------------------------------------------------------------- ranking quality


def _row_ap_auc(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average precision and ROC AUC of each row from one sort.

    Tied scores form one threshold, as in scikit-learn: AP takes the precision at the end of
    each tie group; AUC is Mann–Whitney with mid-ranks. Single-class rows give NaN (AP is
    defined without negatives).
    """
    order = np.argsort(-score, axis=1, kind="stable")
    s = np.take_along_axis(score, order, axis=1)
    y = np.take_along_axis(label, order, axis=1).astype(float)
    return _sorted_ap_auc(s, y)


def _sorted_ap_auc(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_row_ap_auc` of rows already sorted by descending score (``y`` float labels)."""
    n = s.shape[1]
    idx = np.broadcast_to(np.arange(n), s.shape)
    # First and last position of each tie group, by running max / reverse running min.
    new_group = np.ones(s.shape, dtype=bool)
    new_group[:, 1:] = s[:, 1:] != s[:, :-1]
    is_end = np.ones(s.shape, dtype=bool)
    is_end[:, :-1] = new_group[:, 1:]
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0), axis=1)
    group_end = np.minimum.accumulate(np.where(is_end, idx, n)[:, ::-1], axis=1)[:, ::-1]
    cum_tp = np.cumsum(y, axis=1)
    precision_at_end = np.take_along_axis(cum_tp, group_end, axis=1) / (group_end + 1)
    # Ascending 1-based rank of descending position i is n − i; mid-rank over the group.
    mid_rank = n - (group_start + group_end) / 2
    pos = y.sum(axis=1)
    neg = n - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (precision_at_end * y).sum(axis=1) / pos
        auc = ((mid_rank * y).sum(axis=1) - pos * (pos + 1) / 2) / (pos * neg)
    return np.where(pos > 0, ap, np.nan), np.where((pos > 0) & (neg > 0), auc, np.nan)


def _pooled_ap_auc(score: Any, count: Any) -> tuple[float, float]:
    s, c = _pair(score, count)
    ap, auc = _row_ap_auc(s.reshape(1, -1), (c >= 1).reshape(1, -1))
    return float(ap[0]), float(auc[0])


def pr_auc(score: Any, count: Any) -> float:
    """Average precision on the pooled labels ``count >= 1``; NaN without a positive."""
    return _pooled_ap_auc(score, count)[0]


def roc_auc(score: Any, count: Any) -> float:
    """ROC AUC on the pooled labels ``count >= 1``; NaN when only one class is present."""
    return _pooled_ap_auc(score, count)[1]


# ----------------------------------------------------------------------------- calibration


def _prob_pair(prob: Any, count: Any) -> tuple[np.ndarray, np.ndarray]:
    p, c = _pair(prob, count, "prob")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("prob must lie in [0, 1]")
    return p.ravel(), (c >= 1).ravel().astype(float)


def brier(prob: Any, count: Any) -> float:
    """Mean squared difference between probability and label ``count >= 1``."""
    p, y = _prob_pair(prob, count)
    return float(np.mean((p - y) ** 2))


def log_loss(prob: Any, count: Any) -> float:
    """Mean negative log-likelihood, probabilities clipped to ``[1e-6, 1 − 1e-6]``."""
    p, y = _prob_pair(prob, count)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def ece(prob: Any, count: Any, n_bins: int = ECE_BINS, seed: int = 0) -> float:
    """Expected calibration error over ``n_bins`` equal-count bins of the sorted probabilities.

    Rows are sorted by probability, ties in a seeded random order (a stable sort of a seeded
    permutation), and the order is cut as ``np.array_split`` cuts it: the first
    ``N mod n_bins`` bins hold one extra row (fewer rows than bins → one row per bin).
    """
    p, y = _prob_pair(prob, count)
    order = _ece_order(p, seed)
    return _sorted_ece(p[order], y[order], n_bins)


def _ece_order(p: np.ndarray, seed: int) -> np.ndarray:
    """Positions of ``p`` by ascending probability, ties in a seeded random order."""
    perm = np.random.default_rng(seed).permutation(p.size)
    return perm[np.argsort(p[perm], kind="stable")]


def _sorted_ece(p: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """`ece` of probabilities already in `_ece_order` (``y`` their 0/1 labels)."""
    n = p.size
    bins = min(n_bins, n)
    sizes = np.full(bins, n // bins) + (np.arange(bins) < n % bins)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    gap = np.add.reduceat(p, starts) - np.add.reduceat(y, starts)
    return float(np.abs(gap).sum() / n)  # Σ_b n_b · |mean p_b − mean y_b| / N


def base_rate(count: Any) -> float:
    """Share of (t, grid) rows with at least one event."""
    return float((_panel("count", count) >= 1).mean())


# ----------------------------------------------------------------------------- evaluation


def evaluate(
    score: Any,
    count: Any,
    prob: Any = None,
    area: Any = None,
    expected: Any = None,
    segments: Mapping[str, Any] | None = None,
    ks: Sequence[float] = (1, 5, 10),
    seed: int = 0,
) -> dict[str, Any]:
    """All §5 metrics for one model and target, keyed as in ``metrics.json`` (DESIGN §6).

    Keys: ``pr_auc, roc_auc, brier, log_loss, ece`` (the last three ``None`` when ``prob`` is
    None), ``hit_rate@k, pai@k, pei@k`` for every k in ``ks``, ``miss_rate@10``,
    ``miss_rate_true@10`` (only when ``expected`` is given), ``by_segment`` and one
    ``by_<name>`` per further segment key. ``segments`` maps a name to one label per grid
    column; ``"grid_type"`` values go flat under ``by_segment`` (as the schema shows), any
    other name (e.g. ``"street"``) under ``by_<name>`` (``by_street``), so values of different
    keys never collide. Segment metrics use the city-wide ranking and truth (see
    :func:`segment_metrics`).
    """
    panels = _panels(score, count, prob, area, expected, seed)
    s, c, p, rank, a = panels.score, panels.count, panels.prob, panels.rank, panels.area
    # the pooled AP/AUC and ECE from the sorts the segments share (same values as
    # `pr_auc`, `roc_auc`, `ece`)
    by_score = panels.score_order
    ap, auc = _sorted_ap_auc(s.ravel()[by_score][None, :], panels.label[by_score][None, :])
    out: dict[str, Any] = {
        "pr_auc": float(ap[0]),
        "roc_auc": float(auc[0]),
        "brier": None if p is None else brier(p, c),
        "log_loss": None if p is None else log_loss(p, c),
        "ece": None,
    }
    if p is not None and panels.prob_order is not None:
        by_prob = panels.prob_order
        out["ece"] = _sorted_ece(p.ravel()[by_prob], panels.label[by_prob])
    for k in ks:
        out[f"hit_rate@{k}"] = _hit_rate(rank, c, k)
        out[f"pai@{k}"] = _pai(rank, c, k, a)
        out[f"pei@{k}"] = _pei(rank, c, k)
    out[f"miss_rate@{MISS_K}"] = _miss(rank, panels.truth, MISS_K)
    if panels.true_top is not None:
        out[f"miss_rate_true@{MISS_K}"] = _miss(rank, panels.true_top, MISS_K)
    out["by_segment"] = {}
    for name, labels in (segments or {}).items():
        out[segment_key(name)] = _segments(panels, labels, ks)
    return out


def segment_metrics(
    score: Any,
    count: Any,
    labels: Any,
    prob: Any = None,
    seed: int = 0,
    *,
    area: Any = None,
    expected: Any = None,
    ks: Sequence[float] = (1, 5, 10),
) -> dict[str, dict[str, Any]]:
    """Per segment value, every metric of :func:`evaluate` on the segment's grid columns, the
    ranking and the truth chosen **city-wide** (docs/adr/020-fairness-by-segment.md):

    * ``rows``, ``events`` (its event count), ``base_rate`` (share of its rows with an event);
    * ``pr_auc``, ``roc_auc``, ``brier``, ``log_loss``, ``ece`` on the segment's rows
      (calibration ``None`` without ``prob``);
    * ``flag_rate@k``: share of its grid-windows inside the city-wide top K — the attention
      it draws (``k%`` city-wide);
    * ``hit_rate@k``: share of its events inside the city-wide top K;
    * ``pai@k``: that hit rate over the share of its area flagged (NaN when none is);
    * ``pei@k``: its events caught over the most its flagged grids could have caught: at
      each ``t`` the sum of its ``n_t`` largest counts, ``n_t`` = its grids in the city-wide
      top K (NaN when it is never flagged). So ``flag_rate`` says how much of the attention
      it gets, ``pei`` how well that attention is placed inside it;
    * ``miss_rate@10``: share of its truly high-risk grid-windows (city-wide truth) outside
      the city-wide top K; ``miss_rate_true@10`` likewise for the oracle's top K (with
      ``expected``).
    """
    return _segments(_panels(score, count, prob, area, expected, seed), labels, ks)


@dataclass(frozen=True)
class _Panels:
    """The city-wide panels of one model's metrics, and the two sorts every segment shares:
    all rows (row-major) by descending score, and by probability in `_ece_order`."""

    score: np.ndarray
    count: np.ndarray
    prob: np.ndarray | None
    rank: np.ndarray
    area: np.ndarray
    truth: np.ndarray
    true_top: np.ndarray | None
    label: np.ndarray  # (T·G,) float 0/1
    score_order: np.ndarray
    prob_order: np.ndarray | None


def _panels(score: Any, count: Any, prob: Any, area: Any, expected: Any, seed: int) -> _Panels:
    s, c = _pair(score, count)
    p = None if prob is None else _prob_pair(prob, c)[0].reshape(c.shape)
    true_top = None
    if expected is not None:
        true_top = top_k_mask(_pair(expected, c, "expected")[0], MISS_K, seed)
    return _Panels(
        score=s,
        count=c,
        prob=p,
        rank=rank_positions(s, seed),
        area=_areas(area, c.shape[1]),
        truth=truly_high_risk(c, MISS_K),
        true_top=true_top,
        label=(c >= 1).ravel().astype(float),
        score_order=np.argsort(-s.ravel(), kind="stable"),
        prob_order=None if p is None else _ece_order(p.ravel(), seed),
    )


def _segments(panels: _Panels, labels: Any, ks: Sequence[float]) -> dict[str, dict[str, Any]]:
    s, c, p = panels.score, panels.count, panels.prob
    lab = np.asarray(labels, dtype=object)
    if lab.shape != (c.shape[1],):
        raise ValueError(f"segment labels must have one value per grid column ({c.shape[1]})")
    n_t, n_g = c.shape
    top10 = panels.rank < k_grids(MISS_K, n_g)
    values, code = np.unique(lab.astype(str), return_inverse=True)  # sorted names, per grid
    # Every row sorted once, by score and (for ECE) by probability, then grouped by segment
    # with a stable sort of the segment codes: each segment's rows keep the city-wide order,
    # so per segment AP/AUC and ECE need no sort of their own.
    flat_code = np.tile(code, n_t)
    y = panels.label
    by_score = _group(panels.score_order, flat_code)
    by_prob = None if panels.prob_order is None else _group(panels.prob_order, flat_code)
    bounds = np.concatenate(([0], np.cumsum(np.bincount(flat_code, minlength=len(values)))))
    result: dict[str, dict[str, Any]] = {}
    for i, value in enumerate(values):
        cols = code == i
        cc, rk, a = c[:, cols], panels.rank[:, cols], panels.area[cols]
        ranked = by_score[bounds[i] : bounds[i + 1]]
        ap, auc = _sorted_ap_auc(s.ravel()[ranked][None, :], y[ranked][None, :])
        events = float(cc.sum())
        row: dict[str, Any] = {
            "rows": int(cc.size),
            "events": events,
            "base_rate": float((cc >= 1).mean()),
            "pr_auc": float(ap[0]),
            "roc_auc": float(auc[0]),
            "brier": None,
            "log_loss": None,
            "ece": None,
        }
        if p is not None and by_prob is not None:
            ps = p[:, cols]
            row["brier"], row["log_loss"] = brier(ps, cc), log_loss(ps, cc)
            ordered = by_prob[bounds[i] : bounds[i + 1]]
            row["ece"] = _sorted_ece(p.ravel()[ordered], y[ordered])
        # best[t, j]: the most events j + 1 of the segment's grids could catch at t
        best = np.cumsum(-np.sort(-cc, axis=1), axis=1)
        for k in ks:
            top = rk < k_grids(k, n_g)
            caught = float(cc[top].sum())
            flagged = top.sum(axis=1)
            hit = _ratio(caught, events)
            share = float((top * a).sum() / (n_t * a.sum()))
            row[f"flag_rate@{k}"] = float(top.mean())
            row[f"hit_rate@{k}"] = hit
            row[f"pai@{k}"] = hit / share if share > 0 else math.nan
            reach = np.take_along_axis(best, np.maximum(flagged - 1, 0)[:, None], axis=1)[:, 0]
            row[f"pei@{k}"] = _ratio(caught, float(np.where(flagged > 0, reach, 0.0).sum()))
        tr, tp = panels.truth[:, cols], top10[:, cols]
        row[f"miss_rate@{MISS_K}"] = 1.0 - _ratio((tr & tp).sum(), tr.sum())
        if panels.true_top is not None:
            tt = panels.true_top[:, cols]
            row[f"miss_rate_true@{MISS_K}"] = 1.0 - _ratio((tt & tp).sum(), tt.sum())
        result[str(value)] = row
    return result


def _group(order: np.ndarray, code: np.ndarray) -> np.ndarray:
    """``order`` (positions) regrouped by ``code[position]``, keeping the order in each group."""
    return order[np.argsort(code[order], kind="stable")]


# ----------------------------------------------------------------------------- per issue time


def per_issue_time(
    score: Any,
    count: Any,
    prob: Any = None,
    area: Any = None,
    ks: Sequence[float] = (5,),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Each metric computed separately at every issue time: arrays of length T.

    Feeds :func:`paired_bootstrap_difference`. Keys: ``pr_auc, roc_auc``, ``hit_rate@k,
    pai@k, pei@k`` per k, ``miss_rate@10`` and, with ``prob``, ``brier``. A day where a metric
    is undefined (no event, no truly high-risk grid) holds NaN.
    """
    s, c = _pair(score, count)
    ap, auc = _row_ap_auc(s, c >= 1)
    out: dict[str, np.ndarray] = {"pr_auc": ap, "roc_auc": auc}
    a = _areas(area, c.shape[1])
    day_total = c.sum(axis=1)

    def div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    rank = rank_positions(s, seed)
    for k in ks:
        top = rank < k_grids(k, c.shape[1])
        hit = (c * top).sum(axis=1)
        out[f"hit_rate@{k}"] = div(hit, day_total)
        out[f"pai@{k}"] = out[f"hit_rate@{k}"] / ((top * a).sum(axis=1) / a.sum())
        out[f"pei@{k}"] = div(hit, _hindsight_best(c, k_grids(k, c.shape[1])))
    truth = truly_high_risk(c, MISS_K)
    caught = (truth & (rank < k_grids(MISS_K, c.shape[1]))).sum(axis=1)
    out[f"miss_rate@{MISS_K}"] = 1.0 - div(caught, truth.sum(axis=1))
    if prob is not None:
        p, y = _prob_pair(prob, c)
        out["brier"] = ((p - y) ** 2).reshape(c.shape).mean(axis=1)
    return out


def paired_bootstrap_difference(
    daily_a: Any,
    daily_b: Any,
    n_boot: int = 2000,
    ci: float = 0.9,
    seed: int = 0,
    block_days: int = 7,
) -> dict[str, float]:
    """Mean per-issue-day difference ``a − b`` with a moving-block bootstrap interval.

    Daily 72-hour windows overlap (neighbouring days share two thirds of their events), so
    days are not independent: resampling single days gives intervals that are too narrow
    (docs/adr/011-honest-intervals.md). Instead runs of ``block_days`` consecutive days
    (in the given order) are drawn with replacement, each day's pair kept together, until
    the resample is as long as the data (Künsch's moving-block bootstrap; ``block_days=1``
    is the plain day bootstrap). Days where either value is NaN are dropped first. Returns
    ``mean_diff, low, high, n_days, block_days``; the lead of ``a`` is "real" at level ``ci``
    when the interval excludes 0.
    """
    a, b = np.asarray(daily_a, dtype=float), np.asarray(daily_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"daily_a and daily_b must be 1-d of equal length, got {a.shape}, {b.shape}"
        )
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    if block_days < 1:
        raise ValueError(f"block_days must be at least 1, got {block_days!r}")
    d = (a - b)[~(np.isnan(a) | np.isnan(b))]
    if d.size == 0:
        return {
            "mean_diff": math.nan,
            "low": math.nan,
            "high": math.nan,
            "n_days": 0,
            "block_days": block_days,
        }
    rng = np.random.default_rng(seed)
    length = min(block_days, d.size)
    n_blocks = math.ceil(d.size / length)
    starts = rng.integers(0, d.size - length + 1, size=(n_boot, n_blocks))
    days = (starts[:, :, None] + np.arange(length)).reshape(n_boot, -1)[:, : d.size]
    means = d[days].mean(axis=1)
    tail = (1 - ci) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return {
        "mean_diff": float(d.mean()),
        "low": float(low),
        "high": float(high),
        "n_days": int(d.size),
        "block_days": length,
    }


def _k_value(text: str) -> float:
    k = float(text)
    return int(k) if k.is_integer() else k


PAIRED_METRICS = ("pr_auc", "pei@5")  # what the promotion gate compares (models/gates.toml)


def paired_to_baselines(
    scores: Mapping[str, Any],
    count: Any,
    model: str,
    exclude: Sequence[str] = ("oracle",),
    keys: Sequence[str] = PAIRED_METRICS,
    seed: int = 0,
    n_boot: int = 2000,
    ci: float = 0.9,
    block_days: int = 7,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{metric: {baseline: paired_bootstrap_difference(model, baseline)}}`` over the issue
    days of one target's ``(T, G)`` panels: how far ``model`` leads (or trails) each other
    entry of ``scores`` (``exclude`` left out), with a week-block bootstrap interval — so a
    gate can tell "worse" from "within what four weeks of one city can tell apart"
    (docs/adr/022-gates-on-intervals.md). Empty when ``model`` has no scores."""
    if model not in scores:
        return {}
    ks = sorted({_k_value(k.split("@")[1]) for k in keys if "@" in k}) or [5]
    daily = {
        m: per_issue_time(s, count, ks=ks, seed=seed)
        for m, s in scores.items()
        if m == model or m not in exclude
    }
    return {
        key: {
            m: paired_bootstrap_difference(
                daily[model][key],
                d[key],
                n_boot=n_boot,
                ci=ci,
                seed=seed,
                block_days=block_days,
            )
            for m, d in daily.items()
            if m != model
        }
        for key in keys
    }


# ----------------------------------------------------------------------------- JSON


def json_ready(obj: Any) -> Any:
    """Copy of ``obj`` safe for ``json.dumps(..., allow_nan=False)``: NaN/inf → None.

    Recurses into dicts, lists and tuples; numpy scalars and arrays become Python values.
    """
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [json_ready(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
