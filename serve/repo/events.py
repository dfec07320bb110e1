"""The event store (issue 16, item 1): validated events of the data contract, one row per
``event_id``, and the frame daily scoring reads back.

* `store_events` writes a validated events frame (`risk.validation.validate_events`' ``valid``)
  and says, per row, what became of it: ``stored`` (new), ``duplicate`` (an event with this id
  and exactly these values is already stored: a re-sent event changes nothing) or ``conflict``
  (the id is stored with other values: the stored event is kept, never silently overwritten;
  `StoreOutcome.differences` names the fields). Idempotent: storing the same frame twice stores
  it once. Concurrent writers of the same id cannot both store it (the insert skips ids that
  exist, then each row is read back and compared: the writer whose ``batch`` it holds stored it).
* `load_events` returns the stored events exactly in the shape of the file loader
  (`risk.contract.EVENT_COLUMNS`, times ``datetime64[ns, tz]``, ``source`` pandas ``string``,
  ``severity`` ``Int8``), ordered by ``occurred_at`` then ``event_id``; ``known_at`` keeps only
  the events known then (occurred and reported by ``t``, DESIGN §4).

Times are stored in UTC with microsecond resolution (both databases); finer digits are dropped
before storing and comparing. Repositories take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from risk.contract import DEFAULT_TZ, EVENT_COLUMNS
from risk.errors import ConfigError, ContractError
from serve.repo.sealing import open_row, seal_row
from serve.tables import EventRow

EVENTS = EventRow.__table__
PAYLOAD = ("occurred_at", "reported_at", "category", "grid_id", "source", "severity")
STORED, DUPLICATE, CONFLICT = "stored", "duplicate", "conflict"
CHUNK_ROWS = 1000  # rows per insert and per read-back (well under SQLite's variable limit)

Progress = Callable[[int, int], None]  # (rows done, rows in all)


@dataclass(frozen=True)
class StoreOutcome:
    """Per row of the stored frame: ``stored``, ``duplicate`` or ``conflict`` (module doc)."""

    status: np.ndarray
    differences: dict[str, tuple[str, ...]] = field(default_factory=dict)  # conflicts only

    def counts(self) -> dict[str, int]:
        return {s: int((self.status == s).sum()) for s in (STORED, DUPLICATE, CONFLICT)}


def _utc(values: pd.Series) -> list[datetime]:
    """Aware times -> aware UTC datetimes, truncated to the microsecond the databases keep."""
    return list(values.dt.tz_convert("UTC").dt.floor("us").dt.to_pydatetime())


def _records(events: pd.DataFrame) -> list[dict[str, Any]]:
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise ContractError(
            "events frame lacks a column",
            field=missing[0],
            fix="store the valid frame of risk.validation.validate_events",
        )
    if not isinstance(events["occurred_at"].dtype, pd.DatetimeTZDtype) or not isinstance(
        events["reported_at"].dtype, pd.DatetimeTZDtype
    ):
        raise ContractError(
            "event times must be timezone-aware",
            field="occurred_at",
            fix="store the valid frame of risk.validation.validate_events",
        )
    ids = events["event_id"].astype(str)
    if ids.duplicated().any():
        raise ContractError(
            "an event_id is repeated in the frame",
            field="event_id",
            value=str(ids[ids.duplicated()].iloc[0]),
            fix="validate first: validation quarantines repeated ids",
        )
    source = events["source"].astype(object).where(events["source"].notna(), None)
    no_severity = events["severity"].isna().to_numpy()
    severity = [
        None if missing else int(v)
        for v, missing in zip(events["severity"].to_numpy(object), no_severity, strict=True)
    ]
    return [
        {
            "event_id": e,
            "occurred_at": o,
            "reported_at": r,
            "category": c,
            "grid_id": g,
            "source": s,
            "severity": v,
        }
        for e, o, r, c, g, s, v in zip(
            ids.tolist(),
            _utc(events["occurred_at"]),
            _utc(events["reported_at"]),
            events["category"].astype(str).tolist(),
            events["grid_id"].astype(str).tolist(),
            source.tolist(),
            severity,
            strict=True,
        )
    ]


def _insert_skipping_existing(session: Session) -> Any:
    """``INSERT … ON CONFLICT (event_id) DO NOTHING`` in the session's dialect."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ConfigError(f"the event store supports SQLite and PostgreSQL, not {name}")
    return insert(EVENTS).on_conflict_do_nothing(index_elements=["event_id"])


def differences(new: dict[str, Any], stored: Any) -> tuple[str, ...]:
    """The payload fields (`PAYLOAD`) whose values differ between a row and the stored one."""
    return tuple(f for f in PAYLOAD if new[f] != getattr(stored, f))


def store_events(
    session: Session,
    events: pd.DataFrame,
    *,
    batch: str,
    received_at: datetime,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> StoreOutcome:
    """Store a validated events frame under ``batch`` (a new id per call); see the module doc.

    ``progress(done, total)`` is called after each chunk of ``chunk_rows`` rows."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ConfigError(f"received_at {received_at!r} must be timezone-aware")
    rows = _records(events)
    total = len(rows)
    status = np.empty(total, dtype=object)
    diffs: dict[str, tuple[str, ...]] = {}
    stamp = {"batch": batch, "received_at": received_at.astimezone(UTC)}
    insert = _insert_skipping_existing(session)
    for start in range(0, total, chunk_rows):
        part = rows[start : start + chunk_rows]
        session.execute(insert, [{**r, **stamp} for r in part])
        ids = [r["event_id"] for r in part]
        # every id of the chunk is stored now; those under another batch were there before
        held = {
            row.event_id: row
            for row in session.execute(
                select(EVENTS).where(EVENTS.c.event_id.in_(ids), EVENTS.c.batch != batch)
            )
        }
        for i, row in enumerate(part, start=start):
            found = held.get(row["event_id"])
            if found is None:
                status[i] = STORED
                continue
            diff = differences(row, found)
            status[i] = CONFLICT if diff else DUPLICATE
            if diff:
                diffs[row["event_id"]] = diff
        if progress is not None:
            progress(min(start + chunk_rows, total), total)
    return StoreOutcome(status, diffs)


def _aware(at: Any) -> datetime:
    ts = pd.Timestamp(at)
    if ts.tzinfo is None:
        raise ConfigError(f"known_at {at!r} must be timezone-aware")
    return ts.tz_convert("UTC").to_pydatetime()


def events_frame(rows: Sequence[Sequence[Any]], tz: str = DEFAULT_TZ) -> pd.DataFrame:
    """Rows of (event_id, occurred_at, reported_at, category, grid_id, source, severity), times
    aware, as the validated events frame (`risk.validation.validate_events`) in zone ``tz``."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(EVENT_COLUMNS)
    ids, occurred, reported, category, grid, source, severity = cols

    def times(values: Sequence[datetime]) -> pd.DatetimeIndex:
        index = pd.DatetimeIndex(pd.to_datetime(list(values), utc=True))
        return index.tz_convert(tz).as_unit("ns")

    out = pd.DataFrame(
        {
            "event_id": pd.Series(list(ids), dtype=object),
            "occurred_at": times(occurred),
            "reported_at": times(reported),
            "category": pd.Series(list(category), dtype=object),
            "grid_id": pd.Series(list(grid), dtype=object),
        }
    )
    for c in ("event_id", "category", "grid_id"):
        out[c] = out[c].astype("str")
    out["source"] = pd.array(list(source), dtype="string")
    out["severity"] = pd.array(list(severity), dtype="Int8")
    assert tuple(out.columns) == EVENT_COLUMNS
    return out


def load_events(session: Session, *, tz: str = DEFAULT_TZ, known_at: Any = None) -> pd.DataFrame:
    """The stored events as the file loader's frame (module doc); with ``known_at`` (aware) only
    those that occurred and were reported by then."""
    stmt = select(*(EVENTS.c[c] for c in EVENT_COLUMNS)).order_by(
        EVENTS.c.occurred_at, EVENTS.c.event_id
    )
    if known_at is not None:
        t = _aware(known_at)
        stmt = stmt.where(and_(EVENTS.c.occurred_at <= t, EVENTS.c.reported_at <= t))
    return events_frame(session.execute(stmt).all(), tz)


def count_events(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(EVENTS)) or 0)


def set_note(session: Session, event_id: str, batch: str, note: str | None) -> bool:
    """Attach ``note`` (sealed at rest, `serve.repo.sealing`) to the event ``batch`` stored as
    ``event_id`` — a grid worker's note on their report (issue 16, item 2). False when that
    batch did not store it (a resent event keeps the note it was stored with)."""
    sealed = seal_row(session, "events", event_id, {"note": note})["note"]
    done = session.execute(
        update(EVENTS)
        .where(EVENTS.c.event_id == event_id, EVENTS.c.batch == batch)
        .values(note=sealed)
    )
    return bool(done.rowcount)


def get_event(session: Session, event_id: str) -> dict[str, Any] | None:
    """One stored event as a dict of its columns (times aware UTC, the note opened), or None."""
    row = session.execute(select(EVENTS).where(EVENTS.c.event_id == event_id)).first()
    if row is None:
        return None
    values = dict(row._mapping)
    return open_row(session, "events", event_id, values)


def field_events(
    session: Session,
    grid_id: str,
    *,
    sources: Sequence[str],
    since: datetime,
    limit: int | None = None,
    with_notes: bool = True,
) -> list[dict[str, Any]]:
    """The stored events of ``grid_id`` from ``sources`` that occurred at or after ``since``
    (aware), newest first (then by ``event_id``, descending), at most ``limit``: dicts of
    ``event_id``, ``occurred_at``, ``category``, ``source`` and ``note`` — opened only
    ``with_notes``, else None (never decrypted)."""
    if since.tzinfo is None or since.utcoffset() is None:
        raise ConfigError(f"since {since!r} must be timezone-aware")
    columns = ("event_id", "occurred_at", "category", "source", "note")
    stmt = (
        select(*(EVENTS.c[c] for c in columns))
        .where(
            EVENTS.c.grid_id == grid_id,
            EVENTS.c.source.in_(list(sources)),
            EVENTS.c.occurred_at >= since,
        )
        .order_by(EVENTS.c.occurred_at.desc(), EVENTS.c.event_id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    for row in session.execute(stmt):
        values = dict(row._mapping)
        if with_notes:
            values = open_row(session, "events", row.event_id, values)
        else:
            values["note"] = None
        out.append(values)
    return out


__all__ = [
    "CONFLICT",
    "DUPLICATE",
    "PAYLOAD",
    "STORED",
    "StoreOutcome",
    "count_events",
    "differences",
    "events_frame",
    "field_events",
    "get_event",
    "load_events",
    "set_note",
    "store_events",
]
