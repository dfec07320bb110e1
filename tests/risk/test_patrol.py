import numpy as np
import pandas as pd
import pytest

from risk.errors import ConfigError, ContractError, NotInScope
from risk.geometry import EARTH_RADIUS_KM
from risk.patrol import (
    DEFAULT_ACTIONS,
    PatrolOutcome,
    best_hours,
    hour_profiles,
    patrol_exposure,
    plan_patrols,
    record_outcome,
    visiting_order,
    warnings_frame,
)
from risk.review import approve, upsert_from_scoring
from risk.scopes import Scope

TZ = "Asia/Shanghai"


def grids_on_equator(xs_km, ids=None):
    """Grids whose centroids sit on the equator at the given x (km): distances are exact."""
    ids = ids or [f"g{i}" for i in range(len(xs_km))]
    lon = 120.0 + np.degrees(np.asarray(xs_km, dtype=float) / EARTH_RADIUS_KM)
    return pd.DataFrame(
        {
            "grid_id": ids,
            "community_id": "c1",
            "street_id": "s1",
            "centroid_lon": lon,
            "centroid_lat": 0.0,
        }
    )


def warnings(rows):
    return pd.DataFrame(rows, columns=["grid_id", "target", "level", "prob"])


def test_visiting_order_greedy_nearest_neighbour_on_a_line():
    # points at x = 3, 0, 1, 6 km; start at index 0 (x=3): nearest is x=1 (2 km), then x=0
    # (1 km), then x=6 (6 km)
    order, legs = visiting_order(np.array([3.0, 0.0, 1.0, 6.0]), np.zeros(4))
    assert order.tolist() == [0, 2, 1, 3]
    np.testing.assert_allclose(legs, [0.0, 2.0, 1.0, 6.0])


def test_plan_orders_visits_by_distance_from_the_most_severe_grid():
    grids = grids_on_equator([0, 1, 3, 6])  # g0..g3
    w = warnings(
        [
            ("g0", "theft", "orange", 0.30),
            ("g1", "theft", "orange", 0.20),
            ("g2", "theft", "red", 0.10),  # most severe: red beats higher-prob oranges
            ("g3", "theft", "orange", 0.40),
        ]
    )
    plan = plan_patrols(w, grids, {"w1": ["g0", "g1", "g2", "g3"]})
    # start g2 (x=3) → g1 (x=1, 2 km) → g0 (x=0, 1 km) → g3 (x=6, 6 km)
    assert plan["grid_id"].tolist() == ["g2", "g1", "g0", "g3"]
    assert plan["visit_order"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(plan["leg_km"], [0, 2, 1, 6], atol=1e-9)


def test_capacity_keeps_the_most_severe_grids():
    grids = grids_on_equator(range(7))
    levels = ["blue", "red", "yellow", "orange", "red", "orange", "yellow"]
    probs = [0.9, 0.2, 0.8, 0.5, 0.3, 0.6, 0.1]
    w = warnings(
        [(f"g{i}", "any", lv, p) for i, (lv, p) in enumerate(zip(levels, probs, strict=True))]
    )
    plan = plan_patrols(w, grids, {"w1": grids["grid_id"]}, capacity=5)
    # ranked: red g4 (.3), red g1 (.2), orange g5 (.6), orange g3 (.5), yellow g2 (.8) | g6, g0 out
    assert sorted(plan["grid_id"]) == ["g1", "g2", "g3", "g4", "g5"]
    assert plan.iloc[0]["grid_id"] == "g4"
    assert len(plan_patrols(w, grids, {"w1": grids["grid_id"]}, capacity=2)) == 2


def test_each_worker_gets_only_their_own_grids():
    grids = grids_on_equator([0, 1, 2, 3])
    w = warnings(
        [("g0", "theft", "red", 0.5), ("g2", "theft", "red", 0.5), ("g3", "theft", "red", 0.5)]
    )
    plan = plan_patrols(
        w, grids, {"w1": ["g0", "g1"], "w2": Scope.of("grids", ["g2"]), "w3": ["g1"]}
    )
    # g3 has no worker; w3's grid has no warning, so w3 gets no row
    assert plan[["worker_id", "grid_id"]].values.tolist() == [["w1", "g0"], ["w2", "g2"]]


def test_only_approved_warnings_are_used():
    grids = grids_on_equator([0, 1])
    t0 = pd.Timestamp("2024-03-01 08:00", tz=TZ)
    common = dict(
        target="theft",
        window_start=t0,
        window_end=t0 + pd.Timedelta(hours=72),
        prob=0.4,
        level="red",
        reasons=[{"en": "recent thefts"}],
        model_version="v1",
        at=t0,
    )
    pending, _ = upsert_from_scoring(None, grid_id="g0", **common)
    other, _ = upsert_from_scoring(None, grid_id="g1", **common)
    approved, _ = approve(other, "rev", t0 + pd.Timedelta(minutes=5), 1)
    frame = warnings_frame([pending, approved])
    assert frame["grid_id"].tolist() == ["g1"]
    plan = plan_patrols(frame, grids, {"w": ["g0", "g1"]})
    assert plan["grid_id"].tolist() == ["g1"]
    assert plan.iloc[0]["item_ids"] == [approved.item_id]
    assert plan.iloc[0]["reasons"] == [{"target": "theft", "reasons": [{"en": "recent thefts"}]}]
    # a frame with a state column: non-approved rows are left out
    mixed = frame.assign(state=["pending"])
    assert plan_patrols(mixed, grids, {"w": ["g1"]}).empty


def test_time_window_from_the_hour_profile():
    profile = np.zeros(24)
    profile[[19, 20, 21, 22, 23]] = [1, 3, 3, 3, 1]
    start, share = best_hours(profile)
    # best 3 hours: 20,21,22 = 9 of 11
    assert start.tolist() == [20]
    np.testing.assert_allclose(share, [9 / 11])


def test_time_window_wraps_midnight_and_empty_profile_has_none():
    p = np.zeros((2, 24))
    p[0, [23, 0, 1, 12]] = [2, 2, 2, 5]  # 23-02 holds 6 of 11, any window with 12 holds 5
    start, share = best_hours(p, window_hours=3)
    assert start[0] == 23 and start[1] is pd.NA
    np.testing.assert_allclose(share, [6 / 11, np.nan])
    # 4-hour window: 22-02 and 23-03 both hold 6 → earliest start 22 wins
    assert best_hours(p[0], window_hours=4)[0].tolist() == [22]


def test_plan_uses_the_lead_targets_profile_and_lists_actions():
    grids = grids_on_equator([0, 1])
    w = warnings([("g0", "theft", "orange", 0.3), ("g0", "fire_hazard", "red", 0.2)])
    fire = np.zeros((2, 24))
    fire[:, 18:21] = 1.0  # 18-21
    theft = np.zeros((2, 24))
    theft[:, 2:5] = 1.0
    plan = plan_patrols(
        w, grids, {"w": ["g0"]}, hour_profiles={"fire_hazard": fire, "theft": theft}
    )
    [row] = plan.to_dict("records")
    assert (row["target"], row["targets"], row["level"]) == (
        "fire_hazard",
        ["fire_hazard", "theft"],
        "red",
    )
    assert (row["start_hour"], row["end_hour"], row["window"], row["window_share"]) == (
        18,
        21,
        "18:00-21:00",
        1.0,
    )
    fire_en = [en for _, en in DEFAULT_ACTIONS["fire_hazard"]]
    theft_en = [en for _, en in DEFAULT_ACTIONS["theft"]]
    assert row["actions_en"] == fire_en + theft_en
    assert row["actions_zh"][0] == "检查消防通道和疏散楼梯是否畅通"


def test_custom_actions_table_and_missing_profile():
    grids = grids_on_equator([0])
    table = {"theft": (("锁门", "lock doors"),), "any": (("巡查", "patrol"),)}
    w = warnings([("g0", "theft", "red", 0.3), ("g0", "noise", "red", 0.1)])
    [row] = plan_patrols(w, grids, {"w": ["g0"]}, actions_table=table).to_dict("records")
    # "noise" is not in the table → the `any` actions; no profiles → no window
    assert row["actions_en"] == ["lock doors", "patrol"]
    assert pd.isna(row["start_hour"]) and row["window"] is None


def test_unknown_grid_and_bad_capacity_are_refused():
    grids = grids_on_equator([0])
    with pytest.raises(ContractError, match="'gX'"):
        plan_patrols(warnings([("gX", "theft", "red", 0.3)]), grids, {"w": ["g0"]})
    with pytest.raises(ConfigError, match="at least 1"):
        plan_patrols(warnings([]), grids, {"w": ["g0"]}, capacity=0)


def test_hour_profiles_shrink_towards_the_city():
    grids = grids_on_equator([0, 1])
    at = pd.to_datetime(["2024-03-01 20:10", "2024-03-02 20:50", "2024-03-03 08:00"]).tz_localize(
        TZ
    )
    events = pd.DataFrame({"grid_id": "g0", "category": "theft", "occurred_at": at})
    prof = hour_profiles(events, grids, ["theft", "fire_hazard"], smoothing=1.0)
    # city theft profile: 1/3 at 08, 2/3 at 20; g0: (counts + city) / (3 + 1) = same shares
    np.testing.assert_allclose(prof["theft"][0, [8, 20]], [1 / 3, 2 / 3])
    np.testing.assert_allclose(prof["theft"][1, [8, 20]], [1 / 3, 2 / 3])  # g1: the city's
    np.testing.assert_allclose(prof["fire_hazard"], np.full((2, 24), 1 / 24))  # no events: flat


def test_record_outcome_only_for_own_grids_and_exposure():
    at = pd.Timestamp("2024-03-01 21:00", tz=TZ)
    g0, g1 = {"grid_id": "g0"}, {"grid_id": "g1"}
    r1 = record_outcome("w", ["g0"], g0, "found_issue", at, note="blocked stairwell")
    r2 = record_outcome("w", ["g0"], g0, PatrolOutcome.COULD_NOT_VISIT, at + pd.Timedelta(hours=4))
    with pytest.raises(NotInScope, match="'g1'"):
        record_outcome("w", ["g0"], g1, "nothing_found", at)
    with pytest.raises(ConfigError, match="unknown patrol outcome 'lost'"):
        record_outcome("w", ["g0"], g0, "lost", at)
    exposure = patrol_exposure([r1, r2], TZ)
    # 21:00 and 01:00 next day (local) are two dates
    assert exposure[["grid_id", "visits", "issues_found", "could_not_visit"]].values.tolist() == [
        ["g0", 1, 1, 0],
        ["g0", 0, 0, 1],
    ]
