"""Patrol reports from grid workers, stored exactly once per ``client_report_id``.

A phone that lost its connection retries the same report with the same client id; the
unique constraint plus `record_report` returning the first row make the retry harmless.
The report itself (scope check, outcome) is built by `risk.patrol.record_outcome`. The note
is sealed at rest (`serve.repo.sealing`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from risk.errors import ConfigError
from risk.patrol import PatrolOutcome, PatrolReport
from serve.db import atomic
from serve.repo.sealing import open_row, seal_row
from serve.tables import PatrolReportRow

REPORTS = PatrolReportRow.__table__


@dataclass(frozen=True)
class StoredReport:
    id: int
    client_report_id: str
    report: PatrolReport
    received_at: datetime


def _stored(session: Session, row: Row[Any], with_note: bool = True) -> StoredReport:
    """The stored report; its note opened only ``with_note`` (else None, never decrypted)."""
    note = None
    if with_note:
        note = open_row(session, "patrol_reports", row.client_report_id, {"note": row.note})["note"]
    report = PatrolReport(
        worker_id=row.worker,
        grid_id=row.grid_id,
        outcome=PatrolOutcome(row.outcome),
        at=row.reported_at,
        note=note,
        item_ids=tuple(row.item_ids or ()),
    )
    return StoredReport(row.id, row.client_report_id, report, row.received_at)


def _by_client_id(session: Session, client_report_id: str) -> StoredReport | None:
    row = session.execute(
        select(REPORTS).where(REPORTS.c.client_report_id == client_report_id)
    ).first()
    return None if row is None else _stored(session, row)


def record_report(
    session: Session,
    report: PatrolReport,
    client_report_id: str,
    received_at: datetime | None = None,
) -> tuple[StoredReport, bool]:
    """Store ``report`` unless ``client_report_id`` was seen; returns (row, created).

    A retry — even one whose content differs — returns the first stored row untouched.
    """
    if not client_report_id or not client_report_id.strip():
        raise ConfigError("a patrol report needs a client_report_id (a UUID made on the device)")
    existing = _by_client_id(session, client_report_id)
    if existing is not None:
        return existing, False
    values = {
        "client_report_id": client_report_id,
        "worker": report.worker_id,
        "grid_id": report.grid_id,
        "item_ids": list(report.item_ids),
        "outcome": PatrolOutcome(report.outcome).value,
        "note": report.note,
        "reported_at": report.at,
        "received_at": datetime.now(UTC) if received_at is None else received_at,
    }
    values = seal_row(session, "patrol_reports", client_report_id, values)
    try:
        with atomic(session):
            session.execute(insert(REPORTS).values(**values))
    except IntegrityError:  # the same retry raced us in another transaction
        stored = _by_client_id(session, client_report_id)
        if stored is None:
            raise
        return stored, False
    stored = _by_client_id(session, client_report_id)
    assert stored is not None
    return stored, True


def reports_for(
    session: Session, worker: str | None = None, since: datetime | None = None
) -> list[StoredReport]:
    """A worker's reports (every worker's when None), oldest first; ``since`` inclusive."""
    stmt = select(REPORTS).order_by(REPORTS.c.reported_at, REPORTS.c.id)
    if worker is not None:
        stmt = stmt.where(REPORTS.c.worker == worker)
    if since is not None:
        stmt = stmt.where(REPORTS.c.reported_at >= since)
    return [_stored(session, r) for r in session.execute(stmt)]


def grid_reports(
    session: Session,
    grid_id: str,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    worker: str | None = None,
    note_for: Callable[[str], bool] = lambda worker: True,
) -> list[StoredReport]:
    """The reports on ``grid_id`` (only ``worker``'s when given), newest first (``since``
    inclusive, at most ``limit``). A report's note is opened only when ``note_for(its
    worker)`` is true; otherwise it comes back None."""
    stmt = (
        select(REPORTS)
        .where(REPORTS.c.grid_id == grid_id)
        .order_by(REPORTS.c.reported_at.desc(), REPORTS.c.id.desc())
    )
    if worker is not None:
        stmt = stmt.where(REPORTS.c.worker == worker)
    if since is not None:
        stmt = stmt.where(REPORTS.c.reported_at >= since)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_stored(session, r, note_for(r.worker)) for r in session.execute(stmt)]


def reports_answering(session: Session, item_id: str, grid_id: str) -> list[StoredReport]:
    """The reports that answered review item ``item_id`` (of ``grid_id``: a report names the
    items of its own grid only), newest first; notes are not opened."""
    reports = grid_reports(session, grid_id, note_for=lambda worker: False)
    return [r for r in reports if item_id in r.report.item_ids]


__all__ = ["StoredReport", "grid_reports", "record_report", "reports_answering", "reports_for"]
