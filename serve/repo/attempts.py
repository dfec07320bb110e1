"""Attempts of the service's scheduled scoring (`serve.tables.ScoringAttemptRow`): written by
`serve.jobs.recorded` after each attempt, complete or failed, and summed up for `/metrics`.

Kept in the database rather than in process memory, so every worker process reports the same
numbers and they survive a restart. Rows are never updated or deleted, so the counts only grow
(Prometheus counters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from serve.tables import ScoringAttemptRow

ATTEMPTS = ScoringAttemptRow.__table__
COMPLETE, FAILED = "complete", "failed"
STATUSES = (COMPLETE, FAILED)
# Upper bounds (seconds) of the duration histogram: DESIGN §8 expects a 2,000-grid run in
# well under a minute; the long tail shows a slow database or an overloaded machine.
DURATION_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def record_attempt(
    session: Session,
    *,
    started_at: datetime,
    seconds: float,
    status: str,
    issue_time: datetime | None = None,
    run_id: str | None = None,
    error: str | None = None,
) -> None:
    """Add one attempt (``status`` `COMPLETE` or `FAILED`; ``error`` a class name only)."""
    if status not in STATUSES:
        raise ValueError(f"attempt status {status!r}; accepted: {', '.join(STATUSES)}")
    if seconds < 0:
        raise ValueError(f"attempt seconds must be >= 0 (got {seconds})")
    session.execute(
        insert(ATTEMPTS).values(
            started_at=started_at,
            finished_at=started_at + timedelta(seconds=seconds),
            seconds=float(seconds),
            status=status,
            issue_time=issue_time,
            run_id=run_id,
            error=None if error is None else error[:100],
        )
    )


@dataclass(frozen=True)
class AttemptSummary:
    """Every recorded attempt summed up: counts and last end per status, the last attempt's
    duration, and the cumulative duration histogram (``buckets[i]`` attempts took at most
    ``DURATION_BUCKETS[i]`` seconds; ``count`` is the +Inf bucket)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    last_finished: dict[str, datetime] = field(default_factory=dict)
    last_seconds: float | None = None
    count: int = 0
    seconds_sum: float = 0.0
    bounds: Sequence[float] = DURATION_BUCKETS
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))


def summary(session: Session, bounds: Sequence[float] = DURATION_BUCKETS) -> AttemptSummary:
    """`AttemptSummary` of every attempt, in three aggregate queries."""
    counts = dict.fromkeys(STATUSES, 0)
    last: dict[str, datetime] = {}
    stmt = select(ATTEMPTS.c.status, func.count(), func.max(ATTEMPTS.c.finished_at)).group_by(
        ATTEMPTS.c.status
    )
    for status, n, finished in session.execute(stmt):
        counts[status] = int(n)
        last[status] = finished
    le = [func.coalesce(func.sum(case((ATTEMPTS.c.seconds <= b, 1), else_=0)), 0) for b in bounds]
    total, seconds_sum, *buckets = session.execute(
        select(func.count(), func.coalesce(func.sum(ATTEMPTS.c.seconds), 0.0), *le)
    ).one()
    last_seconds = session.scalar(
        select(ATTEMPTS.c.seconds)
        .order_by(ATTEMPTS.c.finished_at.desc(), ATTEMPTS.c.id.desc())
        .limit(1)
    )
    return AttemptSummary(
        counts=counts,
        last_finished=last,
        last_seconds=None if last_seconds is None else float(last_seconds),
        count=int(total),
        seconds_sum=float(seconds_sum),
        bounds=tuple(bounds),
        buckets=[int(b) for b in buckets],
    )


__all__ = [
    "COMPLETE",
    "DURATION_BUCKETS",
    "FAILED",
    "STATUSES",
    "AttemptSummary",
    "record_attempt",
    "summary",
]
