"""The time resolution of an event record (risk.resolution)."""

from __future__ import annotations

import pandas as pd
import pytest

from risk.resolution import time_resolution


def times(*stamps: str, tz: str | None = "America/Chicago") -> pd.Series:
    values = pd.Series(pd.to_datetime(list(stamps), format="ISO8601"))
    return values.dt.tz_localize(tz) if tz else values


@pytest.mark.parametrize(
    ("stamps", "name", "seconds"),
    [
        (("2024-03-09", "2024-03-10", "2024-03-11"), "day", 86_400),  # across the DST change
        (("2024-03-09 01:00", "2024-03-10 03:00", "2024-03-11 23:00"), "hour", 3_600),
        (("2024-03-09 01:07", "2024-03-10 03:00", "2024-03-11 23:59"), "minute", 60),
        (("2024-03-09 01:07:05", "2024-03-10 03:00:00"), "second", 1),
        (("2024-03-09 01:07:05.250", "2024-03-10 03:00:00.500"), "exact", 0),
    ],
)
def test_the_coarsest_unit_every_time_sits_on(stamps, name, seconds):
    found = time_resolution(times(*stamps))
    assert (found.name, found.ns) == (name, seconds * 10**9)


def test_a_few_precise_times_do_not_make_a_dates_only_file_precise():
    stamps = [f"2024-01-{d:02d}" for d in range(1, 31)] * 2 + ["2024-02-01 13:45"]
    assert time_resolution(times(*stamps)).name == "day"  # 60 of 61 on whole days (98 %)
    stamps += ["2024-02-02 10:15"] * 3  # 60 of 64: 94 % < 95 %
    assert time_resolution(times(*stamps)).name == "minute"


def test_naive_times_and_no_times():
    assert time_resolution(times("2024-01-01 08:00", tz=None)).name == "hour"
    assert time_resolution(pd.Series([], dtype="datetime64[ns]")).name == "exact"
    assert time_resolution(times("2024-01-01", tz=None)).days == 1.0
