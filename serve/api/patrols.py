"""Patrol suggestions and reports, for grid workers (issue 5, item 4).

Suggestions come only from approved (or dispatched, not yet completed) warnings whose window
is still open, planned by `risk.patrol.plan_patrols` within the daily capacity. A worker gets
their own grids only; a commander or admin sees the plan of every active grid worker, limited
to their own scope.
Reports are idempotent on ``client_report_id``: a retry returns the stored report (200).
Each report is a visit of patrol exposure, and a ``found_issue`` an event with
``source = patrol`` in the category the worker chose, else the answered warnings' category,
else ``other`` (`serve.field_reports.record_patrol`, `risk.field_reports.finding_category`);
a retry adds neither again.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from risk.field_reports import finding_category
from risk.patrol import PatrolOutcome, plan_patrols, record_outcome, warnings_frame
from risk.review import ReviewItem, ReviewState
from risk.scopes import Action, Role
from serve.api.access import check
from serve.api.deps import CurrentUser, Now, SessionDep, SettingsDep
from serve.api.errors import Conflict, FieldError, NotFound
from serve.api.schemas import PatrolsToday, ReportedToday, ReportIn, ReportOut, Suggestion
from serve.field_reports import record_patrol, reportable, warnings_of
from serve.repo import activity, audit
from serve.repo.grids import get_grid, load_grids
from serve.repo.patrols import reports_for
from serve.repo.reviews import get_items, list_items
from serve.repo.users import list_users

router = APIRouter(prefix="/patrols", tags=["patrols"])


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _profiles(
    session: Session, items: list[ReviewItem], grids: pd.DataFrame
) -> dict[str, np.ndarray]:
    """target → (len(grids), 24) stored hour profiles of the warned grids (zeros elsewhere)."""
    stored = activity.hour_profiles_of(session, {(i.grid_id, i.target) for i in items})
    pos = pd.Series(np.arange(len(grids)), index=grids["grid_id"].astype(str))
    out: dict[str, np.ndarray] = {}
    for (grid_id, target), profile in stored.items():
        if grid_id in pos.index and profile.shape == (24,):
            out.setdefault(target, np.zeros((len(grids), 24)))[pos[grid_id]] = profile
    return out


@router.get("/today", response_model=PatrolsToday)
def today(user: CurrentUser, session: SessionDep, settings: SettingsDep, now: Now) -> PatrolsToday:
    """Today's visits, in each worker's visiting order, with window, reasons and actions, and
    the categories a worker may report an event in."""
    check(user, Action.VIEW_PATROLS)
    categories = list(reportable(session))
    date = pd.Timestamp(now).tz_convert(settings.tz).date().isoformat()
    grids = load_grids(session)
    known = set(grids["grid_id"])
    # approved warnings, and those a commander has dispatched (sent out) but not completed
    items, _ = list_items(
        session,
        state=[ReviewState.APPROVED.value, ReviewState.DISPATCHED.value],
        scope=user.scope,
        window_open_at=now,
        newest_only=True,
        limit=None,
    )
    live = [i for i in items if i.window_end > now and i.grid_id in known]
    if user.role is Role.GRID_WORKER:
        workers = {user.username: user.scope}
    else:
        workers = {
            u.username: u.scope
            for u in list_users(session, include_disabled=False)
            if u.role is Role.GRID_WORKER
        }
    if not live or not workers:
        _, waiting = list_items(
            session,
            state=[ReviewState.PENDING.value, ReviewState.ESCALATED.value],
            scope=user.scope,
            window_open_at=now,
            limit=0,
        )
        return PatrolsToday(
            date=date, suggestions=[], waiting_review=waiting, categories=categories
        )
    grids[["centroid_lon", "centroid_lat"]] = (
        grids[["centroid_lon", "centroid_lat"]].astype(float).fillna(0.0)
    )
    plan = plan_patrols(
        warnings_frame(live), grids, workers, hour_profiles=_profiles(session, live, grids)
    )
    rows = [{k: _plain(v) for k, v in r.items()} for r in plan.to_dict("records")]
    reported = _reported_today(session, now, settings.tz)
    for row in rows:
        row["reported"] = reported.get((row["worker_id"], row["grid_id"]))
    return PatrolsToday(
        date=date, suggestions=[Suggestion(**r) for r in rows], categories=categories
    )


def _reported_today(session: Session, now: datetime, tz: str) -> dict[tuple[str, str], Any]:
    """(worker, grid) -> the latest report stored since the start of the city's day, so a
    worker's list shows what the server has, whichever phone sent it."""
    start = pd.Timestamp(now).tz_convert(tz).normalize().tz_convert("UTC").to_pydatetime()
    latest: dict[tuple[str, str], Any] = {}
    for stored in reports_for(session, since=start):  # oldest first: the last one wins
        r = stored.report
        latest[(r.worker_id, r.grid_id)] = ReportedToday(
            outcome=PatrolOutcome(r.outcome).value, at=r.at, note=r.note
        )
    return latest


def _items_of_grid(session: Session, item_ids: list[str], grid_id: str) -> list[str]:
    """``item_ids`` without repeats, if each names a review item of ``grid_id``; else a 422
    listing the others (missing and other grids' ids alike: nothing about them is revealed)."""
    ids = list(dict.fromkeys(item_ids))
    grid_of_item = {i.item_id: i.grid_id for i in get_items(session, ids)}
    wrong = [i for i in ids if grid_of_item.get(i) != grid_id]
    if wrong:
        raise FieldError(
            "item_ids",
            f"no warning of grid {grid_id} has the id(s) {', '.join(map(repr, wrong))}; "
            "send only the item_ids of this grid's patrol suggestion",
        )
    return ids


@router.post(
    "/reports",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ReportOut, "description": "a retry: the report stored first"}},
)
def report(
    body: ReportIn,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
) -> ReportOut:
    """Record what a patrol found on one of the worker's own grids (once per client id).

    A grid outside the worker's scope is "not found", like a missing one; ``item_ids`` must
    name warnings of the report's grid; ``at`` must lie in the last 30 days (`check_report_time`).
    The report is a visit (patrol exposure); ``found_issue`` also an event (module doc), whose
    ``category`` is one of `GET /patrols/today`'s categories (only found_issue takes one).
    """
    check(user, Action.REPORT_OUTCOME)
    grid = get_grid(session, body.grid_id)
    if grid is None or not user.scope.covers(grid):
        raise NotFound("grid", body.grid_id)
    item_ids = _items_of_grid(session, body.item_ids, body.grid_id)
    outcome = record_outcome(
        user.username, user.scope, grid, body.outcome, body.at or now, body.note, item_ids, now=now
    )
    category = None
    if outcome.outcome is PatrolOutcome.FOUND_ISSUE:
        answered = warnings_of(get_items(session, item_ids))
        category = finding_category(body.category, answered, reportable(session))
    elif body.category is not None:
        raise FieldError("category", "only a found_issue report takes a category; leave it out")
    record = record_patrol(
        session,
        outcome,
        body.client_report_id,
        role=user.role.value,
        category=category,
        now=now,
        tz=settings.tz,
    )
    stored, created = record.stored, record.created
    if not created and stored.report.worker_id != user.username:
        raise Conflict(
            "this client_report_id belongs to another report; fix: make a new id on the device"
        )
    if created:
        after = {
            "grid_id": grid["grid_id"],
            "outcome": outcome.outcome.value,
            "item_ids": list(outcome.item_ids),
        }
        if record.event_id is not None:
            after["event_id"] = record.event_id
        audit.append(
            session,
            user.username,
            "patrol_report",
            "patrol_report",
            body.client_report_id,
            after=after,
            at=now,
        )
        session.commit()
    else:
        response.status_code = status.HTTP_200_OK
    r = stored.report
    return ReportOut(
        client_report_id=stored.client_report_id,
        worker=r.worker_id,
        grid_id=r.grid_id,
        outcome=r.outcome.value,
        note=r.note,
        item_ids=list(r.item_ids),
        reported_at=r.at,
        received_at=stored.received_at,
        created=created,
        event_id=record.event_id,
    )
