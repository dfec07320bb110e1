"""The append-only, hash-chained audit log (DESIGN §7; issue 5, item 8).

Entry ``seq`` (1, 2, 3, … with no gaps) stores ``prev_hash`` — the hash of entry ``seq - 1``,
or `GENESIS_HASH` for the first — and ``hash = sha256(prev_hash + canonical JSON of the
entry)``, where the entry is seq, time (UTC), actor, action, object, before/after, model
version and score snapshot (`serve.repo.jsonvalues.canonical_json`, identical on SQLite and
PostgreSQL). Editing an entry breaks its hash; deleting or reordering entries breaks the
sequence or a ``prev_hash`` link; deleting the newest entries no longer matches the one-row
chain head (`audit_head`), which `append` updates with each entry.

Appends are serialised: each one begins by writing the chain head, which takes its row lock
on PostgreSQL (a second appender waits until the first commits, then sees its entry) and the
database write lock on SQLite. So two transactions can never both extend the same entry.
This module offers no update and no delete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from risk.review import ReviewEvent
from serve.repo.jsonvalues import canonical_json, plain, utc_iso
from serve.tables import GENESIS_HASH, AuditEntryRow, AuditHeadRow

LOG = AuditEntryRow.__table__
HEAD = AuditHeadRow.__table__
HEAD_ID = 1
PAYLOAD_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "model_version",
    "score",
)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    model_version: str | None
    score: dict[str, Any] | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return plain(self.__dict__)


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` with ``checked`` entries, or the first bad ``seq`` and why."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def entry_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """sha256 hex of ``prev_hash`` followed by the canonical JSON of the entry's payload."""
    text = prev_hash + canonical_json(payload)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _payload(values: Any) -> dict[str, Any]:
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    payload = {name: get(name) for name in PAYLOAD_FIELDS}
    payload["at"] = utc_iso(payload["at"])
    return payload


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(**{k: getattr(row, k) for k in AuditEntry.__dataclass_fields__})


def append(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    model_version: str | None = None,
    score: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add the next entry of the chain, in the caller's transaction.

    ``at`` defaults to now (UTC) and must be timezone-aware. The chain head stays locked until
    the caller commits or rolls back, so keep the transaction short.
    """
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError(f"audit time {at!r} must be timezone-aware")
    # Write first, read after: the UPDATE takes the lock before we look at the head.
    session.execute(update(HEAD).where(HEAD.c.id == HEAD_ID).values(last_seq=HEAD.c.last_seq + 1))
    seq, prev_hash = session.execute(
        select(HEAD.c.last_seq, HEAD.c.last_hash).where(HEAD.c.id == HEAD_ID)
    ).one()
    values: dict[str, Any] = {
        "seq": int(seq),
        "at": datetime.now(UTC) if at is None else at.astimezone(UTC),
        "actor": str(actor),
        "action": str(action),
        "object_type": str(object_type),
        "object_id": str(object_id),
        "before": plain(before or {}),
        "after": plain(after or {}),
        "model_version": model_version,
        "score": plain(score),
        "prev_hash": prev_hash,
    }
    values["hash"] = entry_hash(prev_hash, _payload(values))
    session.execute(insert(LOG).values(**values))
    session.execute(update(HEAD).where(HEAD.c.id == HEAD_ID).values(last_hash=values["hash"]))
    return AuditEntry(**values)


def generation(session: Session) -> int:
    """The sequence number of the last audit entry: it moves with every audited change, so
    pages rendered at one generation stay right until it moves (`serve.cache`)."""
    return int(session.scalar(select(HEAD.c.last_seq).where(HEAD.c.id == HEAD_ID)) or 0)


def append_review_event(
    session: Session, event: ReviewEvent, object_type: str = "review_item"
) -> AuditEntry:
    """Record one review action (`risk.review` returns the event with every action)."""
    return append(
        session,
        actor=event.actor,
        action=event.action,
        object_type=object_type,
        object_id=event.item_id,
        before=event.before,
        after=event.after,
        model_version=event.model_version,
        score=event.score,
        at=event.at,
    )


def list_entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """A page of entries, newest first, and the total matching."""
    conditions = [
        LOG.c[name] == value
        for name, value in (
            ("actor", actor),
            ("action", action),
            ("object_type", object_type),
            ("object_id", object_id),
        )
        if value is not None
    ]
    total = session.scalar(select(func.count()).select_from(LOG).where(*conditions)) or 0
    rows = session.execute(
        select(LOG).where(*conditions).order_by(LOG.c.seq.desc()).limit(limit).offset(offset)
    )
    return [_entry(r) for r in rows], int(total)


def _rows(session: Session) -> Iterable[Row[Any]]:
    return session.execute(select(LOG).order_by(LOG.c.seq).execution_options(yield_per=1000))


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; the first entry that is missing, unlinked or edited fails it."""
    expected, prev_hash, checked = 1, GENESIS_HASH, 0
    for row in _rows(session):
        if row.seq != expected:
            return VerifyResult(
                False,
                checked,
                expected,
                f"entry {expected} is missing (the next entry is {row.seq}): deleted or reordered",
            )
        if row.prev_hash != prev_hash:
            return VerifyResult(
                False,
                checked,
                row.seq,
                f"entry {row.seq} does not link to entry {row.seq - 1}: "
                "an entry before it was replaced, or entries were reordered",
            )
        if entry_hash(row.prev_hash, _payload(row)) != row.hash:
            return VerifyResult(
                False,
                checked,
                row.seq,
                f"entry {row.seq} was edited: its content no longer matches its hash",
            )
        prev_hash, expected, checked = row.hash, expected + 1, checked + 1
    head = session.execute(
        select(HEAD.c.last_seq, HEAD.c.last_hash).where(HEAD.c.id == HEAD_ID)
    ).first()
    if head is None:
        return VerifyResult(False, checked, None, "the chain head row is missing")
    if head.last_seq != checked or head.last_hash != prev_hash:
        return VerifyResult(
            False,
            checked,
            checked + 1,
            f"the log ends at entry {checked} but the chain head records entry "
            f"{head.last_seq}: the newest entries were deleted or the head was altered",
        )
    return VerifyResult(True, checked)


__all__ = [
    "AuditEntry",
    "VerifyResult",
    "append",
    "append_review_event",
    "entry_hash",
    "generation",
    "list_entries",
    "verify",
]
