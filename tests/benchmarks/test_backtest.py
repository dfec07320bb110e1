"""benchmarks.backtest's coarse-city variant: times floored as a city that records no finer
ones would."""

from __future__ import annotations

import pandas as pd

from benchmarks.backtest import coarsened

TZ = "Asia/Shanghai"


def _events() -> pd.DataFrame:
    stamp = lambda values: pd.to_datetime(pd.Series(values)).dt.tz_localize(TZ)  # noqa: E731
    return pd.DataFrame(
        {
            "occurred_at": stamp(["2024-03-01 23:59", "2024-03-02 00:30"]),
            "reported_at": stamp(["2024-03-02 00:10", "2024-03-02 00:40"]),
        }
    )


def test_day_resolution_keeps_the_local_date_at_midnight():
    out = coarsened(_events(), "day")
    assert out["occurred_at"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-03-01 00:00",
        "2024-03-02 00:00",
    ]
    assert out["reported_at"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-03-02 00:00",
        "2024-03-02 00:00",
    ]
    assert str(out["occurred_at"].dt.tz) == TZ


def test_hour_resolution_and_exact():
    out = coarsened(_events(), "hour")
    assert out["occurred_at"].dt.strftime("%H:%M").tolist() == ["23:00", "00:00"]
    assert out["reported_at"].dt.strftime("%H:%M").tolist() == ["00:00", "00:00"]
    assert coarsened(_events(), "exact").equals(_events())
