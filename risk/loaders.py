"""Read grids and events files into raw frames, validate them, and stop on fatal problems.

Raw frames keep every value as read (CSV: text; Parquet: its own types; GeoJSON: property
values plus the geometry as GeoJSON text) so validation can quote bad values. Column names are
stripped and lower-cased. The index is the 1-based input row number, named `row`: the line
number in a CSV (header = line 1, so the first record is line 2; exact as long as the file
has no blank lines or line breaks inside quoted fields), the row number in Parquet,
the feature number in GeoJSON.

Fatal problems raise `ContractError` naming file, field and fix: missing or unreadable file,
unknown extension, a CSV whose text encoding is not given and cannot be told for sure
(`risk.text_encoding`), missing required column (raised by `risk.validation`), no valid rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from risk.contract import (
    ATTR_PREFIX,
    DEFAULT_TZ,
    EVENT_COLUMNS,
    GRID_COLUMNS,
    GRID_OPTIONAL_COLUMNS,
)
from risk.errors import ContractError
from risk.text_encoding import FIX, open_bytes, resolve_encoding
from risk.validation import (
    ROW_COLUMN,
    ValidationResult,
    likely_cause,
    validate_events,
    validate_grids,
    write_quarantine,
)

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
GEOJSON_SUFFIXES = (".geojson", ".json")
# Column names the contract reads (besides attr_*): two columns of one of them are ambiguous.
CONTRACT_NAMES = frozenset((*EVENT_COLUMNS, "lon", "lat", *GRID_COLUMNS, *GRID_OPTIONAL_COLUMNS))
OTHER_SEPARATORS = (";", "\t", "|")  # tried, in this order, when a CSV's first line has no comma


def read_grids(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Raw grid rows from GeoJSON (FeatureCollection, UTF-8 as JSON requires), CSV or Parquet.

    ``encoding`` of a CSV: None detects it (`risk.text_encoding.resolve_encoding`)."""
    path = _existing(path)
    kind = _kind(path, ("geojson", "csv", "parquet"), "grids")
    if kind == "geojson":
        return _read_geojson(path)
    return _read_table(path, kind, encoding)


def read_events(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Raw event rows from CSV or Parquet (``encoding`` as for `read_grids`)."""
    path = _existing(path)
    return _read_table(path, _kind(path, ("csv", "parquet"), "events"), encoding)


def read_visits(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Raw patrol-visit rows from CSV or Parquet (`risk.exposure.check_visits` checks them)."""
    path = _existing(path)
    return _read_table(path, _kind(path, ("csv", "parquet"), "visits"), encoding)


def load_grids(
    path: str | Path,
    *,
    quarantine: str | Path | None = None,
    encoding: str | None = None,
) -> ValidationResult:
    """Read + validate grids; write the quarantine CSV when asked; fatal when nothing is valid."""
    path = Path(path)
    result = validate_grids(read_grids(path, encoding=encoding), file=path.name)
    _finish(result, quarantine)
    return result


def load_events(
    path: str | Path,
    grids: pd.DataFrame,
    *,
    tz: str = DEFAULT_TZ,
    now: pd.Timestamp | None = None,
    assign_tolerance_m: float | None = None,
    quarantine: str | Path | None = None,
    encoding: str | None = None,
) -> ValidationResult:
    """Read + validate events against validated `grids` (see `validate_events`)."""
    path = Path(path)
    result = validate_events(
        read_events(path, encoding=encoding),
        grids,
        tz=tz,
        now=now,
        file=path.name,
        assign_tolerance_m=assign_tolerance_m,
    )
    _finish(result, quarantine, grids)
    return result


def _finish(
    result: ValidationResult, quarantine: str | Path | None, grids: pd.DataFrame | None = None
) -> None:
    """Write the quarantine file (even when fatal, so the user can see why), then check.

    The fatal message quotes the first quarantined row and, when one mistake explains the
    most common reason (`risk.validation.likely_cause`), names it as the fix."""
    if quarantine is not None:
        write_quarantine(result, quarantine)
    if result.input_rows == 0:
        raise ContractError(
            "the file has no rows (a header at most)",
            file=result.file,
            fix=f"give a file with at least one {result.kind[:-1]} row",
        )
    if len(result.valid) == 0:
        reasons = ", ".join(f"{r}: {n}" for r, n in result.counts_by_reason().items())
        where = f"see the quarantine file {quarantine}" if quarantine else "run with --quarantine"
        q = result.quarantined
        first = f"row {q[ROW_COLUMN].iloc[0]}: {q['detail'].iloc[0]}" if len(q) else None
        cause = likely_cause(result, grids)
        fix = f"{where} for the reason of each row and correct the input"
        raise ContractError(
            f"no valid rows out of {result.input_rows} "
            f"({len(result.quarantined)} quarantined, {result.duplicates} exact duplicates"
            + (f"; {reasons}" if reasons else "")
            + ")"
            + (f", first {first}" if first else ""),
            file=result.file,
            fix=f"{cause}; or {fix}" if cause else fix,
        )


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise ContractError(
            "file not found", file=str(path), fix="check the path and the working directory"
        )
    if path.is_dir():
        raise ContractError("is a directory, not a file", file=str(path), fix="give the file path")
    return path


def _kind(path: Path, accepted: tuple[str, ...], what: str) -> str:
    name = path.name.lower()
    table = {"csv": CSV_SUFFIXES, "parquet": PARQUET_SUFFIXES, "geojson": GEOJSON_SUFFIXES}
    for kind in accepted:
        if name.endswith(table[kind]):
            return kind
    shown = ", ".join(s for k in accepted for s in table[k])
    raise ContractError(
        f"unknown file type for {what}",
        file=path.name,
        value=path.suffix or "(no extension)",
        fix=f"give a file ending in one of {shown}",
    )


def _read_table(path: Path, kind: str, encoding: str | None = None) -> pd.DataFrame:
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            return _tidy(_read_csv(path, encoding), path.name, first_row=2)  # header: line 1
    except pd.errors.EmptyDataError as exc:
        raise ContractError(
            "file is empty (no header line)", file=path.name, fix="write a header line"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"cannot read the file as {exc.encoding}: {_first_line(exc)}",
            file=path.name,
            fix=FIX,
        ) from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ContractError(
            f"cannot read the file as {kind}: {_first_line(exc)}",
            file=path.name,
            fix=f"check that it is a valid {kind} file",
        ) from exc
    return _tidy(frame, path.name)


def _read_csv(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """All columns as text, in the given encoding or the one detected (never a guess)."""
    chosen = resolve_encoding(path, encoding)
    sep = csv_separator(path, chosen)
    return pd.read_csv(path, dtype=str, encoding=chosen, skipinitialspace=False, sep=sep)


def csv_separator(path: Path, encoding: str) -> str:
    """',' unless the first line has no comma but one of `OTHER_SEPARATORS` (a spreadsheet's
    export in a locale that writes decimal commas uses ';'; tab-separated text uses a tab)."""
    with open_bytes(path) as handle:
        first = handle.readline().decode(encoding, errors="replace")
    if "," in first:
        return ","
    return next((sep for sep in OTHER_SEPARATORS if sep in first), ",")


def _read_geojson(path: Path) -> pd.DataFrame:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ContractError(
            f"cannot read the file as GeoJSON: {_first_line(exc)}",
            file=path.name,
            fix="check that it is valid JSON",
        ) from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ContractError(
            "expected a GeoJSON FeatureCollection",
            file=path.name,
            field="type",
            value=got,
            fix='write {"type": "FeatureCollection", "features": [...]}',
        )
    features = doc.get("features")
    if not isinstance(features, list):
        raise ContractError(
            "the FeatureCollection has no 'features' list",
            file=path.name,
            field="features",
            fix="put the grid polygons in a 'features' list",
        )
    if not features:
        raise ContractError(
            "the FeatureCollection has no features",
            file=path.name,
            field="features",
            fix="put the polygons in its 'features' list",
        )
    records = [_feature_record(f) for f in features]
    frame = pd.DataFrame.from_records(records)
    if "geometry" not in frame.columns:
        frame["geometry"] = None
    return _tidy(frame, path.name)


def _feature_record(feature: object) -> dict[str, object]:
    """Properties (nested values as JSON text) + geometry as GeoJSON text; `id` -> grid_id."""
    if not isinstance(feature, dict):
        return {"geometry": None}
    props = feature.get("properties") or {}
    record: dict[str, object] = {
        str(k): json.dumps(v) if isinstance(v, dict | list) else v for k, v in props.items()
    }
    keys = {k.strip().lower() for k in record}
    if "grid_id" not in keys and feature.get("id") is not None:
        record["grid_id"] = feature["id"]
    geom = feature.get("geometry")
    record["geometry"] = json.dumps(geom) if geom is not None else None
    return record


def _tidy(frame: pd.DataFrame, file: str, first_row: int = 1) -> pd.DataFrame:
    """Names stripped and lower-cased (`unique_names`); rows numbered from `first_row`."""
    frame.columns = unique_names(
        frame.columns, file, lambda n: n in CONTRACT_NAMES or n.startswith(ATTR_PREFIX)
    )
    frame.index = pd.RangeIndex(first_row, first_row + len(frame), name=ROW_COLUMN)
    return frame


def unique_names(columns: Iterable[object], file: str, read: Callable[[str], bool]) -> list[str]:
    """Column names stripped and lower-cased. Two that then coincide (`grid_id`, `GRID_ID`)
    are fatal when the name is one that is `read`; otherwise the first keeps the name and
    later ones become `<name>.1`, `<name>.2` (as pandas names repeated headers)."""
    names: list[str] = []
    first: dict[str, object] = {}
    for original in columns:
        name = str(original).strip().lower()
        if name in first:
            if read(name):
                raise ContractError(
                    f"two columns have the same name once case is ignored: {first[name]!r} "
                    f"and {original!r}",
                    file=file,
                    field=name,
                    fix="rename or drop one of them",
                )
            n = 1
            while f"{name}.{n}" in first:
                n += 1
            name = f"{name}.{n}"
        first[name] = original
        names.append(name)
    return names


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
