"""The grid page (/grid/{id}) in the browser: facts, current risk, history charts, recent
events and the review history — as much as the role may see.

Data: `tests.serve.api_seed` plus `add_history` (run r0 a day before r1; g3's events).
"""

from __future__ import annotations

import pytest

from tests.serve.web.conftest import add_history, no_horizontal_scroll, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_extra():
    return add_history


def loaded(page) -> None:
    page.wait_for_function("document.body.dataset.loaded === '1'")


def test_an_analyst_sees_forecasts_history_events_and_every_review(open_as):
    page = open_as("ana", "/grid/g3")
    loaded(page)
    assert page.locator("#grid-heading").inner_text() == "网格 g3"
    facts = page.locator("#grid-facts").inner_text().split("\n")
    assert facts == [
        "社区",
        "c2",
        "街道",
        "s1",
        "网格类型",
        "老旧小区",
        "中心点",
        "121.4200, 31.2100",
    ]
    # Latest run r1 for g3: any 0.30 orange (with the seeded reason), theft 0.15 yellow.
    now = page.eval_on_selector_all(
        "#grid-now .now-row", "rs => rs.map(r => [r.dataset.target, r.dataset.level])"
    )
    assert now == [["any", "orange"], ["theft", "yellow"]]
    assert page.locator("#grid-now .now-row").first.inner_text().split("\n") == [
        "橙色", "任意事件", "概率 30%",
        "本网格近28天各类事件9起（一般网格1起），其中近7天3起：+11个百分点",
        "老旧小区，商铺128家（一般网格商铺25家）：+6.2个百分点",
        "每千人中独居老人18.2人（一般网格6人）：+2.5个百分点",
    ]  # fmt: skip
    # History: any in r0 (0.20, yellow) then r1 (0.30, orange); theft in r1 only.
    charts = page.eval_on_selector_all(
        "#grid-history figure",
        "fs => fs.map(f => [f.dataset.target, [...f.querySelectorAll('circle')].map(c => c.dataset.level)])",
    )
    assert charts == [["any", ["yellow", "orange"]], ["theft", ["yellow"]]]
    assert page.locator("#grid-history .line").count() == 1  # a line needs two points
    assert page.locator("#history-note").inner_text() == "每次预测的概率（最近 2 次）"
    # Events (add_history): theft on 04-20 and twice on 04-28, a dispute on 04-30.
    events = page.locator("#events-table tbody tr")
    assert [r.split("\t") for r in events.all_inner_texts()] == [
        ["盗窃", "3", "2024-04-28", ""],
        ["矛盾纠纷", "1", "2024-04-30", ""],
    ]
    assert page.locator("#events-note").inner_text() == "共 4 起"
    bars = page.eval_on_selector_all(
        "#events-table tbody tr:first-child rect", "rs => rs.map(r => r.getAttribute('fill'))"
    )
    # 28 bars, 0..27, ending on the latest forecast's day 05-01 (bar 27): 04-28 is bar 24,
    # 04-20 bar 27 − 11 = 16.
    assert len(bars) == 28
    assert [i for i, f in enumerate(bars) if f != "#c9ced6"] == [16, 24]
    # Every review item of g3: release_me and cmd_escalates (pending), approved_g3.
    states = page.eval_on_selector_all(
        "#grid-reviews article", "as => as.map(a => a.dataset.state).sort()"
    )
    assert states == ["approved", "pending", "pending"]
    shot(page, "grid_analyst_zh")


def test_a_commander_sees_approved_warnings_only(live_server, open_as):
    page = open_as("cmd", "/grid/g3")
    loaded(page)
    assert page.locator("#grid-reviews article").count() == 1
    item = page.locator("#grid-reviews article")
    assert item.get_attribute("data-item-id") == live_server.seed.items["approved_g3"]
    assert item.locator(".timeline li").all_inner_texts() == [
        "2024-05-01 08:00\n模型 m1 生成预警（橙色，45%）",
        "2024-05-01 08:30\nrev 批准",
    ]
    # No forecast history for a commander: the chart is drawn from approved warnings.
    assert page.locator("#history-note").inner_text() == "依据已批准的预警"
    levels = page.eval_on_selector_all("#grid-history circle", "cs => cs.map(c => c.dataset.level)")
    assert levels == ["orange"]
    assert page.locator("#grid-now").inner_text().split("\n") == [
        "橙色",
        "任意事件",
        "概率 45%",
        "预警时段 2024-05-01 08:00 至 2024-05-04 08:00",
        "本网格近28天各类事件9起（一般网格1起），其中近7天3起：+18个百分点",
        "老旧小区，商铺128家（一般网格商铺25家）：+10个百分点",
        "每千人中独居老人18.2人（一般网格6人）：+4.0个百分点",
    ]
    assert page.locator("#back").get_attribute("href") == "/commander"
    shot(page, "grid_commander_zh")


def test_a_grid_outside_the_commanders_scope_is_not_found(open_as):
    page = open_as("cmd", "/grid/g1")
    page.locator("#grid-error").wait_for(state="visible")
    assert page.locator("#grid-error").inner_text() == "未找到该网格，或它不在你的辖区内。"
    assert page.locator("#grid-body").is_hidden()


def test_a_reviewer_goes_back_to_the_queue(open_as):
    page = open_as("rev", "/grid/g3")
    loaded(page)
    back = page.locator("#back")
    assert (back.get_attribute("href"), back.inner_text()) == ("/reviewer", "← 返回审核队列")


def test_a_grid_worker_may_not_open_grid_pages(live_server, open_as):
    page = open_as("w1", "/grid/g1")
    assert page.locator("#forbidden-heading").inner_text() == "无权访问此页面"


def test_the_grid_page_in_english_and_on_a_phone(open_as):
    page = open_as("ana", "/grid/g3", lang="en")
    loaded(page)
    assert page.locator("#events-heading").inner_text() == "Events in the last 28 days"
    assert page.locator("#grid-facts dt").all_inner_texts() == [
        "Community", "Street", "Grid type", "Centre"
    ]  # fmt: skip
    assert page.title() == "Grid g3 · Grid Risk Early Warning"
    shot(page, "grid_analyst_en")
    page = open_as("cmd", "/grid/g3", width=360)
    loaded(page)
    assert no_horizontal_scroll(page)
    shot(page, "grid_commander_360_zh")
