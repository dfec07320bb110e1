"""`SharedBins`: one binned copy of a frame's training and validation rows for every target."""

from __future__ import annotations

import numpy as np
import pytest

from models.forecaster import LightGBMForecaster, MultiTargetForecaster, SharedBins
from tests.models.test_forecaster import FAST, toy_frame


def test_bins_hold_the_thinned_training_rows_and_the_validation_rows():
    # 60 days x 40 grids: training issue times 0..39 (see test_issue_time_stride), validation
    # from index 42 to the calibration start (index 51) less the 3-day gap: 42..48 -> 7 x 40
    frame = toy_frame(n_grids=40, n_days=60)
    bins = SharedBins.build(
        frame, {**FAST, "training": {**FAST["training"], "issue_time_stride": 2}}
    )
    assert len(bins.train_idx) == 800
    assert bins.train_set.num_data() == 800
    assert bins.valid_set.num_data() == 280
    assert bins.feature_names == ["x1", "x2", "grid_type"]


def test_a_target_fitted_on_shared_bins_predicts_as_if_fitted_alone():
    # Fitting theft on the same bins afterwards re-labels the shared validation rows; the any
    # model fitted before must be unaffected, and equal to one fitted on its own bins.
    frame = toy_frame(n_grids=40, n_days=60)
    bins = SharedBins.build(frame, FAST)
    shared_any = LightGBMForecaster(config=FAST, target="any").fit(frame, bins=bins)
    LightGBMForecaster(config=FAST, target="theft").fit(frame, bins=bins)
    alone_any = LightGBMForecaster(config=FAST, target="any").fit(frame)
    assert shared_any.best_iteration_ == alone_any.best_iteration_
    np.testing.assert_array_equal(shared_any.predict_proba(frame), alone_any.predict_proba(frame))


def test_multi_target_forecaster_shares_one_binning():
    # with [stacking] features = "all" every target's trees read the same columns
    frame = toy_frame(n_grids=40, n_days=60)
    config = {**FAST, "stacking": {"features": "all"}}
    multi = MultiTargetForecaster(config=config).fit(frame, ["any", "theft"])
    theft_alone = LightGBMForecaster(config=config, target="theft").fit(frame)
    np.testing.assert_array_equal(
        multi.forecasters_["theft"].predict_proba(frame), theft_alone.predict_proba(frame)
    )


def test_bins_from_another_frame_are_refused():
    bins = SharedBins.build(toy_frame(n_grids=40, n_days=60), FAST)
    with pytest.raises(ValueError, match="built for 2400 rows"):
        LightGBMForecaster(config=FAST).fit(toy_frame(n_grids=30, n_days=60), bins=bins)
    other_days = toy_frame(n_grids=40, n_days=60)
    other_days["issue_time"] = other_days["issue_time"] + np.timedelta64(1, "D")
    with pytest.raises(ValueError, match="other issue times"):
        LightGBMForecaster(config=FAST).fit(other_days, bins=bins)
