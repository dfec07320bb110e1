"""`[training] issue_time_stride`: thinning the training slice to every k-th issue time."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import load_config
from models.forecaster import LightGBMForecaster, every_kth_issue_time
from risk.errors import ConfigError
from tests.models.test_forecaster import FAST, toy_frame


def test_every_kth_issue_time_counts_back_from_the_latest():
    # distinct times 1..5; stride 2 from the latest keeps 5, 3, 1 (every row of each)
    times = np.array([1, 1, 2, 3, 4, 5, 5])
    assert every_kth_issue_time(times, 2).tolist() == [True, True, False, True, False, True, True]
    # stride 3 keeps 5 and 2
    assert every_kth_issue_time(times, 3).tolist() == [False, False, True, False, False, True, True]


def test_stride_one_keeps_every_row():
    assert every_kth_issue_time(np.array([3, 1, 2]), 1).all()


def test_packaged_default_keeps_every_second_issue_time():
    # neighbouring daily rows share 2/3 of their window (docs/adr/010-forecast-core-v2.md)
    assert load_config().section("training")["issue_time_stride"] == 2


def test_stride_below_one_is_refused():
    with pytest.raises(ConfigError, match=r"issue_time_stride=0 is not accepted"):
        load_config({"training": {"issue_time_stride": 0}})


def test_fit_trains_on_every_second_issue_time_only():
    # 60 daily issue times: calibration = the last ceil(0.15 * 60) = 9, validation the 9
    # before them (from index 42); training rows need t + 3 days <= t[42], i.e. indices 0..39:
    # 40 issue times x 40 grids = 1,600 rows; stride 2 keeps 39, 37, ..., 1 -> 800 rows.
    # (No negative sampling: far fewer rows than min_rows.)
    frame = toy_frame(n_grids=40, n_days=60)
    every = LightGBMForecaster(config=FAST).fit(frame)
    thinned = LightGBMForecaster(
        config={**FAST, "training": {**FAST["training"], "issue_time_stride": 2}}
    ).fit(frame)
    assert every.split_["sampled_train_rows"] == 1_600
    assert thinned.split_["sampled_train_rows"] == 800
    assert thinned.split_["issue_time_stride"] == 2
    assert thinned.split_["valid_rows"] == every.split_["valid_rows"]
