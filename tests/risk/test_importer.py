"""The importer on the committed sample of the raw Chicago format and on small hand-made files.

The sample (`tests/fixtures/chicago/chi_crime_sample.csv`, see its README) has 30 lines:
25 written + 1 exact duplicate (line 9) + 4 quarantined (lines 14-17, one per reason).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from risk.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_QUARANTINED, app
from risk.errors import ConfigError, ContractError
from risk.importer import (
    ColumnMapping,
    import_events,
    iso_with_offset,
    load_mapping,
    mapping_from_dict,
    write_events,
    write_import_quarantine,
)
from risk.loaders import read_events
from risk.validation import validate_events

SAMPLE = Path(__file__).parents[1] / "fixtures" / "chicago" / "chi_crime_sample.csv"
NOW = pd.Timestamp("2024-01-01")


@pytest.fixture(scope="module")
def sample():
    return import_events(SAMPLE, load_mapping("chicago"), now=NOW)


def _times(result) -> list[str]:
    return list(iso_with_offset(result.events["occurred_at"]))


def test_sample_counts_add_up_exactly(sample):
    assert sample.rows_read == 30
    assert len(sample.events) == 25
    assert sample.duplicates == 1
    assert sample.counts_by_reason() == {
        "bad_line": 1,
        "bad_occurred_at": 1,
        "missing_location": 1,
        "bad_coordinates": 1,
    }


def test_sample_quarantine_names_line_reason_and_value(sample, tmp_path):
    q = sample.quarantined
    assert q["row"].tolist() == [14, 15, 16, 17]
    assert q["reason"].tolist() == [
        "bad_coordinates",
        "bad_occurred_at",
        "missing_location",
        "bad_line",
    ]
    assert q["detail"].tolist() == [
        "lon,lat='-87.65,41.9x'",
        "occurred_at='13/05/2017 05:05:00 PM'",
        "lon,lat='<missing>,<missing>'",
        "fields=expected 4, saw 5",
    ]
    assert q["line"].iloc[3] == "05/07/2017 10:20:00 PM,ASSAULT,41.78,-87.61,EXTRA"
    written = pd.read_csv(write_import_quarantine(sample, tmp_path / "q.csv"), dtype=str)
    assert written.columns[:3].tolist() == ["row", "reason", "detail"]
    assert len(written) == 4


def test_sample_times_12_hour_clock_and_dst_hand_checked(sample):
    # sorted by time; offsets: CST -06:00 in winter, CDT -05:00 in summer
    assert _times(sample) == [
        "2015-12-31T23:59:00-06:00",  # line 30
        "2016-01-01T00:00:00-06:00",  # line 4: 12:00:00 AM is midnight
        "2016-01-01T12:30:00-06:00",  # line 5: 12:30:00 PM is half past noon
        "2016-02-29T23:59:59-06:00",  # line 13: leap day
        "2016-03-13T03:00:00-05:00",  # line 26: first hour after spring-forward
        "2016-04-02T22:00:00-05:00",
        "2016-06-15T08:00:00-05:00",
        "2016-07-31T21:09:09-05:00",
        "2016-08-20T04:10:00-05:00",
        "2016-11-06T01:59:00-06:00",  # line 25: repeated hour -> standard time
        "2016-12-25T00:01:00-06:00",  # line 22: 12:01:00 AM
        "2017-01-15T03:03:00-06:00",
        "2017-03-01T18:45:00-06:00",
        "2017-03-12T03:00:00-05:00",  # line 10: 02:30 does not exist -> 03:00 CDT
        "2017-06-01T19:30:00-05:00",
        "2017-07-04T00:59:00-05:00",  # line 7: 12:59:00 AM
        "2017-07-04T12:00:00-05:00",  # line 6: 12:00:00 PM is noon
        "2017-09-06T13:30:00-05:00",  # line 2
        "2017-09-06T13:30:00-05:00",  # line 21 (not a duplicate: longitude differs)
        "2017-10-12T19:14:00-05:00",  # line 1 (line 9 was its duplicate)
        "2017-10-30T11:11:00-05:00",
        "2017-11-05T01:30:00-06:00",  # line 11: repeated hour -> standard time
        "2017-11-05T02:00:00-06:00",
        "2017-11-23T15:14:00-06:00",
        "2017-12-31T23:50:00-06:00",
    ]
    utc = sample.events["occurred_at"].dt.tz_convert("UTC")
    assert str(utc.iloc[21]) == "2017-11-05 07:30:00+00:00"  # 01:30 CST = 07:30 UTC
    assert str(utc.iloc[13]) == "2017-03-12 08:00:00+00:00"  # 03:00 CDT = 08:00 UTC


def test_sample_stats_on_the_hour_dst_and_order(sample):
    s = sample.summary()
    # on the hour as written: lines 4 (00:00), 6 (12:00), 12 (08:00), 20 (22:00), 26 (03:00),
    # 28 (02:00); line 10 (02:30 -> 03:00 by DST) is not counted
    assert (s["on_the_hour"], s["at_midnight"], s["at_noon"]) == (6, 1, 1)
    assert s["dst_nonexistent_shifted"] == 1  # line 10
    assert s["dst_ambiguous_as_standard"] == 2  # lines 11 and 25
    # the file goes back in time after lines 1, 3, 6, 8, 11, 12, 18, 19, 21, 23, 24, 25, 28, 29
    assert s["out_of_order"] == 14
    assert s["reported_at_from_occurred_at"] == 25
    assert any("reported_at = occurred_at" in note for note in s["notes"])


def test_sample_columns_categories_and_reported_at(sample):
    e = sample.events
    assert e.columns.tolist() == [
        "event_id",
        "occurred_at",
        "reported_at",
        "category",
        "lon",
        "lat",
        "source",
        "severity",
    ]
    assert (e["reported_at"] == e["occurred_at"]).all()
    assert e["category"].value_counts().to_dict() == {
        "theft": 11,  # lines 2, 4, 7, 8, 11, 13, 18 ("Theft"), 21, 24, 26, 29
        "battery": 7,  # lines 5, 6, 10, 19, 22, 25, 30
        "assault": 4,  # lines 3, 12, 23, 28
        "criminal_damage": 3,  # lines 1, 20, 27 (16 quarantined)
    }
    first = e.iloc[19]  # line 1: latitude is the third column, longitude the fourth
    assert (first["lon"], first["lat"]) == (-87.76551063, 41.918711651)
    assert e["source"].isna().all() and e["severity"].isna().all()


def test_event_ids_are_stable_unique_and_hex(sample):
    again = import_events(SAMPLE, load_mapping("chicago"), now=NOW)
    assert again.events["event_id"].tolist() == sample.events["event_id"].tolist()
    ids = sample.events["event_id"]
    assert ids.is_unique
    assert ids.str.fullmatch(r"e[0-9a-f]{16}").all()
    hashed = pd.util.hash_pandas_object(
        pd.DataFrame([["01/01/2016 12:00:00 AM", "THEFT", "41.8835", "-87.6324"]]), index=False
    )
    assert ids.iloc[1] == "e" + format(int(hashed.iloc[0]), "016x")


def test_written_file_passes_validation(sample, tmp_path):
    path = write_events(sample.events, tmp_path / "events.csv")
    raw = read_events(path)
    grids = pd.DataFrame(
        {
            "grid_id": ["city"],
            "community_id": ["c"],
            "street_id": ["s"],
            "grid_type": ["mixed"],
            "area_km2": [600.0],
            "centroid_lon": [-87.68],
            "centroid_lat": [41.84],
            "geometry": [shapely.box(-88.0, 41.6, -87.5, 42.1)],
        }
    )
    result = validate_events(raw, grids, tz="America/Chicago", now=NOW)
    assert len(result.valid) == 25 and len(result.quarantined) == 0 and result.duplicates == 0
    assert result.valid["event_id"].tolist() == sample.events["event_id"].tolist()
    assert (result.valid["occurred_at"] == sample.events["occurred_at"]).all()
    # also in memory, without a file
    direct = validate_events(sample.events, grids, tz="America/Chicago", now=NOW)
    assert len(direct.valid) == 25


def test_headered_iso_file_with_ids_reported_times_and_grid_ids(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text(
        "ID,When,Reported,Kind,Cell\n"
        "a1,2024-05-01 08:00,2024-05-01 09:00,Fire Hazard,g1\n"
        "a2,2024-05-01T10:00:00+00:00,,dispute,g2\n"  # offset: 10:00 UTC = 18:00 Shanghai
        "a3,2024-05-02 10:00,2024-05-02 09:00,dispute,g1\n"  # reported before it happened
        "a1,2024-05-03 10:00,,theft,g1\n"  # id seen before, other content
        "a4,2024-05-03 11:00,,theft,\n"  # no grid
        "a5,2030-01-01 00:00,,theft,g1\n"  # after `now`
    )
    mapping = ColumnMapping(
        time_col="when",
        category_col="KIND",
        grid_col="cell",
        reported_col="reported",
        id_col="id",
        tz="Asia/Shanghai",
    )
    result = import_events(path, mapping, now="2025-01-01")
    assert result.rows_read == 6 and len(result.events) == 2
    assert result.counts_by_reason() == {
        "reported_before_occurred": 1,
        "future_timestamp": 1,
        "missing_location": 1,
        "duplicate_event_id": 1,
    }
    assert result.quarantined["row"].tolist() == [4, 5, 6, 7]  # header on line 1
    e = result.events
    assert e["event_id"].tolist() == ["a1", "a2"]
    assert e["grid_id"].tolist() == ["g1", "g2"]
    assert "lon" not in e.columns
    assert list(iso_with_offset(e["reported_at"])) == [
        "2024-05-01T09:00:00+08:00",
        "2024-05-01T18:00:00+08:00",  # blank -> occurred_at
    ]
    assert e["category"].tolist() == ["fire_hazard", "dispute"]
    assert result.stats["reported_at_from_occurred_at"] == 0


def test_bad_line_in_a_headered_file_keeps_line_numbers(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text(
        "t,c,x,y\n2024-01-01,a,121.4,31.2\n2024-01-01,b,121.4,31.2,zz\n2024-01-01,c,1,x\n"
    )
    mapping = ColumnMapping(time_col="t", category_col="c", lon_col="x", lat_col="y")
    result = import_events(path, mapping, now="2025-01-01")
    assert result.quarantined[["row", "reason"]].values.tolist() == [
        [3, "bad_line"],
        [4, "bad_coordinates"],
    ]
    assert result.quarantined["line"].iloc[0] == "2024-01-01,b,121.4,31.2,zz"
    assert result.events["category"].tolist() == ["a"]


def test_category_map_and_dropping_unmapped(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text(
        "t,type,x,y\n"
        "2024-05-01 08:00,CRIMINAL DAMAGE,121.4,31.2\n"
        "2024-05-01 09:00,theft,121.4,31.2\n"
        "2024-05-01 10:00,ARSON,121.4,31.2\n"
    )
    base = {"time_col": "t", "category_col": "type", "lon_col": "x", "lat_col": "y"}
    mapped = mapping_from_dict(base | {"category_map": {"Criminal Damage": "vandalism"}})
    later = "2025-01-01"
    kept = import_events(path, mapped, now=later)
    assert kept.events["category"].tolist() == ["vandalism", "theft", "arson"]
    assert kept.stats["unmapped_category_kept"] == 2
    strict = mapping_from_dict(
        base | {"category_map": {"criminal damage": "vandalism", "THEFT": "theft"}}
    )
    dropped = import_events(path, mapped.with_overrides(keep_unmapped=False), now=later)
    assert dropped.counts_by_reason() == {"unmapped_category": 2}
    both = import_events(path, strict.with_overrides(keep_unmapped=False), now=later)
    assert both.events["category"].tolist() == ["vandalism", "theft"]
    assert both.quarantined["row"].tolist() == [4]


def test_shipped_chicago_mapping():
    m = load_mapping("chicago")
    assert m.columns == ("occurred_at", "primary_type", "lat", "lon")
    assert (m.time_format, m.tz) == ("%m/%d/%Y %I:%M:%S %p", "America/Chicago")
    assert (m.lon_col, m.lat_col, m.grid_col) == ("lon", "lat", None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lon_col": "x"}, "both lon_col and lat_col"),
        ({"lon_col": "x", "lat_col": "y", "grid_col": "g"}, "exactly one"),
        ({}, "exactly one"),
        ({"grid_col": "g", "tz": "Chicago"}, "unknown time zone"),
        ({"grid_col": "g", "source": "radio"}, "source 'radio'"),
        ({"grid_col": "g", "severity": 9}, "severity"),
        ({"grid_col": "g", "colour": "red"}, "unknown key(s) colour"),
        ({"grid_col": "g", "columns": ["a", "b"]}, "not among the file's columns"),
        ({"grid_col": "g", "time_format": 42}, "time_format = 42 is not text; write it in quotes"),
        ({"grid_col": 7}, "grid_col = 7 is not text"),
    ],
)
def test_bad_mappings_are_config_errors(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mapping_from_dict({"time_col": "a", "category_col": "b"} | values)


def test_mapping_file_round_trip_and_missing_key(tmp_path):
    good = tmp_path / "m.toml"
    good.write_text('time_col = "T"\ncategory_col = "C"\ngrid_col = "G"\ntz = "UTC"\n')
    assert load_mapping(good) == ColumnMapping(
        time_col="t", category_col="c", grid_col="g", tz="UTC"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('category_col = "C"\ngrid_col = "G"\n')
    with pytest.raises(ConfigError, match="missing 'time_col' \\(--time-col\\)"):
        load_mapping(bad)
    with pytest.raises(ConfigError, match="neither a file nor a shipped mapping"):
        load_mapping("atlantis")


def test_headerless_file_read_with_a_header_says_how_to_fix():
    mapping = replace(load_mapping("chicago"), columns=None)  # as if --no-header was forgotten
    with pytest.raises(ContractError, match="give --no-header and --columns"):
        import_events(SAMPLE, mapping, now=NOW)


def test_wrong_time_format_is_fatal_and_names_the_format():
    mapping = load_mapping("chicago").with_overrides(time_format="%Y-%m-%d %H:%M:%S")
    with pytest.raises(ContractError, match="--time-format") as info:
        import_events(SAMPLE, mapping, now=NOW)
    assert "'%Y-%m-%d %H:%M:%S'" in str(info.value)
    assert "10/12/2017 07:14:00 PM" in str(info.value)


def test_a_format_strptime_cannot_read_is_named_with_its_option():
    mapping = load_mapping("chicago").with_overrides(time_format="%Q")
    with pytest.raises(ConfigError, match="time format '%Q' is not a strptime format") as info:
        import_events(SAMPLE, mapping, now=NOW)
    assert "--time-format" in str(info.value)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(ContractError, match="file not found"):
        import_events(tmp_path / "nope.csv", load_mapping("chicago"))
    other = tmp_path / "events.xlsx"
    other.write_text("x")
    with pytest.raises(ContractError, match="unknown file type"):
        import_events(other, load_mapping("chicago"))


def test_parquet_output_round_trips(sample, tmp_path):
    path = write_events(sample.events, tmp_path / "events.parquet")
    back = pd.read_parquet(path)
    assert back["occurred_at"].equals(sample.events["occurred_at"])
    assert np.allclose(back["lon"], sample.events["lon"])


# --------------------------------------------------------------------------------------------
# the `risk import` command

runner = CliRunner()


def _row(output: str, label: str) -> str:
    """The value in a rich table row `│ label │ value │`."""
    match = re.search(rf"{re.escape(label)}\s*│\s*([\d,]+)", output)
    assert match, f"no row {label!r} in:\n{output}"
    return match.group(1)


def test_cli_import_with_the_shipped_mapping(tmp_path):
    out_path, q = tmp_path / "events.csv", tmp_path / "q.csv"
    args = ["import", "--events", str(SAMPLE), "--mapping", "chicago", "--out", str(out_path)]
    result = runner.invoke(app, [*args, "--quarantine", str(q)])
    assert result.exit_code == 0, result.output
    table = {
        label: _row(result.output, label)
        for label in ("rows read", "exact duplicates", "quarantined: bad_line", "written")
    }
    assert table == {
        "rows read": "30",
        "exact duplicates": "1",
        "quarantined: bad_line": "1",
        "written": "25",
    }
    assert "reported_at = occurred_at" in result.output
    assert len(pd.read_csv(out_path)) == 25
    assert pd.read_csv(q)["row"].tolist() == [14, 15, 16, 17]
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == EXIT_QUARANTINED


def test_cli_import_with_options_only(tmp_path):
    out_path = tmp_path / "events.csv"
    result = runner.invoke(
        app,
        [
            "import",
            "--events",
            str(SAMPLE),
            "--out",
            str(out_path),
            "--no-header",
            "--columns",
            "time,type,y,x",
            "--time-col",
            "time",
            "--time-format",
            "%m/%d/%Y %I:%M:%S %p",
            "--category-col",
            "type",
            "--lon-col",
            "x",
            "--lat-col",
            "y",
            "--tz",
            "America/Chicago",
        ],
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out_path, dtype=str)
    assert len(written) == 25
    assert written["occurred_at"].iloc[0] == "2015-12-31T23:59:00-06:00"


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--mapping", "atlantis"], EXIT_CONFIG, "neither a file nor a shipped mapping"),
        (["--no-header", "--time-col", "a"], EXIT_CONFIG, "--no-header needs --columns"),
        (["--columns", "a,b", "--mapping", "chicago"], EXIT_CONFIG, "add --no-header"),
        (["--mapping", "chicago", "--tz", "Mars/Base"], EXIT_CONFIG, "unknown time zone"),
        (
            ["--time-col", "a", "--category-col", "b", "--grid-col", "c"],
            EXIT_INPUT,
            "give --no-header and --columns",
        ),
    ],
)
def test_cli_import_errors_are_one_line_with_exit_codes(tmp_path, extra, code, message):
    args = ["import", "--events", str(SAMPLE), "--out", str(tmp_path / "e.csv"), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_swapped_longitude_and_latitude_columns_are_named_in_the_fix(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text(
        "时间,类型,经度,纬度\n2017-05-01 08:00,盗窃,30.26,120.14\n2017-05-02 09:00,纠纷,30.27,120.15\n"
    )
    mapping = ColumnMapping(time_col="时间", category_col="类型", lon_col="经度", lat_col="纬度")
    with pytest.raises(ContractError, match="bad_coordinates: 2") as info:
        import_events(path, mapping, now=NOW)
    assert str(info.value).endswith(
        "Fix: the longitude column '经度' and latitude column '纬度' look swapped (exchanged, the "
        "values are in range); exchange --lon-col and --lat-col"
    )


def test_a_mapped_column_twice_in_other_case_is_fatal_and_a_semicolon_file_is_read(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("When;Kind;Cell;KIND\n2017-05-01 08:00;theft;g1;x\n")
    mapping = ColumnMapping(time_col="when", category_col="kind", grid_col="cell")
    with pytest.raises(ContractError, match="field 'kind': two columns have the same name once "
                       "case is ignored: 'Kind' and 'KIND'"):  # fmt: skip
        import_events(path, mapping, now=NOW)
    path.write_text("When;Kind;Cell;NOTE;note\n2017-05-01 08:00;theft;g1;x;y\n")
    result = import_events(path, mapping, now=NOW)
    assert result.events["category"].tolist() == ["theft"] and len(result.quarantined) == 0


def test_iso_times_without_an_offset_count_their_dst_adjustments(tmp_path):
    # no time_format: ISO 8601 read by risk.validation, whose DST facts the report now carries
    path = tmp_path / "raw.csv"
    path.write_text(
        "t,c,g\n"
        "2025-03-09 02:30,theft,g1\n"  # in Chicago's spring-forward gap: 03:00 CDT
        "2025-11-02 01:30,theft,g1\n"  # in the repeated hour: standard time
        "2025-11-02T01:30:00-05:00,theft,g1\n"  # the offset says which: not adjusted
        "2025-06-01 10:00,theft,g1\n"
    )
    mapping = ColumnMapping(time_col="t", category_col="c", grid_col="g", tz="America/Chicago")
    result = import_events(path, mapping, now="2026-01-01")
    assert (result.stats["dst_nonexistent_shifted"], result.stats["dst_ambiguous_as_standard"]) == (
        1,
        1,
    )
    assert sorted(result.events["occurred_at"].astype(str)) == [
        "2025-03-09 03:00:00-05:00",
        "2025-06-01 10:00:00-05:00",
        "2025-11-02 01:30:00-05:00",
        "2025-11-02 01:30:00-06:00",
    ]
