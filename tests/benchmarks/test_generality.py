"""benchmarks.generality: a failing sub-run is recorded, and the other rows still land."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks import generality


def _summary(lgb: float, best: float) -> dict:
    """A benchmarks.backtest summary with one target, `seppexp` as the best classic."""
    cell = {"lightgbm": lgb, "best_classic": "seppexp", "best": best}
    return {"quality_bars": {}, "any": {}, "targets": {"any": {"pr_auc": cell, "pei@5": cell}}}


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(generality, "RESULTS", tmp_path)
    monkeypatch.setattr(generality, "OUT", tmp_path / "generality")
    return tmp_path


def test_a_failed_run_is_a_row_with_its_reason_and_the_others_still_land(results, monkeypatch):
    (results / "generality").mkdir()
    # a stale summary of the row that fails must not be read as if it had run
    stale = results / "generality" / "synth-500-seed2.json"
    stale.write_text(json.dumps(_summary(0.9, 0.1)))

    def fake_run(cmd, check):
        assert check is False
        json_path = Path(cmd[cmd.index("--json") + 1])
        if json_path.name == "synth-500-seed2.json":
            return subprocess.CompletedProcess(cmd, 3)
        json_path.write_text(json.dumps(_summary(0.41, 0.40)))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(generality.subprocess, "run", fake_run)
    generality.main(["--only", "synth-500-seed2", "synth-3000-seed4"])

    rows = json.loads((results / "generality.json").read_text())["rows"]
    assert rows["synth-500-seed2"]["status"] == "failed"
    assert "exited with status 3" in rows["synth-500-seed2"]["reason"]
    assert rows["synth-500-seed2"]["all_at_least_as_good"] is False
    landed = rows["synth-3000-seed4"]
    assert landed["all_at_least_as_good"] is True
    assert landed["targets"]["any"]["pr_auc"]["difference"] == pytest.approx(0.01)


def test_a_lag_is_told_apart_from_the_evaluations_luck():
    """pei@5 trails by 0.007 with an interval reaching 0 and an oracle that trails too;
    pr_auc trails with an interval wholly below 0; a summary without intervals says "behind"."""
    interval = {"low": -0.02, "high": 0.001}
    below = {"low": -0.004, "high": -0.001}
    metrics = {
        "targets": {
            "dispute": {
                "models": {
                    "lightgbm": {"pr_auc": 0.197, "pei@5": 0.299},
                    "seppexp": {"pr_auc": 0.199, "pei@5": 0.306},
                    "kde": {"pr_auc": 0.150, "pei@5": 0.250},
                    "oracle": {"pr_auc": 0.203, "pei@5": 0.303},
                },
                "paired": {"pei@5": {"seppexp": interval}, "pr_auc": {"seppexp": below}},
            }
        }
    }
    row = generality.compare(metrics)["dispute"]
    assert row["pei@5"]["verdict"] == "behind, within noise"
    assert row["pei@5"]["interval"] == [-0.02, 0.001]
    assert row["pei@5"]["oracle_difference"] == pytest.approx(-0.003)
    assert row["pr_auc"]["verdict"] == "behind"
    assert row["pr_auc"]["oracle_difference"] == pytest.approx(0.004)
    del metrics["targets"]["dispute"]["paired"]
    assert generality.compare(metrics)["dispute"]["pei@5"]["verdict"] == "behind"
    assert generality.compare(metrics)["dispute"]["pei@5"]["interval"] is None


def test_an_unknown_row_is_refused_and_table_runs_nothing(results, monkeypatch):
    def no_run(cmd, check):  # pragma: no cover - must not be called
        raise AssertionError(f"ran {cmd}")

    monkeypatch.setattr(generality.subprocess, "run", no_run)
    with pytest.raises(SystemExit):
        generality.main(["--only", "synth-500-sede2"])
    generality.main(["--table"])
    assert json.loads((results / "generality.json").read_text())["rows"] == {}
