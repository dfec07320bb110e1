"""POST /api/v1/events on SQLite and PostgreSQL: per-event results through the contract's
validation, idempotent retries, conflicts kept apart, the batch cap, one audit entry per
batch, and the integration role that may post events and do nothing else."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from risk.scopes import Scope
from risk.settings import Settings
from serve.app import create_app
from serve.db import make_engine, session_factory, transaction
from serve.repo import audit
from serve.repo.events import load_events
from serve.repo.users import add_user, issue_token
from tests.serve.api_seed import NOW, T0, bearer, client, seed
from tests.serve.test_api_access import CASES, _fill

URL = "/api/v1/events"
EVENTS = [
    {"event_id": "a1", "occurred_at": "2024-05-01T07:00:00", "category": "Theft", "grid_id": "g1",
     "source": "hotline", "severity": 3},
    # a point inside g4's square, no id (one is made from the row), reported late
    {"occurred_at": "2024-04-30T22:00:00+08:00", "reported_at": "2024-05-01T08:30:00",
     "category": "dispute", "lon": 121.5, "lat": 31.25},
    {"event_id": "a1", "occurred_at": "2024-05-01T07:00:00", "category": "Theft", "grid_id": "g1",
     "source": "hotline", "severity": 3},  # the same as entry 0
    {"event_id": "a3", "occurred_at": "2024-05-01T07:10:00", "category": "theft", "grid_id": "g2",
     "source": "newspaper"},
    {"event_id": "a4", "occurred_at": "2024-05-01T07:20:00", "category": "theft", "grid_id": "g9"},
    {"event_id": "a5", "category": "theft", "grid_id": "g2"},
    {"event_id": "a6", "occurred_at": "2024-05-01T10:00:00", "category": "theft", "grid_id": "g2"},
]  # fmt: skip


@pytest.fixture
def api(db_url, tmp_path):
    """The seeded API (api_seed) plus integration accounts: feed (city), feed_s2 (street s2)."""
    s = seed(db_url)
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        for name, scope in (("feed", Scope.city()), ("feed_s2", Scope.of("street", ["s2"]))):
            add_user(session, name, "integration", scope, at=T0)
            s.tokens[name] = issue_token(session, name, "api", at=T0)
    engine.dispose()
    with client(db_url, tmp_path) as c:
        yield c, s


def post(c, s, events, who="feed"):
    return c.post(URL, json={"events": events}, headers=bearer(s.tokens[who]))


def stored(db_url):
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return load_events(session)
    finally:
        engine.dispose()


def batch_entries(db_url):
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            entries, _ = audit.list_entries(session, actor="feed")
            return entries
    finally:
        engine.dispose()


def test_each_event_gets_its_own_result(api, db_url):
    c, s = api
    r = post(c, s, EVENTS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["stored"], body["duplicates"], body["conflicts"],
            body["rejected"]) == (7, 2, 1, 0, 4)  # fmt: skip
    assert body["adjusted"] == {}  # Asia/Shanghai keeps no daylight saving
    res = body["results"]
    assert [x["status"] for x in res] == [
        "stored", "stored", "duplicate", "rejected", "rejected", "rejected", "rejected"
    ]  # fmt: skip
    assert [x["index"] for x in res] == list(range(7))
    assert res[1]["event_id"].startswith("e") and len(res[1]["event_id"]) == 17  # made
    assert res[2]["event_id"] == "a1" and res[2]["message"] == "same as entry 0 of this batch"
    # field-level reasons from the contract's validation
    assert (res[3]["reason"], [f["field"] for f in res[3]["fields"]]) == ("bad_source", ["source"])
    assert "'newspaper'" in res[3]["fields"][0]["message"]
    assert (res[4]["reason"], res[4]["fields"][0]["field"]) == ("unknown_grid_id", "grid_id")
    assert (res[5]["reason"], res[5]["event_id"]) == ("missing_occurred_at", "a5")
    # the app's clock is 09:00 city time: 10:00 is in the future
    assert (res[6]["reason"], res[6]["fields"][0]["field"]) == ("future_timestamp", "occurred_at")

    events = stored(db_url).set_index("event_id")
    assert sorted(events.index) == sorted(["a1", res[1]["event_id"]])
    assert events.loc["a1", "category"] == "theft"
    point = events.loc[res[1]["event_id"]]
    assert (point["grid_id"], str(point["reported_at"])) == ("g4", "2024-05-01 08:30:00+08:00")


def test_a_retry_changes_nothing_and_a_changed_payload_is_a_conflict(api, db_url):
    c, s = api
    first = post(c, s, EVENTS[:2]).json()
    again = post(c, s, EVENTS[:2]).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)
    assert again["results"][0]["message"] == "already stored with the same values (nothing changed)"
    assert [x["event_id"] for x in again["results"]] == [x["event_id"] for x in first["results"]]
    changed = [{**EVENTS[0], "category": "dispute", "severity": 5}]
    conflict = post(c, s, changed).json()["results"][0]
    assert (conflict["status"], conflict["reason"]) == ("conflict", "conflict")
    assert [f["field"] for f in conflict["fields"]] == ["category", "severity"]
    assert "the stored event is kept" in conflict["message"]
    assert stored(db_url).set_index("event_id").loc["a1", "category"] == "theft"
    assert len(stored(db_url)) == 2


def test_each_batch_is_one_audit_entry_with_its_counts(api, db_url):
    c, s = api
    ids = [post(c, s, EVENTS).json()["batch"], post(c, s, EVENTS[:1]).json()["batch"]]
    entries = batch_entries(db_url)
    assert [(e.action, e.object_type, e.object_id) for e in entries] == [
        ("events.post", "event_batch", ids[1]),
        ("events.post", "event_batch", ids[0]),
    ]  # newest first
    assert {k: entries[1].after[k] for k in ("read", "stored", "duplicates", "conflicts",
                                              "quarantined", "via")} == {
        "read": 7, "stored": 2, "duplicates": 1, "conflicts": 0, "quarantined": 4, "via": "api"
    }  # fmt: skip
    assert entries[0].after["duplicates"] == 1
    assert entries[1].at == NOW


def test_events_outside_the_accounts_scope_are_rejected_like_unknown_grids(api, db_url):
    c, s = api
    events = [
        {"event_id": "s1", "occurred_at": "2024-05-01T07:00", "category": "x", "grid_id": "g1"},
        {"event_id": "s2", "occurred_at": "2024-05-01T07:00", "category": "x", "grid_id": "g9"},
        {"event_id": "s3", "occurred_at": "2024-05-01T07:00", "category": "x", "grid_id": "g4"},
        {"event_id": "s4", "occurred_at": "2024-05-01T07:00", "category": "x",
         "lon": 121.40, "lat": 31.20},  # inside g1
    ]  # fmt: skip
    res = post(c, s, events, who="feed_s2").json()["results"]
    assert [x["status"] for x in res] == ["rejected", "rejected", "stored", "rejected"]
    # g1 exists but is outside street s2: the same answer as the missing g9
    assert res[0]["reason"] == res[1]["reason"] == "unknown_grid_id"
    assert res[0]["fields"][0]["message"].replace("'g1'", "'g9'") == res[1]["fields"][0]["message"]
    assert res[3]["reason"] == "outside_all_grids"
    assert stored(db_url)["event_id"].tolist() == ["s3"]


def test_more_events_than_the_cap_is_a_422_naming_events(db_url, tmp_path):
    s = seed(db_url)
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        add_user(session, "feed", "integration", Scope.city(), at=T0)
        s.tokens["feed"] = issue_token(session, "feed", "api", at=T0)
    engine.dispose()
    settings = Settings(data_dir=tmp_path, database_url=db_url, events_batch_max=2)
    with TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False) as c:
        r = post(c, s, EVENTS[:3])
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["fields"][0]["field"] == "events"
        assert "3 events in one request; at most 2" in error["message"]
        assert len(stored(db_url)) == 0
        assert post(c, s, EVENTS[:2]).status_code == 200
        # the byte cap grows with the batch size (1 MiB at least): far above it is 413
        big = [{**EVENTS[0], "category": "x" * 200}] * 6000
        assert post(c, s, big).status_code == 413
    assert len(stored(db_url)) == 2  # the two of the batch within the cap


def test_structural_errors_are_field_level_422s(api):
    c, s = api
    cases = [
        ({"events": []}, "events"),
        ({"events": [{"occurred_at": 20240501, "category": "x"}]}, "events.0.occurred_at"),
        ({"events": [{"category": "x", "person": "Li"}]}, "events.0.person"),
        ({"events": [{"category": "a\x00b"}]}, "events.0.category"),
        ({"rows": []}, "events"),
    ]
    for body, field in cases:
        r = c.post(URL, json=body, headers=bearer(s.tokens["feed"]))
        assert r.status_code == 422, (body, r.text)
        assert field in [f["field"] for f in r.json()["error"]["fields"]], r.text


def test_without_any_grids_the_service_answers_409(db_url, tmp_path):
    s = seed(db_url)
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        from sqlalchemy import delete

        from serve.tables import GridRow

        session.execute(delete(GridRow))
        add_user(session, "feed", "integration", Scope.city(), at=T0)
        s.tokens["feed"] = issue_token(session, "feed", "api", at=T0)
    engine.dispose()
    with client(db_url, tmp_path) as c:
        r = post(c, s, EVENTS[:1])
    assert r.status_code == 409 and "holds no grids" in r.json()["error"]["message"]


def test_an_integration_token_may_post_events_and_nothing_else(api):
    c, s = api
    allowed = {"health": 200, "me": 200, "post_events": 200}
    for case, method, path, body, _ in CASES:
        r = c.request(method, "/api/v1" + _fill(path, s.items), json=_fill(body, s.items),
                      headers=bearer(s.tokens["feed"]))  # fmt: skip
        assert r.status_code == allowed.get(case, 403), (case, r.text)


def test_an_integration_api_token_in_the_cookie_gets_no_page(api):
    c, s = api
    c.cookies.set("risk_session", s.tokens["feed"])
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/api/v1/docs"
    assert c.get("/commander", follow_redirects=False).status_code == 403
