"""A grid worker reports an event from the phone page, offline and online (issue 16, item 2):
open → pick a category → send, their grid preselected and the time now; queued in the outbox
while offline, sent once when back online, stored with source grid_worker.

Its own live server (the events change the data). The phone's clock agrees with the service's
(`NOW`, 09:00 city time); w1's scope is [g1]. Offline is Playwright's `context.set_offline`
after the service worker controls the page, as in test_worker.py.
"""

from __future__ import annotations

import pytest

from serve.db import make_engine, session_factory
from serve.repo.events import get_event, load_events
from tests.serve.web.conftest import login, no_horizontal_scroll, shot

pytestmark = pytest.mark.browser


def stored(live_server):
    """The event store, and each event's opened note (the server's key)."""
    engine = make_engine(live_server.seed.url)
    try:
        with session_factory(engine, data_dir=live_server.data_dir)() as s:
            events = load_events(s)
            notes = {e: get_event(s, e)["note"] for e in events["event_id"]}
            return events, notes
    finally:
        engine.dispose()


def open_page(context, live_server, username="w1"):
    page = context.new_page()
    login(page, live_server.url, username)
    page.wait_for_url("**/worker")
    page.locator("li.wk-visit").first.wait_for()
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return page


def test_a_worker_reports_an_event_offline_and_online(phone, live_server):
    page = open_page(phone, live_server)
    assert stored(live_server)[0].empty

    # online: three taps — open, a category, send — and it is stored at once
    page.locator("#wk-ev-open").click()  # 1
    assert page.locator("#wk-ev-grid-one").inner_text() == "网格 g1"  # preselected, the only one
    assert page.locator("#wk-ev-time").input_value() == ""  # empty: now
    chips = page.locator(".wk-ev-cat")
    assert chips.all_inner_texts() == [
        "矛盾纠纷", "盗窃", "火灾隐患", "安全隐患", "诈骗", "信访", "其他"
    ]  # fmt: skip
    assert page.locator("#wk-ev-send").is_disabled()
    assert no_horizontal_scroll(page)
    shot(page, "worker-event-form-360")
    chips.filter(has_text="盗窃").click()  # 2
    page.locator("#wk-ev-send").click()  # 3
    page.locator(".wk-ev-item[data-status='sent']").wait_for()
    assert page.locator(".wk-ev-item").inner_text().startswith("盗窃 · 网格 g1 · 09:00")
    events, _ = stored(live_server)
    assert [(e["category"], e["grid_id"], e["source"], str(e["occurred_at"]))
            for e in events.to_dict("records")] == [
        ("theft", "g1", "grid_worker", "2024-05-01 09:00:00+08:00")
    ]  # fmt: skip

    # offline: the same three taps (and a note) queue it on the phone
    phone.set_offline(True)
    page.locator("#wk-offline").wait_for()
    page.locator("#wk-ev-open").click()
    page.locator(".wk-ev-cat[data-category=fire_hazard]").click()
    page.locator("#wk-ev-note").fill("5号楼楼道电动车充电")
    page.locator("#wk-ev-send").click()
    queued = page.locator(".wk-ev-item[data-status='queued']")
    queued.wait_for()
    assert "已保存，待发送" in queued.inner_text()
    assert page.locator("#wk-queue").inner_text().startswith("1 条结果待发送")
    outbox = [
        r for r in page.evaluate("() => window.RiskWorker.reports()") if r["status"] == "queued"
    ]
    assert [(r["kind"], r["category"], r["grid_id"]) for r in outbox] == [
        ("event", "fire_hazard", "g1")
    ]
    assert len(stored(live_server)[0]) == 1  # nothing reached the server
    shot(page, "worker-event-queued-360")

    page.reload()  # still offline: the page and its outbox come back from the phone
    page.locator(".wk-ev-item[data-status='queued']").wait_for()

    phone.set_offline(False)  # the `online` event sends the outbox, once
    page.locator(".wk-ev-item[data-status='queued']").wait_for(state="detached")
    assert page.locator(".wk-ev-item").evaluate_all("els => els.map(e => e.dataset.status)") == [
        "sent",
        "sent",
    ]
    events, notes = stored(live_server)
    mine = events.set_index("event_id")
    key = f"grid_worker:{outbox[0]['client_report_id']}"
    assert (mine.loc[key, "category"], mine.loc[key, "source"]) == ("fire_hazard", "grid_worker")
    assert notes[key] == "5号楼楼道电动车充电"

    page.reload()  # online again: nothing left to send, nothing sent twice
    page.locator(".wk-ev-item[data-status='sent']").first.wait_for()
    page.wait_for_timeout(500)
    assert page.locator("#wk-queue").is_hidden()  # nothing waits
    assert len(stored(live_server)[0]) == 2
    shot(page, "worker-event-sent-360")


def test_the_event_form_in_english(phone, live_server):
    page = open_page(phone, live_server, "w4")
    page.locator(".lang-btn[data-lang=en]").click()
    page.locator("#wk-ev-open").click()
    assert page.locator(".wk-ev-title").inner_text() == "Report an event"
    assert page.locator("#wk-ev-grid-one").inner_text() == "Grid g4"
    assert page.locator(".wk-ev-cat").first.inner_text() == "Disputes"
    assert page.locator(".wk-ev-cat").last.inner_text() == "Other"
    assert no_horizontal_scroll(page)
    shot(page, "worker-event-form-en-360")
    page.locator(".wk-ev-buttons .btn-secondary").click()  # cancel: nothing sent
    assert page.locator("#wk-ev-open").is_visible()
    assert page.locator(".wk-ev-item").count() == 0
