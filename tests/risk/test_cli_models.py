"""`risk backtest` -> `risk train` -> `risk model promote/list/rollback` on a small city.

The approver is an admin account of the service database in the data dir ("Li Wei"); every
promotion, refusal and rollback is in its audit log.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from risk.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_REFUSED, app
from serve.db import session_factory
from serve.repo.audit import list_entries, verify

runner = CliRunner()
FAST_TOML = """
config_version = 2
[training]
num_boost_round = 15
early_stopping_rounds = 5
[lightgbm]
num_leaves = 7
min_data_in_leaf = 20
learning_rate = 0.3
max_bin = 31
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("models_cli")
    result = runner.invoke(
        app, ["synth", "--out", str(root / "city"), "--grids", "49", "--days", "150", "--seed", "4"]
    )
    assert result.exit_code == 0, result.output
    (root / "fast.toml").write_text(FAST_TOML)
    city = root / "city"
    args = ["--grids", str(city / "grids.geojson"), "--events", str(city / "events.csv")]
    result = runner.invoke(
        app,
        [
            "backtest",
            *args,
            "--start",
            "2024-05-01",
            "--end",
            "2024-05-07",
            "--out",
            str(root / "bt"),
            "--config",
            str(root / "fast.toml"),
            "--data-dir",
            str(root / "data"),
        ],
    )
    assert result.exit_code == 0, result.output
    added = runner.invoke(app, ["users", "add", "Li Wei", "--role", "admin", *_db(root)])
    assert added.exit_code == 0, added.output
    return root, args, result.output


def _db(root) -> list[str]:
    return ["--database-url", f"sqlite:///{root / 'data' / 'risk.db'}"]


def test_backtest_writes_outputs_with_the_oracle(work):
    root, _, output = work
    metrics = json.loads((root / "bt" / "metrics.json").read_text())
    assert metrics["issue_times"] == 7 and metrics["horizon_hours"] == 72
    models = metrics["targets"]["any"]["models"]
    assert {
        "lightgbm",
        "historical_rate",
        "recent_30d",
        "kde",
        "prospective",
        "seppexp",
        "oracle",
    } <= set(models)
    assert models["oracle"]["miss_rate_true@10"] == 0.0
    predictions = pd.read_parquet(root / "bt" / "predictions.parquet")
    assert list(predictions.columns) == [
        "issue_time",
        "grid_id",
        "target",
        "model",
        "score",
        "label",
        "count",
    ]
    assert (root / "bt" / "report.html").exists()
    assert "oracle" in output and "MLflow run" in output


def test_backtest_leaves_patrol_events_out_of_the_labels_by_default(work, tmp_path):
    root, args, _ = work
    metrics = json.loads((root / "bt" / "metrics.json").read_text())
    labels = metrics["labels"]
    assert labels["exclude_sources"] == ["patrol"] and labels["events_left_out"] > 0
    assert metrics["backtest"]["label_exclude_sources"] == ["patrol"]
    bad = runner.invoke(
        app,
        ["backtest", *args, "--start", "2024-05-01", "--end", "2024-05-07", "--out",
         str(tmp_path / "bt"), "--no-track", "--label-exclude-sources", "patrol,police"],
    )  # fmt: skip
    assert bad.exit_code == EXIT_CONFIG, bad.output
    assert "unknown source 'police'" in bad.output and "'none'" in bad.output


def _train(work, backtest_dir):
    root, args, _ = work
    return runner.invoke(
        app,
        [
            "train",
            *args,
            "--backtest",
            str(backtest_dir),
            "--config",
            str(root / "fast.toml"),
            "--data-dir",
            str(root / "data"),
        ],
    )


def _passing_copy(root):
    """A backtest folder whose metrics pass every gate: the gate logic has its own tests; here
    the point is the command's path through the registry."""
    metrics = json.loads((root / "bt" / "metrics.json").read_text())
    lgb = metrics["targets"]["any"]["models"]["lightgbm"]
    lgb.update({"pr_auc": 0.99, "pei@5": 0.99, "ece": 0.01, "miss_rate@10": 0.5})
    for segment in lgb["by_segment"].values():
        segment["miss_rate@10"] = 0.5
    folder = root / "bt_pass"
    folder.mkdir(exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_train_registers_challengers_and_promotion_is_gated(work):
    root, args, _ = work
    data = ["--data-dir", str(root / "data"), *_db(root)]
    first = _train(work, root / "bt")
    assert first.exit_code == 0, first.output
    assert "version 1 as challenger" in first.output
    # how `any` was forecast (ADR 026): a version-2 config predates the mix, so not mixed
    flat = " ".join(first.output.split())
    assert (
        "note: 'any' is forecast by its own model alone: [stacking] any_from_categories is 0"
        in flat
    )

    # A real backtest of a tiny city: the calibration gate (ece <= 0.03) or another fails.
    refused = runner.invoke(
        app, ["model", "promote", "--version", "1", "--approved-by", "Li Wei", *data]
    )
    assert refused.exit_code == EXIT_REFUSED
    assert "refused" in refused.output and "not promoted" in refused.output

    second = _train(work, _passing_copy(root))
    assert second.exit_code == 0, second.output
    assert (
        "version 2 as challenger" in second.output
        and "gates on the backtest: pass" in second.output
    )

    blank = runner.invoke(app, ["model", "promote", "--version", "2", "--approved-by", " ", *data])
    assert blank.exit_code == EXIT_CONFIG
    stranger = runner.invoke(
        app, ["model", "promote", "--version", "2", "--approved-by", "Zhang San", *data]
    )
    assert stranger.exit_code == EXIT_CONFIG
    assert "'Zhang San' is not a user account" in " ".join(stranger.output.split())

    promoted = runner.invoke(
        app, ["model", "promote", "--version", "2", "--approved-by", "Li Wei", *data]
    )
    assert promoted.exit_code == 0, promoted.output
    assert "champion: v2 (was none), approved by Li Wei" in promoted.output

    listing = runner.invoke(app, ["model", "list", "--data-dir", str(root / "data")])
    assert listing.exit_code == 0
    # the row whose first cell is "2" (a wrapped time such as "20:10" also starts with a 2)
    row2 = next(
        line
        for line in listing.output.splitlines()
        if line.strip("│ ").split("│")[0].strip() == "2"
    )
    assert "champion" in row2 and "Li Wei" in row2

    # Version 1 was never approved: no rollback to it.
    rollback = runner.invoke(
        app, ["model", "rollback", "--to", "1", "--approved-by", "Li Wei", *data]
    )
    assert rollback.exit_code == EXIT_CONFIG

    # Gates are configurable: a looser file lets version 1 through, and rollback returns to 2.
    loose = root / "loose_gates.toml"
    loose.write_text(
        "[baseline]\ntolerance = 1.0\n[segments]\nmax_excess = 1.0\n[calibration]\nmax_ece = 1.0\n"
    )
    forced = runner.invoke(
        app,
        [
            "model",
            "promote",
            "--version",
            "1",
            "--approved-by",
            "Li Wei",
            "--gates",
            str(loose),
            *data,
        ],
    )
    assert forced.exit_code == 0, forced.output
    assert "champion: v1 (was v2)" in forced.output
    back = runner.invoke(app, ["model", "rollback", "--to", "2", "--approved-by", "Li Wei", *data])
    assert back.exit_code == 0, back.output
    assert "champion: v2 (was v1)" in back.output

    with session_factory(_db(root)[1])() as session:
        logged, _ = list_entries(session, object_type="model_version", limit=10)
        assert verify(session).ok
    assert [(e.action, e.actor, e.object_id) for e in reversed(logged)] == [
        ("promotion_refused", "Li Wei", "1"),
        ("promote_model", "Li Wei", "2"),
        ("rollback_refused", "Li Wei", "1"),
        ("promote_model", "Li Wei", "1"),
        ("rollback_model", "Li Wei", "2"),
    ]

    # the champion's manifest records its city time: scoring in another one is refused
    other_tz = runner.invoke(
        app, ["score", *args, "--at", "2024-05-20 08:00", "--tz", "UTC", "--force", *data]
    )
    assert other_tz.exit_code == 0, other_tz.output  # --force scores anyway
    refused = runner.invoke(app, ["score", *args, "--at", "2024-05-20 08:00", "--tz", "UTC", *data])
    assert refused.exit_code == EXIT_INPUT, refused.output
    assert "trained with tz Asia/Shanghai" in " ".join(refused.output.split())


def test_train_without_backtest_metrics_is_one_line_error(work, tmp_path):
    result = _train(work, tmp_path)
    assert result.exit_code == 3
    assert "metrics.json" in result.output and "risk backtest" in result.output


def test_train_refuses_a_backtest_of_another_city(work, tmp_path):
    """The gates would judge the new version by another city's metrics."""
    root, _, _ = work
    other = json.loads((root / "bt" / "metrics.json").read_text())
    other["dataset"]["grids"] = 60
    (tmp_path / "metrics.json").write_text(json.dumps(other))
    result = _train(work, tmp_path)
    assert result.exit_code == 3, result.output
    out = " ".join(result.output.split())
    assert "field 'dataset.grids': the backtest was run on 60 grids" in out
    assert "holds 49" in out and "run `risk backtest` on these grids" in out


def test_score_refuses_a_top_percent_outside_0_to_100(work):
    root, args, _ = work
    result = runner.invoke(
        app, ["score", *args, "--at", "2024-05-20T08:00", "--top-percent", "0", *_db(root)]
    )
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "--top-percent must be in (0, 100], got 0" in result.output
