"""History features on the hand-worked tiny city (tests/features/tiny_city.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.base import FeatureSpec
from features.build import build_features
from tests.features.tiny_city import (
    HISTORY_START,
    D,
    T,
    issue_times,
    lattice_grids,
    make_events,
    row,
)


@pytest.fixture(scope="module")
def frame():
    spec = FeatureSpec(families=("history",))
    built = build_features(
        lattice_grids(), make_events(), issue_times(), spec, history_start=HISTORY_START
    )
    return built.frame


def test_window_counts_of_g4(frame):
    # known g4 events at T: e1 (-2 h), e2 (-5 d), e9 (-6 d 14 h), e3 (-10 d), e4 (-30 d),
    # e10 (-364 d 19 h); e12, e13 are in the future.
    r = row(frame, "g4")
    expected = {1: 1, 3: 1, 7: 3, 14: 4, 28: 4, 91: 5, 365: 6}
    assert {w: r[f"events_{w}d_any"] for w in expected} == expected
    # theft only: e1, e2 | e4 | e10 -> 7 d: 2, 28 d: 2, 91 d: 3, 365 d: 4
    assert (r["events_7d_theft"], r["events_91d_theft"], r["events_365d_theft"]) == (2, 3, 4)
    # dispute: e9 (7 d), e3 (14 d) -> 1 and 2
    assert (r["events_7d_dispute"], r["events_14d_dispute"]) == (1, 2)


def test_window_counts_one_day_later_include_the_edge(frame):
    # at T + 1 d, e5 (g0, T - 25 h) is 49 h old: outside 1 d, inside 3 d.
    r = row(frame, "g0", T + D)
    assert (r["events_1d_any"], r["events_3d_any"]) == (0, 1)
    # at T - 1 d, e5 occurred at T - 25 h = (T - 1 d) - 1 h: inside the 1-day window.
    assert row(frame, "g0", T - D)["events_1d_any"] == 1


def test_decayed_counts_of_g4(frame):
    # half-life 1 d: 0.5^(2/24) + 0.5^5 + 0.5^(6+14/24) + 0.5^10 + 0.5^30 + 0.5^364.8
    #             = 0.943874 + 0.03125 + 0.010428 + 0.000977 + ~0 = 0.986529
    r = row(frame, "g4")
    assert r["decay_1d_any"] == pytest.approx(0.986529, rel=1e-5)
    # half-life 7 d, all: sum 0.5^(age/7) = 2.545119; thefts (ages 2/24, 5, 30, 364.8): 1.652560
    assert r["decay_7d_any"] == pytest.approx(2.545119, rel=1e-5)
    assert r["decay_7d_theft"] == pytest.approx(1.652560, rel=1e-5)
    assert r["decay_30d_any"] == pytest.approx(4.041791, rel=1e-5)


def test_days_since_last(frame):
    # g4: e1 occurred 2 h before T -> 2/24 = 0.083333 d; one day later 1.083333 d
    assert row(frame, "g4")["days_since_last_any"] == pytest.approx(2 / 24, rel=1e-5)
    assert row(frame, "g4", T + D)["days_since_last_any"] == pytest.approx(1 + 2 / 24, rel=1e-5)
    # g4 disputes: e9 at T - 6 d 14 h -> 6.583333 d
    assert row(frame, "g4")["days_since_last_dispute"] == pytest.approx(6 + 14 / 24, rel=1e-5)
    # g3 has never had an event: NaN, not 0
    assert math.isnan(row(frame, "g3")["days_since_last_any"])


def test_same_window_one_week_and_one_year_earlier(frame):
    r = row(frame, "g4")
    # (T - 7 d, T - 4 d]: e9 (T - 6 d 14 h) and e2 (T - 5 d) -> 2 ; theft only e2 -> 1
    assert (r["same_window_1w_any"], r["same_window_1w_theft"]) == (2, 1)
    # (T - 365 d, T - 362 d]: e10 (T - 364 d 19 h) -> 1
    assert r["same_window_1y_any"] == 1
    # one day later the 1-year window (T - 364 d, T - 361 d] starts after e10 -> 0
    assert row(frame, "g4", T + D)["same_window_1y_any"] == 0


def test_long_run_rate_and_trend(frame):
    r = row(frame, "g4")
    # 6 known events over the 500 days since HISTORY_START -> 0.012 per day
    assert r["rate_all_any"] == pytest.approx(0.012, rel=1e-6)
    # 28-day rate 4 / 28 = 0.142857, / 0.012 = 11.904762
    assert r["trend_28d_any"] == pytest.approx(11.904762, rel=1e-6)
    # g3: no events -> rate 0 and trend undefined (NaN)
    assert row(frame, "g3")["rate_all_any"] == 0
    assert math.isnan(row(frame, "g3")["trend_28d_any"])


def test_features_are_float32(frame):
    assert frame["events_7d_any"].dtype == np.float32
    assert frame["decay_7d_theft"].dtype == np.float32


def test_a_window_the_record_does_not_cover_is_missing_not_zero():
    # The record starts 100 days before T: the 365-day count and the window one year back are
    # unknown (NaN) at T, while the 91-day count and the window one week back are real numbers.
    start = T - 100 * D
    built = build_features(
        lattice_grids(),
        make_events(),
        issue_times(),
        FeatureSpec(families=("history",)),
        history_start=start,
    )
    r = row(built.frame, "g4")
    assert math.isnan(r["events_365d_any"]) and math.isnan(r["same_window_1y_any"])
    assert r["events_91d_any"] == 5 and r["same_window_1w_any"] == 2  # as with a full record
