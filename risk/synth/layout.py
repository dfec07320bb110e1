"""The city's map: Voronoi grid cells, communities and streets, grid types and population.

Cells are Voronoi polygons of a jittered square lattice, clipped to the city outline (the
buffered convex hull), so neighbours touch as in a real grid map. Communities are compact
k-means blocks of cells, streets compact blocks of communities. Grid types cluster: each
community has a dominant type drawn from its zone's mix (old compounds and commercial
centres in the core, rural and industrial land at the edge).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from risk.geometry import areas_km2, unproject_km
from risk.synth.params import SynthParams

ZONES = ("core", "middle", "edge")
_KMEANS_CELLS = 4_000_000  # point-centre distances held at once by `_kmeans`


def build_layout(n_grids: int, params: SynthParams, rng: np.random.Generator) -> pd.DataFrame:
    """Grids frame in contract shape (`GRID_COLUMNS`) plus population columns and `attr_shops`.

    Rows are ordered by street, community and position; `grid_id` follows that order.
    """
    xy = _lattice_points(n_grids, params, rng)
    cells_km = _voronoi_cells(xy, params)
    community = _kmeans(xy, max(1, round(n_grids / params.grids_per_community)), rng)
    comm_xy = _centres(xy, community)
    street_of_comm = _kmeans(
        comm_xy, max(1, round(len(comm_xy) / params.communities_per_street)), rng
    )
    street = street_of_comm[community]

    radius = np.hypot(xy[:, 0], xy[:, 1])
    zone = _zone(radius / radius.max(), params)
    comm_zone = _zone(np.hypot(comm_xy[:, 0], comm_xy[:, 1]) / radius.max(), params)
    grid_type = _grid_types(zone, comm_zone, community, params, rng)

    order = np.lexsort((xy[:, 0], -xy[:, 1], community, street))
    xy, cells_km, community, street, grid_type = (
        xy[order],
        cells_km[order],
        community[order],
        street[order],
        grid_type[order],
    )
    # Renumber communities and streets in order of first appearance.
    community = _renumber(community)
    street = _renumber(street)

    cells = shapely.transform(cells_km, lambda c: np.column_stack(_to_lonlat(c, params)))
    cells = shapely.set_precision(cells, 1e-6)
    centroids = shapely.centroid(cells)
    grids = pd.DataFrame(
        {
            "grid_id": [f"G{i + 1:05d}" for i in range(n_grids)],
            "community_id": [f"C{c + 1:04d}" for c in community],
            "street_id": [f"S{s + 1:03d}" for s in street],
            "grid_type": grid_type,
            "area_km2": np.round(areas_km2(cells), 6),
            "centroid_lon": np.round(shapely.get_x(centroids), 6),
            "centroid_lat": np.round(shapely.get_y(centroids), 6),
            "geometry": cells,
        }
    )
    return pd.concat([grids, _population(grid_type, params, rng)], axis=1)


def _to_lonlat(coords: np.ndarray, params: SynthParams) -> tuple[np.ndarray, np.ndarray]:
    return unproject_km(coords[:, 0], coords[:, 1], params.centre_lon, params.centre_lat)


def _lattice_points(n: int, params: SynthParams, rng: np.random.Generator) -> np.ndarray:
    """The `n` jittered lattice points nearest the centre, in km."""
    spacing = float(np.sqrt(params.cell_km2))
    side = int(np.ceil(np.sqrt(n * 1.6))) + 2
    ij = np.arange(side) - (side - 1) / 2
    gx, gy = np.meshgrid(ij, ij)
    base = np.column_stack([gx.ravel(), gy.ravel()]) * spacing
    pts = base + rng.uniform(-params.jitter, params.jitter, size=base.shape) * spacing
    keep = np.argsort(np.hypot(pts[:, 0], pts[:, 1]), kind="stable")[:n]
    return pts[np.sort(keep)]


def _voronoi_cells(xy: np.ndarray, params: SynthParams) -> np.ndarray:
    spacing = float(np.sqrt(params.cell_km2))
    points = shapely.points(xy)
    outline = shapely.buffer(shapely.convex_hull(shapely.multipoints(points)), 0.5 * spacing)
    diagram = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=outline, ordered=True)
    cells = shapely.intersection(shapely.get_parts(diagram), outline)
    return np.asarray(cells, dtype=object)


def _kmeans(xy: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 20) -> np.ndarray:
    """Lloyd's k-means: compact contiguous blocks. Returns a label per point."""
    centres = xy[np.sort(rng.choice(len(xy), size=k, replace=False))]
    labels = np.zeros(len(xy), dtype=np.int64)
    # Points in chunks of about `_KMEANS_CELLS` point-centre distances: a province's 100,000
    # grids and 5,000 communities would need a 4 GB matrix per step at once (issue 18).
    chunk = max(1, _KMEANS_CELLS // max(k, 1))
    for _ in range(iterations):  # a handful of iterations, vectorised over points
        for lo in range(0, len(xy), chunk):
            part = xy[lo : lo + chunk]
            dist = (part[:, None, 0] - centres[None, :, 0]) ** 2 + (
                part[:, None, 1] - centres[None, :, 1]
            ) ** 2
            labels[lo : lo + chunk] = dist.argmin(axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.column_stack(
            [np.bincount(labels, weights=xy[:, d], minlength=k) for d in range(2)]
        )
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return _renumber(labels)


def _centres(xy: np.ndarray, labels: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels)
    return (
        np.column_stack([np.bincount(labels, weights=xy[:, d]) for d in range(2)]) / counts[:, None]
    )


def _renumber(labels: np.ndarray) -> np.ndarray:
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(labels.max() + 1, dtype=np.int64)
    rank[labels[np.sort(first)]] = np.arange(len(first))
    return rank[labels]


def _zone(r: np.ndarray, params: SynthParams) -> np.ndarray:
    return np.searchsorted(np.asarray(params.zone_edges), r, side="right")


def _draw_types(zone: np.ndarray, params: SynthParams, rng: np.random.Generator) -> np.ndarray:
    types = np.empty(len(zone), dtype=object)
    u = rng.random(len(zone))
    for z, name in enumerate(ZONES):  # one pass per zone
        mix = params.zone_type_mix[name]
        names = list(mix)
        cum = np.cumsum([mix[t] for t in names])
        cum /= cum[-1]
        inside = zone == z
        types[inside] = np.asarray(names, dtype=object)[
            np.searchsorted(cum, u[inside], side="right")
        ]
    return types


def _grid_types(
    zone: np.ndarray,
    comm_zone: np.ndarray,
    community: np.ndarray,
    params: SynthParams,
    rng: np.random.Generator,
) -> np.ndarray:
    dominant = _draw_types(comm_zone, params, rng)[community]
    own = _draw_types(zone, params, rng)
    take_dominant = rng.random(len(zone)) < params.community_type_share
    types = np.where(take_dominant, dominant, own)
    return types.astype(str)


def _beta(mean: np.ndarray, conc: float, rng: np.random.Generator) -> np.ndarray:
    return rng.beta(mean * conc, (1.0 - mean) * conc)


def _population(
    grid_type: np.ndarray, params: SynthParams, rng: np.random.Generator
) -> pd.DataFrame:
    def per_type(table: dict[str, float]) -> np.ndarray:
        return np.array([table[t] for t in grid_type], dtype=float)

    n = len(grid_type)
    population = np.round(
        per_type(params.population_median) * np.exp(rng.normal(0.0, params.population_sigma, n))
    ).astype(np.int64)
    households = np.round(population / per_type(params.household_size)).astype(np.int64)
    c = params.share_concentration
    elderly_share = _beta(per_type(params.elderly_share), c, rng)
    floating_share = _beta(per_type(params.floating_share), c, rng)
    rental_share = _beta(per_type(params.rental_share), c, rng)
    elderly = np.round(population * elderly_share).astype(np.int64)
    elderly_alone = rng.binomial(elderly, per_type(params.elderly_alone_rate))
    special_care = rng.poisson(population * params.special_care_rate)
    shops = rng.poisson(per_type(params.shops_mean))
    return pd.DataFrame(
        {
            "population": population,
            "households": households,
            "elderly_share": np.round(elderly_share, 4),
            "floating_share": np.round(floating_share, 4),
            "rental_share": np.round(rental_share, 4),
            "elderly_alone": elderly_alone.astype(np.int64),
            "special_care": special_care.astype(np.int64),
            "attr_shops": shops.astype(np.int64),
        }
    )
