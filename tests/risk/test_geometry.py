import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box

from risk.geometry import areas_km2, dissolve, ring1_matrix, ring2_matrix


def lattice(n: int, size_deg: float = 0.01) -> pd.DataFrame:
    cells = [
        box(
            110 + c * size_deg, 30 + r * size_deg, 110 + (c + 1) * size_deg, 30 + (r + 1) * size_deg
        )
        for r in range(n)
        for c in range(n)
    ]
    return pd.DataFrame(
        {
            "grid_id": [f"g{i}" for i in range(n * n)],
            "geometry": cells,
            "centroid_lon": [g.centroid.x for g in cells],
            "centroid_lat": [g.centroid.y for g in cells],
        }
    )


def test_area_of_a_0_01_degree_cell_at_30n():
    # 0.01° lat = 1.11195 km; 0.01° lon at 30.005°N = 1.11195 * cos(30.005°) = 0.96287 km
    area = areas_km2(lattice(1)["geometry"].to_numpy())[0]
    assert abs(area - 1.11195 * 0.96287) < 0.002


def test_rings_on_a_3x3_lattice():
    # cells numbered row-major:  6 7 8 / 3 4 5 / 0 1 2
    grids = lattice(3)
    r1 = ring1_matrix(grids).toarray()
    assert r1[4].sum() == 8  # centre touches all (queen)
    assert sorted(np.nonzero(r1[0])[0]) == [1, 3, 4]
    r2 = ring2_matrix(ring1_matrix(grids)).toarray()
    assert sorted(np.nonzero(r2[0])[0]) == [2, 5, 6, 7, 8]
    assert r2[4].sum() == 0
    assert (r1 == r1.T).all() and np.diag(r1).sum() == 0


def test_centroid_only_grids_use_spacing():
    grids = lattice(3).drop(columns="geometry")
    r1 = ring1_matrix(grids).toarray()
    # spacings at 30N: lon 0.963 km (the minimum), lat 1.112 km, diagonal 1.471 km.
    # 1.5 x 0.963 = 1.444 km reaches the 4 rook neighbours but not the diagonals.
    assert sorted(np.nonzero(r1[4])[0]) == [1, 3, 5, 7]


def test_dissolve_merges_each_group_and_closes_float_noise():
    geoms = [
        shapely.box(0, 0, 1, 1),
        shapely.box(0, 1, 1, 2),  # shares g0's top edge
        shapely.box(1, 0, 2, 1),
        shapely.box(2 + 1e-9, 0, 3, 1),  # 1e-9° off its neighbour: the same edge
        None,  # no shape: skipped
        shapely.box(5, 5, 6, 6),  # its own group, apart
    ]
    out = dissolve(geoms, ["A", "A", "B", "B", "C", "D"])
    assert list(out) == ["A", "B", "D"]  # C has no polygon
    assert out["A"].geom_type == "Polygon" and out["A"].equals(shapely.box(0, 0, 1, 2))
    assert out["B"].geom_type == "Polygon" and len(out["B"].interiors) == 0
    assert out["B"].area == pytest.approx(2.0)
    # unsnapped, the two squares of B stay apart: the snapping is what merges them
    assert shapely.union_all(geoms[2:4]).geom_type == "MultiPolygon"
    with pytest.raises(ValueError, match="2 geometries but 1 group"):
        dissolve(geoms[:2], ["A"])
