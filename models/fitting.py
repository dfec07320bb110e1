"""One fit of the forecaster at one moment, as the backtest and `risk train` both do it.

    rows = training_rows(frame, time_ns, n_grids, known, targets, until_ns, first_ns)
    model = fit_at(rows, events, grids, until, targets, config=..., feature_names=...)
    scored = model.add_classics(block_frame, events, grids, start)   # then predict

`training_rows` keeps the rows whose 72-hour window closed by `until`, with labels recounted
from the events known at `until` (an event reported later cannot be in a label a real run at
`until` learned from), without the events of the excluded sources (`features.labels`). `fit_at` fits the classic stack (`models.stacking`) on the events known
at `until` when the config uses it, adds its components to the rows, and fits one LightGBM
model per target.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.base import LABEL_EXCLUDE_SOURCES, FeatureSpec, check_sources
from features.binning import EventArrays
from features.build import resolve_targets
from features.labels import label_columns
from models.config import load_config
from models.forecaster import MultiTargetForecaster
from models.stacking import PREFIX, ClassicStack, add_components
from models.threads import one_blas_thread
from risk.contract import HORIZON_HOURS
from risk.errors import ConfigError
from risk.exposure import check_visits

NS_PER_HOUR = 3_600 * 10**9


def fit_spec(
    events: pd.DataFrame,
    grids: pd.DataFrame,
    *,
    calendar: str,
    tz: str,
    targets: Sequence[str] | None,
    label_exclude_sources: Sequence[str] | str,
    visits: pd.DataFrame | None = None,
    patrol_exposure: bool = False,
) -> FeatureSpec:
    """The feature spec a backtest or a training run fits with: `targets` (default `any` +
    every category of `events`), the sources the labels leave out (checked), and with the
    explicit exposure switch the checked patrol `visits` (refused without them)."""
    excluded = check_sources(label_exclude_sources, "label_exclude_sources")
    if excluded and "source" in events.columns and len(events):
        sources = events["source"].astype("string")
        if sources.isin(excluded).all():
            raise ConfigError(
                f"every event has source {', '.join(repr(v) for v in sources.unique())}, which "
                f"the labels leave out (--label-exclude-sources {','.join(excluded)}, the "
                "default keeps the system's own patrol reports out of what it learns): nothing "
                "is left to learn from. Fix: if these are the city's incident reports, give "
                "--label-exclude-sources none, or set their source column to what they are "
                "(e.g. hotline or grid_worker)"
            )
    if patrol_exposure and visits is None:
        raise ConfigError("the patrol exposure feature needs the patrol visits; give --visits FILE")
    spec = FeatureSpec(calendar=calendar, tz=tz, label_exclude_sources=excluded)
    return dataclasses.replace(
        spec,
        targets=tuple(targets) if targets else resolve_targets(events, spec),
        patrol_exposure=patrol_exposure,
        patrol_visits=check_visits(visits, tz, grids["grid_id"]) if patrol_exposure else None,
    )


def training_rows(
    frame: pd.DataFrame,
    time_ns: np.ndarray,
    n_grids: int,
    events: EventArrays,
    targets: Sequence[str],
    block_start_ns: int,
    first_ns: int | None = None,
    exclude_sources: Sequence[str] = LABEL_EXCLUDE_SOURCES,
) -> pd.DataFrame:
    """Rows whose window `(t, t + horizon]` closed by the block start (and, given `first_ns`,
    whose issue time is at or after it), labels recounted from the events known at the block
    start, less those of `exclude_sources`. `frame` is issue-time major over sorted `time_ns`."""
    n_t = int(np.searchsorted(time_ns + HORIZON_HOURS * NS_PER_HOUR, block_start_ns, "right"))
    first = 0 if first_ns is None else int(np.searchsorted(time_ns, first_ns, "left"))
    first = min(first, n_t)
    train = frame.iloc[first * n_grids : n_t * n_grids].copy(deep=False)
    known = events.subset(events.known <= block_start_ns)
    labels = label_columns(
        known, time_ns[first:n_t], n_grids, tuple(targets), HORIZON_HOURS, exclude_sources
    )
    for name, values in labels.items():
        train[name] = values.reshape(-1)
    return train


def uses_classics(config: None | dict[str, Any] | str) -> bool:
    """Whether the config's model reads the classic components (offset or features)."""
    stack = load_config(config).section("stacking")
    return stack["offset"] != "none" or stack["classic_features"]


@one_blas_thread
def refresh_at(
    model: MultiTargetForecaster,
    rows: pd.DataFrame,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    until: pd.Timestamp,
    *,
    start: pd.Timestamp | None = None,
    fits: dict[str, Any] | None = None,
) -> MultiTargetForecaster:
    """Update a fitted model at `until` without growing new trees: the classic stack is
    fitted again on the events known at `until` (`fits`: `seppexp` per category already
    fitted there), its components recomputed on `rows`, and every target's blend and
    calibrator refitted (`MultiTargetForecaster.refresh`)."""
    stack = None
    if model.stack_ is not None:
        rows, stack = with_classics(
            rows,
            events,
            grids,
            until,
            model.stack_.categories_,
            start=start,
            horizon_hours=model.horizon_hours,
            fits=fits,
        )
    return model.refresh(rows, stack)


def with_classics(
    rows: pd.DataFrame,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    until: pd.Timestamp,
    targets: Sequence[str],
    *,
    start: pd.Timestamp | None = None,
    horizon_hours: int = HORIZON_HOURS,
    fits: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, ClassicStack]:
    """`rows` with the classic components of a stack fitted at `until` (`fits`: `seppexp` per
    target already fitted there), each computed at the row's issue time from the events known
    then; and the stack. `start` is the start of the record (default: the earliest event)."""
    stack = ClassicStack(horizon_hours).fit(events, grids, until, list(targets), start, fits)
    times = pd.DatetimeIndex(rows["issue_time"].unique())
    return add_components(rows, stack.transform(events, grids, times, start)), stack


@one_blas_thread
def fit_prepared(
    rows: pd.DataFrame,
    targets: Sequence[str],
    stack: ClassicStack | None,
    *,
    config: None | dict[str, Any] | str = None,
    feature_names: list[str] | None = None,
    horizon_hours: int = HORIZON_HOURS,
    client: Any = None,
) -> MultiTargetForecaster:
    """Fit the forecaster on `rows` that already hold `stack`'s components (`with_classics`;
    `stack` None: rows without them). The components join `feature_names` when the config
    reads them; a config that does not gets no stack."""
    names = None if feature_names is None else list(feature_names)
    if stack is not None and uses_classics(config):
        if names is not None:  # the components, in the order `with_classics` added them
            names += [n for n in rows.columns if n.startswith(PREFIX) and n not in names]
    else:
        stack = None
    model = MultiTargetForecaster(config=config, feature_names=names, horizon_hours=horizon_hours)
    return model.fit(rows, list(targets), stack=stack, client=client)


@one_blas_thread
def fit_at(
    rows: pd.DataFrame,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    until: pd.Timestamp,
    targets: Sequence[str],
    *,
    config: None | dict[str, Any] | str = None,
    feature_names: list[str] | None = None,
    start: pd.Timestamp | None = None,
    horizon_hours: int = HORIZON_HOURS,
    fits: dict[str, Any] | None = None,
    client: Any = None,
) -> MultiTargetForecaster:
    """Fit the forecaster on `rows` (issue-time major over every grid of `grids`) at `until`;
    with a Dask `client` LightGBM's trees grow across its workers (`models.distributed`).

    With stacking, the classic stack is fitted on the events known at `until` (`fits`:
    `seppexp` per target already fitted there, to save fitting it again) and its components
    are computed at each row's issue time from the events known then; `start` is the start of
    the record (default: the earliest event)."""
    stack = None
    if uses_classics(config):
        rows, stack = with_classics(
            rows,
            events,
            grids,
            until,
            targets,
            start=start,
            horizon_hours=horizon_hours,
            fits=fits,
        )
    return fit_prepared(
        rows,
        targets,
        stack,
        config=config,
        feature_names=feature_names,
        horizon_hours=horizon_hours,
        client=client,
    )
