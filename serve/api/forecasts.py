"""Ranked grids and one grid's story, for the people who watch risk (commander, analyst).

* Analysts and admins (``view_forecasts``) rank every forecast of the latest complete run.
* Commanders (``view_ranked`` only) rank **approved** warnings — approved, dispatched or
  completed review items — never raw forecasts: no forecast reaches them unreviewed.
Both are limited to the caller's scope. What a grid's page shows depends on the role the same
way (`GRID_VIEWS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from risk.review import ReviewState
from risk.scopes import Action, allowed
from serve.api.access import check, readable_grid
from serve.api.deps import CurrentUser, SessionDep
from serve.api.schemas import (
    GridDetail,
    GridOut,
    HistoryPoint,
    Ident,
    Level,
    RankedPage,
    RankedRow,
    ReviewItemOut,
)
from serve.repo.reviews import list_items
from serve.repo.runs import grid_history, latest_run, run_forecasts
from serve.repo.users import User

router = APIRouter(tags=["forecasts"])

APPROVED = (ReviewState.APPROVED, ReviewState.DISPATCHED, ReviewState.COMPLETED)
Filter = Annotated[list[Ident] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@dataclass(frozen=True)
class GridView:
    """What one role sees of a grid: its forecasts or not, and review items in which states."""

    action: Action
    forecasts: bool
    states: tuple[ReviewState, ...] | None  # None: every state


GRID_VIEWS = (
    GridView(Action.VIEW_FORECASTS, True, None),  # analyst, admin
    GridView(Action.VIEW_QUEUE, True, None),  # reviewer
    GridView(Action.VIEW_RANKED, False, APPROVED),  # commander
    GridView(Action.VIEW_PATROLS, False, APPROVED),  # grid worker (own grids)
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
    user: CurrentUser,
    session: SessionDep,
    street: Filter = None,
    community: Filter = None,
    target: Annotated[
        list[Ident] | None, Query(description="target: 'any' or an event category")
    ] = None,
    level: Annotated[list[Level] | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RankedPage:
    """Grids ranked by risk (level, then probability), in the caller's scope."""
    check(user, Action.VIEW_RANKED)
    filters = {"target": target, "level": level, "street": street, "community": community}
    page = {"limit": limit, "offset": offset}
    if not allowed(user.role, Action.VIEW_FORECASTS):
        states = [s.value for s in APPROVED]
        items, total = list_items(session, state=states, scope=user.scope, **filters, **page)
        rows = [
            RankedRow(
                **{k: getattr(i, k) for k in ("grid_id", "target", "level", "prob", "item_id")},
                expected_count=i.expected_count,
                reasons=list(i.reasons),
                state=i.state.value,
                window_start=i.window_start,
                window_end=i.window_end,
            )
            for i in items
        ]
        return RankedPage(source="approved_warnings", total=total, items=rows, **page)
    run = latest_run(session)
    if run is None:
        return RankedPage(source="forecasts", total=0, items=[], **page)
    frame, total = run_forecasts(session, run.run_id, scope=user.scope, **filters, **page)
    rows = [
        RankedRow(**{**r, "expected_count": _finite(r["expected_count"])})
        for r in frame.drop(columns="run_id").to_dict("records")
    ]
    return RankedPage(
        source="forecasts",
        run_id=run.run_id,
        issue_time=run.issue_time,
        total=total,
        items=rows,
        **page,
    )


@router.get("/grids/{grid_id}", response_model=GridDetail)
def grid_detail(
    grid_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")],
    user: CurrentUser,
    session: SessionDep,
    history_limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> GridDetail:
    """A grid's risk history, latest reasons and review history — what the role may see."""
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
    )
