"""Known-at-`t` event arithmetic shared by the baselines (DESIGN §4).

An event is *known* at issue time `t` when `occurred_at <= t` and `reported_at <= t`, i.e. from
`known = max(occurred_at, reported_at)` on. Every function here takes issue times sorted
ascending (int64 UTC nanoseconds) and returns one row per issue time and one column per grid,
without a loop over events, grids or issue times: each event contributes to a contiguous run of
issue times, found with `searchsorted` and summed with a difference array.
`earlier_known_decayed_sums` and `known_counts` give one value per event instead: what its grid
showed at the moment the event became known.

This is a private helper of `models.baselines`; `features.binning` computes the same kind of
counts for the feature builders and the two may later be merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk.lookup import positions

NS_PER_DAY = 86_400 * 10**9


def to_utc_ns(values: object, what: str) -> np.ndarray:
    """Timezone-aware timestamps -> int64 UTC nanoseconds; naive ones are refused."""
    if isinstance(values, str | pd.Timestamp):
        values = [pd.Timestamp(values)]
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        raise ValueError(
            f"{what} must be timezone-aware (the city zone, e.g. Asia/Shanghai); "
            "got naive timestamps. Fix: tz_localize them first"
        )
    return index.tz_convert("UTC").as_unit("ns").asi8


@dataclass(frozen=True)
class IndexedEvents:
    """Events reduced to what the baselines need, all arrays of one length."""

    grid: np.ndarray  # int64 row of the grid in the fitted grids frame
    occurred: np.ndarray  # int64 UTC ns
    known: np.ndarray  # int64 UTC ns: max(occurred_at, reported_at)
    n_grids: int

    def __len__(self) -> int:
        return len(self.grid)

    def known_at(self, t_ns: int) -> IndexedEvents:
        """Only the events known at one instant."""
        keep = self.known <= t_ns
        return IndexedEvents(self.grid[keep], self.occurred[keep], self.known[keep], self.n_grids)


def index_events(
    events: pd.DataFrame, grid_ids: pd.Index, start_ns: int | None = None
) -> IndexedEvents:
    """Map events to grid rows; drop events of unknown grids, without `occurred_at`, or before `start`."""
    if len(events) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return IndexedEvents(empty, empty, empty, len(grid_ids))
    grid = positions(events["grid_id"], grid_ids)
    occurred_at = pd.to_datetime(events["occurred_at"])
    reported_at = (
        pd.to_datetime(events["reported_at"]).fillna(occurred_at)
        if "reported_at" in events
        else occurred_at
    )
    valid = (grid >= 0) & occurred_at.notna().to_numpy()
    occurred = np.full(len(events), 0, dtype=np.int64)
    reported = np.full(len(events), 0, dtype=np.int64)
    occurred[valid] = to_utc_ns(occurred_at[valid], "events.occurred_at")
    reported[valid] = to_utc_ns(reported_at[valid], "events.reported_at")
    if start_ns is not None:
        valid &= occurred >= start_ns
    return IndexedEvents(
        grid[valid].astype(np.int64),
        occurred[valid],
        np.maximum(occurred[valid], reported[valid]),
        len(grid_ids),
    )


def age_band_counts(
    events: IndexedEvents,
    times: np.ndarray,
    min_age_ns: int,
    max_age_ns: int | None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(T, G) count of events known at each `t` with age `t - occurred_at` in `[min_age, max_age)`.

    `max_age=None` means no upper bound (all history). With `min_age=0` and `max_age=W` this is the
    count of known events that occurred in `(t - W, t]`. `weights` ((N,), optional): the sum of
    the events' weights instead of their count (a weight fixed per event, never per `t`).
    """
    n_times, n_grids = len(times), events.n_grids
    first = np.maximum(events.known, events.occurred + min_age_ns)
    start = np.searchsorted(times, first, side="left")
    if max_age_ns is None:
        stop = np.full(len(events), n_times)
    else:
        stop = np.searchsorted(times, events.occurred + max_age_ns, side="left")
    keep = start < stop
    size = (n_times + 1) * n_grids
    grid = events.grid[keep]
    weight = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    diff = np.bincount(start[keep] * n_grids + grid, weight, minlength=size) - np.bincount(
        stop[keep] * n_grids + grid, weight, minlength=size
    )
    return np.cumsum(diff.reshape(n_times + 1, n_grids)[:n_times], axis=0).astype(np.float64)


def earliest_known_occurrence(events: IndexedEvents, times: np.ndarray) -> np.ndarray:
    """(T,) earliest `occurred_at` (ns, as float) among events known at each `t`; NaN if none."""
    out = np.full(len(times), np.nan)
    if len(events) == 0:
        return out
    order = np.argsort(events.known, kind="stable")
    running_min = np.minimum.accumulate(events.occurred[order])
    last = np.searchsorted(events.known[order], times, side="right") - 1
    seen = last >= 0
    out[seen] = running_min[last[seen]].astype(np.float64)
    return out


def decayed_sums(events: IndexedEvents, times: np.ndarray, omega_per_day: float) -> np.ndarray:
    """(T, G) Σ exp(-ω (t - occurred_at)) over the events known at each `t`.

    Recursive form: the sum at `t_k` is the sum at `t_{k-1}` decayed by `exp(-ω (t_k - t_{k-1}))`
    plus the events that became known in `(t_{k-1}, t_k]`, each decayed from its occurrence.
    One vectorised step per issue time; no overflow however long the history.
    """
    n_times, n_grids = len(times), events.n_grids
    first = np.searchsorted(times, events.known, side="left")
    keep = first < n_times
    first, grid = first[keep], events.grid[keep]
    age_days = (times[first] - events.occurred[keep]) / NS_PER_DAY
    increments = np.bincount(
        first * n_grids + grid,
        weights=np.exp(-omega_per_day * age_days),
        minlength=n_times * n_grids,
    ).reshape(n_times, n_grids)
    decay = np.exp(-omega_per_day * np.diff(times) / NS_PER_DAY)
    out = np.empty((n_times, n_grids))
    running = np.zeros(n_grids)
    for k in range(n_times):  # one step per issue time, vectorised over grids
        running = running * (decay[k - 1] if k else 0.0) + increments[k]
        out[k] = running
    return out


def earlier_known_decayed_sums(events: IndexedEvents, omega_per_day: float) -> np.ndarray:
    """(N,) for each event i, Σ exp(-ω (occurred_i - occurred_j)) over the events j of its grid
    that occurred strictly before it and were known when it became known
    (`known_j <= known_i`): what the past of its grid says about i, as known at `known_i`.

    First over every earlier event (a per-grid linear recursion in occurrence order, solved by
    :func:`linear_recursion`: no overflow however long the history), then less the pairs whose
    earlier event became known after the later one — for each event reported late, the events
    of its grid that occurred while it was unreported (searchsorted + repeat).
    """
    n = len(events)
    if n == 0:
        return np.zeros(0)
    grid, occurred, known = events.grid, events.occurred, events.known
    order = np.lexsort((occurred, grid))
    g, t = grid[order], occurred[order]
    # one node per run of equal (grid, occurred): simultaneous events are not each other's past
    new = np.ones(n, dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (t[1:] != t[:-1])
    heads = np.flatnonzero(new)
    size = np.diff(np.append(heads, n))
    lag_days = np.diff(t[heads]) / NS_PER_DAY
    lag_days[g[heads][1:] != g[heads][:-1]] = np.inf  # a grid's first node has no past
    decay = np.exp(-omega_per_day * np.concatenate([[np.inf], lag_days]))
    # s_k = exp(-ω Δ_k) (s_{k-1} + size_{k-1}): node k's sum over the nodes before it
    pushed = np.zeros(len(heads))
    pushed[1:] = decay[1:] * size[:-1]
    out = np.empty(n)
    out[order] = linear_recursion(decay, pushed)[np.cumsum(new) - 1]

    # pairs (j, i): j occurred before i, i occurred while j was unreported, known_i < known_j;
    # i runs from the node after j's to the grid's first event at or after known_j
    distinct, rank = np.unique(t, return_inverse=True)
    slot = g * (len(distinct) + 1) + rank.reshape(-1)  # sorted, as (grid, occurred)
    k = known[order]
    late = np.flatnonzero(k > t)
    lo = np.append(heads, n)[np.cumsum(new)[late]]
    hi = np.searchsorted(
        slot, g[late] * (len(distinct) + 1) + np.searchsorted(distinct, k[late]), side="left"
    )
    count = np.maximum(hi - lo, 0)
    j = np.repeat(late, count)
    i = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
    hidden = k[j] > k[i]
    j, i = j[hidden], i[hidden]
    lag_days = (t[i] - t[j]) / NS_PER_DAY
    out[order] -= np.bincount(i, weights=np.exp(-omega_per_day * lag_days), minlength=n)
    return np.maximum(out, 0.0)  # rounding of the subtraction, never a real negative


def known_counts(group: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(N,) for each event, how many events of its group (e.g. its grid) were known when it
    became known (`known_j <= known_i`), itself included."""
    n = len(known)
    order = np.lexsort((known, group))
    g, k = group[order], known[order]
    position = np.arange(n)
    last = np.ones(n, dtype=bool)  # the last of each run of equal (group, known)
    last[:-1] = (g[1:] != g[:-1]) | (k[1:] != k[:-1])
    run_end = np.minimum.accumulate(np.where(last, position, n)[::-1])[::-1]
    first = np.ones(n, dtype=bool)
    first[1:] = g[1:] != g[:-1]
    group_start = np.maximum.accumulate(np.where(first, position, 0))
    out = np.empty(n, dtype=np.int64)
    out[order] = run_end - group_start + 1
    return out


def linear_recursion(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) `x` with `x_k = a_k x_{k-1} + b_k`, `x_{-1} = 0`, for `a` in [0, 1] and `b` >= 0.

    A doubling scan (log2 N vectorised steps): before the step of shift `s`, each
    `(A_k, B_k)` maps `x_{k-s}` to `x_k`; it stops once every `A` is 0 (a 0 in `a` starts a
    new run, so runs of length L need about log2 L steps). Products of `a` only shrink: no
    overflow."""
    a = np.where(a < 1e-300, 0.0, np.asarray(a, dtype=np.float64))
    b = np.array(b, dtype=np.float64)
    if len(a):
        a[0] = 0.0  # x_{-1} = 0: a_0 plays no part, and every window reaching 0 is now closed
    shift = 1
    while shift < len(a) and a[shift:].any():
        b[shift:] = a[shift:] * b[:-shift] + b[shift:]
        a[shift:] = a[shift:] * a[:-shift]
        a[a < 1e-300] = 0.0  # no subnormal products
        shift *= 2
    return b
