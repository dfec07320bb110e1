"""Lay a grid of equal cells over a city: square or hexagonal, in metres, assigned to communities.

How cells are laid (`make_grid`):

* **Projection** — WGS84 lon/lat go to the UTM zone of the data's centre (EPSG 326xx north,
  327xx south) with pyproj, so a 500 m cell is 500 m on the ground (to UTM's scale error,
  under 0.1% inside a zone). Cells are laid there and their corners projected back to WGS84.
* **Alignment** — to the projection's own origin: square cell `(col, row)` spans
  `[col·c, (col+1)·c) × [row·c, (row+1)·c)` in UTM metres, so the same place gets the same
  `grid_id` (`c500_<col>_<row>`) whatever the extent of the data. Hexagons (flat-topped,
  "odd-q" offset columns, ids `h500_<col>_<row>`) have the AREA of a `c × c` square, so square and
  hexagonal grids of the same `cell_m` are comparable cell for cell.
* **Which cells** — over the boundary's extent, keep `intersects_boundary`: cells sharing a
  positive area with the boundary (overlaps under `MIN_OVERLAP_SHARE` of a cell, reprojection
  noise along a shared edge, do not count), or `has_events`: cells holding at least one event.
  The first is the default when a boundary is known (given, or the union of the communities):
  a cell of the city with no event yet is still a place to forecast, and choosing cells by their
  events uses every event in the file, so a backtest's cell set would depend on its own
  evaluation period. Without a boundary the events' cells are the best evidence of where the
  city is, and only they are laid (not the whole extent of the points: one far-off point would
  make that a continent of cells). A boundary's extent of more than `MAX_CELLS` cells is
  refused before anything is allocated.
* **Odd points** — an event is placed when its lon/lat is in range and the projection takes it
  to a finite x/y that comes back within `ROUND_TRIP_M` of it; others (e.g. (0, 0) in Chicago's
  zone, where the transverse Mercator gives infinity) are left out, counted and named in the
  report's `notes`. Without a boundary, events more than `FAR_KM` from the events' median
  centre still get their cell, and a note names them (check them, or give a boundary).
* **Communities** — each cell goes to the community polygon covering most of its area (ties:
  the first community in file order); a cell outside every community goes to the nearest one
  (counted in the report).

Output: a grids frame in the validated contract shape (`risk.contract.GRID_COLUMNS`; geometry =
shapely polygons in WGS84; `area_km2` = the nominal cell area in the projection, exactly
`cell_m² / 10⁶`; no population columns: unknown values stay absent, never zero), and a plain
report. `write_grids` writes it as a GeoJSON FeatureCollection that `risk validate` accepts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely import STRtree

from risk.contract import GRID_COLUMNS, UNASSIGNED
from risk.errors import ConfigError, ContractError
from risk.loaders import GEOJSON_SUFFIXES, read_events, read_grids
from risk.validation import ROW_COLUMN, coordinates_look_swapped

SHAPES = ("square", "hex")
PARTLY_OUTSIDE = 0.999  # a cell with more than 0.1% of its area outside the boundary (report)
KEEP_RULES = ("intersects_boundary", "has_events")
# Overlaps below this share of a cell's area are reprojection noise along shared edges, not
# overlaps; shares are compared after rounding to it (so an even split is an exact tie).
MIN_OVERLAP_SHARE = 1e-6
# The most cells laid over a boundary's extent, checked before allocating: a cover's memory
# grows with its cells (a one-off check by hand, not a committed benchmark, kept 2 million
# within a few GB on 2 cores); 2 million cells are 500,000 km² at 500 m, or a 40 km × 50 km
# city at 35 m.
MAX_CELLS = 2_000_000
MAX_CELL_M = 50_000.0  # 50 km: far larger than any patrol grid, still inside one UTM zone
# A point is placed when projecting it and back lands within this many metres of it (far from
# the CRS's meridian the transverse Mercator gives infinity, or a point somewhere else).
ROUND_TRIP_M = 1.0
# Without a boundary, events farther than this from the events' median centre are named in the
# notes: a city is at most a few tens of km across, a typo or a placeholder often much farther.
FAR_KM = 50.0
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), for great-circle distances
_SQRT3 = math.sqrt(3.0)


@dataclass
class GridResult:
    """The laid grid (`grids`, contract shape) and what was done (`report`, plain data).

    Unpacks as `grids, report = make_grid(...)`.
    """

    grids: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.grids, self.report))


def make_grid(
    events: pd.DataFrame | None = None,
    *,
    cell_m: float = 500.0,
    shape: str = "square",
    boundary: shapely.Geometry | str | Path | None = None,
    communities: pd.DataFrame | str | Path | None = None,
    community_key: str | None = None,
    street_key: str | None = None,
    keep: str | None = None,
    crs: str | None = None,
) -> GridResult:
    """Lay cells of `cell_m` metres over the city and keep those of the city (module doc).

    `events`: a frame with `lon`/`lat` (WGS84; e.g. `ImportResult.events`), needed for
    `keep="has_events"` and to report events outside the cells. `boundary`: a WGS84 polygon, or a
    GeoJSON file of polygons (their union). `communities`: a GeoJSON file or a frame with
    `geometry` (shapely or GeoJSON/WKT text) and the `community_key` column (and `street_key`,
    giving each cell's `street_id`). `keep`: default `intersects_boundary` when a boundary is
    known, else `has_events`. `crs`: a projected CRS in metres to use instead of UTM.
    Events without lon/lat in range, or that the CRS cannot place, are left out; the report
    counts them, and its `notes` name the first of each kind and of the far-off events.
    """
    started = time.perf_counter()
    _check_parameters(cell_m, shape, keep)
    lon, lat, rows, rows_without = _event_points(events)
    comm = _communities(communities, community_key, street_key) if communities is not None else None
    bound_wgs, bound_source = _boundary(boundary, comm)
    if bound_wgs is None and lon.size == 0:
        if events is not None and len(events):  # points given, none of them usable
            swapped = coordinates_look_swapped(events["lon"], events["lat"])
            raise ContractError(
                f"none of the {len(events)} events has lon/lat in range (WGS84 degrees: lon "
                "within ±180, lat within ±90)",
                file=events.attrs.get("file"),
                field="lon,lat",
                value=f"{events['lon'].iloc[0]},{events['lat'].iloc[0]}",
                fix="'lon' and 'lat' look swapped: exchange the two columns (risk import "
                "--lon-col/--lat-col)"
                if swapped
                else "give coordinates in WGS84 degrees, or a boundary",
            )
        raise ConfigError("nothing to lay cells over: give events with lon/lat or a boundary")
    keep_rule = keep or ("intersects_boundary" if bound_wgs is not None else "has_events")
    if keep_rule == "intersects_boundary" and bound_wgs is None:
        raise ConfigError(
            "keep='intersects_boundary' needs a boundary: give --boundary or --communities "
            "(or keep='has_events')"
        )
    if keep_rule == "has_events" and lon.size == 0:
        raise ConfigError("keep='has_events' needs events with lon/lat; give --events")

    centre = _centre(lon, lat, bound_wgs)
    try:
        crs_obj = CRS.from_user_input(crs) if crs else utm_crs(*centre)
    except CRSError:
        raise ConfigError(
            f"crs {crs!r} is not known; give a projected CRS in metres such as EPSG:32650 "
            "(or leave --crs out: the UTM zone of the data's centre)"
        ) from None
    if not crs_obj.is_projected or crs_obj.axis_info[0].unit_name not in ("metre", "meter"):
        raise ConfigError(f"crs {crs!r} is not a projected CRS in metres")
    fwd = Transformer.from_crs("EPSG:4326", crs_obj, always_xy=True)
    inv = Transformer.from_crs(crs_obj, "EPSG:4326", always_xy=True)
    x, y, placed = _project(lon, lat, fwd, inv)
    if lon.size and not placed.any() and (bound_wgs is None or keep_rule == "has_events"):
        raise _nothing_placed(events, lon, lat, rows, crs_obj.to_string())
    left_out = (lon[~placed], lat[~placed], rows[~placed])
    lon, lat, rows, x, y = lon[placed], lat[placed], rows[placed], x[placed], y[placed]
    if bound_wgs is not None:
        _check_boundary_placed(bound_wgs, fwd, inv, bound_source, crs_obj.to_string())
    comm_m = _to_metres(comm["geometry"].to_numpy(object), fwd) if comm is not None else None
    from_communities = boundary is None and comm_m is not None
    bound_m = (
        comm_m
        if from_communities
        else _to_metres(bound_wgs, fwd)
        if bound_wgs is not None
        else None
    )

    layout = _Layout(cell_m, shape)
    ev_col, ev_row = layout.locate(x, y)
    if bound_m is not None:
        extent = tuple(shapely.total_bounds(bound_m))
        _check_extent(extent, layout, bound_source)
        col, row = layout.cover(*extent)
    else:  # only the events' cells: the extent of all points may span a continent
        col, row = _unique_cells(ev_col, ev_row)
    cells = layout.polygons(col, row)
    laid = len(cells)

    pairs = _pair_overlaps(cells, comm_m, layout.area) if comm_m is not None else None
    overlap = np.zeros(laid)
    if bound_m is not None:
        overlap = _overlap_share(
            pairs if from_communities else _pair_overlaps(cells, bound_m, layout.area), laid
        )
    ev_cell = _index_of(col, row, ev_col, ev_row)  # -1: outside the laid cells
    counts = np.bincount(ev_cell[ev_cell >= 0], minlength=laid)
    if keep_rule == "intersects_boundary":
        kept = overlap > 0
        reason = (
            f"cells sharing a positive area with the boundary ({bound_source}): the city's "
            "cells, with or without events so far"
        )
    else:
        kept = counts > 0
        reason = (
            "cells where at least one event happened (asked for)"
            if bound_m is not None
            else "no boundary given: the cells where at least one event happened are the best "
            "evidence of where the city is"
        )
    if not kept.any():
        raise ContractError(
            "no cell kept: the events and the boundary do not overlap",
            field="boundary",
            fix="check that both are WGS84 lon/lat of the same city",
        )

    col, row, cells, overlap, counts = (
        col[kept],
        row[kept],
        cells[kept],
        overlap[kept],
        counts[kept],
    )
    n = len(cells)
    comm_id = np.full(n, UNASSIGNED, dtype=object)
    street_id = np.full(n, UNASSIGNED, dtype=object)
    comm_report: dict[str, Any] = {}
    if comm is not None:
        kept_pairs = _subset_pairs(pairs, kept)
        which, nearest = _assign_communities(cells, comm_m, kept_pairs)
        comm_id = comm["community_id"].to_numpy(object)[which]
        street_id = comm["street_id"].to_numpy(object)[which]
        used = np.bincount(which, minlength=len(comm))
        comm_report = {
            "communities": len(comm),
            "community_key": community_key,
            "street_key": street_key,
            "cells_by_largest_overlap": int(n - nearest.sum()),
            "cells_by_nearest_community": int(nearest.sum()),
            "communities_without_cells": comm["community_id"][used == 0].tolist(),
        }

    kept_index = np.full(laid, -1)
    kept_index[np.nonzero(kept)[0]] = np.arange(n)
    ev_kept = np.where(ev_cell >= 0, kept_index[np.maximum(ev_cell, 0)], -1)
    wgs = _to_wgs84(cells, inv)
    cx, cy = layout.centres(col, row)
    clon, clat = inv.transform(cx, cy)
    prefix = ("c" if shape == "square" else "h") + f"{cell_m:g}"
    grids = pd.DataFrame(
        {
            "grid_id": [
                f"{prefix}_{c}_{r}" for c, r in zip(col.tolist(), row.tolist(), strict=True)
            ],
            "community_id": pd.array(comm_id.astype(str), dtype="str"),
            "street_id": pd.array(street_id.astype(str), dtype="str"),
            "grid_type": UNASSIGNED,
            "area_km2": layout.area / 1e6,
            "centroid_lon": np.asarray(clon, float),
            "centroid_lat": np.asarray(clat, float),
            "geometry": wgs,
        }
    )
    grids["grid_id"] = grids["grid_id"].astype("str")
    grids["grid_type"] = grids["grid_type"].astype("str")
    assert tuple(grids.columns) == GRID_COLUMNS
    far = _great_circle_m(lon, lat, *centre) > FAR_KM * 1000 if bound_m is None else None
    notes = _notes(rows_without, left_out, crs_obj.to_string(), (lon, lat, rows, far), centre)
    report = {
        "crs": f"{crs_obj.to_string()} ({crs_obj.name})",
        "shape": shape,
        "cell_m": cell_m,
        "cell_area_km2": layout.area / 1e6,
        "extent_from": "boundary" if bound_m is not None else "event cells",
        "boundary": bound_source,
        "cells_laid": laid,
        "cells_kept": n,
        "keep_rule": keep_rule,
        "keep_reason": reason,
        "cells_partly_outside_boundary": int((overlap < PARTLY_OUTSIDE).sum())
        if bound_m is not None
        else None,
        "cells_without_events": int((counts == 0).sum()),
        "events": int(lon.size),
        "events_outside_cells": int((ev_kept < 0).sum()),
        "events_without_lon_lat": int(rows_without.size),
        "events_not_placed": int(left_out[0].size),
        "events_far_from_centre": int(far.sum()) if far is not None else None,
        **comm_report,
        "notes": notes,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return GridResult(grids=grids, report=report)


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS84 / UTM zone CRS holding (lon, lat): EPSG 326zz north of the equator, 327zz south."""
    zone = int(min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def read_polygons(path: str | Path) -> pd.DataFrame:
    """Polygons of a GeoJSON file: properties (lower-cased names) + shapely `geometry` (WGS84)."""
    raw = read_grids(path)
    geoms = _parse_geometries(raw["geometry"], Path(path).name)
    frame = raw.drop(columns="geometry").reset_index(drop=True)
    frame["geometry"] = geoms
    return frame


def read_event_points(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """`lon`/`lat` of an events file (CSV/Parquet, e.g. written by `risk import`) as floats."""
    raw = read_events(path, encoding=encoding)
    if not {"lon", "lat"} <= set(raw.columns):
        raise ContractError(
            "grids are laid over points: the events file has no 'lon' and 'lat' columns "
            f"(columns found: {', '.join(map(str, raw.columns))})",
            file=Path(path).name,
            field="lon",
            fix="import the raw file with --lon-col/--lat-col (risk import), or give --boundary",
        )
    points = pd.DataFrame(
        {c: pd.to_numeric(raw[c], errors="coerce").to_numpy(float) for c in ("lon", "lat")},
        index=raw.index,  # the file's row numbers, for make_grid's notes
    )
    points.attrs["file"] = Path(path).name  # for make_grid's messages
    return points


def grids_feature_collection(grids: pd.DataFrame, *, digits: int = 8) -> dict[str, Any]:
    """A grids frame as a GeoJSON FeatureCollection (coordinates rounded to `digits` decimals)."""
    props = grids.drop(columns="geometry")
    geoms = shapely.transform(grids["geometry"].to_numpy(object), lambda c: np.round(c, digits))
    shapes = [json.loads(g) for g in shapely.to_geojson(geoms)]
    records = props.to_dict(orient="records")
    features = [
        {"type": "Feature", "properties": p, "geometry": g}
        for p, g in zip(records, shapes, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def grids_path(path: str | Path) -> Path:
    """`path` as a Path; `ConfigError` unless it ends in .geojson or .json (the readers go by
    the suffix, so a GeoJSON named .csv would be read as a CSV)."""
    path = Path(path)
    if not path.name.lower().endswith(GEOJSON_SUFFIXES):
        raise ConfigError(
            f"--out {path.name}: the grids are written as GeoJSON, which is read back by its "
            f"suffix; give a name ending in {' or '.join(GEOJSON_SUFFIXES)}"
        )
    return path


def write_grids(grids: pd.DataFrame, path: str | Path) -> Path:
    """Write a grids frame as a GeoJSON FeatureCollection (`risk validate --grids` reads it)
    at `path` (:func:`grids_path`)."""
    path = grids_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(grids_feature_collection(grids)), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# cells


class _Layout:
    """Square or flat-topped hexagonal cells of area `cell_m²`, aligned to the CRS origin."""

    def __init__(self, cell_m: float, shape: str) -> None:
        self.shape = shape
        self.c = float(cell_m)
        self.area = self.c * self.c
        # hexagon of the same area: (3√3/2)·a² = c²
        self.a = self.c * math.sqrt(2.0 / (3.0 * _SQRT3))

    def cover(
        self, xmin: float, ymin: float, xmax: float, ymax: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(col, row) of every cell meeting the rectangle."""
        if self.shape == "square":
            cols = np.arange(math.floor(xmin / self.c), math.floor(xmax / self.c) + 1)
            rows = np.arange(math.floor(ymin / self.c), math.floor(ymax / self.c) + 1)
            cc, rr = np.meshgrid(cols, rows, indexing="ij")
            return cc.ravel(), rr.ravel()
        dx, dy = 1.5 * self.a, _SQRT3 * self.a
        cols = np.arange(math.floor(xmin / dx) - 1, math.ceil(xmax / dx) + 2)
        rows = np.arange(math.floor(ymin / dy) - 1, math.ceil(ymax / dy) + 2)
        cc, rr = np.meshgrid(cols, rows, indexing="ij")
        cc, rr = cc.ravel(), rr.ravel()
        box = shapely.box(xmin, ymin, xmax, ymax)
        hit = shapely.intersects(self.polygons(cc, rr), box)
        return cc[hit], rr[hit]

    def cover_size(self, xmin: float, ymin: float, xmax: float, ymax: float) -> int:
        """How many cells `cover` allocates for the rectangle (before keeping any)."""
        if self.shape == "square":
            cols = math.floor(xmax / self.c) - math.floor(xmin / self.c) + 1
            rows = math.floor(ymax / self.c) - math.floor(ymin / self.c) + 1
            return cols * rows
        dx, dy = 1.5 * self.a, _SQRT3 * self.a
        cols = math.ceil(xmax / dx) + 2 - (math.floor(xmin / dx) - 1)
        rows = math.ceil(ymax / dy) + 2 - (math.floor(ymin / dy) - 1)
        return cols * rows

    def centres(self, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.shape == "square":
            return (col + 0.5) * self.c, (row + 0.5) * self.c
        return col * 1.5 * self.a, (row + 0.5 * (col & 1)) * _SQRT3 * self.a

    def polygons(self, col: np.ndarray, row: np.ndarray) -> np.ndarray:
        if self.shape == "square":
            return shapely.box(col * self.c, row * self.c, (col + 1) * self.c, (row + 1) * self.c)
        cx, cy = self.centres(col, row)
        angles = np.radians(np.arange(0, 360, 60))
        ring = np.stack(
            [cx[:, None] + self.a * np.cos(angles), cy[:, None] + self.a * np.sin(angles)], axis=2
        )
        ring = np.concatenate([ring, ring[:, :1]], axis=1)
        return shapely.polygons(ring)

    def locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(col, row) of the cell holding each point (half-open cells: one cell per point)."""
        if self.shape == "square":
            return np.floor(x / self.c).astype(np.int64), np.floor(y / self.c).astype(np.int64)
        # axial coordinates of a flat-topped layout, then cube rounding
        q = (2.0 / 3.0) * x / self.a
        r = (-x / 3.0 + _SQRT3 / 3.0 * y) / self.a
        s = -q - r
        rq, rr, rs = np.round(q), np.round(r), np.round(s)
        dq, dr, ds = np.abs(rq - q), np.abs(rr - r), np.abs(rs - s)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        rq = np.where(fix_q, -rr - rs, rq)
        rr = np.where(fix_r, -rq - rs, rr)
        qi, ri = rq.astype(np.int64), rr.astype(np.int64)
        return qi, ri + (qi - (qi & 1)) // 2


def _unique_cells(col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (col, row) pairs, sorted by col then row (the order `cover` lays cells in)."""
    pairs = np.unique(np.column_stack([col, row]).astype(np.int64), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _check_extent(extent: tuple[float, ...], layout: _Layout, source: str | None) -> None:
    """Refuse a boundary whose extent needs more than `MAX_CELLS` cells (before allocating)."""
    n = layout.cover_size(*extent)
    if n > MAX_CELLS:
        w, h = (extent[2] - extent[0]) / 1000, (extent[3] - extent[1]) / 1000
        at_least = math.ceil(math.sqrt(w * h * 1e6 / MAX_CELLS))
        raise ConfigError(
            f"covering the boundary's extent ({source}: {w:,.1f} km × {h:,.1f} km) with "
            f"{layout.c:g} m cells needs {n:,} cells, more than the cap of {MAX_CELLS:,}: give "
            f"a larger --cell-m (about {at_least:,} m or more) or a smaller boundary"
        )


def _index_of(col: np.ndarray, row: np.ndarray, qcol: np.ndarray, qrow: np.ndarray) -> np.ndarray:
    """Position of each (qcol, qrow) among the (col, row) pairs, -1 when absent (vectorised)."""
    if qcol.size == 0 or col.size == 0:
        return np.full(qcol.size, -1, dtype=np.int64)
    key = (col.astype(np.int64) << 32) + (row.astype(np.int64) & 0xFFFFFFFF)
    qkey = (qcol.astype(np.int64) << 32) + (qrow.astype(np.int64) & 0xFFFFFFFF)
    order = np.argsort(key)
    pos = np.searchsorted(key[order], qkey)
    pos = np.minimum(pos, key.size - 1)
    found = key[order][pos] == qkey
    return np.where(found, order[pos], -1)


def _pair_overlaps(
    cells: np.ndarray, polys: np.ndarray, cell_area: float
) -> tuple[np.ndarray, ...]:
    """-> (cell index, polygon index, overlap as a share of the cell) for every real overlap.

    Shares are rounded to `MIN_OVERLAP_SHARE` and zeros dropped (see its comment). The cells go
    in the tree and the (large) polygons are the queries, so shapely prepares each polygon
    once; cells wholly inside a polygon get share 1 without an intersection.
    """
    tree = STRtree(cells)
    pi, ci = tree.query(polys, predicate="intersects")
    share = np.zeros(pi.size)
    if pi.size:
        n = len(cells)
        pin, cin = tree.query(polys, predicate="contains_properly")
        inside = np.isin(pi * n + ci, pin * n + cin)
        share[inside] = 1.0
        rest = ~inside
        area = shapely.area(shapely.intersection(cells[ci[rest]], polys[pi[rest]]))
        digits = round(-math.log10(MIN_OVERLAP_SHARE))
        share[rest] = np.round(area / cell_area, digits)
    real = share > 0
    return ci[real], pi[real], share[real]


def _overlap_share(pairs: tuple[np.ndarray, ...], n: int) -> np.ndarray:
    """Share of each of `n` cells inside the union of the polygons (they must not overlap; capped at 1)."""
    ci, _, part = pairs
    share = np.zeros(n)
    np.add.at(share, ci, part)
    return np.minimum(share, 1.0)


def _subset_pairs(pairs: tuple[np.ndarray, ...], kept: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs of the kept cells only, with cell indices renumbered among the kept."""
    ci, pi, area = pairs
    new_index = np.cumsum(kept) - 1
    on = kept[ci]
    return new_index[ci[on]], pi[on], area[on]


def _assign_communities(
    cells: np.ndarray, comm: np.ndarray, pairs: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """-> (community row of each cell, mask of cells placed by nearest distance).

    `pairs` = `_pair_overlaps(cells, comm)`: the largest overlap wins, ties to the first community.
    """
    ci, mi, area = pairs
    n = len(cells)
    best = np.full(n, -1, dtype=np.int64)
    if ci.size:
        order = np.lexsort((mi, -area, ci))
        first = np.ones(order.size, dtype=bool)
        first[1:] = ci[order][1:] != ci[order][:-1]
        best[ci[order][first]] = mi[order][first]
    nearest = best < 0
    if nearest.any():
        qi, ti = STRtree(comm).query_nearest(cells[nearest], all_matches=True)
        pick = np.full(int(nearest.sum()), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(pick, qi, ti)
        best[nearest] = pick
    return best, nearest


# --------------------------------------------------------------------------------------------
# inputs


def _check_parameters(cell_m: float, shape: str, keep: str | None) -> None:
    if not (isinstance(cell_m, int | float) and math.isfinite(cell_m) and cell_m >= 1):
        raise ConfigError(f"cell_m must be a number of metres >= 1, got {cell_m!r}")
    if cell_m > MAX_CELL_M:
        raise ConfigError(
            f"cell_m {cell_m:g} m is more than {MAX_CELL_M:g} m: a grid is a patrol area, and a "
            "cell that large is a region (its projection breaks down too); give a smaller one"
        )
    if shape not in SHAPES:
        raise ConfigError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    if keep is not None and keep not in KEEP_RULES:
        raise ConfigError(f"keep must be one of {', '.join(KEEP_RULES)}, got {keep!r}")


def _event_points(
    events: pd.DataFrame | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """-> (lon, lat, row numbers) of the events with lon/lat in range, and the row numbers of
    those without (left out). Rows are the index when it is named `row` (the loaders number the
    file's lines so), else 1..n."""
    if events is None:
        return np.empty(0), np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64)
    if not {"lon", "lat"} <= set(events.columns):
        raise ContractError(
            "events need 'lon' and 'lat' to lay cells over them",
            field="lon",
            fix="import the raw file with --lon-col/--lat-col, or give a boundary",
        )
    lon = pd.to_numeric(events["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(events["lat"], errors="coerce").to_numpy(float)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if events.index.name == ROW_COLUMN:
        rows = events.index.to_numpy(dtype=np.int64)
    else:
        rows = np.arange(1, len(events) + 1, dtype=np.int64)
    return lon[ok], lat[ok], rows[ok], rows[~ok]


def _communities(
    communities: pd.DataFrame | str | Path, key: str | None, street_key: str | None
) -> pd.DataFrame:
    """-> frame `community_id, street_id, geometry` (valid shapely polygons, WGS84)."""
    file = str(communities) if not isinstance(communities, pd.DataFrame) else "communities"
    frame = communities if isinstance(communities, pd.DataFrame) else read_polygons(communities)
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    if key is None:
        raise ConfigError("communities need community_key (--community-key), e.g. pri_neigh")
    for name in (key, street_key):
        if name is not None and name.lower() not in frame.columns:
            found = ", ".join(c for c in frame.columns if c != "geometry")
            raise ContractError(
                f"property not found (properties: {found})",
                file=file,
                field=name,
                fix="name one of the properties with --community-key / --street-key",
            )
    geoms = frame["geometry"].to_numpy(object)
    if not all(isinstance(g, shapely.Geometry) for g in geoms):
        geoms = _parse_geometries(frame["geometry"], file)
    ids = frame[key.lower()].astype("str").str.strip()
    if ids.isna().any() or (ids == "").any() or ids.duplicated().any():
        bad = ids[ids.isna() | (ids == "") | ids.duplicated()].iloc[0]
        raise ContractError(
            "community ids must be present and unique",
            file=file,
            field=key,
            value=bad,
            fix="choose a property that names each polygon once",
        )
    streets = (
        frame[street_key.lower()].astype("str").str.strip().fillna(UNASSIGNED)
        if street_key
        else pd.Series(UNASSIGNED, index=frame.index)
    )
    return pd.DataFrame(
        {
            "community_id": ids.to_numpy(),
            "street_id": streets.to_numpy(),
            "geometry": shapely.make_valid(geoms),
        }
    )


def _boundary(
    boundary: shapely.Geometry | str | Path | None, comm: pd.DataFrame | None
) -> tuple[np.ndarray | None, str | None]:
    """-> (the boundary's non-overlapping polygons in WGS84, where they came from).

    A given boundary is unioned (its parts may overlap); communities are used as they are.
    """
    if isinstance(boundary, shapely.Geometry):
        return shapely.get_parts(shapely.make_valid(boundary)), "given polygon"
    if boundary is not None:
        polys = read_polygons(boundary)["geometry"].to_numpy(object)
        return shapely.get_parts(shapely.union_all(shapely.make_valid(polys))), str(boundary)
    if comm is not None:
        return comm["geometry"].to_numpy(object), f"union of the {len(comm)} communities"
    return None, None


def _parse_geometries(values: pd.Series, file: str) -> np.ndarray:
    text = values.astype("str").str.strip()
    js = text.str.startswith("{").fillna(False).to_numpy()
    out = np.full(len(text), None, dtype=object)
    if js.any():
        out[js] = shapely.from_geojson(text[js].to_numpy(object), on_invalid="ignore")
    if (~js).any():
        out[~js] = shapely.from_wkt(text[~js].to_numpy(object), on_invalid="ignore")
    bad = pd.isna(pd.Series(out, dtype=object)).to_numpy()
    if not bad.any():
        bad = ~np.isin(shapely.get_type_id(out), (3, 6))
    if bad.any():
        first = int(np.nonzero(bad)[0][0])
        raise ContractError(
            f"polygon {first + 1} is missing or not a (Multi)Polygon",
            file=file,
            field="geometry",
            value=str(values.iloc[first])[:80],
            fix="give GeoJSON Polygon or MultiPolygon features",
        )
    return out


def _centre(lon: np.ndarray, lat: np.ndarray, boundary: np.ndarray | None) -> tuple[float, float]:
    if boundary is not None:
        b = shapely.total_bounds(boundary)
        return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return (float(np.median(lon)), float(np.median(lat)))


def _to_metres(geoms: Any, fwd: Transformer) -> Any:
    return shapely.transform(geoms, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1])))


def _to_wgs84(geoms: np.ndarray, inv: Transformer) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.column_stack(inv.transform(c[:, 0], c[:, 1])))


# --------------------------------------------------------------------------------------------
# odd points


def _project(
    lon: np.ndarray, lat: np.ndarray, fwd: Transformer, inv: Transformer
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (x, y, placed): the points in the CRS, and which of them it places: finite x/y that
    project back within `ROUND_TRIP_M` (far from the meridian the series give inf, or a wrong
    place)."""
    if lon.size == 0:
        return np.empty(0), np.empty(0), np.zeros(0, dtype=bool)
    x, y = (np.asarray(v, float) for v in fwd.transform(lon, lat))
    back_lon, back_lat = inv.transform(x, y)
    with np.errstate(invalid="ignore"):
        moved = _great_circle_m(lon, lat, np.asarray(back_lon), np.asarray(back_lat))
    placed = np.isfinite(x) & np.isfinite(y) & (moved <= ROUND_TRIP_M)  # NaN: not placed
    return x, y, placed


def _check_boundary_placed(
    polys: np.ndarray, fwd: Transformer, inv: Transformer, source: str | None, crs: str
) -> None:
    """Refuse a boundary with a vertex the CRS cannot place (the rule of `_project`)."""
    xy = shapely.get_coordinates(polys)
    placed = _project(xy[:, 0], xy[:, 1], fwd, inv)[2]
    if not placed.all():
        lon, lat = xy[int(np.argmin(placed))]
        raise ContractError(
            f"the boundary cannot be projected to {crs}: its point (lon {_deg(lon)}, lat "
            f"{_deg(lat)}) is too far from the zone's meridian (the zone is chosen from the "
            "boundary's centre)",
            field="boundary",
            value=source,
            fix="give the boundary of one city in WGS84 lon/lat, or a --crs that covers it",
        )


def _great_circle_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> np.ndarray:
    """Haversine distance in metres on the sphere of `EARTH_RADIUS_M` (NaN for a NaN/inf point)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    half = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(half, 0.0, 1.0)))


def _nothing_placed(
    events: pd.DataFrame | None, lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, crs: str
) -> ContractError:
    """The error when events have lon/lat in range but the CRS places none of them."""
    return ContractError(
        f"none of the {_events(lon.size)} with lon/lat in range can be placed in {crs}: "
        "projected, each point is infinite or comes back elsewhere (too far from the zone's "
        "meridian, which is chosen from the events' median centre)",
        file=events.attrs.get("file") if events is not None else None,
        field="lon,lat",
        value=_where(rows, lon, lat, 0),
        fix="keep the events of one city (look for far-off or (0, 0) coordinates), or give "
        "--boundary or --crs",
    )


def _notes(
    rows_without: np.ndarray,
    left_out: tuple[np.ndarray, np.ndarray, np.ndarray],
    crs: str,
    placed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
    centre: tuple[float, float],
) -> list[str]:
    """Plain sentences on the events left out or far off, each naming the first one's row."""
    notes = []
    if rows_without.size:
        notes.append(
            f"{_events(rows_without.size)} left out: no lon/lat in range (missing, or beyond "
            f"±180/±90); first: row {rows_without[0]}"
        )
    lon, lat, rows = left_out
    if lon.size:
        null = " — (0, 0) is often written for a missing location" if lon[0] == lat[0] == 0 else ""
        notes.append(
            f"{_events(lon.size)} left out: {crs} cannot place the point (projected, each "
            f"is infinite or comes back more than {ROUND_TRIP_M:g} m away: too far from the "
            f"zone's meridian); first: {_where(rows, lon, lat, 0)}{null}"
        )
    lon, lat, rows, far = placed
    if far is not None and far.any():
        i = int(np.argmax(far))
        km = _great_circle_m(lon[i], lat[i], *centre) / 1000
        notes.append(
            f"{_events(int(far.sum()))} more than {FAR_KM:g} km from the events' median centre "
            f"(lon {_deg(centre[0])}, lat {_deg(centre[1])}); first: {_where(rows, lon, lat, i)}, "
            f"{km:,.0f} km away. Each still gets its own cell (distorted so far from the "
            "zone's meridian): check these coordinates, or give --boundary to keep only the "
            "city's cells"
        )
    null = (lon == 0) & (lat == 0)
    if null.any():  # placeable where the zone is near (0, 0): placed, but named
        i = int(np.argmax(null))
        notes.append(
            f"{_events(int(null.sum()))} at exactly (0, 0), which is often written for a "
            f"missing location; first: {_where(rows, lon, lat, i)}. They are placed as given: "
            "check them, and leave them out of the file if they have no location"
        )
    return notes


def _events(n: int) -> str:
    return f"{n:,} event" + ("" if n == 1 else "s")


def _deg(value: float) -> str:
    return str(round(float(value), 6))


def _where(rows: np.ndarray, lon: np.ndarray, lat: np.ndarray, i: int) -> str:
    return f"row {rows[i]} (lon {_deg(lon[i])}, lat {_deg(lat[i])})"
