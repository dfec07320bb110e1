"""Forecast runs: stored all or nothing, read back ranked and filtered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from risk.errors import ContractError
from risk.scopes import Scope
from serve.db import transaction
from serve.repo.grids import load_grids, upsert_grids
from serve.repo.runs import RunInfo, latest_run, run_forecasts, store_run
from serve.tables import ForecastRow, ForecastRunRow

T0 = datetime(2024, 5, 1, tzinfo=UTC)
REASON = {"family": "history", "delta_pts": 12.0}


def run_info(run_id="r1", issue=T0):
    return RunInfo(run_id, issue, "m1", "sha256:abc", issue + timedelta(minutes=1))


def forecasts():
    # g1..g3 × any/theft; levels picked so the ranking is red > orange > yellow > blue.
    return pd.DataFrame(
        {
            "grid_id": ["g1", "g1", "g2", "g2", "g3", "g3"],
            "target": ["any", "theft"] * 3,
            "prob": [0.10, 0.05, 0.60, 0.30, 0.40, 0.35],
            "expected_count": [0.1, np.nan, 0.9, 0.4, 0.5, 0.45],
            "level": ["blue", "blue", "red", "orange", "orange", "yellow"],
            "reasons": [[REASON]] * 6,
        }
    )


def counts(factory):
    with factory() as s:
        return (
            s.scalar(select(func.count()).select_from(ForecastRunRow)),
            s.scalar(select(func.count()).select_from(ForecastRow)),
        )


def test_a_run_is_stored_with_every_forecast_and_its_grid_count(factory):
    with transaction(factory) as s:
        stored = store_run(s, run_info(), forecasts())
    with factory() as s:
        frame, total = run_forecasts(s, "r1")
    assert (stored.n_grids, total) == (3, 6)
    assert list(zip(frame["grid_id"], frame["target"], strict=True)) == [
        ("g2", "any"),  # red
        ("g3", "any"),  # orange 0.40
        ("g2", "theft"),  # orange 0.30
        ("g3", "theft"),  # yellow
        ("g1", "any"),  # blue 0.10
        ("g1", "theft"),  # blue 0.05
    ]
    assert np.isnan(frame["expected_count"].iloc[5])
    assert frame["reasons"].iloc[0] == [REASON]


def test_a_failure_mid_way_leaves_nothing_even_if_the_caller_commits(factory):
    bad = pd.concat([forecasts(), forecasts().iloc[[3]]])  # (g2, theft) twice
    with transaction(factory) as s, pytest.raises(IntegrityError):
        store_run(s, run_info(), bad)
    assert counts(factory) == (0, 0)


def test_a_forecast_frame_without_levels_is_refused_naming_the_column(factory):
    with pytest.raises(ContractError, match="'level'"), transaction(factory) as s:
        store_run(s, run_info(), forecasts().drop(columns="level"))
    assert counts(factory) == (0, 0)


def test_a_probability_above_one_is_refused(factory):
    frame = forecasts()
    frame.loc[2, "prob"] = 1.5
    with pytest.raises(ContractError, match="1.5"), transaction(factory) as s:
        store_run(s, run_info(), frame)


def test_latest_run_is_the_latest_issue_time(factory):
    with transaction(factory) as s:
        store_run(s, run_info("r-new", T0 + timedelta(days=1)), forecasts())
        store_run(s, run_info("r-old", T0), forecasts())
    with factory() as s:
        assert latest_run(s).run_id == "r-new"
        assert latest_run(s, status="failed") is None


def test_run_forecasts_filters_by_target_level_and_scope(factory):
    grids = pd.DataFrame(
        {"grid_id": ["g1", "g2", "g3"], "community_id": "c1", "street_id": ["s1", "s1", "s2"]}
    )
    with transaction(factory) as s:
        upsert_grids(s, grids)
        store_run(s, run_info(), forecasts())
    with factory() as s:
        theft, n_theft = run_forecasts(s, "r1", target="theft", limit=2)
        s1_high, _ = run_forecasts(s, "r1", scope=Scope.of("street", ["s1"]), level="orange")
        g3, _ = run_forecasts(s, "r1", grid_ids=["g3"])
    assert (list(theft["grid_id"]), n_theft) == (["g2", "g3"], 3)
    assert list(zip(s1_high["grid_id"], s1_high["target"], strict=True)) == [("g2", "theft")]
    assert list(g3["target"]) == ["any", "theft"]


def test_grids_are_replaced_by_id_and_keep_their_geometry_as_geojson(factory):
    from shapely.geometry import box

    first = pd.DataFrame(
        {"grid_id": ["g1"], "community_id": ["c1"], "street_id": ["s1"], "geometry": [None]}
    )
    again = first.assign(community_id="c2", geometry=[box(0, 0, 1, 1)])
    with transaction(factory) as s:
        upsert_grids(s, first)
        upsert_grids(s, again)
    with factory() as s:
        back = load_grids(s)
    assert list(back["community_id"]) == ["c2"]
    assert back["geometry"].iloc[0].startswith('{"type":"Polygon"')


def test_rounded_probabilities_rank_by_expected_count(factory):
    """Three red grids at probability 1 - 1e-6 (ADR 024): grid order would put g1 first; the
    expected count puts g3 (40) before g2 (15) before g1 (no count stored)."""
    frame = pd.DataFrame(
        {
            "grid_id": ["g1", "g2", "g3"],
            "target": ["any"] * 3,
            "prob": [1 - 1e-6] * 3,
            "expected_count": [np.nan, 15.0, 40.0],
            "level": ["red"] * 3,
            "reasons": [[REASON]] * 3,
        }
    )
    grids = pd.DataFrame({"grid_id": ["g1", "g2", "g3"], "community_id": "c1", "street_id": "s1"})
    with transaction(factory) as s:
        upsert_grids(s, grids)
        store_run(s, run_info(), frame)
    with factory() as s:
        ranked, _ = run_forecasts(s, "r1")
    assert list(ranked["grid_id"]) == ["g3", "g2", "g1"]
