"""Patrol exposure (issue 16, item 2): which grids patrols looked at, and when.

Every patrol report adds one `PatrolVisitRow` — grid, the patrol's time, the reporter's role
and the outcome, never a person — keyed by the report, so a resent report adds nothing. The
feedback-loop analysis (issue 17) reads it back per grid and window (`exposure`): a grid that
is patrolled more may record more events, whatever its risk.

A ``could_not_visit`` report is kept (the grid was meant to be looked at) but is not a visit.
Repositories take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from risk.errors import ConfigError
from risk.exposure import check_visits, exposure_summary
from risk.patrol import PatrolOutcome
from serve.tables import GridRow, PatrolVisitRow

VISITS = PatrolVisitRow.__table__
VISIT_COLUMNS = ("grid_id", "visited_at", "role", "outcome")
EXPOSURE_COLUMNS = ("grid_id", "visits", "issues_found", "could_not_visit")


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ConfigError(f"{name} {at!r} must be timezone-aware")
    return at


def record_visit(
    session: Session,
    *,
    report_id: int,
    grid_id: str,
    visited_at: datetime,
    role: str,
    outcome: PatrolOutcome | str,
    recorded_at: datetime,
) -> None:
    """One patrol report's visit (``report_id``: `serve.tables.PatrolReportRow.id`; once per
    report — a second call for the same report is an integrity error)."""
    session.execute(
        insert(VISITS).values(
            report_id=report_id,
            grid_id=grid_id,
            visited_at=_aware(visited_at, "visited_at"),
            role=str(role),
            outcome=PatrolOutcome(outcome).value,
            recorded_at=_aware(recorded_at, "recorded_at"),
        )
    )


def visit_frame(
    session: Session,
    start: datetime,
    end: datetime,
    grid_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The recorded visits with ``start <= visited_at < end`` (both aware), oldest first:
    `VISIT_COLUMNS`, ``visited_at`` aware UTC."""
    stmt = (
        select(*(VISITS.c[c] for c in VISIT_COLUMNS))
        .where(
            VISITS.c.visited_at >= _aware(start, "start"), VISITS.c.visited_at < _aware(end, "end")
        )
        .order_by(VISITS.c.visited_at, VISITS.c.id)
    )
    if grid_ids is not None:
        stmt = stmt.where(VISITS.c.grid_id.in_(list(grid_ids)))
    rows = session.execute(stmt).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(VISIT_COLUMNS))
    frame["visited_at"] = pd.to_datetime(frame["visited_at"], utc=True)
    return frame


def exposure(
    session: Session,
    start: datetime,
    end: datetime,
    grid_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Patrol exposure per grid in the window ``[start, end)``: `EXPOSURE_COLUMNS`, one row per
    grid with a report in it, by grid id. ``visits`` counts the grid being looked at
    (``found_issue`` or ``nothing_found``), ``issues_found`` the first of those,
    ``could_not_visit`` the patrols that did not get there. Grids without a report are absent
    (zero exposure)."""
    visits = visit_frame(session, start, end, grid_ids)
    if visits.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "grid_id" else "int64")
                             for c in EXPOSURE_COLUMNS})  # fmt: skip
    outcome = visits["outcome"]
    flags = pd.DataFrame(
        {
            "grid_id": visits["grid_id"].astype(str),
            "visits": (outcome != PatrolOutcome.COULD_NOT_VISIT.value).astype("int64"),
            "issues_found": (outcome == PatrolOutcome.FOUND_ISSUE.value).astype("int64"),
            "could_not_visit": (outcome == PatrolOutcome.COULD_NOT_VISIT.value).astype("int64"),
        }
    )
    return flags.groupby("grid_id", sort=True).sum().reset_index()


def exposure_by_segment(session: Session, end: datetime, days: int) -> dict[str, Any]:
    """Patrol exposure per grid type and street over the `days` days before ``end``, on the
    stored grids: `risk.exposure.exposure_summary` with 24-hour windows (``visits_per_grid_window``
    is then visits per grid and day). City-wide aggregates: no grid is named."""
    if days < 1:
        raise ConfigError(f"days must be at least 1, got {days}")
    end = pd.Timestamp(_aware(end, "end")).tz_convert("UTC")
    times = pd.date_range(end=end - pd.Timedelta(days=1), periods=days, freq="D")
    columns = ("grid_id", "grid_type", "street_id")
    rows = session.execute(select(*(GridRow.__table__.c[c] for c in columns))).all()
    grids = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    grids["grid_type"] = grids["grid_type"].fillna("unassigned")
    recorded = visit_frame(session, times[0].to_pydatetime(), end.to_pydatetime())
    visits = check_visits(recorded, "UTC")
    return exposure_summary(visits, grids, times, 24)


__all__ = [
    "EXPOSURE_COLUMNS",
    "VISIT_COLUMNS",
    "exposure",
    "exposure_by_segment",
    "record_visit",
    "visit_frame",
]
