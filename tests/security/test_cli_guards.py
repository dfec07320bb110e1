"""Commands that must stop with one plain line and the README's exit code (issue 14, items 6,
8 and 15): an issue time out of range or out of reach of the data, and `risk serve` with a
certificate and key that do not fit or on a busy port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from risk.cli import EXIT_CONFIG, app
from risk.issue_guard import IssueTimeRefused, check_issue_time, parse_issue_time
from tests.security.conftest import self_signed
from tests.serve.web.conftest import free_port

runner = CliRunner()
TZ = "Asia/Shanghai"
GRIDS = Path(__file__).resolve().parents[1] / "fixtures" / "contract" / "grids.geojson"


@pytest.fixture
def city(tmp_path) -> list[str]:
    """Score arguments for events from 2024-05-01 08:00 to 2024-05-05 08:00 (city time)."""
    events = tmp_path / "events.csv"
    events.write_text(
        "occurred_at,category,grid_id\n2024-05-01 08:00,theft,g00\n2024-05-05 08:00,theft,g01\n"
    )
    return ["score", "--grids", str(GRIDS), "--events", str(events), "--data-dir", str(tmp_path)]


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def test_an_issue_time_in_year_9999_is_one_line(city):
    result = runner.invoke(app, [*city, "--at", "9999-01-01T08:00"])
    assert result.exit_code == EXIT_CONFIG
    assert one_error_line(result.output) == (
        "error: issue time '9999-01-01T08:00' is outside the years 1678..2261 a forecast can "
        "use; give e.g. 2025-12-01T08:00 (city time) or 2025-12-01T00:00Z"
    )


def test_an_issue_time_years_after_the_data_needs_force(city):
    result = runner.invoke(app, [*city, "--at", "2030-01-01T08:00"])
    assert result.exit_code == EXIT_CONFIG
    # 2024-05-05 08:00 -> 2030-01-01 08:00: 2,067 days
    assert one_error_line(result.output) == (
        "error: issue time 2030-01-01 08:00 CST is 2,067 days 0 h after the newest event "
        "(2024-05-05 08:00), more than the 72 h horizon: days without data would count as days "
        "without events. Fix: give a time by 2024-05-08 08:00, or update the events file, or "
        "add --force if this is really meant"
    )


def test_force_lets_a_far_issue_time_past_the_guard(city):
    result = runner.invoke(app, [*city, "--at", "2030-01-01T08:00", "--force"])
    # past the guard, the run goes on and stops at the next missing piece: no model yet
    assert one_error_line(result.output) == (
        "error: model 'grid-risk' has no champion; promote a version first (risk model promote)"
    )


def test_an_issue_time_before_the_first_event_needs_force(city):
    result = runner.invoke(app, [*city, "--at", "2024-04-01T08:00"])
    assert result.exit_code == EXIT_CONFIG
    assert "is before the first event (2024-05-01 08:00)" in one_error_line(result.output)


def test_the_guard_as_a_function():
    events = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-05-01 08:00"]).tz_localize(TZ)})
    within = parse_issue_time("2024-05-04T08:00", TZ)  # exactly 72 h later: allowed
    check_issue_time(within, events, now=pd.Timestamp("2024-05-04T08:00", tz=TZ))
    later = parse_issue_time("2024-05-04T09:00", TZ)
    with pytest.raises(IssueTimeRefused, match="1 h after the newest event"):
        check_issue_time(later, events)
    with pytest.raises(IssueTimeRefused, match="is after now"):  # the service's daily run
        check_issue_time(within, events, now=within - pd.Timedelta(hours=1))
    check_issue_time(later, events, force=True)


def test_scoring_after_now_is_refused_before_any_model_is_loaded(tmp_path):
    from serve.scoring import score

    now = datetime.now(UTC)
    events = pd.DataFrame({"occurred_at": [pd.Timestamp(now - timedelta(hours=1)).tz_convert(TZ)]})
    with pytest.raises(IssueTimeRefused, match="after now"):
        score(
            pd.Timestamp(now + timedelta(days=1)),
            pd.DataFrame(),
            events,
            factory=None,  # never reached
            model_dir=tmp_path / "no-model",
            now=now,
        )


def serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`risk serve` in a child process (uvicorn must not run inside the test process)."""
    risk = Path(sys.executable).parent / "risk"
    return subprocess.run(
        [str(risk), "serve", "--no-scheduler", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin", "RISK_DATA_DIR": "data"},
    )


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and its key (PEM)."""
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_serve_with_certificate_and_key_swapped_is_one_line_exit_4(tls_pair, tmp_path):
    certfile, keyfile = tls_pair
    done = serve(
        tmp_path, "--port", str(free_port()), "--certfile", str(keyfile), "--keyfile", str(certfile)
    )
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.strip() == (
        f"error: --certfile {keyfile} and --keyfile {certfile} are not a TLS certificate and "
        "its private key (they look swapped); fix: give the certificate (BEGIN CERTIFICATE) to "
        "--certfile and its private key (BEGIN ... PRIVATE KEY) to --keyfile"
    )


def test_serve_on_a_busy_port_is_one_line_exit_4(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve(tmp_path, "--port", str(port))
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is already in use (another `risk serve`?); fix: stop "
        "that service or pass another --port"
    )


def test_audit_verify_of_a_mistyped_data_dir_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_DATABASE_URL", raising=False)
    missing = tmp_path / "no-such-dir"
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(missing)])
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "no service database at" in " ".join(result.output.split())
    assert not missing.exists()  # no folder, database or key made on the way
