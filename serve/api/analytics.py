"""Agreement and override rates of human verdicts (issue 5, item 3) and the live accuracy of
warnings per model version and level (issue 15, item 2), for analysts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from risk.review import ReviewState, verdict_rates
from risk.scopes import Action
from serve.api.access import check
from serve.api.dashboard import live_accuracy
from serve.api.deps import CurrentUser, Now, SessionDep
from serve.api.schemas import LiveAccuracy, LiveAccuracyRow, ReviewStats, VerdictRow
from serve.repo.reviews import list_items

router = APIRouter(tags=["analytics"])

DECIDED = [
    s.value
    for s in (
        ReviewState.APPROVED,
        ReviewState.DISPATCHED,
        ReviewState.COMPLETED,
        ReviewState.REJECTED,
    )
]


@router.get("/review/stats", response_model=ReviewStats)
def review_stats(user: CurrentUser, session: SessionDep) -> ReviewStats:
    """Per reviewer and per model version: decided items and agree/adjusted/rejected shares."""
    check(user, Action.VIEW_REVIEW_STATS)
    items, _ = list_items(session, state=DECIDED, scope=user.scope, limit=None)

    def rows(by: str) -> list[VerdictRow]:
        frame = verdict_rates(items, by=(by,)).rename(columns={by: "key"})
        return [VerdictRow(**r) for r in frame.to_dict("records")]

    return ReviewStats(by_reviewer=rows("reviewed_by"), by_model_version=rows("model_version"))


@router.get("/review/live-accuracy", response_model=LiveAccuracy)
def live_accuracy_page(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    days: Annotated[int, Query(ge=1, le=366, description="windows closed in the last days")] = 28,
) -> LiveAccuracy:
    """Per model version and model level: warnings whose window closed in the last ``days``
    days and the share that came true (an event of the target in the window)."""
    check(user, Action.VIEW_REVIEW_STATS)
    rows = [
        LiveAccuracyRow(
            model_version=r.model_version,
            level=r.level,
            n=r.n,
            came_true=r.came_true,
            precision=r.precision,
        )
        for r in live_accuracy(session, user, now, days)
    ]
    return LiveAccuracy(days=days, rows=rows)
