"""Lower confidence bounds of a precision (hits / flagged) for the risk levels' operating points
(docs/adr/013-levels-as-operating-points.md).

* :func:`precision_lower_bound` — one-sided **Wilson** bound: every flagged row an independent
  trial. Right for a handful of rows, overconfident for grid-windows, which are not independent.
* :func:`cluster_precision_lower_bound` — a **cluster-robust** bound: the rows fall into
  clusters (weeks of issue days); the precision is a ratio estimator ``Σ h_c / Σ n_c`` whose
  variance comes from how the clusters' residuals ``e_c = h_c − p̂ · n_c`` spread (the
  linearised "sandwich" variance with the small-sample factor ``C / (C − 1)``), and the
  quantile is Student's t with ``C − 1`` degrees of freedom. Rows of the same week share a
  city-wide fluctuation and overlapping 72-hour windows; the bound sees that as spread between
  weeks, which the Wilson bound cannot. It bounds either the mean precision or, as a
  prediction bound, the precision of one coming week.
* :func:`clusters_of` — the cluster of each row from its issue time: blocks of ``days``
  consecutive calendar days counted from the first issue time.
* :func:`cluster_counts` — per cluster, the flagged rows and hits at chosen cuts of rows sorted
  by descending probability, in one pass (``C × K`` numbers, never ``C × rows``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9


def precision_lower_bound(hits: Any, flagged: Any, confidence: float) -> np.ndarray:
    """One-sided Wilson lower bound of a precision ``hits / flagged`` at ``confidence``
    (0.5 gives the point estimate itself)."""
    from scipy.stats import norm

    h = np.asarray(hits, dtype=float)
    n = np.maximum(np.asarray(flagged, dtype=float), 1.0)
    z = float(norm.ppf(confidence))
    phat = h / n
    centre = phat + z * z / (2 * n)
    spread = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def cluster_precision_lower_bound(
    hits: Any, flagged: Any, confidence: float, *, coming_week: bool = False
) -> np.ndarray:
    """One-sided cluster-robust lower bound of ``Σ_c hits[c] / Σ_c flagged[c]`` per cut.

    ``hits`` and ``flagged`` are ``(C, K)``: cluster ``c``'s hits and flagged rows at cut
    ``k`` (a 1-D input is one cut). With ``p̂ = H / N`` and ``e_c = hits_c − p̂ · flagged_c``,
    the standard error of ``p̂`` is ``se = sqrt(C / (C − 1) · Σ_c e_c²) / N`` and the bound
    ``p̂ − t_{C−1}(confidence) · se``: the precision **on average** over clusters like these.
    ``coming_week`` bounds instead the precision of **one more cluster** of the typical size
    ``N / C`` (a prediction bound): its spread ``s² = Σ_c e_c² / ((C − 1) · (N / C)²)`` plus
    the mean's ``se² = s² / C``, that is ``se · sqrt(C + 1)``.

    Every cluster of the sample counts in ``C``, also one that flags nothing at this cut. A
    cut whose flagged rows come from fewer than two clusters has no spread between clusters to
    go by: its bound is ``-inf`` (nothing can be claimed). Confidence 0.5 gives the estimate.
    """
    from scipy.stats import t as student_t

    h = np.asarray(hits, dtype=float)
    n = np.asarray(flagged, dtype=float)
    if h.ndim == 1:
        h, n = h[:, None], n[:, None]
    c = h.shape[0]
    total_h, total_n = h.sum(axis=0), n.sum(axis=0)
    phat = np.divide(total_h, total_n, out=np.zeros_like(total_h), where=total_n > 0)
    if c < 2:
        return np.full(total_h.shape, -np.inf)
    resid = h - phat * n
    variance = c / (c - 1) * (resid * resid).sum(axis=0)
    se = np.sqrt(variance) / np.maximum(total_n, 1.0)
    if coming_week:
        se = se * np.sqrt(c + 1)
    q = float(student_t.ppf(confidence, c - 1))
    lower = phat - q * se
    return np.where((n > 0).sum(axis=0) >= 2, lower, -np.inf)


def clusters_of(issue_time: Any, days: int) -> np.ndarray:
    """Cluster of each row, numbered 0, 1, … over the clusters that hold rows: blocks of
    ``days`` days, ``day // days``, where ``day`` is the whole number of days since the
    earliest issue time (rounded, so a daylight-saving hour never moves a row to another
    day). ``issue_time``: int64 UTC nanoseconds or datetimes (tz-aware or naive)."""
    arr = np.asarray(issue_time)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if np.issubdtype(arr.dtype, np.integer):
        ns = arr.astype(np.int64)
    else:
        ns = pd.DatetimeIndex(issue_time).as_unit("ns").asi8
    day = np.rint((ns - ns.min()) / NS_PER_DAY).astype(np.int64)
    return np.unique(day // days, return_inverse=True)[1].astype(np.int64)


def cluster_counts(
    label_sorted: np.ndarray, cluster_sorted: np.ndarray, cuts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(hits, flagged)``, each ``(C, K)``: per cluster, the hits and rows among the first
    ``cuts[k] + 1`` rows of a ranking (``label_sorted`` 0/1 and ``cluster_sorted`` in ranking
    order; ``cuts`` ascending row positions). ``C`` is every cluster of the sample."""
    n_clusters = int(cluster_sorted.max()) + 1 if cluster_sorted.size else 0
    k = len(cuts)
    # Each row counts from the first cut that includes it; rows past the last cut never count.
    first_cut = np.searchsorted(cuts, np.arange(label_sorted.size), side="left")
    inside = first_cut < k
    flat = cluster_sorted[inside] * k + first_cut[inside]
    size = n_clusters * k
    flagged = np.bincount(flat, minlength=size).reshape(n_clusters, k).cumsum(axis=1)
    hits = np.bincount(flat, weights=label_sorted[inside], minlength=size)
    return hits.reshape(n_clusters, k).cumsum(axis=1), flagged.astype(float)
