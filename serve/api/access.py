"""Role and scope checks shared by the routers, all through `risk.scopes.authorize`.

An object that exists but lies outside the caller's scope raises the same `NotFound` as a
missing object (same status, same message), for reads and actions alike, so a scope cannot be
probed for ids. A role that may not take an action at all still gets 403 (`Forbidden`): that
says nothing about any object.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from risk.review import ReviewItem
from risk.scopes import Action, authorize
from serve.api.errors import NotFound
from serve.repo.grids import get_grid
from serve.repo.reviews import get_item
from serve.repo.users import User


def check(user: User, action: Action) -> None:
    """Role only (listing endpoints then filter by ``user.scope``)."""
    authorize(user.role, user.scope, action)


def grid_of(session: Session, grid_id: str) -> dict[str, Any]:
    """The stored grid row, or a bare one (covered only by city and grid-list scopes)."""
    return get_grid(session, grid_id) or {"grid_id": grid_id, "street_id": "", "community_id": ""}


def readable_grid(session: Session, user: User, action: Action, grid_id: str) -> dict[str, Any]:
    """A stored grid the user may read; `NotFound` if missing or out of scope."""
    authorize(user.role, user.scope, action)
    grid = get_grid(session, grid_id)
    if grid is None or not user.scope.covers(grid):
        raise NotFound("grid", grid_id)
    return grid


def readable_item(session: Session, user: User, action: Action, item_id: str) -> ReviewItem:
    """A review item the user may read; `NotFound` if missing or out of scope."""
    authorize(user.role, user.scope, action)
    item = get_item(session, item_id)
    if item is None or not user.scope.covers(grid_of(session, item.grid_id)):
        raise NotFound("review item", item_id)
    return item


def actionable_item(session: Session, user: User, action: Action, item_id: str) -> ReviewItem:
    """A review item the user may act on: 403 for the role, 404 if missing or out of scope."""
    return readable_item(session, user, action, item_id)


__all__ = ["actionable_item", "check", "grid_of", "readable_grid", "readable_item"]
