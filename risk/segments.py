"""How the grids are cut into segments for the fairness checks (docs/adr/020-fairness-by-segment.md).

Every grid gets one label per segment kind, fixed by the grids table alone (static: the same
grid is in the same segment at every issue time):

* ``grid_type`` and ``street`` (``street_id``) — the values as given (``unassigned`` when
  the grids file has no such column, DESIGN §3);
* ``elderly_share``, ``floating_share``, ``rental_share`` — population make-up as quartiles
  ``Q1``..``Q4`` of the grids' values, with edges ``q25 <= q50 <= q75`` from
  ``numpy.nanquantile`` (linear interpolation): ``Q1`` is ``v <= q25``, ``Q2``
  ``q25 < v <= q50``, ``Q3`` ``q50 < v <= q75``, ``Q4`` ``v > q75``. A grid without a value
  is ``missing``. Ties at an edge can leave a quartile empty; it is then simply absent.

A share column the grids file lacks (or holds no value in) gives no segment kind and one
note; the rest go on. `describe` is what ``metrics.json`` states under ``segments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from risk.contract import GRID_SHARE_COLUMNS, UNASSIGNED
from risk.levels import level_table
from risk.metrics import segment_key

QUARTILES = ("Q1", "Q2", "Q3", "Q4")
MISSING = "missing"
# Segment kind -> grids column; the share columns map to themselves.
COLUMN_KINDS = {"grid_type": "grid_type", "street": "street_id"}


@dataclass(frozen=True)
class GridSegments:
    """``labels[kind]``: one label per grid, in the grids' row order; ``describe``: per kind
    the column, the metrics key, the number of segments and (quartiles) the edges; ``notes``:
    the share columns left out and why."""

    labels: dict[str, np.ndarray]
    describe: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def quartile_labels(values: Any) -> tuple[np.ndarray, list[float]]:
    """``(labels, [q25, q50, q75])`` of one share column (module doc); NaN -> ``missing``.

    Raises ``ValueError`` when no value is given (the caller skips such a column)."""
    v = np.asarray(values, dtype=float)
    given = np.isfinite(v)
    if not given.any():
        raise ValueError("no value to cut into quartiles")
    edges = np.nanquantile(np.where(given, v, np.nan), [0.25, 0.5, 0.75])
    pos = np.searchsorted(edges, np.where(given, v, 0.0), side="left")
    labels = np.where(given, np.asarray(QUARTILES, dtype=object)[pos], MISSING)
    return labels.astype(object), [float(e) for e in edges]


def grid_segments(grids: pd.DataFrame) -> GridSegments:
    """The segment labels of a validated grids frame (module doc)."""
    n = len(grids)
    labels: dict[str, np.ndarray] = {}
    describe: dict[str, dict[str, Any]] = {}
    for kind, column in COLUMN_KINDS.items():
        if column in grids.columns:
            labels[kind] = grids[column].astype(str).to_numpy(dtype=object)
        else:
            labels[kind] = np.full(n, UNASSIGNED, dtype=object)
        describe[kind] = {
            "column": column,
            "metrics_key": segment_key(kind),
            "segments": int(len(set(labels[kind].tolist()))),
        }
    absent, empty = [], []
    for column in GRID_SHARE_COLUMNS:
        if column not in grids.columns:
            absent.append(column)
            continue
        try:
            labels[column], edges = quartile_labels(grids[column].to_numpy(dtype=float))
        except ValueError:
            empty.append(column)
            continue
        describe[column] = {
            "column": column,
            "metrics_key": segment_key(column),
            "segments": int(len(set(labels[column].tolist()))),
            "quartile_edges": edges,
            "rule": "Q1 <= q25 < Q2 <= q50 < Q3 <= q75 < Q4; no value: missing",
        }
    notes = []
    if absent:
        notes.append(
            "no population make-up segments for " + ", ".join(absent) + ": the grids file has "
            "no such column (add it, a share in [0, 1] per grid, to see metrics by its quartiles)"
        )
    if empty:
        notes.append(
            "no population make-up segments for " + ", ".join(empty) + ": the column holds no "
            "value in any grid"
        )
    return GridSegments(labels, describe, notes)


# ----------------------------------------------------------------------------- warning rates

RATE_LEVELS = ("red", "orange", "yellow", "orange_or_above")


def warning_rates(
    level: Any, count: Any, labels: Any, visits: Any = None
) -> dict[str, dict[str, Any]]:
    """Per segment of ``labels`` (one per grid column of the ``(T, G)`` panels ``level`` and
    ``count``): ``rows``, ``event_rate`` (share of its grid-windows with an event), the share
    of its grid-windows warned at each level of `RATE_LEVELS`, and for ``orange_or_above``
    the precision and the recall of the segment's events (`risk.levels.level_table` on the
    segment's columns). With ``visits`` (a ``(T, G)`` panel of patrol visits per window,
    `risk.exposure.window_visits`) also ``visits_per_grid_window`` and ``visited`` (share of
    its grid-windows with a visit). A segment warned or patrolled far above its event rate
    draws attention beyond its risk; far below, it is overlooked."""
    lv = np.asarray(level, dtype=object)
    c = np.asarray(count, dtype=float)
    v = None if visits is None else np.asarray(visits, dtype=float)
    lab = np.asarray(labels, dtype=object)
    if lv.shape != c.shape or lab.shape != (c.shape[1],) or (v is not None and v.shape != c.shape):
        raise ValueError(
            f"level {lv.shape}, count {c.shape}, visits {None if v is None else v.shape} and "
            f"labels {lab.shape} do not match: one level, count and visit count per (issue "
            "time, grid), one label per grid"
        )
    out: dict[str, dict[str, Any]] = {}
    for value in sorted(set(lab.tolist()), key=str):
        cols = lab == value
        out[str(value)] = _rates(lv[:, cols], c[:, cols], None if v is None else v[:, cols])
    return out


def overall_rates(level: Any, count: Any, visits: Any = None) -> dict[str, Any]:
    """`warning_rates`' row for all grids together."""
    v = None if visits is None else np.asarray(visits, dtype=float)
    return _rates(np.asarray(level, dtype=object), np.asarray(count, dtype=float), v)


def _rates(lv: np.ndarray, c: np.ndarray, v: np.ndarray | None) -> dict[str, Any]:
    table = level_table(lv, c)
    row: dict[str, Any] = {
        "rows": int(c.size),
        "event_rate": float((c >= 1).mean()) if c.size else None,
    }
    row.update({name: table[name]["share"] for name in RATE_LEVELS})
    row["precision@orange_or_above"] = table["orange_or_above"]["precision"]
    row["recall@orange_or_above"] = table["orange_or_above"]["recall"]
    if v is not None:
        row["visits_per_grid_window"] = float(v.mean()) if v.size else None
        row["visited"] = float((v > 0).mean()) if v.size else None
    return row


def warning_rates_by_kind(
    level: Any, count: Any, segments: Mapping[str, Any], visits: Any = None
) -> dict[str, Any]:
    """``{"overall": row, "<metrics key>": {segment: row}}`` for every kind of ``segments``
    (``by_segment`` for grid types, ``by_<kind>`` for the others, as the model metrics)."""
    out: dict[str, Any] = {"overall": overall_rates(level, count, visits)}
    for kind, labels in segments.items():
        out[segment_key(kind)] = warning_rates(level, count, labels, visits)
    return out
