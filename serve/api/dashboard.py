"""The commander's screen: the risk map and the KPI tiles (issue 6), the street and community
outlines and the street → community → grid roll-up (issue 16), scope-filtered.

What a role sees on the map follows the rest of the API: analysts and admins the latest
run's forecasts, commanders approved warnings whose window is open, reviewers the warnings
waiting for review. A grid with nothing to show has ``level: null``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from risk.accuracy import LevelAccuracy, accuracy_by_level, closed_windows
from risk.levels import LEVELS
from risk.review import ReviewItem, ReviewState
from risk.rollup import KEY, PARENT, Level, RollupRow, rollup, total
from risk.scopes import Action, allowed
from risk.service_levels import service_levels
from serve.api.access import check
from serve.api.deps import CurrentUser, Now, SessionDep, SettingsDep
from serve.api.errors import FieldError, NotFound
from serve.api.schemas import (
    Ident,
    Kpis,
    LastRun,
    MapFeature,
    Outlines,
    RiskMap,
    Rollup,
    RollupRowOut,
)
from serve.outlines import outlines
from serve.repo import activity
from serve.repo.grids import load_grids, load_places
from serve.repo.reviews import list_items
from serve.repo.runs import latest_run, run_forecasts
from serve.repo.users import User

router = APIRouter(tags=["dashboard"])

APPROVED = [ReviewState.APPROVED.value, ReviewState.DISPATCHED.value]
WAITING = [ReviewState.PENDING.value, ReviewState.ESCALATED.value]
DONE = [*APPROVED, ReviewState.COMPLETED.value]
RANK = {name: i for i, name in enumerate(LEVELS)}
HIT_DAYS = 7
RED_DAYS = 28  # the commander's "red warnings came true" tile
SERVICE_DAYS = 7  # response and completion rates over warnings queued in the last week
# Every warning a person saw through to the end of its window (undecided ones expire).
JUDGED = [*DONE, ReviewState.REJECTED.value, ReviewState.EXPIRED.value]


def _worst(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per grid, the row with the highest level, then the highest probability."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        old = best.get(row["grid_id"])
        if old is None or (RANK[row["level"]], row["prob"]) > (RANK[old["level"]], old["prob"]):
            best[row["grid_id"]] = row
    return best


def _item_rows(items: list[ReviewItem]) -> list[dict[str, Any]]:
    return [
        {
            "grid_id": i.grid_id,
            "target": i.target,
            "level": i.level,
            "prob": i.prob,
            "item_id": i.item_id,
            "state": i.state.value,
        }
        for i in items
        if i.level in RANK
    ]


def _check_map(user: User) -> None:
    if not (allowed(user.role, Action.VIEW_RANKED) or allowed(user.role, Action.VIEW_QUEUE)):
        check(user, Action.VIEW_RANKED)  # raises Forbidden naming the allowed roles


@router.get("/map", response_model=RiskMap)
def risk_map(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    target: Annotated[
        Ident | None, Query(description="'any' or a category; all if left out")
    ] = None,
) -> RiskMap:
    """Every grid in the caller's scope as GeoJSON, with the level the caller may see."""
    _check_map(user)
    grids = load_grids(session)
    grids = grids[user.scope.mask(grids)]
    run = None
    if allowed(user.role, Action.VIEW_FORECASTS):
        source = "forecasts"
        run = latest_run(session)
        rows: list[dict[str, Any]] = []
        if run is not None:
            frame, _ = run_forecasts(session, run.run_id, target=target, scope=user.scope)
            rows = frame[["grid_id", "target", "level", "prob"]].to_dict("records")
    else:
        source = "approved_warnings" if allowed(user.role, Action.VIEW_RANKED) else "review_queue"
        states = APPROVED if source == "approved_warnings" else WAITING
        items, _ = list_items(
            session,
            state=states,
            target=target,
            scope=user.scope,
            window_open_at=now,
            newest_only=True,
            limit=None,
        )
        rows = _item_rows(items)
    worst = _worst(rows)
    features = []
    for grid in grids.to_dict("records"):
        shown = worst.get(grid["grid_id"], {})
        geometry = json.loads(grid["geometry"]) if grid.get("geometry") else None
        features.append(
            MapFeature(
                geometry=geometry,
                properties={
                    "grid_id": grid["grid_id"],
                    "community_id": grid["community_id"],
                    "street_id": grid["street_id"],
                    "level": shown.get("level"),
                    "prob": shown.get("prob"),
                    "target": shown.get("target"),
                    "item_id": shown.get("item_id"),
                    "state": shown.get("state"),
                },
            )
        )
    return RiskMap(
        source=source,
        run_id=None if run is None else run.run_id,
        issue_time=None if run is None else run.issue_time,
        features=features,
    )


@router.get("/map/outlines", response_model=Outlines)
def map_outlines(user: CurrentUser, session: SessionDep) -> Outlines:
    """The caller's grids dissolved by street and by community (`serve.outlines`, cached): the
    map draws them as outlines over the grids. Only grids in scope make an outline."""
    _check_map(user)
    grids = load_grids(session)
    shapes = outlines(grids[user.scope.mask(grids)])
    return Outlines(
        streets=[MapFeature(**f) for f in shapes["streets"]],
        communities=[MapFeature(**f) for f in shapes["communities"]],
    )


def live_accuracy(session: Session, user: User, now: datetime, days: int) -> list[LevelAccuracy]:
    """Warnings in the caller's scope whose window closed in the last ``days`` days, per model
    version and model level, and how many came true (`risk.accuracy`)."""
    known_until = activity.counts_known_until(session)
    if known_until is None:
        return []
    items, _ = list_items(session, state=JUDGED, scope=user.scope, limit=None)
    closed = closed_windows(items, now, days, known_until + timedelta(hours=1))
    hits = activity.window_hits(
        session, [(i.grid_id, i.target, i.window_start, i.window_end) for i in closed]
    )
    return accuracy_by_level(closed, hits)


def _hit_rate(session: Session, user: User, now: datetime) -> tuple[float | None, int]:
    """Share of approved warnings whose window closed in the last `HIT_DAYS` days (and
    before the events the latest run knew end) with at least one event of their target."""
    known_until = activity.counts_known_until(session)
    if known_until is None:
        return None, 0
    items, _ = list_items(session, state=DONE, scope=user.scope, limit=None)
    closed = [
        i
        for i in items
        if now - timedelta(days=HIT_DAYS) < i.window_end <= now
        and i.window_end <= known_until + timedelta(hours=1)
    ]
    if not closed:
        return None, 0
    hits = activity.window_hits(
        session, [(i.grid_id, i.target, i.window_start, i.window_end) for i in closed]
    )
    return sum(hits) / len(hits), len(hits)


def _row(r: RollupRow) -> RollupRowOut:
    return RollupRowOut(
        key=r.key,
        street_id=r.street_id,
        community_id=r.community_id,
        grids=r.grids,
        pending=r.pending,
        approved=r.approved,
        dispatched=r.dispatched,
        completed=r.completed,
        breaches=r.breaches,
        closed=r.closed,
        hits=r.hits,
        hit_rate=r.hit_rate,
    )


@router.get("/dashboard/rollup", response_model=Rollup)
def dashboard_rollup(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    level: Annotated[Level, Query(description="street, community or grid")] = Level.STREET,
    parent: Annotated[
        Ident | None,
        Query(description="a street id (level=community) or a community id (level=grid)"),
    ] = None,
    days: Annotated[int, Query(ge=1, le=90, description="the period, in days")] = SERVICE_DAYS,
) -> Rollup:
    """Per street, per community of a street or per grid of a community, in the caller's
    scope: warnings queued in the last ``days`` days by state, breaches of the response (2 h)
    and completion (24 h) targets, and the hit rate of approved warnings whose window closed
    in the period (`risk.rollup`). A parent outside the scope is 404, like a missing one."""
    check(user, Action.VIEW_RANKED)
    if parent is not None and level not in PARENT:
        raise FieldError("parent", "streets have no parent: leave parent out for level=street")
    grids = load_places(session)
    grids = grids[user.scope.mask(grids)]
    if parent is not None and not (grids[KEY[PARENT[level]]] == parent).any():
        raise NotFound(PARENT[level].value, parent)
    since = now - timedelta(days=days)
    items, _ = list_items(session, scope=user.scope, limit=None)
    closed: list[ReviewItem] = []
    hits: list[bool] = []
    known_until = activity.counts_known_until(session)
    if known_until is not None:
        done = [i for i in items if i.state.value in DONE]
        closed = closed_windows(done, now, days, known_until + timedelta(hours=1))
        hits = activity.window_hits(
            session, [(i.grid_id, i.target, i.window_start, i.window_end) for i in closed]
        )
    rows = rollup(grids, level, items, now, since, closed, hits, parent=parent)
    return Rollup(
        level=level.value,
        parent=parent,
        days=days,
        since=since,
        rows=[_row(r) for r in rows],
        total=_row(total(rows)),
    )


@router.get("/dashboard/kpis", response_model=Kpis)
def kpis(user: CurrentUser, session: SessionDep, settings: SettingsDep, now: Now) -> Kpis:
    """Counts for the commander's tiles, in the caller's scope."""
    check(user, Action.VIEW_RANKED)
    waiting, _ = list_items(
        session, state=WAITING, scope=user.scope, window_open_at=now, limit=None
    )
    target = timedelta(minutes=settings.response_target_minutes)
    _, approved_open = list_items(
        session, state=APPROVED, scope=user.scope, window_open_at=now, newest_only=True, limit=0
    )
    rate, n = _hit_rate(session, user, now)
    everything, _ = list_items(session, scope=user.scope, limit=None)
    levels = service_levels(everything, now, since=now - timedelta(days=SERVICE_DAYS))
    red = [r for r in live_accuracy(session, user, now, RED_DAYS) if r.level == "red"]
    red_n, red_true = sum(r.n for r in red), sum(r.came_true for r in red)
    run = latest_run(session)
    return Kpis(
        pending=len(waiting),
        escalated=sum(i.state is ReviewState.ESCALATED for i in waiting),
        sla_breaches=sum(i.created_at + target <= now for i in waiting),
        approved_open=approved_open,
        hit_rate_last_week=rate,
        hit_rate_n=n,
        red_came_true_4w=red_true / red_n if red_n else None,
        red_n_4w=red_n,
        response_2h_rate=levels.response_rate,
        timeout_rate=levels.timeout_rate,
        completion_24h_rate=levels.completion_rate,
        closure_rate=levels.closure_rate,
        service_days=SERVICE_DAYS,
        last_run=None
        if run is None
        else LastRun(run_id=run.run_id, issue_time=run.issue_time, model_version=run.model_version),
    )


__all__ = ["router"]
