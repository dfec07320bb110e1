"""The drift reference a trained model carries (models.health): which rows it comes from,
what it holds, and that it fits in the manifest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.training import train_forecaster
from risk.drift import DriftReference
from risk.synth import synthesise

TZ = "Asia/Shanghai"
G = 49
FAST = {
    "training": {"num_boost_round": 60, "early_stopping_rounds": 10, "count_model": False},
    "lightgbm": {"num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.3, "num_threads": 1},
}


@pytest.fixture(scope="module")
def trained():
    city = synthesise(G, 120, 3)
    return train_forecaster(
        city.grids, city.events, "2024-04-20 08:00", tz=TZ, config=FAST,
        targets=("any", "theft"), max_history_days=60,
    )  # fmt: skip


def test_the_reference_comes_from_the_calibration_slice(trained):
    ref = trained.drift_reference
    calib_start = pd.Timestamp(trained.model.forecasters_["any"].split_["calib_start"])
    first, last = (pd.Timestamp(t) for t in ref.issue_times)
    assert calib_start <= first <= last == pd.Timestamp(trained.window[1])
    days = (last - first).days + 1  # every calibration issue time: 49 grids are few
    assert ref.sample_rows == days * G and ref.rows == trained.rows
    assert ref.n_bins == 2  # 49 grids // 25 per bin, at least 2


def test_every_feature_and_target_has_a_reference(trained):
    ref = trained.drift_reference
    assert set(ref.features) == set(trained.model.feature_names_)
    assert set(ref.scores) == {"any", "theft"}
    families = {f.name: f.family for f in trained.feature_info}
    for name, q in ref.features.items():
        assert q.family == families[name]
        assert sum(q.shares) == pytest.approx(1.0)
        # the window's weekdays, month, holidays: one value per issue time, never checked;
        # so are the city-wide mean rate and sums over the street (this city has only one)
        wide = q.family in ("time", "calendar") or name.startswith(("street_", "classic_city"))
        assert q.per_issue_time == wide, name
    # static grid attributes look the same every day
    assert all(q.baseline == 0.0 for q in ref.features.values() if q.family == "area")
    assert ref.features["grid_type"].kind == "category"
    for q in ref.scores.values():
        assert q.shares[-1] == 0.0 and 0.0 <= q.low <= q.high <= 1.0


def test_the_range_is_that_of_every_training_row(trained):
    ref = trained.drift_reference
    # events in the last 28 days: over the whole window, not only the calibration slice
    q = ref.features["events_28d_any"]
    assert q.low == 0.0 and q.high >= max(q.edges, default=0.0)
    assert not q.nan_seen


def test_it_fits_in_the_manifest(trained):
    extra = trained.manifest_extra()
    text = json.dumps(extra["drift_reference"])
    assert len(text) < 100_000
    again = DriftReference.from_dict(json.loads(text))
    assert again.features.keys() == trained.drift_reference.features.keys()
    assert np.allclose(again.scores["any"].shares, trained.drift_reference.scores["any"].shares)
    assert extra["targets_trained"] == ["any", "theft"]
