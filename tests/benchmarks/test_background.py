"""The `bayes` ceiling of benchmarks/background.py: its integral, its likelihood, its estimate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from benchmarks.background import (
    bayes_background,
    estimates,
    gap_closed,
    hawkes_evidence,
    lognormal_nodes,
    posterior_moments,
)
from benchmarks.headroom import evaluation_city
from risk.synth.params import SynthParams
from risk.synth.truth import Truth

# Nodes 1/2, 1, 2 (log step ln 2) with prior weights 1/4, 1/2, 1/4.
STEP = math.log(2.0)
THREE = np.log([0.25, 0.5, 0.25])
ONE = np.zeros(1)  # a factor fixed at 1


def poisson_loglik(x: np.ndarray, count: int, exposure: float) -> np.ndarray:
    return count * np.log(x) - exposure * x


def test_posterior_mean_of_the_shared_factor_by_hand():
    # 2 events in 1 day of exposure: L(x) = x² e^{-x} = 0.151633, 0.367879, 0.541341 at
    # x = 1/2, 1, 2; times the prior: 0.0379082, 0.1839397, 0.1353353 (sum 0.3571832), so
    # E[x] = (0.0189541 + 0.1839397 + 0.2706706) / 0.3571832 = 1.325831 and
    # E[x²] = (0.0094771 + 0.1839397 + 0.5413412) / 0.3571832 = 2.057090.
    loglik = poisson_loglik(np.array([0.5, 1.0, 2.0]), 2, 1.0)[None, None, :]
    mean, second = posterior_moments(loglik, THREE, ONE, STEP)
    assert mean[0, 0] == pytest.approx(1.325831, abs=1e-5)
    assert second[0, 0, 0] == pytest.approx(2.057090, abs=1e-5)
    # The same prior on the category factor instead gives the same posterior.
    assert posterior_moments(loglik, ONE, THREE, STEP)[0][0, 0] == pytest.approx(1.325831, abs=1e-5)


def test_shared_factor_couples_the_categories_by_hand():
    # Category 2 has no event in 1 day: L2 = e^{-x} = 0.606531, 0.367879, 0.135335. Joint
    # weights 0.0229925, 0.0676676, 0.0183156 (sum 0.1089757): E[F] = 0.1157951 / 0.1089757
    # = 1.062577 for both categories (1.325831 with category 1 alone), E[F²] = 1.345972.
    x = np.array([0.5, 1.0, 2.0])
    loglik = np.stack([poisson_loglik(x, 2, 1.0), poisson_loglik(x, 0, 1.0)])[None]
    mean, second = posterior_moments(loglik, THREE, ONE, STEP)
    assert mean[0] == pytest.approx([1.062577, 1.062577], abs=1e-5)
    assert second[0] == pytest.approx(np.full((2, 2), 1.345972), abs=1e-5)


def test_both_factors_convolve_by_hand():
    # x = F·C on 1/4 … 4 with prior (1, 4, 6, 4, 1)/16; L = x² e^{-x} = 0.0486750, 0.151633,
    # 0.367879, 0.541341, 0.293050; prior × L sums to 0.3325560, × L × x to 0.5016024:
    # E[x] = 1.508320.
    loglik = poisson_loglik(np.array([0.25, 0.5, 1.0, 2.0, 4.0]), 2, 1.0)[None, None, :]
    assert posterior_moments(loglik, THREE, THREE, STEP)[0][0, 0] == pytest.approx(
        1.508320, abs=1e-5
    )


def test_lognormal_nodes_have_the_frailty_moments():
    # A mean-1 lognormal of σ = 0.6 has E[F²] = e^{0.36} = 1.433329.
    weights = np.exp(lognormal_nodes(0.6))
    x = np.exp(0.05 * (np.arange(len(weights)) - (len(weights) - 1) / 2))
    assert (weights * x).sum() / weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (weights * x**2).sum() / weights.sum() == pytest.approx(1.433329, abs=1e-6)


def test_triggered_intensity_by_hand():
    # Grids a–b are neighbours. Disputes in a at 10:30 and 13:30 and a petition in a at 15:30,
    # a dispute in b at 20:30 (steps 10, 13, 15, 20); one more event, reported after the
    # estimate, is left out. Dispute kernel: r = 23/24, weight (1/24)·r^(s−1−s').
    truth = Truth(
        params=SynthParams(),
        seed=0,
        start="2024-01-01",
        tz="Asia/Shanghai",
        days=40,
        grid_ids=("a", "b"),
        background_per_day=np.full((2, 6), 0.01),
        daily_shock=np.ones(40),
        neighbour_pairs=np.array([[0, 1]]),
    )
    day = pd.Timestamp("2024-01-01", tz="Asia/Shanghai")
    hours = [10.5, 13.5, 15.5, 20.5, 21.5]
    events = pd.DataFrame(
        {
            "occurred_at": [day + pd.Timedelta(hours=h) for h in hours],
            "reported_at": [day + pd.Timedelta(hours=h + 1) for h in hours[:4]]
            + [day + pd.Timedelta(days=39)],
            "category": ["dispute", "dispute", "petition", "dispute", "theft"],
            "grid_id": ["a", "a", "a", "b", "b"],
        }
    )
    evidence = hawkes_evidence(truth, events, day + pd.Timedelta(days=30), margin_days=14)
    w = [(1 / 24) * (23 / 24) ** age for age in range(10)]
    assert evidence.grid.tolist() == [0, 0, 0, 1]
    assert evidence.category.tolist() == [0, 0, 5, 0]  # dispute, dispute, petition, dispute
    expected = [
        0.0,
        0.30 * w[2],  # self-excitation of the 10:30 dispute, 3 hours on
        0.15 * (w[4] + w[1]),  # dispute → petition in the same grid
        0.05 * (w[9] + w[6]),  # ring-1 neighbour a (degree 1) → b, same category
    ]
    assert evidence.triggered == pytest.approx(expected, rel=1e-12)


def test_gap_closed_by_hand():
    backtest = {
        "seppexp": {"pr_auc": 0.30, "pei@5": 0.20},
        "oracle": {"pr_auc": 0.50, "pei@5": 0.40},
    }
    closed = gap_closed({"pr_auc": 0.35, "pei@5": 0.30}, backtest)
    assert closed == pytest.approx({"pr_auc": 0.25, "pei@5": 0.5})


def test_bayes_ranks_the_true_background_at_least_as_well_as_the_raw_rate():
    city, events, times = evaluation_city(300, 400, 8, 1)
    truth, grids = city.truth, city.grids
    true = truth.background_per_day
    raw = estimates(events, grids, times[0], list(truth.categories), events["occurred_at"].min())
    bayes, info = bayes_background(truth, grids, events, times[0])
    rho_raw = spearmanr(raw["raw"].sum(axis=1), true.sum(axis=1)).statistic
    rho_bayes = spearmanr(bayes.sum(axis=1), true.sum(axis=1)).statistic
    assert rho_bayes >= rho_raw  # 0.935 against 0.903
    for k in range(true.shape[1]):  # and per category (0.88–0.93 against 0.57–0.80)
        assert (
            spearmanr(bayes[:, k], true[:, k]).statistic
            > spearmanr(raw["raw"][:, k], true[:, k]).statistic
        )
    # The generator fixes each type's total; the estimate meets it.
    types = grids["grid_type"].to_numpy()
    for grid_type in np.unique(types):
        rows = types == grid_type
        assert bayes[rows].sum(axis=0) == pytest.approx(true[rows].sum(axis=0), rel=1e-5)
    assert info["max_relative_gap"] < 1e-6
