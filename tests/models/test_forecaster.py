"""The LightGBM forecaster: contract, the leak-free time split, down-sampling, calibrated
output on an obvious signal, SHAP additivity, and the multi-target wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.forecaster import (
    LightGBMForecaster,
    MultiTargetForecaster,
    feature_columns,
    issue_ns,
    negative_sample,
    time_split,
)
from risk.errors import ConfigError, ContractError, NotFitted

TZ = "Asia/Shanghai"
DAY_NS = 86_400 * 10**9
# Few, small trees: the tests check behaviour, not accuracy. The toy frames have no classic
# components, so the binary objective with its log loss and every issue time, as the plain
# forecaster of docs/adr/004 (the stacked one is tested on a synthetic city below).
PLAIN = {
    "objective": "binary",
    "metric": "binary_logloss",
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l2": 1.0,
}
FAST = {
    "training": {
        "num_boost_round": 150,
        "early_stopping_rounds": 10,
        "count_model": True,
        "issue_time_stride": 1,
    },
    "lightgbm": {**PLAIN, "num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.3},
}


def toy_frame(
    n_grids: int = 40, n_days: int = 60, seed: int = 0, low: float = 0.05
) -> pd.DataFrame:
    """One signal feature `x1` ~ U(-1, 1): counts ~ Poisson(2.3) when x1 > 0, Poisson(`low`)
    otherwise, so P(>= 1) = 1 - e^-2.3 = 0.90 and 1 - e^-0.05 = 0.049. `x2` is noise."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-01-01 08:00", periods=n_days, freq="D", tz=TZ)
    n = n_grids * n_days
    x1 = rng.uniform(-1, 1, n).astype(np.float32)
    count = rng.poisson(np.where(x1 > 0, 2.3, low)).astype(np.int32)
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


@pytest.fixture(scope="module")
def fitted() -> LightGBMForecaster:
    return LightGBMForecaster(config=FAST).fit(toy_frame())


# ----------------------------------------------------------------------------- contract


def test_constructor_stores_arguments_unchanged():
    model = LightGBMForecaster(config=FAST, target="theft", feature_names=["x1"])
    assert model.get_params() == {
        "config": FAST,
        "target": "theft",
        "feature_names": ["x1"],
        "horizon_hours": 72,
    }


@pytest.mark.parametrize("method", ["predict_proba", "predict_count", "contributions"])
def test_predict_before_fit_raises_not_fitted(method):
    with pytest.raises(NotFitted, match="fit"):
        getattr(LightGBMForecaster(), method)(toy_frame(n_grids=2, n_days=2))


def test_multi_target_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFitted):
        MultiTargetForecaster().predict(toy_frame(n_grids=2, n_days=2))


def test_features_default_to_every_non_key_non_label_column(fitted):
    assert feature_columns(toy_frame(2, 2)) == ["x1", "x2", "grid_type"]
    assert fitted.feature_names_ == ["x1", "x2", "grid_type"]
    assert fitted.booster_.feature_name() == ["x1", "x2", "grid_type"]


def test_explicit_feature_names_are_used():
    model = LightGBMForecaster(config=FAST, feature_names=["x1"]).fit(toy_frame())
    assert model.booster_.feature_name() == ["x1"]
    assert model.contributions(toy_frame(3, 2)).shape == (6, 2)  # x1 + expected value


def test_missing_feature_at_predict_names_the_column(fitted):
    with pytest.raises(ContractError, match="'x2'"):
        fitted.predict_proba(toy_frame(2, 2).drop(columns="x2"))


def test_missing_label_column_names_it():
    with pytest.raises(ContractError, match="label_fire"):
        LightGBMForecaster(config=FAST, target="fire").fit(toy_frame(4, 20))


def test_target_without_training_events_is_a_config_error():
    frame = toy_frame(4, 20).assign(count_any=0, label_any=0)
    with pytest.raises(ConfigError, match="target 'any' has no event in the 48 training rows"):
        # 20 days: validation opens at d14, training keeps d0..d11 = 12 days × 4 grids = 48
        LightGBMForecaster(config=FAST).fit(frame)


def test_naive_issue_times_are_refused():
    frame = toy_frame(2, 20)
    frame["issue_time"] = frame["issue_time"].dt.tz_localize(None)
    with pytest.raises(ContractError, match="timezone-aware"):
        LightGBMForecaster(config=FAST).fit(frame)


# ----------------------------------------------------------------------------- the time split


def test_time_split_on_twenty_daily_issue_times():
    # 20 days d0..d19, 2 rows each. ceil(0.15 · 20) = 3 validation and 3 calibration times:
    # validation opens at d14, calibration at d17. Training keeps t + 3 d <= d14 -> d0..d11;
    # validation keeps d14 <= t and t + 3 d <= d17 -> d14 only; calibration d17..d19;
    # d12, d13, d15, d16 are dropped (their windows reach into the next slice).
    days = np.repeat(np.arange(20), 2) * DAY_NS
    split = time_split(days, 72, 0.15, 0.15, 2)
    day_of = days // DAY_NS
    assert sorted(set(day_of[split.train])) == list(range(12))
    assert sorted(set(day_of[split.valid])) == [14]
    assert sorted(set(day_of[split.calib])) == [17, 18, 19]
    assert split.valid_start_ns == 14 * DAY_NS and split.calib_start_ns == 17 * DAY_NS
    assert split.summary()["dropped_rows"] == 8  # 4 days × 2 rows


def test_time_split_no_training_window_reaches_the_validation_period():
    # Daily times d0..d19 (in hours 0, 24, ..., 456) plus two irregular ones at 230 h, 235 h:
    # 22 distinct, ceil(0.15 · 22) = 4 validation and 4 calibration times. Sorted, index 14
    # is d12 (288 h) and index 18 is d16 (384 h). Training keeps t + 72 <= 288 -> t <= 216:
    # d0..d9; 230 h and 235 h are dropped (their windows end at 302 h and 307 h > 288 h).
    # Validation keeps 288 <= t <= 384 - 72 = 312: d12, d13.
    hours = np.concatenate([np.arange(20) * 24, [230, 235]])
    h_ns = 3_600 * 10**9
    split = time_split(hours * h_ns, 72, 0.15, 0.15, 2)
    assert split.valid_start_ns == 288 * h_ns and split.calib_start_ns == 384 * h_ns
    assert sorted(hours[split.train]) == list(range(0, 217, 24))
    assert sorted(hours[split.valid]) == [288, 312]
    assert ((hours[split.train] + 72) * h_ns).max() <= split.valid_start_ns
    assert ((hours[split.valid] + 72) * h_ns).max() <= split.calib_start_ns


def test_time_split_without_calibration_keeps_every_later_row_for_validation():
    # 10 days, ceil(0.15 · 10) = 2 validation times -> validation d8, d9; train t <= d5.
    days = np.arange(10) * DAY_NS
    split = time_split(days, 72, 0.15, 0.0, 2)
    assert split.calib_start_ns is None and not split.calib.any()
    assert list(np.flatnonzero(split.train)) == [0, 1, 2, 3, 4, 5]
    assert list(np.flatnonzero(split.valid)) == [8, 9]


def test_time_split_too_few_issue_times_is_a_config_error():
    # 4 days: 2 validation + 2 calibration (the minimum) leave nothing to train on.
    with pytest.raises(ConfigError, match="too few"):
        time_split(np.arange(4) * DAY_NS, 72, 0.15, 0.15, 2)


def test_fit_records_the_split(fitted):
    # 60 days × 40 grids: ceil(0.15 · 60) = 9 validation (d42..d50) and 9 calibration
    # (d51..d59) times; training t + 3 d <= d42 -> d0..d39 = 40 days = 1,600 rows;
    # validation t + 3 d <= d51 -> d42..d48 = 7 days = 280 rows; calibration 9 days = 360
    # rows; dropped d40, d41, d49, d50 = 4 days = 160 rows.
    assert fitted.split_["train_rows"] == 1_600
    assert fitted.split_["valid_rows"] == 280
    assert fitted.split_["calib_rows"] == 360
    assert fitted.split_["dropped_rows"] == 160
    assert fitted.split_["valid_start"] == "2025-02-12T00:00:00+00:00"  # d42 08:00 +08:00


# ----------------------------------------------------------------------------- sampling


def test_negative_sample_keeps_positives_and_reweights_negatives():
    label = np.r_[np.ones(100), np.zeros(20_000)]
    keep, weight = negative_sample(label, 0.25, seed=7)
    again, _ = negative_sample(label, 0.25, seed=7)
    np.testing.assert_array_equal(keep, again)  # deterministic by seed
    assert set(range(100)) <= set(keep)  # every positive kept, weight 1
    np.testing.assert_array_equal(weight[label[keep] == 1], 1.0)
    np.testing.assert_array_equal(weight[label[keep] == 0], 4.0)  # 1 / 0.25
    # about 5,000 negatives kept; their weights add back to about 20,000 (binomial sd 61 × 4)
    assert weight[label[keep] == 0].sum() == pytest.approx(20_000, rel=0.04)


def test_down_sampling_weight_correction_keeps_mean_probability_at_base_rate():
    # Base rate of the toy frame: 0.5 · 0.90 + 0.5 · (1 - e^-0.01) ≈ 0.455 with low = 0.01.
    # Keeping 1 in 5 negatives without weights would fit 0.455 / (0.455 + 0.545 · 0.2) ≈ 0.81.
    frame = toy_frame(n_grids=60, n_days=60, seed=5, low=0.01)
    config = {**FAST, "sampling": {"negative_sample_rate": 0.2, "min_rows": 0}}
    config["calibration"] = {"methods": ["identity"]}
    model = LightGBMForecaster(config=config).fit(frame)
    assert model.negative_sampled_
    assert model.split_["sampled_train_rows"] < model.split_["train_rows"]
    base = frame["label_any"].mean()
    assert model.predict_proba(frame).mean() == pytest.approx(base, abs=0.02)


def test_no_down_sampling_below_min_rows(fitted):
    # The packaged min_rows (500,000) is far above the 1,600 training rows.
    assert not fitted.negative_sampled_
    assert fitted.split_["sampled_train_rows"] == fitted.split_["train_rows"]


# ----------------------------------------------------------------------------- predictions


def test_obvious_signal_gives_high_auc_and_probabilities(fitted):
    # Ranking only by x1 > 0 gives AUC ≈ 0.93: positives 0.45 (high) + 0.024 (low),
    # negatives 0.05 (high) + 0.476 (low): P(pos high, neg low) + ½ P(same group)
    # = .949 · .905 + ½ (.949 · .095 + .051 · .905) ≈ 0.926.
    test = toy_frame(seed=1)
    prob = fitted.predict_proba(test)
    assert prob.shape == (len(test),)
    assert ((prob > 0) & (prob < 1)).all()
    assert roc_auc_score(test["label_any"], prob) > 0.88
    # calibrated: high group ≈ 0.90, low group ≈ 0.05
    high = test["x1"].to_numpy() > 0
    assert prob[high].mean() == pytest.approx(0.90, abs=0.06)
    assert prob[~high].mean() == pytest.approx(0.05, abs=0.04)


def test_expected_count_follows_the_poisson_rates(fitted):
    # E[count] = 2.3 when x1 > 0 and 0.05 otherwise.
    test = toy_frame(seed=2)
    count = fitted.predict_count(test)
    high = test["x1"].to_numpy() > 0
    assert count[high].mean() == pytest.approx(2.3, rel=0.1)
    assert count[~high].mean() == pytest.approx(0.05, abs=0.04)


def test_contributions_add_up_to_the_raw_margin(fitted):
    test = toy_frame(n_grids=10, n_days=5, seed=3)
    contrib = fitted.contributions(test)
    assert contrib.shape == (50, 4)  # x1, x2, grid_type, expected value
    np.testing.assert_allclose(contrib.sum(axis=1), fitted.decision_function(test), atol=1e-9)
    # x1 carries the signal: it moves the margin more than the noise feature
    assert np.abs(contrib[:, 0]).mean() > 5 * np.abs(contrib[:, 1]).mean()


def test_fit_is_deterministic():
    a = LightGBMForecaster(config=FAST).fit(toy_frame()).predict_proba(toy_frame(seed=1))
    b = LightGBMForecaster(config=FAST).fit(toy_frame()).predict_proba(toy_frame(seed=1))
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- multi-target


def test_multi_target_predicts_one_block_per_target(fitted):
    frame = toy_frame()
    multi = MultiTargetForecaster(config=FAST).fit(frame, ["any", "theft"])
    test = toy_frame(n_grids=3, n_days=2, seed=4)
    out = multi.predict(test)
    assert list(out.columns) == ["grid_id", "issue_time", "target", "prob", "count"]
    assert list(out["target"]) == ["any"] * 6 + ["theft"] * 6
    assert list(out["grid_id"][:6]) == list(test["grid_id"])
    np.testing.assert_array_equal(out["prob"][:6], fitted.predict_proba(test))
    assert multi.forecasters_["theft"].target == "theft"


def test_multi_target_defaults_to_every_labelled_target():
    multi = MultiTargetForecaster(config=FAST).fit(toy_frame())
    assert multi.targets_ == ["any", "theft"]


def test_a_target_without_training_events_is_skipped_not_fatal():
    """A category the city has not seen yet gets no model; the others are fitted."""
    frame = toy_frame(4, 20).assign(count_theft=0, label_theft=0)
    multi = MultiTargetForecaster(config=FAST).fit(frame, ["any", "theft"])
    assert multi.targets_ == ["any"] and list(multi.forecasters_) == ["any"]
    # 20 days: validation opens at d14, training keeps d0..d11 = 12 days × 4 grids = 48
    assert multi.skipped_["theft"].startswith("target 'theft' has no event in the 48 training rows")
    assert list(multi.predict(toy_frame(2, 2))["target"].unique()) == ["any"]


def test_no_target_with_a_training_event_is_a_config_error():
    frame = toy_frame(4, 20).assign(count_any=0, label_any=0, count_theft=0, label_theft=0)
    with pytest.raises(ConfigError, match="no target has an event in its 48 training rows"):
        MultiTargetForecaster(config=FAST).fit(frame, ["any", "theft"])


# ----------------------------------------------------------------------------- real frame


def test_fits_a_frame_built_from_a_synthetic_city():
    from features.build import build_features
    from features.issue_times import daily_issue_times
    from risk.synth import synthesise

    city = synthesise(30, 150, seed=2)
    built = build_features(city.grids, city.events, daily_issue_times("2024-02-01", "2024-05-20"))
    model = LightGBMForecaster(config=FAST).fit(built.frame)
    prob = model.predict_proba(built.frame)
    # packaged [stacking] features = "target": its own and the shared families, no other target
    others = [t for t in built.targets if t != "any"]
    assert set(model.feature_names_) < set(built.feature_names)
    assert not [n for n in model.feature_names_ if any(n.endswith(f"_{t}") for t in others)]
    assert {"events_7d_any", "window_share_sat", "population"} <= set(model.feature_names_)
    assert prob.shape == (30 * 110,)  # 110 issue days × 30 grids
    assert ((prob > 0) & (prob < 1)).all()
    assert (model.predict_count(built.frame) >= 0).all()
    assert issue_ns(built.frame).shape == prob.shape


def test_the_busiest_grids_still_rank_where_their_probability_rounds_to_one():
    """Counts ~ Poisson(40) for x1 > 0.5, Poisson(15) for 0 < x1 <= 0.5, Poisson(0.05) else:
    the raw P(>= 1) = 1 - e^-λ is above 1 - EPS for nearly every busy grid, so the calibrated
    probability ties them at one value; the ranking score (unclipped calibrated log-odds)
    keeps them apart, and the expected count does not stop at -log(EPS) = 13.8."""
    frame = toy_frame(n_grids=60, seed=5)
    x1 = frame["x1"].to_numpy()
    rate = np.where(x1 > 0.5, 40.0, np.where(x1 > 0, 15.0, 0.05))
    count = np.random.default_rng(5).poisson(rate).astype(np.int32)
    frame = frame.assign(count_any=count, label_any=(count >= 1).astype(np.int8))
    config = {
        "training": {"num_boost_round": 100, "count_model": False, "issue_time_stride": 1},
        "lightgbm": {**FAST["lightgbm"], "objective": "poisson", "metric": "poisson"},
    }
    model = LightGBMForecaster(config=config).fit(frame)
    prob, score = model.predict_proba_and_score(frame)
    busier, busy = x1 > 0.5, (x1 > 0) & (x1 <= 0.5)
    assert np.unique(prob[busier]).size == 1  # every one of them at the same rounded value
    # pairs (busier, busy) in the right order: by probability about half (ties), by score all
    by_prob = (prob[busier][:, None] > prob[busy][None, :]).mean()
    by_score = (score[busier][:, None] > score[busy][None, :]).mean()
    assert by_prob < 0.2 and by_score > 0.95
    assert score[busy].min() > score[~(busy | busier)].max()
    np.testing.assert_array_equal(score, model.predict_score(frame))
    counts = model.predict_count(frame)
    assert np.median(counts[busier]) > np.median(counts[busy]) > 1
    assert np.median(counts[busier]) > -np.log(1e-6)  # where -log(1 - p) used to stop
