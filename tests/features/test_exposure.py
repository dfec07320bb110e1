"""Exposure family: patrol visits in the last 7 / 28 days, only behind the explicit switch."""

from __future__ import annotations

import pandas as pd
import pytest

from features.base import FeatureSpec
from features.build import build_features
from risk.errors import ConfigError
from tests.features.tiny_city import D, H, T, issue_times, lattice_grids, make_events, row

# g4 visited T - 1 h, T - 3 d, T - 10 d and T - 30 d; g0 visited T + 1 h (not known at T)
VISITS = pd.DataFrame(
    {
        "grid_id": ["g4", "g4", "g4", "g4", "g0"],
        "visited_at": [T - H, T - 3 * D, T - 10 * D, T - 30 * D, T + H],
    }
)


def _frame(**spec):
    spec = FeatureSpec(families=("history",), windows_days=(1,), targets=("any",), **spec)
    return build_features(lattice_grids(), make_events(), issue_times(), spec).frame


def test_exposure_is_off_by_default():
    assert not any(c.startswith("patrol_visits") for c in _frame(patrol_visits=VISITS).columns)


def test_visits_in_the_last_7_and_28_days():
    frame = _frame(patrol_exposure=True, patrol_visits=VISITS)
    g4 = row(frame, "g4")
    # 7 d: T - 1 h and T - 3 d -> 2; 28 d: also T - 10 d -> 3 (T - 30 d is outside)
    assert (g4["patrol_visits_7d"], g4["patrol_visits_28d"]) == (2, 3)
    assert row(frame, "g0")["patrol_visits_7d"] == 0  # the visit at T + 1 h is not known at T
    assert row(frame, "g0", T + D)["patrol_visits_7d"] == 1


def test_switch_without_visits_is_refused():
    with pytest.raises(ConfigError, match="no patrol visits were given"):
        _frame(patrol_exposure=True)


def test_exposure_cannot_be_named_as_an_ordinary_family():
    with pytest.raises(ValueError, match="unknown feature families"):
        FeatureSpec(families=("history", "exposure"))
