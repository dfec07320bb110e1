"""`recent_30d`: the known count in the last 30 days, scaled to the horizon."""

from __future__ import annotations

import numpy as np

from models.baselines.base import POSITIVE, Baseline
from models.baselines.known import NS_PER_DAY, IndexedEvents, age_band_counts


class Recent30d(Baseline):
    """Known events that occurred in `(t - window_days, t]` / window_days × horizon days.

    `window_days` is a parameter for experiments; the name stays `recent_30d` (DESIGN §5).
    """

    name = "recent_30d"
    _constraints = {"window_days": POSITIVE}

    def __init__(self, window_days: float = 30) -> None:
        self.window_days = window_days

    def _predict(self, events: IndexedEvents, times: np.ndarray, horizon_days: float) -> np.ndarray:
        window_ns = round(self.window_days * NS_PER_DAY)
        counts = age_band_counts(events, times, 0, window_ns)
        return counts / self.window_days * horizon_days
