"""Model health records of scoring runs (`serve.tables.RunHealthRow`; `serve.run_health`
computes them): one per run, written in the run's transaction; the realised part is added by
the first later run that knows the events of the run's closed window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from serve.repo.jsonvalues import plain
from serve.repo.runs import COMPLETE
from serve.tables import ForecastRunRow, RunHealthRow

HEALTH = RunHealthRow.__table__
RUNS = ForecastRunRow.__table__


@dataclass(frozen=True)
class HealthRecord:
    """A run's health, with the run's issue time and model version (read joined)."""

    run_id: str
    computed_at: datetime
    status: str
    drift: dict[str, Any] | None
    volumes: dict[str, Any]
    breaches: list[dict[str, Any]]
    realised: dict[str, Any] | None = None
    realised_at: datetime | None = None
    realised_by: str | None = None
    issue_time: datetime | None = None
    model_version: str | None = None


COLUMNS = [c.name for c in HEALTH.columns]


def store_health(session: Session, record: HealthRecord) -> None:
    """Insert the run's record (one per run: a second raises)."""
    values = {name: getattr(record, name) for name in COLUMNS}
    for name in ("drift", "volumes", "breaches", "realised"):
        values[name] = plain(values[name])
    session.execute(insert(HEALTH).values(**values))


def set_realised(
    session: Session, run_id: str, realised: dict[str, Any], at: datetime, by_run: str
) -> None:
    """Record what run ``run_id``'s closed window turned out to be (measured by ``by_run``)."""
    session.execute(
        update(HEALTH)
        .where(HEALTH.c.run_id == run_id)
        .values(realised=plain(realised), realised_at=at, realised_by=by_run)
    )


def _record(row: Row[Any]) -> HealthRecord:
    return HealthRecord(**{k: getattr(row, k) for k in HealthRecord.__dataclass_fields__})


def _joined():
    return select(HEALTH, RUNS.c.issue_time, RUNS.c.model_version).join(
        RUNS, RUNS.c.run_id == HEALTH.c.run_id
    )


def awaiting_realised(session: Session, closed_by: datetime, since: datetime) -> list[HealthRecord]:
    """Complete runs issued in ``[since, closed_by]`` with no realised part yet, oldest first
    (``closed_by`` = the judging run's issue time minus the horizon)."""
    stmt = (
        _joined()
        .where(
            HEALTH.c.realised_at.is_(None),
            RUNS.c.status == COMPLETE,
            RUNS.c.issue_time <= closed_by,
            RUNS.c.issue_time >= since,
        )
        .order_by(RUNS.c.issue_time, RUNS.c.run_id)
    )
    return [_record(r) for r in session.execute(stmt)]


def get_health(session: Session, run_id: str) -> HealthRecord | None:
    row = session.execute(_joined().where(HEALTH.c.run_id == run_id)).first()
    return None if row is None else _record(row)


def health_series(session: Session, limit: int = 90) -> list[HealthRecord]:
    """The latest ``limit`` complete runs' records, oldest first (for plotting)."""
    stmt = (
        _joined()
        .where(RUNS.c.status == COMPLETE)
        .order_by(RUNS.c.issue_time.desc(), RUNS.c.created_at.desc())
        .limit(limit)
    )
    return [_record(r) for r in session.execute(stmt)][::-1]


def flagged_runs(
    session: Session, model_version: str | None = None, limit: int = 20
) -> list[HealthRecord]:
    """Runs marked ``warn`` or ``alert`` (of ``model_version`` if given), newest first."""
    stmt = _joined().where(HEALTH.c.status.in_(["warn", "alert"]))
    if model_version is not None:
        stmt = stmt.where(RUNS.c.model_version == model_version)
    stmt = stmt.order_by(RUNS.c.issue_time.desc(), RUNS.c.created_at.desc()).limit(limit)
    return [_record(r) for r in session.execute(stmt)]


__all__ = [
    "HealthRecord",
    "awaiting_realised",
    "flagged_runs",
    "get_health",
    "health_series",
    "set_realised",
    "store_health",
]
