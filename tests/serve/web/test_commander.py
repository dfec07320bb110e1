"""The commander page in the browser: KPI tiles, the ranked table with reasons and trends,
filters that refetch, the language switch, auto refresh, and a 360 px screen.

Data: `tests.serve.api_seed` plus `add_history` (run r0 a day before r1: previous
probabilities g3 0.20, g4 0.40, g5 0.60 on target any).
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.serve.web.conftest import add_history, no_horizontal_scroll, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_extra():
    return add_history


def loaded(page, n: int = 1) -> None:
    page.wait_for_function(f"Number(document.body.dataset.loaded || 0) >= {n}")


def count(page) -> int:
    return page.evaluate("Number(document.body.dataset.loaded || 0)")


def rows(page) -> list[tuple[str, str, str]]:
    """(grid, target, level) of each ranked row, top first."""
    return [
        tuple(r)
        for r in page.eval_on_selector_all(
            "#ranked tbody tr[data-grid-id]",
            "rs => rs.map(r => [r.dataset.gridId, r.dataset.target, r.dataset.level])",
        )
    ]


def kpis(page) -> dict[str, str]:
    return page.eval_on_selector_all(
        ".kpi",
        "ks => Object.fromEntries(ks.map(k => [k.id.slice(4), k.querySelector('.kpi-value').textContent]))",
    )


def test_a_commander_sees_only_the_approved_warning_in_scope(open_as):
    # cmd: community c2 = g3. Approved warnings: g1/any, g3/any, g4/any — only g3 is in scope;
    # g3's pending items (release_me, cmd_escalates) are not approved and must not show.
    page = open_as("cmd", "/commander")
    loaded(page)
    assert rows(page) == [("g3", "any", "orange")]
    row = page.locator("#ranked tbody tr").first
    cells = row.locator("td").all_inner_texts()
    assert cells[1].split("\n") == ["g3", "已批准", "派出巡查"]  # state and the next step
    assert cells[2:4] == ["任意事件", "橙色"]
    # The warning's 0.45 against g3/any's 0.20 in the run before r1 (r0): up 25 points.
    trend = row.locator("[data-trend]")
    assert (trend.get_attribute("data-trend"), trend.get_attribute("title")) == (
        "up",
        "较上次上升 25.0 个百分点",
    )
    assert cells[4].startswith("45%↑")
    assert cells[5].split("\n") == [  # api_seed.reasons_for("any", 0.45)
        "本网格近28天各类事件9起（一般网格1起），其中近7天3起：+18个百分点",
        "老旧小区，商铺128家（一般网格商铺25家）：+10个百分点",
        "每千人中独居老人18.2人（一般网格6人）：+4.0个百分点",
    ]
    assert page.locator("#ranked-note").inner_text() == "仅显示已批准的预警 · 共 1 条"
    text = page.locator("main").inner_text()
    for other in ("g1", "g2", "g4", "g5"):
        assert other not in text
    # pending = release_me + cmd_escalates (g3); created at T0, 60 min before NOW, under the
    # 120-minute response target: no breach. Approved and open: approved_g3.
    assert kpis(page) == {
        "pending": "2",
        "escalated": "0",
        "sla": "0",
        "approved_open": "1",
        "hit_rate": "—",
        "response": "100%",
        "completion": "—",
        "red_true": "—",
        "last_run": "2024-05-01 08:00",
    }
    assert page.locator("#kpi-last_run .kpi-note").inner_text() == "模型 m1"
    assert page.locator("nav.nav").count() == 0  # the commander has one page only
    shot(page, "commander_zh")


def test_an_analyst_sees_every_forecast_ranked_with_trends(open_as):
    page = open_as("ana", "/commander")
    loaded(page)
    assert rows(page) == [
        ("g5", "any", "red"),
        ("g4", "any", "red"),
        ("g5", "theft", "red"),
        ("g3", "any", "orange"),
        ("g4", "theft", "orange"),
        ("g2", "any", "yellow"),
        ("g3", "theft", "yellow"),
        ("g1", "any", "blue"),
        ("g2", "theft", "blue"),
        ("g1", "theft", "blue"),
    ]
    trends = page.eval_on_selector_all(
        "#ranked tbody tr",
        "rs => rs.map(r => { const t = r.querySelector('[data-trend]'); return t ? t.dataset.trend : null; })",
    )
    # r0 → r1 on any: g5 0.60 → 0.50 down, g4 0.40 → 0.40 flat, g3 0.20 → 0.30 up; no r0 row
    # for theft or for g1/g2.
    assert trends == ["down", "flat", None, "up", None, None, None, None, None, None]
    assert page.locator("#ranked-note").inner_text() == "最新预测（含未审核） · 共 10 条"
    assert kpis(page)["pending"] == "9"
    assert kpis(page)["approved_open"] == "3"


def test_filters_refetch_the_table_dim_the_map_and_stay_in_the_url(open_as):
    page = open_as("ana", "/commander")
    loaded(page)
    assert page.locator("#f-street option").all_inner_texts() == ["全部", "s1", "s2"]
    page.select_option("#f-street", "s2")
    loaded(page, 2)
    assert rows(page) == [
        ("g5", "any", "red"),
        ("g4", "any", "red"),
        ("g5", "theft", "red"),
        ("g4", "theft", "orange"),
    ]
    assert page.locator("#f-community option").all_inner_texts() == ["全部", "c3"]
    page.select_option("#f-level", "red")
    loaded(page, 3)
    assert rows(page) == [("g5", "any", "red"), ("g4", "any", "red"), ("g5", "theft", "red")]
    dimmed = page.eval_on_selector_all("#map path.dim", "ps => ps.map(p => p.dataset.gridId)")
    assert sorted(dimmed) == ["g1", "g2", "g3"]
    assert page.url.endswith("/commander?street=s2&level=red")
    page.reload()
    loaded(page)
    assert page.locator("#f-street").input_value() == "s2"
    assert page.locator("#f-level").input_value() == "red"
    assert len(rows(page)) == 3


def test_a_filter_with_no_match_says_so(open_as):
    page = open_as("cmd", "/commander?level=red")
    loaded(page)
    assert rows(page) == []
    assert page.locator("#ranked tbody").inner_text() == "当前筛选条件下没有预警。"


def test_the_language_switch_translates_the_page_and_is_remembered(open_as):
    page = open_as("cmd", "/commander")
    loaded(page)
    page.click("button[data-lang=en]")
    assert page.evaluate("document.documentElement.lang") == "en"
    heads = page.locator("#ranked thead th").all_inner_texts()
    assert heads == ["#", "Grid", "Category", "Level", "Probability", "Main reasons"]
    cells = page.locator("#ranked tbody tr").first.locator("td").all_inner_texts()
    assert cells[1:4] == ["g3\nApproved\nDispatch", "Any event", "Orange"]
    assert page.locator("#kpi-pending .kpi-label").inner_text() == "Pending warnings"
    assert page.locator("#filters-heading").inner_text() == "Filters"
    assert page.locator("#f-level option").all_inner_texts() == [
        "All", "Red", "Orange", "Yellow", "Blue"
    ]  # fmt: skip
    assert page.title() == "Overview · Grid Risk Early Warning"
    page.reload()
    loaded(page)
    assert page.locator("#ranked-heading").inner_text() == "High-risk grids"
    shot(page, "commander_en")


def test_at_360_px_nothing_scrolls_sideways(open_as):
    page = open_as("cmd", "/commander", width=360)
    loaded(page)
    assert no_horizontal_scroll(page)
    shot(page, "commander_360_zh")
    page = open_as("ana", "/commander", width=360)
    loaded(page)
    assert no_horizontal_scroll(page)
    shot(page, "commander_analyst_360_zh")


def test_the_page_refreshes_every_60_seconds_without_a_reload(live_server, open_as):
    """Last in the module: it approves a warning on the server."""
    page = open_as("cmd", "/commander")
    loaded(page)
    page.clock.install()
    page.reload()
    loaded(page)
    before = count(page)
    page.evaluate("window.__same_document = true")
    # A reviewer approves g3/dispute (cmd_escalates) meanwhile.
    item = live_server.seed.items["cmd_escalates"]
    r = httpx.post(
        f"{live_server.url}/api/v1/review/items/{item}/approve",
        json={"expected_version": 1},
        headers={"Authorization": f"Bearer {live_server.seed.tokens['rev']}"},
    )
    assert r.status_code == 200, r.text
    page.clock.run_for(59_000)
    assert count(page) == before
    page.clock.run_for(2_000)
    loaded(page, before + 1)
    assert rows(page) == [("g3", "any", "orange"), ("g3", "dispute", "orange")]
    assert page.evaluate("window.__same_document") is True  # no reload
    assert kpis(page)["pending"] == "1"
    # "Updated" is the browser's time of the refresh (the server's clock is fixed at NOW).
    assert re.fullmatch(r"最近更新 \d\d:\d\d:\d\d", page.locator("#updated").inner_text())
