"""`train_forecaster` on a city whose data end with a category it has not seen before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.training import train_forecaster
from risk.errors import ConfigError
from risk.synth import synthesise

FAST = {
    "training": {"num_boost_round": 15, "early_stopping_rounds": 5},
    "lightgbm": {"num_leaves": 7, "min_data_in_leaf": 20, "max_bin": 31},
}


def test_a_category_without_a_closed_training_window_gets_no_model():
    """'flood' first happens in the last 72 h before `until`: no training label holds it, so it
    has no model (a note says why), and the manifest lists only the targets trained."""
    city = synthesise(36, 120, seed=5)
    events = city.events.copy()
    until = pd.Timestamp("2024-04-20 08:00", tz="Asia/Shanghai")
    events = events[events["reported_at"] <= until]
    late = np.flatnonzero(events["occurred_at"] > until - pd.Timedelta(hours=60))
    events.loc[events.index[late[::2]], "category"] = "flood"
    trained = train_forecaster(city.grids, events, until, config=FAST)
    assert "flood" not in trained.targets and "any" in trained.targets
    assert trained.skipped["flood"].startswith("target 'flood' has no event in the")
    assert trained.manifest_extra()["targets_trained"] == list(trained.targets)
    assert set(trained.base_rates) == set(trained.targets)
    # what scoring must build its time features with (serve.scoring.check_time_settings)
    assert (trained.manifest_extra()["tz"], trained.manifest_extra()["calendar"]) == (
        "Asia/Shanghai",
        "CN",
    )


def test_an_issue_stride_builds_every_kth_training_day_counted_back_from_the_latest():
    """issue 18: a city too large for a frame of every day trains on every k-th issue day.
    Until 2024-04-20 08:00, the last window closing by then opens 2024-04-17 08:00; the first
    day is the data start + 28 warm-up days = 2024-01-29: 80 days, every 3rd from the latest
    keeps ceil(80 / 3) = 27, the first of them 2024-04-17 - 26 x 3 days = 2024-01-30."""
    city = synthesise(36, 120, seed=5)
    until = pd.Timestamp("2024-04-20 08:00", tz="Asia/Shanghai")
    events = city.events[city.events["reported_at"] <= until]
    every = train_forecaster(city.grids, events, until, config=FAST, targets=("any",))
    third = train_forecaster(
        city.grids, events, until, config=FAST, targets=("any",), issue_stride=3
    )
    assert every.rows == 36 * 80
    assert third.rows == 36 * 27
    assert third.window == ("2024-01-30T08:00:00+08:00", "2024-04-17T08:00:00+08:00")
    assert every.window[1] == third.window[1]


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("yesterday", "--until 'yesterday' is not a date or time"),
        ("2023-06-01", "leaves no training day: the events start on 2024-01-01"),
        # pandas reads a date without its year as year 1; going back a year of history
        # from there overflowed (NotImplementedError from .date())
        ("May 1", r"--until 'May 1' \(read as 0001-05-01\) is outside the years 1700..2249"),
        ("2300-01-01", "--until '2300-01-01' is outside the years"),
        # after the data: the empty days would be learnt as quiet ones
        ("2030-01-01", r"--until '2030-01-01' is 2\d\d\d days after the newest event"),
    ],
)
def test_an_until_that_is_no_time_or_before_the_data_names_until(until, message):
    city = synthesise(9, 40, seed=5)
    with pytest.raises(ConfigError, match=message):
        train_forecaster(city.grids, city.events, until, config=FAST)
