"""`kde`: quartic (biweight) spatial kernel over the events known in the last 60 days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.baselines.base import POSITIVE, Baseline
from models.baselines.known import NS_PER_DAY, IndexedEvents, age_band_counts
from models.baselines.spatial import centroid_xy_km, pairs_within_km, sparse_weights


def quartic(distance_km: np.ndarray, bandwidth_km: float) -> np.ndarray:
    """Unnormalised biweight kernel `(1 - (d/b)²)²` for `d < b`, else 0 (1 at `d = 0`)."""
    u = np.asarray(distance_km, dtype=float) / bandwidth_km
    return np.where(u < 1.0, (1.0 - u**2) ** 2, 0.0)


class KDE(Baseline):
    """Kernel density of recent events at grid centroids, times grid area.

    Score of grid g = area_g × Σ_j K(d(g, j)) × c_j, with c_j the known count of grid j in
    `(t - window_days, t]` (events sit at their grid's centroid). The score is put on a count
    scale by one city-wide constant: divided by `norm_` = the mean over source grids j of
    Σ_g area_g K(d(g, j)) (so that an average event spreads a unit of mass), and by
    `window_days`, then multiplied by the horizon in days. Ranking is the classic KDE ranking.
    """

    name = "kde"
    _constraints = {"bandwidth_km": POSITIVE, "window_days": POSITIVE}

    def __init__(self, bandwidth_km: float = 1.0, window_days: float = 60) -> None:
        self.bandwidth_km = bandwidth_km
        self.window_days = window_days

    def _fit(self, known: IndexedEvents, grids: pd.DataFrame, until_ns: int) -> None:
        n = len(grids)
        rows, cols, dist = pairs_within_km(centroid_xy_km(grids), self.bandwidth_km)
        area = grids["area_km2"].to_numpy(dtype=float)
        self.weights_ = sparse_weights(rows, cols, area[rows] * quartic(dist, self.bandwidth_km), n)
        self.norm_ = float(np.asarray(self.weights_.sum(axis=0)).mean()) if n else 1.0

    def _predict(self, events: IndexedEvents, times: np.ndarray, horizon_days: float) -> np.ndarray:
        counts = age_band_counts(events, times, 0, round(self.window_days * NS_PER_DAY))
        score = (self.weights_ @ counts.T).T
        return score / self.norm_ / self.window_days * horizon_days
