"""The commander page's map: one SVG shape per grid in scope, coloured by the level the role
may see, with tooltips, keyboard access and a legend."""

from __future__ import annotations

import pytest

from tests.serve.web.conftest import shot

pytestmark = pytest.mark.browser

COLOURS = {
    "red": "#d7301f",
    "orange": "#fc8d59",
    "yellow": "#fdd835",
    "blue": "#4575b4",
    "none": "#c9ced6",
}


def loaded(page, n: int = 1) -> None:
    page.wait_for_function(f"Number(document.body.dataset.loaded || 0) >= {n}")


def shapes(page) -> dict[str, tuple[str, str]]:
    """grid id → (data-level, fill) of every shape on the map."""
    return page.eval_on_selector_all(
        "#map path[data-grid-id]",
        "ps => Object.fromEntries(ps.map(p => [p.dataset.gridId, [p.dataset.level, p.getAttribute('fill')]]))",
    )


def expect(levels: dict[str, str]) -> dict[str, list[str]]:
    return {g: [lvl, COLOURS[lvl]] for g, lvl in levels.items()}


def test_the_analyst_map_colours_every_grid_by_its_worst_forecast(open_as):
    # Run r1 (api_seed.forecasts): any = blue, yellow, orange, red, red for g1..g5; theft =
    # blue, blue, yellow, orange, red. Worst of the two per grid: blue, yellow, orange, red, red.
    page = open_as("ana", "/commander")
    loaded(page)
    assert page.locator("#map path").count() == 5
    assert shapes(page) == expect(
        {"g1": "blue", "g2": "yellow", "g3": "orange", "g4": "red", "g5": "red"}
    )
    assert page.locator("#map-note").inner_text() == "5 个网格"
    shot(page, "commander_analyst_zh")


def test_choosing_a_category_redraws_the_map_for_it(open_as):
    page = open_as("ana", "/commander")
    loaded(page)
    page.select_option("#f-target", "theft")
    loaded(page, 2)
    assert shapes(page) == expect(
        {"g1": "blue", "g2": "blue", "g3": "yellow", "g4": "orange", "g5": "red"}
    )
    assert page.url.endswith("/commander?target=theft")


def test_the_commander_map_has_only_the_grid_in_scope(open_as):
    # cmd's scope is community c2 = g3; its one approved warning there is g3/any, orange.
    page = open_as("cmd", "/commander")
    loaded(page)
    assert shapes(page) == expect({"g3": "orange"})
    # No approved theft warning on g3: grey, "no warning".
    page.select_option("#f-target", "theft")
    loaded(page, 2)
    assert shapes(page) == expect({"g3": "none"})


def test_the_projection_keeps_the_squares_square(open_as):
    # Every seeded grid is a 0.01° square; x is scaled by cos(latitude), so on screen each
    # is cos(31.2°) ≈ 0.855 as wide as it is tall.
    page = open_as("ana", "/commander")
    loaded(page)
    ratios = page.eval_on_selector_all(
        "#map path", "ps => ps.map(p => { const b = p.getBBox(); return b.width / b.height; })"
    )
    assert ratios == [pytest.approx(0.855, abs=0.01)] * 5
    # g1 lies west of g2 and south of g4 (lon 121.40 < 121.41; lat 31.20 < 31.25).
    box = {
        g: page.locator(f'#map path[data-grid-id="{g}"]').bounding_box() for g in ("g1", "g2", "g4")
    }
    assert box["g1"]["x"] < box["g2"]["x"]
    assert box["g1"]["y"] > box["g4"]["y"]


def test_hover_shows_grid_level_and_probability(open_as):
    page = open_as("ana", "/commander")
    loaded(page)
    page.hover('#map path[data-grid-id="g4"]')
    tip = page.locator("#map-tooltip")
    assert tip.is_visible()
    assert tip.inner_text().split("\n") == ["网格 g4", "等级：红色", "概率：40%"]
    shot(page, "commander_map_tooltip", full_page=False)


def test_a_shape_is_reachable_by_keyboard_and_opens_its_grid(live_server, open_as):
    page = open_as("cmd", "/commander")
    loaded(page)
    shape = page.locator('#map path[data-grid-id="g3"]')
    assert shape.get_attribute("tabindex") == "0"
    assert shape.get_attribute("aria-label") == "网格 g3，等级：橙色，概率：45%"
    shape.focus()
    assert page.locator("#map-tooltip").inner_text().split("\n")[0] == "网格 g3"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/grid/g3")


def test_clicking_a_shape_opens_its_grid(live_server, open_as):
    page = open_as("ana", "/commander")
    loaded(page)
    page.click('#map path[data-grid-id="g5"]')
    page.wait_for_url(f"{live_server.url}/grid/g5")


def test_the_legend_names_every_colour_in_words(open_as):
    page = open_as("cmd", "/commander")
    loaded(page)
    legend = page.locator("#legend li")
    assert legend.all_inner_texts() == ["红色", "橙色", "黄色", "蓝色", "无预警"]
    page.click("button[data-lang=en]")
    assert legend.all_inner_texts() == ["Red", "Orange", "Yellow", "Blue", "No warning"]


def test_keyboard_users_can_skip_the_map(open_as):
    page = open_as("ana", "/commander")
    loaded(page)
    skip = page.locator(".skip-link")
    skip.focus()
    assert skip.is_visible()
    assert skip.inner_text() == "跳过地图，到高风险网格列表"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "ranked"
