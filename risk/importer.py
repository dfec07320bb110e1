"""Import a raw incident file (any column names, any time format) into contract events (DESIGN §3).

A `ColumnMapping` says where each contract field lives in the raw file (and, for a file without
a header, what its columns are called). `import_events` reads the file, applies the mapping and
sorts every row into exactly one of three places, like `risk.validation`:

* **exact duplicates** — the same text in every column as an earlier line (the first is kept);
* **quarantined** — `row` (line number in the file), `reason`, `detail` and the raw values;
* **events** — `event_id, occurred_at, reported_at, category, lon, lat` (or `grid_id`),
  `source, severity`, sorted by `occurred_at` (stable: file order within the same time).

`rows read == events + duplicates + quarantined` is asserted. The events frame holds points,
not grids (grids are laid later, `risk.gridmake`); `risk.validation.validate_events` accepts it
as is, in memory or written by `write_events`.

Times are never altered beyond what the time zone forces: wall times that do not exist (the
spring-forward hour) move forward to the first valid time and ambiguous ones (the fall-back
hour) take standard time — the rule of `risk.validation` — and both are counted. Times on the
exact hour (often estimated by whoever filed the record) are kept and counted (`on_the_hour`).
Without a reporting-time column, `reported_at` = `occurred_at`: every event counts as known the
moment it happened (the import notes say so).

Row-level problems are quarantined with the first reason in `IMPORT_REASONS`; fatal problems
(unreadable file, mapped column absent, no valid rows) raise `ContractError`; a bad mapping
raises `ConfigError`.
"""

from __future__ import annotations

import io
import re
import tomllib
import warnings
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from risk.contract import DEFAULT_TZ, SOURCES, normalise_category
from risk.errors import ConfigError, ContractError
from risk.loaders import CSV_SUFFIXES, PARQUET_SUFFIXES, csv_separator, unique_names
from risk.text_encoding import FIX as ENCODING_FIX
from risk.text_encoding import open_bytes, resolve_encoding
from risk.validation import (
    EVENT_REASONS,
    QUARANTINE_COLUMNS,
    ROW_COLUMN,
    NumericColumn,
    Triage,
    blank_mask,
    coordinate_masks,
    coordinates_look_swapped,
    dst_wall_times,
    event_categories,
    localise_wall_times,
    normalised_categories,
    pair_text,
    parse_timestamps_noting_dst,
    stripped_text,
    within_range,
)

# First reason wins, in this order. `bad_line` = wrong number of fields on the line;
# `unmapped_category` only when the mapping asks to drop categories it does not list.
# (`unknown_grid_id` and `outside_all_grids` need grids: `risk validate` checks them later.)
IMPORT_REASONS = ("bad_line", *EVENT_REASONS[:-1], "unmapped_category", EVENT_REASONS[-1])

_BAD_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


@dataclass(frozen=True)
class ColumnMapping:
    """Where each contract field lives in a raw events file (names are case-insensitive).

    `columns` names the columns of a file WITHOUT a header line (None: the first line is the
    header). `time_format` / `reported_format` are `strptime` formats (None: ISO 8601, offsets
    allowed). `category_map` maps raw categories to contract ones (keys matched after
    `normalise_category`); unlisted categories are kept (normalised) unless `keep_unmapped` is
    False, which quarantines them as `unmapped_category`. Give `lon_col` + `lat_col` (WGS84
    degrees) or `grid_col`. `id_col` None: ids are generated from the raw line (stable).
    `source` / `severity`: value for every row when the file has no such column.
    """

    time_col: str
    category_col: str
    time_format: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None
    grid_col: str | None = None
    reported_col: str | None = None
    reported_format: str | None = None
    id_col: str | None = None
    source_col: str | None = None
    severity_col: str | None = None
    columns: tuple[str, ...] | None = None
    category_map: dict[str, str] = field(default_factory=dict)
    keep_unmapped: bool = True
    tz: str = DEFAULT_TZ
    source: str | None = None
    severity: int | None = None
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        texts = [f.name for f in fields(self) if f.name.endswith(("_col", "_format"))]
        for key in [*texts, "tz", "name", "description", "source"]:
            value = getattr(self, key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(
                    f"mapping key {key} = {value!r} is not text; write it in quotes, e.g. "
                    f'{key} = "{value}"'
                )
        lower = {
            f.name: _lower(getattr(self, f.name))
            for f in fields(self)
            if f.name.endswith("_col") and getattr(self, f.name) is not None
        }
        for key, value in lower.items():
            object.__setattr__(self, key, value)
        if self.columns is not None:
            cols = tuple(_lower(c) for c in self.columns)
            object.__setattr__(self, "columns", cols)
            if len(set(cols)) != len(cols) or "" in cols:
                raise ConfigError(f"columns must be distinct, non-empty names; got {cols}")
        object.__setattr__(
            self,
            "category_map",
            {normalise_category(str(k)): str(v) for k, v in dict(self.category_map).items()},
        )
        self.check()

    def check(self) -> None:
        """Raise `ConfigError` when the mapping cannot work whatever the file holds."""
        has_point = self.lon_col is not None and self.lat_col is not None
        if (self.lon_col is None) != (self.lat_col is None):
            raise ConfigError("give both lon_col and lat_col (--lon-col, --lat-col), or neither")
        if has_point == (self.grid_col is not None):
            raise ConfigError(
                "give the location as lon_col + lat_col (--lon-col/--lat-col) or as grid_col "
                "(--grid-col), exactly one of the two"
            )
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"unknown time zone {self.tz!r}; give an IANA name such as America/Chicago"
            ) from exc
        if self.source is not None and normalise_category(self.source) not in SOURCES:
            raise ConfigError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.severity is not None and self.severity not in range(1, 6):
            raise ConfigError(f"severity must be an integer 1..5, got {self.severity!r}")
        if self.columns is not None:
            missing = [c for c in self.used_columns() if c not in self.columns]
            if missing:
                raise ConfigError(
                    f"mapped column(s) {', '.join(missing)} not among the file's columns "
                    f"{', '.join(self.columns)}"
                )

    def used_columns(self) -> list[str]:
        """The raw columns the mapping reads, in field order."""
        return [
            getattr(self, f.name)
            for f in fields(self)
            if f.name.endswith("_col") and getattr(self, f.name) is not None
        ]

    def with_overrides(self, **values: Any) -> ColumnMapping:
        """A copy with the given fields replaced (None values are ignored).

        A grid column replaces a point location and vice versa.
        """
        given = {k: v for k, v in values.items() if v is not None}
        if "grid_col" in given:
            given |= {"lon_col": None, "lat_col": None}
        elif "lon_col" in given or "lat_col" in given:
            given["grid_col"] = None
        return replace(self, **given)


def load_mapping(path_or_name: str | Path) -> ColumnMapping:
    """A mapping from a TOML file, or a mapping shipped with the toolkit by name (`chicago`).

    The TOML keys are the `ColumnMapping` field names; `category_map` is a table.
    """
    path = Path(path_or_name)
    if path.exists():
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        shipped = shipped_mappings()
        if str(path_or_name) not in shipped:
            raise ConfigError(
                f"mapping {str(path_or_name)!r} is neither a file nor a shipped mapping "
                f"({', '.join(sorted(shipped)) or 'none'})"
            )
        text, where = shipped[str(path_or_name)], f"{path_or_name} (shipped)"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    return mapping_from_dict(data, where=where)


def mapping_from_dict(data: dict[str, Any], *, where: str = "mapping") -> ColumnMapping:
    """`ColumnMapping(**data)` with clear errors for unknown and missing keys."""
    known = {f.name for f in fields(ColumnMapping)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(sorted(known))}"
        )
    for key in ("time_col", "category_col"):
        if key not in data:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{where}: missing {key!r} ({flag}): the raw column holding it")
    values = dict(data)
    if values.get("columns") is not None:
        values["columns"] = tuple(values["columns"])
    try:
        return ColumnMapping(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def shipped_mappings() -> dict[str, str]:
    """Name -> TOML text of the mappings in `risk/mappings/`."""
    root = resources.files("risk") / "mappings"  # package data: risk/mappings/*.toml
    return {
        p.name.removesuffix(".toml"): p.read_text(encoding="utf-8")
        for p in root.iterdir()
        if p.name.endswith(".toml")
    }


@dataclass
class ImportResult:
    """Outcome of `import_events`. Counts add up (asserted)."""

    file: str
    events: pd.DataFrame
    quarantined: pd.DataFrame
    duplicates: int
    rows_read: int
    stats: dict[str, int]
    notes: list[str]

    def __post_init__(self) -> None:
        total = len(self.events) + len(self.quarantined) + self.duplicates
        assert total == self.rows_read, (
            f"{self.file}: {len(self.events)} written + {len(self.quarantined)} quarantined + "
            f"{self.duplicates} duplicates != {self.rows_read} rows read"
        )

    def counts_by_reason(self) -> dict[str, int]:
        """Quarantine counts per reason in `IMPORT_REASONS` order (zeros left out)."""
        counts = self.quarantined["reason"].value_counts()
        return {r: int(counts[r]) for r in IMPORT_REASONS if r in counts.index}

    def summary(self) -> dict[str, object]:
        """Plain data for the CLI and reports."""
        return {
            "file": self.file,
            "rows_read": self.rows_read,
            "written": len(self.events),
            "duplicates": self.duplicates,
            "quarantined": len(self.quarantined),
            "by_reason": self.counts_by_reason(),
            **self.stats,
            "notes": list(self.notes),
        }


def import_events(
    path: str | Path,
    mapping: ColumnMapping,
    *,
    now: pd.Timestamp | str | None = None,
    encoding: str | None = None,
) -> ImportResult:
    """Read `path` (CSV or Parquet) through `mapping` into contract events (see module doc).

    `now` bounds future timestamps (default: the current time; naive = in `mapping.tz`).
    `encoding` of a CSV: None detects it (`risk.text_encoding.resolve_encoding`).
    """
    path = Path(path)
    raw, rows, bad_lines = _read_raw(path, mapping, encoding)
    _require_columns(raw, mapping, path.name)
    dup = raw.duplicated(keep="first").to_numpy()
    work = raw.loc[~dup]
    t = Triage(len(work))
    tz = mapping.tz

    occ_raw = work[mapping.time_col]
    occ, masks = _parse_times(occ_raw, mapping.time_format, tz)
    t.flag(blank_mask(occ_raw), "missing_occurred_at", mapping.time_col, occ_raw)
    t.flag(occ.isna(), "bad_occurred_at", mapping.time_col, occ_raw)
    if mapping.reported_col is not None:
        rep_raw = work[mapping.reported_col]
        rep, _ = _parse_times(rep_raw, mapping.reported_format or mapping.time_format, tz)
        rep_blank = blank_mask(rep_raw)
        t.flag(~rep_blank & rep.isna(), "bad_reported_at", mapping.reported_col, rep_raw)
        rep = rep.where(~rep_blank, occ)
        t.flag(
            rep < occ,
            "reported_before_occurred",
            f"{mapping.reported_col},{mapping.time_col}",
            pair_text(rep_raw, occ_raw),
        )
    else:
        rep_raw, rep = occ_raw, occ
    now_ts = _now(now, tz)
    t.flag(occ > now_ts, "future_timestamp", mapping.time_col, occ_raw)
    t.flag(rep > now_ts, "future_timestamp", mapping.reported_col or mapping.time_col, rep_raw)

    cat_raw = work[mapping.category_col]
    cat = normalised_categories(stripped_text(work, mapping.category_col))
    t.flag(cat.isna(), "missing_category", mapping.category_col, cat_raw)
    mapped = cat.map(mapping.category_map)
    unmapped = cat.notna() & mapped.isna()
    cat = event_categories(mapped.where(~unmapped, cat).astype("str"))

    source = _optional_text(work, mapping.source_col, mapping.source)
    if mapping.source_col is not None:
        t.flag(source.notna() & ~source.isin(SOURCES), "bad_source", mapping.source_col, source)
    severity = _severity(work, mapping, t)
    location = _location(work, mapping, t)
    if not mapping.keep_unmapped:
        t.flag(unmapped, "unmapped_category", mapping.category_col, cat_raw)

    event_id = _event_ids(work, mapping)
    t.flag(_repeated_among(event_id, t.ok), "duplicate_event_id", "event_id", event_id)

    keep = t.ok
    occ_kept = pd.DatetimeIndex(occ[keep])
    events = pd.DataFrame(
        {
            "event_id": event_id[keep].to_numpy(),
            "occurred_at": occ_kept,
            "reported_at": pd.DatetimeIndex(rep[keep]),
            "category": cat[keep].to_numpy(),
            **{k: v[keep] for k, v in location.items()},
            "source": pd.array(source[keep].to_numpy(), dtype="string"),
            "severity": pd.array(severity[keep], dtype="Int8"),
        }
    )
    for col in ("event_id", "category", *(["grid_id"] if "grid_id" in location else [])):
        events[col] = events[col].astype("str")
    out_of_order = int((np.diff(occ_kept.asi8) < 0).sum())
    events = events.sort_values("occurred_at", kind="stable").reset_index(drop=True)

    quarantined = _quarantine_frame(work, rows[~dup], t, bad_lines)
    stats = _stats(events, masks, keep, out_of_order, unmapped, mapping)
    notes = _notes(mapping, stats)
    result = ImportResult(
        file=path.name,
        events=events,
        quarantined=quarantined,
        duplicates=int(dup.sum()),
        rows_read=len(raw) + len(bad_lines),
        stats=stats,
        notes=notes,
    )
    if len(events) == 0:
        _no_valid_rows(result, mapping, occ_raw, times_parsed=bool(occ.notna().any()))
    return result


def write_events(events: pd.DataFrame, path: str | Path) -> Path:
    """Write imported events as CSV (ISO 8601 times with their UTC offset) or Parquet."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        events.to_parquet(path, index=False)
    else:
        frame = events.copy()
        for col in ("occurred_at", "reported_at"):
            frame[col] = iso_with_offset(frame[col])
        frame.to_csv(path, index=False)
    return path


def iso_with_offset(times: pd.Series) -> np.ndarray:
    """Aware times -> `YYYY-MM-DDTHH:MM:SS±HH:MM` text, vectorised (pandas' own is ~50x slower)."""
    wall = times.dt.tz_localize(None).to_numpy("datetime64[s]")
    utc = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
    minutes = (wall - utc).astype(np.int64) // 60
    text = np.datetime_as_string(wall, unit="s")
    offsets, inverse = np.unique(minutes, return_inverse=True)
    shown = np.array(
        [f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in offsets.tolist()]
    )
    out = np.char.add(text.astype(str), shown[inverse])
    out[pd.isna(times).to_numpy()] = ""
    return out


def write_import_quarantine(result: ImportResult, path: str | Path) -> Path:
    """Write quarantined lines as CSV: `row, reason, detail`, then the raw columns."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    result.quarantined.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------------------------
# reading


def _read_raw(
    path: Path, mapping: ColumnMapping, encoding: str | None = None
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """-> (raw text frame, line number of each row, bad lines as `row, reason, detail, line`)."""
    if not path.exists() or path.is_dir():
        raise ContractError(
            "file not found" if not path.exists() else "is a directory, not a file",
            file=str(path),
            fix="check the path and the working directory",
        )
    name = path.name.lower()
    no_bad = pd.DataFrame(columns=[*QUARANTINE_COLUMNS, "line"])
    if name.endswith(PARQUET_SUFFIXES):
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ContractError(
                f"cannot read the file as parquet: {exc}", file=path.name, fix="check the file"
            ) from exc
        frame.columns = _names(frame.columns, mapping, path.name)
        return frame, np.arange(1, len(frame) + 1), no_bad
    if not name.endswith(CSV_SUFFIXES):
        raise ContractError(
            "unknown file type for events",
            file=path.name,
            value=path.suffix or "(no extension)",
            fix=f"give a file ending in one of {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}",
        )
    first_line = 1 if mapping.columns is not None else 2
    encoding = resolve_encoding(path, encoding)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = _read_csv_text(path, mapping, encoding)
    skipped = [
        (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        for w in caught
        if (m := _BAD_LINE.search(str(w.message)))
    ]
    frame.columns = _names(frame.columns, mapping, path.name)
    n_lines = len(frame) + len(skipped)
    lines = np.arange(first_line, first_line + n_lines, dtype=np.int64)
    skipped_lines = np.array([s[0] for s in skipped], dtype=np.int64)
    rows = lines[~np.isin(lines, skipped_lines)]
    bad = pd.DataFrame(
        {
            ROW_COLUMN: skipped_lines,
            "reason": "bad_line",
            "detail": [f"fields=expected {e}, saw {s}" for _, e, s in skipped],
            "line": _lines_text(path, skipped_lines, encoding),
        }
    )
    return frame, rows, bad if len(bad) else no_bad


def _names(columns: Any, mapping: ColumnMapping, file: str) -> list[str]:
    """Lower-cased names; two of a mapped column's name are fatal (`risk.loaders.unique_names`)."""
    used = {_lower(c) for c in mapping.used_columns()}
    return unique_names(columns, file, used.__contains__)


def _read_csv_text(path: Path, mapping: ColumnMapping, encoding: str) -> pd.DataFrame:
    options: dict[str, Any] = {"dtype": str, "on_bad_lines": "warn", "index_col": False}
    options["sep"] = csv_separator(path, encoding)
    if mapping.columns is not None:
        options |= {"header": None, "names": list(mapping.columns)}
    try:
        return pd.read_csv(path, encoding=encoding, **options)
    except pd.errors.EmptyDataError as exc:
        raise ContractError("file is empty", file=path.name, fix="give a file with rows") from exc
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"cannot read the file as {exc.encoding}: {str(exc).strip().splitlines()[0]}",
            file=path.name,
            fix=ENCODING_FIX,
        ) from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ContractError(
            f"cannot read the file as CSV: {str(exc).strip().splitlines()[0]}",
            file=path.name,
            fix="check that it is a comma-separated text file",
        ) from exc


def _lines_text(path: Path, numbers: np.ndarray, encoding: str) -> list[str]:
    """The raw text of the given (rare) bad lines, for the quarantine file."""
    if numbers.size == 0:
        return []
    wanted = set(numbers.tolist())
    found: dict[int, str] = {}
    with io.TextIOWrapper(open_bytes(path), encoding=encoding, errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = line.rstrip("\r\n")
                if len(found) == len(wanted):
                    break
    return [found.get(n, "") for n in numbers.tolist()]


def _require_columns(raw: pd.DataFrame, mapping: ColumnMapping, file: str) -> None:
    for col in mapping.used_columns():
        if col not in raw.columns:
            found = ", ".join(map(str, raw.columns)) or "none"
            headerless = mapping.columns is None and _looks_like_data(raw.columns)
            raise ContractError(
                f"mapped column is missing (columns found: {found})",
                file=file,
                field=col,
                fix=(
                    "the first line looks like data, not a header: give --no-header and "
                    "--columns (or `columns` in the mapping file)"
                    if headerless
                    else "name an existing column in the mapping (names are case-insensitive)"
                ),
            )


def _looks_like_data(columns: pd.Index) -> bool:
    return any(re.search(r"\d", str(c)) for c in columns)


# --------------------------------------------------------------------------------------------
# fields


def _parse_times(
    raw: pd.Series, fmt: str | None, tz: str
) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """-> (`datetime64[ns, tz]`, NaT where blank/unparseable; per-row facts for the report).

    Facts: `nonexistent` / `ambiguous` DST wall times; `on_the_hour` and `hour` as written in
    the file (before any DST shift; `hour` -1 where unparsed).
    """
    if fmt is None or pd.api.types.is_datetime64_any_dtype(raw.dtype):
        aware, gap, fold = parse_timestamps_noting_dst(raw, tz)
        facts = _wall_facts(aware)
        facts["nonexistent"], facts["ambiguous"] = gap, fold
        return aware, facts
    text = raw.astype("str").str.strip()
    try:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    except ValueError as exc:  # a format strptime cannot read, e.g. '%Q'
        raise ConfigError(
            f"time format {fmt!r} is not a strptime format ({exc}); give one such as "
            "'%Y-%m-%d %H:%M:%S' (--time-format, or time_format / reported_format in the mapping)"
        ) from None
    naive = within_range(parsed)
    if isinstance(naive.dtype, pd.DatetimeTZDtype):  # the format held an offset (%z)
        aware = naive.dt.tz_convert(tz).dt.as_unit("ns")
        return aware, _wall_facts(aware)
    facts = _wall_facts(naive)
    facts["nonexistent"], facts["ambiguous"] = dst_wall_times(naive, tz)
    return localise_wall_times(naive, tz), facts


def _wall_facts(times: pd.Series) -> dict[str, np.ndarray]:
    wall = times.dt
    exact = (wall.minute == 0) & (wall.second == 0) & (wall.microsecond == 0)
    none = np.zeros(len(times), dtype=bool)
    return {
        "on_the_hour": exact.fillna(False).to_numpy(dtype=bool) & times.notna().to_numpy(),
        "hour": wall.hour.fillna(-1).to_numpy(dtype=np.int64),
        "nonexistent": none,
        "ambiguous": none,
    }


def _optional_text(work: pd.DataFrame, col: str | None, default: str | None) -> pd.Series:
    if col is not None:
        return normalised_categories(stripped_text(work, col))
    value = normalise_category(default) if default is not None else np.nan
    return pd.Series(value, index=work.index, dtype="str")


def _severity(work: pd.DataFrame, mapping: ColumnMapping, t: Triage) -> np.ndarray:
    if mapping.severity_col is None:
        fill = np.nan if mapping.severity is None else float(mapping.severity)
        return np.full(len(work), fill)
    raw = work[mapping.severity_col]
    sev = NumericColumn(raw)
    v = sev.values
    bad = sev.not_numeric | (v.notna() & ((v % 1 != 0) | (v < 1) | (v > 5)))
    t.flag(bad, "bad_severity", mapping.severity_col, raw)
    return v.to_numpy(float)


def _location(work: pd.DataFrame, mapping: ColumnMapping, t: Triage) -> dict[str, Any]:
    """`{"lon", "lat"}` float arrays or `{"grid_id"}` text, flagging location reasons."""
    if mapping.grid_col is not None:
        gid = stripped_text(work, mapping.grid_col)
        t.flag(gid.isna(), "missing_location", mapping.grid_col, work[mapping.grid_col])
        return {"grid_id": gid.to_numpy()}
    lon = NumericColumn(work[mapping.lon_col])
    lat = NumericColumn(work[mapping.lat_col])
    bad, given = coordinate_masks(lon, lat)
    where = f"{mapping.lon_col},{mapping.lat_col}"
    t.flag(~given, "missing_location", where, pair_text(lon.raw, lat.raw))
    t.flag(bad, "bad_coordinates", where, pair_text(lon.raw, lat.raw))
    return {"lon": lon.values.to_numpy(float), "lat": lat.values.to_numpy(float)}


def _event_ids(work: pd.DataFrame, mapping: ColumnMapping) -> pd.Series:
    """Given ids; missing ones are `"e"` + 16 hex digits of the raw line's hash (stable)."""
    if mapping.id_col is not None:
        ids = stripped_text(work, mapping.id_col)
    else:
        ids = pd.Series(np.nan, index=work.index, dtype="str")
    missing = ids.isna().to_numpy()
    if missing.any():
        hashes = pd.util.hash_pandas_object(work.loc[missing], index=False).to_numpy()
        ids[missing] = np.char.add("e", _hex16(hashes))
    return ids


def _hex16(values: np.ndarray) -> np.ndarray:
    """uint64 -> 16 lower-case hex digits each, vectorised (same text as `format(v, "016x")`)."""
    nibbles = np.frombuffer(values.astype(">u8").tobytes(), dtype=np.uint8).reshape(-1, 8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.stack([digits[nibbles >> 4], digits[nibbles & 15]], axis=2).reshape(-1, 16)
    return np.ascontiguousarray(chars).view("S16").ravel().astype(str)


def _repeated_among(ids: pd.Series, ok: np.ndarray) -> np.ndarray:
    out = np.zeros(len(ids), dtype=bool)
    out[ok] = ids[ok].duplicated(keep="first").to_numpy()
    return out


# --------------------------------------------------------------------------------------------
# outcome


def _quarantine_frame(
    work: pd.DataFrame, rows: np.ndarray, t: Triage, bad_lines: pd.DataFrame
) -> pd.DataFrame:
    bad = ~t.ok
    q = work.loc[bad].copy()
    q.index = pd.RangeIndex(len(q))
    q.insert(0, ROW_COLUMN, rows[bad])
    q.insert(1, "reason", pd.array(t.reason[bad], dtype="str"))
    q.insert(2, "detail", pd.array(t.detail[bad], dtype="str"))
    if len(bad_lines):
        q = pd.concat([q, bad_lines], ignore_index=True)
    return q.sort_values(ROW_COLUMN, kind="stable").reset_index(drop=True)


def _stats(
    events: pd.DataFrame,
    masks: dict[str, np.ndarray],
    keep: np.ndarray,
    out_of_order: int,
    unmapped: pd.Series,
    mapping: ColumnMapping,
) -> dict[str, int]:
    """Counts over the written events. Times on the hour are counted as written in the file."""
    on_hour = masks["on_the_hour"][keep]
    hour = masks["hour"][keep]
    stats = {
        "on_the_hour": int(on_hour.sum()),
        "at_midnight": int((on_hour & (hour == 0)).sum()),
        "at_noon": int((on_hour & (hour == 12)).sum()),
        "dst_nonexistent_shifted": int(masks["nonexistent"][keep].sum()),
        "dst_ambiguous_as_standard": int(masks["ambiguous"][keep].sum()),
        "out_of_order": out_of_order,
        "reported_at_from_occurred_at": len(events) if mapping.reported_col is None else 0,
    }
    if mapping.category_map:
        stats["unmapped_category_kept"] = int((unmapped.to_numpy() & keep).sum())
    return stats


def _notes(mapping: ColumnMapping, stats: dict[str, int]) -> list[str]:
    notes = []
    if mapping.reported_col is None:
        notes.append(
            "no reporting-time column: reported_at = occurred_at for every event "
            "(events count as known the moment they occur; reporting delays are not modelled)"
        )
    if stats["on_the_hour"]:
        notes.append(
            f"{stats['on_the_hour']} events are timed exactly on the hour "
            f"({stats['at_midnight']} at 00:00, {stats['at_noon']} at 12:00); often estimated "
            "times, kept as given"
        )
    if stats["dst_nonexistent_shifted"]:
        notes.append(
            f"{stats['dst_nonexistent_shifted']} wall times fall in the spring-forward gap of "
            f"{mapping.tz} and were moved forward to the first valid time"
        )
    if stats["dst_ambiguous_as_standard"]:
        notes.append(
            f"{stats['dst_ambiguous_as_standard']} wall times fall in the repeated fall-back "
            "hour and were read as standard time"
        )
    return notes


def _no_valid_rows(
    result: ImportResult, mapping: ColumnMapping, occ_raw: pd.Series, *, times_parsed: bool
) -> None:
    reasons = ", ".join(f"{r}: {n}" for r, n in result.counts_by_reason().items())
    sample = next((str(v) for v in occ_raw.dropna().head(1)), None)
    fix = "run with --quarantine to see the reason for each row and fix the mapping or the file"
    q = result.quarantined
    bad_xy = q[q["reason"] == "bad_coordinates"]
    x, y = _lower(mapping.lon_col or ""), _lower(mapping.lat_col or "")
    if (
        len(bad_xy) * 2 > len(q)
        and {x, y} <= set(bad_xy.columns)
        and coordinates_look_swapped(bad_xy[x], bad_xy[y])
    ):
        fix = (
            f"the longitude column '{x}' and latitude column '{y}' look swapped (exchanged, the "
            "values are in range); exchange --lon-col and --lat-col"
        )
    if not times_parsed and sample:
        fix = (
            f"the time format {mapping.time_format or 'ISO 8601'!r} matches no row "
            f"(first value {sample!r}); give the right --time-format (strptime codes)"
        )
    raise ContractError(
        f"no valid rows out of {result.rows_read} ({len(result.quarantined)} quarantined, "
        f"{result.duplicates} exact duplicates" + (f"; {reasons}" if reasons else "") + ")",
        file=result.file,
        field=mapping.time_col if "strptime" in fix else None,
        fix=fix,
    )


def _now(now: pd.Timestamp | str | None, tz: str) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz=tz)
    ts = pd.Timestamp(now)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _lower(name: str) -> str:
    return str(name).strip().lower()
