"""Whether a forecast may be issued at a given time: within reach of its data (issue 14, item 8).

A forecast at ``t`` is made from the events known at ``t``. Issued more than the horizon (72 h)
after the newest event, it reads the days without data as days without events and puts
warnings for windows no data reaches into the live queue; issued before the first event, it
has no history at all; issued after now, its window has not begun and the events before it
are still to come. Each needs an explicit ``force`` (``risk score --force``).
"""

from __future__ import annotations

import pandas as pd

from risk.contract import HORIZON_HOURS
from risk.errors import ConfigError
from risk.option_times import read_time
from risk.validation import EARLIEST, LATEST

NOW_SKEW = pd.Timedelta(minutes=5)  # clocks of two machines may differ this much


class IssueTimeRefused(ConfigError):
    """An issue time out of reach of the data, or after now, without ``force``."""


def parse_issue_time(at: object, tz: str) -> pd.Timestamp:
    """``at`` as an aware timestamp in ``tz`` (naive values are city time).

    `ConfigError` in plain words for text that is no time, a time outside the years a
    frame can hold (`risk.validation.EARLIEST` .. `LATEST`), e.g. 9999-01-01T08:00, or a naive
    wall time the clocks skip or repeat in ``tz`` (a daylight-saving change).
    """
    example = "give e.g. 2025-12-01T08:00 (city time) or 2025-12-01T00:00Z"
    ts = read_time(at)
    if ts is None:
        raise ConfigError(f"issue time {at!r} is not a time; {example}")
    wall = ts.tz_localize(None) if ts.tzinfo is not None else ts
    if not EARLIEST <= wall < LATEST:
        raise ConfigError(
            f"issue time {at!r} is outside the years {EARLIEST.year}..{LATEST.year - 1} a "
            f"forecast can use; {example}"
        )
    if ts.tzinfo is not None:
        return ts.tz_convert(tz).as_unit("ns")
    try:
        return ts.tz_localize(tz).as_unit("ns")
    except ValueError:  # pandas' NonExistentTimeError / AmbiguousTimeError
        offset = (ts - pd.Timedelta(days=1)).tz_localize(tz).strftime("%z")  # before the change
        raise ConfigError(
            f"issue time {at!r} is not one moment in {tz}: the clocks change then (the hour "
            f"is skipped or repeated); give another time, or one with its UTC offset, e.g. "
            f"{ts:%Y-%m-%dT%H:%M}{offset[:3]}:{offset[3:]}"
        ) from None


def check_issue_time(
    issue: pd.Timestamp,
    events: pd.DataFrame,
    horizon_hours: int = HORIZON_HOURS,
    *,
    now: pd.Timestamp | None = None,
    force: bool = False,
) -> None:
    """Refuse (`IssueTimeRefused`) an issue time before the first event, more than
    ``horizon_hours`` after the newest (``occurred_at``), or after ``now``, unless ``force``.
    Without events there is nothing to compare with: only ``now`` is checked."""
    if force:
        return
    fix = "or add --force if this is really meant"
    shown = f"{issue:%Y-%m-%d %H:%M %Z}"
    if events is not None and len(events):
        occurred = events["occurred_at"]
        first, newest = occurred.min().tz_convert(issue.tz), occurred.max().tz_convert(issue.tz)
        if issue < first:
            raise IssueTimeRefused(
                f"issue time {shown} is before the first event ({first:%Y-%m-%d %H:%M}): there "
                f"is no history to forecast from. Fix: give a time after it, {fix}"
            )
        horizon = pd.Timedelta(hours=horizon_hours)
        if issue > newest + horizon:
            raise IssueTimeRefused(
                f"issue time {shown} is {_span(issue - newest)} after the newest event "
                f"({newest:%Y-%m-%d %H:%M}), more than the {horizon_hours} h horizon: days "
                f"without data would count as days without events. Fix: give a time by "
                f"{newest + horizon:%Y-%m-%d %H:%M}, or update the events file, {fix}"
            )
    if now is not None and issue > pd.Timestamp(now) + NOW_SKEW:
        local_now = pd.Timestamp(now).tz_convert(issue.tz)
        raise IssueTimeRefused(
            f"issue time {shown} is after now ({local_now:%Y-%m-%d %H:%M}): its window has not "
            f"begun and the events before it are not known yet. Fix: issue at or before now, "
            f"{fix}"
        )


def _span(delta: pd.Timedelta) -> str:
    days, hours = delta.days, delta.seconds // 3600
    return f"{days:,} days {hours} h" if days else f"{hours} h"


__all__ = ["NOW_SKEW", "IssueTimeRefused", "check_issue_time", "parse_issue_time"]
