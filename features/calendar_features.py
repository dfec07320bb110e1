"""Calendar features of the forecast window: official holidays, adjusted working days, days off,
and the distance to the nearest holiday — so before / during / after effects are learnable.

All per issue time, shape (T, 1), from `risk.calendar.day_table` for `spec.calendar` (China by
default, 调休 included). Window hours are assigned to local days as in `features.time`.

* `window_holiday_share` — share of the window's hours on official holidays;
* `window_adjusted_workday_share` — share on weekend days made working days (调休);
* `window_off_share` — share on days off: holidays or non-working weekend days;
* `issue_on_holiday`, `issue_on_day_off` — 1 when the local date of `t` is one, else 0;
* `days_to_next_holiday` — days from the local date of `t` to the first day of the next
  holiday period starting after it;
* `days_since_last_holiday` — days from the last day of the most recent holiday period that
  ended before the local date of `t` to that date.

A *holiday period* is a run of consecutive official-holiday days (`is_holiday`); ordinary
weekends next to a holiday are not part of it unless the calendar says so (China's does).
Both distances are capped at `HOLIDAY_DISTANCE_CAP` days: 30 means "30 or more". During a
holiday `days_to_next_holiday` points at the following period and `days_since_last_holiday`
at the previous one; `issue_on_holiday` marks the "during" case.

Beyond the official Chinese calendar's years `day_table` warns `CalendarFallbackWarning`; it
is deliberately not caught here, so the caller (and the analyst) sees it.
"""

from __future__ import annotations

import numpy as np

from features.base import BuildContext, FeatureBlock, FeatureInfo
from features.time import local_issue_times, window_hour_days
from risk.calendar import day_table

FAMILY = "calendar"
HOLIDAY_DISTANCE_CAP = 30
_ONE_DAY = np.timedelta64(1, "D")


def _column(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).reshape(-1, 1)


def _distances(
    is_holiday: np.ndarray, day_index: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Days to the next holiday start after `day_index` and since the last end before it."""
    before = np.concatenate([[False], is_holiday[:-1]])
    after = np.concatenate([is_holiday[1:], [False]])
    starts = np.flatnonzero(is_holiday & ~before)
    ends = np.flatnonzero(is_holiday & ~after)

    j = np.searchsorted(starts, day_index, side="right")
    to_next = np.full(day_index.shape, cap, dtype=np.int64)
    has_next = j < len(starts)
    to_next[has_next] = starts[j[has_next]] - day_index[has_next]

    k = np.searchsorted(ends, day_index, side="left") - 1
    since = np.full(day_index.shape, cap, dtype=np.int64)
    has_last = k >= 0
    since[has_last] = day_index[has_last] - ends[k[has_last]]
    return np.minimum(to_next, cap), np.minimum(since, cap)


def build(ctx: BuildContext) -> FeatureBlock:
    """Holiday, adjusted-workday and day-off shares of the window; distances to holidays."""
    spec = ctx.spec
    h = spec.horizon_hours
    cap = HOLIDAY_DISTANCE_CAP
    n = len(ctx.issue_times)
    local = local_issue_times(ctx.issue_times, spec.tz)
    issue_days = local.tz_localize(None).normalize().to_numpy()
    hour_days = window_hour_days(ctx.issue_times, h, spec.tz)

    if n:
        # Cover every window hour and `cap + 1` days either side of every issue date, so a
        # holiday period just outside the cap is still seen as a start or an end.
        first = issue_days.min() - (cap + 1) * _ONE_DAY
        last = max(issue_days.max() + (cap + 1) * _ONE_DAY, hour_days.max())
        table = day_table(
            first.astype("datetime64[D]").item(),
            last.astype("datetime64[D]").item(),
            spec.calendar,
            overrides=spec.calendar_overrides,
        )
        is_holiday = table["is_holiday"].to_numpy(dtype=bool)
        is_adjusted = table["is_adjusted_workday"].to_numpy(dtype=bool)
        is_off = ~table["is_workday"].to_numpy(dtype=bool)
        hour_index = (hour_days - first) // _ONE_DAY
        issue_index = (issue_days - first) // _ONE_DAY
    else:
        is_holiday = is_adjusted = is_off = np.zeros(0, dtype=bool)
        hour_index = np.zeros((0, h), dtype=np.int64)
        issue_index = np.zeros(0, dtype=np.int64)

    def share(flags: np.ndarray) -> np.ndarray:
        return flags[hour_index].mean(axis=1) if h else np.zeros(n)

    to_next, since = _distances(is_holiday, issue_index, cap)
    block = FeatureBlock()
    block.add(
        FeatureInfo(
            "window_holiday_share",
            FAMILY,
            f"Share of the next {h} h on official holidays: {{value}}",
            f"未来{h}小时中法定节假日的比例：{{value}}",
        ),
        _column(share(is_holiday)),
    )
    block.add(
        FeatureInfo(
            "window_adjusted_workday_share",
            FAMILY,
            f"Share of the next {h} h on adjusted working days (weekend made a workday): {{value}}",
            f"未来{h}小时中调休工作日的比例：{{value}}",
        ),
        _column(share(is_adjusted)),
    )
    block.add(
        FeatureInfo(
            "window_off_share",
            FAMILY,
            f"Share of the next {h} h on days off (holidays or weekends): {{value}}",
            f"未来{h}小时中休息日（节假日或周末）的比例：{{value}}",
        ),
        _column(share(is_off)),
    )
    block.add(
        FeatureInfo(
            "issue_on_holiday",
            FAMILY,
            "Forecast issued on an official holiday (1 = yes): {value}",
            "预测发布当天为法定节假日（1为是）：{value}",
        ),
        _column(is_holiday[issue_index]),
    )
    block.add(
        FeatureInfo(
            "issue_on_day_off",
            FAMILY,
            "Forecast issued on a day off (1 = yes): {value}",
            "预测发布当天为休息日（1为是）：{value}",
        ),
        _column(is_off[issue_index]),
    )
    block.add(
        FeatureInfo(
            "days_to_next_holiday",
            FAMILY,
            f"Days to the next holiday (capped at {cap}): {{value}}",
            f"距下一个节假日的天数（最多计{cap}天）：{{value}}",
        ),
        _column(to_next),
    )
    block.add(
        FeatureInfo(
            "days_since_last_holiday",
            FAMILY,
            f"Days since the last holiday ended (capped at {cap}): {{value}}",
            f"距上一个节假日结束的天数（最多计{cap}天）：{{value}}",
        ),
        _column(since),
    )
    return block
