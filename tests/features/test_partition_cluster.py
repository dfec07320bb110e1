"""Features per partition on a 2-worker LocalCluster equal the single-process frame (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from features.base import FeatureSpec
from features.build import build_features
from features.issue_times import daily_issue_times
from features.partition import (
    build_partitioned,
    hilbert_index,
    partition_inputs,
    plan_partitions,
)
from risk.synth import synthesise
from tests.features.tiny_city import lattice_grids

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def city():
    return synthesise(400, 120, seed=5)


def test_hilbert_index_of_a_2x2_and_a_4x4_walk():
    # order 1: (0,0) (0,1) (1,1) (1,0) is the curve; order 2 on a 4x4: the first quadrant
    # (0..1, 0..1) is walked first, transposed: (0,0) (1,0) (1,1) (0,1).
    x = np.array([0, 0, 1, 1])
    y = np.array([0, 1, 1, 0])
    assert hilbert_index(x, y, order=1).tolist() == [0, 1, 2, 3]
    x4 = np.array([0, 1, 1, 0, 3])
    y4 = np.array([0, 0, 1, 1, 3])  # (3, 3) stretches the box to the 4x4 of order 2
    assert hilbert_index(x4, y4, order=2).tolist()[:4] == [0, 1, 2, 3]
    # and consecutive cells of the whole 4x4 walk are always edge neighbours
    gx, gy = np.meshgrid(np.arange(4), np.arange(4))
    d = hilbert_index(gx.ravel(), gy.ravel(), order=2)
    walk = np.argsort(d)
    steps = np.abs(np.diff(gx.ravel()[walk])) + np.abs(np.diff(gy.ravel()[walk]))
    assert sorted(d.tolist()) == list(range(16)) and set(steps.tolist()) == {1}


def test_partitions_keep_streets_whole_and_cover_every_grid_once():
    grids = lattice_grids(6)  # 36 cells; streets are rows 0-1, 2-3, 4-5
    r = np.arange(36) // 6
    grids["street_id"] = [f"s{v // 2}" for v in r]
    grids.loc[[0, 35], "street_id"] = "unassigned"  # units of their own
    parts = plan_partitions(grids, 3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(36))
    for rows in parts:
        streets = set(grids["street_id"].iloc[rows]) - {"unassigned"}
        for s in streets:  # every grid of a street sits in one partition
            assert set(np.flatnonzero(grids["street_id"] == s)) <= set(rows.tolist())
    # 3 streets of 12 (less the two unassigned corners): one street and its corner per part
    assert sorted(len(p) for p in parts) == [11, 12, 13]


def test_partition_inputs_hold_core_halo_and_only_their_events(city):
    cores = plan_partitions(city.grids, 4)
    inputs = partition_inputs(city.grids, city.events, cores)
    assert len(inputs) == 4
    for (grids, events, core_ids), core in zip(inputs, cores, strict=True):
        assert core_ids == city.grids["grid_id"].iloc[core].tolist()
        assert set(events["grid_id"]) <= set(grids["grid_id"])
        # every event of a local grid is there
        local = city.events["grid_id"].isin(grids["grid_id"])
        assert len(events) == int(local.sum())
        assert len(grids) > len(core)  # a halo around the core


def test_partitioned_build_equals_the_single_process_frame(city, dask_client):
    times = daily_issue_times("2024-04-01", "2024-04-30", hour=8, tz=TZ)
    spec = FeatureSpec(tz=TZ)
    whole = build_features(city.grids, city.events, times, spec)
    parts = build_partitioned(dask_client, city.grids, city.events, times, spec, n_partitions=4)
    assert parts.frame.shape == whole.frame.shape == (30 * 400, whole.frame.shape[1])
    assert parts.targets == whole.targets
    assert parts.feature_names == whole.feature_names
    assert_frame_equal(parts.frame, whole.frame, check_exact=True)


def test_a_source_absent_from_a_partition_still_gets_its_column(city, dask_client):
    # only one grid ever reports by hotline: the other partitions must build the column too
    events = city.events.copy()
    events["source"] = events["source"].astype(object)
    events.loc[events["source"] == "hotline", "source"] = "resident"
    one = events.index[events["grid_id"] == city.grids["grid_id"].iloc[0]][:3]
    events.loc[one, "source"] = "hotline"
    events["source"] = events["source"].astype(city.events["source"].dtype)
    times = pd.DatetimeIndex([pd.Timestamp("2024-04-20 08:00", tz=TZ)])
    spec = FeatureSpec(tz=TZ, families=("reporting",))
    whole = build_features(city.grids, events, times, spec).frame
    parts = build_partitioned(dask_client, city.grids, events, times, spec, n_partitions=4)
    assert "source_share_28d_hotline" in whole.columns
    assert_frame_equal(parts.frame, whole, check_exact=True)
