"""What grid workers report from the field, as events of the data contract (issue 16, item 2).

Two ways an event comes from a worker:

* **a worker's own report** (``source = grid_worker``): a category, a time (default now), one
  of their own grids, an optional note;
* **a patrol that found an issue** (``source = patrol``): the report's grid and time; the
  category the worker chose, else that of the warnings the patrol answered, else ``other``
  (`finding_category`).

The rules here are pure; `serve.field_reports` stores the events through the one contract
validation (`serve.intake`).

* **Categories** a worker may choose: `reportable_categories` — the contract's usual six
  (DESIGN §1, `STANDARD_CATEGORIES`), every category the current forecast has a target for
  (a city's own vocabulary, say Chicago's, as soon as it is forecast), and ``other``.
* **Times** (`event_time`): not after now by more than a phone's clock skew and not older than
  30 days, as patrol reports (`risk.patrol.check_report_time`); a time in the allowed skew
  ahead of now is taken as now (an event cannot be known before it happened).
* **Ids** (`worker_event_id`, `patrol_event_id`): the device makes a client id once and sends
  it again on every retry; the event id is the source and that id, so a resend names the same
  event and the two sources never collide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from risk.contract import ANY_TARGET, normalise_category
from risk.errors import ContractError
from risk.levels import level_rank
from risk.patrol import check_report_time

# The event kinds DESIGN §1 names (disputes, thefts, fire hazards, safety hazards, fraud,
# petitions), offered to every worker whatever the model forecasts.
STANDARD_CATEGORIES = ("dispute", "theft", "fire_hazard", "safety_hazard", "fraud", "petition")
# Anything else a worker sees, and the issue a patrol found when nobody said what it was.
OTHER_CATEGORY = "other"
WORKER_SOURCE = "grid_worker"
PATROL_SOURCE = "patrol"
EVENT_ID_MAX = 200  # the event store's id column


def reportable_categories(forecast_targets: Iterable[str] = ()) -> tuple[str, ...]:
    """`STANDARD_CATEGORIES`, then the forecast's other category targets (sorted; `any` is a
    target, not a category), then `OTHER_CATEGORY`."""
    known = {*STANDARD_CATEGORIES, OTHER_CATEGORY, ANY_TARGET, ""}
    extra = {normalise_category(str(t)) for t in forecast_targets} - known
    return (*STANDARD_CATEGORIES, *sorted(extra), OTHER_CATEGORY)


def check_category(category: str, allowed: Sequence[str], field: str = "category") -> str:
    """``category`` normalised (`risk.contract.normalise_category`) if it is one of ``allowed``;
    `ContractError` on ``field`` otherwise, listing the choices."""
    token = normalise_category(category)
    if token not in allowed:
        raise ContractError(
            "not a category a worker may report",
            field=field,
            value=category,
            fix=f"choose one of {', '.join(allowed)}",
        )
    return token


def event_time(at: datetime, now: datetime, field: str = "occurred_at") -> datetime:
    """When the event happened: ``at`` checked like a patrol report's time
    (`risk.patrol.check_report_time`, on ``field``), and no later than ``now``."""
    check_report_time(at, now, field=field)
    return min(at, now)


def finding_category(
    chosen: str | None,
    warnings: Sequence[tuple[str, str, float]],
    allowed: Sequence[str],
) -> str:
    """The category of the event a patrol's "found an issue" becomes.

    ``chosen`` (the worker's pick, optional) wins, checked against ``allowed``. Otherwise the
    lead warning's target among ``warnings`` — (target, level, prob) of the warnings the patrol
    answered — highest level, then probability, skipping `any`. When every warning is for
    `any` (or there is none) the kind of issue was not said: `OTHER_CATEGORY`. It still counts
    towards `any`, as it should; the forecast's most likely category is never filled in, since
    that would write the model's own opinion into the data it learns from."""
    if chosen is not None and chosen.strip():
        return check_category(chosen, allowed)
    ranked = sorted(
        ((t, lv, p) for t, lv, p in warnings if t != ANY_TARGET),
        key=lambda w: (-level_rank(w[1]), -w[2], w[0]),
    )
    return normalise_category(ranked[0][0]) if ranked else OTHER_CATEGORY


def _event_id(source: str, client_id: str) -> str:
    """``<source>:<client id>``; a client id too long for that (`EVENT_ID_MAX`) is replaced
    by ``h`` + 40 hex digits of its SHA-256 (the same id on every retry)."""
    text = f"{source}:{client_id}"
    if len(text) <= EVENT_ID_MAX:
        return text
    return f"{source}:h{hashlib.sha256(client_id.encode('utf-8')).hexdigest()[:40]}"


def worker_event_id(client_event_id: str) -> str:
    """The event id of a worker's own report made on the device as ``client_event_id``."""
    return _event_id(WORKER_SOURCE, client_event_id)


def patrol_event_id(client_report_id: str) -> str:
    """The event id of the issue a patrol report (``client_report_id``) found."""
    return _event_id(PATROL_SOURCE, client_report_id)


__all__ = [
    "EVENT_ID_MAX",
    "OTHER_CATEGORY",
    "PATROL_SOURCE",
    "STANDARD_CATEGORIES",
    "WORKER_SOURCE",
    "check_category",
    "event_time",
    "finding_category",
    "patrol_event_id",
    "reportable_categories",
    "worker_event_id",
]
