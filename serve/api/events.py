"""Events posted by the city's systems into the event store (issue 16, item 1).

``POST /api/v1/events`` takes a batch of events (DESIGN §3) and answers, per event in the order
sent, what became of it (`serve.intake`): ``stored``, ``duplicate`` (repeats an earlier entry of
the batch, or an event already stored with the same values: a retry is harmless),
``conflict`` (the event_id is stored with other values; the stored event is kept and the
differing fields are named) or ``rejected`` (the contract reason and the fields it is about).
A bad value rejects its own event, never the batch.

* Only an ``integration`` account may post (`risk.scopes.Action.POST_EVENTS`): any other role
  gets 403. An event in a grid outside the account's scope is rejected exactly like one in a
  grid that does not exist (``unknown_grid_id`` / ``outside_all_grids``).
* A batch holds at most ``Settings.events_batch_max`` events (default 1,000): more is a 422
  naming ``events``; a body over `events_body_bytes` is a 413 before it is read.
* Events are placed in the grids the service database holds (stored by the scoring runs), or
  the city's grids file (``RISK_CITY_GRIDS``) before the first run; with neither, 409.
* The batch's events and its ONE audit entry (actor the account, object ``event_batch/<id>``,
  the counts) are committed together.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from risk.errors import ContractError
from risk.scopes import Action, ScopeKind
from serve.api.access import check
from serve.api.body_limit import BULK_MAX_BODY_BYTES
from serve.api.deps import CurrentUser, Now, SessionDep, SettingsDep
from serve.api.errors import Conflict, FieldError
from serve.api.schemas import EventFieldOut, EventResultOut, EventsIn, EventsOut
from serve.intake import ingest, known_grids, raw_frame, row_messages

router = APIRouter(prefix="/events", tags=["events"])

EVENT_BYTES = 1024  # generous JSON size of one event (the body cap grows with the batch size)


def events_body_bytes(batch_max: int) -> int:
    """The byte cap of a ``POST /events`` body for batches of ``batch_max`` events."""
    return max(BULK_MAX_BODY_BYTES, batch_max * EVENT_BYTES)


def _message(row: dict[str, Any], pairs: list[tuple[str, str]]) -> str:
    status = row["status"]
    if status == "duplicate":
        detail = str(row["detail"]) if isinstance(row["detail"], str) else ""
        if detail.startswith("same as row "):
            return f"same as entry {int(detail.removeprefix('same as row ')) - 1} of this batch"
        return "already stored with the same values (nothing changed)"
    if status == "conflict":
        return (
            f"event_id {row['event_id']!r} is stored with another {', '.join(row['fields'])}; "
            "the stored event is kept (a new event needs a new event_id)"
        )
    if status == "rejected" and pairs:
        return pairs[0][1]
    return ""


@router.post("", response_model=EventsOut)
def post_events(
    body: EventsIn, user: CurrentUser, session: SessionDep, settings: SettingsDep, now: Now
) -> EventsOut:
    """Validate and store a batch of events; one result per event (module docstring)."""
    check(user, Action.POST_EVENTS)
    limit = settings.events_batch_max
    if len(body.events) > limit:
        raise FieldError(
            "events",
            f"{len(body.events):,} events in one request; at most {limit:,} are taken: "
            "split the batch",
        )
    try:
        grids, _ = known_grids(session, fallback_file=settings.city_grids)
    except ContractError as exc:
        raise Conflict(str(exc)) from None
    allowed = None
    if user.scope.kind is not ScopeKind.CITY:
        allowed = set(grids["grid_id"].astype(str)[user.scope.mask(grids)])
    raw = raw_frame([e.model_dump() for e in body.events])
    intake = ingest(
        session,
        raw,
        grids,
        actor=user.username,
        action="events.post",
        now=now,
        tz=settings.tz,
        file="request",
        allowed_grids=allowed,
        audit_extra={"via": "api"},
    )
    session.commit()
    results = []
    for index, row in enumerate(intake.rows.to_dict("records")):
        pairs = row_messages(row)
        reason = row["reason"] if isinstance(row["reason"], str) else None
        results.append(
            EventResultOut(
                index=index,
                event_id=row["event_id"],
                status=row["status"],
                reason=reason,
                message=_message(row, pairs),
                fields=[EventFieldOut(field=f, message=m) for f, m in pairs],
            )
        )
    c = intake.counts()
    return EventsOut(
        batch=intake.batch,
        received=c["read"],
        stored=c["stored"],
        duplicates=c["duplicates"],
        conflicts=c["conflicts"],
        rejected=c["quarantined"],
        adjusted=dict(intake.adjusted),
        results=results,
    )


__all__ = ["EVENT_BYTES", "events_body_bytes", "router"]
