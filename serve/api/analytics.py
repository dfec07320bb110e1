"""Agreement and override rates of human verdicts, for analysts (issue 5, item 3)."""

from __future__ import annotations

from fastapi import APIRouter

from risk.review import ReviewState, verdict_rates
from risk.scopes import Action
from serve.api.access import check
from serve.api.deps import CurrentUser, SessionDep
from serve.api.schemas import ReviewStats, VerdictRow
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
