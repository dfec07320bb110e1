"""Forecast runs: one row per run plus one row per (grid, target), stored all or nothing.

A run is what `risk score --at TIME` produced with one model version on one data snapshot
(issue 5, item 1). `store_run` writes the run and every forecast inside a SAVEPOINT: if any
row fails, none of them is kept, even if the caller goes on and commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Row, func, insert, select
from sqlalchemy.orm import Session

from risk.errors import ContractError
from risk.levels import LEVELS
from risk.scopes import Scope
from serve.db import atomic
from serve.repo.filters import where
from serve.repo.jsonvalues import plain
from serve.tables import ForecastRow, ForecastRunRow

RUNS = ForecastRunRow.__table__
FORECASTS = ForecastRow.__table__
RANKS = {name: rank for rank, name in enumerate(LEVELS)}  # blue 0 … red 3
FORECAST_COLUMNS = ("grid_id", "target", "prob", "expected_count", "level", "reasons")
COMPLETE = "complete"


@dataclass(frozen=True)
class RunInfo:
    """A forecast run's header; ``n_grids`` is filled in by `store_run`."""

    run_id: str
    issue_time: datetime
    model_version: str
    data_fingerprint: str
    created_at: datetime
    n_grids: int = 0
    status: str = COMPLETE


def _run(row: Row[Any]) -> RunInfo:
    return RunInfo(**{k: getattr(row, k) for k in RunInfo.__dataclass_fields__})


def _forecast_rows(run_id: str, forecasts: pd.DataFrame) -> list[dict[str, Any]]:
    missing = [c for c in FORECAST_COLUMNS if c not in forecasts.columns]
    if missing:
        raise ContractError(
            "forecast frame lacks a column",
            field=missing[0],
            fix="pass one row per (grid, target) with " + ", ".join(FORECAST_COLUMNS),
        )
    prob = forecasts["prob"].to_numpy(dtype=float)
    if not (np.isfinite(prob) & (prob >= 0) & (prob <= 1)).all():
        bad = prob[~(np.isfinite(prob) & (prob >= 0) & (prob <= 1))][0]
        raise ContractError("probability outside [0, 1]", field="prob", value=float(bad))
    expected = forecasts["expected_count"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "run_id": run_id,
            "grid_id": forecasts["grid_id"].astype(str).to_numpy(dtype=object),
            "target": forecasts["target"].astype(str).to_numpy(dtype=object),
            "prob": prob,
            "expected_count": np.where(np.isfinite(expected), expected, np.nan),
            "level": forecasts["level"].astype(str).to_numpy(dtype=object),
        }
    )
    frame["level_rank"] = frame["level"].map(RANKS).fillna(-1).astype(int)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row, reasons in zip(rows, forecasts["reasons"].tolist(), strict=True):
        row["reasons"] = plain(list(reasons) if reasons is not None else [])
    return rows


def store_run(session: Session, run: RunInfo, forecasts: pd.DataFrame) -> RunInfo:
    """Store ``run`` and its forecasts (columns `FORECAST_COLUMNS`) atomically.

    Returns the run as stored (``n_grids`` = distinct grids in ``forecasts``). A duplicate
    (grid, target) or a run id already used raises and leaves nothing behind.
    """
    rows = _forecast_rows(run.run_id, forecasts)
    stored = replace(run, n_grids=int(forecasts["grid_id"].nunique()))
    with atomic(session):
        session.execute(insert(RUNS).values(**stored.__dict__))
        if rows:
            session.execute(insert(FORECASTS), rows)
    return stored


def get_run(session: Session, run_id: str) -> RunInfo | None:
    row = session.execute(select(RUNS).where(RUNS.c.run_id == run_id)).first()
    return None if row is None else _run(row)


def latest_run(session: Session, status: str = COMPLETE) -> RunInfo | None:
    """The run with the latest issue time (then the latest created) in ``status``."""
    row = session.execute(
        select(RUNS)
        .where(RUNS.c.status == status)
        .order_by(RUNS.c.issue_time.desc(), RUNS.c.created_at.desc(), RUNS.c.run_id.desc())
        .limit(1)
    ).first()
    return None if row is None else _run(row)


def run_targets(session: Session, run_id: str) -> list[str]:
    """The targets one run forecast (``any`` and its categories), sorted."""
    stmt = select(FORECASTS.c.target).where(FORECASTS.c.run_id == run_id).distinct()
    return sorted(str(t) for t in session.scalars(stmt))


def list_runs(session: Session, limit: int = 50, offset: int = 0) -> list[RunInfo]:
    rows = session.execute(
        select(RUNS)
        .order_by(RUNS.c.issue_time.desc(), RUNS.c.created_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_run(r) for r in rows]


def run_forecasts(
    session: Session,
    run_id: str,
    *,
    target: str | Iterable[str] | None = None,
    level: str | Iterable[str] | None = None,
    grid_ids: Iterable[str] | None = None,
    street: str | Iterable[str] | None = None,
    community: str | Iterable[str] | None = None,
    scope: Scope | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[pd.DataFrame, int]:
    """A page of one run's forecasts, most severe first (level, then prob, then grid id),
    and the total matching. Columns: run_id + `FORECAST_COLUMNS`."""
    equal = {"run_id": run_id, "target": target, "level": level, "grid_id": grid_ids}
    scoped = {"street": street, "community": community, "scope": scope}
    count = select(func.count()).select_from(FORECASTS)
    total = session.scalar(where(count, FORECASTS, equal, **scoped)) or 0
    stmt = where(select(FORECASTS), FORECASTS, equal, **scoped).order_by(
        FORECASTS.c.level_rank.desc(),
        FORECASTS.c.prob.desc(),
        # probabilities round to 1 - 1e-6 for the busiest grids; their counts still rank
        FORECASTS.c.expected_count.desc().nulls_last(),
        FORECASTS.c.grid_id.asc(),
        FORECASTS.c.target.asc(),
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    rows = session.execute(stmt).all()
    columns = ["run_id", *FORECAST_COLUMNS]
    frame = pd.DataFrame([tuple(getattr(r, c) for c in columns) for r in rows], columns=columns)
    frame["prob"] = frame["prob"].astype(float)
    frame["expected_count"] = frame["expected_count"].astype(float)
    return frame, int(total)


def previous_run(session: Session, run_id: str) -> RunInfo | None:
    """The complete run issued last before ``run_id``'s issue time (None if none)."""
    issued = select(RUNS.c.issue_time).where(RUNS.c.run_id == run_id).scalar_subquery()
    row = session.execute(
        select(RUNS)
        .where(RUNS.c.status == COMPLETE, RUNS.c.issue_time < issued)
        .order_by(RUNS.c.issue_time.desc(), RUNS.c.created_at.desc())
        .limit(1)
    ).first()
    return None if row is None else _run(row)


def probs_of(
    session: Session, run_id: str, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], float]:
    """Probability of each (grid, target) of ``pairs`` in run ``run_id`` (absent pairs left out)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    grids = sorted({g for g, _ in wanted})
    rows = session.execute(
        select(FORECASTS.c.grid_id, FORECASTS.c.target, FORECASTS.c.prob).where(
            FORECASTS.c.run_id == run_id, FORECASTS.c.grid_id.in_(grids)
        )
    )
    return {(g, t): float(p) for g, t, p in rows if (g, t) in wanted}


def grid_history(session: Session, grid_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """One grid's forecasts across complete runs, newest issue time first (then by target):
    dicts with run_id, issue_time, model_version + `FORECAST_COLUMNS`."""
    stmt = (
        select(
            FORECASTS.c.run_id,
            RUNS.c.issue_time,
            RUNS.c.model_version,
            *(FORECASTS.c[c] for c in FORECAST_COLUMNS),
        )
        .join(RUNS, RUNS.c.run_id == FORECASTS.c.run_id)
        .where(FORECASTS.c.grid_id == grid_id, RUNS.c.status == COMPLETE)
        .order_by(RUNS.c.issue_time.desc(), RUNS.c.created_at.desc(), FORECASTS.c.target)
        .limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(stmt)]


__all__ = [
    "FORECAST_COLUMNS",
    "grid_history",
    "RunInfo",
    "get_run",
    "latest_run",
    "list_runs",
    "previous_run",
    "probs_of",
    "run_forecasts",
    "run_targets",
    "store_run",
]
