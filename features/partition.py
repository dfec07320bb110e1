"""Feature frames built per partition on a Dask cluster (issue 18; DESIGN §2).

A partition is a spatially compact set of *core* grids: whole streets (a street larger than
an even share: its communities), ordered along a Hilbert curve over their centroids and cut
into runs of about equal size between them — whole streets keep the street and community
halos small. Each partition is built on a worker from its core, its halo (`features.halo`) and the
events of those grids only; the city-wide inputs of a build — targets, sources, the start of
the record — are fixed from the whole city first, so every partition builds the same columns.
The client glues the core rows back into the single-process order (issue-time major, grids
in input order): the frame equals `build_features` on the whole city, bit for bit.

`map_partitions` runs any function per partition (the daily scoring's predict + explain);
the client comes from `risk.cluster.dask_client` — this module never imports Dask itself.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.base import FeatureSpec
from features.build import FeatureFrame, build_features, resolve_targets
from features.halo import halo_rows
from features.history import resolve_history_start
from risk.contract import SOURCES, UNASSIGNED
from risk.lookup import positions

# Rows (issue times x core grids) a partition of a many-issue-time build holds at most: a
# frame of ~400 float32 columns is then ~0.8 GB, and a build peaks at a few times that.
ROWS_PER_PARTITION = 500_000
HILBERT_ORDER = 16  # 65,536 cells a side: finer than any two grid centroids of a city


def hilbert_index(x: np.ndarray, y: np.ndarray, order: int = HILBERT_ORDER) -> np.ndarray:
    """Position of each point along a Hilbert curve over the points' bounding box: points near
    on the curve are near in space (no long jumps, unlike a row-by-row order)."""
    side = 1 << order

    def scaled(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        span = v.max() - v.min() if len(v) else 0.0
        unit = (v - v.min()) / span if span > 0 else np.zeros_like(v)
        return np.minimum((unit * side).astype(np.int64), side - 1)

    xi, yi = scaled(x), scaled(y)
    d = np.zeros(len(xi), dtype=np.int64)
    s = side >> 1
    while s > 0:  # one vectorised step per bit of the order
        rx = (xi & s) > 0
        ry = (yi & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        flip = ~ry  # rotate the quadrant so the curve stays continuous
        swap_x = np.where(flip & rx, side - 1 - xi, xi)
        swap_y = np.where(flip & rx, side - 1 - yi, yi)
        xi, yi = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    return d


def plan_partitions(grids: pd.DataFrame, n_partitions: int) -> list[np.ndarray]:
    """Core row positions (sorted) of at most `n_partitions` compact partitions covering every
    grid once. Units are kept whole: a street, or — for a street larger than an even share —
    its communities, or a community's grids when that is still larger."""
    if n_partitions < 1:
        raise ValueError(f"n_partitions must be at least 1, got {n_partitions}")
    n = len(grids)
    share = n / n_partitions
    unit_key = grids["grid_id"].astype(str).to_numpy(dtype=object)
    for column in ("community_id", "street_id"):  # coarser units where they are small enough
        key = grids[column].astype(str).to_numpy(dtype=object)
        codes, _ = pd.factorize(key)
        small = (np.bincount(codes)[codes] <= share) & (key != UNASSIGNED)
        unit_key = np.where(small, column[0] + ":" + key, unit_key)
    unit, units = pd.factorize(unit_key)
    size = np.bincount(unit, minlength=len(units))
    lon = np.bincount(unit, weights=grids["centroid_lon"].to_numpy(float)) / size
    lat = np.bincount(unit, weights=grids["centroid_lat"].to_numpy(float)) / size
    order = np.argsort(hilbert_index(lon, lat), kind="stable")
    ends = np.cumsum(size[order])  # grids up to and including each unit, along the curve
    ideal = np.arange(1, n_partitions) * share
    cuts = np.unique(np.searchsorted(ends, ideal, side="left"))  # a unit closes each part
    part_of_unit = np.empty(len(units), dtype=np.int64)
    part_of_unit[order] = np.searchsorted(cuts, np.arange(len(units)), side="left")
    part = part_of_unit[unit]
    return [rows for k in range(int(part.max()) + 1) if len(rows := np.flatnonzero(part == k))]


def partition_count(n_grids: int, n_times: int, workers: int) -> int:
    """Partitions of a build: two per worker (one running, one waiting), more when a
    partition would exceed `ROWS_PER_PARTITION` rows; never more than the grids."""
    wanted = max(2 * workers, math.ceil(n_grids * n_times / ROWS_PER_PARTITION))
    return max(1, min(n_grids, wanted))


def city_spec(
    events: pd.DataFrame, spec: FeatureSpec, history_start: Any = None
) -> tuple[FeatureSpec, pd.Timestamp | None]:
    """`spec` with the city's targets and sources fixed, and the start of the record: what a
    partition cannot tell from its own events."""
    sources = spec.sources
    if sources is None:
        present = set(events["source"].dropna().astype(str)) if len(events) else set()
        sources = tuple(s for s in SOURCES if s in present)
    fixed = dataclasses.replace(spec, targets=resolve_targets(events, spec), sources=sources)
    return fixed, resolve_history_start(events, history_start)


def map_partitions(
    client: Any, fn: Callable[..., Any], parts: Sequence[tuple], **shared: Any
) -> list[Any]:
    """`[fn(*part, **shared) for part in parts]` on the client's workers, in order. Each
    part's arguments travel once to the worker that runs it; each `shared` value is sent once
    to every worker (a model, a spec), not once per task."""
    # hash=False: no content hash of large frames for keys (they are sent once, never reused)
    common = {k: client.scatter([v], broadcast=True, hash=False)[0] for k, v in shared.items()}
    futures = [
        client.submit(fn, *client.scatter(list(part), hash=False), pure=False, **common)
        for part in parts
    ]
    try:
        return client.gather(futures)
    finally:
        for future in [*futures, *common.values()]:
            future.release()


def _build_part(
    grids: pd.DataFrame,
    events: pd.DataFrame,
    core_ids: list[str],
    issue_times: pd.DatetimeIndex,
    spec: FeatureSpec,
    history_start: pd.Timestamp | None,
) -> FeatureFrame:
    return build_features(
        grids, events, issue_times, spec, core_grid_ids=core_ids, history_start=history_start
    )


def partition_inputs(
    grids: pd.DataFrame, events: pd.DataFrame, cores: Sequence[np.ndarray]
) -> list[tuple[pd.DataFrame, pd.DataFrame, list[str]]]:
    """Per partition: its core + halo grids (in city order), the events of those grids, and
    its core grid ids."""
    grids = grids.reset_index(drop=True)
    ids = grids["grid_id"].astype(str)
    event_row = positions(events["grid_id"], pd.Index(ids))
    out = []
    for core, halo in zip(cores, halo_rows(grids, cores), strict=True):
        local = np.zeros(len(grids), dtype=bool)
        local[core] = True
        local[halo] = True
        seen = np.zeros(len(grids) + 1, dtype=bool)  # the last slot: events of unknown grids
        seen[:-1] = local
        out.append(
            (
                grids.iloc[np.flatnonzero(local)],
                events[seen[event_row]],
                ids.iloc[core].tolist(),
            )
        )
    return out


def build_partitioned(
    client: Any,
    grids: pd.DataFrame,
    events: pd.DataFrame,
    issue_times: Iterable,
    spec: FeatureSpec | None = None,
    *,
    n_partitions: int | None = None,
    history_start: pd.Timestamp | str | None = None,
) -> FeatureFrame:
    """`build_features(grids, events, issue_times, spec)` computed per partition on the
    client's workers (module docstring); same rows, columns, dtypes and values."""
    from risk.cluster import worker_count  # the client's size; imports no Dask

    spec, start = city_spec(events, spec or FeatureSpec(), history_start)
    grids = grids.reset_index(drop=True)
    times = pd.DatetimeIndex(issue_times)
    if n_partitions is None:
        n_partitions = partition_count(len(grids), len(times), worker_count(client))
    cores = plan_partitions(grids, n_partitions)
    parts = partition_inputs(grids, events, cores)
    built = map_partitions(
        client, _build_part, parts, issue_times=times, spec=spec, history_start=start
    )
    return glue(grids, cores, built)


def glue(
    grids: pd.DataFrame, cores: Sequence[np.ndarray], built: Sequence[FeatureFrame]
) -> FeatureFrame:
    """The partitions' frames (core rows of `cores`, in order) as one issue-time-major frame
    over every grid of `grids`, as `build_features` orders it. Categorical columns get the
    sorted union of the partitions' categories (`features.area.grid_type_categorical`'s rule)."""
    first = built[0]
    names = list(first.frame.columns)
    for part in built[1:]:
        if list(part.frame.columns) != names:
            raise ValueError(
                "partitions built different columns; fix the spec's targets and sources"
            )
    n_grids = len(grids)
    n_core = len(cores[0])
    times = pd.DatetimeIndex(first.frame["issue_time"].iloc[::n_core]) if n_core else None
    n_t = len(times) if times is not None else 0
    columns: dict[str, Any] = {
        "grid_id": grids["grid_id"].astype(str).array.take(np.tile(np.arange(n_grids), n_t)),
        "issue_time": times.repeat(n_grids),
    }
    categorical: dict[str, list[tuple[np.ndarray, pd.Categorical]]] = {}
    for core, part in zip(cores, built, strict=True):
        dest = (np.arange(n_t)[:, None] * n_grids + np.asarray(core)[None, :]).reshape(-1)
        for name in names[2:]:
            values = part.frame[name]
            if isinstance(values.dtype, pd.CategoricalDtype):
                categorical.setdefault(name, []).append((dest, values.array))
                continue
            array = values.to_numpy()
            if name not in columns:
                columns[name] = np.empty(n_t * n_grids, dtype=array.dtype)
            columns[name][dest] = array
    for name, pieces in categorical.items():
        categories = sorted(set().union(*(set(c.categories) for _, c in pieces)))
        codes = np.full(n_t * n_grids, -1, dtype=np.int16)
        index = pd.Index(categories)
        for dest, cat in pieces:
            lookup = index.get_indexer(cat.categories)
            codes[dest] = np.where(cat.codes >= 0, lookup[cat.codes], -1)
        dtype = pd.CategoricalDtype(categories)
        columns[name] = pd.Categorical.from_codes(codes, dtype=dtype)
    frame = pd.DataFrame({name: columns[name] for name in names}, copy=False)
    return FeatureFrame(frame=frame, info=first.info, targets=first.targets)
