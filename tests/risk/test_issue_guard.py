"""`parse_issue_time` on the wall times a daylight-saving change skips or repeats."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from risk.cli import EXIT_CONFIG, app
from risk.errors import ConfigError
from risk.issue_guard import parse_issue_time

TZ = "America/Chicago"  # 2024-03-10 02:00 -> 03:00; 2024-11-03 02:00 -> 01:00


@pytest.mark.parametrize(
    ("at", "example"),
    [
        ("2024-03-10T02:30", "2024-03-10T02:30-06:00"),
        ("2024-11-03T01:30", "2024-11-03T01:30-05:00"),
    ],
)
def test_a_wall_time_the_clocks_skip_or_repeat_is_refused_in_plain_words(at, example):
    with pytest.raises(ConfigError, match="the clocks change then") as info:
        parse_issue_time(at, TZ)
    assert str(info.value).endswith(
        f"give another time, or one with its UTC offset, e.g. {example}"
    )


def test_the_same_moments_with_an_offset_or_off_the_change_are_read():
    assert parse_issue_time("2024-11-03T01:30-05:00", TZ) == pd.Timestamp("2024-11-03 06:30Z")
    assert parse_issue_time("2024-11-03T01:30-06:00", TZ) == pd.Timestamp("2024-11-03 07:30Z")
    assert parse_issue_time("2024-03-10T08:00", TZ) == pd.Timestamp("2024-03-10 13:00Z")


def test_risk_score_at_a_skipped_hour_is_exit_4_with_one_line(tmp_path):
    result = CliRunner().invoke(
        app,
        ["score", "--grids", str(tmp_path / "g.geojson"), "--events", str(tmp_path / "e.csv"),
         "--at", "2024-03-10T02:30", "--tz", TZ, "--data-dir", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "is not one moment in America/Chicago" in result.output
    assert "Traceback" not in result.output
