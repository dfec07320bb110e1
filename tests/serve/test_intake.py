"""`serve.intake.ingest`: every input row in exactly one of four places, row numbers as the
input gave them, the audit entry of the batch, and nothing kept on a fatal error."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from risk.errors import ContractError
from serve.db import transaction
from serve.intake import ingest, raw_frame, row_messages
from serve.repo import audit
from serve.repo.events import count_events
from tests.serve.api_seed import GRIDS

NOW = datetime(2024, 5, 10, tzinfo=UTC)
ROWS = [
    {"event_id": "k1", "occurred_at": "2024-05-01T08:00", "category": "theft", "grid_id": "g1"},
    {"event_id": "k2", "occurred_at": "2024-05-01T09:00", "category": "theft", "grid_id": "g2"},
    {"event_id": "k1", "occurred_at": "2024-05-01T08:00", "category": "theft", "grid_id": "g1"},
    {"event_id": "k3", "occurred_at": "2024-05-01T09:00", "category": "theft", "severity": "9",
     "grid_id": "g2"},
    {"event_id": "k" * 201, "occurred_at": "2024-05-01T09:00", "category": "theft", "grid_id": "g3"},
]  # fmt: skip


def run(factory, rows, now_override=None, **kw):
    raw = raw_frame(rows)
    raw.index = pd.RangeIndex(2, len(raw) + 2, name="row")  # as a CSV's lines: header is 1
    now = now_override or NOW
    with transaction(factory) as s:
        return ingest(s, raw, GRIDS, actor="cli", action="events.load", now=now, **kw)


def test_every_row_lands_in_one_place_with_its_input_row_number(factory):
    first = run(factory, ROWS[:2])
    assert first.counts() == {"read": 2, "stored": 2, "duplicates": 0, "conflicts": 0,
                              "quarantined": 0}  # fmt: skip
    changed = [{**ROWS[0], "category": "fire"}, *ROWS[1:]]
    second = run(factory, changed)
    rows = second.rows
    assert rows["row"].tolist() == [2, 3, 4, 5, 6]
    # k1 changed (conflict); k2 again (a duplicate of the stored one); line 4 no longer repeats
    # line 2: a second k1 with other values; severity 9; an event_id of 201 characters (a
    # category is never too long: it is normalised to at most 48, risk.contract)
    assert rows["status"].tolist() == ["conflict", "duplicate", "rejected", "rejected", "rejected"]
    assert rows["reason"].tolist()[2:] == ["duplicate_event_id", "bad_severity", "not_storable"]
    assert second.by_reason() == {"bad_severity": 1, "duplicate_event_id": 1, "not_storable": 1}
    assert row_messages(rows.iloc[3].to_dict()) == [
        ("severity", "bad_severity: severity must be an integer from 1 to 5 (got '9')")
    ]
    assert second.quarantine[["row", "reason"]].values.tolist() == [
        [2, "conflict"], [4, "duplicate_event_id"], [5, "bad_severity"], [6, "not_storable"]
    ]  # fmt: skip
    assert second.quarantine.loc[0, "detail"] == "category differ from the stored event"


def test_an_exact_repeat_names_the_row_it_repeats(factory):
    intake = run(factory, ROWS[:3])
    assert intake.rows["status"].tolist() == ["stored", "stored", "duplicate"]
    assert intake.rows.loc[2, ["event_id", "detail"]].tolist() == ["k1", "same as row 2"]
    assert intake.summary()["duplicates_in_input"] == 1


def test_stored_rows_whose_dst_wall_time_was_adjusted_are_counted(factory):
    # America/Chicago: 2024-03-10 02:00-03:00 does not exist, 2024-11-03 01:00-02:00 repeats
    rows = [
        {"event_id": "d1", "occurred_at": "2024-03-10T02:30", "category": "theft", "grid_id": "g1"},
        {"event_id": "d2", "occurred_at": "2024-11-03T01:30", "category": "theft", "grid_id": "g1"},
        {"event_id": "d3", "occurred_at": "2024-03-10T02:45", "category": "theft", "severity": "9",
         "grid_id": "g1"},
    ]  # fmt: skip
    later = datetime(2025, 1, 1, tzinfo=UTC)
    first = run(factory, rows, tz="America/Chicago", now_override=later)
    assert first.counts()["stored"] == 2 and first.by_reason() == {"bad_severity": 1}
    assert first.summary()["adjusted"] == {
        "dst_nonexistent_shifted": 1,  # d1; d3 was quarantined
        "dst_ambiguous_as_standard": 1,
    }
    again = run(factory, rows[:2], tz="America/Chicago", now_override=later)
    assert again.counts()["duplicates"] == 2 and again.summary()["adjusted"] == {}


def test_the_batch_is_one_audit_entry_with_counts_and_no_event_contents(factory):
    intake = run(factory, ROWS, audit_extra={"via": "cli"})
    with factory() as s:
        entries, total = audit.list_entries(s)
    assert total == 1
    (entry,) = entries
    assert (entry.actor, entry.action, entry.object_id) == ("cli", "events.load", intake.batch)
    assert entry.after == {
        "file": "events", "read": 5, "stored": 2, "duplicates": 1, "conflicts": 0,
        "quarantined": 2, "by_reason": {"bad_severity": 1, "not_storable": 1}, "via": "cli",
    }  # fmt: skip


def test_a_missing_required_column_is_fatal_and_keeps_nothing(factory):
    raw = raw_frame(ROWS).drop(columns="category")
    with pytest.raises(ContractError, match="category"), transaction(factory) as s:
        ingest(s, raw, GRIDS, actor="cli", action="events.load", now=NOW)
    with factory() as s:
        assert count_events(s) == 0
        assert audit.list_entries(s)[1] == 0
