"""The studied "next week" rule of benchmarks/level_bounds.py, by hand."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.level_bounds import next_week_points

CFG = {"precision": {"red": 0.8, "orange": 0.6, "yellow": 0.4}, "min_flagged": 50,
       "confidence": 0.9}  # fmt: skip


def test_next_week_bound_by_hand():
    # 10 weeks × 140 rows at 0.9, the weeks alternating between 133 and 98 hits (0.825), over
    # 1,400 rows at 0.1 without events. e_c = ±17.5; n̄ = 140; s = sqrt(10 · 17.5² / 9) / 140
    # = 0.131762; t(0.9, 9 df) = 1.383029: 0.825 − 1.383029 · 0.131762 · sqrt(1.1) = 0.633876.
    # Red (0.8) is not issued; orange (0.6) is, at 0.9.
    times = np.repeat(pd.date_range("2024-03-04 08:00", periods=70, freq="D", tz="UTC"), 40)
    week = np.repeat(np.arange(10), 280)
    day_row = np.arange(times.size) % 40
    rank_in_week = (np.tile(np.arange(280), 10) // 40) * 20 + day_row
    prob = np.where(day_row < 20, 0.9, 0.1)
    label = (day_row < 20) & (rank_in_week < np.where(week % 2 == 0, 133, 98))
    points = next_week_points(prob, label, times, CFG)
    assert points["red"]["threshold"] is None
    assert (points["orange"]["threshold"], points["orange"]["flagged"]) == (0.9, 1400)
    assert points["orange"]["bound"] == pytest.approx(0.633876, abs=1e-6)
    assert points["orange"]["precision"] == pytest.approx(0.825)
