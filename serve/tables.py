"""The service's tables as SQLAlchemy 2 declarative models (the migrations create them).

Every time column is a `UTCDateTime`: written as UTC, read back timezone-aware in UTC, the
same on SQLite (which has no time zones) and PostgreSQL (``timestamptz``). JSON columns use
the generic ``JSON`` type (``json`` on PostgreSQL, text on SQLite), which keeps the document
as written, so the audit hash is recomputed from the same values on both.

Secrets are never stored: ``tokens.token_sha256`` is the SHA-256 of the token,
``users.password_hash`` a salted scrypt hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = 200  # length of an id column (grid, item, run, user name)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: attach a time zone before storing it")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Named constraints, so later migrations can alter them on SQLite (batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(ID), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    scope_kind: Mapped[str] = mapped_column(String(20))
    scope_values: Mapped[list[Any]] = mapped_column(JSON)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class GridRow(Base):
    __tablename__ = "grids"

    grid_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    community_id: Mapped[str] = mapped_column(String(ID), index=True)
    street_id: Mapped[str] = mapped_column(String(ID), index=True)
    grid_type: Mapped[str | None] = mapped_column(String(50))
    centroid_lon: Mapped[float | None] = mapped_column(Float)
    centroid_lat: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry


class ForecastRunRow(Base):
    __tablename__ = "forecast_runs"

    run_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    issue_time: Mapped[datetime] = mapped_column(index=True)
    model_version: Mapped[str] = mapped_column(String(ID))
    data_fingerprint: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    n_grids: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))


class ForecastRow(Base):
    __tablename__ = "forecasts"
    __table_args__ = (Index(None, "run_id", "target"),)

    run_id: Mapped[str] = mapped_column(
        ForeignKey("forecast_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    grid_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    prob: Mapped[float] = mapped_column(Float)
    expected_count: Mapped[float | None] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    # Rank of `level` (blue 0 … red 3), stored so the ranked page is an index scan (0002).
    level_rank: Mapped[int | None] = mapped_column(Integer)


# Ranked pages: one run, most severe first, then by probability; the second for one target.
Index(
    "ix_forecasts_ranked",
    ForecastRow.run_id,
    ForecastRow.level_rank.desc(),
    ForecastRow.prob.desc(),
    ForecastRow.grid_id,
    ForecastRow.target,
)
Index(
    "ix_forecasts_ranked_target",
    ForecastRow.run_id,
    ForecastRow.target,
    ForecastRow.level_rank.desc(),
    ForecastRow.prob.desc(),
    ForecastRow.grid_id,
)


class ReviewItemRow(Base):
    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("grid_id", "target", "window_start"),
        Index(None, "state", "level"),
    )

    item_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    grid_id: Mapped[str] = mapped_column(String(ID), index=True)
    target: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(10))
    original_level: Mapped[str] = mapped_column(String(10))
    prob: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(ID))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    expected_count: Mapped[float | None] = mapped_column(Float)
    run_id: Mapped[str | None] = mapped_column(String(ID))
    claimed_by: Mapped[str | None] = mapped_column(String(ID))
    lease_until: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(ID))
    reviewed_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    reject_text: Mapped[str | None] = mapped_column(Text)
    escalated_by: Mapped[str | None] = mapped_column(String(ID))
    escalated_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    dispatched_by: Mapped[str | None] = mapped_column(String(ID))
    dispatched_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    follows: Mapped[str | None] = mapped_column(String(ID))  # the decision it re-raises


class ReviewRevisionRow(Base):
    __tablename__ = "review_revisions"
    __table_args__ = (UniqueConstraint("item_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(
        ForeignKey("review_items.item_id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    window_start: Mapped[datetime | None]  # the window this revision forecast
    prob: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(10))
    model_version: Mapped[str] = mapped_column(String(ID))
    run_id: Mapped[str | None] = mapped_column(String(ID))


class PatrolReportRow(Base):
    __tablename__ = "patrol_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_report_id: Mapped[str] = mapped_column(String(ID), unique=True)
    worker: Mapped[str] = mapped_column(String(ID), index=True)
    grid_id: Mapped[str] = mapped_column(String(ID), index=True)
    item_ids: Mapped[list[Any]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime]
    received_at: Mapped[datetime]


class EventCountRow(Base):
    """Events per grid, hour (UTC, on the hour) and category, as known to the last scoring
    run: counts only, never the events themselves (grid pages, warning hit rates)."""

    __tablename__ = "event_counts"

    grid_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    category: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # Of `count`, the events the labels count (not from the model's `label_exclude_sources`,
    # issue 17); NULL on rows written before 0009, which counted every source.
    label_count: Mapped[int | None] = mapped_column(Integer)


class HourProfileRow(Base):
    """A warned grid's hour-of-day profile for one target (24 shares), from its last scoring
    run: the patrol time window comes from it."""

    __tablename__ = "hour_profiles"

    grid_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    profile: Mapped[list[Any]] = mapped_column(JSON)
    run_id: Mapped[str] = mapped_column(String(ID))


class EventRow(Base):
    """One validated event of the data contract (DESIGN §3; issue 16, item 1): what happened,
    where (the grid) and when it was known — never who. ``batch`` names the load or API batch
    that stored it (the object of that batch's audit entry)."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    occurred_at: Mapped[datetime]
    reported_at: Mapped[datetime] = mapped_column(index=True)
    category: Mapped[str] = mapped_column(String(100))
    grid_id: Mapped[str] = mapped_column(String(ID), index=True)
    source: Mapped[str | None] = mapped_column(String(20))
    severity: Mapped[int | None] = mapped_column(Integer)
    batch: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]
    # A grid worker's note on the event they reported, sealed at rest (`serve.repo.sealing`;
    # issue 16, item 2; 0008). Never read by scoring.
    note: Mapped[str | None] = mapped_column(Text)


class PatrolVisitRow(Base):
    """Patrol exposure (issue 16, item 2; `serve.repo.exposure`): one row per patrol report —
    which grid was looked at, when, by which role and with what outcome — never who. Kept
    for the feedback-loop analysis (issue 17): a patrolled grid may record more events."""

    __tablename__ = "patrol_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_reports.id", ondelete="CASCADE"), unique=True
    )
    grid_id: Mapped[str] = mapped_column(String(ID), index=True)
    visited_at: Mapped[datetime] = mapped_column(index=True)
    role: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(30))
    recorded_at: Mapped[datetime]


class RunHealthRow(Base):
    """Model health of one scoring run (issue 17, item 1; `serve.run_health`): drift against
    the model's training window, event volumes by source, the thresholds passed, and — once
    the run's window has closed and a later run knows its events — realised calibration and
    precision by level (``realised``, measured by run ``realised_by``)."""

    __tablename__ = "run_health"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("forecast_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))  # ok, warn, alert, unknown
    drift: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    volumes: Mapped[dict[str, Any]] = mapped_column(JSON)
    breaches: Mapped[list[Any]] = mapped_column(JSON)
    realised: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    realised_at: Mapped[datetime | None]
    realised_by: Mapped[str | None] = mapped_column(String(ID))


class ScoringAttemptRow(Base):
    """One attempt of the service's scheduled scoring (issue 17, item 5; `serve.repo.attempts`):
    when it ran, how long it took, and whether it stored a run (``complete``, with the run)
    or failed (``failed``, with the exception's class name, never its message). `/metrics`
    reads these; an attempt is telemetry, not a change of anything, so it is not audited."""

    __tablename__ = "scoring_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime]
    seconds: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10))  # complete, failed
    issue_time: Mapped[datetime | None]
    run_id: Mapped[str | None] = mapped_column(String(ID))
    error: Mapped[str | None] = mapped_column(String(100))


class AuditEntryRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(ID), index=True)
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(ID))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(ID))
    score: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Fingerprint of the HMAC key of `hash`; None: plain SHA-256, written before keying (0003).
    key_id: Mapped[str | None] = mapped_column(String(16))


Index(None, AuditEntryRow.object_type, AuditEntryRow.object_id)


class AuditHeadRow(Base):
    """One row (id 1): the last sequence number and hash. Writers lock it to serialise appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    # Entries up to this seq predate the keyed chain (0003) and may be unkeyed; none after.
    legacy_until: Mapped[int] = mapped_column(Integer, server_default="0")


GENESIS_HASH = "0" * 64

__all__ = [
    "GENESIS_HASH",
    "AuditEntryRow",
    "AuditHeadRow",
    "Base",
    "EventCountRow",
    "EventRow",
    "ForecastRow",
    "ForecastRunRow",
    "GridRow",
    "HourProfileRow",
    "PatrolReportRow",
    "PatrolVisitRow",
    "ReviewItemRow",
    "ReviewRevisionRow",
    "RunHealthRow",
    "ScoringAttemptRow",
    "TokenRow",
    "UTCDateTime",
    "UserRow",
]
