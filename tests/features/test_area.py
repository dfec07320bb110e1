"""Area features: grid type, area, density and attr_* columns, one value per grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.area import build
from features.base import BuildContext, FeatureSpec
from risk.contract import EVENT_COLUMNS, GRID_COLUMNS, GRID_TYPES
from risk.errors import ContractError


def grids(**extra: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "grid_id": ["g0", "g1", "g2"],
            "community_id": ["c0", "c0", "c1"],
            "street_id": ["s0", "s0", "s0"],
            "grid_type": ["old_residential", "port", "commercial"],
            "area_km2": [0.5, 2.0, 0.25],
            "centroid_lon": [110.0, 110.01, 110.02],
            "centroid_lat": [30.0, 30.0, 30.0],
            "geometry": [None, None, None],
        }
    )
    assert tuple(frame.columns) == GRID_COLUMNS
    for name, values in extra.items():
        frame[name] = values
    return frame


def context(frame: pd.DataFrame) -> BuildContext:
    events = pd.DataFrame(columns=list(EVENT_COLUMNS))
    issue_times = pd.DatetimeIndex(["2026-02-13 08:00"]).tz_localize("Asia/Shanghai")
    return BuildContext(frame, events, issue_times, ("any",), FeatureSpec())


def test_grid_type_categories_are_sorted_and_include_every_contract_type():
    grid_type = build(context(grids())).columns["grid_type"]
    assert isinstance(grid_type, pd.Categorical)
    assert list(grid_type.categories) == sorted([*GRID_TYPES, "port"])
    assert list(grid_type) == ["old_residential", "port", "commercial"]


def test_grid_type_codes_do_not_depend_on_which_grids_are_built():
    whole = build(context(grids())).columns["grid_type"]
    part = build(context(grids().iloc[[2]])).columns["grid_type"]
    # "commercial" is code 1 in both: sorted categories start campus, commercial, …
    assert whole.codes[2] == part.codes[0] == 1
    assert list(part.categories) == sorted(GRID_TYPES)


def test_missing_grid_type_stays_missing():
    frame = grids()
    frame["grid_type"] = pd.array(["rural", None, "rural"], dtype="string")
    grid_type = build(context(frame)).columns["grid_type"]
    assert grid_type.codes[1] == -1
    assert grid_type[0] == "rural"


def test_area_and_density_per_grid():
    # density = population / area: 1200 / 0.5 = 2400; missing population -> NaN;
    # 50 / 0.25 = 200.
    block = build(context(grids(population=[1200, None, 50])))
    np.testing.assert_array_equal(block.columns["area_km2"], [[0.5, 2.0, 0.25]])
    density = block.columns["density_per_km2"]
    assert density.shape == (1, 3) and density.dtype == np.float32
    np.testing.assert_array_equal(density, [[2400.0, np.nan, 200.0]])


def test_no_population_means_no_density():
    block = build(context(grids()))
    assert list(block.columns) == ["grid_type", "area_km2"]


def test_attr_columns_pass_through_as_float32():
    block = build(context(grids(attr_shops=[3, 0, 12], attr_old_buildings_share=[0.7, 0.1, None])))
    np.testing.assert_array_equal(block.columns["attr_shops"], [[3.0, 0.0, 12.0]])
    assert block.columns["attr_shops"].dtype == np.float32
    np.testing.assert_array_equal(
        block.columns["attr_old_buildings_share"], np.array([[0.7, 0.1, np.nan]], np.float32)
    )
    labels = {info.name: info for info in block.info}
    assert labels["attr_shops"].label_en == "Area attribute 'shops': {value}"
    assert labels["attr_shops"].family == "area"


def test_non_numeric_attr_column_names_the_field():
    with pytest.raises(ContractError, match="attr_zone"):
        build(context(grids(attr_zone=["a", "b", "c"])))
