"""The fairness-by-segment tables of the backtest report and the model card, built from a
``metrics.json`` dict (docs/adr/020-fairness-by-segment.md). Pure: rows of plain values; the
report and the card format and render them.

One table per segment kind (grid type, street, population-make-up quartiles) with LightGBM and
the best classic baselines side by side, and one warning-rate table per kind. Streets can be
many: only the `STREET_EXTREMES` worst and best are shown (all are in ``metrics.json``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from risk.metrics import segment_key

MAIN_MODEL = "lightgbm"
NOT_BASELINES = (MAIN_MODEL, "oracle")
# The columns of a segment table, a subset of every metric `risk.metrics.segment_metrics` gives.
SEGMENT_COLUMNS = (
    "pr_auc",
    "pei@5",
    "hit_rate@10",
    "flag_rate@10",
    "miss_rate@10",
    "ece",
    "brier",
)
WARNING_COLUMNS = (
    ("event_rate", "event rate"),
    ("red", "red"),
    ("orange", "orange"),
    ("yellow", "yellow"),
    ("orange_or_above", "orange or above"),
    ("precision@orange_or_above", "precision (orange+)"),
    ("recall@orange_or_above", "events caught (orange+)"),
)
VISIT_COLUMNS = (  # with patrol visits given to the backtest (`risk.exposure`)
    ("visits_per_grid_window", "patrol visits per grid-window"),
    ("visited", "share visited"),
)
STREET_EXTREMES = 5  # streets shown at each end (worst, best)
TITLES = {
    "grid_type": "grid type",
    "street": "street",
    "elderly_share": "elderly share (quartiles)",
    "floating_share": "floating population share (quartiles)",
    "rental_share": "rented homes share (quartiles)",
}


@dataclass
class SegmentTable:
    """One table: a caption, the header and rows of plain values (first cell the label)."""

    caption: str
    header: list[str]
    rows: list[list[Any]]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def best_baselines(models: Mapping[str, Any]) -> list[str]:
    """The best classic baselines (the oracle is not one): best ``pr_auc``, best ``pei@5``
    and lowest ``ece`` (the calibration-by-segment gate's reference), each once, in that
    order."""
    picks = []
    for metric, sign in (("pr_auc", 1), ("pei@5", 1), ("ece", -1)):
        scored = {
            name: _number(m.get(metric))
            for name, m in models.items()
            if name not in NOT_BASELINES and isinstance(m, Mapping)
        }
        scored = {name: v for name, v in scored.items() if v is not None}
        if scored:
            picks.append(max(sorted(scored), key=lambda name: sign * scored[name]))
    return list(dict.fromkeys(picks))


def segment_kinds(metrics: Mapping[str, Any]) -> list[str]:
    """The segment kinds of the backtest, in ``metrics["segments"]`` order; a metrics.json
    written before it existed has grid type and street."""
    described = metrics.get("segments")
    if isinstance(described, Mapping) and described:
        return list(described)
    return ["grid_type", "street"]


def segment_label(metrics: Mapping[str, Any], kind: str, segment: str) -> str:
    """A quartile with its edges (``Q2 (0.13, 0.25]``); any other segment as is."""
    edges = ((metrics.get("segments") or {}).get(kind) or {}).get("quartile_edges")
    if not edges or segment not in ("Q1", "Q2", "Q3", "Q4"):
        return segment
    q = int(segment[1]) - 1
    if q == 0:
        return f"Q1 (≤ {edges[0]:.3g})"
    if q == 3:
        return f"Q4 (> {edges[2]:.3g})"
    return f"{segment} ({edges[q - 1]:.3g}, {edges[q]:.3g}]"


def _shown(kind: str, segments: Mapping[str, Any], order_by: str) -> tuple[list[str], str]:
    """The segments to show and a caption note: every one, except for more than
    2 × `STREET_EXTREMES` streets the `STREET_EXTREMES` with the highest ``order_by`` and as
    many with the lowest (streets where it is undefined left out)."""
    names = sorted(segments, key=str)
    if kind != "street" or len(names) <= 2 * STREET_EXTREMES:
        return names, ""
    values = {s: _number(segments[s].get(order_by)) for s in names}
    valued = sorted((s for s in names if values[s] is not None), key=lambda s: -values[s])
    if len(valued) <= 2 * STREET_EXTREMES:
        return valued, f"; {len(names)} streets, the {len(valued)} with a {order_by} shown"
    note = (
        f"; {len(names)} streets: the {STREET_EXTREMES} with the highest and the "
        f"{STREET_EXTREMES} with the lowest {order_by} shown, all in metrics.json"
    )
    return valued[:STREET_EXTREMES] + valued[-STREET_EXTREMES:], note


def metric_tables(metrics: Mapping[str, Any], target: str) -> list[SegmentTable]:
    """Per segment kind: for each segment, LightGBM and the best baselines on
    `SEGMENT_COLUMNS`, then the same for all grids."""
    block = metrics.get("targets", {}).get(target, {})
    models = {n: m for n, m in block.get("models", {}).items() if "status" not in m}
    shown_models = ([MAIN_MODEL] if MAIN_MODEL in models else []) + best_baselines(models)
    header = ["segment", "rows", "base rate", "model", *SEGMENT_COLUMNS]
    tables = []
    for kind in segment_kinds(metrics):
        key = segment_key(kind)
        first = next((models[m][key] for m in shown_models if models[m].get(key)), None)
        if not first:
            continue
        main = models.get(MAIN_MODEL, {}).get(key) or first
        names, note = _shown(kind, main, "miss_rate@10")
        rows = []
        for seg in names:
            for m in shown_models:
                cell = (models[m].get(key) or {}).get(seg) or {}
                rows.append(
                    [segment_label(metrics, kind, seg), first.get(seg, {}).get("rows"),
                     first.get(seg, {}).get("base_rate"), m,
                     *(cell.get(c) for c in SEGMENT_COLUMNS)]
                )  # fmt: skip
        for m in shown_models:  # flag_rate@10 is 10 % city-wide by definition: left blank
            rows.append(
                ["all grids", None, block.get("base_rate"), m,
                 *(models[m].get(c) for c in SEGMENT_COLUMNS)]
            )  # fmt: skip
        caption = f"target {target}, by {TITLES.get(kind, kind)}{note}"
        tables.append(SegmentTable(caption, header, rows))
    return tables


def warning_tables(metrics: Mapping[str, Any], target: str) -> list[SegmentTable]:
    """Per segment kind: the share of its grid-windows LightGBM warned at each level beside
    its event rate, the precision and event recall of orange or above, and — when the
    backtest was given patrol visits — the visits per grid-window and the share visited."""
    rates = metrics.get("targets", {}).get(target, {}).get("warning_rates")
    if not isinstance(rates, Mapping):
        return []
    overall = rates.get("overall") or {}
    columns = list(WARNING_COLUMNS) + (
        list(VISIT_COLUMNS) if VISIT_COLUMNS[0][0] in overall else []
    )
    header = ["segment", "rows", *(title for _, title in columns)]
    tables = []
    for kind in segment_kinds(metrics):
        segments = rates.get(segment_key(kind))
        if not segments:
            continue
        names, note = _shown(kind, segments, "orange_or_above")
        rows = [
            [segment_label(metrics, kind, seg), segments[seg].get("rows"),
             *(segments[seg].get(c) for c, _ in columns)]
            for seg in names
        ]  # fmt: skip
        rows.append(["all grids", overall.get("rows"), *(overall.get(c) for c, _ in columns)])
        model = rates.get("model", MAIN_MODEL)
        caption = f"target {target}, {model} levels by {TITLES.get(kind, kind)}{note}"
        tables.append(SegmentTable(caption, header, rows))
    return tables
