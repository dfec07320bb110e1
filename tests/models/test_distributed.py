"""LightGBM's trees grown across a 2-worker LocalCluster (`lightgbm.dask`; issue 18) give the
single process's numbers within LightGBM's distributed-training tolerance, and its queue.

The data-parallel learner takes each feature's bin edges from one worker's share and bags
each worker's rows, so its trees differ slightly from one process's: the tolerance below is
measured by `python -m benchmarks.distributed_fit` (docs/adr/021-*): of the order of
changing LightGBM's seed in one process. Blend offsets (`init_score`), negative down-sampling (sample weights), early
stopping, calibration, levels and SHAP covers all take part (`CONFIG`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.distributed_fit import CONFIG, agreement, top_share
from features.build import build_features
from models.backtest import run_backtest
from models.distributed import deal_rows
from models.persist import save_forecaster
from models.training import train_forecaster
from risk.synth import synthesise
from serve.scoring import load_model, score_city

TZ = "Asia/Shanghai"
TARGETS = ("any", "dispute")  # at 400 grids the others rank the same either way (ADR 021)
START, END = "2024-05-12", "2024-05-25"  # the last 14 days whose windows close: 2 weekly blocks
AT = "2024-05-20 08:00"
# Stated tolerance (ADR 021): about twice the worst case measured on this setting by
# `python -m benchmarks.distributed_fit --eval-days 14 --targets any dispute` (3 cities, this
# one among them; benchmarks/results/distributed_fit_14d.json, rerun after ADR 025): against
# one process, two cluster runs differed by at most 0.0084 pr_auc, 0.0226 pei@5, Spearman
# 0.985 — LightGBM's seed 2 in one process by 0.0083, 0.0128, 0.990.
MAX_D_PR_AUC = 0.017
MAX_D_PEI5 = 0.045
MIN_SPEARMAN = 0.97


@pytest.fixture(scope="module")
def city():
    return synthesise(400, 150, seed=3)  # 2024-01-01 .. 2024-05-29


@pytest.fixture(scope="module")
def backtests(city, dask_client):
    frames = {}

    def build_once(*args, **kwargs):  # one feature frame for both runs
        if "frame" not in frames:
            frames["frame"] = build_features(*args, **kwargs)
        return frames["frame"]

    options = {
        "tz": TZ,
        "targets": TARGETS,
        "models": ("lightgbm",),
        "config": CONFIG,
        "search": False,
        "retrain_days": 7,
        "tree_refit_days": 7,
        "build": build_once,
    }
    alone = run_backtest(city.grids, city.events, START, END, **options)
    spread = run_backtest(city.grids, city.events, START, END, client=dask_client, **options)
    return alone, spread


def test_rows_are_dealt_round_robin_so_every_share_spans_the_slice():
    assert [r.tolist() for r in deal_rows(7, 2)] == [[0, 2, 4, 6], [1, 3, 5]]
    assert [r.tolist() for r in deal_rows(1, 2)] == [[0]]  # never an empty share


def test_top_share_counts_each_days_shared_top_grids():
    # 40 grids: top 5 % is 2 per day; day 1 shares both, day 2 one of two -> mean 0.75
    a = np.tile(np.arange(40.0), (2, 1))
    b = a.copy()
    b[1, 38] = -1.0  # day 2: grid 38 leaves b's top 2 (39 and 37 instead of 39 and 38)
    assert top_share(a, b) == 0.75


def test_backtest_on_the_cluster_is_within_the_stated_tolerance(backtests):
    alone, spread = backtests
    for t in TARGETS:
        near = agreement(alone, spread, t)
        assert abs(near["d_pr_auc"]) <= MAX_D_PR_AUC, (t, near)
        assert abs(near["d_pei@5"]) <= MAX_D_PEI5, (t, near)
        assert near["spearman"] >= MIN_SPEARMAN, (t, near)
        # the levels' operating points were measured on the calibration slice, as alone
        ops = spread.metrics["targets"][t]["levels"]["operating_points"]
        assert ops.keys() == alone.metrics["targets"][t]["levels"]["operating_points"].keys()
    assert spread.probs["any"]["lightgbm"].shape == (14, 400)


@pytest.fixture(scope="module")
def trained(city, dask_client, tmp_path_factory):
    options = {"tz": TZ, "config": CONFIG, "targets": TARGETS, "max_history_days": 90}
    out = {}
    for name, client in (("alone", None), ("spread", dask_client)):
        model = train_forecaster(city.grids, city.events, AT, client=client, **options)
        folder = tmp_path_factory.mktemp(name) / "m"
        save_forecaster(model.model, folder, extra=model.manifest_extra())
        out[name] = (model, load_model(model_dir=folder))
    return out


def test_training_on_the_cluster_used_both_workers_and_keeps_the_manifest(trained):
    alone, spread = trained["alone"], trained["spread"]
    for t in TARGETS:
        text = spread[0].model.forecasters_[t].booster_.model_to_string()
        assert "[num_machines: 2]" in text and "[tree_learner: data]" in text
        assert "[machines: " not in text and "[local_listen_port: " not in text
        assert "[num_machines: 1]" in alone[0].model.forecasters_[t].booster_.model_to_string()
    assert spread[1].manifest.keys() == alone[1].manifest.keys()
    assert spread[0].rows == alone[0].rows and spread[0].window == alone[0].window


def test_scoring_a_cluster_trained_model_gives_the_same_queue(city, trained):
    options = {"tz": TZ, "top_percent": 5.0, "min_level": None}
    alone = score_city(trained["alone"][1], city.grids, city.events, AT, **options)
    spread = score_city(trained["spread"][1], city.grids, city.events, AT, **options)
    # top 5 % per target: ceil(0.05 * 400) = 20 warnings each, 40 in the queue
    assert int(alone.forecasts["warn"].sum()) == int(spread.forecasts["warn"].sum()) == 40
    assert spread.max_additivity_error <= 1e-6  # covers recounted on the cluster's booster
    for t in TARGETS:
        a = alone.forecasts.loc[alone.forecasts["target"] == t, "prob"].to_numpy()
        b = spread.forecasts.loc[spread.forecasts["target"] == t, "prob"].to_numpy()
        rho = pd.Series(a).corr(pd.Series(b), method="spearman")
        assert rho >= MIN_SPEARMAN, (t, rho)
