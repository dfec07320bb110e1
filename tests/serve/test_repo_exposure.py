"""Patrol exposure (serve.repo.exposure) on SQLite and PostgreSQL: visits per grid and window,
``[start, end)``, could_not_visit kept but not counted as a visit, once per report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from risk.patrol import PatrolOutcome, PatrolReport
from serve.db import transaction
from serve.repo.exposure import exposure, record_visit, visit_frame
from serve.repo.patrols import record_report

T = datetime(2024, 5, 1, tzinfo=UTC)
# (grid, hours after T, outcome)
VISITS = [
    ("g1", 0, "found_issue"),  # exactly at the start: in
    ("g1", 5, "nothing_found"),
    ("g1", 6, "could_not_visit"),
    ("g2", 23, "found_issue"),
    ("g2", 24, "nothing_found"),  # exactly at the end: out
    ("g3", -1, "nothing_found"),  # before: out
]


def add(session, k, grid, hours, outcome):
    at = T + timedelta(hours=hours)
    report = PatrolReport("w", grid, PatrolOutcome(outcome), at)
    stored, _ = record_report(session, report, f"r-{k}", received_at=at)
    record_visit(session, report_id=stored.id, grid_id=grid, visited_at=at, role="grid_worker",
                 outcome=outcome, recorded_at=at)  # fmt: skip
    return stored.id


def test_visits_per_grid_and_window(factory, tmp_path):
    with transaction(factory) as s:
        s.info["data_dir"] = tmp_path
        for k, row in enumerate(VISITS):
            add(s, k, *row)
    with factory() as s:
        day = exposure(s, T, T + timedelta(days=1))
        assert day.to_dict("records") == [
            {"grid_id": "g1", "visits": 2, "issues_found": 1, "could_not_visit": 1},
            {"grid_id": "g2", "visits": 1, "issues_found": 1, "could_not_visit": 0},
        ]
        assert exposure(s, T, T + timedelta(days=1), grid_ids=["g2"])["grid_id"].tolist() == ["g2"]
        later = exposure(s, T + timedelta(hours=24), T + timedelta(days=2))
        assert later.to_dict("records") == [
            {"grid_id": "g2", "visits": 1, "issues_found": 0, "could_not_visit": 0}
        ]
        empty = exposure(s, T + timedelta(days=5), T + timedelta(days=6))
        assert list(empty.columns) == ["grid_id", "visits", "issues_found", "could_not_visit"]
        assert empty.empty
        rows = visit_frame(s, T - timedelta(days=1), T + timedelta(days=2))
        assert rows["grid_id"].tolist() == ["g3", "g1", "g1", "g1", "g2", "g2"]  # by time
        assert set(rows["role"]) == {"grid_worker"}
        assert rows["visited_at"].iloc[0] == T - timedelta(hours=1)


def test_one_visit_per_report(factory, tmp_path):
    with transaction(factory) as s:
        s.info["data_dir"] = tmp_path
        report_id = add(s, 0, "g1", 0, "nothing_found")
    with pytest.raises(IntegrityError), transaction(factory) as s:
        record_visit(s, report_id=report_id, grid_id="g1", visited_at=T, role="grid_worker",
                     outcome="nothing_found", recorded_at=T)  # fmt: skip
