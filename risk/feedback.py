"""The patrol feedback loop (issue 17, item 3): how it is measured, and what a patrol finds.

A forecast that sends patrols changes the record it learns from: a patrolled grid records
events nobody else would have reported, its next forecast rises, and it is patrolled again
(Lum & Isaac 2016; Ensign et al. 2018). These are the pure pieces of the simulation in
`models.feedback`:

* **warning tiers** — the sim's rule: each day the top `WARN_PERCENT` % of grids by forecast are
  warned (approved and patrolled), the top `RED_PERCENT` % of them "red" (`warning_tiers`);
* **concentration** — `gini` of the warnings over grids (0: spread evenly, (n − 1)/n: one grid
  gets them all) and `persistence_share`, the share of this week's red grids that were red the
  week before;
* **fidelity** — `spearman`, the rank correlation of a forecast with the generator's true risk;
* **discovery** — `discover_events`: on a patrolled grid-day a patrol finds
  Poisson(`uplift` × the grid's true expected count that day) extra events per category, which
  would otherwise have gone unreported; they are recorded with `source = patrol`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from risk.contract import EVENT_COLUMNS
from risk.errors import ConfigError
from risk.metrics import k_grids, rank_positions

WARN_PERCENT = 5.0  # share of grids warned (and patrolled) each day
RED_PERCENT = 2.0  # share of grids whose warning is red
PATROL_SOURCE = "patrol"
REPORT_DELAY = pd.Timedelta(minutes=10)  # a patrol reports what it found at once


def warning_tiers(
    prob: np.ndarray,
    warn_percent: float = WARN_PERCENT,
    red_percent: float = RED_PERCENT,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """`(warned, red)`: boolean masks of the shape of `prob` ((T, G) or (G,)) — per issue time
    the `ceil(warn% · G)` and `ceil(red% · G)` highest forecasts, ties broken at random with
    `seed` (`risk.metrics.rank_positions`)."""
    if not 0 < red_percent <= warn_percent <= 100:
        raise ConfigError(
            f"need 0 < red_percent <= warn_percent <= 100, got {red_percent}, {warn_percent}"
        )
    p = np.asarray(prob, dtype=float)
    rank = rank_positions(np.atleast_2d(p), seed)
    n = rank.shape[1]
    warned, red = rank < k_grids(warn_percent, n), rank < k_grids(red_percent, n)
    return (warned[0], red[0]) if p.ndim == 1 else (warned, red)


def gini(values: Any) -> float:
    """Gini coefficient of non-negative `values` (one per grid): `Σ_i Σ_j |x_i − x_j| /
    (2 n² mean)`. 0 when equal, (n − 1)/n when one grid holds all; NaN when all are 0."""
    x = np.sort(np.asarray(values, dtype=float).ravel())
    if x.size == 0 or (x < 0).any() or not np.isfinite(x).all():
        raise ConfigError("gini needs at least one finite non-negative value")
    total = x.sum()
    if total == 0:
        return float("nan")
    n = x.size
    i = np.arange(1, n + 1)
    return float(2.0 * np.sum(i * x) / (n * total) - (n + 1) / n)


def persistence_share(current: Any, previous: Any) -> float:
    """Share of the grids flagged now (`current`, boolean per grid) that were flagged before
    (`previous`); NaN when none is flagged now."""
    now, before = np.asarray(current, dtype=bool), np.asarray(previous, dtype=bool)
    if now.shape != before.shape:
        raise ConfigError(f"flags of shape {now.shape} and {before.shape} do not match")
    flagged = int(now.sum())
    return float((now & before).sum() / flagged) if flagged else float("nan")


def spearman(score: Any, truth: Any) -> float:
    """Spearman rank correlation of two vectors (average ranks for ties); NaN when either is
    constant."""
    a, b = np.asarray(score, dtype=float).ravel(), np.asarray(truth, dtype=float).ravel()
    if a.shape != b.shape:
        raise ConfigError(f"{a.size} scores but {b.size} true values")
    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def discover_events(
    patrolled: np.ndarray,
    expected: np.ndarray,
    grid_ids: np.ndarray,
    categories: tuple[str, ...],
    day_start: pd.Timestamp,
    uplift: float,
    rng: np.random.Generator,
    id_prefix: str = "P",
) -> pd.DataFrame:
    """What one day's patrols find: events in contract shape (`EVENT_COLUMNS`), source patrol.

    `patrolled` (G,) bool; `expected` (G, K): the true expected count of each category in the
    day `(day_start, day_start + 24 h]`. A patrolled grid finds Poisson(`uplift` · expected)
    events of each category, each at a uniform time of the day, reported `REPORT_DELAY` later.
    Ids are `<id_prefix><yyyymmdd>-<n>`, unique within the day.
    """
    mask = np.asarray(patrolled, dtype=bool)
    lam = np.asarray(expected, dtype=float)
    if lam.shape != (len(mask), len(categories)):
        raise ConfigError(
            f"expected counts of shape {lam.shape}; need ({len(mask)}, {len(categories)})"
        )
    if uplift < 0 or not np.isfinite(uplift):
        raise ConfigError(f"uplift must be a non-negative number, got {uplift}")
    n = rng.poisson(uplift * lam * mask[:, None])  # (G, K)
    grid, cat = np.nonzero(n)
    reps = n[grid, cat]
    grid, cat = np.repeat(grid, reps), np.repeat(cat, reps)
    seconds = rng.integers(1, 86_401, size=len(grid))
    occurred = day_start + pd.to_timedelta(np.sort(seconds), unit="s")
    order = np.argsort(seconds, kind="stable")
    return pd.DataFrame(
        {
            "event_id": [f"{id_prefix}{day_start:%Y%m%d}-{i}" for i in range(len(grid))],
            "occurred_at": occurred,
            "reported_at": occurred + REPORT_DELAY,
            "category": np.asarray(categories, dtype=object)[cat[order]],
            "grid_id": np.asarray(grid_ids, dtype=object)[grid[order]],
            "source": PATROL_SOURCE,
            "severity": pd.array([pd.NA] * len(grid), dtype="Int64"),
        },
        columns=list(EVENT_COLUMNS),
    )
