"""The review queue, for reviewers (DESIGN §7): list, read, decide, claim — one item or many.

Each decision is one transaction: the pure action in `risk.review` checks input, version,
lease and state; `save_item` writes it only if the stored version is still the one acted on
(compare-and-set, else 409); the audit entry is appended; then one commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from risk import review
from risk.review import OPEN_STATES, RejectReason, ReviewInputError, ReviewItem, StaleVersion
from risk.scopes import Action, allowed
from serve.api.access import actionable_item, check, grid_of, readable_item
from serve.api.deps import CurrentUser, Now, SessionDep
from serve.api.errors import FieldError, NotFound
from serve.api.schemas import (
    AdjustIn,
    ApproveIn,
    AssignIn,
    BulkIn,
    BulkOut,
    BulkResultOut,
    ClaimIn,
    EscalateIn,
    Ident,
    ItemPatrolReport,
    Level,
    Page,
    RejectIn,
    ReleaseIn,
    ReviewItemDetail,
    ReviewItemOut,
    VersionIn,
)
from serve.db import atomic
from serve.repo import audit
from serve.repo.patrols import reports_answering
from serve.repo.reviews import get_items, list_items, revisions, save_item
from serve.repo.users import User, UserNotFound, get_user

router = APIRouter(prefix="/review", tags=["review"])

ItemId = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="item id"),
]
Filter = Annotated[list[Ident] | None, Query()]
State = Annotated[
    list[review.ReviewState] | None, Query(description="default: pending and escalated")
]
BULK_ACTIONS = {
    "approve": Action.APPROVE,
    "reject": Action.REJECT,
    "escalate": Action.ESCALATE,
    "adjust_level": Action.ADJUST_LEVEL,
    "release": Action.CLAIM,
}


def _act(
    session: Session,
    user: User,
    item_id: str,
    action: Action,
    change: Callable[[ReviewItem], review.Result],
) -> ReviewItemOut:
    item = actionable_item(session, user, action, item_id)
    new, event = change(item)
    save_item(session, new, expected_version=item.version)
    audit.append_review_event(session, event)
    session.commit()
    return ReviewItemOut.of(new)


def _reject_reason(reason: RejectReason | None, text: str | None) -> None:
    if reason is None:
        raise FieldError(
            "reason",
            "a rejection needs a reason; accepted: " + ", ".join(r.value for r in RejectReason),
        )
    try:
        review.parse_reject_reason(reason, text)
    except ReviewInputError as err:
        raise FieldError("text", str(err)) from None


@router.get("/items", response_model=Page[ReviewItemOut])
def queue(
    user: CurrentUser,
    session: SessionDep,
    state: State = None,
    target: Filter = None,
    level: Annotated[list[Level] | None, Query()] = None,
    street: Filter = None,
    community: Filter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[ReviewItemOut]:
    """Items in the caller's scope, most severe level first, then oldest first."""
    check(user, Action.VIEW_QUEUE)
    states = [s.value for s in (state or sorted(OPEN_STATES))]
    items, total = list_items(
        session,
        state=states,
        target=target,
        level=level,
        street=street,
        community=community,
        scope=user.scope,
        limit=limit,
        offset=offset,
    )
    return Page(total=total, limit=limit, offset=offset, items=[ReviewItemOut.of(i) for i in items])


@router.get("/items/{item_id:path}", response_model=ReviewItemDetail)
def item_detail(item_id: ItemId, user: CurrentUser, session: SessionDep) -> ReviewItemDetail:
    """One item with its revisions and the patrol reports that answered it (outcome and time,
    newest first: no worker, no note)."""
    item = readable_item(session, user, Action.VIEW_QUEUE, item_id)
    patrols = [
        ItemPatrolReport(at=r.report.at, outcome=r.report.outcome.value)
        for r in reports_answering(session, item.item_id, item.grid_id)
    ]
    return ReviewItemDetail(
        **item.to_dict(), revisions=revisions(session, item.item_id), patrol_reports=patrols
    )


@router.post("/items/{item_id:path}/approve", response_model=ReviewItemOut)
def approve(
    item_id: ItemId, body: ApproveIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    """pending/escalated → approved, optionally at another level (the model's is kept)."""
    return _act(
        session,
        user,
        item_id,
        Action.APPROVE,
        lambda i: review.approve(
            i, user.username, now, body.expected_version, level=body.level, note=body.note
        ),
    )


@router.post("/items/{item_id:path}/reject", response_model=ReviewItemOut)
def reject(
    item_id: ItemId, body: RejectIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    """pending/escalated → rejected, with a reason (and a text for ``other``)."""
    _reject_reason(body.reason, body.text)
    return _act(
        session,
        user,
        item_id,
        Action.REJECT,
        lambda i: review.reject(
            i, user.username, now, body.expected_version, body.reason, body.text
        ),
    )


@router.post("/items/{item_id:path}/escalate", response_model=ReviewItemOut)
def escalate(
    item_id: ItemId, body: EscalateIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    return _act(
        session,
        user,
        item_id,
        Action.ESCALATE,
        lambda i: review.escalate(i, user.username, now, body.expected_version, note=body.note),
    )


@router.post("/items/{item_id:path}/adjust", response_model=ReviewItemOut)
def adjust(
    item_id: ItemId, body: AdjustIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    """Change the level of an undecided item; ``original_level`` keeps the model's."""
    return _act(
        session,
        user,
        item_id,
        Action.ADJUST_LEVEL,
        lambda i: review.adjust_level(i, user.username, now, body.expected_version, body.level),
    )


@router.post("/items/{item_id:path}/claim", response_model=ReviewItemOut)
def claim(
    item_id: ItemId, body: ClaimIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    """Take the item for ``lease_minutes``; others get 409 until the lease ends or is released."""
    return _act(
        session,
        user,
        item_id,
        Action.CLAIM,
        lambda i: review.claim(
            i, user.username, now, timedelta(minutes=body.lease_minutes), body.expected_version
        ),
    )


@router.post("/items/{item_id:path}/release", response_model=ReviewItemOut)
def release(
    item_id: ItemId, body: ReleaseIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    return _act(
        session,
        user,
        item_id,
        Action.CLAIM,
        lambda i: review.release(i, user.username, now, body.expected_version),
    )


@router.post("/items/{item_id:path}/assign", response_model=ReviewItemOut)
def assign(
    item_id: ItemId, body: AssignIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    """A commander hands an undecided item to a reviewer (a claim on their behalf)."""
    item = actionable_item(session, user, Action.ASSIGN, item_id)
    try:
        assignee = get_user(session, body.assignee)
    except UserNotFound:
        assignee = None
    if (
        assignee is None
        or not assignee.active
        or not allowed(assignee.role, Action.APPROVE)
        or not assignee.scope.covers(grid_of(session, item.grid_id))
    ):
        raise FieldError(
            "assignee",
            f"{body.assignee!r} is not an active reviewer whose scope covers grid {item.grid_id}",
        )
    return _act(
        session,
        user,
        item_id,
        Action.ASSIGN,
        lambda i: review.assign(
            i,
            user.username,
            now,
            body.expected_version,
            assignee.username,
            timedelta(minutes=body.lease_minutes),
        ),
    )


@router.post("/items/{item_id:path}/dispatch", response_model=ReviewItemOut)
def dispatch(
    item_id: ItemId, body: VersionIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    """approved → dispatched: the commander has sent the patrol."""
    return _act(
        session,
        user,
        item_id,
        Action.DISPATCH,
        lambda i: review.dispatch(i, user.username, now, body.expected_version),
    )


@router.post("/items/{item_id:path}/complete", response_model=ReviewItemOut)
def complete(
    item_id: ItemId, body: VersionIn, user: CurrentUser, session: SessionDep, now: Now
) -> ReviewItemOut:
    """dispatched → completed: the patrol reported back (commander, or the grid's worker)."""
    return _act(
        session,
        user,
        item_id,
        Action.COMPLETE,
        lambda i: review.complete(i, user.username, now, body.expected_version),
    )


def _bulk_params(body: BulkIn) -> dict[str, Any]:
    if body.action == "reject":
        _reject_reason(body.reason, body.text)
        return {"reason": body.reason, "text": body.text}
    if body.action == "adjust_level":
        if body.level is None:
            raise FieldError("level", "adjust_level needs a level: blue, yellow, orange or red")
        return {"level": body.level}
    if body.action == "approve":
        return {"level": body.level, "note": body.note}
    if body.action == "escalate":
        return {"note": body.note}
    return {}


@router.post("/bulk", response_model=BulkOut)
def bulk(body: BulkIn, user: CurrentUser, session: SessionDep, now: Now) -> BulkOut:
    """One action on many items; each entry succeeds or fails on its own, in the order given.

    One result per entry: an item outside the caller's scope is ``not_found`` exactly like a
    missing one, and an id listed again is ``duplicate`` (acted on once, at its first entry).
    """
    check(user, BULK_ACTIONS[body.action])
    params = _bulk_params(body)
    first: dict[str, int] = {}  # item id -> its first entry
    for n, target in enumerate(body.items):
        first.setdefault(target.item_id, n)
    expected = {item_id: body.items[n].expected_version for item_id, n in first.items()}
    found = {i.item_id: i for i in get_items(session, expected)}
    mine = [i for i in found.values() if user.scope.covers(grid_of(session, i.grid_id))]
    outcome = {
        r.item_id: r
        for r in review.bulk(
            mine, body.action, actor=user.username, at=now, expected_versions=expected, **params
        )
    }
    results = []
    for n, target in enumerate(body.items):
        item_id = target.item_id
        if first[item_id] != n:
            message = f"entry {first[item_id] + 1} already names this item; it is acted on once"
            results.append(
                BulkResultOut(item_id=item_id, ok=False, code="duplicate", message=message)
            )
            continue
        r = outcome.get(item_id)
        if r is None:  # missing or out of scope: the same answer
            message = str(NotFound("review item", item_id))
            results.append(
                BulkResultOut(item_id=item_id, ok=False, code="not_found", message=message)
            )
            continue
        if not r.ok:
            results.append(BulkResultOut(item_id=item_id, ok=False, code=r.code, message=r.message))
            continue
        assert r.item is not None and r.event is not None
        try:
            with atomic(session):
                save_item(session, r.item, expected_version=found[item_id].version)
                audit.append_review_event(session, r.event)
        except StaleVersion as err:
            results.append(
                BulkResultOut(item_id=item_id, ok=False, code="stale_version", message=str(err))
            )
            continue
        results.append(
            BulkResultOut(item_id=item_id, ok=True, code="ok", item=ReviewItemOut.of(r.item))
        )
    session.commit()
    ok = sum(r.ok for r in results)
    return BulkOut(succeeded=ok, failed=len(results) - ok, results=results)
