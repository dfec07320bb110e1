"""The `risk` command end to end on small inputs: files written, exit codes, one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from risk.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_QUARANTINED, app

runner = CliRunner()


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city")
    result = runner.invoke(
        app, ["synth", "--out", str(out), "--grids", "36", "--days", "60", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_synth_writes_the_three_files(city):
    assert {p.name for p in city.iterdir()} >= {"grids.geojson", "events.csv", "truth.json"}
    grids = json.loads((city / "grids.geojson").read_text())
    assert grids["type"] == "FeatureCollection" and len(grids["features"]) == 36
    assert json.loads((city / "truth.json").read_text())["seed"] == 7


def test_validate_clean_city_exits_0(city):
    result = runner.invoke(
        app,
        ["validate", "--grids", str(city / "grids.geojson"), "--events", str(city / "events.csv")],
    )
    assert result.exit_code == 0, result.output
    assert "quarantined" in result.output


def test_validate_strict_exits_1_and_quarantine_reconciles(city, tmp_path):
    events = pd.read_csv(city / "events.csv", dtype=str)
    n = len(events)
    broken = pd.concat([events, events.iloc[[0]]])  # one exact duplicate
    broken.loc[broken.index[1], "category"] = ""  # one missing category
    broken.to_csv(tmp_path / "events.csv", index=False)
    quarantine = tmp_path / "q.csv"
    result = runner.invoke(
        app,
        [
            "validate",
            "--grids",
            str(city / "grids.geojson"),
            "--events",
            str(tmp_path / "events.csv"),
            "--quarantine",
            str(quarantine),
            "--strict",
        ],
    )
    assert result.exit_code == EXIT_QUARANTINED, result.output
    q = pd.read_csv(quarantine)
    assert q["reason"].tolist() == ["missing_category"]
    # input n + 1 rows = (n - 1) valid + 1 quarantined + 1 duplicate
    assert f"{n + 1}" in result.output and f"{n - 1}" in result.output


def _validate(city, events: pd.DataFrame, tmp_path, *extra: str):
    """`risk validate` of the city's grids and `events` (written to tmp_path)."""
    events.to_csv(tmp_path / "events.csv", index=False)
    files = ["--grids", str(city / "grids.geojson"), "--events", str(tmp_path / "events.csv")]
    return runner.invoke(app, ["validate", *files, *extra], terminal_width=200)


def test_validate_counts_dst_wall_times_it_adjusted(city, tmp_path):
    events = pd.read_csv(city / "events.csv", dtype=str).head(3)
    events["occurred_at"] = ["2025-03-09 02:30", "2025-11-02 01:30", "2025-06-01 10:00"]
    events["reported_at"] = events["occurred_at"]
    result = _validate(city, events, tmp_path, "--tz", "America/Chicago")
    assert result.exit_code == 0, result.output
    assert "valid, adjusted: dst_nonexistent_shifted" in result.output
    assert "valid, adjusted: dst_ambiguous_as_standard" in result.output
    assert "read as standard time" in " ".join(result.output.split())


def test_validate_missing_occurred_at_is_one_line_exit_3(city, tmp_path):
    events = pd.read_csv(city / "events.csv", dtype=str).drop(columns="occurred_at")
    result = _validate(city, events, tmp_path)
    assert result.exit_code == EXIT_INPUT
    assert "occurred_at" in result.output and "required column is missing" in result.output
    assert "Traceback" not in result.output


def test_features_writes_the_frame(city, tmp_path):
    out = tmp_path / "f.parquet"
    result = runner.invoke(
        app,
        [
            "features",
            "--grids",
            str(city / "grids.geojson"),
            "--events",
            str(city / "events.csv"),
            "--start",
            "2024-02-01",
            "--end",
            "2024-02-03",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert len(frame) == 3 * 36
    assert list(frame.columns[:2]) == ["grid_id", "issue_time"]
    assert {"events_28d_any", "count_any", "label_any", "window_holiday_share"} <= set(
        frame.columns
    )
    assert str(frame["issue_time"].iloc[0]) == "2024-02-01 08:00:00+08:00"


def test_features_bad_dates_is_a_config_error(city, tmp_path):
    result = runner.invoke(
        app,
        [
            "features",
            "--grids",
            str(city / "grids.geojson"),
            "--events",
            str(city / "events.csv"),
            "--start",
            "2024-02-03",
            "--end",
            "2024-02-01",
            "--out",
            str(tmp_path / "f.parquet"),
        ],
    )
    assert result.exit_code == EXIT_CONFIG
    assert "before start" in result.output


def test_describe_lists_family_and_both_labels():
    result = runner.invoke(app, ["features", "--describe"])
    assert result.exit_code == 0, result.output
    rows = [
        line.split("\t")
        for line in result.output.splitlines()
        if "\t" in line and not line.startswith("#")
    ]
    by_name = {r[0]: r for r in rows}
    assert by_name["events_28d_any"][1] == "history"
    assert by_name["window_holiday_share"][1] == "calendar"
    assert all(len(r) == 4 and r[2] and r[3] for r in rows)


@pytest.mark.parametrize("command", ["validate", "features", "backtest", "train", "score"])
def test_unknown_time_zone_is_exit_4_with_one_line_before_any_work(city, tmp_path, command):
    """An unknown --tz used to end in a ZoneInfoNotFoundError traceback in every command."""
    result = runner.invoke(
        app,
        [command, "--grids", str(city / "grids.geojson"), "--events", str(city / "events.csv"),
         "--tz", "Asia/Shangai"],
    )  # fmt: skip
    assert result.exit_code == EXIT_CONFIG, result.output
    assert result.output.strip() == (
        "error: unknown time zone 'Asia/Shangai'; give an IANA name such as Asia/Shanghai or "
        "America/Chicago (names are case-sensitive)"
    )


def test_a_data_dir_that_is_a_file_is_one_line_naming_it(tmp_path):
    taken = tmp_path / "afile"
    taken.write_text("not a folder")
    result = CliRunner().invoke(app, ["model", "list", "--data-dir", str(taken)])
    assert result.exit_code == EXIT_CONFIG, result.output
    assert f"--data-dir {taken} is not a folder this command can write to" in result.output


def test_a_database_error_is_one_line_and_exit_4(capsys):
    """A read-only or damaged SQLite file surfaces as SQLAlchemy's OperationalError, alone or
    as the cause of MLflow's exception: one line naming the driver's words, never a traceback."""
    import sqlite3

    import typer
    from sqlalchemy.exc import OperationalError

    from risk.cli.common import domain_errors

    driver = sqlite3.OperationalError("attempt to write a readonly database")

    @domain_errors
    def direct() -> None:
        raise OperationalError("INSERT INTO runs", {}, driver)

    @domain_errors
    def wrapped() -> None:
        try:
            direct.__wrapped__()
        except OperationalError as exc:
            raise RuntimeError("mlflow could not log") from exc

    for command in (direct, wrapped):
        with pytest.raises(typer.Exit) as stopped:
            command()
        assert stopped.value.exit_code == EXIT_CONFIG
        assert "attempt to write a readonly database" in capsys.readouterr().err

    @domain_errors
    def other() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):  # anything else is not hidden
        other()
