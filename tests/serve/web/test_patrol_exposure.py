"""The analyst page shows patrol exposure by grid type and street (issue 17, item 2).

Visits recorded before the server starts (clock 2024-05-01 09:00 +08:00): g1 twice and g4
once in the last 28 days, g2 once 40 days ago (outside). Streets s1 = g1..g3, s2 = g4, g5."""

from __future__ import annotations

from datetime import timedelta

import pytest

from risk.patrol import PatrolOutcome, PatrolReport
from serve.db import make_engine, session_factory, transaction
from serve.repo.exposure import record_visit
from serve.repo.patrols import record_report
from tests.serve.api_seed import NOW

pytestmark = pytest.mark.browser

VISITS = [("g1", 1), ("g1", 50), ("g4", 3), ("g2", 40 * 24)]  # (grid, hours before NOW)


def add_visits(url: str) -> None:
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            for k, (grid, hours) in enumerate(VISITS):
                at = NOW - timedelta(hours=hours)
                report = PatrolReport("w", grid, PatrolOutcome.NOTHING_FOUND, at)
                stored, _ = record_report(s, report, f"v-{k}", received_at=at)
                record_visit(s, report_id=stored.id, grid_id=grid, visited_at=at,
                             role="grid_worker", outcome="nothing_found", recorded_at=at)  # fmt: skip
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def live_extra():
    return add_visits


def rows(page, table: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#exposure-{table} tbody tr",
        "rs => rs.map(r => [...r.querySelectorAll('td')].map(td => td.textContent))",
    )


def test_the_analyst_sees_visits_per_street_and_grid_type(open_as):
    page = open_as("ana", "/analyst", lang="en")
    page.wait_for_selector("#exposure-street")
    # s1: 2 visits over 3 grids × 28 days = 0.024 per grid and day, 2/3 of the visits
    assert rows(page, "street") == [
        ["s1", "3", "2", "0.024", "67%"],
        ["s2", "2", "1", "0.018", "33%"],
    ]
    assert rows(page, "grid_type") == [["old_residential", "5", "3", "0.021", "100%"]]
    assert "Patrol visits in the last 28 days" in page.locator("#health-exposure").inner_text()
