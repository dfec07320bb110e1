"""Calendar features on the official 2026 Chinese schedule and the US calendar.

Spring Festival 2026: 02-15..02-23 off; Saturdays 02-14 and 02-28 are adjusted working days.
New Year 2026-01-01..03. Mid-autumn 2026-09-25..27, National Day 2026-10-01..07.
Tomb-sweeping Day 2026-04-04..06. Every window is (t, t+72h] with t at 08:00 local, so it
holds 16 h of day 0, 24 h of days 1 and 2 and 8 h of day 3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.base import BuildContext, FeatureSpec
from features.calendar_features import build
from risk.calendar import CalendarFallbackWarning
from risk.contract import EVENT_COLUMNS
from risk.errors import ConfigError


def context(times: list[str], calendar: str = "CN", tz: str = "Asia/Shanghai") -> BuildContext:
    grids = pd.DataFrame({"grid_id": ["g0"]})
    events = pd.DataFrame(columns=list(EVENT_COLUMNS))
    issue_times = pd.DatetimeIndex(times).tz_localize(tz)
    spec = FeatureSpec(calendar=calendar, tz=tz)
    return BuildContext(grids, events, issue_times, ("any",), spec)


def features(times: list[str], **kwargs: str) -> dict[str, list[float]]:
    block = build(context(times, **kwargs))
    return {name: values[:, 0].tolist() for name, values in block.columns.items()}


def test_window_before_spring_festival():
    # (02-13 08:00, 02-16 08:00]: 16 h Fri 02-13 (workday), 24 h Sat 02-14 (adjusted
    # workday), 24 h 02-15 + 8 h 02-16 (holiday) -> holiday 32/72, adjusted 24/72, and
    # days off 32/72 (the working Saturday is not a day off).
    got = features(["2026-02-13 08:00"])
    assert got["window_holiday_share"] == pytest.approx([32 / 72])
    assert got["window_adjusted_workday_share"] == pytest.approx([24 / 72])
    assert got["window_off_share"] == pytest.approx([32 / 72])
    assert got["issue_on_holiday"] == [0.0]
    assert got["issue_on_day_off"] == [0.0]


def test_distances_before_spring_festival():
    # 02-13 -> first holiday day 02-15: 2 days. Last holiday ended 01-03: 41 days -> cap 30.
    got = features(["2026-02-13 08:00"])
    assert got["days_to_next_holiday"] == [2.0]
    assert got["days_since_last_holiday"] == [30.0]


def test_during_spring_festival():
    # t = 02-20 08:00: window 02-20 16 h, 02-21, 02-22 24 h each, 02-23 8 h -> all holiday.
    # Next period Tomb-sweeping 04-04: 43 days -> 30; previous ended 01-03: 48 -> 30.
    got = features(["2026-02-20 08:00"])
    assert got["window_holiday_share"] == [1.0]
    assert got["window_off_share"] == [1.0]
    assert got["issue_on_holiday"] == [1.0]
    assert got["days_to_next_holiday"] == [30.0]
    assert got["days_since_last_holiday"] == [30.0]


def test_after_spring_festival_with_the_working_saturday():
    # t = Fri 02-27 08:00: 16 h 02-27 (workday), 24 h Sat 02-28 (adjusted workday),
    # 24 h Sun 03-01 (ordinary weekend, off), 8 h Mon 03-02 (workday):
    # holiday 0, adjusted 24/72, off 24/72. Last holiday day 02-23: 27 - 23 = 4 days.
    got = features(["2026-02-27 08:00"])
    assert got["window_holiday_share"] == [0.0]
    assert got["window_adjusted_workday_share"] == pytest.approx([24 / 72])
    assert got["window_off_share"] == pytest.approx([24 / 72])
    assert got["days_since_last_holiday"] == [4.0]


def test_mid_autumn_and_national_day_are_separate_periods():
    # t = 09-20: next start 09-25 -> 5. t = 09-30: window 16 h 09-30 (workday),
    # 24 h 10-01, 24 h 10-02, 8 h 10-03 -> holiday 56/72; next start 10-01 -> 1;
    # Mid-autumn ended 09-27 -> 3. t = 10-08: National Day ended 10-07 -> 1.
    got = features(["2026-09-20 08:00", "2026-09-30 08:00", "2026-10-08 08:00"])
    assert got["days_to_next_holiday"][:2] == [5.0, 1.0]
    assert got["window_holiday_share"][1] == pytest.approx(56 / 72)
    assert got["days_since_last_holiday"] == [30.0, 3.0, 1.0]  # 09-20: 09-20 - 06-21 > 30


def test_us_calendar_independence_day_2017():
    # US, Chicago time. t = Mon 2017-07-03 08:00: 16 h 07-03 (workday), 24 h 07-04
    # (holiday), 24 h 07-05 + 8 h 07-06 (workdays): holiday 24/72, off 24/72, next in 1 day.
    # t = Tue 07-04 08:00: on the holiday; 16 h of it in the window -> 16/72.
    # t = Wed 07-05 08:00: the holiday ended 07-04 -> 1 day since; its window ends with
    # 8 h of Sat 07-08, an ordinary day off -> off 8/72.
    got = features(
        ["2017-07-03 08:00", "2017-07-04 08:00", "2017-07-05 08:00"],
        calendar="US",
        tz="America/Chicago",
    )
    assert got["window_holiday_share"] == pytest.approx([24 / 72, 16 / 72, 0.0])
    assert got["window_off_share"] == pytest.approx([24 / 72, 16 / 72, 8 / 72])
    assert got["window_adjusted_workday_share"] == [0.0, 0.0, 0.0]
    assert got["issue_on_holiday"] == [0.0, 1.0, 0.0]
    assert got["days_to_next_holiday"][0] == 1.0
    assert got["days_since_last_holiday"][2] == 1.0


def test_fallback_beyond_the_official_calendar_is_not_swallowed():
    with pytest.warns(CalendarFallbackWarning, match="2027"):
        build(context(["2027-03-01 08:00"]))


def test_unknown_country_is_a_config_error():
    with pytest.raises(ConfigError, match="XX"):
        build(context(["2026-03-01 08:00"], calendar="XX"))


def test_columns_are_float32_per_issue_time_with_labels():
    block = build(context(["2026-02-13 08:00", "2026-02-14 08:00"]))
    assert all(v.shape == (2, 1) and v.dtype == np.float32 for v in block.columns.values())
    assert all(info.family == "calendar" and "{value}" in info.label_en for info in block.info)
    assert block.info[0].label_zh == "未来72小时中法定节假日的比例：{value}"


def test_no_issue_times_gives_empty_columns():
    block = build(context([]))
    assert len(block.columns) == 7
    assert all(v.shape == (0, 1) for v in block.columns.values())
