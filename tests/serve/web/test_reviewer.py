"""The reviewer page in a real browser: the queue, SLA countdowns, actions, 409s and bulk.

One live server per module (the API seed): rev reviews street s1 (grids g1, g2, g3), so the
queue holds the 8 pending items there — never `outside` (g4). The commander cmd sees
community c2 = g3 only, so the decisions that must reach the commander are made on g3 items.
Every test acts on its own items, so the order of the tests does not matter.
A second reviewer, rev2 (same scope, own API token), is the "someone else" who changes items
after the page loaded. The page's clock is fixed at `api_seed.NOW` (T0 + 1 h): every item entered the queue at T0,
so each has exactly 1 h left of its 2 h response target.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from risk.scopes import Scope
from serve.db import make_engine, session_factory, transaction
from serve.repo.users import add_user, issue_token
from tests.serve.api_seed import ITEMS, NOW, T0, bearer
from tests.serve.web.conftest import BYPASS_CSP, login, shot

pytestmark = pytest.mark.browser

OPEN_IN_S1 = [
    n for n, (g, *_, fate) in ITEMS.items() if g != "g4" and fate in ("pending", "claimed")
]


@pytest.fixture(scope="module", autouse=True)
def rev2(live_server) -> str:
    """A second reviewer of street s1, with an API token (in `seed.tokens`)."""
    engine = make_engine(live_server.seed.url)
    try:
        with transaction(session_factory(engine)) as s:
            add_user(s, "rev2", "reviewer", Scope.of("street", ["s1"]), at=T0)
            live_server.seed.tokens["rev2"] = issue_token(s, "rev2", "api", at=T0)
    finally:
        engine.dispose()
    return "rev2"


def api(live_server, user: str, method: str, path: str, **kwargs) -> httpx.Response:
    headers = bearer(live_server.seed.tokens[user])
    return httpx.request(method, f"{live_server.url}/api/v1{path}", headers=headers, **kwargs)


def item(live_server, name: str) -> dict:
    r = api(live_server, "adm", "GET", f"/review/items/{live_server.seed.items[name]}")
    assert r.status_code == 200, r.text
    return r.json()


def row(page, live_server, name: str):
    return page.locator(f'li.rv-item[data-item-id="{live_server.seed.items[name]}"]')


@pytest.fixture
def reviewer(page, live_server):
    """The reviewer page as rev, clock at NOW, queue loaded."""
    page.clock.set_fixed_time(NOW)
    login(page, live_server.url, "rev")  # rev's home is /reviewer
    page.wait_for_url("**/reviewer")
    page.locator("li.rv-item").first.wait_for()
    page.wait_for_function("Number(document.body.dataset.loaded || 0) >= 1")
    return page


def test_the_queue_holds_the_open_items_in_scope_by_level_then_age_with_sla(reviewer, live_server):
    ids = reviewer.locator("li.rv-item").evaluate_all("els => els.map(e => e.dataset.itemId)")
    names = {v: k for k, v in live_server.seed.items.items()}
    shown = [names[i] for i in ids]
    assert sorted(shown) == sorted(OPEN_IN_S1)  # 8 items; `outside` (g4) never
    assert len(shown) == 8
    levels = [ITEMS[n][2] for n in shown]
    assert levels == ["red"] + ["orange"] * 6 + ["yellow"]  # most severe first
    # created at T0, now T0 + 1 h, target 2 h: one hour left on every item
    first = reviewer.locator("li.rv-item").first
    assert first.locator(".rv-sla").inner_text() == "剩余 1小时0分"
    assert "rv-sla-ok" in first.locator(".rv-sla").get_attribute("class")
    assert first.locator(".badge").inner_text() == "红色"
    # the model's reasons beside the item, in plain words, then the other factors
    # (api_seed.reasons_for: approve_me is theft at 0.50, 45 points above the base 5 %)
    assert first.locator(".rv-reasons li").all_inner_texts() == [
        "本网格近28天盗窃9起（一般网格1起），其中近7天3起：+20个百分点",
        "老旧小区，商铺128家（一般网格商铺25家）：+11个百分点",
        "每千人中独居老人18.2人（一般网格6人）：+4.5个百分点",
    ]
    assert first.locator(".rv-other").inner_text() == "其他因素合计：+9.0个百分点"
    # 15 min before the target: due soon
    reviewer.clock.set_fixed_time(T0 + timedelta(hours=1, minutes=45))
    sla = first.locator(".rv-sla")
    sla.filter(has_text="即将超时").wait_for()
    assert sla.inner_text() == "即将超时 · 剩余 15分0秒"
    assert "rv-sla-soon" in sla.get_attribute("class")
    # 2 h 30 min after creation: overdue by 30 min, shown as such
    reviewer.clock.set_fixed_time(T0 + timedelta(hours=2, minutes=30))
    sla.filter(has_text="已超时").wait_for()
    assert sla.inner_text() == "已超时 30分0秒"
    assert "rv-sla-over" in sla.get_attribute("class")
    assert "8 条已超时" in reviewer.locator("#rv-summary").inner_text()
    shot(reviewer, "reviewer-zh-overdue")
    reviewer.clock.set_fixed_time(NOW)
    sla.filter(has_text="剩余").wait_for()
    shot(reviewer, "reviewer-zh")


def test_approve_and_reject_reach_the_commander(reviewer, live_server):
    before = api(live_server, "cmd", "GET", "/forecasts/ranked").json()
    assert [(r["grid_id"], r["target"]) for r in before["items"]] == [("g3", "any")]

    approve = row(reviewer, live_server, "cmd_escalates")  # g3 dispute, pending
    approve.locator("[data-action=approve]").click()
    approve.locator(".rv-note-ok").wait_for()
    assert approve.get_attribute("data-state") == "approved"
    assert approve.locator(".rv-state").inner_text() == "已批准"

    reject = row(reviewer, live_server, "release_me")  # g3 fire_hazard, claimed by rev
    reject.locator("[data-action=reject]").click()
    dialog = reviewer.locator("#rv-reject-dialog")
    dialog.locator("input[value=other]").check()
    dialog.locator("button[type=submit]").click()  # "other" without a text: refused
    assert dialog.locator(".rv-form-error").inner_text() == "选择“其他”时请填写说明。"
    dialog.locator("textarea").fill("商户已自行整改")
    dialog.locator("button[type=submit]").click()
    reject.locator(".rv-note-ok").wait_for()
    assert reject.get_attribute("data-state") == "rejected"
    assert "驳回原因：其他 — 商户已自行整改" in reject.inner_text()

    after = api(live_server, "cmd", "GET", "/forecasts/ranked").json()
    got = {(r["grid_id"], r["target"]): r["state"] for r in after["items"]}
    assert got == {("g3", "any"): "approved", ("g3", "dispute"): "approved"}
    rejected = item(live_server, "release_me")
    assert (rejected["state"], rejected["reject_reason"], rejected["reject_text"]) == (
        "rejected",
        "other",
        "商户已自行整改",
    )
    assert rejected["reviewed_by"] == "rev"

    # the commander's own page shows the newly approved warning
    commander = reviewer.context.browser.new_context(
        viewport={"width": 1280, "height": 900}, **BYPASS_CSP
    )
    try:
        cpage = commander.new_page()
        login(cpage, live_server.url, "cmd")
        cpage.wait_for_url("**/commander")
        cpage.locator('tr[data-grid-id="g3"][data-target="dispute"]').wait_for()
        assert cpage.locator('tr[data-grid-id="g3"][data-target="fire_hazard"]').count() == 0
    finally:
        commander.close()


def test_a_change_made_elsewhere_first_gives_the_conflict_message(reviewer, live_server):
    target = row(reviewer, live_server, "adjust_me")  # g1 fire_hazard, orange, version 1
    assert target.get_attribute("data-version") == "1"
    # another reviewer raises the level after the page loaded
    r = api(
        live_server,
        "rev2",
        "POST",
        f"/review/items/{live_server.seed.items['adjust_me']}/adjust",
        json={"expected_version": 1, "level": "red"},
    )
    assert r.status_code == 200, r.text

    target.locator("[data-action=approve]").click()
    note = target.locator(".rv-note-conflict")
    note.wait_for()
    assert note.inner_text() == (
        "其他人已先修改了此预警，已重新加载。当前状态：待审核，级别：红色（版本 2）。请确认后再操作。"
    )
    assert target.get_attribute("data-version") == "2"  # the item was reloaded
    assert target.locator(".badge").first.inner_text() == "红色"
    assert item(live_server, "adjust_me")["state"] == "pending"  # the stale approve did nothing
    shot(reviewer, "reviewer-conflict")

    target.locator("[data-action=approve]").click()  # now on the fresh version
    target.locator(".rv-note-ok").wait_for()
    fresh = item(live_server, "adjust_me")
    assert (fresh["state"], fresh["level"], fresh["version"]) == ("approved", "red", 3)


def test_bulk_escalate_reports_each_item(reviewer, live_server):
    names = ["escalate_me", "bulk_me", "claim_me"]
    for name in names:
        row(reviewer, live_server, name).locator(".rv-check").check()
    assert reviewer.locator("#rv-toolbar-label").inner_text() == "已选 3 条"
    # claim_me changes under the reviewer's feet: another reviewer claims it
    r = api(
        live_server,
        "rev2",
        "POST",
        f"/review/items/{live_server.seed.items['claim_me']}/claim",
        json={"expected_version": 1, "lease_minutes": 30},
    )
    assert r.status_code == 200, r.text

    reviewer.locator("[data-bulk=escalate]").click()
    results = reviewer.locator("#rv-bulk-results")
    results.wait_for()
    assert results.locator("h3").inner_text() == "批量上报：成功 2 条，失败 1 条"
    codes = results.locator("li").evaluate_all(
        "els => els.map(e => [e.dataset.itemId, e.dataset.code])"
    )
    ids = live_server.seed.items
    # in queue order: the two oranges of g2 (by id), then the yellow one of g1
    assert codes == [
        [ids["bulk_me"], "ok"],
        [ids["claim_me"], "stale_version"],
        [ids["escalate_me"], "ok"],
    ]
    assert "其他人已先修改，已重新加载" in results.inner_text()
    claimed = row(reviewer, live_server, "claim_me")
    assert claimed.get_attribute("data-version") == "2"
    assert "rev2 处理中" in claimed.inner_text()
    for name in ["escalate_me", "bulk_me"]:
        assert item(live_server, name)["state"] == "escalated"
        assert row(reviewer, live_server, name).get_attribute("data-state") == "escalated"
    assert item(live_server, "claim_me")["state"] == "pending"
    shot(reviewer, "reviewer-bulk")


def test_the_page_in_english(reviewer, live_server):
    reviewer.locator(".lang-btn[data-lang=en]").click()
    first = reviewer.locator("li.rv-item").first
    assert first.locator(".rv-sla").inner_text() == "1 h 0 min left"
    assert reviewer.locator("#rv-filters-title").inner_text() == "Filters"
    assert reviewer.locator("[data-bulk=approve]").inner_text() == "Approve selected"
    assert first.locator("[data-action=reject]").inner_text() == "Reject…"
    # the reasons start from the base probability of a plain forecast (issue 12, item 5)
    based = reviewer.locator("li.rv-item .rv-base").first
    assert based.inner_text().startswith(
        "Starting point of every forecast (base probability) 5.0%; this grid "
    )
    reviewer.locator("li.rv-item [data-action=reject]").first.click()
    dialog = reviewer.locator("#rv-reject-dialog")
    assert dialog.locator("h2").inner_text() == "Reject warning"
    assert dialog.locator("label").filter(has_text="Insufficient information").count() == 1
    shot(reviewer, "reviewer-en-reject-dialog", full_page=False)
    dialog.locator("button[value=cancel]").click()
    shot(reviewer, "reviewer-en")


def test_filters_narrow_the_queue(reviewer, live_server):
    names = {v: k for k, v in live_server.seed.items.items()}

    def shown():
        ids = reviewer.locator("li.rv-item").evaluate_all("els => els.map(e => e.dataset.itemId)")
        return [names[i] for i in ids]

    def loads() -> int:
        return int(reviewer.evaluate("Number(document.body.dataset.loaded || 0)"))

    def reloaded(after: int) -> None:
        # the response arriving is not the list being drawn: wait for the page's load count
        reviewer.wait_for_function(f"Number(document.body.dataset.loaded || 0) > {after}")

    n = loads()
    with reviewer.expect_response("**/review/items?*target=theft*"):
        reviewer.select_option("#rv-target", "theft")
    reloaded(n)
    assert shown() == ["approve_me", "reject_me"]  # red before orange
    n = loads()
    with reviewer.expect_response("**/review/items?*level=red*"):
        reviewer.select_option("#rv-level", "red")
    reloaded(n)
    assert shown() == ["approve_me"]
    n = loads()
    reviewer.locator("#rv-reset").click()
    reloaded(n)
    reviewer.fill("#rv-street", "s2")  # rev's scope is s1: nothing there for them
    n = loads()
    with reviewer.expect_response("**/review/items?*street=s2*"):
        reviewer.locator("#rv-filter-form button[type=submit]").click()
    reloaded(n)
    assert shown() == []
    assert reviewer.locator("#rv-empty").inner_text() == "没有符合条件的预警。"


def test_an_admin_may_look_but_not_act(page, live_server):
    page.clock.set_fixed_time(NOW)
    login(page, live_server.url, "adm")
    page.goto(f"{live_server.url}/reviewer")
    page.locator("li.rv-item").first.wait_for()
    assert (
        page.locator(".rv-readonly").inner_text()
        == "您可以查看审核队列，但只有审核员可以处理预警。"
    )
    assert page.locator(".rv-toolbar").is_hidden()
    buttons = page.locator("li.rv-item [data-action]")
    assert buttons.count() > 0
    assert buttons.evaluate_all("els => els.every(b => b.disabled)")
