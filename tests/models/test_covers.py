"""Honest SHAP references (models.covers): covers recounted on plain rows."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from models.covers import recount_covers


def test_base_value_is_the_mean_raw_score_of_the_reference_after_recounting():
    # Negatives kept at 20 % and weighted x5: the trees' covers over-represent positives, so
    # TreeSHAP's base value is too high; recounted on the plain rows it is their mean score.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 3))
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(1.5 * x[:, 0] - 2)))).astype(float)
    keep = (y == 1) | (rng.random(20_000) < 0.2)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbosity": -1, "seed": 1},
        lgb.Dataset(x[keep], y[keep], weight=np.where(y[keep] == 1, 1.0, 5.0)),
        num_boost_round=30,
    )
    plain_mean = booster.predict(x, raw_score=True).mean()
    before = booster.predict(x, pred_contrib=True)[0, -1]
    assert before - plain_mean > 0.3  # the sampled covers inflate the base log-odds

    fixed = recount_covers(booster, x)
    contrib = fixed.predict(x, pred_contrib=True)
    np.testing.assert_allclose(contrib[:, -1], plain_mean, rtol=1e-9)
    # predictions are untouched and contributions still add up to them
    np.testing.assert_array_equal(
        fixed.predict(x, raw_score=True), booster.predict(x, raw_score=True)
    )
    np.testing.assert_allclose(contrib.sum(axis=1), fixed.predict(x, raw_score=True), atol=1e-9)


def test_a_single_leaf_tree_survives():
    x = np.zeros((100, 1))
    booster = lgb.train(
        {"objective": "regression", "verbosity": -1}, lgb.Dataset(x, np.ones(100)), 2
    )
    fixed = recount_covers(booster, x[:10])
    np.testing.assert_allclose(fixed.predict(x, pred_contrib=True)[:, -1], 1.0)
