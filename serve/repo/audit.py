"""The append-only, hash-chained audit log (DESIGN §7; issue 5, item 8; issue 14).

Entry ``seq`` (1, 2, 3, … with no gaps) stores ``prev_hash`` — the hash of entry ``seq - 1``,
or `GENESIS_HASH` for the first — and ``hash``, an HMAC-SHA256 under the audit key of
``prev_hash`` + the canonical JSON of the entry: seq, time (UTC), actor, action, object,
before/after, model version, score snapshot and ``key_id``, the key's fingerprint
(`serve.audit_chain`; the key lives outside the database). Entries written before the chain
was keyed (up to ``audit_head.legacy_until``) carry no key id and a plain SHA-256.

Editing an entry breaks its hash, and without the key nobody can recompute it; deleting or
reordering entries breaks the sequence or a ``prev_hash`` link; deleting the newest entries no
longer matches the one-row chain head (`audit_head`), which `append` updates with each entry
— and an anchor (`serve.audit_chain.Anchor`, kept outside the database) catches even a head
set back. On PostgreSQL a trigger refuses UPDATE and DELETE on the table (migration 0003).

Appends are serialised: each one begins by writing the chain head, which takes its row lock
on PostgreSQL (a second appender waits until the first commits, then sees its entry) and the
database write lock on SQLite. So two transactions can never both extend the same entry.
`verify` reads the head first and checks the entries up to it, so entries appended while it
runs are simply not part of the check. This module offers no update and no delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from risk.review import ReviewEvent
from serve.audit_chain import (
    Anchor,
    AuditKeys,
    keyed_hash,
    legacy_hash,
    make_anchor,
    session_keys,
)
from serve.repo.jsonvalues import plain, utc_iso
from serve.repo.sealing import seal_row
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
    key_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return plain(self.__dict__)


@dataclass(frozen=True)
class VerifyResult:
    """``ok`` with ``checked`` entries, or the first bad ``seq`` and why.

    ``unkeyed``: how many of the checked entries predate the keyed chain; ``head_hash``: the
    hash of the last checked entry (what an anchor signs)."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    unkeyed: int = 0
    head_hash: str = ""


def _payload(values: Any) -> dict[str, Any]:
    """What the hash covers; ``key_id`` only for keyed entries (legacy hashes never had it)."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    payload = {name: get(name) for name in PAYLOAD_FIELDS}
    payload["at"] = utc_iso(payload["at"])
    if get("key_id") is not None:
        payload["key_id"] = get("key_id")
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
    """Add the next entry of the chain, in the caller's transaction, keyed with the current key
    of the session's ring (`serve.audit_chain.session_keys`).

    ``at`` defaults to now (UTC) and must be timezone-aware. The chain head stays locked until
    the caller commits or rolls back, so keep the transaction short.
    """
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError(f"audit time {at!r} must be timezone-aware")
    keys = session_keys(session)
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
        "key_id": keys.current_id,
    }
    values["hash"] = keyed_hash(keys.current, prev_hash, _payload(values))
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
    """Record one review action (`risk.review` returns the event with every action); notes and
    rejection texts are sealed, as in the item's row (`serve.repo.sealing`)."""
    return append(
        session,
        actor=event.actor,
        action=event.action,
        object_type=object_type,
        object_id=event.item_id,
        before=seal_row(session, "review_items", event.item_id, event.before),
        after=seal_row(session, "review_items", event.item_id, event.after),
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


def _rows(session: Session, last_seq: int) -> Iterable[Row[Any]]:
    return session.execute(
        select(LOG)
        .where(LOG.c.seq <= last_seq)
        .order_by(LOG.c.seq)
        .execution_options(yield_per=1000)
    )


def _hash_problem(row: Row[Any], keys: AuditKeys, legacy_until: int) -> str | None:
    """Why the entry's hash is not what its content, link and key give; None when it is."""
    if row.key_id is None:
        if row.seq > legacy_until:
            return (
                f"entry {row.seq} has an unkeyed hash, but every entry after entry "
                f"{legacy_until} is keyed: the log was re-chained without the audit key"
            )
        expected = legacy_hash(row.prev_hash, _payload(row))
    else:
        key = keys.key_for(row.key_id)
        if key is None:
            return (
                f"entry {row.seq} was signed with key {row.key_id}, which this verifier does not "
                f"hold (it holds {', '.join(keys.ids)}): restore that key to keys/audit.key or "
                "keys/audit-retired/, or the entry was forged with another key"
            )
        expected = keyed_hash(key, row.prev_hash, _payload(row))
    if expected != row.hash:
        return (
            f"entry {row.seq} was edited: its content no longer matches its hash "
            "(or it was re-chained without the audit key)"
        )
    return None


def verify(session: Session, anchor: Anchor | None = None) -> VerifyResult:
    """Walk the chain up to the head, read first: the first entry that is missing, unlinked,
    edited or wrongly keyed fails it, as does a head or ``anchor`` the log does not extend.

    Entries appended after the head was read are not checked (and not an error), so a verify
    under concurrent writers sees one consistent prefix of the log."""
    keys = session_keys(session)
    head = session.execute(
        select(HEAD.c.last_seq, HEAD.c.last_hash, HEAD.c.legacy_until).where(HEAD.c.id == HEAD_ID)
    ).first()
    if head is None:
        return VerifyResult(False, 0, None, "the chain head row is missing")
    if anchor is not None and not anchor.signed_by(keys):
        return VerifyResult(
            False,
            0,
            None,
            f"the anchor's signature does not match (key {anchor.key_id}): the anchor was "
            f"altered, or signed with a key this verifier does not hold ({', '.join(keys.ids)})",
        )
    expected, prev_hash, checked, unkeyed = 1, GENESIS_HASH, 0, 0
    for row in _rows(session, head.last_seq):
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
        problem = _hash_problem(row, keys, head.legacy_until)
        if problem is not None:
            return VerifyResult(False, checked, row.seq, problem)
        if anchor is not None and row.seq == anchor.seq and row.hash != anchor.hash:
            return VerifyResult(
                False,
                checked,
                row.seq,
                f"entry {row.seq} is not the entry anchored at {anchor.anchored_at}: "
                f"the log was rewritten at or before entry {row.seq}",
            )
        unkeyed += row.key_id is None
        prev_hash, expected, checked = row.hash, expected + 1, checked + 1
    if checked != head.last_seq:
        return VerifyResult(
            False,
            checked,
            checked + 1,
            f"the log ends at entry {checked} but the chain head records entry "
            f"{head.last_seq}: the newest entries were deleted or the head was altered",
        )
    if head.last_hash != prev_hash:
        return VerifyResult(
            False,
            checked,
            max(checked, 1),
            f"the chain head's hash differs from entry {checked}'s: the head was altered",
        )
    if anchor is not None and anchor.seq > checked:
        return VerifyResult(
            False,
            checked,
            checked + 1,
            f"the anchor of {anchor.anchored_at} records entry {anchor.seq} but the log ends "
            f"at entry {checked}: the newest entries were deleted and the head set back",
        )
    return VerifyResult(True, checked, unkeyed=unkeyed, head_hash=prev_hash)


def anchor_head(session: Session, at: datetime | None = None) -> tuple[VerifyResult, Anchor | None]:
    """Verify the chain and, when it holds, sign its head with the current key."""
    result = verify(session)
    if not result.ok:
        return result, None
    return result, make_anchor(session_keys(session), result.checked, result.head_hash, at)


__all__ = [
    "AuditEntry",
    "VerifyResult",
    "append",
    "anchor_head",
    "append_review_event",
    "generation",
    "list_entries",
    "verify",
]
