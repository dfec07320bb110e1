"""Laying grids: cell counts and areas for known boundaries, one cell per event, communities.

Shapes are drawn in UTM zone 16N metres (EPSG:32616, Chicago's zone) and projected to WGS84,
so the expected cells can be worked out by hand: a rectangle from x = 440,000 to 442,000 and
y = 4,630,000 to 4,631,500 is exactly 4 × 3 cells of 500 m (columns 880-883, rows 9260-9262).
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from typer.testing import CliRunner

from risk.cli import EXIT_CONFIG, EXIT_INPUT, app
from risk.errors import ConfigError, ContractError
from risk.gridmake import make_grid, utm_crs, write_grids
from risk.loaders import load_grids
from risk.validation import validate_events

TO_WGS = Transformer.from_crs("EPSG:32616", "EPSG:4326", always_xy=True)
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32616", always_xy=True)
X0, Y0 = 440_000.0, 4_630_000.0


def wgs_box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A rectangle given in UTM metres, as a WGS84 polygon (edges densified every 10 m)."""
    box = shapely.segmentize(shapely.box(x0, y0, x1, y1), 10.0)
    return shapely.transform(box, lambda c: np.column_stack(TO_WGS.transform(c[:, 0], c[:, 1])))


def points(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    lon, lat = TO_WGS.transform(np.asarray(x, float), np.asarray(y, float))
    return pd.DataFrame({"lon": lon, "lat": lat})


RECT = wgs_box(X0, Y0, X0 + 2000, Y0 + 1500)


def test_utm_zone_from_the_centre():
    assert utm_crs(-87.7, 41.8).to_epsg() == 32616  # Chicago
    assert utm_crs(121.47, 31.23).to_epsg() == 32651  # Shanghai
    assert utm_crs(151.2, -33.9).to_epsg() == 32756  # Sydney: south


def test_rectangle_of_2_by_1_5_km_gives_exactly_12_cells_of_a_quarter_km2():
    grids, report = make_grid(boundary=RECT, cell_m=500)
    assert len(grids) == 12
    assert sorted(grids["grid_id"]) == sorted(
        f"c500_{c}_{r}" for c in range(880, 884) for r in range(9260, 9263)
    )
    assert (grids["area_km2"] == 0.25).all()
    # the polygons really are 500 m squares on the ground (in the UTM plane)
    metres = shapely.transform(
        grids["geometry"].to_numpy(object),
        lambda c: np.column_stack(TO_UTM.transform(c[:, 0], c[:, 1])),
    )
    assert np.allclose(shapely.area(metres), 250_000.0, rtol=1e-9)
    assert report["crs"].startswith("EPSG:32616")
    assert (report["cells_kept"], report["keep_rule"]) == (12, "intersects_boundary")
    assert report["cells_partly_outside_boundary"] == 0
    # cells beyond the edges may be laid (the bounding box ends ON a cell edge) but only
    # touch the rectangle: not kept
    assert report["cells_laid"] >= 12


def test_shifted_rectangle_meets_5_by_4_cells():
    grids, report = make_grid(
        boundary=wgs_box(X0 + 250, Y0 + 250, X0 + 2250, Y0 + 1750), cell_m=500
    )
    assert len(grids) == 20
    assert report["cells_partly_outside_boundary"] == 14  # the ring of 5 + 5 + 2 + 2 edge cells


def test_same_place_same_id_whatever_the_extent():
    small, _ = make_grid(boundary=wgs_box(X0, Y0, X0 + 500, Y0 + 500), cell_m=500)
    assert small["grid_id"].tolist() == ["c500_880_9260"]
    big, _ = make_grid(boundary=RECT, cell_m=500)
    row = big.set_index("grid_id").loc["c500_880_9260"]
    assert math.isclose(row["centroid_lon"], small["centroid_lon"].iloc[0], abs_tol=1e-12)


def test_hexagons_have_the_square_area_and_tile_the_rectangle():
    grids, report = make_grid(boundary=RECT, cell_m=500, shape="hex")
    assert grids["grid_id"].str.startswith("h500_").all()
    metres = shapely.transform(
        grids["geometry"].to_numpy(object),
        lambda c: np.column_stack(TO_UTM.transform(c[:, 0], c[:, 1])),
    )
    assert np.allclose(shapely.area(metres), 250_000.0, rtol=1e-9)
    # no gaps, no overlaps: the cells' pieces inside the rectangle add up to its 3 km²
    rect_m = shapely.box(X0, Y0, X0 + 2000, Y0 + 1500)
    inside = shapely.area(shapely.intersection(metres, rect_m)).sum()
    assert math.isclose(inside, 3_000_000.0, rel_tol=1e-9)
    assert shapely.area(shapely.union_all(metres)) == pytest.approx(len(grids) * 250_000.0)
    # side a with (3√3/2)·a² = 500²: the flat-to-flat width is √3·a = 537.28 m
    a = 500 * math.sqrt(2 / (3 * math.sqrt(3)))
    assert shapely.length(metres[0]) == pytest.approx(6 * a)
    assert report["cells_kept"] == len(grids)


def test_one_hexagon_around_a_point_deep_inside_it():
    # hex (col, row) is centred at x = 1.5·a·col, y = (row + 0.5·(col & 1))·√3·a; a 10 m
    # square around the centre of (900, 8000) lies in that hexagon only
    a = 500 * math.sqrt(2 / (3 * math.sqrt(3)))
    cx, cy = 900 * 1.5 * a, (8000 + 0) * math.sqrt(3) * a
    grids, _ = make_grid(boundary=wgs_box(cx - 5, cy - 5, cx + 5, cy + 5), shape="hex")
    assert grids["grid_id"].tolist() == ["h500_900_8000"]


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_every_event_inside_the_city_lands_in_exactly_one_cell(shape):
    rng = np.random.default_rng(3)
    x = rng.uniform(X0 + 1, X0 + 1999, 400)
    y = rng.uniform(Y0 + 1, Y0 + 1499, 400)
    # plus points exactly on cell corners and edges
    x = np.concatenate([x, [X0 + 500, X0 + 1000, X0 + 750]])
    y = np.concatenate([y, [Y0 + 500, Y0 + 1000, Y0 + 500]])
    events = points(x, y)
    grids, report = make_grid(events, boundary=RECT, shape=shape)
    assert report["events"] == 403 and report["events_outside_cells"] == 0
    inside = shapely.contains_xy(
        grids["geometry"].to_numpy(object)[:, None],
        events["lon"].to_numpy()[None, :],
        events["lat"].to_numpy()[None, :],
    )
    strictly = inside.sum(axis=0)
    assert (strictly[:400] == 1).all()  # random points: in exactly one polygon
    result = validate_events(events.assign(occurred_at="2024-01-01", category="x"), grids)
    assert len(result.valid) == 403  # and the contract's assignment places every one


def test_has_events_rule_without_a_boundary():
    events = points(
        [X0 + 10, X0 + 20, X0 + 1010, X0 + 1900], [Y0 + 10, Y0 + 30, Y0 + 10, Y0 + 1400]
    )
    grids, report = make_grid(events)
    assert sorted(grids["grid_id"]) == ["c500_880_9260", "c500_882_9260", "c500_883_9262"]
    assert report["keep_rule"] == "has_events"
    assert "no boundary" in report["keep_reason"]
    # only the 3 cells holding events are laid (not the 4 x 3 cells of the points' extent)
    assert (report["cells_laid"], report["cells_without_events"]) == (3, 0)
    assert report["extent_from"] == "event cells"
    assert (report["events_far_from_centre"], report["notes"]) == (0, [])
    assert (grids["community_id"] == "unassigned").all()


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_without_a_boundary_the_grid_is_the_one_the_events_extent_gave(shape):
    """Only the events' cells are laid now; before, the whole extent of the points was covered
    and the cells without events dropped. A boundary equal to that extent with keep='has_events'
    still does the latter: the grids must be identical, row for row."""
    rng = np.random.default_rng(7)
    x, y = rng.uniform(X0, X0 + 3000, 40), rng.uniform(Y0, Y0 + 2000, 40)
    events = points(x, y)
    grids, report = make_grid(events, shape=shape)
    extent = wgs_box(x.min(), y.min(), x.max(), y.max())
    old, old_report = make_grid(events, shape=shape, boundary=extent, keep="has_events")
    pd.testing.assert_frame_equal(grids, old)
    assert report["cells_laid"] == len(grids) < old_report["cells_laid"]
    assert (report["events"], report["events_outside_cells"]) == (40, 0)


def test_a_point_at_0_0_is_left_out_and_counted():
    # (0, 0) is ~90° from zone 16N's meridian (-87°) at the equator: projected, it is infinite
    chicago = points([X0 + 10, X0 + 1010], [Y0 + 10, Y0 + 10])
    events = pd.concat(
        [chicago.iloc[:1], pd.DataFrame({"lon": [0.0, np.nan], "lat": [0.0, 41.9]}), chicago[1:]],
        ignore_index=True,
    )  # rows 1..4: Chicago, (0, 0), no lon, Chicago
    grids, report = make_grid(events)
    assert grids["grid_id"].tolist() == ["c500_880_9260", "c500_882_9260"]
    assert report["crs"].startswith("EPSG:32616")
    assert (report["events"], report["events_not_placed"], report["events_without_lon_lat"]) == (
        2,
        1,
        1,
    )
    assert report["notes"] == [
        "1 event left out: no lon/lat in range (missing, or beyond ±180/±90); first: row 3",
        "1 event left out: EPSG:32616 cannot place the point (projected, each is infinite or "
        "comes back more than 1 m away: too far from the zone's meridian); first: row 2 "
        "(lon 0.0, lat 0.0) — (0, 0) is often written for a missing location",
    ]
    # with a boundary: left out too, not counted as an event outside the cells
    grids, report = make_grid(events, boundary=RECT)
    assert len(grids) == 12
    assert (report["events"], report["events_outside_cells"], report["events_not_placed"]) == (
        2,
        0,
        1,
    )


def test_points_at_0_0_that_can_be_placed_are_named():
    """Every event at (0, 0): the zone is chosen there, so they are placed, with a note."""
    events = pd.DataFrame({"lon": [0.0, 0.0, 0.0], "lat": [0.0, 0.0, 0.0]})
    grids, report = make_grid(events)
    assert len(grids) == 1 and report["events"] == 3
    assert report["notes"] == [
        "3 events at exactly (0, 0), which is often written for a missing location; first: "
        "row 1 (lon 0.0, lat 0.0). They are placed as given: check them, and leave them out "
        "of the file if they have no location"
    ]


def test_events_none_of_which_can_be_placed():
    # median lon (-120 + 60) / 2 = -30: zone 25N (meridian -33°); both points lie ~90° off it
    # on the equator, where the transverse Mercator is infinite
    events = pd.DataFrame({"lon": [-120.0, 60.0], "lat": [0.0, 0.0]})
    with pytest.raises(ContractError) as err:
        make_grid(events)
    assert str(err.value) == (
        "field 'lon,lat': none of the 2 events with lon/lat in range can be placed in "
        "EPSG:32626: projected, each point is infinite or comes back elsewhere (too far from "
        "the zone's meridian, which is chosen from the events' median centre) (got 'row 1 "
        "(lon -120.0, lat 0.0)'). Fix: keep the events of one city (look for far-off or (0, 0) "
        "coordinates), or give --boundary or --crs"
    )


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_a_far_point_gets_its_own_cell_and_a_note_not_a_continent_of_cells(shape):
    # Sydney in zone 16N: x = -5,107,718.7 m, y = -14,240,708.0 m -> square cell
    # (floor(-10215.44), floor(-28481.42)) = (-10216, -28482). Covering the points' extent
    # instead would lay ~9,000 km × 18,000 km / 0.25 km² ≈ 6.5e8 cells.
    events = pd.concat(
        [
            points([X0 + 10, X0 + 1010], [Y0 + 10, Y0 + 10]),
            pd.DataFrame({"lon": [151.2], "lat": [-33.86]}),
        ],
        ignore_index=True,
    )
    grids, report = make_grid(events, shape=shape)
    assert (report["cells_laid"], report["cells_kept"], report["events"]) == (3, 3, 3)
    assert report["events_far_from_centre"] == 1
    if shape == "square":
        assert grids["grid_id"].tolist() == ["c500_-10216_-28482", "c500_880_9260", "c500_882_9260"]
    sydney = shapely.contains_xy(grids["geometry"].to_numpy(object), 151.2, -33.86)
    assert sydney.sum() == 1  # its cell, laid far from the meridian, still holds it
    (note,) = report["notes"]
    assert note.startswith("1 event more than 50 km from the events' median centre (lon ")
    assert "first: row 3 (lon 151.2, lat -33.86), " in note
    assert note.endswith(
        "check these coordinates, or give --boundary to keep only the city's cells"
    )
    km = int(re.search(r"([\d,]+) km away", note).group(1).replace(",", ""))
    assert 14_800 < km < 14_950  # Chicago - Sydney, great circle ~14,880 km


def test_a_boundary_needing_more_than_the_cap_of_cells_is_refused_before_laying_them():
    # 3,000 m × 2,000 m with edges half a metre off the 1 m lines: columns 440,000..443,000 and
    # rows 4,630,000..4,632,000, i.e. 3,001 × 2,001 = 6,005,001 cells; sqrt(6 km² / 2e6) = 1.7 m
    big = wgs_box(X0 + 0.5, Y0 + 0.5, X0 + 3000.5, Y0 + 2000.5)
    with pytest.raises(ConfigError) as err:
        make_grid(boundary=big, cell_m=1)
    assert str(err.value) == (
        "covering the boundary's extent (given polygon: 3.0 km × 2.0 km) with 1 m cells needs "
        "6,005,001 cells, more than the cap of 2,000,000: give a larger --cell-m (about 2 m or "
        "more) or a smaller boundary"
    )
    with pytest.raises(ConfigError, match="more than the cap of 2,000,000"):
        make_grid(boundary=big, cell_m=1, shape="hex")


def test_a_boundary_the_zone_cannot_place_is_refused():
    # Chicago plus a speck at lon 93: centre lon 2.7 -> zone 31N (meridian 3°), 90° from lon 93
    speck = shapely.box(93.0, 0.0, 93.01, 0.01)
    with pytest.raises(ContractError, match=r"its point \(lon 93.01, lat 0.0\) is too far"):
        make_grid(boundary=shapely.union(RECT, speck))


def test_boundary_rule_counts_events_outside_the_city():
    events = points([X0 + 100, X0 + 2600, X0 - 50], [Y0 + 100, Y0 + 100, Y0 + 700])
    grids, report = make_grid(events, boundary=RECT)
    assert len(grids) == 12
    assert report["events_outside_cells"] == 2
    assert report["cells_without_events"] == 11


def communities(split_x: float) -> pd.DataFrame:
    """West = [X0, split] and East = [split, X0 + 1500], the full height of RECT."""
    return pd.DataFrame(
        {
            "Name": ["West", "East"],
            "Street": ["S1", "S2"],
            "geometry": [
                wgs_box(X0, Y0, split_x, Y0 + 1500),
                wgs_box(split_x, Y0, X0 + 1500, Y0 + 1500),
            ],
        }
    )


def test_cells_go_to_the_community_covering_most_of_them_else_the_nearest():
    # column 880 wholly West; column 881 is 200 m West / 300 m East -> East; column 882 East;
    # column 883 is outside both communities -> nearest, East (they touch)
    grids, report = make_grid(
        boundary=RECT,
        communities=communities(X0 + 700),
        community_key="name",
        street_key="street",
    )
    by_col = grids.assign(col=grids["grid_id"].str.split("_").str[1]).groupby("col")
    assert by_col["community_id"].unique().map(list).to_dict() == {
        "880": ["West"],
        "881": ["East"],
        "882": ["East"],
        "883": ["East"],
    }
    assert grids.set_index("community_id")["street_id"].groupby(level=0).first().to_dict() == {
        "East": "S2",
        "West": "S1",
    }
    assert report["cells_by_largest_overlap"] == 9
    assert report["cells_by_nearest_community"] == 3
    assert report["communities_without_cells"] == []


def test_an_even_split_goes_to_the_first_community():
    grids, _ = make_grid(boundary=RECT, communities=communities(X0 + 750), community_key="Name")
    col881 = grids[grids["grid_id"].str.startswith("c500_881_")]
    assert col881["community_id"].tolist() == ["West"] * 3
    assert (grids["street_id"] == "unassigned").all()


def test_communities_alone_are_the_boundary():
    grids, report = make_grid(communities=communities(X0 + 700), community_key="name")
    assert len(grids) == 9  # columns 880-882 of the 1.5 km × 1.5 km union
    assert report["boundary"] == "union of the 2 communities"


def test_written_geojson_passes_the_grid_contract(tmp_path):
    grids, _ = make_grid(boundary=RECT, communities=communities(X0 + 700), community_key="name")
    path = write_grids(grids, tmp_path / "grids.geojson")
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 12
    result = load_grids(path)
    assert len(result.valid) == 12 and len(result.quarantined) == 0
    assert (result.valid["area_km2"] == 0.25).all()
    assert set(result.valid["community_id"]) == {"West", "East"}
    assert not {"population", "households"} & set(result.valid.columns)  # unknown: absent


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"cell_m": 0}, ConfigError, "cell_m"),
        ({"shape": "triangle"}, ConfigError, "shape must be one of square, hex"),
        ({"keep": "all"}, ConfigError, "keep must be one of"),
        ({"keep": "has_events"}, ConfigError, "needs events"),
        ({"crs": "EPSG:4326"}, ConfigError, "not a projected CRS in metres"),
    ],
)
def test_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_grid(boundary=RECT, **kwargs)


def test_nothing_to_lay_over_and_bad_community_key():
    with pytest.raises(ConfigError, match="nothing to lay cells over"):
        make_grid()
    with pytest.raises(ConfigError, match="community_key"):
        make_grid(boundary=RECT, communities=communities(X0 + 700))
    with pytest.raises(ContractError, match="property not found"):
        make_grid(boundary=RECT, communities=communities(X0 + 700), community_key="pri_neigh")
    with pytest.raises(ContractError, match="'lon' and 'lat'"):
        make_grid(pd.DataFrame({"grid_id": ["g1"]}), boundary=RECT)


# --------------------------------------------------------------------------------------------
# the `risk grid make` command

runner = CliRunner()


def _feature_collection(geoms: list[shapely.Geometry], props: list[dict]) -> str:
    features = [
        {"type": "Feature", "properties": p, "geometry": json.loads(shapely.to_geojson(g))}
        for g, p in zip(geoms, props, strict=True)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features})


def _row(output: str, label: str) -> str:
    """The value in a rich table row `│ label │ value │`."""
    match = re.search(rf"{re.escape(label)}\s*│\s*([\d,]+)", output)
    assert match, f"no row {label!r} in:\n{output}"
    return match.group(1)


def test_cli_grid_make_with_communities_then_validate(tmp_path):
    comm = communities(X0 + 700)
    (tmp_path / "comm.geojson").write_text(
        _feature_collection(list(comm["geometry"]), [{"pri_neigh": n} for n in comm["Name"]])
    )
    (tmp_path / "city.geojson").write_text(_feature_collection([RECT], [{}]))
    ev = points([X0 + 100, X0 + 1900, X0 + 5000], [Y0 + 100, Y0 + 1400, Y0 + 100])
    ev.assign(occurred_at="2024-01-01T08:00", category="theft").to_csv(
        tmp_path / "events.csv", index=False
    )
    out_path = tmp_path / "grids.geojson"
    args = ["grid", "make", "--events", str(tmp_path / "events.csv"), "--out", str(out_path)]
    result = runner.invoke(
        app,
        [
            *args,
            "--boundary",
            str(tmp_path / "city.geojson"),
            "--communities",
            str(tmp_path / "comm.geojson"),
            "--community-key",
            "pri_neigh",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _row(result.output, "cells kept") == "12"
    assert _row(result.output, "events outside cells") == "1"
    assert _row(result.output, "cells by nearest community") == "3"
    assert "intersects_boundary" in result.output
    doc = json.loads(out_path.read_text())
    assert len(doc["features"]) == 12
    check = runner.invoke(
        app, ["validate", "--grids", str(out_path), "--events", str(tmp_path / "events.csv")]
    )
    assert check.exit_code == 0, check.output
    assert _row(check.output, "quarantined: outside_all_grids") == "1"

    hexes = runner.invoke(app, [*args, "--shape", "hex", "--cell-m", "250"])
    assert hexes.exit_code == 0, hexes.output
    ids = [f["properties"]["grid_id"] for f in json.loads(out_path.read_text())["features"]]
    assert len(ids) == 3 and all(i.startswith("h250_") for i in ids)  # has_events: 3 cells


def test_cli_grid_make_leaves_out_null_island_and_names_a_far_point(tmp_path):
    """The two fuzz cases: (0, 0) crashed with OverflowError, a point in Sydney among Chicago's
    made a 4e8-cell meshgrid. Rows are the file's lines (header: line 1)."""
    head = "occurred_at,category,lon,lat\n2024-01-01,theft,-87.63,41.88\n2024-01-02,theft,-87.62,41.89\n"
    (tmp_path / "null.csv").write_text(head + "2024-01-03,theft,0,0\n")
    (tmp_path / "far.csv").write_text(head + "2024-01-03,theft,151.2,-33.86\n")
    out_path = str(tmp_path / "g.geojson")
    null = runner.invoke(
        app, ["grid", "make", "--events", str(tmp_path / "null.csv"), "--out", out_path]
    )
    assert null.exit_code == 0, null.output
    assert (_row(null.output, "cells kept"), _row(null.output, "events not placed")) == ("2", "1")
    assert "first: row 4 (lon 0.0, lat 0.0)" in " ".join(null.output.split())
    far = runner.invoke(
        app, ["grid", "make", "--events", str(tmp_path / "far.csv"), "--out", out_path]
    )
    assert far.exit_code == 0, far.output
    assert (_row(far.output, "cells laid"), _row(far.output, "events far from centre")) == (
        "3",
        "1",
    )
    assert "first: row 4 (lon 151.2, lat -33.86)" in " ".join(far.output.split())
    assert len(json.loads((tmp_path / "g.geojson").read_text())["features"]) == 3


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--shape", "triangle"], EXIT_CONFIG, "shape must be one of"),
        (["--cell-m", "0"], EXIT_CONFIG, "cell_m must be"),
        (["--keep", "intersects_boundary"], EXIT_CONFIG, "needs a boundary"),
    ],
)
def test_cli_grid_make_errors(tmp_path, extra, code, message):
    points([X0 + 100], [Y0 + 100]).to_csv(tmp_path / "events.csv", index=False)
    args = ["grid", "make", "--events", str(tmp_path / "events.csv")]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "g.geojson"), *extra])
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())


def test_cli_grid_make_needs_points(tmp_path):
    pd.DataFrame({"grid_id": ["g1"], "occurred_at": ["2024-01-01"]}).to_csv(
        tmp_path / "events.csv", index=False
    )
    result = runner.invoke(
        app,
        [
            "grid",
            "make",
            "--events",
            str(tmp_path / "events.csv"),
            "--out",
            str(tmp_path / "g.geojson"),
        ],
    )
    assert result.exit_code == EXIT_INPUT, result.output
    assert "no 'lon' and 'lat' columns" in " ".join(result.output.split())


def test_cli_events_whose_points_are_all_out_of_range_name_the_swap(tmp_path):
    """Latitude 120 is no place: with no boundary there is nothing to lay cells over, and the
    message says why (it used to say 'give events with lon/lat' of a file that had them)."""
    (tmp_path / "e.csv").write_text("occurred_at,category,lon,lat\n2024-05-01,theft,30.26,120.14\n")
    result = runner.invoke(
        app,
        ["grid", "make", "--events", str(tmp_path / "e.csv"), "--out", str(tmp_path / "g.geojson")],
    )
    assert result.exit_code == EXIT_INPUT, result.output
    assert result.output.strip() == (
        "error: e.csv: field 'lon,lat': none of the 1 events has lon/lat in range (WGS84 degrees: "
        "lon within ±180, lat within ±90) (got '30.26,120.14'). Fix: 'lon' and 'lat' look "
        "swapped: exchange the two columns (risk import --lon-col/--lat-col)"
    )


def test_an_unknown_crs_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="crs 'banana' is not known"):
        make_grid(boundary=RECT, cell_m=500, crs="banana")


def test_a_cell_over_50_km_and_an_out_path_that_is_not_geojson_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="cell_m 1e[+]09 m is more than 50000 m"):
        make_grid(boundary=RECT, cell_m=1e9)
    grids, _ = make_grid(boundary=RECT, cell_m=500)
    with pytest.raises(ConfigError, match="--out g.csv: the grids are written as GeoJSON"):
        write_grids(grids, tmp_path / "g.csv")
    assert not (tmp_path / "g.csv").exists()
