"""What each audience sees: ranked grids, a grid's page, today's patrols, patrol reports."""

from __future__ import annotations

import pytest

from tests.serve.api_seed import bearer, client, seed


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        yield c, s


def get(c, s, who, path):
    return c.get(f"/api/v1{path}", headers=bearer(s.tokens[who]))


def test_commander_ranks_only_approved_warnings_in_scope(api):
    c, s = api
    page = get(c, s, "cmd", "/forecasts/ranked").json()
    # approved: g1/any, g3/any, g4/any; cmd's community c2 holds g3 only; g3 has pending
    # items too (release_me, cmd_escalates) that must not show
    assert page["source"] == "approved_warnings"
    assert [(r["grid_id"], r["state"]) for r in page["items"]] == [("g3", "approved")]
    assert page["total"] == 1


def test_analyst_ranks_every_forecast_of_the_latest_run_with_filters(api):
    c, s = api
    page = get(c, s, "ana", "/forecasts/ranked?target=any&street=s2&limit=1").json()
    # street s2 = g4 (any 0.4, red) and g5 (any 0.5, red): total 2, top is g5
    assert (page["source"], page["run_id"], page["total"]) == ("forecasts", "r1", 2)
    assert [(r["grid_id"], r["prob"]) for r in page["items"]] == [("g5", pytest.approx(0.5))]
    second = get(c, s, "ana", "/forecasts/ranked?target=any&street=s2&limit=1&offset=1").json()
    assert [r["grid_id"] for r in second["items"]] == ["g4"]
    levels = get(c, s, "ana", "/forecasts/ranked?level=yellow&level=blue").json()
    # any: g1 blue, g2 yellow; theft: g1 blue, g2 blue, g3 yellow → 5 rows
    assert levels["total"] == 5


def test_an_unknown_level_filter_is_a_422_on_level(api):
    c, s = api
    r = get(c, s, "ana", "/forecasts/ranked?level=purple")
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["level.0"]


def test_grid_page_shows_history_and_reviews_by_role(api):
    c, s = api
    ana = get(c, s, "ana", "/grids/g1").json()
    assert [(h["target"], h["prob"]) for h in ana["latest"]] == [
        ("any", pytest.approx(0.1)),
        ("theft", pytest.approx(0.05)),
    ]
    # g1 items: approve_me, escalate_me, adjust_me (pending), approved_g1
    assert len(ana["reviews"]) == 4
    worker = get(c, s, "w1", "/grids/g1").json()
    assert worker["history"] == []
    assert [r["state"] for r in worker["reviews"]] == ["approved"]


def test_a_grid_worker_sees_only_suggestions_for_their_own_grids(api):
    c, s = api
    w1 = get(c, s, "w1", "/patrols/today").json()
    w4 = get(c, s, "w4", "/patrols/today").json()
    assert [(x["worker_id"], x["grid_id"]) for x in w1["suggestions"]] == [("w1", "g1")]
    assert [(x["worker_id"], x["grid_id"]) for x in w4["suggestions"]] == [("w4", "g4")]
    assert w1["date"] == "2024-05-01"
    lead = w1["suggestions"][0]
    assert lead["item_ids"] == [s.items["approved_g1"]]
    assert lead["actions_en"] == ["routine patrol of the grid"]


def test_a_pending_warning_never_becomes_a_patrol_suggestion(api):
    c, s = api
    # approve_me (g1, pending, red) outranks approved_g1 but is not approved
    grids = [x["grid_id"] for x in get(c, s, "adm", "/patrols/today").json()["suggestions"]]
    items = [
        i for x in get(c, s, "adm", "/patrols/today").json()["suggestions"] for i in x["item_ids"]
    ]
    assert sorted(grids) == ["g1", "g4"]
    assert s.items["approve_me"] not in items


def test_a_patrol_report_is_stored_once_per_client_report_id(api):
    c, s = api
    body = {"client_report_id": "dev-1", "grid_id": "g1", "outcome": "found_issue", "note": "n"}
    first = c.post("/api/v1/patrols/reports", json=body, headers=bearer(s.tokens["w1"]))
    retry = c.post(
        "/api/v1/patrols/reports",
        json={**body, "outcome": "nothing_found"},
        headers=bearer(s.tokens["w1"]),
    )
    assert (first.status_code, retry.status_code) == (201, 200)
    assert (first.json()["created"], retry.json()["created"]) == (True, False)
    assert retry.json()["outcome"] == "found_issue"  # the first report stands
    log = get(c, s, "adm", "/audit?action=patrol_report").json()
    assert log["total"] == 1


def test_todays_list_carries_the_report_the_server_holds(api):
    c, s = api
    before = get(c, s, "w1", "/patrols/today").json()["suggestions"][0]
    body = {"client_report_id": "dev-7", "grid_id": "g1", "outcome": "nothing_found", "note": "ok"}
    assert (
        c.post("/api/v1/patrols/reports", json=body, headers=bearer(s.tokens["w1"])).status_code
        == 201
    )
    after = get(c, s, "w1", "/patrols/today").json()["suggestions"][0]
    seen_by_admin = get(c, s, "adm", "/patrols/today").json()["suggestions"]
    assert before["reported"] is None
    assert (after["reported"]["outcome"], after["reported"]["note"]) == ("nothing_found", "ok")
    assert [x["reported"] is not None for x in seen_by_admin] == [
        x["grid_id"] == "g1" for x in seen_by_admin
    ]


def test_a_report_id_of_another_worker_is_a_conflict_not_a_leak(api, db_url):
    from risk.scopes import Scope
    from serve.db import session_factory, transaction
    from serve.repo.users import add_user, issue_token

    c, s = api
    with transaction(session_factory(db_url)) as session:
        add_user(session, "w1b", "grid_worker", Scope.of("grids", ["g1"]))
        token = issue_token(session, "w1b")
    body = {"client_report_id": "dev-2", "grid_id": "g1", "outcome": "found_issue"}
    c.post("/api/v1/patrols/reports", json=body, headers=bearer(s.tokens["w1"]))
    r = c.post("/api/v1/patrols/reports", json=body, headers=bearer(token))
    assert r.status_code == 409
    assert "w1" not in r.json()["error"]["message"]


def test_an_item_out_of_scope_reads_exactly_like_a_missing_one(api):
    c, s = api
    outside = get(c, s, "rev", f"/review/items/{s.items['outside']}")
    missing = get(c, s, "rev", "/review/items/g4/none/20240501T0000Z")
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
