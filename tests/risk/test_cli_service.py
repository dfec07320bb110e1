"""`risk serve` says what its scheduler will do: daily scoring needs only RISK_CITY_GRIDS (events
from RISK_CITY_EVENTS when set, else from the event store); `risk users add --help` lists every
role."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from risk.cli import app

runner = CliRunner()


@pytest.fixture
def no_server(monkeypatch, tmp_path):
    """`serve.app.run` replaced: the command prints its lines and returns."""
    import serve.app

    monkeypatch.setattr(serve.app, "run", lambda **_: None)
    monkeypatch.setenv("RISK_DATA_DIR", str(tmp_path))
    for name in ("RISK_CITY_GRIDS", "RISK_CITY_EVENTS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def scheduler_line():
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long lines
    return text[text.index("scheduler:") :]


def test_daily_scoring_needs_only_the_grids(no_server, tmp_path):
    assert scheduler_line() == (
        "scheduler: escalation/expiry sweep (no daily scoring: set RISK_CITY_GRIDS to the "
        "city's grids file)"
    )
    no_server.setenv("RISK_CITY_GRIDS", str(tmp_path / "grids.geojson"))
    assert scheduler_line() == (
        "scheduler: escalation/expiry sweep and daily scoring (events from the event store)"
    )
    no_server.setenv("RISK_CITY_EVENTS", str(tmp_path / "events.csv"))
    assert scheduler_line() == (
        "scheduler: escalation/expiry sweep and daily scoring (events from "
        f"{tmp_path / 'events.csv'})"
    )


def test_the_role_help_lists_integration():
    result = runner.invoke(app, ["users", "add", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "grid_worker, admin, integration" in text
