"""`risk events load`: counts that add up, idempotent reloads, conflicts kept apart, the
quarantine file, one audit entry per load; and the integration accounts of `risk users`."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from risk.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_QUARANTINED, app
from serve.db import session_factory, transaction
from serve.repo import audit
from serve.repo.events import load_events

runner = CliRunner()

GRIDS = """grid_id,community_id,street_id,centroid_lon,centroid_lat
g1,c1,s1,121.40,31.20
g2,c1,s1,121.41,31.20
g3,c2,s1,121.42,31.21
"""
# 6 rows: 3 good, 1 exact repeat of row 3 (line 4), a bad time (line 5), an unknown grid (line 6)
EVENTS = """event_id,occurred_at,reported_at,category,grid_id,source,severity
e1,2024-05-01T08:00:00,2024-05-01T09:00:00,theft,g1,hotline,3
e2,2024-05-01T10:00:00,,dispute,g2,,
e2,2024-05-01T10:00:00,,dispute,g2,,
e3,yesterday,,theft,g1,,
e4,2024-05-02T08:00:00,,fire,g9,,
e5,2024-05-02T09:00:00,,Fire Hazard,g3,resident,2
"""


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_CITY_GRIDS", raising=False)
    monkeypatch.delenv("RISK_DATABASE_URL", raising=False)
    (tmp_path / "grids.csv").write_text(GRIDS, encoding="utf-8")
    (tmp_path / "events.csv").write_text(EVENTS, encoding="utf-8")
    return tmp_path


def load(files, *extra, events="events.csv"):
    args = ["events", "load", "--events", str(files / events), "--grids",
            str(files / "grids.csv"), "--data-dir", str(files / "data"), *extra]  # fmt: skip
    return runner.invoke(app, args)


def flat(output: str) -> str:
    """The output as one line of words (the table's rules and the terminal's wrapping gone)."""
    return " ".join(output.replace("│", " ").split())


def database(files):
    return session_factory(f"sqlite:///{(files / 'data' / 'risk.db').resolve()}")


def stored(files):
    with database(files)() as s:
        return load_events(s)


def audited(files):
    with database(files)() as s:
        entries, _ = audit.list_entries(s, actor="cli")
    return [e for e in entries if e.action == "events.load"]


def test_a_load_counts_every_row_once_and_the_counts_add_up(files):
    result = load(files, "--quarantine", str(files / "q.csv"))
    assert result.exit_code == 0, result.output
    assert (
        "read 6 = stored 3 + duplicates 1 + conflicts 0 + quarantined 2; the store holds 3 events"
        in flat(result.output)
    )
    assert f"database: sqlite:///{(files / 'data' / 'risk.db').resolve()}" in result.output
    events = stored(files)
    assert events["event_id"].tolist() == ["e1", "e2", "e5"]
    assert events["category"].tolist() == ["theft", "dispute", "fire_hazard"]
    assert str(events["reported_at"].iloc[0]) == "2024-05-01 09:00:00+08:00"
    q = pd.read_csv(files / "q.csv", dtype=str)
    assert q[["row", "reason"]].values.tolist() == [
        ["5", "bad_occurred_at"],
        ["6", "unknown_grid_id"],
    ]
    assert q["detail"].tolist() == ["occurred_at='yesterday'", "grid_id='g9'"]
    (entry,) = audited(files)
    assert (entry.object_type, entry.after["read"], entry.after["stored"]) == ("event_batch", 6, 3)
    assert entry.after["by_reason"] == {"bad_occurred_at": 1, "unknown_grid_id": 1}


def test_loading_the_same_file_again_stores_nothing_new(files):
    assert load(files).exit_code == 0
    again = load(files)
    assert again.exit_code == 0, again.output
    text = flat(again.output)
    assert "read 6 = stored 0 + duplicates 4 + conflicts 0 + quarantined 2" in text
    assert "already stored 3" in text and "repeated in the file 1" in text
    assert len(stored(files)) == 3
    assert [e.after["stored"] for e in audited(files)] == [0, 3]  # one entry per load


def test_a_load_says_how_many_stored_times_daylight_saving_moved(files):
    dst = "event_id,occurred_at,category,grid_id\nd1,2024-03-10T02:30:00,theft,g1\n"
    (files / "dst.csv").write_text(dst, encoding="utf-8")
    result = load(files, "--tz", "America/Chicago", events="dst.csv")
    assert result.exit_code == 0, result.output
    assert "stored, adjusted: dst_nonexistent_shifted 1" in flat(result.output)
    when = stored(files)["occurred_at"].iloc[0]
    assert str(when.tz_convert("America/Chicago")) == "2024-03-10 03:00:00-05:00"


def test_a_changed_event_under_a_stored_id_is_a_conflict_and_is_not_stored(files):
    assert load(files).exit_code == 0
    changed = EVENTS.replace("e1,2024-05-01T08:00:00,2024-05-01T09:00:00,theft",
                             "e1,2024-05-01T08:00:00,2024-05-01T09:00:00,dispute")  # fmt: skip
    (files / "changed.csv").write_text(changed, encoding="utf-8")
    result = load(files, "--strict", "--quarantine", str(files / "q.csv"), events="changed.csv")
    assert result.exit_code == EXIT_QUARANTINED, result.output
    text = flat(result.output)
    assert "read 6 = stored 0 + duplicates 3 + conflicts 1 + quarantined 2" in text
    assert "conflict: row 2, event_id 'e1': category differ from the stored event" in text
    assert stored(files).set_index("event_id").loc["e1", "category"] == "theft"
    q = pd.read_csv(files / "q.csv", dtype=str)
    assert q[["row", "reason", "detail"]].values.tolist()[0] == [
        "2", "conflict", "category differ from the stored event"
    ]  # fmt: skip


def test_a_file_without_a_valid_row_stops_and_stores_nothing(files):
    (files / "bad.csv").write_text(
        "event_id,occurred_at,category,grid_id\nx1,soon,theft,g1\nx2,2024-05-01,theft,g7\n",
        encoding="utf-8",
    )
    result = load(files, events="bad.csv")
    assert result.exit_code == EXIT_INPUT
    assert "no valid rows out of 2" in result.output and "Traceback" not in result.output
    assert stored(files).empty and audited(files) == []


def test_a_missing_column_is_one_line_and_exit_3(files):
    (files / "nocat.csv").write_text("occurred_at,grid_id\n2024-05-01,g1\n", encoding="utf-8")
    result = load(files, events="nocat.csv")
    assert result.exit_code == EXIT_INPUT
    assert "field 'category': required column is missing" in result.output


def test_grids_come_from_the_database_else_the_city_grids_file(files, monkeypatch):
    base = ["events", "load", "--events", str(files / "events.csv"),
            "--data-dir", str(files / "data")]  # fmt: skip
    none = runner.invoke(app, base)
    assert none.exit_code == EXIT_INPUT
    assert "holds no grids yet" in none.output and "--grids" in none.output
    monkeypatch.setenv("RISK_CITY_GRIDS", str(files / "grids.csv"))
    from_setting = runner.invoke(app, base)
    assert from_setting.exit_code == 0, from_setting.output
    assert f"grids: {files / 'grids.csv'}" in flat(from_setting.output)
    monkeypatch.delenv("RISK_CITY_GRIDS")
    from risk.loaders import load_grids
    from serve.repo.grids import upsert_grids

    with transaction(database(files)) as s:
        upsert_grids(s, load_grids(files / "grids.csv").valid)
    from_db = runner.invoke(app, base)
    assert from_db.exit_code == 0, from_db.output
    assert "grids: the grids stored in the service database" in flat(from_db.output)


def test_a_grids_file_of_another_city_is_refused_once_the_service_holds_grids(files):
    from risk.loaders import load_grids
    from serve.repo.grids import upsert_grids

    assert load(files).exit_code == 0  # creates the store; 3 events stored
    with transaction(database(files)) as s:
        upsert_grids(s, load_grids(files / "grids.csv").valid)
    other = GRIDS.replace("g1,", "x1,").replace("g2,", "x2,").replace("g3,", "x3,")
    (files / "other.csv").write_text(other, encoding="utf-8")
    (files / "other_events.csv").write_text(
        "occurred_at,category,grid_id\n2024-05-01T08:00:00,theft,x1\n", encoding="utf-8"
    )
    args = ["events", "load", "--events", str(files / "other_events.csv"), "--grids",
            str(files / "other.csv"), "--data-dir", str(files / "data")]  # fmt: skip
    refused = runner.invoke(app, args)
    assert refused.exit_code == EXIT_INPUT, refused.output
    assert "none of its 3 grid ids (x1, x2, x3, ...) is one of the 3 grids" in flat(refused.output)
    assert len(stored(files)) == 3
    # a grown city (new grids beside the stored ones) still loads
    (files / "grown.csv").write_text(GRIDS + "x1,c2,s1,121.43,31.21\n", encoding="utf-8")
    args[5] = str(files / "grown.csv")
    grown = runner.invoke(app, args)
    assert grown.exit_code == 0, grown.output
    assert stored(files)["grid_id"].tolist().count("x1") == 1


def test_an_integration_account_gets_a_token_and_no_password(files):
    url = ["--database-url", f"sqlite:///{files / 'users.db'}"]
    added = runner.invoke(app, ["users", "add", "case-system", "--role", "integration", *url])
    assert added.exit_code == 0, added.output
    assert "user case-system (integration, city) created" in added.output
    assert len(added.output.strip().splitlines()[-1]) >= 40  # the token, printed once
    token = runner.invoke(app, ["users", "token", "case-system", *url])
    assert token.exit_code == 0 and "API token" in token.output
    refused = runner.invoke(app, ["users", "add", "feed2", "--role", "integration", "--password",
                                  *url], input="long enough pw\nlong enough pw\n")  # fmt: skip
    assert refused.exit_code == EXIT_CONFIG
    assert "has no web login" in refused.output
