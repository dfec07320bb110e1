"""A commander closes the loop from the ranked list: dispatch, then mark done (issue 16, item 3).

Its own live server (the actions change the seeded data). cmd's scope is g3, whose approved
warning is `approved_g3` (version 2).
"""

from __future__ import annotations

import pytest

from serve.db import make_engine, session_factory
from serve.repo.audit import list_entries
from serve.repo.reviews import get_item

pytestmark = pytest.mark.browser


def stored(live_server, name: str):
    engine = make_engine(live_server.seed.url)
    try:
        with session_factory(engine)() as s:
            item = get_item(s, live_server.seed.items[name])
            actions = [e.action for e in list_entries(s, limit=5)[0]]
            return item, actions
    finally:
        engine.dispose()


def state_text(page) -> str:
    return page.locator("#ranked tbody tr td.c-grid .muted").first.inner_text()


def test_dispatch_then_complete_from_the_ranked_list(live_server, open_as):
    page = open_as("cmd", "/commander", lang="en")
    page.wait_for_selector("#ranked tbody tr[data-grid-id='g3'] button[data-action='dispatch']")
    assert state_text(page) == "Approved"
    page.click("button[data-action='dispatch']")
    page.wait_for_selector("button[data-action='complete']")
    assert state_text(page) == "Dispatched"
    item, actions = stored(live_server, "approved_g3")
    assert (item.state.value, item.dispatched_by, item.version) == ("dispatched", "cmd", 3)
    assert actions[0] == "dispatch"
    page.click("button[data-action='complete']")
    page.wait_for_function(
        "() => document.querySelector('#ranked tbody td.c-grid .muted').textContent === 'Completed'"
    )
    assert page.locator("#ranked button[data-action]").count() == 0  # nothing left to do
    item, actions = stored(live_server, "approved_g3")
    assert (item.state.value, item.version) == ("completed", 4)
    assert actions[0] == "complete"


def test_an_analyst_sees_no_close_buttons(open_as):
    page = open_as("ana", "/commander")
    page.wait_for_selector("#ranked tbody tr")
    assert page.locator("#ranked button[data-action]").count() == 0
