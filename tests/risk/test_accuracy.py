"""Live accuracy per model version and level, by hand."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pandas as pd
import pytest

from risk.accuracy import accuracy_by_level, closed_windows, count_by_level, realised_calibration
from risk.review import upsert_from_scoring

T0 = pd.Timestamp("2024-03-01 08:00", tz="Asia/Shanghai")


def item(grid, level, version="v1", days=0):
    start = T0 + pd.Timedelta(days=days)
    made, _ = upsert_from_scoring(
        None,
        grid_id=grid,
        target="theft",
        window_start=start,
        window_end=start + pd.Timedelta(hours=72),
        prob=0.5,
        level=level,
        reasons=[],
        model_version=version,
        at=start,
    )
    return made


def test_precision_per_version_and_model_level():
    items = [item("g1", "red"), item("g2", "red"), item("g3", "red"), item("g4", "orange")]
    items.append(item("g5", "red", version="v2"))
    # a reviewer lowered g3 to yellow: it still counts as the model's red
    items[2] = dataclasses.replace(items[2], level="yellow")
    rows = accuracy_by_level(items, [True, True, False, False, True])
    got = [(r.model_version, r.level, r.n, r.came_true, r.precision) for r in rows]
    assert got == [
        ("v1", "red", 3, 2, pytest.approx(2 / 3)),
        ("v1", "orange", 1, 0, 0.0),
        ("v2", "red", 1, 1, 1.0),
    ]


def test_only_windows_closed_in_the_period_and_covered_by_known_events():
    items = [item("g1", "red", days=d) for d in (0, 10, 20, 27)]
    now = T0 + pd.Timedelta(days=30)
    ends = [i.window_end for i in closed_windows(items, now, 28, known_until=now)]
    assert ends == [T0 + pd.Timedelta(days=d, hours=72) for d in (0, 10, 20, 27)]
    # windows end on days 3, 13, 23 and 30; the last 20 days (after day 10) hold three
    assert len(closed_windows(items, now, 20, known_until=now)) == 3
    # events known only until day 25: the day-27 window (ends day 30) cannot be judged yet
    known = T0 + timedelta(days=25)
    assert len(closed_windows(items, now, 28, known_until=known)) == 3
    with pytest.raises(ValueError, match="2 items but 1 outcomes"):
        accuracy_by_level(items[:2], [True])


def test_count_by_level_orders_versions_then_most_severe_first():
    keys = [("v1", "yellow"), ("v1", "red"), ("v2", "red"), ("v1", "red"), ("v1", "yellow")]
    rows = count_by_level(keys, [True, True, False, False, False])
    assert [(r.model_version, r.level, r.n, r.came_true) for r in rows] == [
        ("v1", "red", 2, 1),
        ("v1", "yellow", 2, 1),
        ("v2", "red", 1, 0),
    ]
    assert [r.precision for r in rows] == [0.5, 0.5, 0.0]
    with pytest.raises(ValueError, match="2 items but 1 outcomes"):
        count_by_level(keys[:2], [True])


def test_realised_calibration_by_hand():
    # two bins: {0.1, 0.2} came true 1 of 2, {0.8, 0.9} 2 of 2
    # ECE = (2·|0.15 − 0.5| + 2·|0.85 − 1|) / 4 = (0.7 + 0.3) / 4 = 0.25
    cal = realised_calibration([0.9, 0.1, 0.8, 0.2], [True, False, True, True], n_bins=2)
    assert (cal.n, cal.came_true) == (4, 3)
    assert cal.ece == pytest.approx(0.25)
    assert cal.bins == [
        {"n": 2, "mean_prob": pytest.approx(0.15), "observed": 0.5},
        {"n": 2, "mean_prob": pytest.approx(0.85), "observed": 1.0},
    ]
    # 5 rows in 2 bins: the first holds the extra row, as risk.metrics.ece cuts them
    five = realised_calibration([0.1, 0.2, 0.3, 0.4, 0.5], [0, 0, 1, 1, 1], n_bins=2)
    assert [b["n"] for b in five.bins] == [3, 2]
    assert five.ece == pytest.approx((3 * abs(0.2 - 1 / 3) + 2 * abs(0.45 - 1)) / 5)
    assert realised_calibration([], []).as_dict() == {
        "n": 0,
        "came_true": 0,
        "ece": None,
        "bins": [],
    }
