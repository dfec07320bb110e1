"""Writing a synthetic city: grids.geojson, events.csv, truth.json — byte-identical per seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from risk.contract import EVENT_COLUMNS
from risk.synth.city import SynthCity
from risk.synth.truth import truth_json

GRIDS_FILE, EVENTS_FILE, TRUTH_FILE = "grids.geojson", "events.csv", "truth.json"


def iso_with_offset(values: pd.Series) -> np.ndarray:
    """Timezone-aware timestamps -> ISO 8601 strings with offset, e.g. 2024-01-01T08:00:05+08:00."""
    local = values.dt.tz_localize(None)
    utc = values.dt.tz_convert("UTC").dt.tz_localize(None)
    minutes = ((local - utc) / pd.Timedelta(minutes=1)).to_numpy().astype(np.int64)
    sign = np.where(minutes < 0, "-", "+")
    absm = np.abs(minutes)
    offset = np.char.add(
        np.char.add(sign, np.char.zfill((absm // 60).astype(str), 2)),
        np.char.add(":", np.char.zfill((absm % 60).astype(str), 2)),
    )
    stamp = np.datetime_as_string(local.to_numpy().astype("datetime64[s]"), unit="s")
    return np.char.add(stamp.astype(str), offset)


def grids_geojson(grids: pd.DataFrame) -> str:
    """FeatureCollection; properties are every grid column except `geometry`."""
    props = grids.drop(columns=["geometry"])
    records = json.loads(props.to_json(orient="records", double_precision=10))
    features = []
    for record, geom in zip(records, grids["geometry"], strict=True):  # serialisation only
        geometry = shapely.geometry.mapping(geom)
        features.append({"type": "Feature", "properties": record, "geometry": geometry})
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"


def events_csv(events: pd.DataFrame) -> str:
    frame = events[list(EVENT_COLUMNS)].copy()
    frame["occurred_at"] = iso_with_offset(events["occurred_at"])
    frame["reported_at"] = iso_with_offset(events["reported_at"])
    return frame.to_csv(index=False, lineterminator="\n")


def write_city(city: SynthCity, out_dir: str | Path) -> dict[str, Path]:
    """Write the three files into `out_dir` (created if needed); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in (GRIDS_FILE, EVENTS_FILE, TRUTH_FILE)}
    paths[GRIDS_FILE].write_text(grids_geojson(city.grids), encoding="utf-8")
    paths[EVENTS_FILE].write_text(events_csv(city.events), encoding="utf-8")
    paths[TRUTH_FILE].write_text(truth_json(city.truth), encoding="utf-8")
    return paths
