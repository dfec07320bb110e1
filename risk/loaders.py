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
from pathlib import Path

import pandas as pd

from risk.contract import DEFAULT_TZ
from risk.errors import ContractError
from risk.text_encoding import FIX, resolve_encoding
from risk.validation import (
    ROW_COLUMN,
    ValidationResult,
    validate_events,
    validate_grids,
    write_quarantine,
)

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
GEOJSON_SUFFIXES = (".geojson", ".json")


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
    _finish(result, quarantine)
    return result


def _finish(result: ValidationResult, quarantine: str | Path | None) -> None:
    """Write the quarantine file (even when fatal, so the user can see why), then check."""
    if quarantine is not None:
        write_quarantine(result, quarantine)
    if len(result.valid) == 0:
        reasons = ", ".join(f"{r}: {n}" for r, n in result.counts_by_reason().items())
        where = f"see the quarantine file {quarantine}" if quarantine else "run with --quarantine"
        raise ContractError(
            f"no valid rows out of {result.input_rows} "
            f"({len(result.quarantined)} quarantined, {result.duplicates} exact duplicates"
            + (f"; {reasons}" if reasons else "")
            + ")",
            file=result.file,
            fix=f"{where} for the reason of each row and correct the input",
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
            return _tidy(_read_csv(path, encoding), first_row=2)  # header is line 1
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
    return _tidy(frame)


def _read_csv(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """All columns as text, in the given encoding or the one detected (never a guess)."""
    chosen = resolve_encoding(path, encoding)
    return pd.read_csv(path, dtype=str, encoding=chosen, skipinitialspace=False)


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
    records = [_feature_record(f) for f in features]
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame({"geometry": []})
    if "geometry" not in frame.columns:
        frame["geometry"] = None
    return _tidy(frame)


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


def _tidy(frame: pd.DataFrame, first_row: int = 1) -> pd.DataFrame:
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame.index = pd.RangeIndex(first_row, first_row + len(frame), name=ROW_COLUMN)
    return frame


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
