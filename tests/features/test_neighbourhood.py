"""Neighbourhood features on the hand-worked tiny city (tests/features/tiny_city.py)."""

from __future__ import annotations

import math

import pytest

from features.base import FeatureSpec
from features.build import build_features
from tests.features.tiny_city import D, T, issue_times, lattice_grids, make_events, row

SPEC = FeatureSpec(families=("neighbourhood",), targets=("any", "theft"))


@pytest.fixture(scope="module")
def frame():
    return build_features(lattice_grids(), make_events(), issue_times(), SPEC).frame


def test_ring1_sums(frame):
    # g4's ring 1 is every other cell; known in (T - 7 d, T]: e5 (g0), e6 (g1); e7 not yet known
    assert row(frame, "g4")["nbr1_events_7d_any"] == 2
    # g0's ring 1 = g1, g3, g4: e6 (g1) + e1, e2, e9 (g4) = 4; thefts e6, e1, e2 = 3
    r = row(frame, "g0")
    assert (r["nbr1_events_7d_any"], r["nbr1_events_7d_theft"]) == (4, 3)


def test_ring1_one_day_later(frame):
    # at T + 1 d the window is (T - 6 d, T + 1 d]: e6 at exactly T - 6 d drops out (open edge),
    # e7 (g8, reported T + 2 h) is now known, e11 (g5, T + 1 h) too; e5 (g0) still in
    # -> g4's ring 1: e5, e7, e11 = 3
    assert row(frame, "g4", T + D)["nbr1_events_7d_any"] == 3


def test_ring2_sums(frame):
    # g0's ring 2 = g2, g5, g6, g7, g8: at T nothing known in 28 d (e8 is 400 d old, e7 unknown)
    assert row(frame, "g0")["nbr2_events_28d_any"] == 0
    # at T + 1 d: e7 (g8) and e11 (g5) -> 2
    assert row(frame, "g0", T + D)["nbr2_events_7d_any"] == 2
    # the centre has no ring 2 on a 3x3 lattice
    assert row(frame, "g4", T + D)["nbr2_events_91d_any"] == 0


def test_decayed_ring1_sum(frame):
    # g0's ring 1 at T: e6 age 6 d -> 0.5^(6/7) = 0.552045, plus g4's decay_7d 2.545119
    assert row(frame, "g0")["nbr1_decay_7d_any"] == pytest.approx(3.097165, rel=1e-5)


def test_community_and_street_sums(frame):
    # cA = g0, g1, g3, g4: e5 + e6 + (e1, e2, e9, e3) = 6 in 28 d, same for every member
    assert row(frame, "g4")["community_events_28d_any"] == 6
    assert row(frame, "g3")["community_events_28d_any"] == 6
    # cB = g2, g5, g6, g7, g8: nothing known in 28 d at T
    assert row(frame, "g2")["community_events_28d_any"] == 0
    # street s1 holds both communities: 6 + 0
    assert row(frame, "g8")["street_events_28d_any"] == 6


def test_community_share(frame):
    # 91 d: g4 has 5 (e1, e2, e9, e3, e4), cA 7 -> 5/7 = 0.714286; g3 0/7 = 0
    assert row(frame, "g4")["community_share_91d_any"] == pytest.approx(5 / 7, rel=1e-6)
    assert row(frame, "g3")["community_share_91d_any"] == 0
    # cB has no known event in 91 d: share undefined
    assert math.isnan(row(frame, "g2")["community_share_91d_any"])


def test_unassigned_community_is_not_a_community():
    grids = lattice_grids()
    grids.loc[grids["grid_id"].isin(["g3", "g4"]), "community_id"] = "unassigned"
    frame = build_features(grids, make_events(), issue_times(), SPEC).frame
    assert math.isnan(row(frame, "g4")["community_events_28d_any"])
    # cA now = g0, g1: e5 + e6 = 2
    assert row(frame, "g0")["community_events_28d_any"] == 2


def test_a_window_the_record_does_not_cover_is_missing_not_zero():
    built = build_features(
        lattice_grids(), make_events(), issue_times(), SPEC, history_start=T - 50 * D
    )
    r = row(built.frame, "g0")
    assert math.isnan(r["nbr1_events_91d_any"]) and math.isnan(r["street_events_91d_theft"])
    assert (r["nbr1_events_7d_any"], r["nbr1_events_28d_theft"]) == (4, 3)
