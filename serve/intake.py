"""Events coming into the event store — a file (`risk events load`) or an API batch
(`POST /api/v1/events`) — through the one contract validation (`risk.validation`).

`ingest` validates raw rows against the grids the service knows, stores the valid ones
(`serve.repo.events.store_events`) and appends ONE audit entry for the batch, all in the
caller's transaction (the caller commits: the events and their audit entry land together or
not at all). Every input row ends up in exactly one of four places::

    read == stored + duplicates + conflicts + quarantined        (asserted)

* **stored** — new in the store;
* **duplicate** — an exact repeat of an earlier row of the same input (`risk.validation`'s
  exact duplicates), or identical to an event already stored (a re-sent event);
* **conflict** — valid, but its ``event_id`` is stored with other values: the stored event is
  kept and the differing fields are named;
* **quarantined** (the API says *rejected*) — breaks the contract (`EVENT_REASONS`, first
  reason wins), or cannot be stored as it is (`NOT_STORABLE`: an id or category longer than
  the store's columns, or a NUL character), or names a grid outside ``allowed_grids`` (the
  caller's scope): reported exactly like a grid that does not exist, so a scope cannot be
  probed for grid ids.

Nothing about a person is read or kept: rows carry what happened, where (a grid) and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from risk.contract import DEFAULT_TZ, SOURCES
from risk.errors import ContractError
from risk.validation import EVENT_REASONS, QUARANTINE_COLUMNS, ROW_COLUMN, validate_events
from serve.repo import audit
from serve.repo import events as event_repo
from serve.repo.grids import load_grids as stored_grids
from serve.tables import ID

NOT_STORABLE = "not_storable"
CONFLICT_REASON = "conflict"  # the reason conflicts carry in a quarantine file
REASONS = (*EVENT_REASONS, NOT_STORABLE)
STORE_LIMITS = {"event_id": ID, "grid_id": ID, "category": 100}  # serve.tables.EventRow
STATUSES = ("stored", "duplicate", "conflict", "rejected")
# The raw fields an event may have (DESIGN §3); an API batch always has every one.
RAW_FIELDS = (
    "event_id",
    "occurred_at",
    "reported_at",
    "category",
    "grid_id",
    "lon",
    "lat",
    "source",
    "severity",
)
REASON_TEXT = {
    "missing_occurred_at": "occurred_at is required (ISO 8601, e.g. 2024-05-01T08:30:00+08:00)",
    "bad_occurred_at": "occurred_at is not an ISO 8601 time in range",
    "bad_reported_at": "reported_at is not an ISO 8601 time in range",
    "reported_before_occurred": "reported_at is before occurred_at",
    "future_timestamp": "the time is in the future",
    "missing_category": "category is required",
    "bad_source": f"source must be one of {', '.join(SOURCES)}",
    "bad_severity": "severity must be an integer from 1 to 5",
    "missing_location": "give grid_id, or lon and lat",
    "bad_coordinates": "lon and lat must be WGS84 degrees (lon -180..180, lat -90..90)",
    "unknown_grid_id": "no grid you may report events for has this grid_id",
    "outside_all_grids": "the point lies in no grid you may report events for",
    "duplicate_event_id": "an earlier row of this input has this event_id with other values",
    NOT_STORABLE: "too long for the store, or holds a NUL character",
}


@dataclass
class Intake:
    """What became of every input row (`rows`, input order) and the batch's counts.

    ``rows`` columns: ``row`` (the input's row number), ``event_id`` (None when a rejected row
    gave none), ``status`` (`STATUSES`), ``reason`` and ``detail`` (rejected rows:
    ``field=value``; duplicates of an earlier row: ``same as row N``; conflicts: the differing
    fields), ``fields`` (a tuple: the fields a rejection or conflict is about).
    ``quarantine``: the raw values of the rejected and conflicting rows with `QUARANTINE_COLUMNS`
    first, for a quarantine file.
    """

    batch: str
    file: str
    rows: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates_in_input: int
    # stored rows whose DST wall time validation adjusted, per kind (risk.validation)
    adjusted: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        c = self.counts()
        total = c["stored"] + c["duplicates"] + c["conflicts"] + c["quarantined"]
        assert total == c["read"], f"{self.file}: {c} do not add up"

    def counts(self) -> dict[str, int]:
        s = self.rows["status"]
        return {
            "read": len(self.rows),
            "stored": int((s == "stored").sum()),
            "duplicates": int((s == "duplicate").sum()),
            "conflicts": int((s == "conflict").sum()),
            "quarantined": int((s == "rejected").sum()),
        }

    def by_reason(self) -> dict[str, int]:
        """Rejections per reason, in `REASONS` order (zeros left out)."""
        counts = self.rows.loc[self.rows["status"] == "rejected", "reason"].value_counts()
        return {r: int(counts[r]) for r in REASONS if r in counts.index}

    def summary(self) -> dict[str, Any]:
        c = self.counts()
        return {
            "file": self.file,
            "batch": self.batch,
            **c,
            "duplicates_in_input": self.duplicates_in_input,
            "duplicates_stored": c["duplicates"] - self.duplicates_in_input,
            "by_reason": self.by_reason(),
            "adjusted": dict(self.adjusted),
        }


# --------------------------------------------------------------------------------- grids


def validation_grids(frame: pd.DataFrame) -> pd.DataFrame:
    """Stored grid rows (`serve.repo.grids.load_grids`: geometry as GeoJSON text) in the shape
    event validation needs: shapely polygons (or None) and float centroids."""
    out = frame.copy()
    texts = out["geometry"].to_numpy(dtype=object)
    given = np.array([isinstance(t, str) and bool(t.strip()) for t in texts], dtype=bool)
    geoms = np.full(len(out), None, dtype=object)
    if given.any():
        geoms[given] = shapely.from_geojson(texts[given], on_invalid="ignore")
    out["geometry"] = pd.Series(geoms, index=out.index, dtype=object)
    for c in ("centroid_lon", "centroid_lat"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    out["grid_id"] = out["grid_id"].astype(str)
    return out


def known_grids(
    session: Session,
    grids_file: str | Path | None = None,
    *,
    fallback_file: str | Path | None = None,
    encoding: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """(grids to validate events against, where they came from): ``grids_file`` when given,
    else the grids the scoring runs stored, else ``fallback_file`` (the city's grids file).
    `ContractError` when there are none."""
    from risk.loaders import load_grids

    stored = stored_grids(session)
    if grids_file is not None:
        given = load_grids(grids_file, encoding=encoding).valid
        _check_same_city(given, stored, grids_file)
        return given, str(grids_file)
    if len(stored):
        return validation_grids(stored), "the grids stored in the service database"
    if fallback_file is not None:
        return load_grids(fallback_file, encoding=encoding).valid, str(fallback_file)
    raise ContractError(
        "the service database holds no grids yet, so events cannot be placed",
        field="grid_id",
        fix="give the city's grids file (--grids, or RISK_CITY_GRIDS for the service), or "
        "score once (`risk score`) so the grids are stored",
    )


def _check_same_city(given: pd.DataFrame, stored: pd.DataFrame, grids_file: str | Path) -> None:
    """`ContractError` when the service already holds grids and ``given`` shares no grid id
    with them: events placed on another city's (or a renumbered) grid layout would be stored
    where no forecast, review or patrol can find them. Some new grids beside the stored
    ones are fine (a city that grows)."""
    if not len(stored) or not len(given):
        return
    held = set(stored["grid_id"].astype(str))
    ids = given["grid_id"].astype(str)
    if ids.isin(held).any():
        return
    shown = ", ".join(sorted(ids)[:3])
    raise ContractError(
        f"none of its {len(ids)} grid ids ({shown}, ...) is one of the {len(held)} grids the "
        "service database holds: it is another city's or a renumbered grid layout",
        file=str(grids_file),
        field="grid_id",
        fix="load without --grids (the stored grids are used), or point --database-url / "
        "--data-dir at that city's service",
    )


# --------------------------------------------------------------------------------- raw rows


def raw_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """API rows -> a raw frame as a CSV would give it: every `RAW_FIELDS` column, values as
    text (None stays missing), index ``row`` = 1..n."""
    data = {
        f: pd.Series([None if r.get(f) is None else str(r[f]) for r in records], dtype=object)
        for f in RAW_FIELDS
    }
    frame = pd.DataFrame(data)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name=ROW_COLUMN)
    return frame


def _shown(value: Any) -> str:
    """A value as validation shows it in a detail (quoted, at most 120 characters)."""
    return repr("<missing>" if value is None or value is pd.NA or value != value else
                str(value)[:120])  # fmt: skip


def _point(raw: pd.DataFrame, pos: int) -> str:
    lon, lat = (raw[c].iloc[pos] if c in raw.columns else None for c in ("lon", "lat"))
    return f"lon,lat={_shown(f'{lon},{lat}')}"


def _first_copies(raw: pd.DataFrame) -> np.ndarray:
    """Position of the first row with the same values, for every row (itself when first)."""
    if raw.shape[1] == 0 or len(raw) == 0:
        return np.arange(len(raw))
    group = raw.reset_index(drop=True).groupby(list(raw.columns), dropna=False, sort=False).ngroup()
    return pd.Series(np.arange(len(raw))).groupby(group.to_numpy()).transform("first").to_numpy()


def _not_storable(valid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(mask, detail) of valid rows the store cannot hold as they are."""
    bad = np.zeros(len(valid), dtype=bool)
    detail = np.full(len(valid), None, dtype=object)
    for column in ("event_id", "grid_id", "category", "source"):
        text = valid[column].astype(object)
        limit = STORE_LIMITS.get(column, 10**9)
        hit = (
            np.array(
                [isinstance(v, str) and (len(v) > limit or "\x00" in v) for v in text], dtype=bool
            )
            & ~bad
        )
        detail[hit] = [f"{column}={_shown(v)}" for v in text[hit]]
        bad |= hit
    return bad, detail


# --------------------------------------------------------------------------------- ingest


def ingest(
    session: Session,
    raw: pd.DataFrame,
    grids: pd.DataFrame,
    *,
    actor: str,
    action: str,
    now: datetime,
    tz: str = DEFAULT_TZ,
    file: str = "events",
    allowed_grids: Collection[str] | None = None,
    progress: event_repo.Progress | None = None,
    audit_extra: Mapping[str, Any] | None = None,
) -> Intake:
    """Validate ``raw`` against ``grids``, store the valid rows, audit the batch (module doc).

    ``now`` (aware) bounds future times and stamps the rows and the audit entry; ``actor`` and
    ``action`` name the audit entry (object ``event_batch/<batch id>``), whose ``after`` holds
    the counts (never event contents) and ``audit_extra``. A missing required column is a
    `ContractError` (nothing stored, nothing audited)."""
    # a batch joins a record held by the service: an old event reported late is no stray
    result = validate_events(
        raw, grids, tz=tz, now=pd.Timestamp(now), file=file, whole_record=False
    )
    n = len(raw)
    numbers = (
        raw.index.to_numpy(dtype=np.int64)
        if raw.index.name == ROW_COLUMN
        else np.arange(1, n + 1, dtype=np.int64)
    )
    status = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)
    fields: list[tuple[str, ...]] = [()] * n
    given_ids = raw["event_id"] if "event_id" in raw.columns else pd.Series(None, index=raw.index)
    event_id = np.array(
        [None if pd.isna(v) or not str(v).strip() else str(v).strip() for v in given_ids],
        dtype=object,
    )

    def reject(pos: np.ndarray, why: Sequence[str], what: Sequence[str]) -> None:
        status[pos] = "rejected"
        reason[pos] = list(why)
        detail[pos] = list(what)
        for p, d in zip(pos, what, strict=True):
            fields[p] = tuple(str(d).split("=", 1)[0].split(","))

    dup = raw.duplicated(keep="first").to_numpy()
    q = result.quarantined
    qpos = pd.Index(numbers).get_indexer(q[ROW_COLUMN].to_numpy())
    reject(qpos, q["reason"].tolist(), q["detail"].tolist())
    quarantined = np.zeros(n, dtype=bool)
    quarantined[qpos] = True
    vpos = np.flatnonzero(~dup & ~quarantined)
    valid = result.valid
    assert len(vpos) == len(valid)
    event_id[vpos] = valid["event_id"].astype(str).to_numpy(dtype=object)

    keep = np.ones(len(valid), dtype=bool)
    if allowed_grids is not None:
        outside = ~valid["grid_id"].astype(str).isin(set(map(str, allowed_grids))).to_numpy()
        gave_id = (
            raw["grid_id"]
            .iloc[vpos]
            .map(lambda v: v is not None and v == v and bool(str(v).strip()))
            .to_numpy(dtype=bool)
            if "grid_id" in raw.columns
            else np.zeros(len(vpos), dtype=bool)
        )
        if outside.any():
            why = np.where(gave_id[outside], "unknown_grid_id", "outside_all_grids")
            what = [
                f"grid_id={_shown(valid['grid_id'].iloc[i])}" if gave else _point(raw, vpos[i])
                for i, gave in zip(np.flatnonzero(outside), gave_id[outside], strict=True)
            ]
            reject(vpos[outside], why.tolist(), what)
            keep &= ~outside
    bad, bad_detail = _not_storable(valid)
    bad &= keep
    if bad.any():
        reject(vpos[bad], [NOT_STORABLE] * int(bad.sum()), bad_detail[bad].tolist())
        keep &= ~bad

    batch = uuid.uuid4().hex
    outcome = event_repo.store_events(
        session, valid[keep], batch=batch, received_at=now, progress=progress
    )
    spos = vpos[keep]
    status[spos] = outcome.status
    for i, pos in enumerate(spos):
        if outcome.status[i] == event_repo.CONFLICT:
            differ = outcome.differences[event_id[pos]]
            fields[pos] = tuple(differ)
            detail[pos] = f"{', '.join(differ)} differ from the stored event"
            reason[pos] = CONFLICT_REASON

    first = _first_copies(raw)
    dpos = np.flatnonzero(dup)
    status[dpos] = "duplicate"
    detail[dpos] = [f"same as row {numbers[first[p]]}" for p in dpos]
    event_id[dpos] = event_id[first[dpos]]
    assert not pd.isna(pd.Series(status, dtype=object)).any()

    rows = pd.DataFrame(
        {
            ROW_COLUMN: numbers,
            "event_id": event_id,
            "status": status,
            "reason": reason,
            "detail": detail,
            "fields": fields,
        }
    )
    stored = np.zeros(len(valid), dtype=bool)
    stored[np.flatnonzero(keep)] = np.asarray(outcome.status, dtype=object) == event_repo.STORED
    intake = Intake(
        batch=batch,
        file=file,
        rows=rows,
        quarantine=_quarantine(raw, rows),
        duplicates_in_input=int(dup.sum()),
        adjusted={
            kind: int((mask & stored).sum())
            for kind, mask in result.adjusted_rows.items()
            if (mask & stored).any()
        },
    )
    summary = intake.summary()
    audit.append(
        session,
        actor,
        action,
        "event_batch",
        batch,
        after={
            **{k: summary[k] for k in ("file", "read", "stored", "duplicates", "conflicts")},
            "quarantined": summary["quarantined"],
            "by_reason": summary["by_reason"],
            **dict(audit_extra or {}),
        },
        at=now,
    )
    return intake


def _quarantine(raw: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Raw values of the rejected and conflicting rows, `QUARANTINE_COLUMNS` first."""
    mask = rows["status"].isin(["rejected", "conflict"]).to_numpy()
    out = raw.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    picked = rows[mask].reset_index(drop=True)
    for i, column in enumerate(QUARANTINE_COLUMNS):
        out.insert(i, column, picked[column].to_numpy())
    return out


def write_quarantine(intake: Intake, path: str | Path) -> Path:
    """The rows not stored for a reason to look at (rejected and conflicting) as CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    intake.quarantine.to_csv(path, index=False)
    return path


def row_messages(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, message) pairs for one rejected or conflicting row of `Intake.rows`."""
    if row["status"] == "conflict":
        return [
            (f, f"differs from the stored event {row['event_id']}; the stored event is kept "
                "(a new event needs a new event_id)")
            for f in row["fields"]
        ]  # fmt: skip
    if row["status"] != "rejected":
        return []
    text = REASON_TEXT.get(str(row["reason"]), str(row["reason"]))
    got = str(row["detail"]).split("=", 1)[-1]
    return [(f, f"{row['reason']}: {text} (got {got})") for f in row["fields"]]


__all__ = [
    "CONFLICT_REASON",
    "NOT_STORABLE",
    "RAW_FIELDS",
    "REASONS",
    "REASON_TEXT",
    "STATUSES",
    "Intake",
    "ingest",
    "known_grids",
    "raw_frame",
    "row_messages",
    "validation_grids",
    "write_quarantine",
]
