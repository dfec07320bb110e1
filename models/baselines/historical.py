"""`historical_rate`: every grid's long-run event rate over all history known at `t`."""

from __future__ import annotations

import numpy as np

from models.baselines.base import OPTIONAL_START, Baseline
from models.baselines.known import (
    NS_PER_DAY,
    IndexedEvents,
    age_band_counts,
    earliest_known_occurrence,
)


class HistoricalRate(Baseline):
    """count of known events per grid / days of history × horizon days.

    Days of history run from `start` (events before it are ignored) or, when `start` is None,
    from the earliest event known at `t` across all grids; at least one day. Because the caller
    filters events to one category, pass the data's real start for a rare category, or its
    rate is overstated (the ranking is the same either way).
    """

    name = "historical_rate"
    _constraints = {"start": OPTIONAL_START}

    def __init__(self, start=None) -> None:
        self.start = start

    def _predict(self, events: IndexedEvents, times: np.ndarray, horizon_days: float) -> np.ndarray:
        counts = age_band_counts(events, times, 0, None)
        start = self._start_ns()
        first = earliest_known_occurrence(events, times) if start is None else float(start)
        days = np.nan_to_num((times - first) / NS_PER_DAY, nan=1.0)
        return counts / np.maximum(days, 1.0)[:, None] * horizon_days
