"""Partition equivalence: core + halo builds, glued together, equal the whole-city build."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from features.base import FeatureSpec
from features.build import build_features
from features.halo import halo_grid_ids
from features.issue_times import daily_issue_times
from tests.features.tiny_city import TZ, lattice_grids, make_events


def _city(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    grids = lattice_grids(6)  # 36 cells, row-major from the south-west
    r, c = np.divmod(np.arange(36), 6)
    grids["community_id"] = [f"c{a}{b}" for a, b in zip(r // 2, c // 3, strict=True)]
    grids["street_id"] = [f"s{a}" for a in r // 3]
    grids.loc[[5, 30], "community_id"] = "unassigned"
    rng = np.random.default_rng(seed)
    n = 400
    start = pd.Timestamp("2025-01-01", tz=TZ)
    occurred = start + pd.to_timedelta(rng.uniform(0, 500, n), unit="D")
    delay = pd.to_timedelta(np.where(rng.random(n) < 0.2, rng.uniform(0, 20, n), 0), unit="D")
    rows = [
        (f"e{i}", f"g{g}", cat, o, o + d)
        for i, (g, cat, o, d) in enumerate(
            zip(
                rng.integers(0, 36, n),
                rng.choice(["theft", "fire"], n),
                occurred,
                delay,
                strict=True,
            )
        )
    ]
    events = make_events(rows)
    events["source"] = pd.Series(rng.choice(["patrol", "resident", "sensor"], n), dtype="str")
    return grids, events


def test_two_halves_with_halos_equal_the_whole_city():
    grids, events = _city()
    times = daily_issue_times("2025-12-01", "2026-01-20")
    spec = FeatureSpec()  # every family
    whole = build_features(grids, events, times, spec).frame

    west = grids["grid_id"][grids["centroid_lon"] < 110.03].tolist()  # columns 0-2
    east = grids["grid_id"][grids["centroid_lon"] >= 110.03].tolist()
    parts = []
    for core in (west, east):
        halo = halo_grid_ids(grids, core)
        assert halo, "each half needs neighbours from the other"
        local = grids[grids["grid_id"].isin(core + halo)]
        parts.append(build_features(local, events, times, spec, core_grid_ids=core).frame)

    glued = pd.concat(parts, ignore_index=True)
    order = {g: i for i, g in enumerate(grids["grid_id"])}
    glued = glued.sort_values(
        ["issue_time", "grid_id"], key=lambda s: s.map(order) if s.name == "grid_id" else s
    ).reset_index(drop=True)
    assert glued.shape == whole.shape == (51 * 36, whole.shape[1])
    assert_frame_equal(glued, whole, check_exact=True)
