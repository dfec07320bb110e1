"""Filters shared by the listing queries: column-in-values, and scope through the grids table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, case

from risk.levels import LEVELS
from risk.scopes import Scope, ScopeKind
from serve.tables import GridRow

GRIDS: Table = GridRow.__table__  # type: ignore[assignment]


def names(value: str | Iterable[str] | None) -> list[str] | None:
    """One value or several as a list; None means no filter (an empty list matches nothing)."""
    if value is None:
        return None
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def level_rank(column: ColumnElement[Any]) -> ColumnElement[int]:
    """SQL rank of a level column: red 3, orange 2, yellow 1, blue 0, anything else -1."""
    return case({name: rank for rank, name in enumerate(LEVELS)}, value=column, else_=-1)


def where(
    stmt: Select[Any],
    table: Table,
    equal: Mapping[str, str | Iterable[str] | None],
    *,
    street: str | Iterable[str] | None = None,
    community: str | Iterable[str] | None = None,
    scope: Scope | None = None,
) -> Select[Any]:
    """``stmt`` restricted to rows whose ``table`` columns are in the given values, whose grid
    is in the streets/communities given, and inside ``scope``. Joins ``grids`` when needed."""
    conditions: list[ColumnElement[bool]] = []
    for column, value in equal.items():
        wanted = names(value)
        if wanted is not None:
            conditions.append(table.c[column].in_(wanted))
    streets, communities = names(street), names(community)
    if scope is not None and scope.kind is ScopeKind.GRIDS:
        conditions.append(table.c.grid_id.in_(sorted(scope.values)))
    elif scope is not None and scope.kind is ScopeKind.STREET:
        conditions.append(GRIDS.c.street_id.in_(sorted(scope.values)))
    elif scope is not None and scope.kind is ScopeKind.COMMUNITY:
        conditions.append(GRIDS.c.community_id.in_(sorted(scope.values)))
    if streets is not None:
        conditions.append(GRIDS.c.street_id.in_(streets))
    if communities is not None:
        conditions.append(GRIDS.c.community_id.in_(communities))
    joins_grids = (
        streets is not None
        or communities is not None
        or (scope is not None and scope.kind in (ScopeKind.STREET, ScopeKind.COMMUNITY))
    )
    if joins_grids:
        stmt = stmt.select_from(table.join(GRIDS, GRIDS.c.grid_id == table.c.grid_id))
    return stmt.where(and_(*conditions)) if conditions else stmt
