"""Time-of-window features: which weekdays the forecast window covers, hour, month, season.

All per issue time, shape (T, 1), computed in the city's local time (`spec.tz`). The window
is `(t, t + horizon]`, split into `horizon` hours; an hour `(t + k h, t + (k+1) h]` belongs to
the local calendar day of its start `t + k h`. Stepping in absolute hours and converting each
hour to local time keeps daylight-saving days right (23 or 25 local hours).

Features (shares are in [0, 1]; the seven weekday shares sum to 1):

* `window_share_mon` … `window_share_sun` — share of the window's hours on each weekday;
* `window_weekend_share` — share on Saturday or Sunday (the sum of the last two, kept as one
  readable feature for explanations);
* `issue_hour` — local hour of `t` (minutes as a fraction: 08:30 -> 8.5);
* `issue_month` — local month of `t`, 1-12;
* `season_sin`, `season_cos` — the day of year as an angle, `2π (doy - 1) / days_in_year`, so
  31 December and 1 January are neighbours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.base import BuildContext, FeatureBlock, FeatureInfo

FAMILY = "time"
WEEKDAYS = (
    ("mon", "Mondays", "周一"),
    ("tue", "Tuesdays", "周二"),
    ("wed", "Wednesdays", "周三"),
    ("thu", "Thursdays", "周四"),
    ("fri", "Fridays", "周五"),
    ("sat", "Saturdays", "周六"),
    ("sun", "Sundays", "周日"),
)


def local_issue_times(issue_times: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """Issue times in the city zone; naive times are taken to be city time already."""
    if issue_times.tz is None:
        return issue_times.tz_localize(tz)
    return issue_times.tz_convert(tz)


def window_hour_days(issue_times: pd.DatetimeIndex, horizon_hours: int, tz: str) -> np.ndarray:
    """Local calendar day (naive midnight, `datetime64`) of every window hour, shape (T, horizon).

    Row `i`, column `k` is the local date of the instant `t_i + k hours`.
    """
    utc = local_issue_times(issue_times, tz).tz_convert("UTC").tz_localize(None).to_numpy()
    steps = np.arange(horizon_hours) * np.timedelta64(1, "h")
    starts = (utc[:, None] + steps[None, :]).ravel()
    local = pd.DatetimeIndex(starts).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    return local.normalize().to_numpy().reshape(len(issue_times), horizon_hours)


def _column(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(-1, 1)


def build(ctx: BuildContext) -> FeatureBlock:
    """Weekday mix of the window, issue hour, month and season, each of shape (T, 1)."""
    spec = ctx.spec
    h = spec.horizon_hours
    block = FeatureBlock()
    local = local_issue_times(ctx.issue_times, spec.tz)

    days = window_hour_days(ctx.issue_times, h, spec.tz)
    weekday = pd.DatetimeIndex(days.ravel()).day_of_week.to_numpy().reshape(days.shape)
    for number, (short, en, zh) in enumerate(WEEKDAYS):
        block.add(
            FeatureInfo(
                f"window_share_{short}",
                FAMILY,
                f"Share of the next {h} h falling on {en}: {{value}}",
                f"未来{h}小时中落在{zh}的比例：{{value}}",
            ),
            _column((weekday == number).mean(axis=1) if h else np.zeros(len(local))),
        )
    block.add(
        FeatureInfo(
            "window_weekend_share",
            FAMILY,
            f"Share of the next {h} h falling on a weekend: {{value}}",
            f"未来{h}小时中落在周末的比例：{{value}}",
        ),
        _column((weekday >= 5).mean(axis=1) if h else np.zeros(len(local))),
    )
    block.add(
        FeatureInfo(
            "issue_hour", FAMILY, "Hour of the forecast: {value}", "预测发布时刻：{value}时"
        ),
        _column(local.hour + local.minute / 60.0),
    )
    block.add(
        FeatureInfo("issue_month", FAMILY, "Month: {value}", "月份：{value}月"),
        _column(local.month),
    )
    days_in_year = np.where(local.is_leap_year, 366.0, 365.0)
    angle = 2.0 * np.pi * (local.day_of_year.to_numpy() - 1) / days_in_year
    block.add(
        FeatureInfo(
            "season_sin",
            FAMILY,
            "Season (sine of the day of year): {value}",
            "季节（年内日期的正弦）：{value}",
        ),
        _column(np.sin(angle)),
    )
    block.add(
        FeatureInfo(
            "season_cos",
            FAMILY,
            "Season (cosine of the day of year): {value}",
            "季节（年内日期的余弦）：{value}",
        ),
        _column(np.cos(angle)),
    )
    return block
