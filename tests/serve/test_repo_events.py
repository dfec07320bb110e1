"""The event store on SQLite and PostgreSQL: the file loader's frame in and out, idempotent on
event_id, conflicts reported and never overwritten, late reports kept for the known-at-t rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import select

from risk.errors import ConfigError, ContractError
from risk.loaders import load_events
from serve.db import transaction
from serve.repo.events import count_events, store_events
from serve.repo.events import load_events as stored_events
from serve.tables import EventRow
from tests.serve.api_seed import GRIDS

TZ = "Asia/Shanghai"
NOW = datetime(2024, 5, 10, tzinfo=UTC)
CSV = """event_id,occurred_at,reported_at,category,grid_id,source,severity
e1,2024-05-01T08:00:00,2024-05-01T09:30:00,Theft,g1,hotline,3
e2,2024-05-01T23:15:00+00:00,,dispute,g2,,
e3,2024-05-03T10:00:00.123456,2024-05-06T12:00:00,fire hazard,g1,patrol,5
"""


@pytest.fixture
def events(tmp_path):
    """The file loader's frame (`risk.loaders.load_events`) of `CSV`."""
    path = tmp_path / "events.csv"
    path.write_text(CSV, encoding="utf-8")
    return load_events(path, GRIDS, tz=TZ, now=pd.Timestamp(NOW)).valid


def store(factory, frame, batch="b1"):
    with transaction(factory) as s:
        return store_events(s, frame, batch=batch, received_at=NOW)


def stored(factory, **kw):
    with factory() as s:
        return stored_events(s, tz=TZ, **kw)


def test_stored_events_come_back_exactly_as_the_file_loader_gives_them(factory, events):
    outcome = store(factory, events)
    assert outcome.status.tolist() == ["stored"] * 3
    back = stored(factory)
    # same columns, dtypes (tz-aware ns times in the city zone, string source, Int8 severity)
    # and values; ordered by occurred_at (e2's 23:15 UTC is 07:15 on 2 May in Shanghai)
    pd.testing.assert_frame_equal(back, events)
    assert back["reported_at"].tolist()[1] == pd.Timestamp("2024-05-02 07:15", tz=TZ)
    assert back["occurred_at"].iloc[2] == pd.Timestamp("2024-05-03 10:00:00.123456", tz=TZ)


def test_an_empty_store_gives_an_empty_frame_of_the_same_shape(factory, events):
    back = stored(factory)
    assert len(back) == 0
    assert back.dtypes.to_dict() == events.dtypes.to_dict()


def test_storing_the_same_events_again_changes_nothing(factory, events):
    store(factory, events, "b1")
    again = store(factory, events, "b2")
    assert again.counts() == {"stored": 0, "duplicate": 3, "conflict": 0}
    with factory() as s:
        assert count_events(s) == 3
        assert set(s.scalars(select(EventRow.batch))) == {"b1"}


def test_a_different_payload_under_a_stored_id_is_a_conflict_and_the_stored_event_is_kept(
    factory, events
):
    store(factory, events.iloc[:2], "b1")
    changed = events.copy()
    changed.loc[0, "category"] = "dispute"
    changed.loc[0, "reported_at"] = pd.Timestamp("2024-05-01 10:00", tz=TZ)
    outcome = store(factory, changed, "b2")
    assert outcome.status.tolist() == ["conflict", "duplicate", "stored"]
    assert outcome.differences == {"e1": ("reported_at", "category")}
    back = stored(factory).set_index("event_id")
    assert back.loc["e1", "category"] == "theft"
    assert back.loc["e1", "reported_at"] == pd.Timestamp("2024-05-01 09:30", tz=TZ)


def test_a_source_or_severity_added_later_is_a_conflict_too(factory, events):
    store(factory, events.iloc[1:2])  # e2: no source, no severity
    changed = events.iloc[1:2].copy()
    changed["severity"] = pd.array([2], dtype="Int8")
    assert store(factory, changed, "b2").differences == {"e2": ("severity",)}


def test_times_are_compared_to_the_microsecond_the_databases_keep(factory, events):
    store(factory, events)
    finer = events.copy()
    finer["occurred_at"] = finer["occurred_at"] + pd.Timedelta(nanoseconds=400)
    assert store(factory, finer, "b2").counts()["duplicate"] == 3


def test_known_at_keeps_events_occurred_and_reported_by_then(factory, events):
    store(factory, events)
    # e3 occurred on 3 May 10:00 but was reported on 6 May 12:00
    at = pd.Timestamp("2024-05-05 08:00", tz=TZ)
    assert stored(factory, known_at=at)["event_id"].tolist() == ["e1", "e2"]
    assert stored(factory, known_at=pd.Timestamp("2024-05-06 12:00", tz=TZ))[
        "event_id"
    ].tolist() == ["e1", "e2", "e3"]
    # e1 reported at 09:30, an hour and a half after it occurred
    assert stored(factory, known_at=pd.Timestamp("2024-05-01 09:00", tz=TZ)).empty


def test_bad_frames_and_naive_times_are_refused(factory, events):
    with pytest.raises(ContractError, match="event_id"):
        store(factory, pd.concat([events, events.iloc[:1]]))
    with pytest.raises(ContractError, match="lacks a column"):
        store(factory, events.drop(columns="severity"))
    with transaction(factory) as s, pytest.raises(ConfigError, match="timezone-aware"):
        store_events(s, events, batch="b", received_at=datetime(2024, 5, 10))
    with pytest.raises(ConfigError, match="timezone-aware"):
        stored(factory, known_at=pd.Timestamp("2024-05-05"))
    with factory() as s:
        assert count_events(s) == 0
