"""Grid workers report events (issue 16, item 2), on SQLite and PostgreSQL: POST /worker/events
stores one event with source grid_worker through the event store, sealed note, scope answered
like a missing grid, idempotent resends, field-level 422s; a patrol's found_issue becomes one
event with source patrol, and every patrol report one visit of exposure.

The app's clock is `NOW` = 2024-05-01 09:00 +08:00 (01:00 UTC); w1's scope is [g1]; run r1
forecast the targets any and theft.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from serve.db import make_engine, session_factory
from serve.repo import audit
from serve.repo.events import get_event, load_events
from serve.repo.exposure import exposure, visit_frame
from serve.tables import EventRow
from tests.serve.api_seed import NOW, bearer, client, seed

URL = "/api/v1/worker/events"
REPORTS = "/api/v1/patrols/reports"
NOW_UTC = datetime(2024, 5, 1, 1, tzinfo=UTC)
SIX = ["dispute", "theft", "fire_hazard", "safety_hazard", "fraud", "petition"]
NOTE = "3号楼电动车在楼道充电，王阿姨说已提醒物业"


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        yield c, s, tmp_path


def post(c, s, body, who="w1", url=URL):
    return c.post(url, json=body, headers=bearer(s.tokens[who]))


def in_db(db_url, data_dir, fn):
    engine = make_engine(db_url)
    try:
        with session_factory(engine, data_dir=data_dir)() as session:
            return fn(session)
    finally:
        engine.dispose()


def entries(db_url, data_dir, action):
    return in_db(db_url, data_dir, lambda s: audit.list_entries(s, action=action)[0])


def test_today_lists_the_categories_a_worker_may_report(api):
    c, s, _ = api
    today = c.get("/api/v1/patrols/today", headers=bearer(s.tokens["w1"])).json()
    # the six of DESIGN §1 (r1's theft is one of them), then other
    assert today["categories"] == [*SIX, "other"]


def test_an_event_is_stored_with_source_grid_worker_and_its_note_sealed(api, db_url):
    c, s, data_dir = api
    body = {"client_event_id": "ev-1", "grid_id": "g1", "category": "Fire hazard",
            "occurred_at": "2024-05-01T08:30:00+08:00", "note": NOTE}  # fmt: skip
    r = post(c, s, body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out == {
        "client_event_id": "ev-1",
        "event_id": "grid_worker:ev-1",
        "grid_id": "g1",
        "category": "fire_hazard",
        "source": "grid_worker",
        "occurred_at": "2024-05-01T00:30:00Z",
        "reported_at": "2024-05-01T01:00:00Z",  # the server's time
        "note": NOTE,
        "created": True,
    }
    events = in_db(db_url, data_dir, load_events)
    assert len(events) == 1
    e = events.iloc[0]
    assert (e["event_id"], e["category"], e["grid_id"], e["source"]) == (
        "grid_worker:ev-1", "fire_hazard", "g1", "grid_worker"
    )  # fmt: skip
    assert e["severity"] is pd.NA
    assert str(events["occurred_at"].iloc[0]) == "2024-05-01 08:30:00+08:00"
    assert str(events["reported_at"].iloc[0]) == "2024-05-01 09:00:00+08:00"
    raw_note = in_db(db_url, data_dir, lambda x: x.scalar(select(EventRow.__table__.c.note)))
    assert raw_note.startswith("enc:v1:") and "王阿姨" not in raw_note
    stored = in_db(db_url, data_dir, lambda x: get_event(x, "grid_worker:ev-1"))
    assert stored["note"] == NOTE
    # one audit entry, as any batch of the event store: the counts, never the note
    [entry] = entries(db_url, data_dir, "events.report")
    assert (entry.actor, entry.object_type) == ("w1", "event_batch")
    assert {k: entry.after[k] for k in ("read", "stored", "duplicates", "conflicts",
                                        "quarantined", "via", "source", "event_id")} == {
        "read": 1, "stored": 1, "duplicates": 0, "conflicts": 0, "quarantined": 0,
        "via": "worker", "source": "grid_worker", "event_id": "grid_worker:ev-1",
    }  # fmt: skip
    assert NOTE not in str(entry.after)


def test_the_time_defaults_to_now_and_a_phone_clock_ahead_counts_as_now(api):
    c, s, _ = api
    plain = post(c, s, {"client_event_id": "ev-2", "grid_id": "g1", "category": "theft"}).json()
    assert (plain["occurred_at"], plain["note"]) == ("2024-05-01T01:00:00Z", None)
    ahead = (NOW + timedelta(minutes=3)).isoformat()  # within the 5 minutes' skew
    r = post(c, s, {"client_event_id": "ev-3", "grid_id": "g1", "category": "theft",
                    "occurred_at": ahead})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["occurred_at"] == "2024-05-01T01:00:00Z"


def test_a_grid_outside_the_scope_answers_like_a_missing_grid(api, db_url):
    c, s, data_dir = api
    body = {"client_event_id": "ev-4", "category": "theft"}
    other = post(c, s, {**body, "grid_id": "g4"})  # w4's grid
    missing = post(c, s, {**body, "grid_id": "g9"})
    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.json()["error"] == {
        **missing.json()["error"],
        "message": missing.json()["error"]["message"].replace("g9", "g4"),
    }
    assert other.json()["error"]["code"] == "not_found"
    assert in_db(db_url, data_dir, load_events).empty
    assert entries(db_url, data_dir, "events.report") == []


def test_a_resend_is_answered_with_the_stored_event_and_changes_nothing(api, db_url):
    c, s, data_dir = api
    body = {"client_event_id": "ev-5", "grid_id": "g1", "category": "dispute",
            "occurred_at": "2024-05-01T08:00:00+08:00", "note": "first"}  # fmt: skip
    first = post(c, s, body)
    again = post(c, s, {**body, "note": "changed on the phone"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "created": False}  # the first note stands
    assert len(in_db(db_url, data_dir, load_events)) == 1
    assert len(entries(db_url, data_dir, "events.report")) == 1
    # the same client id for another event: a conflict, nothing changed
    clash = post(c, s, {**body, "category": "theft"})
    assert clash.status_code == 409
    assert "make a new id" in clash.json()["error"]["message"]
    assert in_db(db_url, data_dir, load_events)["category"].tolist() == ["dispute"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"category": "weather"}, "category", "choose one of dispute, theft, fire_hazard"),
        ({"category": "any"}, "category", "not a category a worker may report"),
        ({"occurred_at": "2024-05-01T09:10:00+08:00"}, "occurred_at", "after now"),
        ({"occurred_at": "2024-03-31T09:00:00+08:00"}, "occurred_at", "more than 30 days"),
        ({"occurred_at": "2024-05-01T08:00:00"}, "occurred_at", "timezone"),
        ({"occurred_at": "yesterday"}, "occurred_at", "datetime"),
        ({"note": "a\x00b"}, "note", "pattern"),
        ({"grid_id": ""}, "grid_id", "at least 1 character"),
    ],
)
def test_a_bad_value_is_a_422_naming_its_field(api, db_url, change, field, words):
    c, s, data_dir = api
    body = {"client_event_id": "ev-6", "grid_id": "g1", "category": "theft", **change}
    r = post(c, s, body)
    assert r.status_code == 422, r.text
    fields = r.json()["error"]["fields"]
    assert [f["field"] for f in fields] == [field]
    assert words in fields[0]["message"]
    assert in_db(db_url, data_dir, load_events).empty


# ------------------------------------------------------------------ patrol reports


def report(c, s, cid, outcome, items=(), **extra):
    body = {"client_report_id": cid, "grid_id": "g1", "outcome": outcome,
            "item_ids": list(items), **extra}  # fmt: skip
    return post(c, s, body, url=REPORTS)


def test_found_issue_becomes_one_patrol_event_and_one_visit(api, db_url):
    c, s, data_dir = api
    theft = s.items["approve_me"]  # g1, theft, red
    at = "2024-05-01T08:40:00+08:00"
    first = report(c, s, "p-1", "found_issue", [theft], at=at, note=NOTE)
    retry = report(c, s, "p-1", "found_issue", [theft], at=at, note=NOTE)
    assert (first.status_code, retry.status_code) == (201, 200), first.text
    assert first.json()["event_id"] == retry.json()["event_id"] == "patrol:p-1"
    events = in_db(db_url, data_dir, load_events)
    assert [(e["event_id"], e["category"], e["grid_id"], e["source"], str(e["occurred_at"]),
             str(e["reported_at"])) for e in events.to_dict("records")] == [
        ("patrol:p-1", "theft", "g1", "patrol", "2024-05-01 08:40:00+08:00",
         "2024-05-01 09:00:00+08:00"),
    ]  # fmt: skip
    # the report keeps the note; the event holds none
    assert in_db(db_url, data_dir, lambda x: get_event(x, "patrol:p-1"))["note"] is None
    visits = in_db(db_url, data_dir, lambda x: visit_frame(x, NOW_UTC - timedelta(days=1),
                                                              NOW_UTC + timedelta(hours=1)))  # fmt: skip
    assert visits.to_dict("records") == [
        {"grid_id": "g1", "visited_at": visits["visited_at"].iloc[0], "role": "grid_worker",
         "outcome": "found_issue"},
    ]  # fmt: skip
    assert visits["visited_at"].iloc[0] == NOW_UTC - timedelta(minutes=20)
    [report_entry] = entries(db_url, data_dir, "patrol_report")
    assert report_entry.after["event_id"] == "patrol:p-1"
    assert len(entries(db_url, data_dir, "events.patrol")) == 1


def test_the_found_issues_category(api, db_url):
    c, s, data_dir = api
    any_item = s.items["approved_g1"]  # g1, any, red
    theft, dispute = s.items["approve_me"], s.items["escalate_me"]  # red 0.50, yellow 0.20
    assert report(c, s, "p-2", "found_issue", [any_item]).status_code == 201
    assert report(c, s, "p-3", "found_issue", [any_item, dispute, theft]).status_code == 201
    assert report(c, s, "p-4", "found_issue", [theft], category="Petition").status_code == 201
    assert report(c, s, "p-5", "found_issue").status_code == 201
    got = in_db(db_url, data_dir, load_events).set_index("event_id")["category"].to_dict()
    # any only: not said, so other; the lead category warning (red theft over yellow
    # dispute); the worker's choice wins; no warning at all: other
    assert got == {"patrol:p-2": "other", "patrol:p-3": "theft", "patrol:p-4": "petition",
                   "patrol:p-5": "other"}  # fmt: skip


def test_other_outcomes_are_visits_without_events(api, db_url):
    c, s, data_dir = api
    assert (
        report(c, s, "p-6", "nothing_found", at="2024-05-01T07:00:00+08:00").json()["event_id"]
        is None
    )
    assert report(c, s, "p-7", "could_not_visit", at="2024-04-30T18:00:00+08:00").status_code == 201
    assert report(c, s, "p-8", "found_issue", at="2024-05-01T08:00:00+08:00").status_code == 201
    assert in_db(db_url, data_dir, load_events)["event_id"].tolist() == ["patrol:p-8"]
    day = in_db(db_url, data_dir, lambda x: exposure(x, datetime(2024, 4, 30, 16, tzinfo=UTC),
                                                      datetime(2024, 5, 1, 16, tzinfo=UTC)))  # fmt: skip
    # 1 May, city time: p-6 and p-8 looked at g1 (one found an issue); p-7 was on 30 April
    assert day.to_dict("records") == [
        {"grid_id": "g1", "visits": 2, "issues_found": 1, "could_not_visit": 0}
    ]
    both = in_db(db_url, data_dir, lambda x: exposure(x, NOW_UTC - timedelta(days=2), NOW_UTC))
    assert both.to_dict("records") == [
        {"grid_id": "g1", "visits": 2, "issues_found": 1, "could_not_visit": 1}
    ]


def test_a_category_goes_only_with_a_found_issue_and_must_be_known(api, db_url):
    c, s, data_dir = api
    wrong = report(c, s, "p-9", "nothing_found", category="theft")
    unknown = report(c, s, "p-10", "found_issue", category="weather")
    for r in (wrong, unknown):
        assert r.status_code == 422, r.text
        assert [f["field"] for f in r.json()["error"]["fields"]] == ["category"]
    assert in_db(db_url, data_dir, load_events).empty
    assert in_db(db_url, data_dir, lambda x: visit_frame(x, NOW_UTC - timedelta(days=30),
                                                          NOW_UTC + timedelta(days=1))).empty  # fmt: skip
