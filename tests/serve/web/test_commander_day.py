"""A scripted day on the commander page (issue 16, item 3): the KPI tiles, the street →
community → grid table with drill-down, the street and community outlines on the map, and a
compact ranked table (at least 10 grids above the fold at 1440×900).

The city: 16 squares of 0.01° in a 4×4 block, g01 at the south-west corner, row by row::

    north  g13 g14 | g15 g16     street S1: C1 = g09 g10 g13 g14, C2 = g11 g12 g15 g16
           g09 g10 | g11 g12
           --------+--------
           g05 g06 | g07 g08     street S2: C3 = g01 g02 g05 g06, C4 = g03 g04 g07 g08
    south  g01 g02 | g03 g04

Users: rev (reviewer, city), cmd (commander, city), cmd_s1 (commander, street S1).

A week earlier, run r0 (2024-04-27 08:00) warned g09, g10 and g01 (target any); rev approved
them at 09:00, cmd dispatched them at 09:30 and completed them at 13:00. Their windows closed
on 04-30 08:00: g09 (event 04-28) and g01 (event 04-29) came true, g10 did not.

The day: run r1 at 2024-05-01 08:00 puts a warning on every grid (16 items, target any; the
response clock starts at 08:00). Through the API, with the server's clock set to each time:

=========  ========================================================  ====================
time       action                                                    response (≤ 2 h?)
=========  ========================================================  ====================
08:40      rev approves g11 g12 g13 g14 g15 g16                      40 min, in time
09:00      rev rejects g04 (false alarm)                             60 min, in time
09:00      cmd dispatches g15 g16
09:30      rev approves g07 g08 g09 g10                              90 min, in time
10:00      cmd dispatches g12 g13 g14
10:30      rev approves g05 g06                                      150 min, late
11:00      rev approves g03; cmd dispatches g09 g10                  180 min, late
14:00      cmd completes g16 (approved 08:40: 5 h 20)                completion in time
16:00      cmd completes g10 (approved 09:30: 6 h 30)                in time
20:00      cmd completes g15 (11 h 20)                               in time
05-02 08h  cmd completes g12 (23 h 20)                               in time
05-02 9:30 cmd completes g14 **in the browser** (24 h 50)            late (due 08:40)
=========  ========================================================  ====================

g01 and g02 are never decided (timeouts). The page is read at 2024-05-02 10:00, when the
24-hour target of everything approved by 09:30 on 05-01 has passed.

KPI tiles (warnings queued in the last 7 days: r1's 16 and r0's 3):

* response within 2 h: r0's 3 + g11–g16 (6) + g04 + g07–g10 (4) = 14 of 19 → 74 %;
  timeouts g05 g06 g03 g01 g02 = 5 of 19 → 26 %;
* completion within 24 h, of the approved warnings whose 24 h have passed (r0's 3 and the 10
  approved by 09:30 on 05-01; g05 g06 g03 are not due yet): in time r0's 3 + g16 g15 g12 g10
  = 7 of 13 → 54 %; closed at all: those 7 + g14 = 8 of 13 → closure 62 %.

The table (breaches: g14 g13 g11 g09 g08 g07 missed 24 h, g06 g05 g03 g02 g01 missed 2 h):

=========  =======  ========  ==========  =========  ========  ========
row        pending  approved  dispatched  completed  breaches  hit rate
=========  =======  ========  ==========  =========  ========  ========
S1         0        1         2           7          4         1 of 2
- C1       0        0         2           4          3         1 of 2 (g09 yes, g10 no)
- C2       0        1         0           3          1         —
S2         2        5         0           1          7         1 of 1
- C3       2        2         0           1          4         1 of 1 (g01)
- C4       0        3         0           0          3         —
total      2        6         2           8          11        2 of 3
=========  =======  ========  ==========  =========  ========  ========
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
import shapely

from risk.review import approve, complete, dispatch, upsert_from_scoring
from risk.scopes import Scope
from risk.settings import Settings
from serve.app import create_app
from serve.db import make_engine, session_factory, transaction, upgrade
from serve.repo import audit
from serve.repo.activity import replace_event_counts
from serve.repo.grids import upsert_grids
from serve.repo.reviews import insert_item, save_item
from serve.repo.runs import RunInfo, store_run
from serve.repo.users import add_user, issue_token
from tests.serve.api_seed import PASSWORD, SHANGHAI, reasons_for
from tests.serve.web.conftest import BYPASS_CSP, served

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")  # looked at by hand: zh and en, 1440 wide
H = timedelta(hours=1)
MAY1 = datetime(2024, 5, 1, tzinfo=SHANGHAI)
T0 = MAY1 + 8 * H  # run r1
R0 = T0 - timedelta(days=4)  # run r0, 2024-04-27 08:00
READ_AT = T0 + 26 * H  # 2024-05-02 10:00
WINDOW = 72 * H
COMMUNITY = {"C1": (2, 0), "C2": (2, 2), "C3": (0, 0), "C4": (0, 2)}  # (row, col) of the SW cell
STREET = {"C1": "S1", "C2": "S1", "C3": "S2", "C4": "S2"}


def grid_id(row: int, col: int) -> str:
    return f"g{row * 4 + col + 1:02d}"


def city() -> pd.DataFrame:
    rows = []
    for community, (r0, c0) in COMMUNITY.items():
        for r in (r0, r0 + 1):
            for c in (c0, c0 + 1):
                lon, lat = 121.40 + 0.01 * c, 31.20 + 0.01 * r
                rows.append(
                    {
                        "grid_id": grid_id(r, c),
                        "community_id": community,
                        "street_id": STREET[community],
                        "grid_type": "old_residential",
                        "centroid_lon": lon,
                        "centroid_lat": lat,
                        "geometry": shapely.box(lon - 0.005, lat - 0.005, lon + 0.005, lat + 0.005),
                    }
                )
    return pd.DataFrame(rows).sort_values("grid_id", ignore_index=True)


GRIDS = city()
IDS = list(GRIDS["grid_id"])  # g01 … g16


def prob(grid: str) -> float:
    """g16 highest: 0.88 down to g01 at 0.28, so the ranked list is g16, g15, …"""
    return round(0.24 + 0.04 * int(grid[1:]), 2)


def level(p: float) -> str:
    return "red" if p >= 0.70 else "orange" if p >= 0.50 else "yellow"


def warn(grid: str, at: datetime, run_id: str):
    p = prob(grid)
    return upsert_from_scoring(
        None, grid_id=grid, target="any", window_start=at, window_end=at + WINDOW, prob=p,
        level=level(p), reasons=reasons_for("any", p), model_version="m1", at=at, run_id=run_id,
    )  # fmt: skip


def seed_day(url: str) -> tuple[dict[str, str], dict[str, str]]:
    """The city, users, run r0's closed and completed warnings with their events, and run r1's
    16 pending warnings. Returns (API tokens by user, r1 item ids by grid)."""
    upgrade(url)
    tokens: dict[str, str] = {}
    items: dict[str, str] = {}
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            upsert_grids(s, GRIDS)
            users = {
                "rev": ("reviewer", Scope.city()),
                "cmd": ("commander", Scope.city()),
                "cmd_s1": ("commander", Scope.of("street", ["S1"])),
            }
            for name, (role, scope) in users.items():
                add_user(s, name, role, scope, password=PASSWORD, at=R0)
                tokens[name] = issue_token(s, name, "api", at=R0)
            for run_id, at, grids in (("r0", R0, ["g09", "g10", "g01"]), ("r1", T0, IDS)):
                forecasts = pd.DataFrame(
                    {
                        "grid_id": grids,
                        "target": "any",
                        "prob": [prob(g) for g in grids],
                        "expected_count": None,
                        "level": [level(prob(g)) for g in grids],
                        "reasons": [reasons_for("any", prob(g)) for g in grids],
                    }
                )
                store_run(s, RunInfo(run_id, at, "m1", "fp-" + run_id, at), forecasts)
                for g in grids:
                    item, event = warn(g, at, run_id)
                    insert_item(s, item)
                    audit.append_review_event(s, event)
                    if run_id == "r1":
                        items[g] = item.item_id
                        continue
                    for change in (
                        lambda i: approve(i, "rev", R0 + H, i.version),
                        lambda i: dispatch(i, "cmd", R0 + 1.5 * H, i.version),
                        lambda i: complete(i, "cmd", R0 + 5 * H, i.version),
                    ):
                        new, event = change(item)
                        save_item(s, new, item.version)
                        audit.append_review_event(s, event)
                        item = new
            # g09 on 04-28 and g01 on 04-29 inside r0's windows; g16 on 05-01 07:00 (the
            # latest event known, so r0's windows can be judged).
            events = pd.DataFrame(
                {
                    "grid_id": ["g09", "g01", "g16"],
                    "occurred_at": [MAY1 - 70 * H, MAY1 - 40 * H, MAY1 + 7 * H],
                    "category": ["theft", "dispute", "theft"],
                }
            )
            events["occurred_at"] = pd.to_datetime(events["occurred_at"])
            replace_event_counts(s, events, pd.Timestamp(T0))
    finally:
        engine.dispose()
    return tokens, items


class Day:
    """The live server, its movable clock, and the day's actions through the API."""

    def __init__(self, url: str, clock: list[datetime], tokens, items) -> None:
        self.url, self.clock, self.tokens, self.items = url, clock, tokens, items
        self.versions = dict.fromkeys(items, 1)

    def act(self, who: str, at: datetime, action: str, grids: list[str], **body) -> None:
        self.clock[0] = at
        for g in grids:
            r = httpx.post(
                f"{self.url}/api/v1/review/items/{self.items[g]}/{action}",
                json={"expected_version": self.versions[g], **body},
                headers={"Authorization": f"Bearer {self.tokens[who]}"},
            )
            assert r.status_code == 200, (g, action, r.text)
            self.versions[g] = r.json()["version"]


def login_context(browser, url: str, username: str, lang: str, width: int = 1440):
    ctx = browser.new_context(
        viewport={"width": width, "height": 900}, locale="zh-CN", **BYPASS_CSP
    )
    r = ctx.request.post(
        f"{url}/api/v1/auth/login", data={"username": username, "password": PASSWORD}
    )
    assert r.status == 200, r.text()
    ctx.add_init_script(f"localStorage.setItem('risk.lang', '{lang}')")
    return ctx


def commander_page(ctx, url: str):
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.goto(url + "/commander")
    loaded(page)
    return page


def loaded(page, n: int = 1) -> None:
    page.wait_for_function(f"Number(document.body.dataset.loaded || 0) >= {n}")
    page.wait_for_selector("#rollup tbody tr")


@pytest.fixture(scope="module")
def day(tmp_path_factory, browser):
    """The day above, acted out; the last step (g14 completed at 05-02 09:30) in the browser.
    The clock then stands at `READ_AT`."""
    folder = tmp_path_factory.mktemp("day")
    SHOTS.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'day.db'}"
    tokens, items = seed_day(url)
    clock = [T0]
    settings = Settings(data_dir=folder, database_url=url, scheduler=False)
    with served(create_app(settings, clock=lambda: clock[0]), "day") as port:
        d = Day(f"http://127.0.0.1:{port}", clock, tokens, items)
        m = timedelta(minutes=1)
        d.act("rev", T0 + 40 * m, "approve", ["g11", "g12", "g13", "g14", "g15", "g16"])
        d.act("rev", T0 + 60 * m, "reject", ["g04"], reason="false_alarm")
        d.act("cmd", T0 + 60 * m, "dispatch", ["g15", "g16"])
        d.act("rev", T0 + 90 * m, "approve", ["g07", "g08", "g09", "g10"])
        d.act("cmd", T0 + 2 * H, "dispatch", ["g12", "g13", "g14"])
        d.act("rev", T0 + 150 * m, "approve", ["g05", "g06"])
        d.act("rev", T0 + 3 * H, "approve", ["g03"])
        d.act("cmd", T0 + 3 * H, "dispatch", ["g09", "g10"])
        d.act("cmd", T0 + 6 * H, "complete", ["g16"])
        d.act("cmd", T0 + 8 * H, "complete", ["g10"])
        d.act("cmd", T0 + 12 * H, "complete", ["g15"])
        d.act("cmd", T0 + 24 * H, "complete", ["g12"])
        clock[0] = T0 + 25.5 * H  # 05-02 09:30
        ctx = login_context(browser, d.url, "cmd", "en")
        try:
            page = commander_page(ctx, d.url)
            page.click("#ranked tr[data-grid-id='g14'] button[data-action='complete']")
            page.wait_for_selector("#ranked tr[data-grid-id='g14'] >> text=Completed")
        finally:
            ctx.close()
        clock[0] = READ_AT
        yield d


@pytest.fixture
def open_page(browser, day):
    """``open_page(username, lang)`` → the commander page at 1440×900, loaded."""
    contexts = []

    def open_as(username: str, lang: str = "zh", width: int = 1440):
        ctx = login_context(browser, day.url, username, lang, width)
        contexts.append(ctx)
        return commander_page(ctx, day.url)

    yield open_as
    for ctx in contexts:
        ctx.close()


def kpi(page, name: str) -> tuple[str, str]:
    tile = page.locator(f"#kpi-{name}")
    return tile.locator(".kpi-value").inner_text(), tile.locator(".kpi-note").inner_text()


def table(page) -> list[tuple]:
    """(level, key, pending, approved, dispatched, completed, breaches, hit rate) per row."""
    return [
        tuple(r)
        for r in page.eval_on_selector_all(
            "#rollup tbody tr[data-key]",
            """rs => rs.map(r => [r.dataset.level, r.dataset.key,
                ...[...r.querySelectorAll('td')].map(td => td.textContent.trim())])""",
        )
    ]


def total(page) -> list[str]:
    return page.eval_on_selector_all(
        "#rollup tfoot tr > *", "cs => cs.map(c => c.textContent.trim())"
    )


def toggle(page, level: str, key: str) -> None:
    page.click(f"#rollup tr.roll-{level}[data-key='{key}'] button.tree-toggle")


S1 = ("street", "S1", "0", "1", "2", "7", "4", "50% (1/2)")
S2 = ("street", "S2", "2", "5", "0", "1", "7", "100% (1/1)")
C1 = ("community", "C1", "0", "0", "2", "4", "3", "50% (1/2)")
C2 = ("community", "C2", "0", "1", "0", "3", "1", "—")
C1_GRIDS = [
    ("grid", "g09", "0", "0", "1", "1", "1", "100% (1/1)"),  # r0's completed, r1's dispatched
    ("grid", "g10", "0", "0", "0", "2", "0", "0% (0/1)"),
    ("grid", "g13", "0", "0", "1", "0", "1", "—"),
    ("grid", "g14", "0", "0", "0", "1", "1", "—"),  # completed in the browser, 24 h 50 in
]


def test_the_scripted_day_in_the_tiles_and_the_street_community_grid_table(day, open_page):
    page = open_page("cmd")
    assert kpi(page, "response") == ("74%", "近7天入队的预警 · 超时 26%")  # 14/19, 5/19
    assert kpi(page, "completion") == ("54%", "近7天批准的预警 · 办结率 62%")  # 7/13, 8/13
    assert page.locator("#kpi-response").get_attribute("class") == "kpi kpi-alert"  # > 5 %
    assert page.locator("#kpi-pending .kpi-value").inner_text() == "2"  # g01, g02
    assert page.locator("#kpi-sla .kpi-value").inner_text() == "2"
    # open: approved g03 g05 g06 g07 g08 g11, dispatched g09 g13
    assert page.locator("#kpi-approved_open .kpi-value").inner_text() == "8"

    assert table(page) == [S1, S2]
    assert total(page) == ["合计", "2", "6", "2", "8", "11", "67% (2/3)"]
    assert page.locator("#rollup tr[data-key='S1'] td.c-breaches").get_attribute("class") == (
        "num c-breaches bad"
    )
    assert (
        page.locator("#rollup-note").inner_text() == "近7天入队的预警（各类别）· 点击街道或社区展开"
    )

    toggle(page, "street", "S1")  # the street's communities, under it
    page.wait_for_selector("#rollup tr.roll-community[data-key='C1']")
    assert table(page) == [S1, C1, C2, S2]
    button = page.locator("#rollup tr[data-key='S1'] button.tree-toggle")
    assert button.get_attribute("aria-expanded") == "true"
    toggle(page, "community", "C1")  # the community's grids, under it
    page.wait_for_selector("#rollup tr.roll-grid[data-key='g09']")
    assert table(page) == [S1, C1, *C1_GRIDS, C2, S2]
    page.screenshot(path=f"{SHOTS}/commander_day_zh.png", full_page=True)

    # open rows stay open through a refresh
    page.click("#refresh")
    loaded(page, 2)
    assert table(page) == [S1, C1, *C1_GRIDS, C2, S2]
    # closing the street closes its community too
    toggle(page, "street", "S1")
    page.wait_for_selector("#rollup tr.roll-community", state="detached")
    assert table(page) == [S1, S2]
    toggle(page, "street", "S1")
    page.wait_for_selector("#rollup tr.roll-community[data-key='C1']")
    assert table(page) == [S1, C1, C2, S2]

    # a grid opens its page
    toggle(page, "community", "C1")
    # the table is redrawn when the community opens: click the row once it is drawn, not a
    # link of the table being replaced (a click on a detached link navigates nowhere)
    page.wait_for_selector("#rollup tr.roll-grid[data-key='g13'] a")
    assert table(page) == [S1, C1, *C1_GRIDS, C2, S2]
    page.click("#rollup tr.roll-grid[data-key='g13'] a")
    page.wait_for_url("**/grid/g13")


def test_the_same_day_in_english(day, open_page):
    page = open_page("cmd", lang="en")
    assert kpi(page, "response") == ("74%", "Warnings queued in the last 7 days · timeouts 26%")
    assert kpi(page, "completion") == ("54%", "Approved in the last 7 days · closure 62%")
    toggle(page, "street", "S2")
    page.wait_for_selector("#rollup tr.roll-community[data-key='C3']")
    assert table(page) == [
        S1,
        S2,
        ("community", "C3", "2", "2", "0", "1", "4", "100% (1/1)"),  # g01 g02 waiting, r0's g01
        ("community", "C4", "0", "3", "0", "0", "3", "—"),  # g04 rejected in time
    ]
    assert total(page)[0] == "Total"
    assert page.locator("#rollup thead th").all_inner_texts() == [
        "Street / community / grid", "Pending", "Approved", "Dispatched", "Completed",
        "Breaches", "Hit rate",
    ]  # fmt: skip
    page.screenshot(path=f"{SHOTS}/commander_day_en.png", full_page=True)
    # the language switch re-renders the open table in place
    page.click("button[data-lang='zh']")
    page.wait_for_function("document.querySelector('#rollup tfoot th').textContent === '合计'")
    assert [r[1] for r in table(page)] == ["S1", "S2", "C3", "C4"]


def test_a_street_commander_sees_only_that_street(open_page):
    page = open_page("cmd_s1", lang="en")
    assert table(page) == [S1]
    assert total(page)[1:] == ["0", "1", "2", "7", "4", "50% (1/2)"]
    page.wait_for_selector("#map .map-outlines")
    streets = page.eval_on_selector_all(
        "#map .outline-street", "ps => ps.map(p => p.dataset.street)"
    )
    communities = page.eval_on_selector_all(
        "#map .outline-community", "ps => ps.map(p => p.dataset.community)"
    )
    assert (streets, communities) == (["S1"], ["C1", "C2"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_ten_ranked_grids_above_the_fold_at_1440_by_900(open_page, lang):
    page = open_page("cmd", lang=lang)
    # 13 approved warnings (g16 … g03 but g04): every one in the list
    assert page.locator("#ranked tbody tr[data-grid-id]").count() == 13
    visible = page.eval_on_selector_all(
        "#ranked tbody tr[data-grid-id]",
        """rs => rs.filter(r => { const b = r.getBoundingClientRect();
                                   return b.top >= 0 && b.bottom <= window.innerHeight; }).length""",
    )
    assert page.evaluate("[window.scrollY, window.innerHeight]") == [0, 900]
    assert visible >= 10
    # one line a row: the first reason shows, the other two are read out and in the tooltip
    row = page.locator("#ranked tr[data-grid-id='g16']")
    heights = page.eval_on_selector_all(
        "#ranked tbody tr[data-grid-id]", "rs => rs.map(r => r.getBoundingClientRect().height)"
    )
    assert max(heights) < 40
    assert len(row.locator(".reasons").get_attribute("title").split("\n")) == 3
    page.screenshot(path=f"{SHOTS}/commander_fold_{lang}.png")


def test_outlines_are_drawn_over_the_grids_street_thicker_and_out_of_the_way(open_page):
    page = open_page("cmd")
    page.wait_for_selector("#map .map-outlines")
    outlines = page.eval_on_selector_all(
        "#map .map-outlines polygon",
        """ps => ps.map(p => { const s = getComputedStyle(p);
              return [p.getAttribute('class'), p.dataset.street || p.dataset.community,
                      parseFloat(s.strokeWidth), s.pointerEvents, s.fill]; })""",
    )
    community = [
        ("outline outline-community", c, 2.0, "none", "none") for c in ("C1", "C2", "C3", "C4")
    ]
    street = [("outline outline-street", s, 3.5, "none", "none") for s in ("S1", "S2")]
    assert [tuple(o) for o in outlines] == community + street
    boxes = page.eval_on_selector_all(
        "#map .map-outlines polygon",
        "ps => ps.map(p => { const b = p.getBBox(); return [b.width, b.height]; })",
    )
    grid = page.eval_on_selector(
        "#map path[data-grid-id='g01']",
        "p => { const b = p.getBBox(); return [b.width, b.height]; }",
    )
    for w, h in boxes[:4]:  # communities: 2 × 2 grids
        assert (w, h) == (pytest.approx(2 * grid[0], abs=0.5), pytest.approx(2 * grid[1], abs=0.5))
    for w, h in boxes[4:]:  # streets: 4 wide, 2 tall
        assert (w, h) == (pytest.approx(4 * grid[0], abs=0.5), pytest.approx(2 * grid[1], abs=0.5))
    # the grids stay clickable through the outlines: the last layer, but no pointer events
    assert page.evaluate("document.querySelector('#map').lastElementChild.classList.value") == (
        "map-outlines"
    )
    assert page.locator("#legend-outlines li").all_inner_texts() == ["街道边界", "社区边界"]
    page.click("#map path[data-grid-id='g14']")
    page.wait_for_url("**/grid/g14")
