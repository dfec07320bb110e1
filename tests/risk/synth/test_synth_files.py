import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

from risk.contract import EVENT_COLUMNS, GRID_COLUMNS
from risk.errors import ContractError
from risk.synth import load_truth, oracle_expected_counts, synthesise, write_city
from risk.synth.io import iso_with_offset

FILES = ("grids.geojson", "events.csv", "truth.json")


def _digests(directory) -> dict[str, str]:
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in FILES}


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_city(synthesise(80, 30, seed=seed), tmp_path / name)
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert a == b
    assert all(a[name] != c[name] for name in FILES)


def test_geojson_is_a_feature_collection_with_contract_properties(tmp_path, small_city):
    write_city(small_city, tmp_path)
    data = json.loads((tmp_path / "grids.geojson").read_text())
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 400
    first = data["features"][0]
    assert first["geometry"]["type"] == "Polygon"
    expected = [c for c in GRID_COLUMNS if c != "geometry"]
    assert list(first["properties"])[: len(expected)] == expected
    assert first["properties"]["grid_id"] == "G00001"
    lon, lat = np.asarray(first["geometry"]["coordinates"][0]).mean(axis=0)
    assert 119.9 < lon < 120.4 and 30.1 < lat < 30.45  # around (120.15 E, 30.27 N)


def test_events_csv_has_contract_columns_and_iso_offsets(tmp_path, small_city):
    write_city(small_city, tmp_path)
    frame = pd.read_csv(tmp_path / "events.csv", dtype=str)
    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert len(frame) == len(small_city.events)
    pattern = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
    assert frame["occurred_at"].map(lambda v: bool(pattern.match(v))).all()
    parsed = pd.to_datetime(frame["reported_at"], format="ISO8601")
    assert (parsed == small_city.events["reported_at"].dt.tz_convert("UTC")).all()


def test_iso_with_offset_handles_negative_offsets_and_dst():
    times = pd.Series(
        pd.to_datetime(["2024-01-15 10:00:05", "2024-07-15 10:00:05"]).tz_localize(
            "America/Chicago"
        )
    )
    assert list(iso_with_offset(times)) == [
        "2024-01-15T10:00:05-06:00",
        "2024-07-15T10:00:05-05:00",
    ]


def test_truth_round_trips_and_recomputes_the_same_oracle(tmp_path, small_city):
    write_city(small_city, tmp_path)
    truth = load_truth(tmp_path / "truth.json")
    assert truth.params == small_city.truth.params
    assert np.array_equal(truth.background_per_day, small_city.truth.background_per_day)
    data = json.loads((tmp_path / "truth.json").read_text())
    assert data["params"]["type_multiplier"]["commercial"]["theft"] == 3.0
    assert data["days"] == 150 and data["seed"] == 3 and len(data["daily_shock"]) == 150
    times = pd.date_range("2024-05-01 08:00", periods=3, freq="D", tz="Asia/Shanghai")
    events = pd.read_csv(tmp_path / "events.csv")
    for col in ("occurred_at", "reported_at"):
        events[col] = pd.to_datetime(events[col], format="ISO8601").dt.tz_convert("Asia/Shanghai")
    from_files = oracle_expected_counts(truth, events, small_city.grids, times)
    in_memory = oracle_expected_counts(small_city.truth, small_city.events, small_city.grids, times)
    np.testing.assert_allclose(from_files, in_memory, rtol=1e-12)


def test_load_truth_names_the_file_when_it_is_not_a_truth(tmp_path):
    path = tmp_path / "truth.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ContractError, match=r"truth.json: field 'format'.*risk synth"):
        load_truth(path)
    with pytest.raises(ContractError, match="cannot read the truth file"):
        load_truth(tmp_path / "missing.json")
