"""Events -> (issue time × grid) arrays of what is known at each issue time.

How it stays exact and vectorised
---------------------------------
The bins are the intervals between consecutive issue times, `(t[i-1], t[i]]`, so every
quantity is exact at every issue time whatever its time of day (no hourly or daily rounding),
and an array is (T, G) — never a column per hour.

An event `e` is *known at t* when `occurred_at <= t` and `reported_at <= t`; with
`known_at = max(occurred_at, reported_at)` that is simply `known_at <= t`. A window count
"known events that occurred in `(t - a, t - b]`" is the difference of two cumulative counts,

    K(b)(t) = #{e : max(known_at_e, occurred_at_e + b) <= t}          (b >= 0 or not)
    count(t; a, b) = K(b)(t) - K(a)(t)

because `known_at <= t` and `occurred_at <= t - b` together say
`max(known_at, occurred_at + b) <= t`. Each `K` is one `searchsorted` of shifted event times
into the issue times, one `bincount` and one cumulative sum: the reporting delay is handled
exactly, without pairs of (event, issue time), however late an event was reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk.contract import ANY_TARGET
from risk.lookup import positions

NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9
# exp(600) ~ 4e260: the largest rescaling a float64 cumulative sum of decayed weights may use.
_MAX_EXPONENT = 600.0


def to_ns(times: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Tz-aware timestamps -> int64 nanoseconds since the epoch (UTC), whatever the unit."""
    index = pd.DatetimeIndex(times)
    return index.as_unit("ns").asi8.copy()


@dataclass(frozen=True)
class EventArrays:
    """The events of one build as flat arrays, rows aligned.

    `grid` indexes the grids frame of the build; `known` is `max(occurred, reported)`
    (a missing `reported_at` means reported when it occurred). Categories and sources are
    integer codes into `categories` / `sources` (-1: missing source).
    """

    grid: np.ndarray  # int64 row of the grids frame
    occurred: np.ndarray  # int64 ns
    known: np.ndarray  # int64 ns
    category: np.ndarray  # int64 code into `categories`
    source: np.ndarray  # int64 code into `sources`, -1 where missing
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.grid)

    def subset(self, mask: np.ndarray) -> EventArrays:
        return EventArrays(
            self.grid[mask],
            self.occurred[mask],
            self.known[mask],
            self.category[mask],
            self.source[mask],
            self.categories,
            self.sources,
        )

    def for_target(self, target: str) -> EventArrays:
        """Events of one target: `any` is every event, otherwise one category."""
        if target == ANY_TARGET:
            return self
        code = self.categories.index(target) if target in self.categories else -2
        return self.subset(self.category == code)

    def for_source(self, source: str) -> EventArrays:
        code = self.sources.index(source) if source in self.sources else -2
        return self.subset(self.source == code)


def event_arrays(events: pd.DataFrame, grid_ids: pd.Series | np.ndarray) -> EventArrays:
    """Flatten validated events; events whose `grid_id` is not among `grid_ids` are dropped."""
    lookup = pd.Index(pd.Series(grid_ids).astype(str))
    if len(events) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return EventArrays(empty, empty, empty, empty, empty)
    rows = positions(events["grid_id"], lookup)
    keep = rows >= 0
    occurred = to_ns(events["occurred_at"])
    reported = events["reported_at"]
    reported_ns = to_ns(reported.fillna(events["occurred_at"]))
    known = np.maximum(occurred, reported_ns)
    category, categories = pd.factorize(events["category"].astype(str))
    source, sources = pd.factorize(events["source"], use_na_sentinel=True)
    return EventArrays(
        grid=rows[keep].astype(np.int64),
        occurred=occurred[keep],
        known=known[keep],
        category=np.asarray(category, dtype=np.int64)[keep],
        source=np.asarray(source, dtype=np.int64)[keep],
        categories=tuple(str(c) for c in categories),
        sources=tuple(str(c) for c in sources),
    )


def cumulative_counts(
    times: np.ndarray,
    grid: np.ndarray,
    queries: np.ndarray,
    n_grids: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(T, G): per grid, the number (int64; float64 when weighted) of events with
    `times <= queries[i]`.

    `queries` must be sorted ascending (int64 ns).
    """
    n_t = len(queries)
    slot = np.searchsorted(queries, times, side="left")  # first i with queries[i] >= time
    keep = slot < n_t
    key = slot[keep] * n_grids + grid[keep]
    w = None if weights is None else weights[keep]
    binned = np.bincount(key, weights=w, minlength=n_t * n_grids).reshape(n_t, n_grids)
    return np.cumsum(binned, axis=0, out=binned)


class KnownCounter:
    """Cumulative counts `K(b)` of one set of events at the issue times, cached by lag.

    `between(a, b)` is the number of events known at t that occurred in `(t - a, t - b]`
    (lags in nanoseconds, `a > b`).
    """

    def __init__(self, ev: EventArrays, queries: np.ndarray, n_grids: int) -> None:
        self.ev = ev
        self.queries = queries
        self.n_grids = n_grids
        self._cache: dict[int, np.ndarray] = {}

    def at_lag(self, lag_ns: int) -> np.ndarray:
        """K(b): events with known_at <= t and occurred_at <= t - b."""
        lag_ns = int(lag_ns)
        if lag_ns not in self._cache:
            threshold = np.maximum(self.ev.known, self.ev.occurred + lag_ns)
            self._cache[lag_ns] = cumulative_counts(
                threshold, self.ev.grid, self.queries, self.n_grids
            )
        return self._cache[lag_ns]

    def known(self) -> np.ndarray:
        """All events known at t."""
        return self.at_lag(0)

    def between(self, lag_hi_ns: int, lag_lo_ns: int) -> np.ndarray:
        return self.at_lag(lag_lo_ns) - self.at_lag(lag_hi_ns)

    def window(self, days: float) -> np.ndarray:
        """Known events that occurred in `(t - days, t]`."""
        return self.between(int(round(days * NS_PER_DAY)), 0)


def decayed_counts(
    ev: EventArrays, queries: np.ndarray, n_grids: int, half_life_days: float
) -> np.ndarray:
    """(T, G) float64: sum over events known at t of `0.5 ** (age / half_life)`,
    age = `t - occurred_at` in days.

    An event enters at the first issue time it is known, with its weight at that time; from
    then on the sum decays by `0.5 ** (gap / half_life)` between issue times. The recurrence
    is solved by cumulative sums in blocks short enough for float64 rescaling.
    """
    n_t = len(queries)
    out = np.zeros((n_t, n_grids), dtype=np.float64)
    if n_t == 0:
        return out
    rate = np.log(2.0) / (half_life_days * NS_PER_DAY)  # per ns
    slot = np.searchsorted(queries, ev.known, side="left")
    keep = slot < n_t
    age_at_entry = (queries[slot[keep]] - ev.occurred[keep]).astype(np.float64)
    weights = np.exp(-rate * age_at_entry)
    key = slot[keep] * n_grids + ev.grid[keep]
    entering = np.bincount(key, weights=weights, minlength=n_t * n_grids).reshape(n_t, n_grids)

    rel = (queries - queries[0]).astype(np.float64) * rate  # decay exponent from the first time
    carry = np.zeros(n_grids, dtype=np.float64)
    carry_exp = rel[0]
    start = 0
    while start < n_t:  # a handful of blocks: each spans ~600 / ln 2 half-lives
        stop = int(np.searchsorted(rel, rel[start] + _MAX_EXPONENT, side="right"))
        stop = max(stop, start + 1)
        scale = np.exp(rel[start:stop] - rel[start])[:, None]
        acc = np.cumsum(entering[start:stop] * scale, axis=0)
        carry_now = carry * np.exp(-(rel[start] - carry_exp))
        out[start:stop] = (acc + carry_now[None, :]) / scale
        carry = out[stop - 1]
        carry_exp = rel[stop - 1]
        start = stop
    return out


def last_known_occurrence(ev: EventArrays, queries: np.ndarray, n_grids: int) -> np.ndarray:
    """(T, G) float64: latest `occurred_at` (ns) among events known at t; NaN when none."""
    n_t = len(queries)
    slot = np.searchsorted(queries, ev.known, side="left")
    keep = slot < n_t
    latest = np.full(n_t * n_grids, -np.inf)
    np.maximum.at(latest, slot[keep] * n_grids + ev.grid[keep], ev.occurred[keep].astype(float))
    latest = np.maximum.accumulate(latest.reshape(n_t, n_grids), axis=0)
    latest[np.isneginf(latest)] = np.nan
    return latest


def occurred_counts_in_horizon(
    ev: EventArrays, queries: np.ndarray, n_grids: int, horizon_ns: int
) -> np.ndarray:
    """(T, G) int64: events with `occurred_at` in `(t, t + horizon]`, whenever reported."""
    upto_end = cumulative_counts(ev.occurred, ev.grid, queries + horizon_ns, n_grids)
    return upto_end - cumulative_counts(ev.occurred, ev.grid, queries, n_grids)


_CONTEXT_CACHE: list = [None, None, None]  # [events frame, grid ids, EventArrays]


def context_events(events: pd.DataFrame, grid_ids: pd.Series) -> EventArrays:
    """`event_arrays`, remembered for the last (events, grids) pair so that the families of
    one build flatten the events once."""
    cached_events, cached_ids, cached = _CONTEXT_CACHE
    if cached_events is events and cached_ids is not None and cached_ids.equals(grid_ids):
        return cached
    arrays = event_arrays(events, grid_ids)
    _CONTEXT_CACHE[:] = [events, grid_ids.copy(), arrays]
    return arrays
