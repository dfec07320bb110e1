"""Patrol reports: one row per client report id, however often the phone retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from risk.patrol import PatrolOutcome, PatrolReport, patrol_exposure
from serve.db import transaction
from serve.repo.patrols import record_report, reports_for
from serve.tables import PatrolReportRow

T0 = datetime(2024, 5, 1, 2, tzinfo=UTC)  # 10:00 in Shanghai


def report(worker="wang", grid="g1", outcome=PatrolOutcome.FOUND_ISSUE, at=T0):
    return PatrolReport(worker, grid, outcome, at, "blocked stairwell", ("g1/theft/x",))


def test_a_retried_report_is_stored_once_and_returns_the_first_row(factory):
    with transaction(factory) as s:
        first, created = record_report(s, report(), "uuid-1", received_at=T0)
    with transaction(factory) as s:
        retry, created_again = record_report(
            s, report(outcome=PatrolOutcome.NOTHING_FOUND), "uuid-1"
        )
    with factory() as s:
        rows = s.scalar(select(func.count()).select_from(PatrolReportRow))
    assert (created, created_again, rows) == (True, False, 1)
    assert retry == first
    assert retry.report.outcome is PatrolOutcome.FOUND_ISSUE


def test_reports_come_back_per_worker_as_domain_reports(factory):
    mine = [report(at=T0), report(grid="g2", outcome=PatrolOutcome.COULD_NOT_VISIT, at=T0)]
    with transaction(factory) as s:
        record_report(s, mine[0], "a")
        record_report(s, report(worker="li", grid="g9"), "b")
        record_report(s, mine[1], "c")
        record_report(s, report(at=T0 - timedelta(days=1)), "d")
    with factory() as s:
        back = [r.report for r in reports_for(s, "wang", since=T0)]
    assert back == mine
    exposure = patrol_exposure(back, "Asia/Shanghai")
    assert exposure[["grid_id", "visits", "issues_found", "could_not_visit"]].values.tolist() == [
        ["g1", 1, 1, 0],
        ["g2", 0, 0, 1],
    ]
