"""Events grid workers report from their phones (issue 16, item 2).

``POST /api/v1/worker/events`` stores one event a worker saw in one of their own grids, with
``source = grid_worker`` (`serve.field_reports.report_event`: the contract's validation, the
event store and one audit entry per event, as a posted batch of one).

* Only a grid worker may report (`risk.scopes.Action.REPORT_EVENT`); a grid outside their
  scope is "not found" (404), exactly like a grid that does not exist.
* ``category``: one of the categories `GET /patrols/today` lists (`serve.field_reports.
  reportable`), else 422 on ``category``. ``occurred_at`` defaults to now; more than 5 minutes
  ahead or more than 30 days ago is a 422 on ``occurred_at`` (as patrol reports).
  ``reported_at`` is the server's time.
* Idempotent on ``client_event_id`` (the phone's offline queue may send twice): a resend
  answers 200 with the event stored first and changes nothing; the same id with another grid
  or category is a 409 (make a new id on the device).
* The note is sealed at rest and returned to its writer only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from risk.contract import normalise_category
from risk.field_reports import WORKER_SOURCE, check_category, event_time
from risk.scopes import Action
from serve.api.access import check
from serve.api.deps import CurrentUser, Now, SessionDep, SettingsDep
from serve.api.errors import Conflict, NotFound
from serve.api.schemas import WorkerEventIn, WorkerEventOut
from serve.field_reports import report_event, reportable, stored_worker_event
from serve.repo.grids import get_grid

router = APIRouter(prefix="/worker", tags=["patrols"])


def _out(client_event_id: str, event: dict[str, Any], created: bool) -> WorkerEventOut:
    return WorkerEventOut(
        client_event_id=client_event_id,
        event_id=event["event_id"],
        grid_id=event["grid_id"],
        category=event["category"],
        source=event["source"],
        occurred_at=event["occurred_at"],
        reported_at=event["reported_at"],
        note=event["note"],
        created=created,
    )


@router.post(
    "/events",
    response_model=WorkerEventOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": WorkerEventOut, "description": "a retry: the event stored first"}},
)
def report(
    body: WorkerEventIn,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
) -> WorkerEventOut:
    """Store an event seen in one of the worker's own grids, once per client id (module doc)."""
    check(user, Action.REPORT_EVENT)
    grid = get_grid(session, body.grid_id)
    if grid is None or not user.scope.covers(grid):
        raise NotFound("grid", body.grid_id)
    before = stored_worker_event(session, body.client_event_id)
    if before is not None:
        same = before["source"] == WORKER_SOURCE and (before["grid_id"], before["category"]) == (
            body.grid_id,
            normalise_category(body.category),
        )
        if not same:
            raise Conflict(
                "this client_event_id belongs to another event; fix: make a new id on the device"
            )
        response.status_code = status.HTTP_200_OK
        return _out(body.client_event_id, before, created=False)
    category = check_category(body.category, reportable(session))
    occurred = event_time(body.occurred_at or now, now)
    stored = report_event(
        session,
        actor=user.username,
        client_event_id=body.client_event_id,
        grid=grid,
        category=category,
        occurred_at=occurred,
        note=body.note or None,
        now=now,
        tz=settings.tz,
    )
    session.commit()
    if not stored.created:  # the same resend raced this one and stored first
        response.status_code = status.HTTP_200_OK
    return _out(body.client_event_id, stored.event, stored.created)


__all__ = ["router"]
