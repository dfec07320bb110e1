"""Point-in-polygon assignment of event coordinates to grids, vectorised with a shapely STRtree.

Rules (DESIGN §3), in this order for each point:

1. a grid polygon contains the point or has it on its boundary → that grid; a point on an edge
   shared by several grids goes to the one with the lowest row index (deterministic);
2. otherwise the nearest grid within `tolerance_m` — distance to the polygon for grids with a
   geometry (a point a few metres outside the city edge), distance to the centroid for grids
   given by centroids only; ties → lowest row index;
3. otherwise `-1` (outside every grid; validation quarantines it).

Work happens in a local equal-area kilometre projection (`risk.geometry.project_km`), so the
tolerance is a real distance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from risk.geometry import project_km, to_km_geometries

POLYGON_TOLERANCE_M = 50.0
OUTSIDE = -1


def default_tolerance_m(grids: pd.DataFrame) -> float:
    """50 m when every grid has a polygon; else the median nearest-centroid spacing.

    With centroids only, a point inside the city is at most ~0.7 spacings from its centroid, so
    one spacing accepts every such point and rejects points far outside the grid system.
    """
    geoms = _geometries(grids)
    if len(grids) and not pd.isna(pd.Series(geoms, dtype=object)).any():
        return POLYGON_TOLERANCE_M
    if len(grids) < 2:
        return POLYGON_TOLERANCE_M
    lon0, lat0 = _origin(grids)
    x, y = project_km(
        grids["centroid_lon"].to_numpy(float), grids["centroid_lat"].to_numpy(float), lon0, lat0
    )
    pts = shapely.points(x, y)
    # nearest other centroid: exclusive=True skips the point itself
    _, dist = STRtree(pts).query_nearest(
        pts, exclusive=True, return_distance=True, all_matches=False
    )
    return float(np.median(dist) * 1000.0)


def assign_points(
    lon: np.ndarray, lat: np.ndarray, grids: pd.DataFrame, tolerance_m: float | None = None
) -> np.ndarray:
    """Row index in `grids` of the grid holding each point, `-1` when outside (see module doc).

    `grids` needs `centroid_lon`, `centroid_lat` and optionally `geometry` (shapely polygons in
    lon/lat, `None` for centroid-only grids). NaN coordinates give `-1`.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.full(lon.shape[0], OUTSIDE, dtype=np.int64)
    if len(grids) == 0 or lon.shape[0] == 0:
        return out
    if tolerance_m is None:
        tolerance_m = default_tolerance_m(grids)
    lon0, lat0 = _origin(grids)
    targets = _target_geometries(grids, lon0, lat0)
    tree = STRtree(targets)

    ok = np.isfinite(lon) & np.isfinite(lat)
    idx = np.nonzero(ok)[0]
    x, y = project_km(lon[idx], lat[idx], lon0, lat0)
    points = shapely.points(x, y)

    hit_point, hit_grid = tree.query(points, predicate="intersects")
    best = np.full(idx.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, hit_point, hit_grid)
    inside = best != np.iinfo(np.int64).max

    rest = np.nonzero(~inside)[0]
    if rest.size and tolerance_m > 0:
        near_point, near_grid = tree.query_nearest(
            points[rest], max_distance=tolerance_m / 1000.0, all_matches=True
        )
        best_rest = np.full(rest.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best_rest, near_point, near_grid)
        best[rest] = best_rest
    found = best != np.iinfo(np.int64).max
    out[idx[found]] = best[found]
    return out


def _geometries(grids: pd.DataFrame) -> np.ndarray:
    if "geometry" in grids:
        return grids["geometry"].to_numpy(dtype=object)
    return np.full(len(grids), None, dtype=object)


def _origin(grids: pd.DataFrame) -> tuple[float, float]:
    return float(grids["centroid_lon"].mean()), float(grids["centroid_lat"].mean())


def _target_geometries(grids: pd.DataFrame, lon0: float, lat0: float) -> np.ndarray:
    """Polygons in km; centroid-only grids become their centroid point (distance = centroid distance)."""
    geoms = _geometries(grids)
    missing = pd.isna(pd.Series(geoms, dtype=object)).to_numpy()
    km = np.empty(len(grids), dtype=object)
    if (~missing).any():
        km[~missing] = to_km_geometries(geoms[~missing], lon0, lat0)
    if missing.any():
        x, y = project_km(
            grids["centroid_lon"].to_numpy(float)[missing],
            grids["centroid_lat"].to_numpy(float)[missing],
            lon0,
            lat0,
        )
        km[missing] = shapely.points(x, y)
    return km
