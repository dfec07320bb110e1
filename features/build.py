"""The orchestrator: spec + grids + events + issue times -> one feature frame with labels.

Rows: one per (issue time, core grid), issue-time major, grids in input order. Columns:
`grid_id`, `issue_time`, the features of the families of the spec (float32; `grid_type` as a
pandas Categorical), then `count_<target>` (int32) and `label_<target>` (int8) per target —
without the events of `spec.label_exclude_sources` (`features.labels`).

Partitioned runs: build on `core + halo_grid_ids(grids, core)` with `core_grid_ids=core`, the
same full events frame, spec and `history_start`. The column set (targets, sources) follows
the events given, so pass `spec.targets` when partitions see different event sets.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.base import BuildContext, FeatureBlock, FeatureInfo, FeatureSpec
from features.binning import context_events, to_ns
from features.history import resolve_history_start
from features.labels import label_columns
from risk.contract import ANY_TARGET
from risk.errors import ConfigError, ContractError

# Families whose windows are masked before the start of the record (`history_start=`).
STARTED = ("history", "neighbourhood")
# family -> module exposing `build(ctx) -> FeatureBlock`; imported when the family is built.
FAMILY_MODULES: dict[str, str] = {
    "history": "features.history",
    "neighbourhood": "features.neighbourhood",
    "reporting": "features.reporting",
    "time": "features.time",
    "calendar": "features.calendar_features",
    "area": "features.area",
    "population": "features.population",
    "exposure": "features.exposure",  # only with the switch `spec.patrol_exposure`
}


@dataclass
class FeatureFrame:
    """The built frame, the metadata of each feature column, and the targets labelled."""

    frame: pd.DataFrame
    info: list[FeatureInfo]
    targets: tuple[str, ...]

    def describe(self) -> pd.DataFrame:
        """One row per feature: name, family, label_en, label_zh."""
        return pd.DataFrame(
            [(i.name, i.family, i.label_en, i.label_zh) for i in self.info],
            columns=["name", "family", "label_en", "label_zh"],
        )

    @property
    def feature_names(self) -> list[str]:
        return [i.name for i in self.info]


def resolve_targets(events: pd.DataFrame, spec: FeatureSpec) -> tuple[str, ...]:
    """`spec.targets`, or `any` + every category of the events (sorted)."""
    if spec.targets is not None:
        return tuple(spec.targets)
    categories = sorted(set(events["category"].dropna().astype(str))) if len(events) else []
    return (ANY_TARGET, *[c for c in categories if c != ANY_TARGET])


def _issue_index(issue_times: Iterable, tz: str) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(issue_times)
    if index.tz is None:
        index = index.tz_localize(tz)
    if index.hasnans:
        raise ConfigError("issue times contain a missing value")
    return index.as_unit("ns").sort_values().unique()


def _family_builder(family: str) -> Callable[..., FeatureBlock]:
    return importlib.import_module(FAMILY_MODULES[family]).build


def build_features(
    grids: pd.DataFrame,
    events: pd.DataFrame,
    issue_times: Iterable,
    spec: FeatureSpec | None = None,
    core_grid_ids: Iterable[str] | None = None,
    history_start: pd.Timestamp | str | None = None,
) -> FeatureFrame:
    """Build every family of `spec` and the labels, for the core grids (default: all).

    `grids` and `events` are validated frames (`risk.contract`); events of grids not in
    `grids` are ignored. Naive issue times are read in `spec.tz`. `history_start` is the start
    of the record for `rate_all_*` (default: earliest `occurred_at` of `events`).
    """
    spec = spec or FeatureSpec()
    grids = grids.reset_index(drop=True)
    times = _issue_index(issue_times, spec.tz)
    ids = grids["grid_id"].astype(str)
    if ids.duplicated().any():
        raise ContractError(
            "grid ids are not unique",
            field="grid_id",
            value=ids[ids.duplicated()].iloc[0],
            fix="validate the grids file first (risk validate)",
        )
    if core_grid_ids is None:
        core = np.arange(len(grids))
    else:
        wanted = pd.Index([str(g) for g in core_grid_ids])
        missing = wanted.difference(pd.Index(ids))
        if len(missing):
            raise ContractError(
                "core grid id not in the grids frame",
                field="grid_id",
                value=missing[0],
                fix="pass the core grids together with their halo (features.halo.halo_grid_ids)",
            )
        core = np.nonzero(ids.isin(wanted).to_numpy())[0]

    targets = resolve_targets(events, spec)
    ctx = BuildContext(grids=grids, events=events, issue_times=times, targets=targets, spec=spec)
    start = resolve_history_start(events, history_start)

    n_t, n_core = len(times), len(core)
    columns: dict[str, object] = {
        "grid_id": ids.array.take(np.tile(core, n_t)),
        "issue_time": times.repeat(n_core),
    }
    info: list[FeatureInfo] = []
    switched = ("exposure",) if spec.patrol_exposure else ()
    for family in (*spec.families, *switched):
        builder = _family_builder(family)
        block = builder(ctx, history_start=start) if family in STARTED else builder(ctx)
        for item in block.info:
            if item.name in columns:
                raise ValueError(f"feature {item.name!r} built by two families")
            columns[item.name] = _broadcast(block.columns[item.name], core, n_t, len(grids))
            info.append(item)
        del block

    ev = context_events(events, grids["grid_id"])
    labels = label_columns(
        ev, to_ns(times), len(grids), targets, spec.horizon_hours, spec.label_exclude_sources
    )
    for name, values in labels.items():
        columns[name] = _broadcast(values, core, n_t, len(grids))
    frame = pd.DataFrame(columns, copy=False)
    return FeatureFrame(frame=frame, info=info, targets=targets)


def _broadcast(values: np.ndarray | pd.Categorical, core: np.ndarray, n_t: int, n_grids: int):
    """A block value -> one flat column over (issue time, core grid) rows.

    Shapes are told apart by both sizes, so a city of one grid (a (1, 1) per-grid value) or a
    single issue time (a (1, 1) per-time value) is broadcast the right way."""
    n_core = len(core)
    if isinstance(values, pd.Categorical):
        codes = np.tile(values.codes[core], n_t)
        return pd.Categorical.from_codes(codes, dtype=values.dtype)
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"feature block values must be 2-D, got shape {values.shape}")
    shape = values.shape
    if shape == (n_t, n_grids):
        if n_core == n_grids:  # every grid is core: no copy
            return values.reshape(-1)
        return values[:, core].reshape(-1)
    if shape == (1, n_grids):  # the same at every issue time
        return np.tile(values[0, core], n_t)
    if shape == (n_t, 1):  # the same for every grid
        return np.repeat(values[:, 0], n_core)
    raise ValueError(
        f"feature block values of shape {shape} fit neither ({n_t}, {n_grids}), "
        f"({n_t}, 1) nor (1, {n_grids})"
    )
