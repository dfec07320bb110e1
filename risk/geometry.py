"""Grid geometry: areas in km², centroids, ring-1 / ring-2 neighbour matrices, and grids
dissolved into community and street outlines.

Coordinates are WGS84 lon/lat. Areas and distances use a local equal-area (sinusoidal)
projection centred on the city, accurate to well under 1% across a city-sized extent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from shapely import STRtree

EARTH_RADIUS_KM = 6371.0088


def project_km(
    lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray]:
    """lon/lat degrees -> x/y kilometres in a sinusoidal projection centred at (lon0, lat0)."""
    lat_rad = np.radians(lat)
    x = EARTH_RADIUS_KM * np.radians(np.asarray(lon) - lon0) * np.cos(lat_rad)
    y = EARTH_RADIUS_KM * np.radians(np.asarray(lat) - lat0)
    return x, y


def unproject_km(
    x: np.ndarray, y: np.ndarray, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `project_km`."""
    lat = lat0 + np.degrees(np.asarray(y) / EARTH_RADIUS_KM)
    lon = lon0 + np.degrees(np.asarray(x) / (EARTH_RADIUS_KM * np.cos(np.radians(lat))))
    return lon, lat


def to_km_geometries(geoms: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    """Project an array of shapely geometries from lon/lat to local kilometres."""

    def _transform(coords: np.ndarray) -> np.ndarray:
        x, y = project_km(coords[:, 0], coords[:, 1], lon0, lat0)
        return np.column_stack([x, y])

    return shapely.transform(geoms, _transform)


def areas_km2(geoms: np.ndarray) -> np.ndarray:
    """Area of each lon/lat polygon in km²."""
    geoms = np.asarray(geoms, dtype=object)
    bounds = shapely.total_bounds(geoms)
    lon0, lat0 = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    return shapely.area(to_km_geometries(geoms, lon0, lat0))


def centroid_distances_km(grids: pd.DataFrame) -> np.ndarray:
    """Dense n×n centroid distance matrix in km (fine for a few thousand grids)."""
    lon0, lat0 = grids["centroid_lon"].mean(), grids["centroid_lat"].mean()
    x, y = project_km(
        grids["centroid_lon"].to_numpy(), grids["centroid_lat"].to_numpy(), lon0, lat0
    )
    return np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])


def ring1_matrix(grids: pd.DataFrame) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency (no self loops) between grids, in frame row order.

    Polygons are neighbours when they touch or overlap (queen contiguity), with a small
    tolerance for slivers. Grids given only by centroids are neighbours when their centroids
    are within 1.5× the median nearest-neighbour spacing.
    """
    n = len(grids)
    geoms = grids["geometry"].to_numpy(dtype=object) if "geometry" in grids else np.full(n, None)
    has_geom = ~pd.isna(pd.Series(geoms)).to_numpy()
    if n == 0:
        return sp.csr_matrix((0, 0), dtype=np.float32)
    if has_geom.all():
        lon0, lat0 = grids["centroid_lon"].mean(), grids["centroid_lat"].mean()
        km = to_km_geometries(geoms, lon0, lat0)
        tolerance = 1e-3  # 1 m
        tree = STRtree(km)
        left, right = tree.query(shapely.buffer(km, tolerance), predicate="intersects")
    else:
        dist = centroid_distances_km(grids)
        np.fill_diagonal(dist, np.inf)
        spacing = np.median(dist.min(axis=1)) if n > 1 else 0.0
        left, right = np.nonzero(dist <= 1.5 * spacing)
    keep = left != right
    data = np.ones(int(keep.sum()), dtype=np.float32)
    adj = sp.csr_matrix((data, (left[keep], right[keep])), shape=(n, n))
    adj = ((adj + adj.T) > 0).astype(np.float32)
    return adj.tocsr()


def ring2_matrix(ring1: sp.csr_matrix) -> sp.csr_matrix:
    """Grids exactly two steps away: reachable in two steps, not in one, and not self."""
    n = ring1.shape[0]
    two = (ring1 @ ring1 + ring1) > 0
    ring2 = (
        two.astype(np.int8) - (ring1 > 0).astype(np.int8) - sp.eye(n, dtype=np.int8, format="csr")
    )
    ring2 = (ring2 > 0).astype(np.float32)
    ring2.eliminate_zeros()
    return ring2.tocsr()


OUTLINE_PRECISION = 1e-7  # degrees (about 1 cm): edges closer than this are the same edge


def dissolve(geoms: Sequence[Any], groups: Sequence[str]) -> dict[str, shapely.Geometry]:
    """Union of the polygons of each group (e.g. grids by community or by street), for outlines.

    Coordinates are snapped to `OUTLINE_PRECISION` first, so neighbours whose shared edges
    differ by float noise merge without slivers. ``None`` geometries are skipped; a group with
    no polygon gets no entry. Keys come out sorted."""
    geoms = np.asarray(geoms, dtype=object)
    groups = np.asarray(groups, dtype=object)
    if len(geoms) != len(groups):
        raise ValueError(f"{len(geoms)} geometries but {len(groups)} group labels")
    has = np.array([isinstance(g, shapely.Geometry) and not g.is_empty for g in geoms], bool)
    snapped = shapely.set_precision(geoms[has], OUTLINE_PRECISION)
    labels = groups[has].astype(str)
    out: dict[str, shapely.Geometry] = {}
    for label in sorted(set(labels)):
        union = shapely.union_all(snapped[labels == label])
        if not union.is_empty:
            out[label] = union
    return out
