"""The orchestrator: row order, columns, metadata, reporting shares, reporting delay."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.base import FeatureSpec
from features.build import build_features
from features.halo import halo_grid_ids
from features.issue_times import daily_issue_times
from risk.errors import ContractError
from tests.features.tiny_city import D, T, issue_times, lattice_grids, make_events, row

MINE = ("history", "neighbourhood", "reporting")


def test_daily_issue_times_are_inclusive_city_time():
    times = daily_issue_times("2026-03-08", "2026-03-10")
    assert [str(t) for t in times] == [
        "2026-03-08 08:00:00+08:00",
        "2026-03-09 08:00:00+08:00",
        "2026-03-10 08:00:00+08:00",
    ]


def test_daily_issue_times_keep_wall_clock_across_dst():
    # Chicago springs forward on 2026-03-08: 08:00 local stays 08:00 (UTC offset -6 -> -5)
    times = daily_issue_times("2026-03-07", "2026-03-09", tz="America/Chicago")
    assert [t.hour for t in times] == [8, 8, 8]
    assert (times[2] - times[1]) == pd.Timedelta(hours=24)
    assert (times[1] - times[0]) == pd.Timedelta(hours=23)


def test_rows_are_issue_time_major_in_grid_order():
    spec = FeatureSpec(families=("history",), windows_days=(7,), targets=("any",))
    frame = build_features(lattice_grids(), make_events(), issue_times(), spec).frame
    # 5 issue times x 9 grids
    assert len(frame) == 45
    assert frame["grid_id"].iloc[:10].tolist() == [f"g{i}" for i in range(9)] + ["g0"]
    assert frame["issue_time"].iloc[9] == issue_times()[1]
    assert frame.columns[:2].tolist() == ["grid_id", "issue_time"]
    assert frame.columns[-2:].tolist() == ["count_any", "label_any"]


def test_targets_default_to_any_and_every_category():
    spec = FeatureSpec(families=("history",), windows_days=(7,))
    built = build_features(lattice_grids(), make_events(), issue_times(), spec)
    assert built.targets == ("any", "dispute", "theft")
    assert "events_7d_dispute" in built.frame and "label_theft" in built.frame


def test_describe_lists_every_feature_with_labels():
    spec = FeatureSpec(families=MINE, targets=("any",))
    built = build_features(lattice_grids(), make_events(), issue_times(), spec)
    table = built.describe()
    assert table.columns.tolist() == ["name", "family", "label_en", "label_zh"]
    assert table["name"].tolist() == [c for c in built.frame.columns if c in set(table["name"])]
    assert len(table) == len(built.frame.columns) - 4  # minus grid_id, issue_time, 2 labels
    by_name = table.set_index("name")
    assert by_name.loc["nbr1_events_7d_any", "family"] == "neighbourhood"
    assert by_name.loc["events_28d_any", "label_zh"] == "近28天全部事件{value}起"
    assert set(table["family"]) == set(MINE)


def test_reporting_shares():
    events = make_events()
    # g4's known events in the 28 days before T: e1, e2, e9, e3; make e1 and e2 patrol finds
    events["source"] = events["source"].where(~events["event_id"].isin(["e1", "e2"]), "patrol")
    spec = FeatureSpec(families=("reporting",), targets=("any",))
    frame = build_features(lattice_grids(), events, issue_times(), spec).frame
    g4 = row(frame, "g4")
    # 2 patrol / 4 = 0.5 and 2 resident / 4 = 0.5
    assert (g4["source_share_28d_patrol"], g4["source_share_28d_resident"]) == (0.5, 0.5)
    # g3 has no events: share undefined
    assert math.isnan(row(frame, "g3")["source_share_28d_patrol"])
    # only sources that appear get a column
    assert "source_share_28d_sensor" not in frame


def test_event_reported_late_counts_only_from_its_report():
    # e7 (g8, occurred T - 3 d) is reported at T + 2 h: not counted at T, counted at T + 1 d
    spec = FeatureSpec(families=MINE, targets=("any",))
    frame = build_features(lattice_grids(), make_events(), issue_times(), spec).frame
    at_t, later = row(frame, "g8"), row(frame, "g8", T + D)
    assert (at_t["events_7d_any"], later["events_7d_any"]) == (0, 1)
    assert math.isnan(at_t["days_since_last_any"])
    assert later["days_since_last_any"] == pytest.approx(4.0)  # T + 1 d - (T - 3 d)
    assert at_t["decay_7d_any"] == 0
    assert later["decay_7d_any"] == pytest.approx(0.5 ** (4 / 7), rel=1e-6)
    assert math.isnan(at_t["source_share_28d_resident"])
    assert later["source_share_28d_resident"] == 1


def test_core_subset_keeps_input_order_and_only_core_rows():
    spec = FeatureSpec(families=("history",), windows_days=(7,), targets=("any",))
    built = build_features(
        lattice_grids(), make_events(), issue_times(), spec, core_grid_ids=["g5", "g1"]
    )
    assert built.frame["grid_id"].iloc[:4].tolist() == ["g1", "g5", "g1", "g5"]


def test_unknown_core_grid_is_a_contract_error():
    with pytest.raises(ContractError, match="g99"):
        build_features(lattice_grids(), make_events(), issue_times(), core_grid_ids=["g99"])


def test_halo_of_a_corner():
    # core g0 (cA): ring 1 g1, g3, g4; ring 2 g2, g5, g6, g7, g8; street s1 = everyone
    assert halo_grid_ids(lattice_grids(), ["g0"]) == [f"g{i}" for i in range(1, 9)]


def test_halo_without_shared_street_is_rings_and_community():
    grids = lattice_grids(4)  # 4x4, one community "cA"
    grids["community_id"] = [f"c{i % 2}" for i in range(16)]  # even / odd ids
    grids["street_id"] = [f"s{i}" for i in range(16)]
    # core g0: rings reach g1, g2, g4, g5, g6, g8, g9, g10; community c0 adds g12, g14
    assert halo_grid_ids(grids, ["g0"]) == [
        "g1",
        "g2",
        "g4",
        "g5",
        "g6",
        "g8",
        "g9",
        "g10",
        "g12",
        "g14",
    ]


def test_issue_times_need_not_be_daily_or_aligned():
    # at T - 90 min (06:30), e1 (T - 2 h) is known only if reported by then: it was at T - 1 h
    spec = FeatureSpec(families=("history",), windows_days=(1,), targets=("any",))
    odd = pd.DatetimeIndex([T - pd.Timedelta(minutes=90), T]).as_unit("ns")
    frame = build_features(lattice_grids(), make_events(), odd, spec).frame
    assert row(frame, "g4", odd[0])["events_1d_any"] == 0
    assert row(frame, "g4", T)["events_1d_any"] == 1
    assert np.float32 == frame["events_1d_any"].dtype


def test_a_city_of_one_grid_gets_one_row_per_issue_time():
    """(1, 1) per-grid values (area) are the same at every issue time, not one row (the
    one-grid city used to fail with 'All arrays must be of the same length')."""
    grids = lattice_grids().iloc[[4]].reset_index(drop=True)
    events = make_events()
    frame = build_features(grids, events[events["grid_id"] == "g4"], issue_times()).frame
    assert len(frame) == 5 and set(frame["grid_id"]) == {"g4"}
    assert frame["area_km2"].tolist() == pytest.approx([1.07] * 5)
    # windows (t, t + 72 h]: e1 (T - 2 h) for T - 2 d and T - 1 d; e12 (T + 71 h) from T on;
    # e13 (T + 73 h, a dispute) from T + 1 d on
    assert frame["count_any"].tolist() == [1, 1, 1, 2, 2]
    assert frame["count_theft"].tolist() == [1, 1, 1, 1, 1]
