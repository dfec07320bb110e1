"""Patrol reports against the live service (issue 14, items 9 and 16): a grid worker's report
may only name warnings of the report's own grid that exist, and must be dated in the last 30
days (the app's clock is `api_seed.NOW`, 2024-05-01 09:00 in Shanghai).
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from serve.db import make_engine
from serve.tables import AuditEntryRow, PatrolReportRow
from tests.serve.api_seed import NOW


def report(live, client_id: str, **fields) -> httpx.Response:
    body = {"client_report_id": client_id, "grid_id": "g1", "outcome": "found_issue", **fields}
    return httpx.post(
        f"{live.url}/api/v1/patrols/reports", json=body, headers=live.auth("w1"), timeout=10
    )


def stored(live, client_id: str) -> tuple[int, int]:
    """(report rows, audit entries) for ``client_id``."""
    engine = make_engine(live.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.scalar(
                select(func.count())
                .select_from(PatrolReportRow)
                .where(PatrolReportRow.client_report_id == client_id)
            )
            audited = conn.scalar(
                select(func.count())
                .select_from(AuditEntryRow)
                .where(AuditEntryRow.object_id == client_id)
            )
    finally:
        engine.dispose()
    return int(rows or 0), int(audited or 0)


def test_a_report_naming_the_warnings_of_its_own_grid_is_stored(live):
    r = report(live, "ok-1", item_ids=[live.seed.items["approved_g1"]])
    assert r.status_code == 201, r.text
    assert r.json()["item_ids"] == [live.seed.items["approved_g1"]]
    assert stored(live, "ok-1") == (1, 1)


def test_item_ids_of_other_grids_and_made_up_ones_are_a_422_naming_them(live):
    other_grid = live.seed.items["approved_g4"]  # w4's grid
    made_up = "g1/theft/20990101T0000Z"
    r = report(live, "bad-items", item_ids=[live.seed.items["approved_g1"], other_grid, made_up])
    assert r.status_code == 422
    (field,) = r.json()["error"]["fields"]
    assert field["field"] == "item_ids"
    assert field["message"] == (
        f"no warning of grid g1 has the id(s) {other_grid!r}, {made_up!r}; "
        "send only the item_ids of this grid's patrol suggestion"
    )
    assert stored(live, "bad-items") == (0, 0)


def test_a_warning_of_another_grid_in_the_workers_own_scope_is_refused_too(live):
    # escalate_me lies on g1; reported on g1 it is fine, but reject_me lies on g2
    r = report(live, "wrong-grid", item_ids=[live.seed.items["reject_me"]])
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "item_ids"


def test_a_report_dated_2199_is_refused_naming_the_field(live):
    r = report(live, "far-future", at="2199-01-01T08:00:00+08:00")
    assert r.status_code == 422
    error = r.json()["error"]
    assert [f["field"] for f in error["fields"]] == ["at"]
    assert "the report time is after now (2024-05-01T01:00:00+00:00)" in error["message"]
    assert stored(live, "far-future") == (0, 0)


def test_a_report_older_than_30_days_is_refused(live):
    at = (NOW - timedelta(days=31)).isoformat()
    r = report(live, "too-old", at=at)
    assert r.status_code == 422
    assert "more than 30 days before now" in r.json()["error"]["message"]
    assert stored(live, "too-old") == (0, 0)


def test_a_phone_clock_a_minute_ahead_and_a_week_old_report_are_accepted(live):
    ahead = report(live, "ahead", at=(NOW + timedelta(minutes=1)).isoformat())
    week = report(live, "week", at=(NOW - timedelta(days=7)).isoformat())
    assert (ahead.status_code, week.status_code) == (201, 201)
