"""Field reports shown back (issue 16, item 3), on SQLite and PostgreSQL: a grid's page lists
the last 30 days' patrol reports and the events grid workers and patrols reported, newest
first, at most 50 each, notes only for who may read them; a review item lists the patrol
reports that answered it (outcome and time only). Scope answers as before.

The app's clock is `NOW` = 2024-05-01 09:00 +08:00 (01:00 UTC), so the 30 days start at
2024-04-01 01:00 UTC (inclusive). w1's scope is [g1], w4's [g4]; cmd's community c2 is g3;
rev's street s1 is g1–g3.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from risk.patrol import PatrolOutcome, PatrolReport
from risk.scopes import Scope
from serve.db import make_engine, session_factory, transaction
from serve.field_reports import report_event
from serve.repo.events import events_frame, store_events
from serve.repo.patrols import record_report
from serve.repo.users import add_user, issue_token
from serve.tables import EventRow, PatrolReportRow
from tests.serve.api_seed import SHANGHAI, bearer, client, seed

NOW_UTC = datetime(2024, 5, 1, 1, tzinfo=UTC)
REPORTS, EVENTS = PatrolReportRow.__table__, EventRow.__table__
NOTE = "3号楼电动车在楼道充电"


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        yield c, s, tmp_path


def in_db(db_url, data_dir, fn):
    """Run ``fn(session)`` in one committed transaction, sealing with the app's keys."""
    engine = make_engine(db_url)
    try:
        with transaction(session_factory(engine, data_dir=data_dir)) as session:
            return fn(session)
    finally:
        engine.dispose()


def add_worker(db_url, name, grids):
    with transaction(session_factory(db_url)) as session:
        add_user(session, name, "grid_worker", Scope.of("grids", grids))
        return issue_token(session, name)


def local(text):
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).isoformat()


def patrol(c, token, cid, outcome, at, items=(), grid="g1", **extra):
    body = {"client_report_id": cid, "grid_id": grid, "outcome": outcome, "at": local(at),
            "item_ids": list(items), **extra}  # fmt: skip
    r = c.post("/api/v1/patrols/reports", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text


def worker_event(c, token, cid, category, at, grid="g1", **extra):
    body = {"client_event_id": cid, "grid_id": grid, "category": category,
            "occurred_at": local(at), **extra}  # fmt: skip
    r = c.post("/api/v1/worker/events", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text


def direct_report(session, cid, at, worker="w1", grid="g1", note=None):
    """A report stored past the API's 30-day check (the API refuses older times)."""
    report = PatrolReport(worker, grid, PatrolOutcome.NOTHING_FOUND, at, note=note)
    record_report(session, report, cid, received_at=NOW_UTC)


def other_sources(session):
    """A hotline event on g1 inside the window: not from the field, never listed."""
    frame = events_frame(
        [("h-1", NOW_UTC - timedelta(hours=5), NOW_UTC - timedelta(hours=4), "theft", "g1",
          "hotline", None)]
    )  # fmt: skip
    store_events(session, frame, batch="b-hotline", received_at=NOW_UTC)


@pytest.fixture
def field(api, db_url):
    """g1's field reports (times city-local):

    patrols  p-a w1  nothing_found 04-29 10:00 [approved_g1] "楼道通畅"
             p-b w1  found_issue   04-30 20:00 [approved_g1] NOTE, category theft → patrol:p-b
             p-c w1  could_not_visit 05-01 08:50 [approve_me]
             p-d w1b nothing_found 04-30 09:00 [approved_g1] "w1b 的记录"
             old-in w1 04-01 09:00 (exactly 30 days back: listed); old-out w1 03-31 08:59 (not)
             p-g4 w4 on g4 (another grid)
    events   ev-1 fire_hazard 05-01 07:30 "电动车楼道充电"; ev-2 dispute 04-25 12:00;
             ev-old theft 03-31 08:00 (too old); h-1 hotline (another source); ev-g4 on g4
    """
    c, s, data_dir = api
    w1, w4 = s.tokens["w1"], s.tokens["w4"]
    w1b = add_worker(db_url, "w1b", ["g1"])
    approved, pending = s.items["approved_g1"], s.items["approve_me"]
    patrol(c, w1, "p-a", "nothing_found", "2024-04-29 10:00", [approved], note="楼道通畅")
    patrol(c, w1, "p-b", "found_issue", "2024-04-30 20:00", [approved], note=NOTE,
           category="theft")  # fmt: skip
    patrol(c, w1, "p-c", "could_not_visit", "2024-05-01 08:50", [pending])
    patrol(c, w1b, "p-d", "nothing_found", "2024-04-30 09:00", [approved], note="w1b 的记录")
    patrol(c, w4, "p-g4", "found_issue", "2024-04-30 10:00", grid="g4", category="fraud")
    worker_event(c, w1, "ev-1", "fire_hazard", "2024-05-01 07:30", note="电动车楼道充电")
    worker_event(c, w1, "ev-2", "dispute", "2024-04-25 12:00")
    worker_event(c, w4, "ev-g4", "theft", "2024-04-30 12:00", grid="g4")

    def older(session):
        direct_report(session, "old-in", NOW_UTC - timedelta(days=30))
        direct_report(session, "old-out", NOW_UTC - timedelta(days=30, minutes=1), note="旧")
        report_event(session, actor="w1", client_event_id="ev-old", grid={"grid_id": "g1"},
                     category="theft", occurred_at=NOW_UTC - timedelta(days=30, hours=1),
                     note="旧", now=NOW_UTC, tz="Asia/Shanghai")  # fmt: skip
        other_sources(session)

    in_db(db_url, data_dir, older)
    return c, s, {"w1b": w1b}


def grid(c, token, grid_id="g1"):
    return c.get(f"/api/v1/grids/{grid_id}", headers=bearer(token))


EVERY_REPORT = [
    {"at": "2024-05-01T00:50:00Z", "outcome": "could_not_visit", "worker": "w1", "note": None},
    {"at": "2024-04-30T12:00:00Z", "outcome": "found_issue", "worker": "w1", "note": NOTE},
    {"at": "2024-04-30T01:00:00Z", "outcome": "nothing_found", "worker": "w1b",
     "note": "w1b 的记录"},
    {"at": "2024-04-29T02:00:00Z", "outcome": "nothing_found", "worker": "w1",
     "note": "楼道通畅"},
    {"at": "2024-04-01T01:00:00Z", "outcome": "nothing_found", "worker": "w1", "note": None},
]  # fmt: skip
EVERY_EVENT = [
    {"occurred_at": "2024-04-30T23:30:00Z", "category": "fire_hazard", "source": "grid_worker",
     "note": "电动车楼道充电"},
    {"occurred_at": "2024-04-30T12:00:00Z", "category": "theft", "source": "patrol",
     "note": None},  # the patrol's note stays on its report
    {"occurred_at": "2024-04-25T04:00:00Z", "category": "dispute", "source": "grid_worker",
     "note": None},
]  # fmt: skip


@pytest.mark.parametrize("who", ["ana", "rev", "adm"])
def test_the_grid_page_lists_the_field_reports_of_30_days_newest_first(field, who):
    c, s, _ = field
    out = grid(c, s.tokens[who]).json()
    assert out["patrol_reports"] == EVERY_REPORT
    assert out["field_events"] == EVERY_EVENT
    # the rest of the page is as before
    assert len(out["reviews"]) == 4


def test_a_grid_worker_reads_their_own_reports_and_no_event_note(field):
    c, s, extra = field
    w1 = grid(c, s.tokens["w1"]).json()
    assert w1["patrol_reports"] == [r for r in EVERY_REPORT if r["worker"] == "w1"]
    assert w1["field_events"] == [{**e, "note": None} for e in EVERY_EVENT]
    w1b = grid(c, extra["w1b"]).json()
    assert w1b["patrol_reports"] == [r for r in EVERY_REPORT if r["worker"] == "w1b"]


def test_a_commander_sees_the_field_reports_of_their_grids_and_no_other(field, db_url):
    c, s, _ = field
    w3 = add_worker(db_url, "w3", ["g3"])
    patrol(c, w3, "p-g3", "found_issue", "2024-05-01 06:15", [s.items["approved_g3"]], grid="g3",
           note="井盖缺失", category="safety_hazard")  # fmt: skip
    g3 = grid(c, s.tokens["cmd"], "g3")
    assert g3.status_code == 200
    assert g3.json()["patrol_reports"] == [
        {"at": "2024-04-30T22:15:00Z", "outcome": "found_issue", "worker": "w3",
         "note": "井盖缺失"},
    ]  # fmt: skip
    assert g3.json()["field_events"] == [
        {"occurred_at": "2024-04-30T22:15:00Z", "category": "safety_hazard", "source": "patrol",
         "note": None},
    ]  # fmt: skip
    # another street's grid (g4, with its own reports) and a grid of another community (g1)
    # answer exactly like a missing one
    missing = grid(c, s.tokens["cmd"], "g9")
    for grid_id in ("g4", "g1"):
        r = grid(c, s.tokens["cmd"], grid_id)
        assert r.status_code == missing.status_code == 404
        assert r.json()["error"]["message"] == missing.json()["error"]["message"].replace(
            "g9", grid_id
        )
        assert "patrol_reports" not in r.text
    assert grid(c, s.tokens["w4"], "g1").status_code == 404


def test_a_quiet_grid_has_empty_lists(api):
    c, s, _ = api
    out = grid(c, s.tokens["ana"], "g2").json()
    assert (out["patrol_reports"], out["field_events"]) == ([], [])


def test_at_most_50_of_each_the_newest(api, db_url):
    c, s, data_dir = api

    def many(session):
        for k in range(52):  # k minutes before now
            direct_report(session, f"m-{k:02d}", NOW_UTC - timedelta(minutes=k), grid="g2")
        rows = [
            (f"grid_worker:m-{k:02d}", NOW_UTC - timedelta(minutes=k), NOW_UTC, "theft", "g2",
             "grid_worker" if k % 2 else "patrol", None)
            for k in range(52)
        ]  # fmt: skip
        store_events(session, events_frame(rows), batch="b-many", received_at=NOW_UTC)

    in_db(db_url, data_dir, many)
    out = grid(c, s.tokens["ana"], "g2").json()
    assert len(out["patrol_reports"]) == len(out["field_events"]) == 50
    assert out["patrol_reports"][0]["at"] == "2024-05-01T01:00:00Z"
    assert out["patrol_reports"][-1]["at"] == "2024-05-01T00:11:00Z"  # k = 49
    assert [e["occurred_at"] for e in out["field_events"][:2]] == [
        "2024-05-01T01:00:00Z", "2024-05-01T00:59:00Z"
    ]  # fmt: skip
    assert out["field_events"][-1]["occurred_at"] == "2024-05-01T00:11:00Z"


def test_a_review_item_lists_the_patrol_reports_that_answered_it(field):
    c, s, _ = field

    def item(name):
        r = c.get(f"/api/v1/review/items/{s.items[name]}", headers=bearer(s.tokens["rev"]))
        assert r.status_code == 200, r.text
        return r.json()["patrol_reports"]

    # p-b, p-d and p-a answered approved_g1 (no worker, no note); p-c answered approve_me
    assert item("approved_g1") == [
        {"at": "2024-04-30T12:00:00Z", "outcome": "found_issue"},
        {"at": "2024-04-30T01:00:00Z", "outcome": "nothing_found"},
        {"at": "2024-04-29T02:00:00Z", "outcome": "nothing_found"},
    ]
    assert item("approve_me") == [{"at": "2024-05-01T00:50:00Z", "outcome": "could_not_visit"}]
    assert item("escalate_me") == []


def test_a_note_the_caller_may_not_read_is_never_opened(field, db_url):
    c, s, _ = field
    # w1b's report and ev-1 hold values sealed for other cells: opening either fails (500)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            [[sealed]] = conn.execute(
                select(REPORTS.c.note).where(REPORTS.c.client_report_id == "p-a")
            ).all()
            conn.execute(
                update(REPORTS).where(REPORTS.c.client_report_id == "p-d").values(note=sealed)
            )
            conn.execute(
                update(EVENTS).where(EVENTS.c.event_id == "grid_worker:ev-1").values(note=sealed)
            )
    finally:
        engine.dispose()
    assert grid(c, s.tokens["ana"]).status_code == 500  # the analyst's page opens them
    w1 = grid(c, s.tokens["w1"])  # w1's does not: w1b's note and event notes stay shut
    assert w1.status_code == 200
    assert [r["note"] for r in w1.json()["patrol_reports"]] == [None, NOTE, "楼道通畅", None]
    item = c.get(f"/api/v1/review/items/{s.items['approved_g1']}", headers=bearer(s.tokens["rev"]))
    assert item.status_code == 200  # the item's patrol reports carry no note
    assert len(item.json()["patrol_reports"]) == 3
