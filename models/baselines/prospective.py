"""`prospective`: Bowers–Johnson–Pease prospective hotspotting over the last 8 weeks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.baselines.base import POSITIVE, POSITIVE_INT, Baseline
from models.baselines.known import NS_PER_DAY, IndexedEvents, age_band_counts
from models.baselines.spatial import (
    centroid_xy_km,
    nearest_neighbour_spacing_km,
    pairs_within_km,
    sparse_weights,
)

WEEK_NS = 7 * NS_PER_DAY


class Prospective(Baseline):
    """Each known event that occurred `w` whole weeks before `t` (w = 0 … window_weeks - 1)
    adds `1/(1 + w) × 1/(1 + d)` to every grid within `bandwidth_cells` of its grid, where `d`
    is the centroid distance in *cells*: km divided by `cell_km_`, the median nearest-neighbour
    centroid spacing (grids are irregular, so there is no exact ring count).

    The classic score is put on a count scale by one city-wide constant: a grid with a steady
    rate λ per day scores about `7 λ Σ_w 1/(1+w) × mean spatial weight sum`, so
    count = score / (7 Σ_w 1/(1+w) × `norm_`) × horizon days. Ranking is the classic one.
    """

    name = "prospective"
    _constraints = {"bandwidth_cells": POSITIVE, "window_weeks": POSITIVE_INT}

    def __init__(self, bandwidth_cells: float = 2.0, window_weeks: int = 8) -> None:
        self.bandwidth_cells = bandwidth_cells
        self.window_weeks = window_weeks

    def _fit(self, known: IndexedEvents, grids: pd.DataFrame, until_ns: int) -> None:
        xy = centroid_xy_km(grids)
        self.cell_km_ = nearest_neighbour_spacing_km(xy)
        # a hair of tolerance so that a lattice neighbour at exactly `bandwidth` cells is kept
        radius_km = self.bandwidth_cells * self.cell_km_ * (1 + 1e-9)
        rows, cols, dist = pairs_within_km(xy, radius_km)
        self.weights_ = sparse_weights(rows, cols, 1.0 / (1.0 + dist / self.cell_km_), len(grids))
        self.norm_ = float(np.asarray(self.weights_.sum(axis=0)).mean()) if len(grids) else 1.0

    def _predict(self, events: IndexedEvents, times: np.ndarray, horizon_days: float) -> np.ndarray:
        weighted = np.zeros((len(times), events.n_grids))
        for week in range(self.window_weeks):  # a handful of age bands
            band = age_band_counts(events, times, week * WEEK_NS, (week + 1) * WEEK_NS)
            weighted += band / (1.0 + week)
        score = (self.weights_ @ weighted.T).T
        harmonic = float(np.sum(1.0 / (1.0 + np.arange(self.window_weeks))))
        return score / (7.0 * harmonic * self.norm_) * horizon_days
