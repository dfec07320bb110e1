"""History family: what each grid's own known past says, per target.

Columns per target (`<t>`): `events_<w>d_<t>` (known events that occurred in `(t - w days, t]`),
`decay_<h>d_<t>` (exponentially decayed count, half-life h days, age from `occurred_at`),
`days_since_last_<t>` (NaN while the grid has no known event — never a fake 0),
`same_window_1w_<t>` / `same_window_1y_<t>` (known events that occurred in the forecast window
shifted back 7 / 365 days: `(t - 7d, t - 7d + horizon]`), `rate_all_<t>` (known events per day
since `history_start`) and `trend_28d_<t>` (28-day rate / long-run rate; NaN when the long-run
rate is 0).

A window the record does not cover is missing, not 0: at `t`, `events_<w>d_<t>` is NaN while
`t − w days` is before `history_start`, and `same_window_*` while the shifted window starts
before it — an early training row must not read "0 events in the last year" where the truth
is "no record yet", when every scoring row has the full year (docs/adr/010-*).

`history_start` is the start of the record, a property of the data set rather than of any
event: pass it explicitly when builds on different event sets must agree (partitions,
backtests); by default it is the earliest `occurred_at` among the events given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.base import BuildContext, FeatureBlock, FeatureInfo
from features.binning import (
    NS_PER_DAY,
    NS_PER_HOUR,
    EventArrays,
    KnownCounter,
    context_events,
    decayed_counts,
    last_known_occurrence,
    to_ns,
)
from features.labels import days_en, target_en, target_zh

FAMILY = "history"
SAME_WINDOW_LAGS_DAYS = {"1w": 7, "1y": 365}
TREND_WINDOW_DAYS = 28


def _fmt(x: float) -> str:
    return f"{x:g}"


def resolve_history_start(
    events: pd.DataFrame, history_start: pd.Timestamp | str | None
) -> pd.Timestamp | None:
    """The explicit start, or the earliest `occurred_at` of `events` (None when no events)."""
    if history_start is not None:
        return pd.Timestamp(history_start)
    if len(events) == 0:
        return None
    return pd.Timestamp(events["occurred_at"].min())


def covered(
    values: np.ndarray, queries: np.ndarray, reach_ns: int, start: pd.Timestamp | None
) -> np.ndarray:
    """float32 `values` with NaN at the issue times whose window reaches `reach_ns` back
    before the start of the record (nothing is masked without a start)."""
    out = values.astype(np.float32)
    if start is not None:
        start_ns = to_ns(pd.DatetimeIndex([start]))[0]
        out[queries - int(reach_ns) < start_ns] = np.nan
    return out


def build(ctx: BuildContext, history_start: pd.Timestamp | str | None = None) -> FeatureBlock:
    queries = to_ns(ctx.issue_times)
    n_grids = len(ctx.grids)
    ev_all = context_events(ctx.events, ctx.grids["grid_id"])
    start = resolve_history_start(ctx.events, history_start)
    block = FeatureBlock()
    for target in ctx.targets:
        _add_target(block, ev_all.for_target(target), target, queries, n_grids, ctx, start)
    return block


def _add_target(
    block: FeatureBlock,
    ev: EventArrays,
    target: str,
    queries: np.ndarray,
    n_grids: int,
    ctx: BuildContext,
    start: pd.Timestamp | None,
) -> None:
    en, zh = target_en(target), target_zh(target)
    counter = KnownCounter(ev, queries, n_grids)
    f32 = np.float32

    for w in ctx.spec.windows_days:
        info = FeatureInfo(
            f"events_{_fmt(w)}d_{target}",
            FAMILY,
            f"{{value}} {en} in the last {days_en(w)}",
            f"近{_fmt(w)}天{zh}事件{{value}}起",
        )
        block.add(info, covered(counter.window(w), queries, w * NS_PER_DAY, start))

    for h in ctx.spec.half_lives_days:
        info = FeatureInfo(
            f"decay_{_fmt(h)}d_{target}",
            FAMILY,
            f"recency-weighted count of {en} (half-life {days_en(h)}): {{value}}",
            f"{zh}事件近期加权数(半衰期{_fmt(h)}天):{{value}}",
        )
        block.add(info, decayed_counts(ev, queries, n_grids, h).astype(f32))

    latest = last_known_occurrence(ev, queries, n_grids)
    days_since = (queries[:, None].astype(np.float64) - latest) / NS_PER_DAY
    block.add(
        FeatureInfo(
            f"days_since_last_{target}",
            FAMILY,
            f"{{value}} days since the last {en.removesuffix('s')}",
            f"距上次{zh}事件{{value}}天",
        ),
        days_since.astype(f32),
    )

    horizon_ns = ctx.spec.horizon_hours * NS_PER_HOUR
    for tag, lag_days in SAME_WINDOW_LAGS_DAYS.items():
        lag_ns = lag_days * NS_PER_DAY
        info = FeatureInfo(
            f"same_window_{tag}_{target}",
            FAMILY,
            f"{{value}} {en} in the same {ctx.spec.horizon_hours} h window "
            f"{'one week' if tag == '1w' else 'one year'} earlier",
            f"{'一周' if tag == '1w' else '一年'}前同一{ctx.spec.horizon_hours}小时窗口内"
            f"{zh}事件{{value}}起",
        )
        values = counter.between(lag_ns, lag_ns - horizon_ns)
        block.add(info, covered(values, queries, lag_ns, start))

    rate = np.full((len(queries), n_grids), np.nan)
    if start is not None:
        history_days = (queries - to_ns(pd.DatetimeIndex([start]))[0]) / NS_PER_DAY
        valid = history_days > 0
        rate[valid] = counter.known()[valid] / history_days[valid, None]
    block.add(
        FeatureInfo(
            f"rate_all_{target}",
            FAMILY,
            f"long-run rate of {en}: {{value}} per day",
            f"{zh}事件长期日均{{value}}起",
        ),
        rate.astype(f32),
    )

    recent_rate = counter.window(TREND_WINDOW_DAYS) / TREND_WINDOW_DAYS
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(rate > 0, recent_rate / rate, np.nan)
    block.add(
        FeatureInfo(
            f"trend_{TREND_WINDOW_DAYS}d_{target}",
            FAMILY,
            f"{en} in the last {TREND_WINDOW_DAYS} days run at {{value}}× the long-run rate",
            f"近{TREND_WINDOW_DAYS}天{zh}事件为长期水平的{{value}}倍",
        ),
        trend.astype(f32),
    )
