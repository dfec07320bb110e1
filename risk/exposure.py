"""Patrol exposure as a recorded quantity (issue 17, item 2): visits per grid and window, and
their summary per grid type and street.

A grid that is patrolled more may record more events whatever its risk, so the backtest
report and the model card show how the patrols were spread when visits are given
(`risk backtest --visits FILE`: `grid_id`, `visited_at`, optional `outcome`; the service keeps
them in `patrol_visits`, `serve.repo.exposure`). A `could_not_visit` report is not a visit.
Exposure is a feature only behind an explicit switch (`FeatureSpec.patrol_exposure`,
docs/adr/019-*).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from risk.contract import UNASSIGNED
from risk.errors import ContractError
from risk.patrol import PatrolOutcome

VISIT_COLUMNS = ("grid_id", "visited_at")
NS_PER_HOUR = 3_600 * 10**9


def check_visits(
    raw: pd.DataFrame, tz: str, grid_ids: Any = None, file: str = "visits"
) -> pd.DataFrame:
    """Visits as `grid_id` (str) and `visited_at` (aware, `tz` for naive times), sorted by
    time; rows whose `outcome` is `could_not_visit` are left out (not a visit).

    `ContractError` naming the file, the field, the first bad value (with its row) and the
    fix: a missing column, an unreadable time, an unknown outcome, or — given `grid_ids` —
    a grid that is not among them."""
    columns = {str(c).strip().lower(): c for c in raw.columns}
    for name in VISIT_COLUMNS:
        if name not in columns:
            raise ContractError(
                "missing column",
                file=file,
                field=name,
                fix="give one row per patrol visit with columns grid_id, visited_at "
                "(ISO 8601) and optionally outcome",
            )
    frame = pd.DataFrame(
        {
            "grid_id": raw[columns["grid_id"]].astype("string").str.strip(),
            "visited_at": raw[columns["visited_at"]],
        }
    )
    if "outcome" in columns:
        outcome = raw[columns["outcome"]].astype("string").str.strip().str.lower()
        accepted = [o.value for o in PatrolOutcome]
        bad = outcome.notna() & ~outcome.isin(accepted)
        if bad.any():
            raise ContractError(
                f"unknown outcome in row {bad.idxmax()}",
                file=file,
                field="outcome",
                value=str(outcome[bad].iloc[0]),
                fix=f"use one of {', '.join(accepted)}",
            )
        frame = frame[outcome.fillna("") != PatrolOutcome.COULD_NOT_VISIT.value]
    times = frame["visited_at"]
    if not pd.api.types.is_datetime64_any_dtype(times):
        times = pd.to_datetime(times, errors="coerce", format="mixed")
    if times.isna().any() or frame["grid_id"].isna().any():
        field = "visited_at" if times.isna().any() else "grid_id"
        bad = (times.isna() if field == "visited_at" else frame["grid_id"].isna()).idxmax()
        raise ContractError(
            f"missing or unreadable value in row {bad}",
            file=file,
            field=field,
            value=str(frame.loc[bad, field]),
            fix="give every visit a grid id and an ISO 8601 time such as 2024-06-01T09:30",
        )
    if getattr(times.dt, "tz", None) is None:
        times = times.dt.tz_localize(tz)
    frame = frame.assign(visited_at=times.dt.tz_convert(tz))
    if grid_ids is not None:
        unknown = ~frame["grid_id"].isin(pd.Index(pd.Series(grid_ids).astype(str)))
        if unknown.any():
            raise ContractError(
                "visit to a grid that is not in the grids file",
                file=file,
                field="grid_id",
                value=str(frame.loc[unknown, "grid_id"].iloc[0]),
                fix="give the visits of this city's grids only",
            )
    return frame.sort_values("visited_at", kind="stable").reset_index(drop=True)


def window_visits(
    visits: pd.DataFrame,
    grid_ids: Any,
    issue_times: pd.DatetimeIndex,
    horizon_hours: int,
) -> np.ndarray:
    """(T, G) int64: visits with `visited_at` in `(t, t + horizon]` per issue time and grid
    (grids in `grid_ids` order; visits to other grids ignored)."""
    ids = pd.Index(pd.Series(grid_ids).astype(str))
    rows = ids.get_indexer(visits["grid_id"].astype(str))
    keep = rows >= 0
    at = pd.DatetimeIndex(visits["visited_at"]).as_unit("ns").asi8[keep]
    queries = pd.DatetimeIndex(issue_times).as_unit("ns").asi8
    order = np.argsort(queries)
    sorted_q = queries[order]
    n_t, n_g = len(queries), len(ids)

    def upto(bounds: np.ndarray) -> np.ndarray:  # (T, G): visits with time <= bounds[i]
        slot = np.searchsorted(bounds, at, side="left")
        inside = slot < n_t
        key = slot[inside] * n_g + rows[keep][inside]
        counts = np.bincount(key, minlength=n_t * n_g).reshape(n_t, n_g)
        return np.cumsum(counts, axis=0)

    out = np.empty((n_t, n_g), dtype=np.int64)
    out[order] = upto(sorted_q + horizon_hours * NS_PER_HOUR) - upto(sorted_q)
    return out


def exposure_summary(
    visits: pd.DataFrame,
    grids: pd.DataFrame,
    issue_times: pd.DatetimeIndex,
    horizon_hours: int,
) -> dict[str, Any]:
    """Patrol exposure over the windows `(t, t + horizon]` of `issue_times`: visits counted,
    grids visited, mean visits per grid-window, and the same per `grid_type` and `street`
    (`by_grid_type`, `by_street`: grids, visits, visits_per_grid_window, share_of_visits)."""
    ids = grids["grid_id"].astype(str).to_numpy()
    panel = window_visits(visits, ids, issue_times, horizon_hours)
    times = pd.DatetimeIndex(issue_times)
    span = (visits["visited_at"] > times.min()) & (
        visits["visited_at"] <= times.max() + pd.Timedelta(hours=horizon_hours)
    )
    chosen = visits[span & visits["grid_id"].astype(str).isin(ids)]
    per_grid = chosen.groupby(chosen["grid_id"].astype(str)).size().reindex(ids, fill_value=0)
    total = int(per_grid.sum())
    out: dict[str, Any] = {
        "start": str(times.min()),
        "end": str(times.max() + pd.Timedelta(hours=horizon_hours)),
        "horizon_hours": horizon_hours,
        "grids": len(ids),
        "visits": total,
        "grids_visited": int((per_grid > 0).sum()),
        "visits_per_grid_window": float(panel.mean()) if panel.size else float("nan"),
    }
    for kind, column in (("grid_type", "grid_type"), ("street", "street_id")):
        labels = (
            grids[column].astype(str).to_numpy()
            if column in grids.columns
            else np.full(len(ids), UNASSIGNED, dtype=object)
        )
        table: dict[str, dict[str, Any]] = {}
        for seg in sorted(set(labels)):
            mask = labels == seg
            visits_seg = int(per_grid.to_numpy()[mask].sum())
            table[seg] = {
                "grids": int(mask.sum()),
                "visits": visits_seg,
                "visits_per_grid_window": float(panel[:, mask].mean()),
                "share_of_visits": visits_seg / total if total else float("nan"),
            }
        out[f"by_{kind}"] = table
    return out
