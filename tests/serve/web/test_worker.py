"""The grid worker's page in a real browser, at 360×740: the list, one-tap reports, offline.

The seed approves `approved_g1` (g1, any, red, 0.70) and `approved_g4` (g4, any, orange), both
live at NOW, so w1 (grids [g1]) gets one visit, g1, and w4 (grids [g4]) one visit, g4.
Offline is Playwright's `context.set_offline`; the service worker must control the page
first, so the reload while offline is answered from its cache.
"""

from __future__ import annotations

import httpx
import pytest

from serve.db import make_engine, session_factory
from serve.repo.patrols import reports_for
from tests.serve.api_seed import bearer
from tests.serve.web.conftest import login, no_horizontal_scroll, shot

pytestmark = pytest.mark.browser


def stored_reports(live_server, worker: str) -> list:
    engine = make_engine(live_server.seed.url)
    try:
        with session_factory(engine)() as s:
            return reports_for(s, worker=worker)
    finally:
        engine.dispose()


def open_worker_page(context, live_server, username: str):
    page = context.new_page()
    login(page, live_server.url, username)  # a worker's home is /worker
    page.wait_for_url("**/worker")
    page.locator("li.wk-visit").first.wait_for()
    return page


def wait_until_controlled(page) -> None:
    """The service worker is active and controls the page (clients.claim())."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def test_offline_report_is_queued_then_stored_exactly_once(phone, live_server):
    page = open_worker_page(phone, live_server, "w1")
    wait_until_controlled(page)
    visits = page.locator("li.wk-visit")
    assert visits.evaluate_all("els => els.map(e => e.dataset.gridId)") == ["g1"]
    card = visits.first
    today = httpx.get(
        f"{live_server.url}/api/v1/patrols/today", headers=bearer(live_server.seed.tokens["w1"])
    ).json()
    window = today["suggestions"][0]["window"]  # null until hour profiles are known
    assert card.locator(".wk-window").inner_text() == (window or "全天任意时间")
    assert card.locator(".badge").inner_text() == "红色"
    assert card.locator(".wk-actions li").all_inner_texts() == ["网格常规巡查"]
    # the facts without the points (api_seed.reasons_for)
    assert card.locator(".wk-reasons li").all_inner_texts() == [
        "本网格近28天各类事件9起（一般网格1起），其中近7天3起",
        "老旧小区，商铺128家（一般网格商铺25家）",
        "每千人中独居老人18.2人（一般网格6人）",
    ]
    assert no_horizontal_scroll(page)
    shot(page, "worker-zh-360")
    assert stored_reports(live_server, "w1") == []

    phone.set_offline(True)
    page.locator("#wk-offline").wait_for()  # the `offline` event shows the banner
    card.locator("textarea").fill("3号楼楼道堆物，已提醒物业")
    card.locator("[data-outcome=found_issue]").click()
    status = card.locator(".wk-status")
    status.wait_for()
    assert status.get_attribute("data-status") == "queued"
    assert "已保存，待发送：发现问题" in status.inner_text()
    assert page.locator("#wk-queue").inner_text().startswith("1 条结果待发送")
    queued = page.evaluate("() => window.RiskWorker.reports()")
    assert len(queued) == 1
    client_id = queued[0]["client_report_id"]
    assert queued[0]["status"] == "queued"
    assert stored_reports(live_server, "w1") == []
    shot(page, "worker-offline-queued-360")

    page.reload()  # still offline: page, scripts, list and me come from the service worker
    page.locator("li.wk-visit").first.wait_for()
    assert page.locator("li.wk-visit").evaluate_all("els => els.map(e => e.dataset.gridId)") == [
        "g1"
    ]
    assert page.locator("#wk-offline").is_visible()
    assert page.locator("#wk-cached").is_visible()  # says the list is a saved copy
    assert page.locator(".wk-status").get_attribute("data-status") == "queued"
    shot(page, "worker-offline-reloaded-360")

    phone.set_offline(False)  # the `online` event sends the outbox
    page.locator('.wk-status[data-status="sent"]').wait_for()
    assert page.locator("#wk-offline").is_hidden()
    reports = stored_reports(live_server, "w1")
    assert [(r.client_report_id, r.report.grid_id, r.report.outcome.value) for r in reports] == [
        (client_id, "g1", "found_issue")
    ]
    assert reports[0].report.note == "3号楼楼道堆物，已提醒物业"
    assert reports[0].report.item_ids == (live_server.seed.items["approved_g1"],)

    page.reload()  # online again: nothing left to send, nothing sent twice
    page.locator('.wk-status[data-status="sent"]').wait_for()
    page.wait_for_timeout(500)
    assert len(stored_reports(live_server, "w1")) == 1
    shot(page, "worker-sent-360")


def test_a_lost_answer_is_retried_with_the_same_id_and_stored_once(phone, live_server):
    page = open_worker_page(phone, live_server, "w1")
    before = len(stored_reports(live_server, "w1"))
    card = page.locator("li.wk-visit").first
    if card.locator(".wk-change").count():
        card.locator(".wk-change").click()  # an earlier test reported on g1 already

    answers = []

    def lose_the_answer(route):
        response = route.fetch()  # the server stores the report …
        answers.append(response.status)
        route.abort("connectionreset")  # … but the phone never hears back

    phone.route("**/api/v1/patrols/reports", lose_the_answer)
    with page.expect_event("requestfailed"):
        card.locator("[data-outcome=nothing_found]").click()
    assert answers == [201]
    phone.unroute("**/api/v1/patrols/reports")
    assert card.locator(".wk-status").get_attribute("data-status") == "queued"

    page.locator("#wk-send-now").click()  # the retry sends the same client_report_id
    card.locator('.wk-status[data-status="sent"]').wait_for()
    ours = [r for r in page.evaluate("() => window.RiskWorker.reports()") if r["status"] == "sent"]
    newest = max(ours, key=lambda r: r["created_local"])
    assert newest["created"] is False  # the API answered "already stored" (200)
    reports = stored_reports(live_server, "w1")
    assert len(reports) == before + 1
    assert sum(r.client_report_id == newest["client_report_id"] for r in reports) == 1


def test_a_worker_sees_only_their_own_grids(phone, live_server):
    page = open_worker_page(phone, live_server, "w4")
    grids = page.locator("li.wk-visit").evaluate_all("els => els.map(e => e.dataset.gridId)")
    assert grids == ["g4"]
    assert "g1" not in page.locator("#wk-visits").inner_text()
    # and the API refuses a report on another worker's grid: "not found", like a missing one
    r = httpx.post(
        f"{live_server.url}/api/v1/patrols/reports",
        headers=bearer(live_server.seed.tokens["w1"]),
        json={"client_report_id": "x-1", "grid_id": "g4", "outcome": "nothing_found"},
    )
    assert r.status_code == 404, r.text


def test_the_page_in_english_fits_a_phone(phone, live_server):
    page = open_worker_page(phone, live_server, "w4")
    page.locator(".lang-btn[data-lang=en]").click()
    card = page.locator("li.wk-visit").first
    today = httpx.get(
        f"{live_server.url}/api/v1/patrols/today", headers=bearer(live_server.seed.tokens["w4"])
    ).json()
    assert card.locator(".wk-window").inner_text() == (
        today["suggestions"][0]["window"] or "any time today"
    )
    assert card.locator("[data-outcome=could_not_visit]").inner_text() == "Could not visit"
    assert card.locator(".wk-actions li").all_inner_texts() == ["routine patrol of the grid"]
    assert no_horizontal_scroll(page)
    shot(page, "worker-en-360")


def test_an_admin_sees_every_workers_list_but_cannot_report(phone, live_server):
    page = phone.new_page()
    login(page, live_server.url, "adm")
    page.goto(f"{live_server.url}/worker")
    page.locator("li.wk-visit").first.wait_for()
    visits = page.locator("li.wk-visit")
    assert visits.evaluate_all("els => els.map(e => e.dataset.gridId)") == ["g1", "g4"]
    assert visits.locator(".wk-who").all_inner_texts() == ["网格员 w1", "网格员 w4"]
    assert page.locator("[data-outcome]").count() == 0
    assert page.locator(".wk-view-only").is_visible()


def test_logging_out_drops_the_saved_list(phone, live_server):
    page = open_worker_page(phone, live_server, "w4")
    wait_until_controlled(page)
    saved = "() => caches.open('risk-worker-v1').then(c => c.match('/api/v1/patrols/today'))"
    page.wait_for_function(f"{saved}.then(r => r !== undefined)")
    page.locator("#logout").click()
    page.wait_for_url("**/login")
    assert page.evaluate(f"{saved}.then(r => r === undefined)")
