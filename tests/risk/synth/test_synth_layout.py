import numpy as np
import pytest
import shapely

from risk.contract import GRID_COLUMNS, GRID_OPTIONAL_COLUMNS, GRID_TYPES
from risk.geometry import project_km, ring1_matrix


def test_grids_have_contract_columns_and_unique_ids(small_city):
    grids = small_city.grids
    assert list(grids.columns[: len(GRID_COLUMNS)]) == list(GRID_COLUMNS)
    assert set(GRID_OPTIONAL_COLUMNS) <= set(grids.columns)
    assert "attr_shops" in grids
    assert grids["grid_id"].is_unique
    assert grids["grid_id"].iloc[0] == "G00001" and len(grids) == 400
    assert set(grids["grid_type"]) <= set(GRID_TYPES)


def test_cells_are_quarter_to_half_square_km_and_tile_without_overlap(small_city):
    area = small_city.grids["area_km2"]
    # lattice spacing 0.6 km -> 0.36 km² per cell; edge cells are clipped or widened
    assert 0.30 < area.median() < 0.42
    assert ((area > 0.2) & (area < 0.6)).mean() > 0.95
    geoms = small_city.grids["geometry"].to_numpy()
    # cells tile: the union's area equals the sum of the areas (no overlaps), to 0.1%
    total = shapely.area(shapely.union_all(geoms))
    assert shapely.area(geoms).sum() == pytest.approx(total, rel=1e-3)


def test_cells_have_lattice_like_neighbours(small_city):
    degree = np.asarray(ring1_matrix(small_city.grids).sum(axis=1)).ravel()
    # Voronoi cells of a jittered square lattice: about 6 neighbours inside, fewer at the edge
    assert 5.0 <= np.median(degree) <= 7.0
    assert degree.min() >= 1


def test_hierarchy_sizes(spring_city):
    grids = spring_city.grids
    per_community = grids.groupby("community_id").size()
    per_street = grids.groupby("street_id")["community_id"].nunique()
    # 1000 grids / 20 per community = 50 communities; 50 / 7 per street ≈ 7 streets
    assert len(per_community) == 50 and len(per_street) == 7
    assert per_community.between(8, 35).all()
    assert per_street.between(3, 12).all()
    # each community lies in exactly one street
    assert (grids.groupby("community_id")["street_id"].nunique() == 1).all()


def test_types_cluster_old_compounds_in_the_centre_rural_at_the_edge(spring_city):
    grids = spring_city.grids
    x, y = project_km(grids["centroid_lon"], grids["centroid_lat"], 120.15, 30.27)
    dist = grids.assign(dist=np.hypot(x, y)).groupby("grid_type")["dist"].mean()
    assert dist["old_residential"] < 0.6 * dist["rural"]
    assert dist["commercial"] < dist["industrial"]
    # dominant type per community: on average at least 60% of a community shares one type
    share = grids.groupby("community_id")["grid_type"].agg(
        lambda t: t.value_counts().iloc[0] / len(t)
    )
    assert share.mean() > 0.6


def test_population_structure_differs_by_type(spring_city):
    by_type = spring_city.grids.groupby("grid_type")
    elderly = by_type["elderly_share"].mean()
    floating = by_type["floating_share"].mean()
    population = by_type["population"].median()
    # configured means: elderly 0.32 old vs 0.12 new; floating 0.60 commercial vs 0.15 new
    assert elderly["old_residential"] == pytest.approx(0.32, abs=0.03)
    assert elderly["new_residential"] == pytest.approx(0.12, abs=0.03)
    assert floating["commercial"] == pytest.approx(0.60, abs=0.04)
    # configured medians: 3000 old residential vs 600 commercial residents
    assert population["old_residential"] == pytest.approx(3000, rel=0.2)
    assert population["commercial"] == pytest.approx(600, rel=0.25)
    alone_per_1000 = by_type.apply(
        lambda g: 1000 * g["elderly_alone"].sum() / g["population"].sum()
    )
    # 0.32 × 0.22 × 1000 ≈ 70 living alone per 1000 residents in old compounds vs 0.12 × 0.08 ≈ 10
    assert alone_per_1000["old_residential"] == pytest.approx(70, rel=0.2)
    assert alone_per_1000["new_residential"] == pytest.approx(10, rel=0.35)


def test_kmeans_in_chunks_labels_every_point_as_at_once(monkeypatch):
    # issue 18: points are labelled in chunks (a province's distance matrix would not fit);
    # chunks of 7 point-centre distances must give exactly the labels of one big matrix
    from risk.synth import layout

    xy = np.random.default_rng(3).uniform(0, 10, size=(300, 2))
    whole = layout._kmeans(xy, 12, np.random.default_rng(1))
    monkeypatch.setattr(layout, "_KMEANS_CELLS", 7)
    assert np.array_equal(layout._kmeans(xy, 12, np.random.default_rng(1)), whole)
    assert len(np.unique(whole)) == 12
