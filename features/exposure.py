"""Exposure family (off by default): how often patrols looked at the grid recently.

`patrol_visits_<w>d`: patrol visits (`risk.exposure.check_visits`: `grid_id`, `visited_at`)
with `visited_at` in `(t − w days, t]`, w in `WINDOWS_DAYS`. Built only when the spec's explicit
switch `patrol_exposure` is on and `patrol_visits` are given (docs/adr/019-*): a model that
reads exposure can learn "patrolled grids record more", which is the feedback loop itself, so
an analyst turns it on to look at that effect, not by default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.base import BuildContext, FeatureBlock, FeatureInfo
from features.binning import EventArrays, KnownCounter, to_ns
from risk.errors import ConfigError

FAMILY = "exposure"
WINDOWS_DAYS = (7, 28)


def visit_arrays(visits: pd.DataFrame, grid_ids: pd.Series) -> EventArrays:
    """Visits as event arrays (a visit is known when it happens); visits to grids not in
    `grid_ids` are dropped."""
    rows = pd.Index(grid_ids.astype(str)).get_indexer(visits["grid_id"].astype(str))
    keep = rows >= 0
    at = to_ns(visits["visited_at"])[keep]
    zeros = np.zeros(int(keep.sum()), dtype=np.int64)
    return EventArrays(rows[keep].astype(np.int64), at, at, zeros, zeros - 1)


def build(ctx: BuildContext) -> FeatureBlock:
    visits = ctx.spec.patrol_visits
    if visits is None:
        raise ConfigError(
            "the patrol exposure feature is switched on but no patrol visits were given; "
            "pass them (risk backtest/train --visits FILE) or leave the switch off"
        )
    queries = to_ns(ctx.issue_times)
    counter = KnownCounter(visit_arrays(visits, ctx.grids["grid_id"]), queries, len(ctx.grids))
    block = FeatureBlock()
    for w in WINDOWS_DAYS:
        block.add(
            FeatureInfo(
                f"patrol_visits_{w}d",
                FAMILY,
                f"{{value}} patrol visits in the last {w} days",
                f"近{w}天巡查{{value}}次",
            ),
            counter.window(w).astype(np.float32),
        )
    return block
