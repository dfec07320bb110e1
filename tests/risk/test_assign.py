import numpy as np
import pandas as pd
import pytest
from shapely import box

from risk.assign import assign_points, default_tolerance_m


def lattice_2x2(with_geometry: bool = True) -> pd.DataFrame:
    """Rows 0..3 = g00 g01 g10 g11; cell (r, c) spans lon 121.40+0.01c.., lat 31.20+0.01r.."""
    cells = [
        box(121.40 + c * 0.01, 31.20 + r * 0.01, 121.41 + c * 0.01, 31.21 + r * 0.01)
        for r in range(2)
        for c in range(2)
    ]
    grids = pd.DataFrame(
        {
            "grid_id": ["g00", "g01", "g10", "g11"],
            "centroid_lon": [g.centroid.x for g in cells],
            "centroid_lat": [g.centroid.y for g in cells],
            "geometry": cells if with_geometry else [None] * 4,
        }
    )
    return grids


def test_point_inside_a_cell_goes_to_that_cell():
    # (121.415, 31.215) is the centre of g11 (row 3)
    assert assign_points([121.415], [31.215], lattice_2x2()).tolist() == [3]


def test_point_on_a_shared_edge_goes_to_the_lowest_row():
    # lon 121.41 is the edge between g00 (row 0) and g01 (row 1)
    assert assign_points([121.41], [31.205], lattice_2x2()).tolist() == [0]


def test_point_on_the_corner_of_four_cells_goes_to_the_lowest_row():
    # (121.41, 31.21) touches all four cells; lowest row index is 0
    assert assign_points([121.41], [31.21], lattice_2x2()).tolist() == [0]


def test_point_just_outside_within_tolerance_goes_to_the_nearest_polygon():
    # 0.0002° west of g00's edge at lat 31.205: 0.0002 * 111.195 km * cos(31.205°) = 19 m < 50 m
    assert assign_points([121.3998], [31.205], lattice_2x2()).tolist() == [0]


def test_point_beyond_tolerance_is_outside():
    # 0.001° west: 0.001 * 111.195 * 0.8553 = 95 m > the 50 m default
    assert assign_points([121.399], [31.205], lattice_2x2()).tolist() == [-1]


def test_a_wider_tolerance_accepts_the_same_point():
    # same 95 m point, tolerance 100 m
    assert assign_points([121.399], [31.205], lattice_2x2(), tolerance_m=100).tolist() == [0]


def test_nan_coordinates_are_outside():
    assert assign_points([np.nan, 121.405], [31.205, np.nan], lattice_2x2()).tolist() == [-1, -1]


def test_centroid_only_grids_use_the_nearest_centroid():
    # (121.412, 31.219) is nearest to g11's centroid (121.415, 31.215)
    grids = lattice_2x2(with_geometry=False)
    assert assign_points([121.412], [31.219], grids).tolist() == [3]


def test_centroid_only_default_tolerance_is_the_median_spacing():
    # nearest neighbour of every centroid is 0.01° of lon away:
    # 0.01 * 111.195 km * cos(31.205°) = 1.11195 * 0.85528 = 0.95103 km
    grids = lattice_2x2(with_geometry=False)
    assert default_tolerance_m(grids) == pytest.approx(951.0, abs=1.0)


def test_centroid_only_point_beyond_the_tolerance_is_outside():
    # 0.02° north of g10's centroid: 0.02 * 111.195 km = 2.22 km > 0.951 km
    grids = lattice_2x2(with_geometry=False)
    assert assign_points([121.405], [31.235], grids).tolist() == [-1]


def test_many_points_agree_with_the_lattice_arithmetic():
    # interior points: row = 2 * floor((lat - 31.20) / 0.01) + floor((lon - 121.40) / 0.01)
    rng = np.random.default_rng(3)
    col = rng.integers(0, 2, 2000)
    row = rng.integers(0, 2, 2000)
    lon = 121.40 + 0.01 * col + rng.uniform(0.0005, 0.0095, 2000)
    lat = 31.20 + 0.01 * row + rng.uniform(0.0005, 0.0095, 2000)
    np.testing.assert_array_equal(assign_points(lon, lat, lattice_2x2()), 2 * row + col)
