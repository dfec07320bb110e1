"""Time-of-window features on hand-worked dates (DESIGN §4: window (t, t+72h], city time)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.base import BuildContext, FeatureSpec
from features.time import build
from risk.contract import EVENT_COLUMNS


def context(times: list[str], tz: str = "Asia/Shanghai") -> BuildContext:
    grids = pd.DataFrame({"grid_id": ["g0", "g1"]})
    events = pd.DataFrame(columns=list(EVENT_COLUMNS))
    issue_times = pd.DatetimeIndex(times).tz_localize(tz)
    return BuildContext(grids, events, issue_times, ("any",), FeatureSpec(tz=tz))


def row(block, i: int = 0) -> dict[str, float]:
    return {name: float(values[i, 0]) for name, values in block.columns.items()}


def test_weekday_mix_of_a_friday_morning_window():
    # t = Fri 2026-02-13 08:00; (t, t+72h] = 16 h Fri + 24 h Sat + 24 h Sun + 8 h Mon.
    got = row(build(context(["2026-02-13 08:00"])))
    expected = {"mon": 8 / 72, "tue": 0, "wed": 0, "thu": 0, "fri": 16 / 72}
    expected |= {"sat": 24 / 72, "sun": 24 / 72}
    for day, share in expected.items():
        assert got[f"window_share_{day}"] == pytest.approx(share)
    assert got["window_weekend_share"] == pytest.approx(48 / 72)  # Sat + Sun


def test_weekday_mix_counts_local_hours_across_daylight_saving():
    # Chicago springs forward on Sun 2026-03-08 (a 23-hour day). t = Sat 03-07 08:00 local:
    # 16 h Sat + 23 h Sun + 24 h Mon = 63, so the last 9 h (00:00-09:00) fall on Tue 03-10.
    got = row(build(context(["2026-03-07 08:00"], tz="America/Chicago")))
    assert got["window_share_sat"] == pytest.approx(16 / 72)
    assert got["window_share_sun"] == pytest.approx(23 / 72)
    assert got["window_share_mon"] == pytest.approx(24 / 72)
    assert got["window_share_tue"] == pytest.approx(9 / 72)


def test_issue_hour_and_month_are_local_time():
    # 2026-01-31 16:30 UTC is 2026-02-01 00:30 in Shanghai (UTC+8): hour 0.5, month 2.
    ctx = context(["2026-01-31 16:30"], tz="UTC")
    ctx = BuildContext(ctx.grids, ctx.events, ctx.issue_times, ctx.targets, FeatureSpec())
    got = row(build(ctx))
    assert got["issue_hour"] == pytest.approx(0.5)
    assert got["issue_month"] == 2


def test_season_angle_is_day_of_year_over_year_length():
    # 2026-01-01: doy 1 -> angle 0 -> (sin, cos) = (0, 1).
    # 2024-07-02: doy 184 of a leap year -> angle 2π·183/366 = π -> (0, -1).
    # 2026-04-02: doy 92 -> angle 2π·91/365 = 1.566493 = π/2 - 0.004303 rad
    #   -> sin = cos(0.004303) = 1 - 0.004303²/2 = 0.999991, cos = sin(0.004303) = 0.004303.
    block = build(context(["2026-01-01 08:00", "2024-07-02 08:00", "2026-04-02 08:00"]))
    np.testing.assert_allclose(block.columns["season_sin"][:, 0], [0, 0, 0.999991], atol=1e-6)
    np.testing.assert_allclose(block.columns["season_cos"][:, 0], [1, -1, 0.004303], atol=1e-6)


def test_every_column_is_float32_per_issue_time_with_labels():
    block = build(context(["2026-02-13 08:00", "2026-02-14 08:00", "2026-02-15 08:00"]))
    assert [info.name for info in block.info] == list(block.columns)
    assert all(v.shape == (3, 1) and v.dtype == np.float32 for v in block.columns.values())
    assert all(info.family == "time" and "{value}" in info.label_zh for info in block.info)
    assert block.info[0].label_en == "Share of the next 72 h falling on Mondays: {value}"


def test_no_issue_times_gives_empty_columns():
    block = build(context([]))
    assert all(v.shape == (0, 1) for v in block.columns.values())
