"""MLflow tracking: explicit local store, data fingerprint, what a backtest run holds."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import os
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

import models.tracking
from models.tracking import (
    client,
    data_fingerprint,
    flatten_metrics,
    flatten_params,
    log_backtest,
    log_model_card,
    start_run,
    tracking_uri,
)
from risk.errors import ConfigError

METRICS = {
    "dataset": {"grids": 4, "events": 10, "start": "2024-01-01", "end": "2024-02-01"},
    "horizon_hours": 72,
    "targets": {
        "any": {
            "base_rate": 0.25,
            "models": {
                "lightgbm": {
                    "pr_auc": 0.5,
                    "pei@5": 0.75,
                    "ece": None,
                    "by_segment": {"old residential": {"rows": 8, "miss_rate@10": 0.125}},
                    "by_street": {"Xinhua Rd": {"rows": 8, "miss_rate@10": 0.5}},
                },
                "kde": {"pr_auc": 0.375},
            },
        }
    },
    "timings_s": {"total": 2.5},
}


def test_tracking_uri_defaults_to_sqlite_in_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_MLFLOW_URI", raising=False)
    assert tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_tracking_uri_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("RISK_MLFLOW_URI", "http://127.0.0.1:5000")
    assert tracking_uri(tmp_path) == "http://127.0.0.1:5000"


def test_importing_tracking_disables_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")
    importlib.reload(models.tracking)
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_data_fingerprint_is_sha256_of_sizes_bytes_and_range(tmp_path):
    a, b = tmp_path / "grids.geojson", tmp_path / "events.csv"
    a.write_bytes(b"ab")
    b.write_bytes(b"xyz")
    # construction spelled out: b"2\n" + b"ab" + b"3\n" + b"xyz" + ISO range
    text = b"2\nab3\nxyz2024-01-01T00:00:00/2024-02-01T00:00:00"
    assert data_fingerprint([a, b], "2024-01-01", "2024-02-01") == hashlib.sha256(text).hexdigest()


def test_data_fingerprint_same_range_spelled_differently(tmp_path):
    a = tmp_path / "events.csv"
    a.write_bytes(b"xyz")
    assert data_fingerprint([a], "2024-01-01", "2024-02-01") == data_fingerprint(
        [a], dt.date(2024, 1, 1), dt.datetime(2024, 2, 1)
    )


def test_data_fingerprint_changes_with_bytes_boundaries_and_range(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"ab")
    b.write_bytes(b"c")
    base = data_fingerprint([a, b], "2024-01-01", "2024-02-01")
    assert data_fingerprint([a, b], "2024-01-01", "2024-02-02") != base
    # same concatenated bytes b"abc", other boundary: b"a" + b"bc"
    a.write_bytes(b"a")
    b.write_bytes(b"bc")
    assert data_fingerprint([a, b], "2024-01-01", "2024-02-01") != base


def test_flatten_metrics_names_and_skips_none():
    assert flatten_metrics(METRICS) == {
        "dataset.grids": 4.0,
        "dataset.events": 10.0,
        "horizon_hours": 72.0,
        "any.base_rate": 0.25,
        "any.lightgbm.pr_auc": 0.5,
        "any.lightgbm.pei_at_5": 0.75,
        "any.lightgbm.by_segment.old residential.rows": 8.0,
        "any.lightgbm.by_segment.old residential.miss_rate_at_10": 0.125,
        "any.kde.pr_auc": 0.375,
        "timings_s.total": 2.5,
    }


def test_flatten_metrics_keeps_streets_only_when_asked():
    flat = flatten_metrics(METRICS, all_segments=True)
    assert flat["any.lightgbm.by_street.Xinhua Rd.miss_rate_at_10"] == 0.5
    assert len(flat) == 12  # the 10 above + the street's rows and miss_rate@10


def test_flatten_params_nests_and_serialises_lists():
    params = {"retrain": "7d", "lightgbm": {"num_leaves": 31}, "targets": ["any", "theft"]}
    assert flatten_params(params) == {
        "retrain": "7d",
        "lightgbm.num_leaves": "31",
        "targets": '["any", "theft"]',
    }


def test_logging_outside_a_run_is_refused():
    with pytest.raises(ConfigError, match="no active MLflow run"):
        log_backtest({}, {}, [], "f")


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """One backtest run logged to a fresh store; returns (data_dir, run)."""
    saved = os.environ.pop("RISK_MLFLOW_URI", None)
    data_dir = tmp_path_factory.mktemp("data")
    report = data_dir / "report.html"
    report.write_text("<html>report</html>")
    plots = data_dir / "plots"
    plots.mkdir()
    (plots / "pr.png").write_bytes(b"\x89PNG")
    with start_run("backtest", data_dir, tags={"command": "backtest"}) as run_id:
        log_backtest(
            METRICS,
            {"retrain": "7d"},
            [("hist_any_7d", "history"), ("is_workday", "calendar")],
            "abc123",
            [report, plots],
        )
        log_model_card("# card", "<html>card</html>")
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved
    return data_dir, client(data_dir).get_run(run_id)


def test_run_holds_flattened_metrics(logged):
    _, run = logged
    assert run.data.metrics["any.lightgbm.pei_at_5"] == 0.75
    assert len(run.data.metrics) == 10


def test_run_holds_params_fingerprint_and_tags(logged):
    _, run = logged
    assert run.data.params == {"retrain": "7d", "data_fingerprint": "abc123", "n_features": "2"}
    assert (run.data.tags["data_fingerprint"], run.data.tags["command"]) == ("abc123", "backtest")
    assert run.info.status == "FINISHED"


def test_run_holds_artifacts_under_data_dir(logged):
    data_dir, run = logged
    c = client(data_dir)
    names = sorted(f.path for f in c.list_artifacts(run.info.run_id))
    assert names == [
        "features.json",
        "metrics.json",
        "model_card.html",
        "model_card.md",
        "plots",
        "report.html",
    ]
    root = Path(run.info.artifact_uri.removeprefix("file://"))
    assert root.is_relative_to((data_dir / "mlartifacts").resolve())
    assert json.loads((root / "features.json").read_text()) == [
        {"name": "hist_any_7d", "family": "history"},
        {"name": "is_workday", "family": "calendar"},
    ]
    assert (root / "plots" / "pr.png").read_bytes() == b"\x89PNG"


def test_failed_block_marks_run_failed(logged, monkeypatch):
    data_dir, _ = logged
    monkeypatch.delenv("RISK_MLFLOW_URI", raising=False)
    with pytest.raises(RuntimeError), start_run("backtest", data_dir) as run_id:
        raise RuntimeError("boom")
    assert client(data_dir).get_run(run_id).info.status == "FAILED"


def test_opening_a_new_store_while_the_service_migrates_its_database(tmp_path, monkeypatch):
    """MLflow's store migrations and the service's run in threads of one process: Alembic's
    context is process-global, so without `risk.locks.MIGRATIONS` both fail (KeyError
    'script', missing tables)."""
    import threading

    from models.registry import list_versions
    from serve.db import table_names, upgrade

    monkeypatch.delenv("RISK_MLFLOW_URI", raising=False)
    errors, listed = [], []

    def guarded(fn):
        def run():
            try:
                fn()
            except Exception as exc:
                errors.append(repr(exc))

        return run

    for trial in range(3):
        store = tmp_path / f"t{trial}"
        url = f"sqlite:///{store}/service.db"
        jobs = [
            lambda store=store: listed.append(list_versions(data_dir=store)),
            lambda url=url: upgrade(url),
            lambda store=store: listed.append(list_versions(data_dir=store)),
        ]
        threads = [threading.Thread(target=guarded(job)) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert "audit_head" in table_names(url)
    assert listed == [[]] * 6


def test_a_damaged_store_is_a_config_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_MLFLOW_URI", raising=False)
    (tmp_path / "mlflow.db").write_text("not a database")
    with pytest.raises(
        ConfigError, match=r"cannot open the MLflow store \(sqlite:///.*mlflow\.db\)"
    ):
        client(tmp_path)
