"""Reasons in plain words on the three pages people act from (issue 15, item 4), in Chinese
and English: the reviewer's card (base probability, reasons, other factors), the commander's
ranked list and the grid worker's card. Each test saves a screenshot
(`reasons-<page>-<lang>.png`) and checks the texts shown carry no jargon: no trigonometry,
no half-lives or decay weights, no "×" or "median", no grid type left untranslated.

Data: `tests.serve.api_seed` — every reason worded by the real code (`reasons_for`): 9 events
of the target in 28 days, an old residential compound with 128 shops, 18.2 elderly living
alone per 1,000 residents.
"""

from __future__ import annotations

import re

import pytest

from tests.serve.web.conftest import shot

pytestmark = pytest.mark.browser

JARGON = ("cos", "sin", "半衰期", "×", "median", "中位数", "decay", "加权", "{value}")
GRID_TYPE = "old_residential"  # every seeded grid's type, as the data holds it


def assert_plain(texts: list[str], lang: str) -> None:
    assert texts
    for text in texts:
        assert not any(j in text for j in JARGON), text
        assert GRID_TYPE not in text
        if lang == "zh":  # nothing left in English: the grid type comes from the label table
            assert not re.search(r"[A-Za-z]", text), text


def loaded(page) -> None:
    page.wait_for_function("Number(document.body.dataset.loaded || 0) >= 1")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "zh",
            [
                "同类预测的起点（基准概率）5.0%，本网格 50%",
                "本网格近28天盗窃9起（一般网格1起），其中近7天3起：+20个百分点",
                "老旧小区，商铺128家（一般网格商铺25家）：+11个百分点",
                "每千人中独居老人18.2人（一般网格6人）：+4.5个百分点",
                "其他因素合计：+9.0个百分点",
            ],
        ),
        (
            "en",
            [
                "Starting point of every forecast (base probability) 5.0%; this grid 50%",
                "9 thefts here in the past 28 days (a typical grid has 1), 3 of them in the past "
                "7 days: +20 pts",
                "old residential compound, 128 shops (a typical grid has 25 shops): +11 pts",
                "18.2 elderly living alone per 1,000 residents (a typical grid has 6): +4.5 pts",
                "Other factors together: +9.0 pts",
            ],
        ),
    ],
)
def test_the_reviewers_card_shows_base_reasons_and_other_factors(open_as, lang, expected):
    # approve_me: g1 theft at 0.50, 45 points above the base 5 %: 20 + 11 + 4.5 + other 9
    page = open_as("rev", "/reviewer", lang=lang)
    loaded(page)
    box = page.locator("li.rv-item").first.locator(".rv-reasons")
    lines = box.locator(".rv-base, li, .rv-other").all_inner_texts()
    assert lines == expected
    assert_plain(lines[1:], lang)
    shot(page, f"reasons-reviewer-{lang}")


@pytest.mark.parametrize(
    ("lang", "first", "place"),
    [
        (
            "zh",
            "本网格近28天各类事件9起（一般网格1起），其中近7天3起：+18个百分点",
            "老旧小区，商铺128家（一般网格商铺25家）：+10个百分点",
        ),
        (
            "en",
            "9 events here in the past 28 days (a typical grid has 1), 3 of them in the past "
            "7 days: +18 pts",
            "old residential compound, 128 shops (a typical grid has 25 shops): +10 pts",
        ),
    ],
)
def test_the_commanders_list_shows_the_reasons_in_words(open_as, lang, first, place):
    # cmd sees g3 only: approved_g3, any at 0.45
    page = open_as("cmd", "/commander", lang=lang)
    loaded(page)
    page.locator("#ranked tbody tr[data-grid-id]").first.wait_for()
    texts = page.locator("#ranked tbody .reasons li").all_inner_texts()
    assert texts[:2] == [first, place] and len(texts) == 3
    assert_plain(texts, lang)
    shot(page, f"reasons-commander-{lang}")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "zh",
            [
                "本网格近28天各类事件9起（一般网格1起），其中近7天3起",
                "老旧小区，商铺128家（一般网格商铺25家）",
                "每千人中独居老人18.2人（一般网格6人）",
            ],
        ),
        (
            "en",
            [
                "9 events here in the past 28 days (a typical grid has 1), 3 of them in the past "
                "7 days",
                "old residential compound, 128 shops (a typical grid has 25 shops)",
                "18.2 elderly living alone per 1,000 residents (a typical grid has 6)",
            ],
        ),
    ],
)
def test_the_workers_card_gives_the_facts_without_points(open_as, lang, expected):
    # w1: g1, approved_g1 (any, 0.70)
    page = open_as("w1", "/worker", width=360, lang=lang)
    page.locator("li.wk-visit").first.wait_for()
    texts = page.locator("li.wk-visit .wk-reasons li").all_inner_texts()
    assert texts == expected
    assert_plain(texts, lang)
    assert not any("pts" in t or "百分点" in t for t in texts)
    shot(page, f"reasons-worker-{lang}")
