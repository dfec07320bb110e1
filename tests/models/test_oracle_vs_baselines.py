"""On a synthetic city the oracle (the true expected count) beats every classic baseline."""

from __future__ import annotations

import pytest

from models.backtest import run_backtest
from models.baselines import BASELINES
from risk.synth import synthesise


@pytest.fixture(scope="module")
def metrics():
    city = synthesise(400, 300, seed=5)
    # Labels of every source: the default leaves out the patrols' events, a random 15 % of
    # the thefts here, and that extra noise turns six weeks of theft pei@5 into a coin toss
    # (oracle 0.2837, seppexp 0.2857; with every source 0.3133 and 0.3123).
    result = run_backtest(
        city.grids, city.events, "2024-09-01", "2024-10-12", truth=city.truth,
        models=tuple(BASELINES), targets=("any", "theft"), retrain_days=14,
        label_exclude_sources="none",
    )  # fmt: skip
    return result.metrics


@pytest.mark.parametrize("target", ["any", "theft"])
@pytest.mark.parametrize("key", ["pr_auc", "pei@5", "hit_rate@10"])
def test_oracle_beats_every_baseline(metrics, target, key):
    models = metrics["targets"][target]["models"]
    oracle = models["oracle"][key]
    beaten = {name: models[name][key] for name in BASELINES}
    assert all(oracle > value for value in beaten.values()), (oracle, beaten)
