"""What grid workers send from the field, stored (issue 16, item 2): events they report
themselves, and patrol reports — each a visit of patrol exposure, and an event when the patrol
found an issue. The rules are `risk.field_reports`; this module stores.

* `report_event` — one event with ``source = grid_worker`` and ``event_id`` =
  ``grid_worker:<client id>``, through the contract's validation and the event store exactly as
  a posted batch (`serve.intake.ingest`: the same statuses, counts and ONE audit entry), its
  note sealed at rest. A resend of the same client id returns the stored event and changes
  nothing.
* `record_patrol` — the report (`serve.repo.patrols.record_report`, once per client id), its
  visit (`serve.repo.exposure`) and, for ``found_issue``, the event ``patrol:<client id>``
  (``source = patrol``; the report keeps the note). A resent report adds nothing.

Both work in the caller's transaction; the caller commits once (all of it lands, or none).
Nothing here knows a person beyond the audit entry's actor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from risk.errors import ContractError
from risk.field_reports import (
    PATROL_SOURCE,
    WORKER_SOURCE,
    event_time,
    patrol_event_id,
    reportable_categories,
    worker_event_id,
)
from risk.patrol import PatrolOutcome, PatrolReport
from serve.intake import Intake, ingest, raw_frame, row_messages, validation_grids
from serve.repo.events import get_event, set_note
from serve.repo.exposure import record_visit
from serve.repo.patrols import StoredReport, record_report
from serve.repo.runs import latest_run, run_targets


def reportable(session: Session) -> tuple[str, ...]:
    """The categories a worker may report now (`risk.field_reports.reportable_categories` of
    the latest complete run's targets)."""
    run = latest_run(session)
    return reportable_categories(run_targets(session, run.run_id) if run else ())


def _store_one(
    session: Session,
    *,
    event_id: str,
    grid: Mapping[str, Any],
    category: str,
    occurred_at: datetime,
    source: str,
    actor: str,
    action: str,
    now: datetime,
    tz: str,
    audit_extra: Mapping[str, Any],
) -> Intake:
    """One event through `serve.intake.ingest`, placed only in ``grid`` (already scope-checked).
    A rejection cannot come from a checked request; if one does, it is a `ContractError` on
    the field it names (nothing is committed)."""
    raw = raw_frame(
        [
            {
                "event_id": event_id,
                "occurred_at": occurred_at.isoformat(),
                "reported_at": now.isoformat(),
                "category": category,
                "grid_id": str(grid["grid_id"]),
                "source": source,
            }
        ]
    )
    place = {"grid_id": str(grid["grid_id"]), "centroid_lon": None, "centroid_lat": None}
    grids = validation_grids(pd.DataFrame([{**place, "geometry": None}]))
    intake = ingest(
        session,
        raw,
        grids,
        actor=actor,
        action=action,
        now=now,
        tz=tz,
        file="request",
        allowed_grids=[str(grid["grid_id"])],
        audit_extra=audit_extra,
    )
    row = intake.rows.iloc[0].to_dict()
    if row["status"] == "rejected":
        pairs = row_messages(row) or [("event", str(row["reason"]))]
        raise ContractError(pairs[0][1], field=pairs[0][0])
    return intake


@dataclass(frozen=True)
class WorkerEvent:
    """A worker's event as stored (`serve.repo.events.get_event`) and whether this call stored
    it (False: it was there already — a resend)."""

    event: dict[str, Any]
    created: bool


def stored_worker_event(session: Session, client_event_id: str) -> dict[str, Any] | None:
    """The event a worker's device stored as ``client_event_id`` before, if any."""
    return get_event(session, worker_event_id(client_event_id))


def report_event(
    session: Session,
    *,
    actor: str,
    client_event_id: str,
    grid: Mapping[str, Any],
    category: str,
    occurred_at: datetime,
    note: str | None,
    now: datetime,
    tz: str,
) -> WorkerEvent:
    """Store a worker's event (module doc). ``grid`` is one of the worker's own grids,
    ``category`` one of `reportable` (normalised), ``occurred_at`` checked
    (`risk.field_reports.event_time`): the caller checks these first."""
    event_id = worker_event_id(client_event_id)
    intake = _store_one(
        session,
        event_id=event_id,
        grid=grid,
        category=category,
        occurred_at=occurred_at,
        source=WORKER_SOURCE,
        actor=actor,
        action="events.report",
        now=now,
        tz=tz,
        audit_extra={"via": "worker", "source": WORKER_SOURCE, "event_id": event_id},
    )
    created = intake.rows.iloc[0]["status"] == "stored"
    if created and note:
        set_note(session, event_id, intake.batch, note)
    stored = get_event(session, event_id)
    assert stored is not None
    return WorkerEvent(stored, bool(created))


@dataclass(frozen=True)
class PatrolRecord:
    """A stored patrol report, whether this call stored it, and its event's id (found_issue)."""

    stored: StoredReport
    created: bool
    event_id: str | None


def record_patrol(
    session: Session,
    report: PatrolReport,
    client_report_id: str,
    *,
    role: str,
    category: str | None,
    now: datetime,
    tz: str,
) -> PatrolRecord:
    """Store a checked patrol report (`risk.patrol.record_outcome`) once per client id, its
    visit, and — for ``found_issue`` — its event in ``category`` (`finding_category`'s
    answer, given by the caller; None for the other outcomes). The patrol report's own audit
    entry is the caller's; the event's batch has its own (`serve.intake`)."""
    stored, created = record_report(session, report, client_report_id, received_at=now)
    found = stored.report.outcome is PatrolOutcome.FOUND_ISSUE
    event_id = patrol_event_id(client_report_id) if found else None
    if not created:
        return PatrolRecord(stored, False, event_id)
    r = stored.report
    record_visit(
        session,
        report_id=stored.id,
        grid_id=r.grid_id,
        visited_at=r.at,
        role=role,
        outcome=r.outcome,
        recorded_at=now,
    )
    if found:
        if category is None:
            raise ContractError("a found issue needs a category", field="category")
        _store_one(
            session,
            event_id=str(event_id),
            grid={"grid_id": r.grid_id},
            category=category,
            occurred_at=event_time(r.at, now, field="at"),
            source=PATROL_SOURCE,
            actor=r.worker_id,
            action="events.patrol",
            now=now,
            tz=tz,
            audit_extra={"via": "patrol", "source": PATROL_SOURCE, "event_id": event_id,
                         "patrol_report": client_report_id},
        )  # fmt: skip
    return PatrolRecord(stored, True, event_id)


def warnings_of(items: Sequence[Any]) -> list[tuple[str, str, float]]:
    """(target, level, prob) of review items, for `risk.field_reports.finding_category`."""
    return [(i.target, i.level, float(i.prob)) for i in items]


__all__ = [
    "PatrolRecord",
    "WorkerEvent",
    "record_patrol",
    "report_event",
    "reportable",
    "stored_worker_event",
    "warnings_of",
]
