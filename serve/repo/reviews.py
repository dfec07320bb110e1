"""Review items in the database: load, list, insert, and compare-and-set saves.

The state machine is `risk.review`; this module only stores what it returns. `save_item` is
the optimistic-concurrency guard DESIGN §7 asks for: ``UPDATE … WHERE item_id = ? AND
version = ?`` — of two writers holding the same version exactly one updates a row, the other
gets `StaleVersion` (HTTP 409) and the row keeps the winner's values.

Queries use the table (Core), not ORM objects, so a session never serves a cached item that
another transaction has since changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from risk.errors import RiskError
from risk.review import (
    OPEN_STATES,
    RejectReason,
    ReviewEvent,
    ReviewItem,
    ReviewState,
    Route,
    StaleVersion,
    route_scoring,
    upsert_from_scoring,
)
from risk.scopes import Scope
from serve.db import atomic
from serve.repo.filters import level_rank, where
from serve.repo.jsonvalues import plain
from serve.repo.sealing import open_row, seal_row
from serve.tables import ReviewItemRow, ReviewRevisionRow

ITEMS = ReviewItemRow.__table__
REVISIONS = ReviewRevisionRow.__table__
FIELDS = tuple(f.name for f in dataclasses.fields(ReviewItem))
DEFAULT_LIMIT = 50
REVISION_FIELDS = ("revision", "at", "window_start", "prob", "level", "model_version", "run_id")


class ItemNotFound(RiskError, LookupError):
    """No review item with this id (HTTP 404)."""

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        super().__init__(f"no review item {item_id!r}; fix: list the queue for current ids")


class DuplicateItem(RiskError):
    """An item for this (grid, target, window) already exists: update it, never add a second."""


def _values(session: Session, item: ReviewItem) -> dict[str, Any]:
    """The row of ``item``, free text sealed (`serve.repo.sealing`)."""
    values = {name: getattr(item, name) for name in FIELDS}
    values["state"] = ReviewState(item.state).value
    values["reject_reason"] = None if item.reject_reason is None else item.reject_reason.value
    values["reasons"] = plain(list(item.reasons))
    return seal_row(session, "review_items", item.item_id, values)


def _item(session: Session, row: Row[Any]) -> ReviewItem:
    """The item of a stored row, free text opened (`serve.repo.sealing`)."""
    values = {name: getattr(row, name) for name in FIELDS}
    values = open_row(session, "review_items", row.item_id, values)
    values["state"] = ReviewState(row.state)
    values["reject_reason"] = None if row.reject_reason is None else RejectReason(row.reject_reason)
    values["reasons"] = tuple(row.reasons or ())
    return ReviewItem(**values)


def get_item(session: Session, item_id: str) -> ReviewItem | None:
    row = session.execute(select(ITEMS).where(ITEMS.c.item_id == item_id)).first()
    return None if row is None else _item(session, row)


def require_item(session: Session, item_id: str) -> ReviewItem:
    """`get_item`, raising `ItemNotFound` instead of returning None."""
    item = get_item(session, item_id)
    if item is None:
        raise ItemNotFound(item_id)
    return item


def get_items(session: Session, item_ids: Iterable[str]) -> list[ReviewItem]:
    """The items that exist among ``item_ids``, in the order asked (for bulk actions)."""
    ids = list(dict.fromkeys(item_ids))
    rows = session.execute(select(ITEMS).where(ITEMS.c.item_id.in_(ids))).all()
    by_id = {row.item_id: _item(session, row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def list_items(
    session: Session,
    *,
    state: str | Iterable[str] | None = None,
    target: str | Iterable[str] | None = None,
    level: str | Iterable[str] | None = None,
    street: str | Iterable[str] | None = None,
    community: str | Iterable[str] | None = None,
    grid_ids: Iterable[str] | None = None,
    scope: Scope | None = None,
    window_open_at: datetime | None = None,
    by_risk: bool = False,
    newest_only: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
) -> tuple[list[ReviewItem], int]:
    """A page of items and the total matching, most severe level first, then oldest first.

    Each filter takes one value or several (any of them matches); ``street``/``community``
    and a street/community ``scope`` match through the ``grids`` table, so an item whose grid
    is not stored there is left out of such a query. ``window_open_at`` keeps items whose
    window ends after that time. ``by_risk`` orders by level, then probability (ranked
    pages) instead of level, then age (the queue). ``newest_only`` leaves out a decision that a
    later item re-raising it (``follows``) also matches, so a list shows each grid and target
    once. ``limit=None`` returns every match.
    """
    equal = {"state": state, "target": target, "level": level, "grid_id": grid_ids}
    scoped = {"street": street, "community": community, "scope": scope}
    count = where(select(func.count()).select_from(ITEMS), ITEMS, equal, **scoped)
    stmt = where(select(ITEMS), ITEMS, equal, **scoped)
    if window_open_at is not None:
        count = count.where(ITEMS.c.window_end > window_open_at)
        stmt = stmt.where(ITEMS.c.window_end > window_open_at)
    if newest_only:
        later = ITEMS.alias("later")
        superseded = where(
            select(later.c.item_id).where(later.c.follows == ITEMS.c.item_id),
            later,
            {"state": state},
        )
        if window_open_at is not None:
            superseded = superseded.where(later.c.window_end > window_open_at)
        count = count.where(~superseded.exists())
        stmt = stmt.where(~superseded.exists())
    total = session.scalar(count) or 0
    # by risk: probability, then the expected count (busy grids' probabilities round alike)
    tiebreak = (
        (ITEMS.c.prob.desc(), ITEMS.c.expected_count.desc().nulls_last())
        if by_risk
        else (ITEMS.c.created_at.asc(),)
    )
    stmt = stmt.order_by(
        level_rank(ITEMS.c.level).desc(), *tiebreak, ITEMS.c.created_at.asc(), ITEMS.c.item_id.asc()
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return [_item(session, row) for row in session.execute(stmt)], int(total)


def items_where(session: Session, *conditions: ColumnElement[bool]) -> list[ReviewItem]:
    """Every item matching all SQL ``conditions`` on `ITEMS`, unordered (for sums over a
    period, e.g. `/metrics`; pages use `list_items`)."""
    rows = session.execute(select(ITEMS).where(*conditions)).all()
    return [_item(session, row) for row in rows]


def insert_item(session: Session, item: ReviewItem) -> None:
    """Add a new item; `DuplicateItem` if its id or its (grid, target, window) is taken."""
    try:
        with atomic(session):
            session.execute(insert(ITEMS).values(**_values(session, item)))
    except IntegrityError:
        raise DuplicateItem(
            f"a review item for ({item.grid_id}, {item.target}, {item.window_start.isoformat()}) "
            "already exists; fix: load it with get_item(item_key(...)) and save the update"
        ) from None


def save_item(session: Session, new_item: ReviewItem, expected_version: int) -> None:
    """Write ``new_item`` only if the stored row is still at ``expected_version``.

    Raises `StaleVersion` (nothing written) when another writer got there first, and
    `ItemNotFound` when there is no such item.
    """
    if new_item.version != expected_version + 1:
        raise ValueError(
            f"item {new_item.item_id!r} at version {new_item.version} cannot replace version "
            f"{expected_version}: the review functions return version + 1"
        )
    values = _values(session, new_item)
    del values["item_id"]
    result = session.execute(
        update(ITEMS)
        .where(ITEMS.c.item_id == new_item.item_id, ITEMS.c.version == expected_version)
        .values(**values)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return
    actual = session.scalar(select(ITEMS.c.version).where(ITEMS.c.item_id == new_item.item_id))
    if actual is None:
        raise ItemNotFound(new_item.item_id)
    raise StaleVersion(new_item.item_id, expected_version, int(actual))


def record_revision(session: Session, item: ReviewItem) -> None:
    """Keep the score the item has at its current ``revision`` (0 on creation)."""
    session.execute(
        insert(REVISIONS).values(
            item_id=item.item_id,
            revision=item.revision,
            at=item.updated_at,
            window_start=item.window_start,
            prob=item.prob,
            level=item.original_level,
            model_version=item.model_version,
            run_id=item.run_id,
        )
    )


def revisions(session: Session, item_id: str) -> list[dict[str, Any]]:
    """The re-scoring history of one item, oldest first."""
    rows = session.execute(
        select(REVISIONS).where(REVISIONS.c.item_id == item_id).order_by(REVISIONS.c.revision)
    )
    return [{k: getattr(r, k) for k in REVISION_FIELDS} for r in rows]


def items_for_pair(
    session: Session, grid_id: str, target: str, window_start: datetime
) -> list[ReviewItem]:
    """The stored items `route_scoring` needs for one (grid, target): the open ones and those
    whose window reaches past ``window_start`` (at most a few: one open, a few decided)."""
    rows = session.execute(
        select(ITEMS).where(
            ITEMS.c.grid_id == grid_id,
            ITEMS.c.target == target,
            or_(
                ITEMS.c.state.in_([s.value for s in OPEN_STATES]),
                ITEMS.c.window_end > window_start,
            ),
        )
    )
    return [_item(session, r) for r in rows]


def apply_scoring(
    session: Session,
    *,
    grid_id: str,
    target: str,
    window_start: datetime,
    window_end: datetime,
    prob: float,
    level: str,
    reasons: Sequence[Any],
    model_version: str,
    at: datetime,
    expected_count: float | None = None,
    run_id: str | None = None,
) -> tuple[ReviewItem | None, ReviewEvent | None]:
    """A new score for one (grid, target), routed by `risk.review.route_scoring` and written
    back with a revision: the open item is revised (its window moves forward), a decided one
    is re-raised only at a higher level (a new item that ``follows`` it), else a new item.

    Returns the item and its event; the event is None when nothing changed (a decided item
    left as it was, or a hold: then the item is the decision that holds the warning back).
    The caller appends the event to the audit log in the same transaction.
    """
    route, existing = route_scoring(
        items_for_pair(session, grid_id, target, window_start),
        window_start=window_start,
        level=level,
    )
    if route is Route.HOLD:
        return existing, None
    new, event = upsert_from_scoring(
        existing if route is Route.UPDATE else None,
        grid_id=grid_id,
        target=target,
        window_start=window_start,
        window_end=window_end,
        prob=prob,
        level=level,
        reasons=reasons,
        model_version=model_version,
        at=at,
        expected_count=expected_count,
        run_id=run_id,
        follows=existing.item_id if route is Route.RAISE and existing is not None else None,
    )
    if event is None:
        return new, None
    if existing is None or route is Route.RAISE:
        insert_item(session, new)
    else:
        save_item(session, new, existing.version)
    record_revision(session, new)
    return new, event


__all__ = [
    "DuplicateItem",
    "ItemNotFound",
    "apply_scoring",
    "get_item",
    "get_items",
    "insert_item",
    "items_for_pair",
    "items_where",
    "list_items",
    "record_revision",
    "require_item",
    "revisions",
    "save_item",
]
