"""Train the production forecaster on everything known at one moment (`risk train`).

The same rules as a backtest block: daily issue times from `until − max_history_days` to
the last one whose 72-hour window has closed by `until`; labels counted from the events known
at `until` (an event reported later cannot be in a label the model learned from), less those
of `label_exclude_sources` (default the system's own patrols; recorded in the manifest).
The fitted model comes with its drift reference (`models.health`), stored in the manifest
(`TrainedModel.manifest_extra`) for the scoring runs' health checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.base import LABEL_EXCLUDE_SOURCES, FeatureInfo
from features.binning import event_arrays
from features.build import FeatureFrame, build_features
from features.issue_times import daily_issue_times
from models.fitting import fit_at, fit_spec, training_rows
from models.forecaster import MultiTargetForecaster
from models.health import drift_reference
from models.threads import one_blas_thread
from risk.contract import DEFAULT_ISSUE_HOUR, DEFAULT_TZ, HORIZON_HOURS
from risk.drift import DriftReference
from risk.errors import ConfigError
from risk.option_times import option_time


@dataclass
class TrainedModel:
    model: MultiTargetForecaster
    feature_info: list[FeatureInfo]  # the built features and, with stacking, the classic ones
    targets: tuple[str, ...]
    window: tuple[str, str]  # first and last issue time of the training rows (ISO)
    until: str
    rows: int
    base_rates: dict[str, float]  # per target: share of training grid-windows with an event
    drift_reference: DriftReference | None = None  # what scoring runs are compared with
    skipped: dict[str, str] = field(default_factory=dict)  # target -> why it has no model
    label_exclude_sources: tuple[str, ...] = LABEL_EXCLUDE_SOURCES  # left out of the labels
    patrol_exposure: bool = False  # patrol visits are a feature (the explicit switch)
    tz: str | None = None  # the city time the calendar features were built in
    calendar: str | None = None  # the holiday calendar they used

    def manifest_extra(self) -> dict[str, Any]:
        """What `models.persist.save_forecaster` should store beside the model."""
        return {
            "training_window": self.window,
            "until": self.until,
            "targets_trained": list(self.targets),
            # the training period's, never the scoring day's (docs/adr/013-*)
            "base_rates": self.base_rates,
            "label_exclude_sources": list(self.label_exclude_sources),
            "patrol_exposure_feature": self.patrol_exposure,
            # scoring must build the time features as training did (serve.scoring)
            "tz": self.tz,
            "calendar": self.calendar,
            "drift_reference": None
            if self.drift_reference is None
            else self.drift_reference.to_dict(),
        }


def label_sources_of(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """The sources a saved model's labels left out; none for a model saved before the
    setting existed (its labels counted every source)."""
    return tuple(manifest.get("label_exclude_sources") or ())


@one_blas_thread
def train_forecaster(
    grids: pd.DataFrame,
    events: pd.DataFrame,
    until: str | dt.date | pd.Timestamp | None = None,
    *,
    hour: int = DEFAULT_ISSUE_HOUR,
    tz: str = DEFAULT_TZ,
    calendar: str = "CN",
    config: None | dict[str, Any] | str = None,
    targets: tuple[str, ...] | None = None,
    max_history_days: int = 365,
    warmup_days: int = 28,
    label_exclude_sources: Sequence[str] | str = LABEL_EXCLUDE_SOURCES,
    issue_stride: int = 1,
    build: Callable[..., FeatureFrame] = build_features,
    visits: pd.DataFrame | None = None,
    patrol_exposure: bool = False,
    client: Any = None,
) -> TrainedModel:
    """Fit one LightGBM model per target on the rows whose windows closed by `until`
    (default: the latest `reported_at` in `events`), issue times from the later of
    `until − max_history_days` and the data start + `warmup_days`; the labels leave out the
    events of `label_exclude_sources`.

    `issue_stride` k > 1 builds the features at every k-th of those issue times only (counted
    back from the latest): a city too large for a frame of every day (issue 18). `build`: the
    feature builder (`features.partition.build_partitioned` bound to a Dask client);
    `client`: LightGBM's trees grow across that client's workers (`models.distributed`).
    `patrol_exposure` (the explicit switch) makes the patrol `visits` a feature
    (`features.exposure`)."""
    grids = grids.reset_index(drop=True)
    spec = fit_spec(
        events,
        grids,
        calendar=calendar,
        tz=tz,
        targets=targets,
        label_exclude_sources=label_exclude_sources,
        visits=visits,
        patrol_exposure=patrol_exposure,
    )
    excluded, target_list = spec.label_exclude_sources, spec.targets
    known_at = events["reported_at"].fillna(events["occurred_at"])
    newest = known_at.max()
    cutoff = option_time(until, "--until") if until is not None else newest
    if cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize(tz)
    if cutoff > newest + pd.Timedelta(hours=HORIZON_HOURS):
        raise ConfigError(
            f"--until {until!r} is {(cutoff - newest).days} days after the newest event "
            f"({newest.tz_convert(tz):%Y-%m-%d %H:%M}): training would read the days without "
            f"data as days without events. Fix: give an --until at most {HORIZON_HOURS} h after "
            "it, or leave --until out (training then uses everything the files hold)"
        )
    last_issue = (cutoff - pd.Timedelta(hours=HORIZON_HOURS)).tz_convert(tz)
    # Skip the first `warmup_days` of the record, where rolling windows are not yet filled.
    data_start = events["occurred_at"].min().tz_convert(tz)
    first_day = max(
        (last_issue - pd.Timedelta(days=max_history_days)).date(),
        (data_start + pd.Timedelta(days=warmup_days)).date(),
    )
    if last_issue.date() < first_day:
        raise ConfigError(
            f"--until {cutoff} leaves no training day: the events start on {data_start.date()}, "
            f"and training needs {warmup_days} days of history and {HORIZON_HOURS} h of labels "
            "before it; give a later --until"
        )
    times = daily_issue_times(first_day, last_issue.date(), hour, tz)
    times = times[times + pd.Timedelta(hours=HORIZON_HOURS) <= cutoff]
    if len(times) < 30:
        raise ConfigError(
            f"only {len(times)} training issue times end by {cutoff}; give a later --until or "
            "more history (at least 30 days)"
        )
    if issue_stride < 1:
        raise ConfigError(f"issue_stride must be at least 1, got {issue_stride}")
    times = times[::-1][::issue_stride][::-1]  # every k-th, the latest kept
    built = build(grids, events, times, spec)
    time_ns = times.as_unit("ns").asi8
    known = event_arrays(events, grids["grid_id"])
    until_ns = cutoff.value
    rows = training_rows(
        built.frame, time_ns, len(grids), known, target_list, until_ns, exclude_sources=excluded
    )
    model = fit_at(
        rows,
        events,
        grids,
        cutoff,
        target_list,
        config=config,
        feature_names=built.feature_names,
        start=data_start,
        client=client,
    )
    feature_info = built.info + (model.stack_.info() if model.stack_ is not None else [])
    return TrainedModel(
        model=model,
        feature_info=feature_info,
        targets=tuple(model.targets_),  # a target without a training event has no model
        window=(times[0].isoformat(), times[-1].isoformat()),
        until=cutoff.isoformat(),
        rows=len(rows),
        base_rates={t: float(rows[f"label_{t}"].mean()) for t in model.targets_},
        skipped=dict(model.skipped_),
        label_exclude_sources=excluded,
        patrol_exposure=patrol_exposure,
        tz=tz,
        calendar=calendar,
        drift_reference=drift_reference(model, rows, events, grids, feature_info, start=data_start),
    )
