"""The time resolution of an event record: to the second, minute, hour or day.

Real incident files are often coarse: times on the hour, dates only, or minutes where a
multi-offense report gives several events the same minute. Methods that look at the gaps
between events (the self-exciting `seppexp`, hour-of-day profiles) must know that a gap of 0
means "closer than the record can tell", not "at the same instant".

The resolution is read off the local wall clock (`occurred_at` in the city zone), so that
dates-only data in a zone with daylight saving are still whole days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NS_PER_SECOND = 10**9
# Coarsest first: the first unit that (nearly) every time is a multiple of wins.
UNITS: tuple[tuple[str, int], ...] = (
    ("day", 86_400 * NS_PER_SECOND),
    ("hour", 3_600 * NS_PER_SECOND),
    ("minute", 60 * NS_PER_SECOND),
    ("second", NS_PER_SECOND),
)
# Share of the times that must sit on a unit for the record to be read at that unit; a few
# exact times in a dates-only file (a corrected row, a sensor) do not make it precise.
ON_UNIT_SHARE = 0.95


@dataclass(frozen=True)
class Resolution:
    """`name` is `day`, `hour`, `minute`, `second` or `exact` (finer than a second)."""

    name: str
    ns: int  # the unit in nanoseconds; 0 for `exact`

    @property
    def days(self) -> float:
        return self.ns / (86_400 * NS_PER_SECOND)


EXACT = Resolution("exact", 0)


def time_resolution(occurred_at: pd.Series | pd.DatetimeIndex) -> Resolution:
    """The coarsest unit that at least `ON_UNIT_SHARE` of the (non-missing) times sit on.

    Timezone-aware times are read on their own wall clock; naive times as they are. No time
    at all gives `exact` (nothing to say).
    """
    index = pd.DatetimeIndex(occurred_at).dropna()
    if len(index) == 0:
        return EXACT
    if index.tz is not None:
        index = index.tz_localize(None)
    wall = index.as_unit("ns").asi8
    for name, unit in UNITS:
        if np.mean(wall % unit == 0) >= ON_UNIT_SHARE:
            return Resolution(name, unit)
    return EXACT
