"""Population-type features: values as given, per-1,000 rates, absent columns stay absent."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.base import BuildContext, FeatureSpec
from features.population import build
from risk.contract import EVENT_COLUMNS


def context(columns: dict[str, list]) -> BuildContext:
    frame = pd.DataFrame({"grid_id": ["g0", "g1", "g2", "g3"], **columns})
    events = pd.DataFrame(columns=list(EVENT_COLUMNS))
    issue_times = pd.DatetimeIndex(["2026-02-13 08:00"]).tz_localize("Asia/Shanghai")
    return BuildContext(frame, events, issue_times, ("any",), FeatureSpec())


FULL = {
    "population": [2000, 0, None, 400],
    "households": [800, 0, 100, 0],
    "elderly_alone": [30, 0, 5, 2],
    "special_care": [5, 1, 2, 0],
    "elderly_share": [0.25, None, 0.1, 0.0],
    "floating_share": [0.3, 0.0, 0.2, 0.5],
    "rental_share": [0.4, 0.0, None, 0.6],
}


def test_rates_per_1000_residents():
    # g0: 30 / 2000 * 1000 = 15, 5 / 2000 * 1000 = 2.5; g1: population 0 -> NaN;
    # g2: population missing -> NaN; g3: 2 / 400 * 1000 = 5, 0 / 400 * 1000 = 0.
    block = build(context(FULL))
    np.testing.assert_array_equal(
        block.columns["elderly_alone_per_1000"], [[15, np.nan, np.nan, 5]]
    )
    np.testing.assert_array_equal(
        block.columns["special_care_per_1000"], [[2.5, np.nan, np.nan, 0]]
    )


def test_persons_per_household():
    # 2000 / 800 = 2.5; households 0 -> NaN; population missing -> NaN; households 0 -> NaN.
    block = build(context(FULL))
    np.testing.assert_array_equal(
        block.columns["persons_per_household"], [[2.5, np.nan, np.nan, np.nan]]
    )


def test_values_as_given_keep_missing_as_nan():
    block = build(context(FULL))
    np.testing.assert_array_equal(block.columns["population"], [[2000, 0, np.nan, 400]])
    np.testing.assert_array_equal(
        block.columns["elderly_share"], np.array([[0.25, np.nan, 0.1, 0.0]], np.float32)
    )
    assert all(v.shape == (1, 4) and v.dtype == np.float32 for v in block.columns.values())


def test_every_feature_when_every_column_is_present():
    block = build(context(FULL))
    assert list(block.columns) == [
        "population",
        "households",
        "elderly_share",
        "floating_share",
        "rental_share",
        "elderly_alone_per_1000",
        "special_care_per_1000",
        "persons_per_household",
    ]
    assert {info.family for info in block.info} == {"population"}


def test_absent_columns_give_absent_features_not_zeros():
    # Only population and elderly_alone: no households, shares, special care or ratios of them.
    block = build(context({"population": [1000, 0, 500, 10], "elderly_alone": [4, 0, 1, 0]}))
    assert list(block.columns) == ["population", "elderly_alone_per_1000"]
    # 4 / 1000 * 1000 = 4; 0 residents -> NaN; 1 / 500 * 1000 = 2; 0 / 10 * 1000 = 0.
    np.testing.assert_array_equal(block.columns["elderly_alone_per_1000"], [[4, np.nan, 2, 0]])


def test_count_without_population_gives_no_rate():
    block = build(context({"special_care": [1, 2, 3, 4]}))
    assert block.columns == {}


def test_nullable_integer_columns_read_missing_as_nan():
    frame = {
        "population": pd.array([1000, None, 200, 0], dtype="Int64"),
        "special_care": pd.array([3, 1, None, 0], dtype="Int64"),
    }
    block = build(context(frame))
    # 3 / 1000 * 1000 = 3; population missing -> NaN; count missing -> NaN; 0 residents -> NaN.
    np.testing.assert_array_equal(
        block.columns["special_care_per_1000"], [[3, np.nan, np.nan, np.nan]]
    )
