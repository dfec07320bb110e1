"""A worker's list shows the report the server holds, even in a browser that never sent it
(issue 16, item 4). Its own live server: the report changes the seeded data."""

from __future__ import annotations

import httpx
import pytest

from tests.serve.api_seed import bearer

pytestmark = pytest.mark.browser


def test_a_fresh_browser_shows_the_report_sent_from_another_device(live_server, open_as):
    body = {"client_report_id": "phone-a-1", "grid_id": "g1", "outcome": "found_issue",
            "note": "broken street light"}  # fmt: skip
    sent = httpx.post(f"{live_server.url}/api/v1/patrols/reports", json=body,
                      headers=bearer(live_server.seed.tokens["w1"]), timeout=30)  # fmt: skip
    assert sent.status_code == 201
    page = open_as("w1", "/worker", width=360, lang="en")
    page.wait_for_selector(".wk-status[data-status='sent']")
    assert page.inner_text("#wk-summary") == "1 visit · 1 reported"
    assert "Found an issue" in page.inner_text(".wk-status")
    assert page.inner_text(".wk-note-echo").endswith("broken street light")
    assert page.locator(".wk-outcome").count() == 0  # reported: the buttons give way to "change"
