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
* **Which cells** — over the boundary's (or the events') extent, keep
  `intersects_boundary`: cells sharing a positive area with the boundary (overlaps under
  `MIN_OVERLAP_SHARE` of a cell, reprojection noise along a shared edge, do not count), or
  `has_events`: cells holding at least one event. The first is the default when a boundary is
  known (given, or the union of the communities): a cell of the city with no event yet is
  still a place to forecast, and choosing cells by their events uses every event in the file,
  so a backtest's cell set would depend on its own evaluation period. Without a boundary the
  events' cells are the best evidence of where the city is.
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
from shapely import STRtree

from risk.contract import GRID_COLUMNS, UNASSIGNED
from risk.errors import ConfigError, ContractError
from risk.loaders import read_events, read_grids
from risk.validation import coordinates_look_swapped

SHAPES = ("square", "hex")
PARTLY_OUTSIDE = 0.999  # a cell with more than 0.1% of its area outside the boundary (report)
KEEP_RULES = ("intersects_boundary", "has_events")
# Overlaps below this share of a cell's area are reprojection noise along shared edges, not
# overlaps; shares are compared after rounding to it (so an even split is an exact tie).
MIN_OVERLAP_SHARE = 1e-6
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
    """
    started = time.perf_counter()
    _check_parameters(cell_m, shape, keep)
    lon, lat = _event_points(events)
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
    crs_obj = CRS.from_user_input(crs) if crs else utm_crs(*centre)
    if not crs_obj.is_projected or crs_obj.axis_info[0].unit_name not in ("metre", "meter"):
        raise ConfigError(f"crs {crs!r} is not a projected CRS in metres")
    fwd = Transformer.from_crs("EPSG:4326", crs_obj, always_xy=True)
    inv = Transformer.from_crs(crs_obj, "EPSG:4326", always_xy=True)
    x, y = fwd.transform(lon, lat) if lon.size else (np.empty(0), np.empty(0))
    comm_m = _to_metres(comm["geometry"].to_numpy(object), fwd) if comm is not None else None
    from_communities = boundary is None and comm_m is not None
    bound_m = (
        comm_m
        if from_communities
        else _to_metres(bound_wgs, fwd)
        if bound_wgs is not None
        else None
    )

    if bound_m is not None:
        extent = tuple(shapely.total_bounds(bound_m))
    else:
        extent = (x.min(), y.min(), x.max(), y.max())
    layout = _Layout(cell_m, shape)
    col, row = layout.cover(*extent)
    cells = layout.polygons(col, row)
    laid = len(cells)

    pairs = _pair_overlaps(cells, comm_m, layout.area) if comm_m is not None else None
    overlap = np.zeros(laid)
    if bound_m is not None:
        overlap = _overlap_share(
            pairs if from_communities else _pair_overlaps(cells, bound_m, layout.area), laid
        )
    ev_col, ev_row = layout.locate(x, y)
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
    report = {
        "crs": f"{crs_obj.to_string()} ({crs_obj.name})",
        "shape": shape,
        "cell_m": cell_m,
        "cell_area_km2": layout.area / 1e6,
        "extent_from": "boundary" if bound_m is not None else "events",
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
        **comm_report,
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
        {c: pd.to_numeric(raw[c], errors="coerce").to_numpy(float) for c in ("lon", "lat")}
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


def write_grids(grids: pd.DataFrame, path: str | Path) -> Path:
    """Write a grids frame as a GeoJSON FeatureCollection (`risk validate --grids` reads it)."""
    path = Path(path)
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
    if shape not in SHAPES:
        raise ConfigError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    if keep is not None and keep not in KEEP_RULES:
        raise ConfigError(f"keep must be one of {', '.join(KEEP_RULES)}, got {keep!r}")


def _event_points(events: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Finite lon/lat of the events (rows without coordinates are left out)."""
    if events is None:
        return np.empty(0), np.empty(0)
    if not {"lon", "lat"} <= set(events.columns):
        raise ContractError(
            "events need 'lon' and 'lat' to lay cells over them",
            field="lon",
            fix="import the raw file with --lon-col/--lat-col, or give a boundary",
        )
    lon = pd.to_numeric(events["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(events["lat"], errors="coerce").to_numpy(float)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    return lon[ok], lat[ok]


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
