"""Row-level validation of grids and events against the data contract (DESIGN §3).

Every input row ends up in exactly one of three places:

* **duplicates** — identical to an earlier row in every column (the first one is kept and
  validated; the others are only counted);
* **quarantined** — the original raw values plus `row` (1-based line number in a CSV with
  its header on line 1, or row / feature number in Parquet and GeoJSON), `reason` and
  `detail` (`field=value`);
* **valid** — a frame in the exact shape of `risk.contract`.

`valid + quarantined + duplicates == input_rows` always holds (asserted).

A row that breaks several rules gets the FIRST reason in `GRID_REASONS` / `EVENT_REASONS`.
Duplicate ids (`duplicate_grid_id`, `duplicate_event_id`) are checked last, among rows that
passed every other rule, so a broken first copy never costs a good later one its place.

Missing columns are fatal and raise `ContractError`; the loaders (`risk.loaders`) add the
other fatal cases (unreadable file, no valid rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from risk.assign import OUTSIDE, assign_points
from risk.contract import (
    ATTR_PREFIX,
    DEFAULT_TZ,
    EVENT_COLUMNS,
    EVENT_REQUIRED,
    GRID_COLUMNS,
    GRID_COUNT_COLUMNS,
    GRID_OPTIONAL_COLUMNS,
    GRID_SHARE_COLUMNS,
    SOURCES,
    UNASSIGNED,
    event_category,
    normalise_category,
)
from risk.errors import ContractError
from risk.geometry import areas_km2

GRID_REASONS = (
    "missing_grid_id",
    "bad_geometry",  # unparseable, empty, not a polygon, invalid, beyond lon ±180 / lat ±90
    # (not WGS84 degrees, or lat/lon exchanged), or no geometry and no centroid
    "bad_coordinates",  # centroid_lon/centroid_lat non-numeric or out of range
    "not_numeric",  # a count, share, area_km2 or attr_* value that is not a number
    "not_integer",  # a count with a fractional part
    "negative_value",  # a count below 0
    "share_out_of_range",  # a share outside [0, 1]
    "bad_area",  # area_km2 <= 0
    "duplicate_grid_id",  # same grid_id as an earlier valid row
)

EVENT_REASONS = (
    "missing_occurred_at",
    "bad_occurred_at",  # not ISO 8601, or outside EARLIEST..LATEST (e.g. 9999-12-31)
    "bad_reported_at",  # given but not ISO 8601, or outside EARLIEST..LATEST
    "reported_before_occurred",
    "future_timestamp",  # occurred_at or reported_at after `now`
    "before_record",  # a stray date far before the rest of the file (`stray_before_record`)
    "missing_category",
    "bad_source",  # not in contract.SOURCES after normalising
    "bad_severity",  # not an integer 1..5
    "missing_location",  # no grid_id and no lon/lat
    "bad_coordinates",  # lon/lat non-numeric, half missing, or out of range
    "unknown_grid_id",  # grid_id not in the validated grids
    "outside_all_grids",  # lon/lat in no grid and farther than the tolerance from all
    "duplicate_event_id",  # same event_id as an earlier valid row, different content
)

ROW_COLUMN = "row"
# The times a frame can hold (pandas keeps them in nanoseconds: 1677-09-21 .. 2262-04-11), with
# a day to spare for any time zone. A row dated outside is quarantined, never fatal.
EARLIEST = pd.Timestamp("1678-01-01")
LATEST = pd.Timestamp("2262-01-01")
QUARANTINE_COLUMNS = (ROW_COLUMN, "reason", "detail")
# A stray date: at most this share of a file's events, separated from all the others by a
# stretch of at least STRAY_GAP_DAYS (and STRAY_GAP_SPACINGS times their mean spacing) with
# no event anywhere in the city.
STRAY_MAX_SHARE = 0.01
STRAY_GAP_DAYS = 60
STRAY_GAP_SPACINGS = 20
CAUSE_SHARE = 0.9  # `likely_cause` names a mistake only when it explains this share of rows
_OFFSET = r"[Tt ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass
class ValidationResult:
    """Outcome of validating one input table (grids or events)."""

    kind: str  # "grids" or "events"
    file: str
    valid: pd.DataFrame
    quarantined: pd.DataFrame
    duplicates: int
    input_rows: int
    # per kind of adjustment (events: DST wall times), a mask over `valid`'s rows of those
    # kept with a value adjusted; they are counted in `valid`, not beside it
    adjusted_rows: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        total = len(self.valid) + len(self.quarantined) + self.duplicates
        assert total == self.input_rows, (
            f"{self.file}: {len(self.valid)} valid + {len(self.quarantined)} quarantined + "
            f"{self.duplicates} duplicates != {self.input_rows} input rows"
        )

    @property
    def adjusted(self) -> dict[str, int]:
        """Valid rows kept with a value adjusted, per kind (zeros left out)."""
        return {k: int(m.sum()) for k, m in self.adjusted_rows.items() if m.any()}

    def counts_by_reason(self) -> dict[str, int]:
        """Quarantine counts per reason, in the documented reason order (zeros left out)."""
        order = GRID_REASONS if self.kind == "grids" else EVENT_REASONS
        counts = self.quarantined["reason"].value_counts()
        return {r: int(counts[r]) for r in order if r in counts.index}

    def summary(self) -> dict[str, object]:
        """Plain data for the CLI: file, the three counts, the input and the per-reason counts."""
        return {
            "kind": self.kind,
            "file": self.file,
            "input_rows": self.input_rows,
            "valid": len(self.valid),
            "quarantined": len(self.quarantined),
            "duplicates": self.duplicates,
            "by_reason": self.counts_by_reason(),
            "adjusted": self.adjusted,
        }


def write_quarantine(result: ValidationResult, path: str | Path) -> Path:
    """Write the quarantined rows as CSV (`row, reason, detail` first, then the raw columns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    q = result.quarantined
    cols = list(QUARANTINE_COLUMNS) + [c for c in q.columns if c not in QUARANTINE_COLUMNS]
    q[cols].to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------------------------
# grids


def validate_grids(raw: pd.DataFrame, *, file: str = "grids") -> ValidationResult:
    """Validate raw grid rows (all values as read, geometry as WKT / GeoJSON text / WKB / shapely).

    The valid frame has `GRID_COLUMNS`, then the optional population columns present in the
    input (counts `Int64`, shares `float64`), then `attr_*` columns (`float64`). Missing
    `community_id`/`street_id`/`grid_type` become `unassigned`; `area_km2` is derived from the
    geometry when absent (NaN for centroid-only grids); centroids come from the geometry when
    absent. `geometry` holds shapely polygons in lon/lat, or `None` for centroid-only grids.
    """
    _require(raw, ("grid_id",), file, "grids")
    has_centroid_cols = {"centroid_lon", "centroid_lat"} <= set(raw.columns)
    if "geometry" not in raw.columns and not has_centroid_cols:
        raise ContractError(
            "grids need a location: no 'geometry' column and no 'centroid_lon'+'centroid_lat' "
            f"(columns found: {', '.join(map(str, raw.columns))})",
            file=file,
            field="geometry",
            fix="give polygons (GeoJSON, or WKT in a 'geometry' column) or centroid_lon/centroid_lat",
        )
    rows = _row_numbers(raw)
    dup = raw.duplicated(keep="first").to_numpy()
    work = raw.loc[~dup]
    t = Triage(len(work))

    gid = stripped_text(work, "grid_id")
    t.flag(gid.isna(), "missing_grid_id", "grid_id", work["grid_id"])

    geom, geom_given, geom_bad = _parse_geometry(work)
    t.flag(geom_bad, "bad_geometry", "geometry", _column(work, "geometry"))
    clon, clat, c_given, c_bad = _parse_centroids(work)
    t.flag(~geom_given & ~c_given, "bad_geometry", "geometry", _column(work, "geometry"))
    t.flag(c_bad, "bad_coordinates", "centroid_lon,centroid_lat", pair_text(clon.raw, clat.raw))

    optional = [c for c in GRID_OPTIONAL_COLUMNS if c in work.columns]
    attrs = [c for c in work.columns if str(c).startswith(ATTR_PREFIX)]
    numeric_cols = [*optional, *(["area_km2"] if "area_km2" in work.columns else []), *attrs]
    nums = {c: NumericColumn(work[c]) for c in numeric_cols}
    for c in numeric_cols:
        t.flag(nums[c].not_numeric, "not_numeric", c, work[c])
    counts = [c for c in optional if c in GRID_COUNT_COLUMNS]
    for c in counts:
        v = nums[c].values
        t.flag(v.notna() & (v % 1 != 0), "not_integer", c, work[c])
    for c in counts:
        t.flag(nums[c].values < 0, "negative_value", c, work[c])
    for c in (c for c in optional if c in GRID_SHARE_COLUMNS):
        v = nums[c].values
        t.flag((v < 0) | (v > 1), "share_out_of_range", c, work[c])
    if "area_km2" in nums:
        t.flag(nums["area_km2"].values <= 0, "bad_area", "area_km2", work["area_km2"])
    t.flag(_repeated_among_ok(gid, t.ok), "duplicate_grid_id", "grid_id", gid)

    keep = t.ok
    g = geom[keep]
    has_g = ~pd.isna(pd.Series(g, dtype=object)).to_numpy()
    cent_lon = clon.values.to_numpy(float)[keep]
    cent_lat = clat.values.to_numpy(float)[keep]
    if has_g.any():
        cent = shapely.centroid(g[has_g])
        fill = has_g & np.isnan(cent_lon)
        cent_lon[fill] = shapely.get_x(cent)[fill[has_g]]
        cent_lat[fill] = shapely.get_y(cent)[fill[has_g]]
    area = (
        nums["area_km2"].values.to_numpy(float)[keep]
        if "area_km2" in nums
        else np.full(int(keep.sum()), np.nan)
    )
    if has_g.any():
        derived = areas_km2(g[has_g])
        fill = has_g & np.isnan(area)
        area[fill] = derived[fill[has_g]]

    out = pd.DataFrame(
        {
            "grid_id": gid[keep].to_numpy(),
            "community_id": stripped_text(work, "community_id").fillna(UNASSIGNED)[keep].to_numpy(),
            "street_id": stripped_text(work, "street_id").fillna(UNASSIGNED)[keep].to_numpy(),
            "grid_type": normalised_categories(stripped_text(work, "grid_type"))
            .fillna(UNASSIGNED)[keep]
            .to_numpy(),
            "area_km2": area,
            "centroid_lon": cent_lon,
            "centroid_lat": cent_lat,
            "geometry": pd.Series(g, dtype=object).to_numpy(),
        }
    )
    for c in ("grid_id", "community_id", "street_id", "grid_type"):
        out[c] = out[c].astype("str")
    for c in optional:
        v = nums[c].values[keep].to_numpy()
        out[c] = pd.array(v, dtype="Int64") if c in GRID_COUNT_COLUMNS else v.astype(float)
    for c in attrs:
        out[c] = nums[c].values[keep].to_numpy(float)
    assert tuple(out.columns[: len(GRID_COLUMNS)]) == GRID_COLUMNS
    return _result("grids", file, raw, rows, dup, work, t, out)


# --------------------------------------------------------------------------------------------
# events


def validate_events(
    raw: pd.DataFrame,
    grids: pd.DataFrame,
    *,
    tz: str = DEFAULT_TZ,
    now: pd.Timestamp | None = None,
    file: str = "events",
    assign_tolerance_m: float | None = None,
    whole_record: bool = True,
) -> ValidationResult:
    """Validate raw event rows against validated `grids` (the `valid` frame of `validate_grids`).

    Timestamps are ISO 8601; naive ones are wall-clock times in `tz`, ones with an offset are
    converted to `tz` (ambiguous DST wall times take standard time, non-existent ones shift
    forward; the valid rows so adjusted are counted in `adjusted`). `now` (default: the
    current time) bounds future timestamps; a naive `now` is in `tz`. `reported_at` defaults to `occurred_at`. A missing or empty `event_id` is generated as
    `"e"` + the 16 hex digits of pandas' 64-bit hash of the raw row's values
    (`pd.util.hash_pandas_object`), so the same row gets the same id on every run. Points are
    assigned by `risk.assign.assign_points` (tolerance default: see `default_tolerance_m`); a
    non-empty `grid_id` wins over `lon`/`lat`. `whole_record`: the rows are a city's whole
    record, so a stray date far before the rest (a mistyped year) is quarantined as
    `before_record` (:func:`stray_before_record`) instead of starting the record; False for a
    batch added to a record held elsewhere (an old event reported late is then legitimate).

    Valid frame: `EVENT_COLUMNS`; `occurred_at`/`reported_at` `datetime64[ns, tz]`, `source`
    pandas `string` with NA, `severity` `Int8` with NA, ids and category `str`.
    """
    _require(raw, EVENT_REQUIRED, file, "events")
    has_point_cols = {"lon", "lat"} <= set(raw.columns)
    if "grid_id" not in raw.columns and not has_point_cols:
        raise ContractError(
            "required column is missing: events need 'grid_id' or both 'lon' and 'lat' "
            f"(columns found: {', '.join(map(str, raw.columns))})",
            file=file,
            field="grid_id",
            fix="add a 'grid_id' column, or 'lon' and 'lat' columns in WGS84 degrees",
        )
    now_ts = _now(now, tz)
    rows = _row_numbers(raw)
    dup = raw.duplicated(keep="first").to_numpy()
    work = raw.loc[~dup]
    t = Triage(len(work))

    occ_raw = work["occurred_at"]
    occ_blank = blank_mask(occ_raw)
    occ, gap, fold = parse_timestamps_noting_dst(occ_raw, tz)
    t.flag(occ_blank, "missing_occurred_at", "occurred_at", occ_raw)
    t.flag(occ.isna(), "bad_occurred_at", "occurred_at", occ_raw)
    if "reported_at" in work.columns:
        rep_raw = work["reported_at"]
        rep_blank = blank_mask(rep_raw)
        rep, rep_gap, rep_fold = parse_timestamps_noting_dst(rep_raw, tz)
        gap, fold = gap | rep_gap, fold | rep_fold
        t.flag(~rep_blank & rep.isna(), "bad_reported_at", "reported_at", rep_raw)
        rep = rep.where(~rep_blank, occ)
    else:
        rep_raw = occ_raw
        rep = occ
    t.flag(
        rep < occ,
        "reported_before_occurred",
        "reported_at,occurred_at",
        lambda: pair_text(rep_raw, occ_raw),  # costly on 300k datetimes: only when needed
    )
    t.flag(occ > now_ts, "future_timestamp", "occurred_at", occ_raw)
    t.flag(rep > now_ts, "future_timestamp", "reported_at", rep_raw)
    if whole_record:
        t.flag(stray_before_record(occ, t.ok), "before_record", "occurred_at", occ_raw)

    cat = event_categories(stripped_text(work, "category"))
    t.flag(cat.isna(), "missing_category", "category", work["category"])
    source = normalised_categories(stripped_text(work, "source"))
    t.flag(source.notna() & ~source.isin(SOURCES), "bad_source", "source", _column(work, "source"))
    sev = NumericColumn(_column(work, "severity"))
    sv = sev.values
    bad_sev = sev.not_numeric | (sv.notna() & ((sv % 1 != 0) | (sv < 1) | (sv > 5)))
    t.flag(bad_sev, "bad_severity", "severity", _column(work, "severity"))

    grid_id = _assign_location(work, grids, t, assign_tolerance_m)

    event_id = stripped_text(work, "event_id")
    missing_id = event_id.isna()
    if missing_id.any():
        hashes = pd.util.hash_pandas_object(work.loc[missing_id.to_numpy()], index=False)
        event_id[missing_id] = ["e" + format(h, "016x") for h in hashes.to_numpy()]
    t.flag(_repeated_among_ok(event_id, t.ok), "duplicate_event_id", "event_id", event_id)

    keep = t.ok
    out = pd.DataFrame(
        {
            "event_id": event_id[keep].to_numpy(),
            "occurred_at": pd.DatetimeIndex(occ[keep]).as_unit("ns"),
            "reported_at": pd.DatetimeIndex(rep[keep]).as_unit("ns"),
            "category": cat[keep].to_numpy(),
            "grid_id": grid_id[keep].to_numpy(),
        }
    )
    for c in ("event_id", "category", "grid_id"):
        out[c] = out[c].astype("str")
    out["source"] = pd.array(source[keep].to_numpy(), dtype="string")
    out["severity"] = pd.array(sv[keep].to_numpy(), dtype="Int8")
    assert tuple(out.columns) == EVENT_COLUMNS
    result = _result("events", file, raw, rows, dup, work, t, out)
    result.adjusted_rows = {
        "dst_nonexistent_shifted": gap[keep],
        "dst_ambiguous_as_standard": fold[keep],
    }
    return result


def stray_before_record(occurred: pd.Series, ok: np.ndarray) -> np.ndarray:
    """(n,) True for the rows (among `ok`) whose `occurred_at` comes before a city-wide stretch
    without any event that is at least `STRAY_GAP_DAYS` long and `STRAY_GAP_SPACINGS` times
    the mean spacing of the events after it, when they are at most `STRAY_MAX_SHARE` of the
    rows: a typo such as 1924 for 2024, which would otherwise make the record start decades
    early and every model learn from months of invented quiet. The latest such stretch
    counts; a file of fewer than 1 / `STRAY_MAX_SHARE` rows never has one."""
    usable = ok & occurred.notna().to_numpy()
    n = int(usable.sum())
    most = int(STRAY_MAX_SHARE * n)
    if most < 1:
        return np.zeros(len(occurred), dtype=bool)
    # days since 1970 (NaT reads as a huge negative number: masked by `usable`)
    stamp = pd.DatetimeIndex(occurred).as_unit("s").asi8 / 86_400.0
    days = np.sort(stamp[usable])
    gaps = np.diff(days)
    first_kept = np.arange(1, n)  # the row after each gap, in sorted order
    after_spacing = (days[-1] - days[first_kept]) / np.maximum(n - 1 - first_kept, 1)
    stray = (
        (first_kept <= most)
        & (gaps >= STRAY_GAP_DAYS)
        & (gaps >= STRAY_GAP_SPACINGS * after_spacing)
    )
    if not stray.any():
        return np.zeros(len(occurred), dtype=bool)
    start = days[first_kept[np.flatnonzero(stray)[-1]]]
    return usable & (stamp < start)


def parse_timestamps(values: pd.Series, tz: str = DEFAULT_TZ) -> pd.Series:
    """ISO 8601 values -> `datetime64[ns, tz]`, NaT where blank, unparseable or out of range.

    Strings with an offset (`Z`, `+08:00`, `-0500`) are parsed together with `utc=True` and
    converted; naive strings are parsed separately and localised to `tz` (pandas refuses mixed
    offsets without `utc=True`, and `utc=True` alone would read naive times as UTC).
    Datetime columns (Parquet) are converted or localised the same way.
    """
    return parse_timestamps_noting_dst(values, tz)[0]


def parse_timestamps_noting_dst(
    values: pd.Series, tz: str = DEFAULT_TZ
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """As :func:`parse_timestamps`, with two (n,) masks of the naive wall times it adjusted
    (:func:`dst_wall_times`): in the spring-forward gap (shifted forward) and in the repeated
    fall-back hour (read as standard time). Times with an offset are never adjusted."""
    n = len(values)
    nonexistent, ambiguous = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return within_range(values).dt.tz_convert(tz).dt.as_unit("ns"), nonexistent, ambiguous
    if pd.api.types.is_datetime64_dtype(values.dtype):
        naive = within_range(values)
        return localise_wall_times(naive, tz), *dst_wall_times(naive, tz)
    text = values.astype("str").str.strip()
    aware = text.str.contains(_OFFSET, regex=True, na=False).to_numpy()
    out = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {tz}]")
    if aware.any():
        parsed = pd.to_datetime(text[aware], format="ISO8601", errors="coerce", utc=True)
        out[aware] = within_range(parsed).dt.tz_convert(tz).dt.as_unit("ns")
    if (~aware).any():
        naive = within_range(pd.to_datetime(text[~aware], format="ISO8601", errors="coerce"))
        out[~aware] = localise_wall_times(naive, tz)
        nonexistent[~aware], ambiguous[~aware] = dst_wall_times(naive, tz)
    return out, nonexistent, ambiguous


def dst_wall_times(naive: pd.Series, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """(nonexistent, ambiguous): (n,) masks of the naive wall times that fall in `tz`'s
    spring-forward gap and in its repeated fall-back hour (`localise_wall_times` shifts the
    first forward and reads the second as standard time)."""
    given = naive.notna().to_numpy()
    gap = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").isna().to_numpy()
    fold = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward").isna()
    fold = fold.to_numpy()
    return given & gap & ~fold, given & fold


def within_range(times: pd.Series) -> pd.Series:
    """``times`` (naive or aware, any unit) with values outside `EARLIEST`..`LATEST` as NaT, so
    converting to nanoseconds cannot overflow (pandas parses 9999-12-31 in microseconds)."""
    wall = times.dt.tz_localize(None) if isinstance(times.dtype, pd.DatetimeTZDtype) else times
    return times.mask((wall < EARLIEST) | (wall >= LATEST))


def likely_cause(result: ValidationResult, grids: pd.DataFrame | None = None) -> str | None:
    """A guess at the one mistake behind the most common quarantine reason, for the message
    when no row is valid: lon and lat swapped (out of range, or outside every grid of `grids`
    while exchanged they fall among them), or grid ids written with and without leading zeros.
    None when no such mistake explains at least `CAUSE_SHARE` of those rows."""
    q = result.quarantined
    if len(q) == 0:
        return None
    top = q["reason"].value_counts().idxmax()
    rows = q[q["reason"] == top]
    x, y = ("lon", "lat") if result.kind == "events" else ("centroid_lon", "centroid_lat")
    swapped = (
        f"'{x}' and '{y}' look swapped (exchanged, the values are in range"
        + (" and the points fall among the grids" if top == "outside_all_grids" else "")
        + "); exchange the two column names"
    )
    xy_given = {x, y} <= set(rows.columns)
    if top == "bad_coordinates" and xy_given and coordinates_look_swapped(rows[x], rows[y]):
        return swapped
    if top == "bad_coordinates" and xy_given and _decimal_commas(rows[x], rows[y]):
        return (
            f"'{x}' and '{y}' are written with a decimal comma (e.g. {rows[x].iloc[0]!r}); "
            "write them with a decimal point (120.15, not 120,15)"
        )
    if top == "bad_geometry" and "geometry" in rows.columns:
        cause = _geometry_cause(rows["geometry"])
        if cause:
            return cause
    if top == "outside_all_grids" and grids is not None and len(grids):
        lon = pd.to_numeric(rows["lat"], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(rows["lon"], errors="coerce").to_numpy(float)
        gx, gy = grids["centroid_lon"].to_numpy(float), grids["centroid_lat"].to_numpy(float)
        pad = 0.05  # degrees, about 5 km: the grids' extent and a margin
        with np.errstate(invalid="ignore"):
            inside = (
                (lon >= np.nanmin(gx) - pad) & (lon <= np.nanmax(gx) + pad)
                & (lat >= np.nanmin(gy) - pad) & (lat <= np.nanmax(gy) + pad)
            )  # fmt: skip
        if inside.mean() >= CAUSE_SHARE:
            return swapped
    if top == "unknown_grid_id" and grids is not None and "grid_id" in rows.columns:
        ids = grids["grid_id"].astype(str)
        known = dict(zip(_unpadded(ids), ids, strict=False))
        given = rows["grid_id"].astype(str).str.strip()
        match = _unpadded(given).map(known)
        if match.notna().mean() >= CAUSE_SHARE:
            i = int(np.flatnonzero(match.notna().to_numpy())[0])
            return (
                f"the grid ids match the grids file's only once leading zeros are ignored "
                f"(e.g. {given.iloc[i]!r} here, {match.iloc[i]!r} there); write the ids the "
                "same way in both files (as text, keeping leading zeros)"
            )
    return None


def coordinates_look_swapped(lon: pd.Series, lat: pd.Series) -> bool:
    """Whether at least `CAUSE_SHARE` of these raw lon/lat pairs are in range exchanged."""
    x = pd.to_numeric(lon, errors="coerce").abs()
    y = pd.to_numeric(lat, errors="coerce").abs()
    return len(x) > 0 and float(((x <= 90) & (y <= 180)).mean()) >= CAUSE_SHARE


def _geometry_cause(raw: pd.Series) -> str | None:
    """Why these polygons (GeoJSON or WKT text, or shapely) are out of WGS84 range, when one
    reason covers at least `CAUSE_SHARE` of them: lat and lon exchanged, or not degrees."""
    geoms = _read_geometries(raw)
    parsed = ~pd.isna(pd.Series(geoms, dtype=object)).to_numpy()
    parsed[parsed] = ~shapely.is_empty(geoms[parsed])
    if not len(geoms) or parsed.mean() < CAUSE_SHARE:
        return None
    box = shapely.bounds(geoms[parsed].tolist())
    x, y = np.abs(box[:, [0, 2]]).max(axis=1), np.abs(box[:, [1, 3]]).max(axis=1)
    if ((x <= 90) & (y <= 180) & (y > 90)).mean() >= CAUSE_SHARE:
        return (
            "the polygons' coordinates look like (lat, lon): GeoJSON and WKT give lon first; "
            "exchange the two numbers of every point"
        )
    if ((x > 180) | (y > 90)).mean() >= CAUSE_SHARE:
        return (
            "the polygons' coordinates are not WGS84 degrees (metres of a projection?); "
            "reproject the file to EPSG:4326"
        )
    return None


def _decimal_commas(lon: pd.Series, lat: pd.Series) -> bool:
    """Whether at least `CAUSE_SHARE` of these raw lon/lat pairs are numbers written with a
    decimal comma (`120,15`)."""
    pattern = r"\s*[+-]?\d+,\d+\s*"
    both = lon.astype("str").str.fullmatch(pattern) & lat.astype("str").str.fullmatch(pattern)
    return len(lon) > 0 and float(both.fillna(False).mean()) >= CAUSE_SHARE


def _unpadded(ids: pd.Series) -> pd.Series:
    text = ids.astype(str).str.strip()
    return text.where(~text.str.fullmatch(r"\d+"), text.str.lstrip("0").replace("", "0"))


# --------------------------------------------------------------------------------------------
# helpers


class Triage:
    """First-reason-wins bookkeeping: one reason and one detail per row, `None` while valid."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.detail = np.full(n, None, dtype=object)

    @property
    def ok(self) -> np.ndarray:
        return pd.isna(self.reason)

    def flag(
        self,
        mask: Iterable[bool],
        reason: str,
        field: str,
        values: pd.Series | Callable[[], pd.Series],
    ) -> None:
        """Flag the still-valid rows of ``mask``; ``values`` (or a function building them, called
        only when a row is flagged) gives the text shown in the detail."""
        m = np.asarray(pd.array(mask, dtype="boolean").fillna(False), dtype=bool) & self.ok
        if not m.any():
            return
        if callable(values):
            values = values()
        self.reason[m] = reason
        shown = _shown(values.iloc[np.nonzero(m)[0]])
        self.detail[m] = (field + "=" + shown).to_numpy()


class NumericColumn:
    """A raw column as float64 (`values`, NaN where blank or not a number) + `not_numeric` mask."""

    def __init__(self, raw: pd.Series) -> None:
        blank = blank_mask(raw)
        text = raw if pd.api.types.is_numeric_dtype(raw.dtype) else raw.astype("str").str.strip()
        self.values = pd.to_numeric(text, errors="coerce").astype(float)
        self.values[~np.isfinite(self.values.to_numpy())] = np.nan
        self.not_numeric = (~blank & self.values.isna()).to_numpy()
        self.raw = raw


def _require(raw: pd.DataFrame, required: Iterable[str], file: str, kind: str) -> None:
    for col in required:
        if col not in raw.columns:
            found = ", ".join(map(str, raw.columns)) or "none"
            near = [c for c in map(str, raw.columns) if normalise_category(c) == col]
            fix = f"add the column '{col}' to the {kind} file (names are case-insensitive)"
            if near:  # 'Occurred At', 'occurred-at'
                fix = f"rename the column '{near[0]}' to '{col}'"
            raise ContractError(
                f"required column is missing (columns found: {found})",
                file=file,
                field=col,
                fix=fix,
            )


def _row_numbers(raw: pd.DataFrame) -> np.ndarray:
    """`raw.index` when the loader named it `row`, else 1..n."""
    if raw.index.name == ROW_COLUMN:
        return raw.index.to_numpy(dtype=np.int64)
    return np.arange(1, len(raw) + 1, dtype=np.int64)


def _result(
    kind: str,
    file: str,
    raw: pd.DataFrame,
    rows: np.ndarray,
    dup: np.ndarray,
    work: pd.DataFrame,
    t: Triage,
    valid: pd.DataFrame,
) -> ValidationResult:
    bad = ~t.ok
    q = work.loc[bad].copy()
    q.index = pd.RangeIndex(len(q))
    q.insert(0, ROW_COLUMN, rows[~dup][bad])
    q.insert(1, "reason", pd.array(t.reason[bad], dtype="str"))
    q.insert(2, "detail", pd.array(t.detail[bad], dtype="str"))
    return ValidationResult(
        kind=kind,
        file=file,
        valid=valid.reset_index(drop=True),
        quarantined=q,
        duplicates=int(dup.sum()),
        input_rows=len(raw),
    )


def _repeated_among_ok(ids: pd.Series, ok: np.ndarray) -> np.ndarray:
    """Rows still valid whose id already appeared on an earlier still-valid row."""
    out = np.zeros(len(ids), dtype=bool)
    out[ok] = ids[ok].duplicated(keep="first").to_numpy()
    return out


def _column(work: pd.DataFrame, name: str) -> pd.Series:
    if name in work.columns:
        return work[name]
    return pd.Series(np.nan, index=work.index, dtype=object)


def blank_mask(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
        values.dtype
    ):
        return values.isna().to_numpy()
    text = values.astype("str").str.strip()
    return (values.isna() | (text == "")).to_numpy()


def stripped_text(work: pd.DataFrame, name: str) -> pd.Series:
    """Stripped text of a column as `str` dtype with NaN for blank/absent values."""
    col = _column(work, name)
    text = col.astype("str").str.strip()
    return text.where(~blank_mask(col), np.nan).astype("str")


def normalised_categories(
    text: pd.Series, normalise: Callable[[str], str] = normalise_category
) -> pd.Series:
    """`normalise` (`contract.normalise_category`) on each distinct value (fast on 300k
    rows); '' -> NaN."""
    uniques = text.dropna().unique()
    mapping = {u: normalise(u) or np.nan for u in uniques}
    return text.map(mapping).astype("str")


def event_categories(text: pd.Series) -> pd.Series:
    """Events' categories: `contract.event_category` on each distinct value; '' -> NaN."""
    return normalised_categories(text, event_category)


def _shown(values: pd.Series) -> pd.Series:
    return values.astype("str").fillna("<missing>").str.slice(0, 120).map(repr)


def pair_text(a: pd.Series, b: pd.Series) -> pd.Series:
    """Two raw columns as one `a,b` text (shown quoted once by `Triage.flag`)."""
    return a.astype("str").fillna("<missing>") + "," + b.astype("str").fillna("<missing>")


def localise_wall_times(naive: pd.Series, tz: str) -> pd.Series:
    ambiguous = np.zeros(len(naive), dtype=bool)  # ambiguous DST wall time -> standard time
    return (
        naive.dt.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward")
        .dt.as_unit("ns")
        .astype(f"datetime64[ns, {tz}]")
    )


def _now(now: pd.Timestamp | None, tz: str) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz=tz)
    ts = pd.Timestamp(now)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _parse_geometry(work: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (geometries or None, given mask, bad mask). Accepts GeoJSON text, WKT, WKB, shapely."""
    n = len(work)
    geoms = np.full(n, None, dtype=object)
    if "geometry" not in work.columns:
        return geoms, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    raw = work["geometry"]
    given = ~blank_mask(raw)
    geoms = _read_geometries(raw)
    parsed = ~pd.isna(pd.Series(geoms, dtype=object)).to_numpy()
    good = np.zeros(n, dtype=bool)
    if parsed.any():
        g = geoms[parsed]
        polygonal = np.isin(shapely.get_type_id(g), (3, 6))  # Polygon, MultiPolygon
        ok = polygonal & ~shapely.is_empty(g) & shapely.is_valid(g)
        # GeoJSON and WKT here are WGS84 degrees, lon first: a polygon beyond ±180 / ±90 is in
        # metres or has lat and lon exchanged, and its centroid would be nowhere
        with np.errstate(invalid="ignore"):
            box = shapely.bounds(g)
            in_range = (np.abs(box[:, [0, 2]]) <= 180).all(axis=1) & (
                np.abs(box[:, [1, 3]]) <= 90
            ).all(axis=1)
        good[parsed] = ok & in_range
    geoms[~good] = None
    return geoms, given, given & ~good


def _read_geometries(raw: pd.Series) -> np.ndarray:
    """Each value as a shapely geometry (GeoJSON text, WKT, WKB or shapely as given), None
    where blank or unparseable."""
    values = raw.to_numpy(dtype=object)
    geoms = np.full(len(values), None, dtype=object)
    given = ~blank_mask(raw)
    is_geom = np.array([isinstance(v, shapely.Geometry) for v in values], dtype=bool)
    is_bytes = np.array([isinstance(v, bytes | bytearray) for v in values], dtype=bool)
    is_text = given & ~is_geom & ~is_bytes
    geoms[is_geom] = values[is_geom]
    if is_bytes.any():
        geoms[is_bytes] = shapely.from_wkb(values[is_bytes], on_invalid="ignore")
    if is_text.any():
        text = raw[is_text].astype("str").str.strip()
        js = text.str.startswith("{").to_numpy()
        idx = np.nonzero(is_text)[0]
        if js.any():
            geoms[idx[js]] = shapely.from_geojson(text[js].to_numpy(object), on_invalid="ignore")
        if (~js).any():
            geoms[idx[~js]] = shapely.from_wkt(text[~js].to_numpy(object), on_invalid="ignore")
    return geoms


def _parse_centroids(
    work: pd.DataFrame,
) -> tuple[NumericColumn, NumericColumn, np.ndarray, np.ndarray]:
    """-> (lon, lat, given mask (both present), bad mask (non-numeric, half given, out of range))."""
    lon = NumericColumn(_column(work, "centroid_lon"))
    lat = NumericColumn(_column(work, "centroid_lat"))
    bad, given = coordinate_masks(lon, lat)
    return lon, lat, given, bad


def coordinate_masks(lon: NumericColumn, lat: NumericColumn) -> tuple[np.ndarray, np.ndarray]:
    """-> (bad, given) for a lon/lat pair: given = either side non-blank."""
    lon_blank, lat_blank = blank_mask(lon.raw), blank_mask(lat.raw)
    given = ~lon_blank | ~lat_blank
    x, y = lon.values.to_numpy(float), lat.values.to_numpy(float)
    with np.errstate(invalid="ignore"):
        in_range = (np.abs(x) <= 180) & (np.abs(y) <= 90)
    bad = given & (np.isnan(x) | np.isnan(y) | ~in_range)
    return bad, given


def _assign_location(
    work: pd.DataFrame, grids: pd.DataFrame, t: Triage, tolerance_m: float | None
) -> pd.Series:
    """Resolve each row's grid_id from `grid_id` or `lon`/`lat`, flagging location reasons."""
    given_id = stripped_text(work, "grid_id")
    has_id = given_id.notna().to_numpy()
    lon = NumericColumn(_column(work, "lon"))
    lat = NumericColumn(_column(work, "lat"))
    bad_pt, has_pt = coordinate_masks(lon, lat)
    t.flag(~has_id & ~has_pt, "missing_location", "grid_id,lon,lat", _column(work, "grid_id"))
    t.flag(~has_id & bad_pt, "bad_coordinates", "lon,lat", pair_text(lon.raw, lat.raw))
    known = given_id.isin(grids["grid_id"]).to_numpy()
    t.flag(has_id & ~known, "unknown_grid_id", "grid_id", given_id)

    grid_id = given_id.copy()
    todo = t.ok & ~has_id
    if todo.any():
        idx = assign_points(
            lon.values.to_numpy(float)[todo], lat.values.to_numpy(float)[todo], grids, tolerance_m
        )
        outside = np.zeros(len(work), dtype=bool)
        outside[np.nonzero(todo)[0][idx == OUTSIDE]] = True
        t.flag(outside, "outside_all_grids", "lon,lat", pair_text(lon.raw, lat.raw))
        inside = np.nonzero(todo)[0][idx != OUTSIDE]
        grid_id.iloc[inside] = grids["grid_id"].to_numpy()[idx[idx != OUTSIDE]]
    return grid_id
