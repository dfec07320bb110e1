"""Beeswarm and waterfall from LightGBM's own SHAP values (models.shapplots)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.shapplots import _density, beeswarm, top_features, waterfall


def test_top_features_by_mean_absolute_contribution():
    contrib = np.array([[0.1, -2.0, 0.5, 9.0], [0.3, 2.0, -0.5, 9.0]])  # last column: base
    assert top_features(contrib, ["a", "b", "c"], 2) == [1, 2]  # |b| 2.0, |c| 0.5, |a| 0.2


def test_beeswarm_draws_one_row_per_feature_strongest_on_top():
    rng = np.random.default_rng(0)
    values = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    values["kind"] = "x"  # text: drawn grey
    contrib = np.column_stack([0.1 * values["a"], 2.0 * values["b"], np.zeros(200), np.ones(200)])
    ax = Figure().subplots()
    shown = beeswarm(ax, contrib, values, ["a", "b", "kind"], top=2)
    assert shown == ["b", "a"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]  # bottom to top


def test_waterfall_ends_at_the_raw_score():
    row = np.array([0.5, -0.2, 0.05, 0.01, -1.0])  # four features, base -1.0
    ax = Figure().subplots()
    end = waterfall(ax, row, ["a", "b", "c", "d"], pd.Series([3.0, np.nan, "t", 1.0]), top=2)
    assert end == -1.0 + 0.5 - 0.2 + 0.05 + 0.01
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["a = 3", "b = —", "other 2 features"]


def test_a_spread_of_rounding_noise_draws_without_binning():
    # contributions equal but for the last bit: np.histogram cannot make 50 finite bins there
    x = np.full(40, 0.1) + np.arange(40) * 1e-17
    x[0] = np.nextafter(0.1, 1.0)
    assert np.array_equal(_density(x), np.ones(40))
    spread = _density(np.array([0.0, 0.0, 0.0, 1.0]))
    assert spread.tolist() == [1.0, 1.0, 1.0, 1 / 3]
