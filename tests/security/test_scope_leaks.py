"""Scope probing against the live service (issue 14, items 12 and 14): an item outside the
caller's scope answers exactly like a missing one — reads, actions and bulk — and bulk
reports every entry, duplicates included.

Scopes (tests/serve/api_seed.py): rev = street s1 (g1-g3); cmd = community c2 (g3);
w1 = [g1], w4 = [g4]. The item ``outside`` lies on g4.
"""

from __future__ import annotations

import httpx
import pytest

MISSING = "g4/theft/20240501T0001Z"  # shaped like a real id; no such item


def post(live, user: str, item_id: str, action: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"{live.url}/api/v1/review/items/{item_id}/{action}",
        json=body,
        headers=live.auth(user),
        timeout=10,
    )


def same_answer(a: httpx.Response, b: httpx.Response, a_id: str, b_id: str) -> None:
    """Equal status and body once each id is replaced by a placeholder."""
    assert a.status_code == b.status_code == 404
    assert a.text.replace(a_id, "<id>") == b.text.replace(b_id, "<id>")


@pytest.mark.parametrize(
    ("user", "action", "body"),
    [
        ("rev", "approve", {"expected_version": 1}),
        ("rev", "reject", {"expected_version": 1, "reason": "false_alarm"}),
        ("rev", "escalate", {"expected_version": 1}),
        ("rev", "adjust", {"expected_version": 1, "level": "red"}),
        ("rev", "claim", {}),
        ("cmd", "escalate", {"expected_version": 1}),
    ],
)
def test_an_action_on_an_item_out_of_scope_answers_like_a_missing_item(live, user, action, body):
    outside = live.seed.items["outside"]
    probe = post(live, user, outside, action, body)
    missing = post(live, user, MISSING, action, body)
    same_answer(probe, missing, outside, MISSING)
    assert probe.json()["error"]["code"] == "not_found"
    assert "g4" not in probe.json()["error"]["message"].replace(outside, "")  # no scope named


def test_completing_another_workers_warning_answers_like_a_missing_item(live):
    item = live.seed.items["approved_g1"]  # g1 is w1's, not w4's
    probe = post(live, "w4", item, "complete", {"expected_version": 2})
    missing = post(live, "w4", "g1/any/20240501T0001Z", "complete", {"expected_version": 2})
    same_answer(probe, missing, item, "g1/any/20240501T0001Z")


def test_reading_an_item_out_of_scope_answers_like_a_missing_item(live):
    outside = live.seed.items["outside"]
    probe = httpx.get(f"{live.url}/api/v1/review/items/{outside}", headers=live.auth("rev"))
    missing = httpx.get(f"{live.url}/api/v1/review/items/{MISSING}", headers=live.auth("rev"))
    same_answer(probe, missing, outside, MISSING)


def test_a_patrol_report_on_another_workers_grid_answers_like_a_missing_grid(live):
    def report(grid: str) -> httpx.Response:
        body = {"client_report_id": f"probe-{grid}", "grid_id": grid, "outcome": "found_issue"}
        return httpx.post(f"{live.url}/api/v1/patrols/reports", json=body, headers=live.auth("w1"))

    same_answer(report("g4"), report("g9"), "g4", "g9")


def test_bulk_says_not_found_for_out_of_scope_and_missing_items_alike(live):
    outside = live.seed.items["outside"]
    body = {
        "action": "escalate",
        "items": [
            {"item_id": outside, "expected_version": 1},
            {"item_id": MISSING, "expected_version": 1},
        ],
    }
    r = httpx.post(f"{live.url}/api/v1/review/bulk", json=body, headers=live.auth("rev"))
    assert r.status_code == 200
    probe, missing = r.json()["results"]
    assert probe["code"] == missing["code"] == "not_found"
    assert probe["message"].replace(outside, "<id>") == missing["message"].replace(MISSING, "<id>")
    still = httpx.get(f"{live.url}/api/v1/review/items/{outside}", headers=live.auth("adm"))
    assert (still.json()["state"], still.json()["version"]) == ("pending", 1)


def test_bulk_reports_every_entry_and_acts_once_on_a_repeated_id(live):
    bulk_me, claim_me = live.seed.items["bulk_me"], live.seed.items["claim_me"]
    entries = [bulk_me, claim_me, bulk_me, MISSING, bulk_me]
    body = {
        "action": "escalate",
        "note": "two reviewers disagree",
        "items": [{"item_id": i, "expected_version": 1} for i in entries],
    }
    r = httpx.post(f"{live.url}/api/v1/review/bulk", json=body, headers=live.auth("rev"))
    assert r.status_code == 200
    out = r.json()
    assert [x["item_id"] for x in out["results"]] == entries
    assert [x["code"] for x in out["results"]] == [
        "ok",
        "ok",
        "duplicate",
        "not_found",
        "duplicate",
    ]
    assert out["results"][2]["message"] == "entry 1 already names this item; it is acted on once"
    assert (out["succeeded"], out["failed"]) == (2, 3)
    stored = httpx.get(f"{live.url}/api/v1/review/items/{bulk_me}", headers=live.auth("rev"))
    assert (stored.json()["state"], stored.json()["version"]) == ("escalated", 2)
