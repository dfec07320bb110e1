"""Reporting family: how the grid's recent known events came to light.

`source_share_<d>d_<source>`: among the grid's known events that occurred in the last
`spec.reporting_days` days (all categories), the share reported by `<source>`; NaN when there
were none. Events without a source count in the denominator only, so shares sum to <= 1.
A column exists for each source of `risk.contract.SOURCES` present in the events given (or
named in `spec.sources`, which a partitioned build sets to the whole city's), so
analysts can see — and control — how patrol-discovered events feed back into risk.
"""

from __future__ import annotations

import numpy as np

from features.base import BuildContext, FeatureBlock, FeatureInfo
from features.binning import KnownCounter, context_events, to_ns
from risk.contract import SOURCES

FAMILY = "reporting"
SOURCE_NAMES_ZH = {
    "resident": "居民",
    "hotline": "热线",
    "grid_worker": "网格员",
    "patrol": "巡查",
    "sensor": "感知设备",
    "other": "其他",
}


def build(ctx: BuildContext) -> FeatureBlock:
    queries = to_ns(ctx.issue_times)
    n_grids = len(ctx.grids)
    ev = context_events(ctx.events, ctx.grids["grid_id"])
    days = ctx.spec.reporting_days
    block = FeatureBlock()
    if ctx.spec.sources is not None:  # fixed by the caller (a partition sees fewer events)
        present = set(ctx.spec.sources)
    else:
        present = set(ctx.events["source"].dropna().astype(str)) if len(ctx.events) else set()
    sources = [s for s in SOURCES if s in present]
    if not sources:
        return block
    total = KnownCounter(ev, queries, n_grids).window(days)
    for source in sources:
        part = KnownCounter(ev.for_source(source), queries, n_grids).window(days)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total > 0, part / total, np.nan)
        block.add(
            FeatureInfo(
                f"source_share_{days}d_{source}",
                FAMILY,
                f"{{value}} of the events of the last {days} days were reported by "
                f"{source.replace('_', ' ')}",
                f"近{days}天事件中{{value}}由{SOURCE_NAMES_ZH.get(source, source)}上报",
            ),
            share.astype(np.float32),
        )
    return block
