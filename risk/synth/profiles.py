"""Deterministic time profile of the background intensity, shared by simulator and oracle.

The simulation clock counts whole hours ("steps") from local midnight of the start date; step
`s` covers the instants `(start + s h, start + (s+1) h]`. The background rate of grid g,
category k at step s is `mu[g, k] · factor[s, k] · shock[day(s)]`, where `mu` is per day and
`factor` = hour-of-day · day-of-week · month · holiday phase / 24.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.calendar import day_table
from risk.synth.params import SynthParams

SPRING_FESTIVAL = "Spring Festival"
WEDNESDAY, SUNDAY = 2, 6


def clock_start(start: str, tz: str) -> pd.Timestamp:
    """Local midnight of the start date, timezone-aware."""
    return pd.Timestamp(start).normalize().tz_localize(tz)


def n_steps(start: str, tz: str, days: int) -> int:
    """Hours from local midnight of `start` to local midnight `days` days later (DST-aware)."""
    t0 = clock_start(start, tz)
    t1 = (pd.Timestamp(start).normalize() + pd.Timedelta(days=days)).tz_localize(tz)
    return int((t1 - t0) / pd.Timedelta(hours=1))


def hour_factors(params: SynthParams) -> np.ndarray:
    """(24, K) hour-of-day multipliers, each column of mean 1."""
    hours = np.arange(24)[:, None]
    peak = np.array([params.hour_profile[c][0] for c in params.categories])[None, :]
    amp = np.array([params.hour_profile[c][1] for c in params.categories])[None, :]
    raw = np.exp(amp * np.cos(2 * np.pi * (hours - peak) / 24))
    return raw / raw.mean(axis=0, keepdims=True)


def holiday_phase(dates: pd.DatetimeIndex, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per date: phase (0 none, 1 before, 2 during, 3 after a holiday run) and Spring-Festival flag.

    A run is a stretch of consecutive official days off. Before/after are the `window` days
    next to a run that are not themselves days off.
    """
    margin = pd.Timedelta(days=window + 10)
    table = day_table((dates[0] - margin).date(), (dates[-1] + margin).date())
    off = table["is_holiday"].to_numpy()
    spring = (table["holiday_name"] == SPRING_FESTIVAL).fillna(False).to_numpy(dtype=bool)
    n = len(off)
    phase = np.where(off, 2, 0)
    is_spring = off & spring
    edges = np.diff(np.concatenate([[0], off.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # ends exclusive
    for a, b in zip(starts, ends, strict=True):  # one iteration per holiday run
        sf = bool(is_spring[a:b].any())
        before = np.arange(max(0, a - window), a)
        after = np.arange(b, min(n, b + window))
        for days, code in ((before, 1), (after, 3)):
            days = days[~off[days]]
            phase[days] = code
            is_spring[days] = sf
    pos = table.index.get_indexer(dates)
    return phase[pos], is_spring[pos]


def day_factors(params: SynthParams, dates: pd.DatetimeIndex) -> np.ndarray:
    """(D, K) day multipliers: day of week (holidays as Sunday, adjusted workdays as Wednesday),
    month seasonality, and holiday phase."""
    cats = params.categories
    table = day_table(dates[0].date(), dates[-1].date())
    weekday = dates.day_of_week.to_numpy().copy()
    weekday[table["is_holiday"].to_numpy()] = SUNDAY
    weekday[table["is_adjusted_workday"].to_numpy()] = WEDNESDAY
    dow = np.array([params.day_of_week[c] for c in cats]).T  # (7, K)
    month = dates.month.to_numpy()[:, None]
    peak = np.array([params.seasonality[c][0] for c in cats])[None, :]
    amp = np.array([params.seasonality[c][1] for c in cats])[None, :]
    season = 1.0 + amp * np.cos(2 * np.pi * (month - peak) / 12)
    phase, spring = holiday_phase(dates, params.holiday_window_days)
    mult = np.ones((len(dates), len(cats)))
    for table_name, flag in (("spring_festival", spring), ("other_holiday", ~spring)):
        values = np.array([getattr(params, table_name)[c] for c in cats]).T  # (3, K)
        for code in (1, 2, 3):
            rows = (phase == code) & flag
            mult[rows] = values[code - 1]
    return dow[weekday] * season * mult


def step_clock(
    start: str, tz: str, first: int, count: int
) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """For steps `first .. first+count-1`: local hour (count,), day index (count,) into the
    returned local dates."""
    t0 = clock_start(start, tz)
    instants = t0 + pd.to_timedelta(np.arange(first, first + count), unit="h")
    local = instants.tz_convert(tz)
    hour = local.hour.to_numpy()
    day = local.tz_localize(None).normalize()
    dates = pd.DatetimeIndex(np.unique(day.to_numpy()))
    return hour, dates.get_indexer(day), dates


def time_factors(
    params: SynthParams, start: str, tz: str, first: int, count: int
) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """(count, K) background factor per step (per-day rate -> per-hour rate), the day index of
    each step, and the local dates those indices refer to."""
    hour, day, dates = step_clock(start, tz, first, count)
    factor = hour_factors(params)[hour] * day_factors(params, dates)[day] / 24.0
    return factor, day, dates
