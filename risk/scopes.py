"""Roles, scopes and who may do what (DESIGN §1; issue 5, item 6) as small policy objects.

* A **scope** is the whole city, a list of streets, a list of communities, or a list of grids.
  `Scope.mask(grids)` filters a grids frame; `Scope.covers(grid)` checks one grid.
* The **permission table** `PERMISSIONS` maps each action to the roles allowed to take it.
  It encodes separation of duties: only reviewers decide warnings (an analyst cannot approve
  one, nor an admin), only admins promote models (an analyst proposes, a reviewer cannot
  promote), and the proposer of a model may not approve its own promotion (`check_four_eyes`).
* `authorize` is the one check every endpoint calls: role first (`Forbidden`), then scope
  (`NotInScope`) when the request names a grid.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from risk.errors import ConfigError, ContractError, NotInScope, RiskError


class Forbidden(RiskError):
    """The actor's role may not take this action at all (HTTP 403)."""


class Role(StrEnum):
    ANALYST = "analyst"
    REVIEWER = "reviewer"
    COMMANDER = "commander"
    GRID_WORKER = "grid_worker"
    ADMIN = "admin"
    # A system feeding events in (a city's case system, a sensor hub): its API token may post
    # events and nothing else; it has no web login (`web_login_allowed`).
    INTEGRATION = "integration"
    # A monitoring system (Prometheus): its API token may read `/metrics` and nothing else;
    # no web login either.
    MONITOR = "monitor"


class ScopeKind(StrEnum):
    CITY = "city"
    STREET = "street"
    COMMUNITY = "community"
    GRIDS = "grids"


# The grids-frame column each non-city scope kind filters on.
SCOPE_COLUMN = {
    ScopeKind.STREET: "street_id",
    ScopeKind.COMMUNITY: "community_id",
    ScopeKind.GRIDS: "grid_id",
}


@dataclass(frozen=True)
class Scope:
    """What part of the city an actor sees; ``values`` are street, community or grid ids."""

    kind: ScopeKind
    values: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            kind = ScopeKind(self.kind)
        except ValueError:
            raise ConfigError(
                f"unknown scope kind {self.kind!r}; accepted: {', '.join(k.value for k in ScopeKind)}"
            ) from None
        values = frozenset(str(v) for v in self.values)
        if kind is ScopeKind.CITY and values:
            raise ConfigError("a city scope takes no values; fix: drop the ids or use street/…")
        if kind is not ScopeKind.CITY and not values:
            raise ConfigError(f"a {kind.value} scope needs at least one id")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "values", values)

    @classmethod
    def city(cls) -> Scope:
        return cls(ScopeKind.CITY)

    @classmethod
    def of(cls, kind: ScopeKind | str, values: Iterable[str] = ()) -> Scope:
        """``Scope.of('street', ['s1'])``; the kind is checked in ``__post_init__``."""
        return cls(kind, frozenset(values))  # type: ignore[arg-type]

    def covers(self, grid: Mapping[str, Any]) -> bool:
        """Whether one grid (a mapping/row with grid_id, street_id, community_id) is in scope."""
        if self.kind is ScopeKind.CITY:
            return True
        column = SCOPE_COLUMN[self.kind]
        if column not in grid:
            raise ContractError(
                "grid has no such field",
                field=column,
                fix=f"pass the grid row with its {column} to check a {self.kind.value} scope",
            )
        return str(grid[column]) in self.values

    def mask(self, grids: pd.DataFrame) -> np.ndarray:
        """Boolean array, one per row of ``grids``: the rows this scope covers."""
        if self.kind is ScopeKind.CITY:
            return np.ones(len(grids), dtype=bool)
        column = SCOPE_COLUMN[self.kind]
        if column not in grids.columns:
            raise ContractError(
                "grids frame has no such column",
                field=column,
                fix=f"pass the validated grids frame (with {column}) to filter a {self.kind.value} scope",
            )
        return grids[column].astype(str).isin(self.values).to_numpy()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "values": sorted(self.values)}


class Action(StrEnum):
    VIEW_FORECASTS = "view_forecasts"  # every forecast, approved or not
    VIEW_RANKED = "view_ranked"  # approved warnings ranked by risk
    VIEW_QUEUE = "view_queue"  # pending / escalated review items
    CLAIM = "claim"
    APPROVE = "approve"
    REJECT = "reject"
    ADJUST_LEVEL = "adjust_level"
    ESCALATE = "escalate"
    ASSIGN = "assign"
    DISPATCH = "dispatch"
    COMPLETE = "complete"
    VIEW_PATROLS = "view_patrols"
    REPORT_OUTCOME = "report_outcome"
    REPORT_EVENT = "report_event"  # a grid worker reports an event seen in their own grid
    VIEW_REVIEW_STATS = "view_review_stats"  # agreement / override rates
    VIEW_MODELS = "view_models"
    PROPOSE_MODEL = "propose_model"
    PROMOTE_MODEL = "promote_model"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"
    POST_EVENTS = "post_events"  # add events to the service's event store (POST /events)
    VIEW_METRICS = "view_metrics"  # city-wide operational counts at /metrics (no person data)


_A, _R, _C, _W, _ADM = Role.ANALYST, Role.REVIEWER, Role.COMMANDER, Role.GRID_WORKER, Role.ADMIN
_INT, _MON = Role.INTEGRATION, Role.MONITOR

PERMISSIONS: Mapping[Action, frozenset[Role]] = {
    Action.VIEW_FORECASTS: frozenset({_A, _ADM}),
    Action.VIEW_RANKED: frozenset({_C, _A, _ADM}),
    Action.VIEW_QUEUE: frozenset({_R, _A, _ADM}),
    Action.CLAIM: frozenset({_R}),
    Action.APPROVE: frozenset({_R}),
    Action.REJECT: frozenset({_R}),
    Action.ADJUST_LEVEL: frozenset({_R}),
    Action.ESCALATE: frozenset({_R, _C}),
    Action.ASSIGN: frozenset({_C}),
    Action.DISPATCH: frozenset({_C}),
    Action.COMPLETE: frozenset({_C, _W}),
    Action.VIEW_PATROLS: frozenset({_W, _C, _ADM}),
    Action.REPORT_OUTCOME: frozenset({_W}),
    Action.REPORT_EVENT: frozenset({_W}),
    Action.VIEW_REVIEW_STATS: frozenset({_A, _ADM}),
    Action.VIEW_MODELS: frozenset({_A, _ADM}),
    Action.PROPOSE_MODEL: frozenset({_A}),
    Action.PROMOTE_MODEL: frozenset({_ADM}),
    Action.MANAGE_USERS: frozenset({_ADM}),
    Action.VIEW_AUDIT: frozenset({_ADM}),
    # Only integrations: events reach the store from the city's systems, each with its own
    # token and audit trail (an admin manages users, it does not feed data).
    Action.POST_EVENTS: frozenset({_INT}),
    Action.VIEW_METRICS: frozenset({_ADM, _MON}),
}


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ConfigError(
            f"unknown role {role!r}; accepted: {', '.join(r.value for r in Role)}"
        ) from None


def _action(action: Action | str) -> Action:
    try:
        return Action(action)
    except ValueError:
        raise ConfigError(
            f"unknown action {action!r}; accepted: {', '.join(a.value for a in Action)}"
        ) from None


def allowed(role: Role | str, action: Action | str) -> bool:
    """Whether the role may take the action anywhere (scope not considered)."""
    return _role(role) in PERMISSIONS[_action(action)]


def check_role_scope(role: Role | str, scope: Scope) -> None:
    """Reject a user definition that makes no sense: a grid worker's scope is their grid list."""
    if _role(role) is Role.GRID_WORKER and scope.kind is not ScopeKind.GRIDS:
        raise ConfigError(
            f"a grid worker's scope must be a grid list (got {scope.kind.value}); "
            "fix: give the worker's own grid ids"
        )


def web_login_allowed(role: Role | str) -> bool:
    """Whether accounts of this role may have a web password (an integration or a monitor
    uses its API token only)."""
    return _role(role) not in (Role.INTEGRATION, Role.MONITOR)


def authorize(
    role: Role | str,
    scope: Scope,
    action: Action | str,
    grid: Mapping[str, Any] | None = None,
) -> None:
    """Raise `Forbidden` if the role may not take the action, `NotInScope` if ``grid`` is outside
    the scope. Listing endpoints pass no grid and filter with ``scope.mask`` instead."""
    r, a = _role(role), _action(action)
    if r not in PERMISSIONS[a]:
        who = ", ".join(sorted(x.value for x in PERMISSIONS[a]))
        raise Forbidden(f"role {r.value} may not {a.value}; allowed roles: {who}")
    if grid is not None and not scope.covers(grid):
        raise NotInScope(
            f"grid {grid.get('grid_id', '?')!r} is outside the {scope.kind.value} scope "
            f"{sorted(scope.values)}"
        )


def normalise_username(name: str) -> str:
    """One spelling per account name: NFKC, runs of whitespace collapsed, ends stripped,
    case-folded (``"Analyst"``, ``" analyst "`` and ``"ANALYST"`` are ``"analyst"``)."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def check_four_eyes(actor_id: str, proposer_id: str) -> None:
    """A model's proposer may not also approve its promotion, however the name is spelt."""
    if normalise_username(actor_id) == normalise_username(proposer_id):
        raise Forbidden(
            f"{actor_id!r} proposed this model version and may not approve its promotion; "
            "fix: another admin approves"
        )
