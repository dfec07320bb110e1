import re
from pathlib import Path

import pandas as pd
import pytest

from risk.errors import ContractError
from risk.loaders import load_events, load_grids, read_events, read_grids

FIXTURES = Path(__file__).parents[1] / "fixtures" / "contract"
NOW = pd.Timestamp("2024-06-01 00:00", tz="Asia/Shanghai")


@pytest.fixture(scope="module")
def grids() -> pd.DataFrame:
    return load_grids(FIXTURES / "grids.geojson").valid


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_csv_without_occurred_at_gives_one_message_naming_the_column(tmp_path, grids):
    path = write(tmp_path / "events.csv", "event_id,category,grid_id\n1,theft,g00\n")
    expected = (
        "events.csv: field 'occurred_at': required column is missing "
        "(columns found: event_id, category, grid_id). "
        "Fix: add the column 'occurred_at' to the events file"
    )
    with pytest.raises(ContractError, match=re.escape(expected)) as info:
        load_events(path, grids, now=NOW)
    assert "\n" not in str(info.value)


def test_missing_file_is_fatal(tmp_path, grids):
    with pytest.raises(ContractError, match=r"nope\.csv: file not found\. Fix: check the path"):
        load_events(tmp_path / "nope.csv", grids)


def test_a_directory_is_fatal(tmp_path):
    with pytest.raises(ContractError, match="is a directory"):
        read_grids(tmp_path)


def test_unknown_extension_is_fatal(tmp_path, grids):
    path = write(tmp_path / "events.xlsx", "x")
    with pytest.raises(ContractError, match=r"unknown file type for events \(got '\.xlsx'\)"):
        load_events(path, grids)


def test_geojson_is_not_accepted_for_events(tmp_path):
    path = write(tmp_path / "events.geojson", "{}")
    with pytest.raises(ContractError, match="give a file ending in one of .csv"):
        read_events(path)


def test_empty_csv_is_fatal(tmp_path):
    with pytest.raises(ContractError, match=r"e\.csv: file is empty"):
        read_events(write(tmp_path / "e.csv", ""))


def test_unreadable_parquet_is_fatal(tmp_path):
    path = write(tmp_path / "e.parquet", "not parquet at all")
    with pytest.raises(ContractError, match=r"e\.parquet: cannot read the file as parquet"):
        read_events(path)


def test_invalid_json_is_fatal(tmp_path):
    path = write(tmp_path / "g.geojson", '{"type": "FeatureCollection", ')
    with pytest.raises(ContractError, match=r"g\.geojson: cannot read the file as GeoJSON"):
        read_grids(path)


def test_geojson_that_is_not_a_feature_collection_is_fatal(tmp_path):
    path = write(tmp_path / "g.geojson", '{"type": "Polygon", "coordinates": []}')
    with pytest.raises(ContractError, match=r"field 'type': expected a GeoJSON FeatureCollection"):
        read_grids(path)


def test_zero_valid_rows_is_fatal_and_still_writes_the_quarantine(tmp_path, grids):
    path = write(tmp_path / "e.csv", "occurred_at,category,grid_id\n,theft,g00\nsoon,theft,g00\n")
    quarantine = tmp_path / "q.csv"
    with pytest.raises(
        ContractError,
        match=r"e\.csv: no valid rows out of 2 \(2 quarantined, 0 exact duplicates; "
        r"missing_occurred_at: 1, bad_occurred_at: 1\)",
    ):
        load_events(path, grids, now=NOW, quarantine=quarantine)
    assert pd.read_csv(quarantine)["reason"].tolist() == ["missing_occurred_at", "bad_occurred_at"]


def test_zero_valid_grids_is_fatal(tmp_path):
    path = write(tmp_path / "g.csv", "grid_id,centroid_lon,centroid_lat\na,abc,31\n")
    with pytest.raises(ContractError, match=r"g\.csv: no valid rows out of 1"):
        load_grids(path)


def test_csv_rows_are_numbered_by_line(tmp_path):
    path = write(tmp_path / "e.csv", "occurred_at,category,grid_id\nx,a,g\ny,b,g\n")
    assert read_events(path).index.tolist() == [2, 3]  # header is line 1


def test_column_names_are_stripped_and_lower_cased(tmp_path, grids):
    path = write(tmp_path / "e.csv", " Occurred_At ,CATEGORY,Grid_ID\n2024-05-01 08:00,theft,g00\n")
    assert len(load_events(path, grids, now=NOW).valid) == 1


def test_csv_values_stay_text(tmp_path):
    path = write(tmp_path / "e.csv", "occurred_at,category,severity\n2024-05-01,a,007\n")
    assert read_events(path).loc[2, "severity"] == "007"


def test_gb18030_csv_is_read(tmp_path, grids):
    path = write(
        tmp_path / "e.csv",
        "occurred_at,category,grid_id\n2024-05-01 08:00,邻里纠纷,g00\n",
        encoding="gb18030",
    )
    assert load_events(path, grids, now=NOW).valid["category"].tolist() == ["邻里纠纷"]


def test_geojson_feature_id_becomes_grid_id():
    # the fourth feature has no grid_id property but "id": "g11"
    assert read_grids(FIXTURES / "grids.geojson")["grid_id"].tolist() == [
        "g00",
        "g01",
        "g10",
        "g11",
    ]


def test_geojson_rows_are_feature_numbers():
    assert read_grids(FIXTURES / "grids.geojson").index.tolist() == [1, 2, 3, 4]


def test_grids_from_a_wkt_csv_and_parquet(tmp_path):
    frame = pd.DataFrame(
        {
            "grid_id": ["a"],
            "geometry": ["POLYGON ((121.40 31.20, 121.41 31.20, 121.41 31.21, 121.40 31.20))"],
        }
    )
    frame.to_parquet(tmp_path / "g.parquet")
    frame.to_csv(tmp_path / "g.csv", index=False)
    # triangle: half of 1.0575 km²
    for name in ("g.parquet", "g.csv"):
        assert load_grids(tmp_path / name).valid["area_km2"].tolist() == pytest.approx(
            [0.52875], abs=5e-4
        )


def test_parquet_events_with_datetime_and_numeric_columns(tmp_path, grids):
    # occurred 00:00 UTC = 08:00 Shanghai; the point is in g10
    frame = pd.DataFrame(
        {
            "occurred_at": pd.to_datetime(["2024-05-01 00:00"]).tz_localize("UTC"),
            "category": ["Theft"],
            "lon": [121.405],
            "lat": [31.215],
            "severity": [2],
        }
    )
    frame.to_parquet(tmp_path / "e.parquet")
    valid = load_events(tmp_path / "e.parquet", grids, now=NOW).valid
    assert valid.loc[0, "occurred_at"] == pd.Timestamp("2024-05-01 08:00", tz="Asia/Shanghai")
    assert (valid.loc[0, "grid_id"], valid.loc[0, "severity"]) == ("g10", 2)


def test_quarantine_file_reconciles_with_the_input(tmp_path, grids):
    # 21 data lines = valid + quarantine file rows + exact duplicates
    quarantine = tmp_path / "q.csv"
    result = load_events(FIXTURES / "events_broken.csv", grids, now=NOW, quarantine=quarantine)
    lines = (FIXTURES / "events_broken.csv").read_text().strip().splitlines()
    written = pd.read_csv(quarantine, dtype=str)
    assert len(result.valid) + len(written) + result.duplicates == len(lines) - 1 == 21


# --- no valid row: the message quotes the first row and names a mistake that explains them


@pytest.mark.parametrize(
    ("lines", "shown", "fix"),
    [
        (  # lon/lat exchanged: out of range as given, in range exchanged
            "occurred_at,category,lon,lat\n2024-05-01,theft,31.205,121.405\n"
            "2024-05-02,theft,31.215,121.405\n",
            "31.205,121.405",
            "'lon' and 'lat' look swapped (exchanged, the values are in range); exchange the "
            "two column names; or run with --quarantine",
        ),
        (  # decimal commas in a ';'-separated file
            "occurred_at;category;lon;lat\n2024-05-01;theft;121,405;31,205\n"
            "2024-05-02;theft;121,405;31,215\n",
            "121,405,31,205",
            "'lon' and 'lat' are written with a decimal comma (e.g. '121,405'); write them with "
            "a decimal point (120.15, not 120,15)",
        ),
    ],
)
def test_a_coordinate_mistake_behind_every_row_is_named_as_the_fix(
    tmp_path, grids, lines, shown, fix
):
    path = write(tmp_path / "e.csv", lines)
    expected = (
        "e.csv: no valid rows out of 2 (2 quarantined, 0 exact duplicates; bad_coordinates: 2), "
        f"first row 2: lon,lat='{shown}'. Fix: {fix}"
    )
    with pytest.raises(ContractError, match=re.escape(expected)):
        load_events(path, grids, now=NOW)


@pytest.mark.parametrize(
    ("polygon", "fix"),
    [
        (  # lat first: (31.20, 121.40)
            "POLYGON ((31.20 121.40, 31.20 121.41, 31.21 121.41, 31.20 121.40))",
            "the polygons' coordinates look like (lat, lon): GeoJSON and WKT give lon first; "
            "exchange the two numbers of every point",
        ),
        (  # UTM metres
            "POLYGON ((350000 3450000, 351000 3450000, 351000 3451000, 350000 3450000))",
            "the polygons' coordinates are not WGS84 degrees (metres of a projection?); "
            "reproject the file to EPSG:4326",
        ),
    ],
)
def test_polygons_out_of_wgs84_range_name_the_cause(tmp_path, polygon, fix):
    path = write(tmp_path / "g.csv", f'grid_id,geometry\na1,"{polygon}"\na2,"{polygon}"\n')
    with pytest.raises(ContractError, match=re.escape(f"Fix: {fix}; or run with --quarantine")):
        load_grids(path)


def test_lon_lat_swapped_in_range_is_named_when_the_points_fall_among_the_grids(tmp_path):
    """Chicago (-87.6, 41.8) exchanged is still a valid point (41.8, -87.6), only far away."""
    city = write(
        tmp_path / "g.csv",
        "grid_id,centroid_lon,centroid_lat\na,-87.63,41.88\nb,-87.62,41.88\n",
    )
    events = write(
        tmp_path / "e.csv", "occurred_at,category,lon,lat\n2024-05-01,theft,41.881,-87.629\n"
    )
    with pytest.raises(ContractError, match="outside_all_grids: 1") as info:
        load_events(events, load_grids(city).valid, now=NOW)
    assert "'lon' and 'lat' look swapped (exchanged, the values are in range and the points " \
        "fall among the grids)" in str(info.value)  # fmt: skip


def test_grid_ids_that_differ_only_in_leading_zeros_are_named(tmp_path):
    """A spreadsheet stored the grids' ids as numbers (7), the events kept '007'."""
    city = write(
        tmp_path / "g.geojson",
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"grid_id": 7, "centroid_lon": 121.4, "centroid_lat": 31.2}, "geometry": null}]}',
    )
    events = write(tmp_path / "e.csv", "occurred_at,category,grid_id\n2024-05-01,theft,007\n")
    with pytest.raises(ContractError, match="unknown_grid_id: 1") as info:
        load_events(events, load_grids(city).valid, now=NOW)
    assert "first row 2: grid_id='007'" in str(info.value)
    assert "match the grids file's only once leading zeros are ignored (e.g. '007' here, '7' " \
        "there)" in str(info.value)  # fmt: skip


def test_no_valid_row_without_a_known_mistake_quotes_the_first_row(tmp_path, grids):
    path = write(tmp_path / "e.csv", "occurred_at,category,grid_id\nsoon,theft,g00\n")
    with pytest.raises(ContractError, match=r"first row 2: occurred_at='soon'\. Fix: run with"):
        load_events(path, grids, now=NOW)


# --- file shapes of other cities' exports


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_csv_separated_by_semicolons_tabs_or_bars_is_read(tmp_path, grids, sep):
    text = sep.join(["occurred_at", "category", "grid_id"]) + "\n"
    text += sep.join(["2024-05-01 08:00", "theft", "g00"]) + "\n"
    result = load_events(write(tmp_path / "e.csv", text), grids, now=NOW)
    assert result.valid["grid_id"].tolist() == ["g00"] and len(result.quarantined) == 0


def test_a_comma_on_the_first_line_keeps_commas_as_the_separator(tmp_path, grids):
    text = "occurred_at,category,grid_id\n2024-05-01 08:00,a;b,g00\n"
    result = load_events(write(tmp_path / "e.csv", text), grids, now=NOW)
    assert result.valid["category"].tolist() == ["a_b"]  # one field: "a;b", normalised


def test_a_gzipped_csv_is_read_with_its_encoding_detected(tmp_path, grids):
    """.csv.gz was accepted by name but its compressed bytes went to the encoding detector."""
    import gzip

    path = tmp_path / "e.csv.gz"
    path.write_bytes(
        gzip.compress("occurred_at,category,grid_id\n2024-05-01,盗窃,g00\n".encode("gb18030"))
    )
    result = load_events(path, grids, now=NOW)
    assert result.valid["category"].tolist() == ["盗窃"]


def test_columns_that_differ_only_in_case_are_fatal_when_the_contract_reads_them(tmp_path, grids):
    path = write(tmp_path / "e.csv", "occurred_at,category,grid_id,GRID_ID\n2024-05-01,a,g00,g01\n")
    expected = (
        "e.csv: field 'grid_id': two columns have the same name once case is ignored: 'grid_id' "
        "and 'GRID_ID'. Fix: rename or drop one of them"
    )
    with pytest.raises(ContractError, match=re.escape(expected)):
        load_events(path, grids, now=NOW)


def test_other_columns_that_differ_only_in_case_are_kept_apart(tmp_path):
    path = write(
        tmp_path / "e.csv", "occurred_at,category,grid_id,Notes,NOTES\n2024-05-01,a,g00,x,y\n"
    )
    raw = read_events(path)
    assert list(raw.columns) == ["occurred_at", "category", "grid_id", "notes", "notes.1"]
    assert raw[["notes", "notes.1"]].iloc[0].tolist() == ["x", "y"]


def test_a_required_column_written_with_spaces_is_named_in_the_fix(tmp_path, grids):
    path = write(tmp_path / "e.csv", "Occurred At,category,grid_id\n2024-05-01,a,g00\n")
    with pytest.raises(
        ContractError, match=r"Fix: rename the column 'occurred at' to 'occurred_at'$"
    ):
        load_events(path, grids, now=NOW)


def test_a_header_without_rows_and_a_collection_without_features_say_so(tmp_path, grids):
    with pytest.raises(ContractError, match=r"e\.csv: the file has no rows \(a header at most\)"):
        load_events(write(tmp_path / "e.csv", "occurred_at,category,grid_id\n"), grids, now=NOW)
    empty = write(tmp_path / "g.geojson", '{"type": "FeatureCollection", "features": []}')
    with pytest.raises(
        ContractError, match="field 'features': the FeatureCollection has no features"
    ):
        load_grids(empty)
