"""The configuration search (models.search) on a small synthetic city."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.base import FeatureSpec
from features.binning import event_arrays
from features.build import build_features
from features.issue_times import daily_issue_times
from models import search as search_module
from models.search import search_config
from risk.errors import ConfigError
from risk.synth import synthesise

TZ = "Asia/Shanghai"
TARGETS = ("any", "dispute")
FAST = {"training": {"num_boost_round": 20, "early_stopping_rounds": 5}}


@pytest.fixture(scope="module")
def setting():
    city = synthesise(64, 200, seed=5)
    times = daily_issue_times("2024-02-15", "2024-06-27", 8, TZ)
    built = build_features(city.grids, city.events, times, FeatureSpec(tz=TZ, targets=TARGETS))
    known = event_arrays(city.events, city.grids["grid_id"])
    return city, times, built, known


def run(setting, candidates, **kw):
    city, times, built, known = setting
    valid = daily_issue_times("2024-06-01", "2024-06-20", 8, TZ)
    return search_config(
        built.frame,
        times.as_unit("ns").asi8,
        known,
        city.events,
        city.grids,
        TARGETS,
        valid,
        pd.Timestamp("2024-06-24 08:00", tz=TZ),
        feature_names=built.feature_names,
        start=city.events["occurred_at"].min(),
        candidates=candidates,
        base=FAST,
        **kw,
    )


def test_every_candidate_is_scored_per_target_on_the_window(setting):
    result = run(setting, {"default": {}, "binary": {"lightgbm": {"objective": "binary"}}})
    assert list(result.scores) == ["default", "binary"]
    assert result.scores["default"]["score"] == 1.0  # the reference scores 1 by definition
    for name in ("default", "binary"):
        for target in TARGETS:
            assert 0 < result.scores[name][target]["pr_auc"] < 1
            assert 0 <= result.scores[name][target]["pei@5"] <= 1
    assert result.window == ("2024-06-01T08:00:00+08:00", "2024-06-20T08:00:00+08:00")
    assert result.override["training"]["num_boost_round"] == 20  # the base goes with it
    assert result.as_dict()["candidates"] == ["default", "binary"]


def test_the_default_stays_unless_beaten_by_the_margin_and_surely(setting, monkeypatch):
    candidates = {"default": {}, "same": {"lightgbm": {"seed": 2}}}
    result = run(setting, candidates)
    lead = result.scores["same"]["daily_lead"]
    assert lead["n_days"] == 20 and lead["block_days"] == 7  # 2024-06-01 .. 06-20, in weeks
    assert lead["low"] <= lead["mean_diff"] <= lead["high"]
    won = result.scores["same"]["score"] - 1.0 > search_module.SEARCH_MARGIN
    assert result.chosen == ("same" if won and lead["low"] > 0 else "default")
    # with no margin the day-by-day interval alone decides
    monkeypatch.setattr(search_module, "SEARCH_MARGIN", -1.0)
    again = run(setting, candidates)
    assert again.chosen == ("same" if lead["low"] > 0 else "default")


def test_a_thinned_fit_scales_the_per_row_settings_alike_for_every_candidate():
    """On every third training day a leaf of 1,000 rows is as large a share as 3,000 on every
    day: left as is it favoured candidates with small leaves (ADR 027)."""
    default = search_module._thinned({}, 3)
    assert default["training"]["issue_time_stride"] == 6  # the packaged stride is 2
    assert default["lightgbm"]["min_data_in_leaf"] == 333  # 1000 / 3, rounded
    assert default["lightgbm"]["lambda_l2"] == pytest.approx(10 / 3)
    assert default["lightgbm"]["min_sum_hessian_in_leaf"] == pytest.approx(1e-3 / 3)
    larger = search_module._thinned(search_module.SEARCH_SPACE["larger_trees"], 3)
    assert larger["lightgbm"]["min_data_in_leaf"] == 67 and larger["lightgbm"]["num_leaves"] == 31
    assert (
        search_module._thinned({"lightgbm": {"min_data_in_leaf": 1}}, 3)["lightgbm"][
            "min_data_in_leaf"
        ]
        == 1
    )  # never 0
    assert search_module._thinned({}, 1)["lightgbm"]["min_data_in_leaf"] == 1000


def test_the_daily_index_is_each_days_metrics_over_the_first_candidates_means():
    nan = float("nan")
    daily = {
        "first": {"t": {"pr_auc": np.array([0.5, 0.7]), "pei@5": np.array([nan, 0.4])}},
        "other": {"t": {"pr_auc": np.array([0.6, 0.6]), "pei@5": np.array([0.2, 0.6])}},
    }
    index = search_module._daily_index(daily, "first")
    # scales: pr_auc 0.6, pei@5 0.4 (the first's means over the days it is defined on)
    assert index["first"] == pytest.approx([0.5 / 0.6, (0.7 / 0.6 + 1.0) / 2])
    assert index["other"] == pytest.approx([(1.0 + 0.5) / 2, (1.0 + 1.5) / 2])


def test_a_bad_candidate_names_its_key(setting):
    with pytest.raises(ConfigError, match="num_rounds"):
        run(setting, {"default": {}, "bad": {"training": {"num_rounds": 3}}})
