"""Street → community → grid roll-up of the review loop for the commander (issue 16, item 3).

One row per street, per community of a street, or per grid of a community, over the grids
given (the caller passes only the grids in the actor's scope):

* ``pending`` / ``approved`` / ``dispatched`` / ``completed`` — warnings that entered the queue
  in ``[since, now)`` and are now in that state (``pending`` counts escalated ones too, both
  wait for a decision; rejected and expired warnings have no column);
* ``breaches`` — of those warnings, the ones that missed the response target (no human action
  within 2 h) or the completion target (approved but not completed within 24 h), judged as
  `risk.service_levels.judge` does; a warning that missed both counts once;
* ``hit_rate`` = ``hits / closed``: of the approved warnings (approved, dispatched or completed)
  whose window closed in the period (`risk.accuracy.closed_windows`), the share whose window
  saw at least one event of the warning's target — the outcomes are passed in, aligned with
  the closed warnings; None when none closed.

A warning counts under its grid's street and community. Warnings on grids not given are
ignored. Pure: frames and items in, rows out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pandas as pd

from risk.review import ReviewItem, ReviewState
from risk.service_levels import COMPLETION, RESPONSE, judge


class Level(StrEnum):
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


# The grids-frame column a level groups by, and the column its parent filters on.
KEY = {Level.STREET: "street_id", Level.COMMUNITY: "community_id", Level.GRID: "grid_id"}
PARENT = {Level.COMMUNITY: Level.STREET, Level.GRID: Level.COMMUNITY}

_S = ReviewState
COLUMN_OF_STATE = {
    _S.PENDING: "pending",
    _S.ESCALATED: "pending",
    _S.APPROVED: "approved",
    _S.DISPATCHED: "dispatched",
    _S.COMPLETED: "completed",
}


@dataclass(frozen=True)
class RollupRow:
    key: str  # the street, community or grid id
    street_id: str
    community_id: str | None  # None on street rows
    grids: int
    pending: int = 0
    approved: int = 0
    dispatched: int = 0
    completed: int = 0
    breaches: int = 0
    closed: int = 0  # approved warnings whose window closed in the period
    hits: int = 0  # ... with at least one event in the window

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.closed if self.closed else None


COUNTS = ("pending", "approved", "dispatched", "completed", "breaches", "closed", "hits")


def rollup(
    grids: pd.DataFrame,
    level: Level | str,
    items: Iterable[ReviewItem],
    now: datetime,
    since: datetime,
    closed: Sequence[ReviewItem] = (),
    came_true: Sequence[bool] = (),
    parent: str | None = None,
    response: timedelta = RESPONSE,
    completion: timedelta = COMPLETION,
) -> list[RollupRow]:
    """Rows of ``level`` (ordered by id), optionally only those under ``parent`` (a street id for
    communities, a community id for grids; ignored for streets). ``grids`` needs grid_id,
    community_id and street_id; every group of the given grids gets a row, zeros included."""
    level = Level(level)
    if len(closed) != len(came_true):
        raise ValueError(f"{len(closed)} closed warnings but {len(came_true)} outcomes")
    frame = grids[["grid_id", "community_id", "street_id"]].astype(str)
    if parent is not None and level in PARENT:
        frame = frame[frame[KEY[PARENT[level]]] == str(parent)]
    key = KEY[level]
    # grid id -> the row key, street and community it rolls up into
    place = {
        g: (k, s, None if level is Level.STREET else c)
        for g, k, s, c in zip(
            frame["grid_id"], frame[key], frame["street_id"], frame["community_id"], strict=True
        )
    }
    grid_count = frame.groupby(key, sort=False).size()
    totals: dict[str, dict[str, int]] = {k: dict.fromkeys(COUNTS, 0) for k in grid_count.index}
    for item in items:
        at = place.get(item.grid_id)
        if at is None or not since <= item.created_at < now:
            continue
        row = totals[at[0]]
        column = COLUMN_OF_STATE.get(item.state)
        if column is not None:
            row[column] += 1
        row["breaches"] += judge(item, now, response, completion).breached
    for item, hit in zip(closed, came_true, strict=True):
        at = place.get(item.grid_id)
        if at is None:
            continue
        totals[at[0]]["closed"] += 1
        totals[at[0]]["hits"] += bool(hit)
    first: dict[str, tuple[str, str, str | None]] = {}
    for k, s, c in place.values():
        first.setdefault(k, (k, s, c))
    return [
        RollupRow(k, first[k][1], first[k][2], int(grid_count[k]), **totals[k])
        for k in sorted(totals)
    ]


def total(rows: Sequence[RollupRow]) -> RollupRow:
    """The rows summed (a table's footer); ``key`` is empty."""
    sums = {name: sum(getattr(r, name) for r in rows) for name in COUNTS}
    return RollupRow("", "", None, sum(r.grids for r in rows), **sums)


__all__ = ["COUNTS", "KEY", "PARENT", "Level", "RollupRow", "rollup", "total"]
