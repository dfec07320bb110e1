"""The review queue (DESIGN §7) as pure functions: states, allowed moves, and what each action does.

Nothing here stores anything. Every action takes an immutable `ReviewItem` and returns a
**new** item with ``version + 1`` plus a `ReviewEvent` for the audit log; the service writes
the new item with a compare-and-set on the old version (``UPDATE … WHERE version = old``) and
appends the event, so two concurrent writers can never both win.

Checks run in this order, so a client gets the most useful error first: input (reason, level)
→ version (`StaleVersion`, HTTP 409) → lease (`LeaseHeld`, 409) → state (`InvalidTransition`).
System sweeps (`expire_due`, `escalate_overdue`) are policy, not a person: they ignore leases.

States::

    pending   → approved | rejected | escalated | expired
    escalated → approved | rejected | expired
    approved  → dispatched → completed

One warning per grid and target at a time (`route_scoring`). Daily runs issue 72-hour
windows that overlap, so a new score for a (grid, target) goes, in this order:

1. to the item of exactly that window, if there is one (re-scoring the same issue time);
2. else to the **open** item (pending or escalated): it is revised in place (``revision + 1``,
   the window moves forward to the new one, the item id and the response clock stay);
3. else, when a decided item's window overlaps the new one: nothing new unless the level
   **rises** above the decided level — then a new item that ``follows`` the earlier decision;
4. else a new item (its id is `item_key` of the window).

`upsert_from_scoring` applies steps 1–2 to a pending or escalated item; a decided, expired,
dispatched or completed item is returned unchanged: its snapshot is what the human acted on,
and the newer score stays in the forecast run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pandas as pd

from risk.errors import InvalidTransition, RiskError
from risk.levels import LEVELS

SYSTEM_ACTOR = "system"
DEFAULT_RESPONSE_TARGET = timedelta(hours=2)
DEFAULT_LEASE = timedelta(minutes=30)


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    EXPIRED = "expired"
    DISPATCHED = "dispatched"
    COMPLETED = "completed"


_S = ReviewState
TRANSITIONS: Mapping[ReviewState, frozenset[ReviewState]] = {
    _S.PENDING: frozenset({_S.APPROVED, _S.REJECTED, _S.ESCALATED, _S.EXPIRED}),
    _S.ESCALATED: frozenset({_S.APPROVED, _S.REJECTED, _S.EXPIRED}),
    _S.APPROVED: frozenset({_S.DISPATCHED}),
    _S.DISPATCHED: frozenset({_S.COMPLETED}),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.COMPLETED: frozenset(),
}
# Awaiting a human decision: the only states that can be claimed, adjusted or re-scored.
OPEN_STATES = frozenset({_S.PENDING, _S.ESCALATED})


class RejectReason(StrEnum):
    FALSE_ALARM = "false_alarm"
    ALREADY_HANDLED = "already_handled"
    DUPLICATE = "duplicate"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    OTHER = "other"  # needs free text


class StaleVersion(RiskError):
    """The client acted on an old version of the item (HTTP 409); reload and retry."""

    def __init__(self, item_id: str, expected: int, actual: int) -> None:
        self.item_id, self.expected, self.actual = item_id, expected, actual
        super().__init__(
            f"review item {item_id!r} is at version {actual}, not {expected}: someone changed it "
            "since you loaded it; reload the item and act again"
        )


class LeaseHeld(RiskError):
    """Another reviewer holds an unexpired claim on the item (HTTP 409)."""

    def __init__(self, item_id: str, holder: str, until: datetime) -> None:
        self.item_id, self.holder, self.until = item_id, holder, until
        super().__init__(
            f"review item {item_id!r} is claimed by {holder!r} until {until.isoformat()}; "
            "wait for the lease to end or ask them to release it"
        )


class ReviewInputError(RiskError, ValueError):
    """A review action was called with missing or invalid arguments (HTTP 422)."""


# --------------------------------------------------------------------------- items and events


@dataclass(frozen=True)
class ReviewItem:
    """One warning for one (grid, target, window), with the score snapshot it was judged on."""

    item_id: str
    grid_id: str
    target: str
    window_start: datetime
    window_end: datetime
    level: str  # current level (a reviewer may have adjusted it)
    original_level: str  # the model's level
    prob: float
    reasons: tuple[Any, ...]
    model_version: str
    created_at: datetime
    updated_at: datetime
    state: ReviewState = ReviewState.PENDING
    version: int = 1
    revision: int = 0  # times re-scoring updated this item
    expected_count: float | None = None
    run_id: str | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    reject_reason: RejectReason | None = None
    reject_text: str | None = None
    escalated_by: str | None = None
    escalated_at: datetime | None = None
    note: str | None = None
    dispatched_by: str | None = None
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None
    follows: str | None = None  # the decided item this one re-raises at a higher level

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.grid_id, self.target, self.window_start)

    def lease_active(self, at: datetime) -> bool:
        """A lease ends at ``lease_until`` (at that instant it is already over)."""
        return (
            self.claimed_by is not None and self.lease_until is not None and at < self.lease_until
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601, enums as their values, reasons as lists."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class ReviewEvent:
    """What the audit log records for one action: who, when, before/after and the score snapshot.

    ``before``/``after`` hold the fields that changed, plus ``state`` and ``version`` always;
    for a newly created item ``before`` is empty and ``after`` is the whole item.
    """

    item_id: str
    action: str
    actor: str
    at: datetime
    from_state: ReviewState | None
    to_state: ReviewState
    before: dict[str, Any]
    after: dict[str, Any]
    model_version: str
    score: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


Result = tuple[ReviewItem, ReviewEvent]


def _jsonable(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ReviewInputError(
            f"{name} must be a timezone-aware datetime (got {value!r}); fix: attach the city zone"
        )
    return value


def _level(value: str, name: str = "level") -> str:
    if value not in LEVELS:
        raise ReviewInputError(
            f"{name} {value!r} is not a risk level; accepted: {', '.join(LEVELS)}"
        )
    return str(value)


def item_key(grid_id: str, target: str, window_start: datetime) -> str:
    """Stable item id for a (grid, target, window): the same key always gives the same id."""
    start = pd.Timestamp(_aware("window_start", window_start)).tz_convert("UTC")
    return f"{grid_id}/{target}/{start:%Y%m%dT%H%MZ}"


def check_transition(item: ReviewItem, to: ReviewState) -> None:
    """Raise `InvalidTransition` naming both states unless ``item.state → to`` is in the table."""
    if to not in TRANSITIONS[item.state]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[item.state])) or "nothing (final)"
        raise InvalidTransition(
            f"review item {item.item_id!r} cannot move from {item.state.value} to {to.value}; "
            f"from {item.state.value} it can move to: {allowed}"
        )


def _check_version(item: ReviewItem, expected_version: int) -> None:
    if expected_version != item.version:
        raise StaleVersion(item.item_id, expected_version, item.version)


def _check_lease(item: ReviewItem, actor: str, at: datetime, *also: str) -> None:
    if item.lease_active(at) and item.claimed_by not in (actor, *also):
        assert item.claimed_by is not None and item.lease_until is not None
        raise LeaseHeld(item.item_id, item.claimed_by, item.lease_until)


def _check_open(item: ReviewItem, action: str) -> None:
    if item.state not in OPEN_STATES:
        raise InvalidTransition(
            f"review item {item.item_id!r} cannot {action} in state {item.state.value}; "
            "only pending or escalated items can"
        )


def _score(item: ReviewItem) -> dict[str, Any]:
    return {
        "prob": item.prob,
        "level": item.level,
        "original_level": item.original_level,
        "reasons": _jsonable(item.reasons),
        "model_version": item.model_version,
    }


def _apply(item: ReviewItem, action: str, actor: str, at: datetime, **changes: Any) -> Result:
    """New item with ``changes``, ``version + 1`` and ``updated_at = at``, and its event."""
    new = dataclasses.replace(item, version=item.version + 1, updated_at=at, **changes)
    old_d, new_d = item.to_dict(), new.to_dict()
    changed = [k for k in new_d if new_d[k] != old_d[k] and k != "updated_at"]
    keys = sorted(set(changed) | {"state", "version"})
    event = ReviewEvent(
        item_id=item.item_id,
        action=action,
        actor=actor,
        at=at,
        from_state=item.state,
        to_state=new.state,
        before={k: old_d[k] for k in keys},
        after={k: new_d[k] for k in keys},
        model_version=new.model_version,
        score=_score(new),
    )
    return new, event


def _person_action(
    item: ReviewItem, actor: str, at: datetime, expected_version: int, *lease_ok: str
) -> None:
    _aware("at", at)
    if not actor:
        raise ReviewInputError("actor must name the person acting")
    _check_version(item, expected_version)
    _check_lease(item, actor, at, *lease_ok)


# --------------------------------------------------------------------------- human actions


def approve(
    item: ReviewItem,
    actor: str,
    at: datetime,
    expected_version: int,
    level: str | None = None,
    note: str | None = None,
) -> Result:
    """pending/escalated → approved; ``level`` (optional) adjusts the level, keeping the original."""
    new_level = item.level if level is None else _level(level)
    _person_action(item, actor, at, expected_version)
    check_transition(item, ReviewState.APPROVED)
    return _apply(
        item,
        "approve",
        actor,
        at,
        state=ReviewState.APPROVED,
        level=new_level,
        reviewed_by=actor,
        reviewed_at=at,
        note=note if note is not None else item.note,
        claimed_by=None,
        lease_until=None,
    )


def parse_reject_reason(reason: RejectReason | str | None, text: str | None) -> RejectReason:
    """A valid reason; ``other`` needs non-blank text."""
    if reason is None or reason == "":
        raise ReviewInputError(
            "a rejection needs a reason; accepted: " + ", ".join(r.value for r in RejectReason)
        )
    try:
        parsed = RejectReason(reason)
    except ValueError:
        raise ReviewInputError(
            f"unknown rejection reason {reason!r}; accepted: "
            + ", ".join(r.value for r in RejectReason)
        ) from None
    if parsed is RejectReason.OTHER and not (text and text.strip()):
        raise ReviewInputError("rejection reason 'other' needs a text saying why")
    return parsed


def reject(
    item: ReviewItem,
    actor: str,
    at: datetime,
    expected_version: int,
    reason: RejectReason | str | None,
    text: str | None = None,
) -> Result:
    """pending/escalated → rejected, with a reason (and text for ``other``)."""
    parsed = parse_reject_reason(reason, text)
    _person_action(item, actor, at, expected_version)
    check_transition(item, ReviewState.REJECTED)
    return _apply(
        item,
        "reject",
        actor,
        at,
        state=ReviewState.REJECTED,
        reviewed_by=actor,
        reviewed_at=at,
        reject_reason=parsed,
        reject_text=text.strip() if text else None,
        claimed_by=None,
        lease_until=None,
    )


def escalate(
    item: ReviewItem, actor: str, at: datetime, expected_version: int, note: str | None = None
) -> Result:
    """pending → escalated (to a commander / senior reviewer)."""
    _person_action(item, actor, at, expected_version)
    check_transition(item, ReviewState.ESCALATED)
    return _apply(
        item,
        "escalate",
        actor,
        at,
        state=ReviewState.ESCALATED,
        escalated_by=actor,
        escalated_at=at,
        note=note if note is not None else item.note,
    )


def adjust_level(
    item: ReviewItem, actor: str, at: datetime, expected_version: int, level: str
) -> Result:
    """Change the level of an undecided item; ``original_level`` keeps the model's level."""
    new_level = _level(level)
    _person_action(item, actor, at, expected_version)
    _check_open(item, "adjust its level")
    return _apply(item, "adjust_level", actor, at, level=new_level)


def claim(
    item: ReviewItem,
    actor: str,
    at: datetime,
    lease: timedelta = DEFAULT_LEASE,
    expected_version: int | None = None,
) -> Result:
    """Take an undecided item for ``lease``; others cannot act on it until the lease ends.

    The holder may claim again to extend. ``expected_version`` defaults to the item's own
    (the compare-and-set on write still catches a concurrent claim).
    """
    if lease <= timedelta(0):
        raise ReviewInputError(f"lease must be positive (got {lease})")
    version = item.version if expected_version is None else expected_version
    _person_action(item, actor, at, version)
    _check_open(item, "be claimed")
    return _apply(item, "claim", actor, at, claimed_by=actor, lease_until=at + lease)


def assign(
    item: ReviewItem,
    actor: str,
    at: datetime,
    expected_version: int,
    assignee: str,
    lease: timedelta = DEFAULT_LEASE,
) -> Result:
    """A commander hands an undecided item to ``assignee`` (a claim on their behalf)."""
    if not assignee:
        raise ReviewInputError("assign needs an assignee")
    if lease <= timedelta(0):
        raise ReviewInputError(f"lease must be positive (got {lease})")
    _person_action(item, actor, at, expected_version, assignee)
    _check_open(item, "be assigned")
    return _apply(item, "assign", actor, at, claimed_by=assignee, lease_until=at + lease)


def release(item: ReviewItem, actor: str, at: datetime, expected_version: int) -> Result:
    """Give a claim back before its lease ends."""
    _person_action(item, actor, at, expected_version)
    _check_open(item, "be released")
    return _apply(item, "release", actor, at, claimed_by=None, lease_until=None)


def dispatch(item: ReviewItem, actor: str, at: datetime, expected_version: int) -> Result:
    """approved → dispatched (patrol suggestions sent)."""
    _person_action(item, actor, at, expected_version)
    check_transition(item, ReviewState.DISPATCHED)
    return _apply(
        item,
        "dispatch",
        actor,
        at,
        state=ReviewState.DISPATCHED,
        dispatched_by=actor,
        dispatched_at=at,
    )


def complete(item: ReviewItem, actor: str, at: datetime, expected_version: int) -> Result:
    """dispatched → completed (the patrol reported back)."""
    _person_action(item, actor, at, expected_version)
    check_transition(item, ReviewState.COMPLETED)
    return _apply(item, "complete", actor, at, state=ReviewState.COMPLETED, completed_at=at)


# --------------------------------------------------------------------------- system sweeps


def window_passed(item: ReviewItem, now: datetime) -> bool:
    """The window is ``(start, end]``: it has passed once ``now > end``."""
    return now > item.window_end


def expire_due(items: Iterable[ReviewItem], now: datetime) -> list[Result]:
    """Undecided items whose window has passed → expired. Returns only the items that changed."""
    _aware("now", now)
    out = []
    for item in items:
        if item.state in OPEN_STATES and window_passed(item, now):
            out.append(
                _apply(
                    item,
                    "expire",
                    SYSTEM_ACTOR,
                    now,
                    state=ReviewState.EXPIRED,
                    claimed_by=None,
                    lease_until=None,
                )
            )
    return out


def escalate_overdue(
    items: Iterable[ReviewItem],
    now: datetime,
    response_target: timedelta = DEFAULT_RESPONSE_TARGET,
) -> list[Result]:
    """Pending items not decided within ``response_target`` of entering the queue → escalated.

    The clock runs from ``created_at`` (re-scoring does not restart it) and fires at exactly
    ``created_at + response_target``. Items whose window has passed are left to `expire_due`.
    """
    _aware("now", now)
    if response_target <= timedelta(0):
        raise ReviewInputError(f"response_target must be positive (got {response_target})")
    out = []
    for item in items:
        due = item.created_at + response_target
        if item.state is ReviewState.PENDING and now >= due and not window_passed(item, now):
            out.append(
                _apply(
                    item,
                    "escalate",
                    SYSTEM_ACTOR,
                    now,
                    state=ReviewState.ESCALATED,
                    escalated_by=SYSTEM_ACTOR,
                    escalated_at=now,
                    note=f"not acted on within the response target ({response_target})",
                )
            )
    return out


def sweep(
    items: Iterable[ReviewItem],
    now: datetime,
    response_target: timedelta = DEFAULT_RESPONSE_TARGET,
) -> list[Result]:
    """`expire_due` then `escalate_overdue` on the rest: what the scheduled job runs."""
    items = list(items)
    expired = expire_due(items, now)
    done = {new.item_id for new, _ in expired}
    rest = [i for i in items if i.item_id not in done]
    return expired + escalate_overdue(rest, now, response_target)


# --------------------------------------------------------------------------- scoring into the queue


class Route(StrEnum):
    """Where a new score for one (grid, target) goes (see the module docstring)."""

    UPDATE = "update"  # the item of the same window, or the open item (revised, window moves)
    RAISE = "raise"  # a new item following a decided one, at a higher level
    HOLD = "hold"  # a decided item covers the window at this level or above: nothing new
    CREATE = "create"  # a new item


DECIDED_STATES = frozenset({_S.APPROVED, _S.REJECTED, _S.DISPATCHED, _S.COMPLETED})


def route_scoring(
    items: Iterable[ReviewItem], *, window_start: datetime, level: str
) -> tuple[Route, ReviewItem | None]:
    """Route a new score among the stored items of its (grid, target); returns the route and
    the item it concerns (the one to update, or the decision it raises or holds to)."""
    _aware("window_start", window_start)
    level = _level(level)
    items = list(items)
    same = [i for i in items if i.window_start == window_start]
    if same:
        return Route.UPDATE, same[0]
    open_ = [i for i in items if i.state in OPEN_STATES]
    if open_:
        return Route.UPDATE, max(open_, key=lambda i: i.window_start)
    covering = [i for i in items if i.state in DECIDED_STATES and i.window_end > window_start]
    if covering:
        decided = max(covering, key=lambda i: (i.window_start, i.updated_at))
        if LEVELS.index(level) > LEVELS.index(decided.level):
            return Route.RAISE, decided
        return Route.HOLD, decided
    return Route.CREATE, None


def upsert_from_scoring(
    existing: ReviewItem | None,
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
    follows: str | None = None,
) -> tuple[ReviewItem, ReviewEvent | None]:
    """Create the item for a (grid, target, window), or revise the open item `route_scoring`
    chose.

    * ``existing is None`` → a new pending item (version 1, revision 0); event ``create``;
      ``follows`` names the decided item it re-raises, if any.
    * pending or escalated → score, reasons, model version and run updated, ``revision + 1``;
      event ``rescore``. A later window moves the item forward (its id stays). The state is
      kept. ``original_level`` becomes the new model level; ``level`` follows it unless a
      reviewer had adjusted it (then the reviewer's level is kept). ``created_at`` is kept, so
      the response-target clock does not restart.
    * any other state, or an older window than the item's → returned unchanged, no event.
    """
    for name, t in (("window_start", window_start), ("window_end", window_end), ("at", at)):
        _aware(name, t)
    if not window_end > window_start:
        raise ReviewInputError(f"window_end {window_end} must be after window_start {window_start}")
    if not 0.0 <= float(prob) <= 1.0:
        raise ReviewInputError(f"prob must be in [0, 1] (got {prob!r})")
    level = _level(level)
    snapshot = tuple(dict(r) if isinstance(r, Mapping) else r for r in reasons)
    if existing is None:
        item = ReviewItem(
            item_id=item_key(grid_id, target, window_start),
            grid_id=grid_id,
            target=target,
            window_start=window_start,
            window_end=window_end,
            level=level,
            original_level=level,
            prob=float(prob),
            reasons=snapshot,
            model_version=model_version,
            created_at=at,
            updated_at=at,
            expected_count=expected_count,
            run_id=run_id,
            follows=follows,
        )
        event = ReviewEvent(
            item_id=item.item_id,
            action="create",
            actor=SYSTEM_ACTOR,
            at=at,
            from_state=None,
            to_state=item.state,
            before={},
            after=item.to_dict(),
            model_version=model_version,
            score=_score(item),
        )
        return item, event
    if (existing.grid_id, existing.target) != (grid_id, target) or (
        existing.window_start == window_start and existing.window_end != window_end
    ):
        raise ReviewInputError(
            f"re-scoring ({grid_id}, {target}, {window_start}) does not match item "
            f"{existing.item_id!r}; fix: route the score with route_scoring"
        )
    if existing.state not in OPEN_STATES or window_start < existing.window_start:
        return existing, None
    adjusted = existing.level != existing.original_level
    return _apply(
        existing,
        "rescore",
        SYSTEM_ACTOR,
        at,
        window_start=window_start,
        window_end=window_end,
        prob=float(prob),
        level=existing.level if adjusted else level,
        original_level=level,
        reasons=snapshot,
        model_version=model_version,
        expected_count=expected_count,
        run_id=run_id,
        revision=existing.revision + 1,
    )


# --------------------------------------------------------------------------- bulk actions


@dataclass(frozen=True)
class BulkResult:
    """Outcome of one item in a bulk action: ``ok`` with the new item and event, or an error."""

    item_id: str
    ok: bool
    code: str  # "ok", "stale_version", "lease_held", "invalid_transition", "invalid_input"
    message: str = ""
    item: ReviewItem | None = None
    event: ReviewEvent | None = None


ACTIONS: Mapping[str, Callable[..., Result]] = {
    "approve": approve,
    "reject": reject,
    "escalate": escalate,
    "adjust_level": adjust_level,
    "release": release,
    "dispatch": dispatch,
    "complete": complete,
}

ERROR_CODES: Mapping[type[RiskError], str] = {
    StaleVersion: "stale_version",
    LeaseHeld: "lease_held",
    InvalidTransition: "invalid_transition",
    ReviewInputError: "invalid_input",
}


def bulk(
    items: Iterable[ReviewItem],
    action: str,
    *,
    actor: str,
    at: datetime,
    expected_versions: Mapping[str, int],
    **params: Any,
) -> list[BulkResult]:
    """Apply one action to many items; each item succeeds or fails on its own, in input order.

    ``expected_versions`` maps item id → the version the client saw; ``params`` are the
    action's own arguments (``level=``, ``reason=``, ``text=``, ``note=``).
    """
    if action not in ACTIONS:
        raise ReviewInputError(f"unknown bulk action {action!r}; accepted: {', '.join(ACTIONS)}")
    fn = ACTIONS[action]
    out = []
    for item in items:
        try:
            if item.item_id not in expected_versions:
                raise ReviewInputError(f"no expected version given for item {item.item_id!r}")
            new, event = fn(item, actor, at, expected_versions[item.item_id], **params)
        except tuple(ERROR_CODES) as err:
            code = next(c for cls, c in ERROR_CODES.items() if isinstance(err, cls))
            out.append(BulkResult(item.item_id, False, code, str(err)))
        else:
            out.append(BulkResult(item.item_id, True, "ok", "", new, event))
    return out


# --------------------------------------------------------------------------- reviewer statistics


def verdict_rates(
    items: Iterable[ReviewItem], by: Sequence[str] = ("reviewed_by",)
) -> pd.DataFrame:
    """Agreement and override rates of human verdicts, grouped by ``by`` (e.g. reviewer, model).

    Decided items only (approved, dispatched, completed, rejected). ``agree`` = approved at the
    model's level; ``adjusted`` = approved at another level; ``rejected`` = rejected;
    ``override`` = adjusted + rejected. Rates are shares of ``decided``.
    """
    decided = {_S.APPROVED, _S.DISPATCHED, _S.COMPLETED, _S.REJECTED}
    rows = [
        {
            **{k: getattr(i, k) for k in by},
            "agree": i.state is not _S.REJECTED and i.level == i.original_level,
            "adjusted": i.state is not _S.REJECTED and i.level != i.original_level,
            "rejected": i.state is _S.REJECTED,
        }
        for i in items
        if i.state in decided
    ]
    columns = [*by, "decided", "agree_rate", "adjusted_rate", "rejected_rate", "override_rate"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    g = frame.groupby(list(by), sort=True)
    out = g[["agree", "adjusted", "rejected"]].mean().add_suffix("_rate")
    out.insert(0, "decided", g.size())
    out["override_rate"] = out["adjusted_rate"] + out["rejected_rate"]
    return out.reset_index()[columns]
