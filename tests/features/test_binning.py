"""Binning primitives: cumulative counts at the issue times, known-at-t windows, decay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.binning import (
    NS_PER_DAY,
    NS_PER_HOUR,
    EventArrays,
    KnownCounter,
    cumulative_counts,
    decayed_counts,
    last_known_occurrence,
)


def _events(grid, occurred_h, known_h) -> EventArrays:
    n = len(grid)
    return EventArrays(
        grid=np.asarray(grid, dtype=np.int64),
        occurred=np.asarray(occurred_h, dtype=np.int64) * NS_PER_HOUR,
        known=np.asarray(known_h, dtype=np.int64) * NS_PER_HOUR,
        category=np.zeros(n, dtype=np.int64),
        source=np.full(n, -1, dtype=np.int64),
    )


def test_cumulative_counts_are_exact_at_odd_issue_times():
    # issue times at 5 h, 17 h, 30 h; events (grid 0) at 5 h, 6 h, 17 h; (grid 1) at 31 h
    queries = np.array([5, 17, 30]) * NS_PER_HOUR
    times = np.array([5, 6, 17, 31]) * NS_PER_HOUR
    out = cumulative_counts(times, np.array([0, 0, 0, 1]), queries, n_grids=2)
    # grid 0: <= 5 h: 1; <= 17 h: 3; <= 30 h: 3.  grid 1: the 31 h event never counts
    assert out.tolist() == [[1, 0], [3, 0], [3, 0]]


def test_window_excludes_events_reported_after_t():
    # one grid, t = 100 h; event A occurred 90 h, known 95 h; B occurred 92 h, known 101 h
    ev = _events([0, 0], [90, 92], [95, 101])
    counter = KnownCounter(ev, np.array([100, 102]) * NS_PER_HOUR, n_grids=1)
    window = counter.between(24 * NS_PER_HOUR, 0)  # occurred in (t - 24 h, t]
    # at 100 h only A is known -> 1; at 102 h both -> 2
    assert window[:, 0].tolist() == [1, 2]


def test_lagged_window_needs_both_conditions():
    # occurred in (t - 10 h, t - 5 h] and known by t; t = 100 h
    # A: occurred 93 h (in), known 99 h -> counts; B: occurred 93 h, known 100.5 h -> no;
    # C: occurred 96 h (too recent) -> no; D: occurred 90 h (too old, edge open) -> no
    ev = _events([0, 0, 0, 0], [93, 93, 96, 90], [99, 101, 96, 90])
    counter = KnownCounter(ev, np.array([100]) * NS_PER_HOUR, n_grids=1)
    assert counter.between(10 * NS_PER_HOUR, 5 * NS_PER_HOUR)[0, 0] == 1


def test_decayed_counts_match_direct_sum_across_blocks():
    # a half-life of 0.05 day over 60 days needs several float64 rescaling blocks
    rng = np.random.default_rng(3)
    occurred = rng.uniform(0, 60 * 24, 40).astype(np.int64)
    known = occurred + rng.integers(0, 30, 40)
    grid = rng.integers(0, 3, 40)
    ev = _events(grid, occurred, known)
    queries = np.sort(rng.choice(np.arange(0, 61 * 24), 25, replace=False)) * NS_PER_HOUR
    got = decayed_counts(ev, queries, 3, half_life_days=0.05)
    for i, t in enumerate(queries):
        for g in range(3):
            mask = (ev.grid == g) & (ev.known <= t)
            age = (t - ev.occurred[mask]) / NS_PER_DAY
            assert got[i, g] == pytest.approx(np.sum(0.5 ** (age / 0.05)), rel=1e-9, abs=1e-300)


def test_last_known_occurrence_waits_for_the_report():
    # event occurred at 10 h, known at 50 h; issue times 20 h and 60 h
    ev = _events([0], [10], [50])
    latest = last_known_occurrence(ev, np.array([20, 60]) * NS_PER_HOUR, n_grids=1)
    assert np.isnan(latest[0, 0])
    assert latest[1, 0] == pytest.approx(10 * NS_PER_HOUR)


def test_event_arrays_drop_unknown_grids_and_default_reporting():
    from features.binning import event_arrays

    t = pd.Timestamp("2026-01-01 08:00", tz="Asia/Shanghai")
    events = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "occurred_at": pd.DatetimeIndex([t, t]),
            "reported_at": pd.DatetimeIndex(
                [pd.NaT, t + pd.Timedelta(hours=3)], tz="Asia/Shanghai"
            ),
            "category": ["theft", "fire"],
            "grid_id": ["g1", "elsewhere"],
            "source": pd.Series([None, "patrol"], dtype="str"),
            "severity": pd.array([pd.NA, 2], dtype="Int8"),
        }
    )
    ev = event_arrays(events, pd.Series(["g0", "g1"]))
    # only "a" stays (grid row 1); missing reported_at -> known when it occurred
    assert ev.grid.tolist() == [1]
    assert ev.known.tolist() == ev.occurred.tolist()
