"""Review actions over HTTP: decisions, conflicts, field-level errors, the audit chain."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from risk.review import dispatch
from risk.scopes import Scope
from serve.db import make_engine, session_factory, transaction
from serve.repo import audit
from serve.repo.reviews import get_item, save_item
from serve.repo.users import add_user, issue_token
from serve.tables import ReviewItemRow
from tests.serve.api_seed import NOW, bearer, client, seed


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        yield c, s


def post(c, s, who, item, action, body):
    return c.post(
        f"/api/v1/review/items/{s.items[item]}/{action}", json=body, headers=bearer(s.tokens[who])
    )


def stored_row(url, item_id):
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            select(ReviewItemRow.__table__).where(ReviewItemRow.__table__.c.item_id == item_id)
        ).one()
    engine.dispose()
    return row


def test_approve_reject_adjust_escalate_leave_a_verifying_audit_chain(api):
    c, s = api
    adm = bearer(s.tokens["adm"])
    before = c.get("/api/v1/audit", headers=adm).json()["total"]
    adjusted = post(c, s, "rev", "adjust_me", "adjust", {"expected_version": 1, "level": "red"})
    approved = post(c, s, "rev", "adjust_me", "approve", {"expected_version": 2})
    rejected = post(
        c, s, "rev", "reject_me", "reject", {"expected_version": 1, "reason": "other", "text": "x"}
    )
    escalated = post(c, s, "rev", "escalate_me", "escalate", {"expected_version": 1, "note": "n"})
    assert [r.status_code for r in (adjusted, approved, rejected, escalated)] == [200] * 4
    # adjust keeps the model's level; approve then moves the item to version 3
    assert (approved.json()["level"], approved.json()["original_level"]) == ("red", "orange")
    assert (approved.json()["state"], approved.json()["version"]) == ("approved", 3)
    assert (rejected.json()["reject_reason"], rejected.json()["reject_text"]) == ("other", "x")
    assert escalated.json()["escalated_by"] == "rev"
    log = c.get("/api/v1/audit?limit=4", headers=adm).json()
    assert log["total"] == before + 4
    assert [e["action"] for e in log["items"]] == ["escalate", "reject", "approve", "adjust_level"]
    assert {e["actor"] for e in log["items"]} == {"rev"}
    assert c.get("/api/v1/audit/verify", headers=adm).json() == {
        "ok": True,
        "checked": before + 4,
        "first_bad_seq": None,
        "reason": "",
        "unkeyed": 0,
    }


def test_a_stale_version_gets_409_and_leaves_the_row_unchanged(api, db_url):
    c, s = api
    first = post(c, s, "rev", "approve_me", "adjust", {"expected_version": 1, "level": "red"})
    assert first.status_code == 200  # red → red is still an action: version 2
    stale = post(
        c, s, "rev", "approve_me", "reject", {"expected_version": 1, "reason": "duplicate"}
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_version"
    row = stored_row(db_url, s.items["approve_me"])
    assert (row.state, row.version, row.reject_reason) == ("pending", 2, None)


def test_reject_without_reason_is_422_naming_the_reason_field(api, db_url):
    c, s = api
    r = post(c, s, "rev", "reject_me", "reject", {"expected_version": 1})
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["reason"]
    assert stored_row(db_url, s.items["reject_me"]).state == "pending"


def test_reject_other_without_text_is_422_naming_text(api):
    c, s = api
    r = post(c, s, "rev", "reject_me", "reject", {"expected_version": 1, "reason": "other"})
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["text"]


def test_a_negative_limit_is_a_field_level_422_not_a_500(api):
    c, s = api
    r = c.get("/api/v1/review/items?limit=-1", headers=bearer(s.tokens["rev"]))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert [f["field"] for f in error["fields"]] == ["limit"]
    assert "greater than or equal to 1" in error["fields"][0]["message"]


def test_a_claim_held_by_another_reviewer_is_409_lease_held(api, db_url):
    c, s = api
    with transaction(session_factory(db_url)) as session:
        add_user(session, "rev2", "reviewer", Scope.of("street", ["s1"]))
        s.tokens["rev2"] = issue_token(session, "rev2")
    # release_me is claimed by rev until 12:30 (seed); it is 09:00
    r = post(c, s, "rev2", "release_me", "approve", {"expected_version": 2})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "lease_held"


def test_bulk_reports_each_item(api):
    c, s = api
    body = {
        "action": "approve",
        "items": [
            {"item_id": s.items["bulk_me"], "expected_version": 1},
            {"item_id": s.items["claim_me"], "expected_version": 7},
            {"item_id": s.items["outside"], "expected_version": 1},
            {"item_id": "g1/none/20240501T0000Z", "expected_version": 1},
            {"item_id": s.items["rejected_g2"], "expected_version": 2},
        ],
    }
    r = c.post("/api/v1/review/bulk", json=body, headers=bearer(s.tokens["rev"]))
    assert r.status_code == 200
    out = r.json()
    assert [x["code"] for x in out["results"]] == [
        "ok",
        "stale_version",
        "not_found",  # out of scope: exactly like a missing item
        "not_found",
        "invalid_transition",
    ]
    assert (out["succeeded"], out["failed"]) == (1, 4)
    assert out["results"][0]["item"]["state"] == "approved"
    verify = c.get("/api/v1/audit/verify", headers=bearer(s.tokens["adm"])).json()
    assert verify["ok"] is True


def test_bulk_reject_without_reason_is_422_on_reason(api):
    c, s = api
    body = {"action": "reject", "items": [{"item_id": s.items["bulk_me"], "expected_version": 1}]}
    r = c.post("/api/v1/review/bulk", json=body, headers=bearer(s.tokens["rev"]))
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "reason"


def test_review_stats_count_verdicts_per_reviewer_and_model(api):
    c, s = api
    post(c, s, "rev", "adjust_me", "approve", {"expected_version": 1, "level": "red"})
    r = c.get("/api/v1/review/stats", headers=bearer(s.tokens["ana"]))
    # seeded: 3 approvals at the model's level + 1 rejection by rev; now 1 approval adjusted
    # decided 5: agree 3/5 = 0.6, adjusted 1/5 = 0.2, rejected 1/5 = 0.2, override 0.4
    (row,) = r.json()["by_reviewer"]
    assert row["key"] == "rev" and row["decided"] == 5
    assert row["agree_rate"] == pytest.approx(0.6)
    assert row["adjusted_rate"] == pytest.approx(0.2)
    assert row["override_rate"] == pytest.approx(0.4)
    assert [m["key"] for m in r.json()["by_model_version"]] == ["m1"]


def test_a_dispatched_warning_is_completed_by_the_grid_s_own_worker_only(api):
    c, s = api
    item = "approved_g1"
    engine = make_engine(s.url)
    with transaction(session_factory(engine)) as session:  # a commander of g1 dispatched it
        new, event = dispatch(get_item(session, s.items[item]), "cmd-s1", NOW, 2)
        save_item(session, new, 2)
        audit.append_review_event(session, event)
    engine.dispose()
    assert post(c, s, "w4", item, "complete", {"expected_version": 3}).status_code == 404
    done = post(c, s, "w1", item, "complete", {"expected_version": 3})
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["version"]) == ("completed", 4)
    again = post(c, s, "w1", item, "complete", {"expected_version": 3})
    assert again.status_code == 409
