"""Live accuracy per model version and level, by hand."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pandas as pd
import pytest

from risk.accuracy import accuracy_by_level, closed_windows
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
