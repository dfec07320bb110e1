"""Reasons from SHAP contributions: additivity, the points rule, the feature named and its
value, the city-median comparison, number formatting, both languages, speed."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from features.base import FeatureInfo
from features.build import build_features
from features.issue_times import daily_issue_times
from models.explain import (
    AdditivityError,
    check_additivity,
    compare_to_median,
    explain,
    explain_targets,
    format_value,
    reason_lists,
    reasons_from_contributions,
)
from models.forecaster import LightGBMForecaster, MultiTargetForecaster
from risk.synth.city import synthesise
from tests.models.test_forecaster import PLAIN

TZ = "Asia/Shanghai"
FAST = {
    "training": {"num_boost_round": 150, "early_stopping_rounds": 10, "issue_time_stride": 1},
    "lightgbm": {**PLAIN, "num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.3},
}
TOY_INFO = [
    FeatureInfo("x1", "history", "signal x1 is {value}", "信号x1为{value}"),
    FeatureInfo("x2", "neighbourhood", "noise x2 is {value}", "噪声x2为{value}"),
    FeatureInfo("grid_type", "area", "Grid type: {value}", "网格类型：{value}"),
]


def identity(p: np.ndarray) -> np.ndarray:
    return np.asarray(p, dtype=float)


def toy_frame(n_grids: int = 40, n_days: int = 60, seed: int = 0) -> pd.DataFrame:
    """`x1` ~ U(-1, 1) drives the counts: Poisson(2.3) when x1 > 0, Poisson(0.05) otherwise
    (P(>= 1) = 0.90 vs 0.049); `x2` is noise."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-01-01 08:00", periods=n_days, freq="D", tz=TZ)
    n = n_grids * n_days
    x1 = rng.uniform(-1, 1, n).astype(np.float32)
    count = rng.poisson(np.where(x1 > 0, 2.3, 0.05)).astype(np.int32)
    types = np.array(["old_residential", "commercial"])[np.arange(n_grids) % 2]
    return pd.DataFrame(
        {
            "grid_id": np.tile([f"g{i}" for i in range(n_grids)], n_days),
            "issue_time": times.repeat(n_grids),
            "x1": x1,
            "x2": rng.normal(size=n).astype(np.float32),
            "grid_type": pd.Categorical(np.tile(types, n_days)),
            "count_any": count,
            "label_any": (count >= 1).astype(np.int8),
            "count_theft": (count // 2).astype(np.int32),
            "label_theft": (count >= 2).astype(np.int8),
        }
    )


def hand_frame(columns: dict[str, list], times: list[str] | None = None) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    issue = pd.DatetimeIndex(times or ["2025-03-01 08:00"] * n).tz_localize(TZ)
    return pd.DataFrame({"grid_id": [f"g{i}" for i in range(n)], "issue_time": issue, **columns})


@pytest.fixture(scope="module")
def toy_model() -> LightGBMForecaster:
    return LightGBMForecaster(config=FAST).fit(toy_frame())


@pytest.fixture(scope="module")
def city():
    """60 grids, 137 daily issue times, a fitted `any` model."""
    c = synthesise(60, 200, seed=1)
    ff = build_features(c.grids, c.events, daily_issue_times("2024-03-01", "2024-07-15"))
    model = LightGBMForecaster(config=FAST, target="any").fit(ff.frame)
    return ff, model


# ----------------------------------------------------------------------------- additivity


def test_additivity_holds_on_the_toy_model(toy_model):
    frame = toy_frame(n_grids=10, n_days=5, seed=3)
    error = check_additivity(toy_model, frame)
    assert 0.0 <= error <= 1e-9


def test_additivity_holds_for_every_grid_of_the_synthetic_city(city):
    ff, model = city
    assert check_additivity(model, ff.frame) <= 1e-9


class _SkewedModel:
    """Contributions 0.5 - 0.2 + base 1.0 = 1.3, raw score 1.301: off by 0.001."""

    target = "any"

    def contributions(self, frame):
        return np.array([[0.5, -0.2, 1.0]])

    def decision_function(self, frame):
        return np.array([1.301])


def test_check_additivity_raises_when_the_sum_misses_the_raw_score():
    with pytest.raises(AdditivityError, match="0.001"):
        check_additivity(_SkewedModel(), pd.DataFrame({"x": [0.0]}))
    assert check_additivity(_SkewedModel(), pd.DataFrame({"x": [0.0]}), atol=0.01) == (
        pytest.approx(0.001)
    )


# ----------------------------------------------------------------------------- the points rule


def test_points_of_all_families_add_up_to_the_change_in_calibrated_probability(city):
    ff, model = city
    frame = ff.frame[ff.frame["issue_time"] == ff.frame["issue_time"].max()]
    table = explain(model, frame, ff.info, top=10, min_points=0.0)
    # every row keeps all 7 families
    assert table.groupby("row").size().eq(7).all() and table["row"].nunique() == len(frame)
    per_row = table.groupby("row").agg(points=("points", "sum"), prob=("prob", "first"))
    base = model.contributions(frame.iloc[:1])[0, -1]
    p0 = model.calibrator_.transform(np.array([expit(base)]))[0]
    p = model.predict_proba(frame)[per_row.index]
    np.testing.assert_allclose(per_row["prob"], p, atol=1e-12)
    np.testing.assert_allclose(per_row["points"], 100 * (p - p0), atol=1e-9)
    assert table["base_prob"].eq(p0).all()


def test_top_and_min_points_choose_and_rank_families_by_absolute_points():
    # identity calibration, base 0 -> p0 = 0.5; family log-odds 0.4, -0.2, 0.004, 0.1
    # total 0.304, p = expit(0.304) = 1 / (1 + 0.737861) = 0.575420
    # rate = 0.075420 / 0.304 = 0.248092 -> points 9.9237, -4.9618, 0.0992, 2.4809
    info = [
        FeatureInfo("a", "history", "a {value}", "a {value}"),
        FeatureInfo("b", "time", "b {value}", "b {value}"),
        FeatureInfo("c", "calendar", "c {value}", "c {value}"),
        FeatureInfo("d", "area", "d {value}", "d {value}"),
    ]
    frame = hand_frame({"a": [1.0], "b": [2.0], "c": [3.0], "d": [4.0]})
    contrib = np.array([[0.4, -0.2, 0.004, 0.1, 0.0]])
    table = reasons_from_contributions(contrib, frame, list("abcd"), info, identity, "any")
    assert table["family"].tolist() == ["history", "time", "area"]
    assert table["rank"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(table["points"], [9.9237, -4.9618, 2.4809], atol=1e-4)
    assert table["prob"].iloc[0] == pytest.approx(0.575420, abs=1e-6)
    fewer = reasons_from_contributions(
        contrib, frame, list("abcd"), info, identity, "any", top=3, min_points=3.0
    )
    assert fewer["feature"].tolist() == ["a", "b"]


def test_the_feature_named_is_the_one_pushing_hardest_in_the_familys_direction():
    # family history = x +0.3, y -0.5: net -0.2, so y (the strongest push down) is named;
    # second row x +0.5, y -0.3: net +0.2, so x is named
    info = [
        FeatureInfo("x", "history", "x is {value}", "x为{value}"),
        FeatureInfo("y", "history", "y is {value}", "y为{value}"),
    ]
    frame = hand_frame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    contrib = np.array([[0.3, -0.5, 0.0], [0.5, -0.3, 0.0]])
    table = reasons_from_contributions(contrib, frame, ["x", "y"], info, identity, "any")
    assert table["feature"].tolist() == ["y", "x"]
    assert table["value"].tolist() == [3.0, 2.0]


# ----------------------------------------------------------------------------- texts


def test_top_reason_names_the_driving_feature_with_its_actual_value(toy_model):
    frame = toy_frame(n_grids=4, n_days=1, seed=5)
    frame.loc[0, "x1"] = np.float32(0.9)
    table = explain(toy_model, frame, TOY_INFO)
    first = table[(table["row"] == 0) & (table["rank"] == 1)].iloc[0]
    assert first["feature"] == "x1" and first["family"] == "history"
    assert first["value_text"] == "0.90"
    assert first["text_en"].startswith("signal x1 is 0.90: +")
    assert first["text_zh"].startswith("信号x1为0.90：+")
    # x1 > 0 lifts P(>= 1) from about the base rate (~0.45) to about 0.9
    assert first["points"] > 20


def test_texts_are_filled_in_both_languages(city):
    ff, model = city
    frame = ff.frame[ff.frame["issue_time"] == ff.frame["issue_time"].max()]
    table = explain(model, frame, ff.info)
    assert len(table) > 0
    assert not table["text_en"].str.contains("{value}", regex=False).any()
    assert not table["text_zh"].str.contains("{value}", regex=False).any()
    assert table["text_en"].str.contains(" pts").all()
    assert table["text_zh"].str.contains("个百分点").all()
    # reasons name real feature values of the frame
    for r in table.head(20).itertuples():
        actual = frame[r.feature].iloc[r.row]
        if not isinstance(frame[r.feature].dtype, pd.CategoricalDtype):
            assert np.float32(r.value) == actual or (np.isnan(r.value) and np.isnan(actual))


def test_a_missing_value_renders_as_a_dash():
    # base 0 (p0 = 0.5), the NaN feature carries log-odds 1: p = expit(1) = 0.731059,
    # points = 100 * 0.231059 = +23
    info = [
        FeatureInfo(
            "days_since_last_theft",
            "history",
            "{value} days since the last theft",
            "距上次盗窃{value}天",
        )
    ]
    frame = hand_frame({"days_since_last_theft": [np.nan]})
    contrib = np.array([[1.0, 0.0]])
    table = reasons_from_contributions(
        contrib, frame, ["days_since_last_theft"], info, identity, "any"
    )
    assert table["text_en"].tolist() == ["— days since the last theft: +23 pts"]
    assert table["text_zh"].tolist() == ["距上次盗窃—天：+23个百分点"]
    assert table["points"].iloc[0] == pytest.approx(23.1059, abs=1e-4)


THEFT_28D = FeatureInfo(
    "events_28d_theft",
    "history",
    "{value} theft events in the last 28 days",
    "近28天盗窃事件{value}起",
)


def test_a_count_is_compared_with_the_city_median_at_its_issue_time():
    # 2025-03-01: counts 9, 3, 3, 1, 5 -> median 3, 9 / 3 = 3x
    # 2025-03-02: counts 4, 2, 2, 2, 0 -> median 2, 4 / 2 = 2x
    # log-odds logit(0.62) = 0.489548 over base 0: p 0.62 - p0 0.5 -> +12 pts
    times = ["2025-03-01 08:00"] * 5 + ["2025-03-02 08:00"] * 5
    frame = hand_frame({"events_28d_theft": [9, 3, 3, 1, 5, 4, 2, 2, 2, 0]}, times)
    frame["events_28d_theft"] = frame["events_28d_theft"].astype(np.float32)
    contrib = np.zeros((10, 2))
    contrib[[0, 5], 0] = np.log(0.62 / 0.38)
    table = reasons_from_contributions(
        contrib, frame, ["events_28d_theft"], [THEFT_28D], identity, "theft"
    )
    assert table["row"].tolist() == [0, 5]
    assert table["median"].tolist() == [3.0, 2.0]
    assert table["text_en"].tolist() == [
        "9 theft events in the last 28 days, 3× the city median: +12 pts",
        "4 theft events in the last 28 days, 2× the city median: +12 pts",
    ]
    assert table["text_zh"].iloc[0] == "近28天盗窃事件9起，为全市中位数的3倍：+12个百分点"


def test_a_zero_median_says_above_or_below():
    # counts 2, 0, 0, 0, 0 -> median 0; row 0 is above it (log-odds 0.2 over base 0:
    # p = expit(0.2) = 0.549834 -> +5.0 pts)
    frame = hand_frame({"events_28d_theft": [2.0, 0.0, 0.0, 0.0, 0.0]})
    contrib = np.zeros((5, 2))
    contrib[0, 0] = 0.2
    table = reasons_from_contributions(
        contrib, frame, ["events_28d_theft"], [THEFT_28D], identity, "theft"
    )
    assert table["text_en"].tolist() == [
        "2 theft events in the last 28 days, above the city median: +5.0 pts"
    ]
    assert table["text_zh"].tolist() == ["近28天盗窃事件2起，高于全市中位数：+5.0个百分点"]


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (9.0, "count", "9"),
        (0.5, "share", "0.50"),
        (0.0, "share", "0.00"),
        (float("nan"), "rate", "—"),
        (0.005094, "rate", "0.0051"),
        (8.16, "rate", "8.16"),
        (55.7427, "other", "55.7"),
        (11363.64, "rate", "11364"),
        (8.0, "other", "8"),
        ("commercial", "other", "commercial"),
    ],
)
def test_format_value(value, kind, text):
    assert format_value(value, kind) == text


def test_a_feature_without_info_is_labelled_by_name_in_family_other():
    frame = hand_frame({"mystery": [0.25]})
    table = reasons_from_contributions(
        np.array([[1.0, 0.0]]), frame, ["mystery"], [], identity, "any"
    )
    assert table["family"].tolist() == ["other"]
    assert table["text_en"].tolist() == ["mystery: 0.25 (+23 pts)"]


# ----------------------------------------------------------------------------- packing, targets


def test_reason_lists_group_reasons_by_grid_time_and_target():
    info = [
        FeatureInfo("a", "history", "a {value}", "a {value}"),
        FeatureInfo("b", "time", "b {value}", "b {value}"),
    ]
    frame = hand_frame({"a": [1.0, np.nan], "b": [2.0, 3.0]})
    contrib = np.array([[0.1, 0.5, 0.0], [0.3, 0.0, 0.0]])
    lists = reason_lists(
        reasons_from_contributions(contrib, frame, ["a", "b"], info, identity, "fire")
    )
    stamp = pd.Timestamp("2025-03-01 08:00", tz=TZ)
    assert list(lists) == [("g0", stamp, "fire"), ("g1", stamp, "fire")]
    assert [r["feature"] for r in lists[("g0", stamp, "fire")]] == ["b", "a"]
    assert [r["rank"] for r in lists[("g0", stamp, "fire")]] == [1, 2]
    only = lists[("g1", stamp, "fire")]
    assert len(only) == 1 and only[0]["value"] is None and only[0]["value_text"] == "—"


def test_explain_targets_covers_every_target():
    model = MultiTargetForecaster(config=FAST).fit(toy_frame(), ["any", "theft"])
    table = explain_targets(model, toy_frame(n_grids=5, n_days=1, seed=9), TOY_INFO)
    assert set(table["target"]) == {"any", "theft"}
    assert table.groupby("target")["row"].nunique().to_dict() == {"any": 5, "theft": 5}


# ----------------------------------------------------------------------------- speed


def test_reasons_for_14k_rows_take_well_under_a_few_seconds(city):
    """2,000 grids x 7 targets: 14,000 rows, 3 reasons each = 42,000 strings."""
    ff, model = city
    names = list(model.feature_names_)
    frame = pd.concat([ff.frame, ff.frame], ignore_index=True).iloc[:14_000]
    rng = np.random.default_rng(0)
    contrib = np.column_stack(
        [rng.normal(0, 0.1, (len(frame), len(names))), np.full(len(frame), -3.0)]
    )
    start = time.perf_counter()
    table = reasons_from_contributions(contrib, frame, names, ff.info, identity, "any", 3, 0.0)
    elapsed = time.perf_counter() - start
    assert len(table) == 42_000
    assert elapsed < 3.0, f"{elapsed:.2f} s"


@pytest.mark.parametrize(
    ("value", "median", "en"),
    [
        (9.0, 3.0, "3× the city median"),  # 9 / 3
        (3.0, 2.0, "1.5× the city median"),  # 3 / 2
        (25.0, 2.0, "12× the city median"),  # 25 / 2 = 12.5, whole from 10 up
        (0.0, 4.0, "below the city median"),  # 0 / 4 = 0: no "0×"
        (0.0, 0.0, "at the city median"),
        (100.0, 1.0, "100× the city median"),
        (2.0, 1.9e-20, "over 100× the city median"),  # a decayed count's near-zero median
        (float("nan"), 3.0, ""),
    ],
)
def test_compare_to_median(value, median, en):
    assert compare_to_median(value, median)[0] == en


def test_contributions_computed_once_serve_both_check_and_explain(toy_model):
    frame = toy_frame(n_grids=6, n_days=1, seed=11)
    contrib = toy_model.contributions(frame)
    assert check_additivity(toy_model, frame, contributions=contrib) <= 1e-9
    shared = explain(toy_model, frame, TOY_INFO, contributions=contrib)
    pd.testing.assert_frame_equal(shared, explain(toy_model, frame, TOY_INFO))
    # prob of each explained row is the model's calibrated probability
    np.testing.assert_allclose(
        shared.groupby("row")["prob"].first(),
        toy_model.predict_proba(frame)[shared["row"].unique()],
        atol=1e-12,
    )
