"""benchmarks.backtest's coarse-city variant: times floored as a city that records no finer
ones would."""

from __future__ import annotations

import pandas as pd
import pytest

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


def test_a_city_laid_out_in_its_communities():
    """Two communities of two square grids each: merged polygons, summed counts and areas,
    population-weighted shares, events moved to their grid's community."""
    from shapely.geometry import box

    from benchmarks.backtest import by_community

    grids = pd.DataFrame(
        {
            "grid_id": ["g1", "g2", "g3", "g4"],
            "community_id": ["c1", "c1", "c2", "c2"],
            "street_id": ["s1", "s1", "s1", "s2"],
            "grid_type": ["commercial", "campus", "campus", "campus"],
            "area_km2": [1.0, 1.0, 1.0, 1.0],
            "centroid_lon": [0.5, 1.5, 0.5, 1.5],
            "centroid_lat": [0.5, 0.5, 1.5, 1.5],
            "geometry": [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2)],
            "population": [100, 300, 200, 200],
            "elderly_share": [0.1, 0.3, 0.2, 0.4],
        }
    )
    events = pd.DataFrame({"grid_id": ["g1", "g4", "g3"], "category": ["theft"] * 3})
    out, moved = by_community(grids, events)
    assert out["grid_id"].tolist() == ["c1", "c2"]
    assert out["area_km2"].tolist() == [2.0, 2.0] and out["population"].tolist() == [400, 400]
    assert out["elderly_share"].tolist() == pytest.approx([0.25, 0.3])  # (10 + 90) / 400
    assert (out["centroid_lon"].tolist(), out["centroid_lat"].tolist()) == ([1.0, 1.0], [0.5, 1.5])
    assert out.loc[0, "geometry"].area == pytest.approx(2.0)
    assert out["street_id"].tolist() == ["s1", "s1"]  # c2's tie s1/s2: the first by mode's order
    assert moved["grid_id"].tolist() == ["c1", "c2", "c2"]
