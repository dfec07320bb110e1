"""What the scoring runs keep of the events they used: counts per grid, hour and category, and
the hour-of-day profiles of warned grids. Never a person. (The events themselves, when they
come through the service, are in the event store: `serve.repo.events`.)

Each scoring run replaces both from the events known at its issue time
(`known_events`): the counts of the last `KEEP_DAYS` days (grid pages, the hit rate of
approved warnings) and the 24-hour profile of every warned (grid, target) (the patrol time
window, `risk.patrol.best_hours`). Each count also keeps its `label_count`, the events of
sources the model's labels count (issue 17: the system's own patrols are left out by
default), and whether a warning came true (`window_hits`) is judged on those alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from risk.contract import ANY_TARGET
from serve.tables import EventCountRow, HourProfileRow

COUNTS = EventCountRow.__table__
PROFILES = HourProfileRow.__table__
KEEP_DAYS = 35  # four weeks on grid pages, plus a week of closed warning windows


def known_events(events: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Events that occurred and were reported by ``at`` (a missing ``reported_at`` means
    reported when it occurred) — the only ones a run at ``at`` may store or use."""
    occurred = events["occurred_at"]
    reported = events.get("reported_at", occurred)
    known = occurred.where(reported.isna() | (reported < occurred), reported)
    return events[(occurred <= at) & (known <= at)]


def hourly_counts(
    events: pd.DataFrame, since: pd.Timestamp, exclude_sources: Sequence[str] = ()
) -> pd.DataFrame:
    """Counts per (grid_id, UTC hour, category) of ``events`` that occurred at or after
    ``since``: columns grid_id, hour, category, count, label_count (the events whose source
    is not in ``exclude_sources``; a missing source counts)."""
    recent = events[events["occurred_at"] >= since]
    source = recent["source"] if "source" in recent.columns else pd.Series(None, recent.index)
    frame = pd.DataFrame(
        {
            "grid_id": recent["grid_id"].astype(str).to_numpy(dtype=object),
            "hour": recent["occurred_at"].dt.tz_convert("UTC").dt.floor("h"),
            "category": recent["category"].astype(str).to_numpy(dtype=object),
            "count": 1,
            "label_count": (~source.isin(list(exclude_sources))).to_numpy(dtype=np.int64),
        }
    )
    counts = frame.groupby(["grid_id", "hour", "category"], sort=True)[["count", "label_count"]]
    return counts.sum().reset_index()


def replace_event_counts(
    session: Session, events: pd.DataFrame, at: pd.Timestamp, exclude_sources: Sequence[str] = ()
) -> int:
    """Replace the stored counts from ``KEEP_DAYS`` before ``at`` on with those of the events
    known at ``at``; older hours are dropped. ``exclude_sources``: the sources the scoring
    model's labels leave out (`label_count`). Returns the number of rows written."""
    since = (at - pd.Timedelta(days=KEEP_DAYS)).tz_convert("UTC").floor("h")
    counts = hourly_counts(known_events(events, at), since, exclude_sources)
    session.execute(delete(COUNTS))
    if len(counts):
        rows = [
            {
                "grid_id": g,
                "hour": h.to_pydatetime(),
                "category": c,
                "count": int(n),
                "label_count": int(k),
            }
            for g, h, c, n, k in counts.itertuples(index=False, name=None)
        ]
        session.execute(insert(COUNTS), rows)
    return len(counts)


def daily_counts(session: Session, grid_id: str, since: datetime, tz: str) -> list[dict[str, Any]]:
    """One grid's stored counts from ``since`` on, per city-local day and category, newest
    day first: dicts with day (``YYYY-MM-DD``), category, count."""
    rows = session.execute(
        select(COUNTS.c.hour, COUNTS.c.category, COUNTS.c.count).where(
            COUNTS.c.grid_id == grid_id, COUNTS.c.hour >= since
        )
    ).all()
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["hour", "category", "count"])
    day = pd.to_datetime(frame["hour"], utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m-%d")
    out = frame.assign(day=day).groupby(["day", "category"], sort=True)["count"].sum()
    out = out.reset_index().sort_values(["day", "category"], ascending=[False, True])
    return [
        {"day": d, "category": c, "count": int(n)}
        for d, c, n in out[["day", "category", "count"]].itertuples(index=False, name=None)
    ]


def counts_known_until(session: Session) -> datetime | None:
    """The latest hour with a stored count (None when nothing is stored)."""
    return session.scalar(select(func.max(COUNTS.c.hour)))


def window_hits(
    session: Session, windows: Iterable[tuple[str, str, datetime, datetime]]
) -> list[bool]:
    """For each (grid_id, target, start, end): whether a stored event of the target (any
    category for ``any``) that the labels count (`label_count`; every stored event on rows
    from before it) occurred in an hour starting in ``[start, end)``."""
    windows = list(windows)
    if not windows:
        return []
    start = min(w[2] for w in windows)
    end = max(w[3] for w in windows)
    grids = sorted({w[0] for w in windows})
    rows = session.execute(
        select(COUNTS.c.grid_id, COUNTS.c.hour, COUNTS.c.category).where(
            COUNTS.c.grid_id.in_(grids),
            COUNTS.c.hour >= start,
            COUNTS.c.hour < end,
            func.coalesce(COUNTS.c.label_count, COUNTS.c.count) > 0,
        )
    ).all()
    by_grid: dict[str, list[tuple[datetime, str]]] = {}
    for g, h, c in rows:
        by_grid.setdefault(g, []).append((h, c))
    return [
        any(s <= h < e and (t == ANY_TARGET or c == t) for h, c in by_grid.get(g, ()))
        for g, t, s, e in windows
    ]


def replace_hour_profiles(
    session: Session,
    profiles: Mapping[tuple[str, str], np.ndarray],
    run_id: str,
) -> int:
    """Store the 24-hour profile of each (grid_id, target), replacing older ones."""
    if not profiles:
        return 0
    keys = list(profiles)
    grids = sorted({g for g, _ in keys})
    session.execute(delete(PROFILES).where(PROFILES.c.grid_id.in_(grids)))
    rows = [
        {
            "grid_id": g,
            "target": t,
            "profile": [round(float(v), 5) for v in np.asarray(profiles[(g, t)], float)],
            "run_id": run_id,
        }
        for g, t in keys
    ]
    session.execute(insert(PROFILES), rows)
    return len(rows)


def hour_profiles_of(
    session: Session, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], np.ndarray]:
    """The stored profile of each (grid_id, target) asked for that has one."""
    wanted = set(pairs)
    if not wanted:
        return {}
    grids = sorted({g for g, _ in wanted})
    rows = session.execute(
        select(PROFILES.c.grid_id, PROFILES.c.target, PROFILES.c.profile).where(
            PROFILES.c.grid_id.in_(grids)
        )
    )
    return {(g, t): np.asarray(p, dtype=float) for g, t, p in rows if (g, t) in wanted and p}


__all__ = [
    "KEEP_DAYS",
    "counts_known_until",
    "daily_counts",
    "hour_profiles_of",
    "hourly_counts",
    "known_events",
    "replace_event_counts",
    "replace_hour_profiles",
    "window_hits",
]
