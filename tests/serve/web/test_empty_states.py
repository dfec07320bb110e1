"""Empty first screens that say why and where to go (issue 15, item 5).

The seed's decided items are removed before the server starts, so nothing is approved while
pending items wait: the commander's list is empty beside a count of warnings waiting for
review, the pending tile links to the queue for an admin (who may review), and the grid
worker's list
says its warnings are waiting for a reviewer.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from serve.db import make_engine

pytestmark = pytest.mark.browser


def _only_undecided(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            decided = "SELECT item_id FROM review_items WHERE state NOT IN ('pending', 'escalated')"
            conn.execute(text(f"DELETE FROM review_revisions WHERE item_id IN ({decided})"))
            conn.execute(text(f"DELETE FROM review_items WHERE item_id IN ({decided})"))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def live_extra():
    return _only_undecided


def test_commander_list_points_to_the_waiting_warnings(open_as):
    page = open_as("cmd", "/commander", lang="en")
    page.wait_for_selector("#cmd-waiting")
    # cmd's scope is community c2 = g3: release_me and cmd_escalates wait there
    assert page.inner_text("#cmd-waiting") == (
        "2 warnings wait for review; they appear here once approved."
    )
    assert page.locator("#cmd-to-review").count() == 0  # a commander does not review


def test_admin_gets_a_link_from_the_pending_tile_to_the_review_queue(open_as):
    page = open_as("adm", "/commander")
    page.wait_for_selector("#kpi-to-review")
    assert page.get_attribute("#kpi-to-review", "href") == "/reviewer"
    assert page.inner_text("#kpi-to-review") == "去审核"
    commander = open_as("cmd", "/commander")
    commander.wait_for_selector("#kpi-pending")
    assert commander.locator("#kpi-to-review").count() == 0


def test_worker_empty_list_says_warnings_wait_for_review(open_as):
    page = open_as("w1", "/worker", width=360, lang="en")
    page.wait_for_selector("#wk-empty:not([hidden])")
    # w1's grid g1: approve_me, escalate_me, adjust_me are pending
    assert page.inner_text("#wk-empty") == (
        "3 warnings for your grids are waiting for a reviewer. "
        "Patrol suggestions appear here once they are approved."
    )
