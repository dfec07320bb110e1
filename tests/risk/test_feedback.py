"""The pieces of the feedback-loop simulation: tiers, Gini, persistence, rank correlation,
and what a patrol finds. Expected values worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk.contract import EVENT_COLUMNS
from risk.errors import ConfigError
from risk.feedback import (
    REPORT_DELAY,
    discover_events,
    gini,
    persistence_share,
    spearman,
    warning_tiers,
)

DAY = pd.Timestamp("2024-10-01 08:00", tz="Asia/Shanghai")


def test_warning_tiers_take_the_top_shares_of_grids():
    # 40 grids: warned ceil(5 % · 40) = 2 (grids 39, 38), red ceil(2 % · 40) = 1 (grid 39)
    prob = np.arange(40) / 40
    warned, red = warning_tiers(prob)
    assert np.flatnonzero(warned).tolist() == [38, 39]
    assert np.flatnonzero(red).tolist() == [39]
    # a panel: each row on its own
    warned, red = warning_tiers(np.vstack([prob, prob[::-1]]))
    assert np.flatnonzero(warned[1]).tolist() == [0, 1]
    with pytest.raises(ConfigError, match="red_percent <= warn_percent"):
        warning_tiers(prob, warn_percent=2, red_percent=5)


def test_gini_by_hand():
    # one of four grids holds everything: (n - 1) / n = 0.75
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    # [1, 2, 3]: Σ_i Σ_j |x_i - x_j| = 2 · (1 + 2 + 1) = 8; 2 n² mean = 2 · 9 · 2 = 36 -> 2/9
    assert gini([3, 1, 2]) == pytest.approx(8 / 36)
    assert np.isnan(gini([0, 0]))
    with pytest.raises(ConfigError, match="non-negative"):
        gini([1, -1])


def test_persistence_share_by_hand():
    # flagged now: grids 0, 1, 3; of them 0 and 3 were flagged before -> 2 / 3
    assert persistence_share([1, 1, 0, 1], [1, 0, 0, 1]) == pytest.approx(2 / 3)
    assert np.isnan(persistence_share([0, 0], [1, 1]))
    with pytest.raises(ConfigError, match="do not match"):
        persistence_share([1, 0], [1, 0, 0])


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    # ties: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): cov 4.5, variances 4.5 and 5
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5))
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def _found(patrolled, expected, uplift=1.0, seed=0):
    grid_ids = np.array([f"g{i}" for i in range(len(patrolled))], dtype=object)
    return discover_events(
        np.asarray(patrolled, bool),
        np.asarray(expected, float),
        grid_ids,
        ("dispute", "theft"),
        DAY,
        uplift,
        np.random.default_rng(seed),
    )


def test_patrols_find_events_only_where_they_go_and_within_the_day():
    # g0 patrolled with 50 expected thefts; g1 not patrolled, 50 expected disputes
    found = _found([True, False], [[0.0, 50.0], [50.0, 0.0]])
    assert list(found.columns) == list(EVENT_COLUMNS)
    assert set(found["grid_id"]) == {"g0"}
    assert set(found["category"]) == {"theft"}
    assert (found["source"] == "patrol").all()
    assert found["occurred_at"].gt(DAY).all()
    assert found["occurred_at"].le(DAY + pd.Timedelta(hours=24)).all()
    assert (found["reported_at"] - found["occurred_at"] == REPORT_DELAY).all()
    assert found["event_id"].is_unique
    assert found["occurred_at"].is_monotonic_increasing


def test_patrol_finds_uplift_times_the_expected_count_on_average():
    # 2,000 patrolled grids expecting 0.25 thefts, uplift 2 -> Poisson(0.5) each: 1,000 in all,
    # standard deviation sqrt(1,000) ~ 32
    found = _found(np.ones(2000, bool), np.tile([0.0, 0.25], (2000, 1)), uplift=2.0)
    assert abs(len(found) - 1000) < 4 * 32
    assert len(_found(np.ones(2000, bool), np.tile([0.0, 0.25], (2000, 1)), uplift=0.0)) == 0


def test_discovery_refuses_mismatched_expected_counts():
    with pytest.raises(ConfigError, match=r"need \(2, 2\)"):
        _found([True, False], [[1.0, 1.0]])
    with pytest.raises(ConfigError, match="uplift"):
        _found([True], [[1.0, 1.0]], uplift=-1.0)
