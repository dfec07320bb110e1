"""Issue times: when forecasts are made (DESIGN §4: daily 08:00 city time by default)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from risk.contract import DEFAULT_ISSUE_HOUR, DEFAULT_TZ
from risk.errors import ConfigError


def daily_issue_times(
    start: str | dt.date | pd.Timestamp,
    end: str | dt.date | pd.Timestamp,
    hour: int = DEFAULT_ISSUE_HOUR,
    tz: str = DEFAULT_TZ,
) -> pd.DatetimeIndex:
    """One issue time per calendar day from `start` to `end` inclusive, at `hour` city time.

    Days are calendar days in `tz`, so a DST change keeps the wall-clock hour.
    """
    if not 0 <= hour <= 23:
        raise ConfigError(f"issue hour must be in 0..23, got {hour}")
    first, last = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    if last < first:
        raise ConfigError(f"end {last} is before start {first}; give --start <= --end")
    days = pd.date_range(first, last, freq="D")
    local = days + pd.Timedelta(hours=hour)
    return local.tz_localize(tz, nonexistent="shift_forward", ambiguous=False).as_unit("ns")
