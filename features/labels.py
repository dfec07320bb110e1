"""Labels (what the forecast is scored against) and the human names of targets.

For a target, grid and issue time `t`: `count_<target>` is the number of events with
`occurred_at` in `(t, t + horizon]` — whenever they were reported, since the truth does not
wait for the report — and `label_<target>` is `count >= 1` (int8).

Events reported by an excluded source are not counted (`FeatureSpec.label_exclude_sources`,
default the system's own patrols: a patrol sent by a warning finds events where it was sent,
so counting them would let the forecast confirm itself; docs/adr/019-*). Events without a
source are counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from features.base import LABEL_EXCLUDE_SOURCES
from features.binning import NS_PER_HOUR, EventArrays, occurred_counts_in_horizon
from risk.contract import ANY_TARGET

# Chinese names of the usual categories; other categories show their token.
TARGET_NAMES_ZH = {
    ANY_TARGET: "全部",
    "dispute": "纠纷",
    "theft": "盗窃",
    "fire": "火灾",
    "fire_hazard": "火灾隐患",
    "safety_hazard": "安全隐患",
    "fraud": "诈骗",
    "petition": "信访",
}


def target_en(target: str) -> str:
    """English noun phrase for a target's events: `any` -> 'events', `fire_hazard` ->
    'fire hazard events'."""
    return "events" if target == ANY_TARGET else target.replace("_", " ") + " events"


def days_en(days: float) -> str:
    return "1 day" if days == 1 else f"{days:g} days"


def target_zh(target: str) -> str:
    return TARGET_NAMES_ZH.get(target, target)


def label_events(ev: EventArrays, exclude_sources: Sequence[str]) -> EventArrays:
    """The events the labels count: all but those reported by a source of `exclude_sources`."""
    codes = [ev.sources.index(s) for s in exclude_sources if s in ev.sources]
    if not codes:
        return ev
    return ev.subset(~np.isin(ev.source, codes))


def label_columns(
    ev: EventArrays,
    queries_ns: np.ndarray,
    n_grids: int,
    targets: tuple[str, ...],
    horizon_hours: int,
    exclude_sources: Sequence[str] = LABEL_EXCLUDE_SOURCES,
) -> dict[str, np.ndarray]:
    """`count_<target>` (int32) and `label_<target>` (int8) arrays of shape (T, G) per target,
    counting the events of `label_events(ev, exclude_sources)`."""
    counted = label_events(ev, exclude_sources)
    out: dict[str, np.ndarray] = {}
    for target in targets:
        counts = occurred_counts_in_horizon(
            counted.for_target(target), queries_ns, n_grids, horizon_hours * NS_PER_HOUR
        )
        out[f"count_{target}"] = counts.astype(np.int32)
        out[f"label_{target}"] = (counts >= 1).astype(np.int8)
    return out
