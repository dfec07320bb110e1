"""Ranked grids and one grid's story, for the people who watch risk (commander, analyst).

* Analysts and admins (``view_forecasts``) rank every forecast of the latest complete run.
* Commanders (``view_ranked`` only) rank **approved** warnings — approved, dispatched or
  completed review items — never raw forecasts: no forecast reaches them unreviewed.
Both are limited to the caller's scope. What a grid's page shows depends on the role the same
way (`GRID_VIEWS`), and so do the field reports on it (issue 16, item 3): the patrol reports
and the events grid workers and patrols reported in the last `FIELD_DAYS` days. Analysts,
reviewers, commanders and admins read every report, its worker's username (as the review
history names people) and every note; a grid worker (API only) reads their own reports with
their notes and the events without notes — the event store keeps no author, so no note can be
shown as theirs. A note nobody may read here is never opened (`serve.repo.sealing`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from risk.field_reports import PATROL_SOURCE, WORKER_SOURCE
from risk.patrol import PatrolOutcome
from risk.review import ReviewState
from risk.scopes import Action, allowed
from serve.api.access import check, readable_grid
from serve.api.deps import CurrentUser, Now, SessionDep, SettingsDep
from serve.api.schemas import (
    DayCount,
    FieldEvent,
    FieldPatrolReport,
    GridDetail,
    GridOut,
    HistoryPoint,
    Ident,
    Level,
    RankedPage,
    RankedRow,
    ReviewItemOut,
)
from serve.cache import PageCache
from serve.repo import activity, audit
from serve.repo.events import field_events
from serve.repo.patrols import grid_reports
from serve.repo.reviews import list_items
from serve.repo.runs import grid_history, latest_run, previous_run, probs_of, run_forecasts
from serve.repo.users import User

router = APIRouter(tags=["forecasts"])

RECENT_DAYS = 28
FIELD_DAYS = 30  # patrol reports and field events on a grid's page
FIELD_LIMIT = 50  # of each
FIELD_SOURCES = (WORKER_SOURCE, PATROL_SOURCE)
APPROVED = (ReviewState.APPROVED, ReviewState.DISPATCHED, ReviewState.COMPLETED)
Filter = Annotated[list[Ident] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@dataclass(frozen=True)
class GridView:
    """What one role sees of a grid: its forecasts or not, review items in which states, and
    every field report with its note or only the caller's own (module doc)."""

    action: Action
    forecasts: bool
    states: tuple[ReviewState, ...] | None  # None: every state
    all_field_reports: bool = True


GRID_VIEWS = (
    GridView(Action.VIEW_FORECASTS, True, None),  # analyst, admin
    GridView(Action.VIEW_QUEUE, True, None),  # reviewer
    GridView(Action.VIEW_RANKED, False, APPROVED),  # commander
    GridView(Action.VIEW_PATROLS, False, APPROVED, False),  # grid worker (own grids)
)


def _view(user: User) -> GridView:
    for view in GRID_VIEWS:
        if allowed(user.role, view.action):
            return view
    return GRID_VIEWS[0]  # authorize() then refuses with the allowed roles


def _finite(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@router.get("/forecasts/ranked", response_model=RankedPage)
def ranked(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    street: Filter = None,
    community: Filter = None,
    target: Annotated[
        list[Ident] | None, Query(description="target: 'any' or an event category")
    ] = None,
    level: Annotated[list[Level] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Grids ranked by risk (level, then probability), in the caller's scope.

    Commanders get approved warnings whose window is still open; analysts and admins the
    latest complete run. ``prev_prob``: the same grid and target in the run before. Pages are
    cached until the next audited change (`serve.cache`)."""
    check(user, Action.VIEW_RANKED)
    filters = {"target": target, "level": level, "street": street, "community": community}
    page = {"limit": limit, "offset": offset}
    forecasts = allowed(user.role, Action.VIEW_FORECASTS)
    cache: PageCache = request.app.state.page_cache
    key = (
        "ranked",
        forecasts,
        user.scope.kind.value,
        tuple(sorted(user.scope.values)),
        *(tuple(sorted(v)) if v else None for v in filters.values()),
        limit,
        offset,
    )
    generation = audit.generation(session)
    body = cache.get(key, generation, now)
    if body is None:
        result, until = (_ranked_forecasts if forecasts else _ranked_warnings)(
            session, user, now, filters, page
        )
        body = result.model_dump_json().encode()
        cache.put(key, generation, now, body, until)
    return Response(content=body, media_type="application/json")


def _with_prev(session: Session, rows: list[RankedRow], run_ids: list[str | None]) -> None:
    """Fill ``prev_prob`` from the run before each row's run (one query per distinct run)."""
    for run_id in {r for r in run_ids if r}:
        before = previous_run(session, run_id)
        if before is None:
            continue
        mine = [row for row, r in zip(rows, run_ids, strict=True) if r == run_id]
        probs = probs_of(session, before.run_id, {(r.grid_id, r.target) for r in mine})
        for row in mine:
            row.prev_prob = probs.get((row.grid_id, row.target))


def _ranked_warnings(
    session: Session, user: User, now: datetime, filters: dict[str, Any], page: dict[str, int]
) -> tuple[RankedPage, datetime | None]:
    states = [s.value for s in APPROVED]
    items, total = list_items(
        session,
        state=states,
        scope=user.scope,
        window_open_at=now,
        by_risk=True,
        newest_only=True,
        **filters,
        **page,
    )
    rows = [
        RankedRow(
            **{k: getattr(i, k) for k in ("grid_id", "target", "level", "prob", "item_id")},
            expected_count=i.expected_count,
            reasons=list(i.reasons),
            state=i.state.value,
            version=i.version,
            window_start=i.window_start,
            window_end=i.window_end,
        )
        for i in items
    ]
    _with_prev(session, rows, [i.run_id for i in items])
    until = min((i.window_end for i in items), default=None)
    return RankedPage(source="approved_warnings", total=total, items=rows, **page), until


def _ranked_forecasts(
    session: Session, user: User, now: datetime, filters: dict[str, Any], page: dict[str, int]
) -> tuple[RankedPage, datetime | None]:
    run = latest_run(session)
    if run is None:
        return RankedPage(source="forecasts", total=0, items=[], **page), None
    frame, total = run_forecasts(session, run.run_id, scope=user.scope, **filters, **page)
    rows = [
        RankedRow(**{**r, "expected_count": _finite(r["expected_count"])})
        for r in frame.drop(columns="run_id").to_dict("records")
    ]
    _with_prev(session, rows, [run.run_id] * len(rows))
    result = RankedPage(
        source="forecasts",
        run_id=run.run_id,
        issue_time=run.issue_time,
        total=total,
        items=rows,
        **page,
    )
    return result, None


@router.get("/grids/{grid_id}", response_model=GridDetail)
def grid_detail(
    grid_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    history_limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> GridDetail:
    """A grid's risk history, latest reasons, review history, the events of the last
    `RECENT_DAYS` days known to the latest run (counts per day and category), and the field
    reports of the last `FIELD_DAYS` days (module doc) — what the role may see."""
    view = _view(user)
    grid = readable_grid(session, user, view.action, grid_id)
    history: list[HistoryPoint] = []
    if view.forecasts:
        history = [
            HistoryPoint(**{**h, "expected_count": _finite(h["expected_count"])})
            for h in grid_history(session, grid_id, history_limit)
        ]
    latest = [h for h in history if h.run_id == history[0].run_id] if history else []
    states = None if view.states is None else [s.value for s in view.states]
    items, _ = list_items(session, grid_ids=[grid_id], state=states, limit=100)
    return GridDetail(
        grid=GridOut(**grid),
        latest=latest,
        history=history,
        reviews=[ReviewItemOut.of(i) for i in items],
        recent_events=_recent_events(session, grid_id, settings.tz, now),
        **_field_reports(session, user, view, grid_id, now),
    )


def _field_reports(
    session: Session, user: User, view: GridView, grid_id: str, now: datetime
) -> dict[str, Any]:
    """``patrol_reports`` and ``field_events`` of the grid's page (module doc)."""
    since = now - timedelta(days=FIELD_DAYS)
    everyone = view.all_field_reports
    reports = grid_reports(
        session,
        grid_id,
        since=since,
        limit=FIELD_LIMIT,
        worker=None if everyone else user.username,
    )
    events = field_events(
        session, grid_id, sources=FIELD_SOURCES, since=since, limit=FIELD_LIMIT,
        with_notes=everyone,
    )  # fmt: skip
    return {
        "patrol_reports": [
            FieldPatrolReport(
                at=r.report.at,
                outcome=PatrolOutcome(r.report.outcome).value,
                worker=r.report.worker_id,
                note=r.report.note,
            )
            for r in reports
        ],
        "field_events": [
            FieldEvent(**{k: e[k] for k in ("occurred_at", "category", "source", "note")})
            for e in events
        ],
    }


def _recent_events(session: Session, grid_id: str, tz: str, now: datetime) -> list[DayCount]:
    run = latest_run(session)
    end = now if run is None else min(now, run.issue_time)
    since = end - timedelta(days=RECENT_DAYS)
    return [DayCount(**d) for d in activity.daily_counts(session, grid_id, since, tz)]
