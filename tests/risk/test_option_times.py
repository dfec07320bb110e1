"""Dates and times given to a command: read once, refused in words naming the option."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from risk.errors import ConfigError
from risk.option_times import option_date, option_time


def test_a_time_in_range_is_read_as_given():
    assert option_time("2024-05-01", "--until") == pd.Timestamp("2024-05-01")
    aware = option_time("2024-05-01T08:00+02:00", "--until")
    assert aware == pd.Timestamp("2024-05-01 06:00", tz="UTC")
    assert option_date("2024-05-01T23:30", "--start") == dt.date(2024, 5, 1)
    assert option_date(pd.Timestamp("2024-05-01", tz="UTC"), "--start") == dt.date(2024, 5, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "--end 'yesterday' is not a date or time; give e.g. 2024-06-01"),
        ("", "--end '' is not a date or time"),
        # pandas fills in year 1 for a date without its year
        ("May 1", r"--end 'May 1' \(read as 0001-05-01\) is outside the years 1700..2249"),
        ("1699-12-31", "--end '1699-12-31' is outside the years 1700..2249"),
        ("2250-01-01", "--end '2250-01-01' is outside the years 1700..2249"),
        ("9999-12-31", "--end '9999-12-31' is outside"),
    ],
)
def test_no_time_or_a_time_out_of_reach_is_refused_naming_the_option(value, message):
    with pytest.raises(ConfigError, match=message):
        option_time(value, "--end")


def test_the_edges_of_the_range_are_accepted():
    assert option_date("1700-01-01", "--start") == dt.date(1700, 1, 1)
    assert option_date("2249-12-31", "--start") == dt.date(2249, 12, 31)
