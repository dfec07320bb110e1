import warnings

import pandas as pd
import pytest

from risk.calendar import CalendarFallbackWarning, day_table
from risk.errors import ConfigError


def test_spring_festival_2026_and_adjusted_workdays():
    table = day_table("2026-02-13", "2026-03-01")
    # Official schedule: 2026-02-15..23 off; Saturdays 02-14 and 02-28 are working days.
    off = table.index[table["is_holiday"]].strftime("%m-%d").tolist()
    assert off == [f"02-{d}" for d in range(15, 24)]
    assert table.loc["2026-02-14", "is_adjusted_workday"]
    assert table.loc["2026-02-28", "is_adjusted_workday"]
    assert table.loc["2026-02-15", "holiday_name"] == "Spring Festival"
    assert not table.loc["2026-03-01", "is_workday"]  # an ordinary Sunday
    assert set(table["source"]) == {"chinese_calendar"}


def test_national_day_2026():
    table = day_table("2026-09-30", "2026-10-09")
    off = table.index[table["is_holiday"]].strftime("%m-%d").tolist()
    assert off == [f"10-0{d}" for d in range(1, 8)]


def test_fallback_beyond_official_years_warns_and_estimates():
    with pytest.warns(CalendarFallbackWarning, match="2027"):
        table = day_table("2027-01-01", "2027-01-02")
    assert table.loc["2027-01-01", "is_holiday"]  # New Year's Day, estimated
    assert table.loc["2027-01-01", "source"] == "holidays_estimate"


def test_override_table_replaces_estimate_without_warning():
    overrides = pd.DataFrame({"date": ["2027-01-02"], "is_workday": [True], "holiday_name": [None]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalendarFallbackWarning)
        table = day_table("2027-01-02", "2027-01-02", overrides=overrides)
    assert table.loc["2027-01-02", "is_adjusted_workday"]  # a Saturday made a working day
    assert table.loc["2027-01-02", "source"] == "override"


def test_us_calendar():
    table = day_table("2017-07-03", "2017-07-05", country="US")
    assert table["is_holiday"].tolist() == [False, True, False]
    assert table.loc["2017-07-04", "holiday_name"] == "Independence Day"


def test_unknown_country_is_a_config_error():
    with pytest.raises(ConfigError, match="'XX' is not known"):
        day_table("2026-01-01", "2026-01-02", country="XX")
