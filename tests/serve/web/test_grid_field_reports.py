"""Field reports in the browser (issue 16, item 3): the grid page's "现场反馈 / Field reports"
section lists a patrol report and a worker's event sent through the API, a quiet grid says so
in words, and the reviewer's approved item folds out the patrol report that answered it.
Its own live server: the reports change the seeded data. Times are city-local (+08:00)."""

from __future__ import annotations

import httpx
import pytest

from tests.serve.api_seed import bearer
from tests.serve.web.conftest import shot

pytestmark = pytest.mark.browser


def send(live_server, path: str, body: dict) -> None:
    r = httpx.post(f"{live_server.url}/api/v1{path}", json=body,
                   headers=bearer(live_server.seed.tokens["w1"]), timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text


def loaded(page) -> None:
    page.wait_for_function("document.body.dataset.loaded === '1'")


def rows(page, table: str) -> list[list[str]]:
    return [r.split("\t") for r in page.locator(f"#{table} tbody tr").all_inner_texts()]


def test_the_grid_page_shows_patrol_reports_and_worker_events(live_server, open_as):
    approved = live_server.seed.items["approved_g1"]
    send(live_server, "/patrols/reports", {
        "client_report_id": "web-p1", "grid_id": "g1", "outcome": "found_issue",
        "at": "2024-05-01T08:20:00+08:00", "item_ids": [approved], "category": "theft",
        "note": "车棚电瓶被盗",
    })  # fmt: skip
    send(live_server, "/worker/events", {
        "client_event_id": "web-e1", "grid_id": "g1", "category": "fire_hazard",
        "occurred_at": "2024-05-01T07:30:00+08:00", "note": "楼道堆放杂物",
    })  # fmt: skip

    page = open_as("ana", "/grid/g1")
    loaded(page)
    assert page.locator("#field-heading").inner_text() == "现场反馈"
    assert rows(page, "patrols-table") == [["2024-05-01 08:20", "发现问题", "w1", "车棚电瓶被盗"]]
    # newest first: the event the patrol's finding became, then the worker's own event
    assert rows(page, "field-events-table") == [
        ["2024-05-01 08:20", "盗窃", "巡查发现", "—"],
        ["2024-05-01 07:30", "火灾隐患", "网格员上报", "楼道堆放杂物"],
    ]
    page.locator("#grid-field").scroll_into_view_if_needed()
    shot(page, "grid_field_reports_zh")

    quiet = open_as("ana", "/grid/g2", lang="en")
    loaded(quiet)
    assert quiet.locator("#field-heading").inner_text() == "Field reports"
    assert quiet.locator("#grid-patrols").inner_text() == "No patrol reports in the last 30 days."
    assert quiet.locator("#grid-field-events").inner_text() == (
        "No events reported by grid workers or patrols in the last 30 days."
    )

    reviewer = open_as("rev", "/reviewer")
    reviewer.locator("li.rv-item").first.wait_for()
    reviewer.locator("input[name=state][value=approved]").check()
    item = reviewer.locator(f'li.rv-item[data-item-id="{approved}"]')
    item.locator(".rv-patrols summary").click()
    item.locator(".rv-patrols[data-loaded='1'] li").wait_for()
    assert item.locator(".rv-patrols summary").inner_text() == "巡查反馈（1 条）"
    assert item.locator(".rv-patrols li").all_inner_texts() == ["2024-05-01 08:20 · 发现问题"]
    shot(reviewer, "reviewer_patrol_reports_zh", full_page=False)
