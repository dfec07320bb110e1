"""Dates and times given to a command (`--start`, `--end`, `--until`, `--train-start`): read
once and checked against the years a forecast can reach, so a date without its year ("May 1",
which pandas reads as year 1) or a far one (9999-12-31) is refused in plain words naming the
option, never a pandas overflow deep inside a run."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from risk.errors import ConfigError

# A year of history before and a few days of windows after still fit in pandas' nanosecond
# range (1677-09-21 .. 2262-04-11).
EARLIEST = pd.Timestamp("1700-01-01")
LATEST = pd.Timestamp("2250-01-01")
EXAMPLE = "give e.g. 2024-06-01 or 2024-06-01T08:00 (ISO 8601, with its year)"


def read_time(value: object) -> pd.Timestamp | None:
    """`value` as a timestamp, or None for what is no time (text, NaT, a wrong type)."""
    try:
        ts = value if isinstance(value, pd.Timestamp) else pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return None
    return None if ts is pd.NaT else ts


def option_time(value: object, option: str) -> pd.Timestamp:
    """`value` of `option` as a timestamp (naive stays naive, aware stays aware).

    `ConfigError` naming `option` for text that is no time and for a time outside
    `EARLIEST` .. `LATEST`, saying how it was read (e.g. "May 1" as 0001-05-01).
    """
    ts = read_time(value)
    if ts is None:
        raise ConfigError(f"{option} {value!r} is not a date or time; {EXAMPLE}")
    wall = ts.tz_localize(None) if ts.tzinfo is not None else ts
    if not EARLIEST <= wall < LATEST:
        read = f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}"
        how = "" if read in str(value) else f" (read as {read})"
        raise ConfigError(
            f"{option} {value!r}{how} is outside the years "
            f"{EARLIEST.year}..{LATEST.year - 1} a forecast can reach; {EXAMPLE}"
        )
    return ts


def option_date(value: object, option: str) -> dt.date:
    """`option_time(value, option)`'s calendar day."""
    return option_time(value, option).date()
