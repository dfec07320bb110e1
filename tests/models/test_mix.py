"""`any` mixed with its categories' models (docs/adr/026-any-from-its-categories.md): when it
applies, the mixed count, reasons that still add up, calibration on the mix, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.base import FeatureInfo
from models.calibration import select_calibrator
from models.explain import check_additivity, explain
from models.forecaster import MultiTargetForecaster, issue_ns, thinned_split
from models.persist import load_forecaster, save_forecaster
from models.predict_explain import predict_and_explain

TZ = "Asia/Shanghai"
BASE = {
    "training": {"num_boost_round": 60, "early_stopping_rounds": 10, "issue_time_stride": 1},
    "lightgbm": {
        "metric": "binary_logloss",
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "bagging_freq": 0,
        "lambda_l2": 1.0,
        "num_leaves": 7,
        "min_data_in_leaf": 20,
        "learning_rate": 0.3,
    },
}


def config(objective: str, weight: float = 0.5) -> dict:
    return {
        **BASE,
        "lightgbm": {**BASE["lightgbm"], "objective": objective},
        "stacking": {"any_from_categories": weight},
    }


def city(n_grids: int = 40, n_days: int = 60, seed: int = 0, exact: bool = True) -> pd.DataFrame:
    """Thefts follow `events_28d_theft`, fires `events_28d_fire` (signals, not real counts); `any` is their sum (`exact`) or holds one
    more event on every row. With the default feature selection ("target") `any`'s own trees
    see neither signal, only the shared `x_noise`; its categories' models see their own."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-01-01 08:00", periods=n_days, freq="D", tz=TZ)
    n = n_grids * n_days
    theft_28d = rng.uniform(0, 2, n)
    fire_28d = rng.uniform(0, 2, n)
    theft = rng.poisson(np.where(theft_28d > 1, 1.5, 0.05))
    fire = rng.poisson(np.where(fire_28d > 1, 1.0, 0.05))
    total = theft + fire + (0 if exact else 1)
    return pd.DataFrame(
        {
            "grid_id": np.tile([f"g{i}" for i in range(n_grids)], n_days),
            "issue_time": times.repeat(n_grids),
            "x_noise": rng.normal(size=n),
            "events_28d_theft": theft_28d,
            "events_28d_fire": fire_28d,
            "count_any": total,
            "label_any": (total >= 1).astype(np.int8),
            "count_theft": theft,
            "label_theft": (theft >= 1).astype(np.int8),
            "count_fire": fire,
            "label_fire": (fire >= 1).astype(np.int8),
        }
    )


@pytest.fixture(scope="module", params=["poisson", "binary"])
def mixed(request) -> tuple[MultiTargetForecaster, pd.DataFrame]:
    frame = city()
    return MultiTargetForecaster(config=config(request.param)).fit(frame), frame


def test_any_is_mixed_when_it_is_the_sum_of_its_categories(mixed):
    model, frame = mixed
    assert model.mixed_ == {
        "target": "any",
        "weight": 0.5,
        "parts": ["theft", "fire"],
        "applied": True,
    }
    own = model.forecasters_["any"]
    assert own.mixed and list(own.mix_parts_) == ["theft", "fire"]
    assert own.mix_parts_["theft"] is model.forecasters_["theft"]
    assert not model.forecasters_["theft"].mixed
    # the parts' features join the mix's names; its own trees still read only their own
    assert {"events_28d_theft", "events_28d_fire"} <= set(own.feature_names_)
    assert "events_28d_theft" not in own.tree_feature_names_
    # the calibration rows' scores the mix reused are not kept past the fit
    assert not any(hasattr(f, "_calibration_cache") for f in model.forecasters_.values())


def test_the_mixed_count_is_the_weighted_sum_of_the_expected_counts(mixed):
    model, frame = mixed
    own = model.forecasters_["any"]
    rows = frame.iloc[:200]
    counts = {t: f.raw_to_count(f._own_raw(rows)) for t, f in model.forecasters_.items()}
    expected = 0.5 * counts["any"] + 0.5 * (counts["theft"] + counts["fire"])
    np.testing.assert_allclose(own.raw_to_count(own.decision_function(rows)), expected, rtol=1e-9)
    known = {t: f.decision_function(rows) for t, f in model.forecasters_.items() if t != "any"}
    np.testing.assert_array_equal(
        own.decision_function(rows, known=known), own.decision_function(rows)
    )
    if own.objective_ == "poisson":  # raw = log count, by hand
        np.testing.assert_allclose(np.exp(own.decision_function(rows)), expected, rtol=1e-9)


def test_the_mix_ranks_better_than_any_alone_when_its_trees_miss_the_signals(mixed):
    model, _ = mixed
    test = city(seed=7)
    own = model.forecasters_["any"]
    alone = roc_auc_score(test["label_any"], own._own_raw(test))
    mix = roc_auc_score(test["label_any"], own.decision_function(test))
    assert mix > alone + 0.1  # its own trees see only noise; its categories see the signals


def test_the_calibrator_is_fitted_on_the_mixed_forecast(mixed):
    model, frame = mixed
    own = model.forecasters_["any"]
    assert own.calibrator_.name == "platt"  # Platt beats identity here: there is a fit to check
    times = issue_ns(frame)
    split, _, _ = thinned_split(times, own.config_, own.horizon_hours)
    rows = frame[split.calib]
    raw = own.raw_to_prob(own.decision_function(rows))
    again = select_calibrator(
        raw, rows["label_any"].to_numpy(), times[split.calib], ["platt"], "log_loss"
    ).calibrator
    assert (again.a_, again.b_) == pytest.approx((own.calibrator_.a_, own.calibrator_.b_))
    np.testing.assert_allclose(
        own.predict_proba(rows), own.calibrator_.transform(raw), rtol=0, atol=1e-12
    )


def test_mixed_contributions_add_up_and_carry_each_part_by_hand(mixed):
    model, frame = mixed
    own = model.forecasters_["any"]
    rows = frame.iloc[:300]
    phi = own.contributions(rows)
    assert phi.shape == (300, len(own.feature_names_) + 1)
    np.testing.assert_allclose(phi.sum(axis=1), own.decision_function(rows), atol=1e-9)
    assert np.all(phi[:, -1] == phi[0, -1])  # one base for every row
    assert check_additivity(own, rows) < 1e-9
    # a feature only the fire model reads: its share of the fire model's count change,
    # halved by the weight, turned into the mix's raw change by the mix's secant
    fire = model.forecasters_["fire"]
    pf = fire.contributions(rows)
    zf, zf0 = pf.sum(axis=1), pf[0, -1]
    slope_f = (fire.raw_to_count(zf) - fire.raw_to_count(zf0)) / (zf - zf0)
    parts = {t: f.contributions(rows) for t, f in model.forecasters_.items() if t != "any"}
    members = [(own, 0.5, own._own_contributions(rows))]
    members += [(model.forecasters_[t], 0.5, p) for t, p in parts.items()]
    m0 = sum(w * f.raw_to_count(p[0, -1]) for f, w, p in members)
    m = sum(w * f.raw_to_count(p.sum(axis=1)) for f, w, p in members)
    scale = (own.count_to_raw(m) - own.count_to_raw(m0)) / (m - m0)
    col = fire.feature_names_.index("events_28d_fire")
    by_hand = 0.5 * slope_f * pf[:, col] * scale
    np.testing.assert_allclose(
        phi[:, own.feature_names_.index("events_28d_fire")], by_hand, rtol=1e-9
    )
    assert phi[0, -1] == pytest.approx(float(own.count_to_raw(m0)))
    # the parts' contributions handed in give the same answer
    np.testing.assert_allclose(own.contributions(rows, known=parts), phi, rtol=0, atol=1e-12)


def test_reasons_of_the_mix_add_up_to_the_shown_forecast(mixed):
    model, frame = mixed
    own = model.forecasters_["any"]
    rows = frame[frame["issue_time"] == frame["issue_time"].iloc[-1]]
    info = [FeatureInfo(n, "history", n, n) for n in own.feature_names_]
    table = explain(own, rows, info, top=2, min_points=0.0)
    np.testing.assert_allclose(table["prob"], own.predict_proba(rows)[table["row"]], atol=1e-12)
    first = table[table["rank"] == 1]
    totals = table.groupby("row")["points"].sum().loc[first["row"]].to_numpy()
    np.testing.assert_allclose(
        first["base_prob"] + (totals + first["other_points"].to_numpy()) / 100,
        first["prob"],
        atol=1e-9,
    )
    # a category's signal is named among `any`'s reasons as another kind of event
    assert "other_kinds" in set(table["group"])
    done = predict_and_explain(rows, model=model, info=info, targets=["any", "theft", "fire"])
    assert list(done.probs) == ["any", "theft", "fire"]
    np.testing.assert_allclose(done.probs["any"], own.predict_proba(rows), atol=1e-12)
    assert done.max_additivity_error < 1e-9


def test_any_alone_where_it_holds_other_events_or_the_weight_is_zero():
    frame = city(exact=False)
    model = MultiTargetForecaster(config=config("poisson")).fit(frame)
    assert not model.forecasters_["any"].mixed
    assert model.mixed_["applied"] is False
    assert model.mixed_["why_not"] == (
        "any holds events of no chosen category (its count is not their sum)"
    )
    zero = MultiTargetForecaster(config=config("poisson", 0.0)).fit(city())
    assert not zero.forecasters_["any"].mixed
    assert zero.mixed_["why_not"] == "[stacking] any_from_categories is 0"
    only = MultiTargetForecaster(config=config("poisson")).fit(city(), targets=["any", "theft"])
    assert not only.forecasters_["any"].mixed  # fires are in `any` but not among the targets


def test_a_saved_mix_loads_as_the_same_forecast(mixed, tmp_path):
    model, frame = mixed
    save_forecaster(model, tmp_path / "m")
    loaded, manifest = load_forecaster(tmp_path / "m")
    assert manifest["targets"]["any"]["mix"] == {"weight": 0.5, "parts": ["theft", "fire"]}
    assert manifest["mixed"]["applied"] is True
    again = loaded.forecasters_["any"]
    assert again.mix_parts_["fire"] is loaded.forecasters_["fire"]
    rows = frame.iloc[-400:]
    np.testing.assert_allclose(
        again.predict_proba(rows), model.forecasters_["any"].predict_proba(rows), atol=1e-12
    )
    np.testing.assert_allclose(
        again.contributions(rows), model.forecasters_["any"].contributions(rows), atol=1e-9
    )


def test_refresh_recalibrates_the_mix_after_its_parts():
    frame = city(n_days=60)
    model = MultiTargetForecaster(config=config("poisson")).fit(frame.iloc[: 40 * 50])
    model.refresh(frame)
    own = model.forecasters_["any"]
    assert own.mixed and own.split_["refreshed"]
    rows = frame.iloc[-40:]
    counts = {t: f.raw_to_count(f._own_raw(rows)) for t, f in model.forecasters_.items()}
    expected = 0.5 * counts["any"] + 0.5 * (counts["theft"] + counts["fire"])
    np.testing.assert_allclose(np.exp(own.decision_function(rows)), expected, rtol=1e-9)
