from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely import box

from risk.contract import EVENT_COLUMNS, GRID_COLUMNS, normalise_category
from risk.errors import ContractError
from risk.loaders import read_events, read_grids
from risk.validation import (
    EVENT_REASONS,
    GRID_REASONS,
    parse_timestamps,
    validate_events,
    validate_grids,
    write_quarantine,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "contract"
NOW = pd.Timestamp("2024-06-01 00:00", tz="Asia/Shanghai")


@pytest.fixture(scope="module")
def grids() -> pd.DataFrame:
    return validate_grids(read_grids(FIXTURES / "grids.geojson"), file="grids.geojson").valid


def events(**columns: list) -> pd.DataFrame:
    """Raw events as text, like a CSV: defaults make one valid row in g00."""
    n = len(next(iter(columns.values()))) if columns else 1
    base = {
        "event_id": [f"x{i}" for i in range(n)],
        "occurred_at": ["2024-05-01 08:00"] * n,
        "category": ["theft"] * n,
        "grid_id": ["g00"] * n,
    }
    base.update(columns)
    return pd.DataFrame(base).astype("str")


def reason_of(raw: pd.DataFrame, grids: pd.DataFrame, **kw) -> list[str]:
    return validate_events(raw, grids, now=NOW, **kw).quarantined["reason"].tolist()


# ------------------------------------------------------------------ events: reconciliation


def test_broken_events_file_reconciles_with_exact_counts_per_reason(grids):
    # events_broken.csv: 21 data rows = 5 valid (lines 2-5, 22) + 2 exact copies of line 2
    # (lines 6-7) + 14 quarantined, one per reason and line 21 a second missing_occurred_at
    raw = read_events(FIXTURES / "events_broken.csv")
    result = validate_events(raw, grids, now=NOW, file="events_broken.csv")
    assert (len(result.valid), len(result.quarantined), result.duplicates) == (5, 14, 2)
    assert len(result.valid) + len(result.quarantined) + result.duplicates == result.input_rows
    # every reason but `before_record`, which a file of under 100 rows cannot hold (tested
    # on its own below)
    expected = dict.fromkeys((r for r in EVENT_REASONS if r != "before_record"), 1)
    expected["missing_occurred_at"] = 2
    assert result.counts_by_reason() == expected


def test_broken_events_quarantine_rows_are_line_numbers(grids):
    # header = line 1; defects sit on lines 8..21 in file order
    raw = read_events(FIXTURES / "events_broken.csv")
    result = validate_events(raw, grids, now=NOW)
    assert result.quarantined["row"].tolist() == list(range(8, 22))


def test_broken_events_valid_rows_land_in_the_right_grids(grids):
    # e1 by id; e2 point in g10; e3 on the g00/g01 edge -> g00; line 5 given g11;
    # e18 19 m west of g00 -> g00
    raw = read_events(FIXTURES / "events_broken.csv")
    valid = validate_events(raw, grids, now=NOW).valid
    assert valid["grid_id"].tolist() == ["g00", "g10", "g00", "g11", "g00"]


# ------------------------------------------------------------------ events: one reason each


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({"occurred_at": [""]}, "missing_occurred_at"),
        ({"occurred_at": ["01/05/2024 8am"]}, "bad_occurred_at"),
        ({"occurred_at": ["2024-02-30 08:00"]}, "bad_occurred_at"),
        ({"reported_at": ["later"]}, "bad_reported_at"),
        ({"reported_at": ["2024-05-01 07:59"]}, "reported_before_occurred"),
        ({"occurred_at": ["2024-06-01 00:01"]}, "future_timestamp"),
        ({"reported_at": ["2024-06-02 00:00"]}, "future_timestamp"),
        ({"category": ["  "]}, "missing_category"),
        ({"category": [" .. "]}, "missing_category"),  # no letter or digit in it
        ({"source": ["police"]}, "bad_source"),
        ({"severity": ["6"]}, "bad_severity"),
        ({"severity": ["2.5"]}, "bad_severity"),
        ({"severity": ["high"]}, "bad_severity"),
        ({"grid_id": [""], "lon": [""], "lat": [""]}, "missing_location"),
        ({"grid_id": [""], "lon": ["121.405"], "lat": [""]}, "bad_coordinates"),
        ({"grid_id": [""], "lon": ["200"], "lat": ["31.2"]}, "bad_coordinates"),
        ({"grid_id": ["g99"]}, "unknown_grid_id"),
        ({"grid_id": [""], "lon": ["121.60"], "lat": ["31.205"]}, "outside_all_grids"),
    ],
)
def test_each_event_defect_has_its_reason(grids, columns, reason):
    assert reason_of(events(**columns), grids) == [reason]


def test_duplicate_event_id_with_different_content_keeps_the_first(grids):
    raw = events(event_id=["a", "a"], category=["theft", "fire"])
    result = validate_events(raw, grids, now=NOW)
    assert result.valid["category"].tolist() == ["theft"]
    assert result.counts_by_reason() == {"duplicate_event_id": 1}


def test_duplicate_event_id_keeps_the_first_valid_copy(grids):
    # the first 'a' is quarantined for its category, so the second 'a' is kept
    raw = events(event_id=["a", "a"], category=["", "fire"])
    result = validate_events(raw, grids, now=NOW)
    assert result.valid["category"].tolist() == ["fire"]
    assert result.counts_by_reason() == {"missing_category": 1}


def test_categories_become_names_every_output_can_hold(grids):
    # a category is a file, feature, MLflow and JSON name: no `/`, `.`, `:`, quotes, no
    # 300-character names, and never the all-categories target `any`
    long = "Very long category " * 16
    raw = events(
        event_id=["a", "b", "c", "d", "e"],
        category=["Fraud / Scam", 'theft: "bike", [e]', "盗窃.诈骗", " ANY ", long],
    )
    valid = validate_events(raw, grids, now=NOW).valid
    names = valid["category"].tolist()
    assert names[:4] == ["fraud_scam", "theft_bike_e", "盗窃_诈骗", "any_category"]
    assert len(names[4]) == 48
    assert names[4].startswith("very_long_category_very_long_category_ve_")
    assert names[4] != normalise_category(long + "x")  # the hash keeps long names apart


def test_first_reason_in_the_documented_order_wins(grids):
    # missing category (6th reason) and bad source (7th) and unknown grid (11th) -> category
    raw = events(category=[""], source=["police"], grid_id=["g99"])
    assert reason_of(raw, grids) == ["missing_category"]


def test_exact_duplicates_are_counted_not_quarantined(grids):
    raw = pd.concat([events(), events(), events()], ignore_index=True)
    result = validate_events(raw, grids, now=NOW)
    assert (len(result.valid), len(result.quarantined), result.duplicates) == (1, 0, 2)


def test_quarantine_detail_names_field_and_value(grids):
    result = validate_events(events(source=["police"]), grids, now=NOW)
    assert result.quarantined["detail"].tolist() == ["source='police'"]


def test_quarantine_keeps_the_raw_values(grids):
    result = validate_events(events(severity=["9"]), grids, now=NOW)
    assert result.quarantined.loc[0, "severity"] == "9"
    assert result.quarantined.loc[0, "row"] == 1  # plain frame: rows numbered from 1


# ------------------------------------------------------------------ events: shape and values


def test_valid_events_have_the_contract_columns_and_dtypes(grids):
    valid = validate_events(events(source=["hotline"], severity=["4"]), grids, now=NOW).valid
    assert tuple(valid.columns) == EVENT_COLUMNS
    assert str(valid["occurred_at"].dtype) == "datetime64[ns, Asia/Shanghai]"
    assert str(valid["reported_at"].dtype) == "datetime64[ns, Asia/Shanghai]"
    assert valid["source"].dtype == pd.StringDtype()
    assert str(valid["severity"].dtype) == "Int8"


def test_naive_timestamps_are_city_wall_clock(grids):
    valid = validate_events(events(), grids, now=NOW).valid
    assert valid.loc[0, "occurred_at"] == pd.Timestamp("2024-05-01 08:00", tz="Asia/Shanghai")


def test_offset_timestamps_are_converted_to_the_city_zone():
    # 00:00 UTC = 08:00 Shanghai; 'Z' the same; 19:00-05:00 = 00:00 UTC next day = 08:00
    raw = pd.Series(
        ["2024-05-01T00:00:00+00:00", "2024-05-01T00:00:00Z", "2024-04-30T19:00:00-05:00"]
    )
    parsed = parse_timestamps(raw, "Asia/Shanghai")
    assert (parsed == pd.Timestamp("2024-05-01 08:00", tz="Asia/Shanghai")).all()


def test_mixed_naive_and_offset_timestamps_in_one_column():
    # naive 08:00 stays 08:00 local; 08:00+00:00 is 16:00 local
    parsed = parse_timestamps(pd.Series(["2024-05-01 08:00", "2024-05-01T08:00+00:00"]))
    assert parsed.dt.hour.tolist() == [8, 16]


def test_tz_setting_changes_the_zone_of_naive_times():
    parsed = parse_timestamps(pd.Series(["2024-05-01 08:00"]), "UTC")
    assert parsed[0] == pd.Timestamp("2024-05-01 08:00", tz="UTC")


def test_ambiguous_dst_wall_time_takes_standard_time():
    # 2024-11-03 01:30 happens twice in Chicago; standard time is CST = UTC-6
    parsed = parse_timestamps(pd.Series(["2024-11-03 01:30"]), "America/Chicago")
    assert parsed[0].utcoffset() == pd.Timedelta(hours=-6)


def test_datetime_columns_from_parquet_are_converted():
    # tz-aware UTC 00:00 -> 08:00 Shanghai; naive 08:00 -> 08:00 Shanghai
    aware = pd.Series(pd.to_datetime(["2024-05-01 00:00"]).tz_localize("UTC"))
    naive = pd.Series(pd.to_datetime(["2024-05-01 08:00"]))
    expected = pd.Timestamp("2024-05-01 08:00", tz="Asia/Shanghai")
    assert parse_timestamps(aware)[0] == expected
    assert parse_timestamps(naive)[0] == expected


def test_naive_now_is_read_in_the_city_zone(grids):
    # occurred 2024-05-01 08:00 local; now 07:59 local the same day -> future
    raw = events()
    result = validate_events(raw, grids, now=pd.Timestamp("2024-05-01 07:59"))
    assert result.counts_by_reason() == {"future_timestamp": 1}


def test_reported_at_defaults_to_occurred_at(grids):
    valid = validate_events(events(reported_at=[""]), grids, now=NOW).valid
    assert valid.loc[0, "reported_at"] == valid.loc[0, "occurred_at"]


def test_category_and_source_are_normalised(grids):
    raw = events(category=["  Fire   Hazard "], source=[" Grid Worker"])
    valid = validate_events(raw, grids, now=NOW).valid
    assert (valid.loc[0, "category"], valid.loc[0, "source"]) == ("fire_hazard", "grid_worker")


def test_empty_source_and_severity_are_na(grids):
    valid = validate_events(events(source=[""], severity=[""]), grids, now=NOW).valid
    assert valid["source"].isna().all()
    assert valid["severity"].isna().all()


def test_integral_float_severity_is_accepted(grids):
    valid = validate_events(events(severity=["3.0"]), grids, now=NOW).valid
    assert valid["severity"].tolist() == [3]


def test_generated_event_ids_are_deterministic_and_distinct(grids):
    raw = events(event_id=["", ""], category=["theft", "fire"])
    first = validate_events(raw, grids, now=NOW).valid["event_id"].tolist()
    again = validate_events(raw, grids, now=NOW).valid["event_id"].tolist()
    assert first == again
    assert first[0] != first[1]
    assert all(i.startswith("e") and len(i) == 17 for i in first)  # 'e' + 16 hex digits


def test_event_id_column_may_be_absent(grids):
    raw = events().drop(columns="event_id")
    assert validate_events(raw, grids, now=NOW).valid["event_id"].str.len().tolist() == [17]


def test_grid_id_wins_over_coordinates(grids):
    # the point lies in g11 but grid_id says g01
    raw = events(grid_id=["g01"], lon=["121.415"], lat=["31.215"])
    assert validate_events(raw, grids, now=NOW).valid["grid_id"].tolist() == ["g01"]


def test_events_without_grid_id_or_points_columns_are_fatal(grids):
    raw = events().drop(columns="grid_id")
    with pytest.raises(ContractError, match=r"ev\.csv: field 'grid_id': .*'lon' and 'lat'"):
        validate_events(raw, grids, now=NOW, file="ev.csv")


def test_events_without_category_column_are_fatal(grids):
    raw = events().drop(columns="category")
    with pytest.raises(ContractError, match="field 'category': required column is missing"):
        validate_events(raw, grids, now=NOW)


def test_write_quarantine_round_trips(grids, tmp_path):
    result = validate_events(events(source=["police", "hotline"]), grids, now=NOW)
    path = write_quarantine(result, tmp_path / "q" / "events.csv")
    back = pd.read_csv(path, dtype=str)
    assert list(back.columns[:3]) == ["row", "reason", "detail"]
    assert back[["row", "reason", "source"]].values.tolist() == [["1", "bad_source", "police"]]


def test_summary_is_plain_data(grids):
    result = validate_events(events(source=["police", "hotline"]), grids, now=NOW, file="e.csv")
    assert result.summary() == {
        "kind": "events",
        "file": "e.csv",
        "input_rows": 2,
        "valid": 1,
        "quarantined": 1,
        "duplicates": 0,
        "by_reason": {"bad_source": 1},
        "adjusted": {},
    }


def test_dst_wall_times_are_kept_adjusted_and_counted_once_per_row(grids):
    # America/Chicago: 2025-03-09 02:00-03:00 does not exist, 2025-11-02 01:00-02:00 happens twice
    raw = events(
        occurred_at=[
            "2025-03-09 02:30",  # in the gap: 03:00 CDT
            "2025-03-09 02:10",  # in the gap, and so is its report: one row adjusted
            "2025-11-02 01:30",  # repeated: standard time (CST, -06:00)
            "2025-11-02T01:30:00-05:00",  # an offset says which: not adjusted
            "2025-06-01 10:00",  # ordinary
        ],
        reported_at=[
            "2025-03-09 04:00",
            "2025-03-09 02:15",
            "2025-11-02 03:00",
            "2025-11-02 03:00",
            "2025-06-01 10:00",
        ],
    )
    result = validate_events(
        raw, grids, tz="America/Chicago", now=pd.Timestamp("2026-01-01", tz="America/Chicago")
    )
    assert result.summary()["adjusted"] == {
        "dst_nonexistent_shifted": 2,
        "dst_ambiguous_as_standard": 1,
    }
    assert len(result.valid) == 5 and len(result.quarantined) == 0
    occurred = result.valid["occurred_at"].astype(str).tolist()
    assert occurred[:4] == [
        "2025-03-09 03:00:00-05:00",
        "2025-03-09 03:00:00-05:00",
        "2025-11-02 01:30:00-06:00",
        "2025-11-02 01:30:00-05:00",
    ]


def test_an_adjusted_time_on_a_quarantined_row_is_not_counted(grids):
    raw = events(occurred_at=["2025-06-01 10:00"], reported_at=["2025-03-09 02:30"])
    result = validate_events(
        raw, grids, tz="America/Chicago", now=pd.Timestamp("2026-01-01", tz="America/Chicago")
    )
    assert result.quarantined["reason"].tolist() == ["reported_before_occurred"]
    assert result.summary()["adjusted"] == {}


# ------------------------------------------------------------------ grids


def test_broken_grids_file_reconciles_with_exact_counts_per_reason():
    # grids_broken.csv: 15 rows = 2 valid (a1, a2) + 1 exact copy of a1 + 12 quarantined
    raw = read_grids(FIXTURES / "grids_broken.csv")
    result = validate_grids(raw, file="grids_broken.csv")
    assert (len(result.valid), len(result.quarantined), result.duplicates) == (2, 12, 1)
    assert result.counts_by_reason() == {
        "missing_grid_id": 1,
        "bad_geometry": 4,  # broken WKT, a point, a bow-tie, empty
        "not_numeric": 2,  # population 'many', attr_shops 'x'
        "not_integer": 1,
        "negative_value": 1,
        "share_out_of_range": 1,
        "bad_area": 1,
        "duplicate_grid_id": 1,
    }
    assert set(result.counts_by_reason()) == set(GRID_REASONS) - {"bad_coordinates"}


def test_grid_area_and_centroid_come_from_the_geometry():
    # a1 = 0.01° x 0.01° at lat 31.2..31.21: 1.11195 km x (1.11195 * cos(31.205°) = 0.95103 km)
    # = 1.0575 km²; centroid (121.405, 31.205)
    valid = validate_grids(read_grids(FIXTURES / "grids_broken.csv")).valid
    a1 = valid.iloc[0]
    assert a1["area_km2"] == pytest.approx(1.0575, abs=5e-4)
    assert (a1["centroid_lon"], a1["centroid_lat"]) == pytest.approx((121.405, 31.205))


def test_polygons_beyond_wgs84_degrees_are_bad_geometry():
    # lat and lon exchanged (latitude 121), and a polygon in metres; only the first is kept
    raw = pd.DataFrame(
        {
            "grid_id": ["ok", "swapped", "metres"],
            "geometry": [
                "POLYGON ((121.40 31.20, 121.41 31.20, 121.41 31.21, 121.40 31.21, 121.40 31.20))",
                "POLYGON ((31.20 121.40, 31.20 121.41, 31.21 121.41, 31.21 121.40, 31.20 121.40))",
                "POLYGON ((350000 3450000, 351000 3450000, 351000 3451000, 350000 3450000))",
            ],
        }
    )
    result = validate_grids(raw, file="g.csv")
    assert result.valid["grid_id"].tolist() == ["ok"]
    assert result.counts_by_reason() == {"bad_geometry": 2}


def test_given_area_is_kept_and_missing_labels_are_unassigned():
    valid = validate_grids(read_grids(FIXTURES / "grids_broken.csv")).valid
    a2 = valid.iloc[1]
    assert a2["area_km2"] == 2.5
    assert (a2["community_id"], a2["street_id"], a2["grid_type"]) == ("unassigned",) * 3


def test_grid_frame_has_the_contract_shape():
    valid = validate_grids(read_grids(FIXTURES / "grids.geojson")).valid
    assert list(valid.columns) == [*GRID_COLUMNS, "population", "elderly_share", "attr_shops"]
    assert str(valid["population"].dtype) == "Int64"
    assert valid["grid_type"].tolist() == [
        "old_residential",
        "commercial",
        "new_residential",
        "unassigned",
    ]


def test_centroid_only_grids():
    raw = pd.DataFrame(
        {
            "grid_id": ["a", "b", "c", "d"],
            "centroid_lon": ["121.40", "abc", "121.41", "121.42"],
            "centroid_lat": ["31.20", "31.2", "95", "31.20"],
        }
    )
    result = validate_grids(raw)
    assert result.counts_by_reason() == {"bad_coordinates": 2}
    assert result.valid["geometry"].isna().all()
    assert np.isnan(result.valid["area_km2"]).all()


def test_grids_without_any_location_column_are_fatal():
    with pytest.raises(ContractError, match="no 'geometry' column and no 'centroid_lon'"):
        validate_grids(pd.DataFrame({"grid_id": ["a"]}), file="g.csv")


def test_grids_without_grid_id_column_are_fatal():
    raw = pd.DataFrame({"id": ["a"], "geometry": [box(0, 0, 1, 1)]})
    with pytest.raises(ContractError, match="g.csv: field 'grid_id': required column is missing"):
        validate_grids(raw, file="g.csv")


def test_shapely_geometries_are_accepted():
    raw = pd.DataFrame({"grid_id": ["a"], "geometry": [box(121.40, 31.20, 121.41, 31.21)]})
    assert validate_grids(raw).valid["centroid_lon"].tolist() == pytest.approx([121.405])


def _daily(n: int, start: str = "2024-01-01 08:00", every: str = "1D") -> list[str]:
    return [str(t) for t in pd.date_range(start, periods=n, freq=every)]


def test_a_stray_year_is_quarantined_not_the_start_of_the_record(grids):
    # 300 events from 2024-01-01, and two rows mistyped as 1924 and 2014: quarantined as
    # `before_record` (the record starts with 2024), and the counts still add up
    times = ["1924-02-03 10:00", "2014-02-03 11:00", *_daily(300)]
    raw = events(occurred_at=times, event_id=[f"x{i}" for i in range(302)])
    result = validate_events(raw, grids, now=pd.Timestamp("2025-06-01"))
    assert result.counts_by_reason() == {"before_record": 2}
    assert result.quarantined["detail"].str.contains("1924-02-03|2014-02-03").all()
    assert len(result.valid) == 300
    assert result.valid["occurred_at"].min() == pd.Timestamp("2024-01-01 08:00", tz="Asia/Shanghai")
    # a batch added to a record kept elsewhere: an old event reported late is legitimate
    batch = validate_events(raw, grids, now=pd.Timestamp("2025-06-01"), whole_record=False)
    assert batch.counts_by_reason() == {} and len(batch.valid) == 302


@pytest.mark.parametrize(
    "times",
    [
        # ten early events (over 1 % of the file): an early period, not a typo
        [*_daily(10, "2023-01-01 08:00"), *_daily(290)],
        # events every 5 days: 70 quiet days are under 20 mean spacings
        ["2023-10-23 08:00", *_daily(299, every="5D")],
        # a small file (under 100 rows) never has a stray
        ["1924-02-03 10:00", *_daily(98)],
    ],
)
def test_an_early_period_or_a_sparse_record_is_not_a_stray(grids, times):
    raw = events(occurred_at=times, event_id=[f"x{i}" for i in range(len(times))])
    result = validate_events(raw, grids, now=pd.Timestamp("2030-01-01"))
    assert result.counts_by_reason() == {}
