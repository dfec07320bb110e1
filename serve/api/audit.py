"""The audit log, for admins: read it page by page, and verify the hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from risk.scopes import Action
from serve.api.access import check
from serve.api.deps import CurrentUser, SessionDep
from serve.api.schemas import AuditEntryOut, Ident, Page, VerifyOut
from serve.repo import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntryOut])
def entries(
    user: CurrentUser,
    session: SessionDep,
    actor: Annotated[Ident | None, Query()] = None,
    action: Annotated[Ident | None, Query()] = None,
    object_type: Annotated[Ident | None, Query()] = None,
    object_id: Annotated[Ident | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[AuditEntryOut]:
    """Newest first."""
    check(user, Action.VIEW_AUDIT)
    rows, total = audit.list_entries(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        limit=limit,
        offset=offset,
    )
    items = [AuditEntryOut(**r.__dict__) for r in rows]
    return Page(total=total, limit=limit, offset=offset, items=items)


@router.get("/verify", response_model=VerifyOut)
def verify(user: CurrentUser, session: SessionDep) -> VerifyOut:
    """Walk the chain up to its head (read first, so entries written meanwhile are not an
    error): ``ok``, or the first edited, missing, unlinked or wrongly keyed entry."""
    check(user, Action.VIEW_AUDIT)
    r = audit.verify(session)
    return VerifyOut(
        ok=r.ok,
        checked=r.checked,
        first_bad_seq=r.first_bad_seq,
        reason=r.reason,
        unkeyed=r.unkeyed,
    )
