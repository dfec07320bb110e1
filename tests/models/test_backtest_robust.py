"""A backtest never dies of a new city's file: coarse or shared timestamps run to the end,
and a baseline that fails is recorded while every output is still written (issue 12)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models.backtest import run_backtest, write_outputs
from models.baselines import KDE
from models.report import write_report
from risk.errors import ConfigError
from risk.synth import synthesise

FAST = {
    "training": {"num_boost_round": 15, "early_stopping_rounds": 5},
    "lightgbm": {"num_leaves": 7, "min_data_in_leaf": 20, "max_bin": 31},
}
TARGETS = ("any", "dispute")


@pytest.fixture(scope="module")
def city():
    return synthesise(64, 200, seed=4)


def coarse(events: pd.DataFrame, how: str) -> pd.DataFrame:
    out = events.copy()
    if how == "same_minute_pairs":
        out["occurred_at"] = out["occurred_at"].dt.floor("min")
        twins = out.iloc[::10].copy()  # every tenth event reported twice, same minute and grid
        twins["event_id"] = twins["event_id"] + "-b"
        out = pd.concat([out, twins], ignore_index=True)
    else:
        out["occurred_at"] = out["occurred_at"].dt.floor(how)
    out["reported_at"] = np.maximum(out["occurred_at"], out["reported_at"])
    return out


def run(city, events, **kw):
    return run_backtest(
        city.grids,
        events,
        "2024-07-01",
        "2024-07-07",
        targets=TARGETS,
        config=FAST,
        train_start="2024-04-01",
        **kw,
    )


@pytest.mark.parametrize("how", ["same_minute_pairs", "h", "D"])
def test_coarse_and_shared_timestamps_run_to_the_end(city, how, tmp_path):
    result = run(city, coarse(city.events, how))
    for target in TARGETS:
        for name, m in result.metrics["targets"][target]["models"].items():
            assert "status" not in m, (name, m)
            assert np.isfinite(m["pr_auc"]) and 0 < m["pr_auc"] < 1, name
    assert (tmp_path / "metrics.json").exists() is False
    paths = write_outputs(result, tmp_path, report=write_report)
    assert {"metrics", "predictions", "report"} <= set(paths)


def test_a_failing_baseline_is_recorded_and_every_output_written(city, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(KDE, "predict_count", broken)
    # the classic stack's KDE component fails too: it is zero for LightGBM, said once a fit
    with pytest.warns(RuntimeWarning, match="classic component kde failed"):
        result = run(city, city.events)
    assert "pr_auc" in result.metrics["targets"]["any"]["models"]["lightgbm"]
    for target in TARGETS:
        entry = result.metrics["targets"][target]["models"]["kde"]
        assert entry["status"] == "failed"
        assert entry["reason"].startswith("ZeroDivisionError: float division by zero (fitted at")
        assert "pr_auc" in result.metrics["targets"][target]["models"]["seppexp"]
    lines = [n for n in result.notes if n.startswith("baseline kde failed")]
    assert len(lines) == len(TARGETS)  # one line per target, not one per block
    paths = write_outputs(result, tmp_path, report=write_report)
    written = json.loads(paths["metrics"].read_text())
    assert written["targets"]["any"]["models"]["kde"]["status"] == "failed"
    predictions = pd.read_parquet(paths["predictions"])
    assert "kde" not in set(predictions["model"].astype(str))
    assert paths["report"].stat().st_size > 1000


def test_grids_without_area_take_equal_areas_for_pai(city):
    """Centroid-only grids (no polygon, no area_km2) have NaN areas: PAI is the hit rate over
    the share K / n of grids, and a note says so (it used to stop the backtest)."""
    grids = city.grids.copy()
    grids["area_km2"] = np.nan
    grids["geometry"] = None
    result = run(replace(city, grids=grids), city.events)
    m = result.metrics["targets"]["any"]["models"]["lightgbm"]
    assert m["pai@5"] == pytest.approx(m["hit_rate@5"] / (4 / 64))  # K = ceil(5% of 64) = 4
    assert any(n.startswith("64 of 64 grids have no area") for n in result.notes)


def new_category(events: pd.DataFrame, since: str, every: int = 3) -> pd.DataFrame:
    """Every `every`-th event from `since` on relabelled 'flood': a category first seen then."""
    out = events.copy()
    late = np.flatnonzero(out["occurred_at"] >= pd.Timestamp(since, tz="Asia/Shanghai"))
    out.loc[out.index[late[::every]], "category"] = "flood"
    return out


def test_a_category_first_seen_in_the_evaluation_is_recorded_not_fatal(city, tmp_path):
    """LightGBM has nothing to learn for 'flood' (no event before 2024-07-01): that pair is
    recorded as failed with the reason and the backtest completes (it used to stop, exit 4)."""
    events = new_category(city.events, "2024-07-01")
    result = run_backtest(
        city.grids, events, "2024-07-01", "2024-07-07", targets=("any", "flood"), config=FAST,
        train_start="2024-04-01",
    )  # fmt: skip
    flood = result.metrics["targets"]["flood"]["models"]
    assert flood["lightgbm"]["status"] == "failed"
    assert flood["lightgbm"]["reason"].startswith("target 'flood' has no event in the")
    assert "pr_auc" in flood["seppexp"]  # the classic methods still measured
    assert "pr_auc" in result.metrics["targets"]["any"]["models"]["lightgbm"]
    assert [n for n in result.notes if n.startswith("lightgbm has no model for target flood")]
    paths = write_outputs(result, tmp_path, report=write_report)
    assert (
        json.loads(paths["metrics"].read_text())["targets"]["flood"]["models"]["lightgbm"]["status"]
        == "failed"
    )


def test_history_whose_first_training_window_closes_after_start_is_one_clear_error(city):
    """45 days of data: training starts after the 28 warm-up days (2024-05-29 for data from
    2024-05-01) and its first window closes 2024-06-01, after --start 2024-05-31 (it used to
    end in an IndexError deep in the classic stack)."""
    events = city.events[
        city.events["occurred_at"] >= pd.Timestamp("2024-05-01", tz="Asia/Shanghai")
    ]
    with pytest.raises(ConfigError, match=r"first 72 h window does not close before --start "
                       r"2024-05-31; give a later --start, weeks after 2024-06-01"):  # fmt: skip
        run_backtest(city.grids, events, "2024-05-31", "2024-06-06", targets=TARGETS, config=FAST)
