"""Centroid geometry for the spatial baselines: sparse pairs of grids within a radius, in km.

Distances come from `risk.geometry.project_km` (local sinusoidal projection centred on the
mean centroid, as `centroid_distances_km` does) and a k-d tree, so a city of tens of thousands
of grids never needs a dense G×G matrix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from risk.geometry import project_km


def centroid_xy_km(grids: pd.DataFrame) -> np.ndarray:
    """(G, 2) centroid coordinates in km."""
    lon = grids["centroid_lon"].to_numpy(dtype=float)
    lat = grids["centroid_lat"].to_numpy(dtype=float)
    x, y = project_km(lon, lat, float(lon.mean()), float(lat.mean()))
    return np.column_stack([x, y])


def pairs_within_km(xy: np.ndarray, radius_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered pair (i, j), self pairs included, with centroid distance <= radius; and the distance."""
    n = len(xy)
    tree = cKDTree(xy)
    half = tree.query_pairs(radius_km, output_type="ndarray")
    rows = np.concatenate([np.arange(n), half[:, 0], half[:, 1]])
    cols = np.concatenate([np.arange(n), half[:, 1], half[:, 0]])
    dist = np.hypot(*(xy[rows] - xy[cols]).T)
    return rows, cols, dist


def nearest_neighbour_spacing_km(xy: np.ndarray) -> float:
    """Median distance from a grid centroid to its nearest other centroid (1 km for a lone grid)."""
    if len(xy) < 2:
        return 1.0
    dist, _ = cKDTree(xy).query(xy, k=2)
    return float(np.median(dist[:, 1]))


def sparse_weights(
    rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n: int
) -> sp.csr_matrix:
    """(n, n) matrix W with W[row, col] = weight: row is the receiving grid, col the event's grid."""
    return sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
