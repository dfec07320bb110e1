"""Rolling-origin backtest (DESIGN §4–§6): LightGBM, the classic baselines and the oracle, side
by side on the same issue times, grids and targets.

    result = run_backtest(grids, events, "2024-06-01", "2024-11-30", truth=truth)
    # metrics.json, predictions.parquet; report.html and its PNGs from models.report, which
    # reads the result (this module never imports the report)
    paths = write_outputs(result, out_dir, report=write_report)

How it runs:

* **Issue times**: daily at `hour` city time, `start`..`end` inclusive (the evaluation times).
  Training rows come from issue times in a sliding window of `max_history_days` before each
  retrain (never before the first event date + `warmup_days`, so short rolling windows are
  filled), plus the evaluation times already passed whose windows have closed.
* **One feature frame** (`features.build.build_features`) for all those issue times; features
  at `t` use only what is known at `t`, labels are the counts in `(t, t + 72h]`.
* **Blocks**: evaluation days are cut into blocks of `retrain_days` counted from `start`. At
  each block start `s`, LightGBM (one model per target) is fitted on the rows whose label window
  closed by `s` (`issue_time + horizon <= s`), every baseline with `until = s`; then every grid
  and target is scored at each issue time of the block. The training labels are recounted
  from the events **known at `s`**: an event that occurred in a training window but was
  reported after `s` is not in its label, as it could not be in a real run at `s`. (Evaluation
  labels count every event by `occurred_at`, DESIGN §4.)
* **Labels leave out** the events of `label_exclude_sources` (default: the system's own
  patrols, docs/adr/019-*) — in training, search and evaluation alike, so every model and
  baseline is scored against the same labels; the oracle's expected count leaves them out too.
  `metrics["labels"]` records the setting and how many events it left out.
* **Patrol exposure** (`visits`, e.g. the service's `patrol_visits`): reported per grid type and
  street in `metrics["exposure"]` (`risk.exposure.exposure_summary`); a feature only with the
  explicit switch `patrol_exposure` (`features.exposure`).
* **Oracle** (synthetic cities with `truth`): the true expected count given what is known at
  `t`; it also defines `miss_rate_true@10` for every model.

* **Cost**: LightGBM bins the training rows once per block for all targets
  (`MultiTargetForecaster`, which shares `models.forecaster.SharedBins`); the block's baselines run in a second thread meanwhile.
  `timings_s`: `train` / `predict` are LightGBM's, `baselines` the baseline thread's (it
  overlaps them), `total` the wall time.

Scores: LightGBM's calibrated probability; a baseline's or the oracle's expected count.
Probabilities (for brier, log loss, ECE): LightGBM's calibrated one; for baselines and the
oracle `1 − exp(−count)`, a Poisson reading of the count — uncalibrated for baselines.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.base import LABEL_EXCLUDE_SOURCES, FeatureInfo
from features.binning import event_arrays
from features.build import FeatureFrame, build_features
from features.issue_times import daily_issue_times
from models.baselines import BASELINES, make_baseline
from models.config import load_config
from models.fitting import fit_at, fit_spec, refresh_at, training_rows
from models.forecaster import LightGBMForecaster, count_from_logit
from models.search import SearchResult, search_config
from models.threads import one_blas_thread
from risk.contract import ANY_TARGET, DEFAULT_ISSUE_HOUR, DEFAULT_TZ, HORIZON_HOURS
from risk.errors import ConfigError
from risk.exposure import check_visits, exposure_summary, window_visits
from risk.levels import level_table, levels_at
from risk.metrics import base_rate, evaluate, json_ready, paired_to_baselines
from risk.option_times import option_date
from risk.segments import grid_segments, warning_rates_by_kind
from risk.synth.oracle import oracle_expected_counts, oracle_targets
from risk.synth.truth import Truth

LIGHTGBM = "lightgbm"
ORACLE = "oracle"
DEFAULT_MODELS: tuple[str, ...] = (LIGHTGBM, *BASELINES)
# Baselines whose rate needs the data's real start (see models.baselines.historical).
NEEDS_START = ("historical_rate", "seppexp")
WARMUP_DAYS = 28
MAX_HISTORY_DAYS = 365
SEARCH_DAYS = 28  # validation issue days of the configuration search
TREE_REFIT_DAYS = 28  # grow new trees every 4 weekly blocks (docs/adr/012-training-cost.md)
MIN_SEARCH_HISTORY_DAYS = 60  # training days the search needs before its validation window
SHAP_MAX_ROWS = 5_000
PREDICTION_COLUMNS = ("issue_time", "grid_id", "target", "model", "score", "label", "count")
NS_PER_HOUR = 3_600 * 10**9

Progress = Callable[[str, int, int], None]
# Writes the report of a result into a folder: (report.html, PNG paths); see write_outputs.
ReportWriter = Callable[["BacktestResult", Path], tuple[Path, list[Path]]]


@dataclass
class ShapSummary:
    """SHAP contributions (raw score: log expected count or log-odds) of the `any` model on a
    sample of the last block's rows: their mean |value| per feature and family, and the
    sample itself for the beeswarm and waterfall plots (`models.shapplots`)."""

    target: str
    rows: int
    features: pd.DataFrame  # feature, family, mean_abs — sorted by mean_abs, descending
    families: pd.DataFrame  # family, mean_abs (sum over the family's features), descending
    contributions: np.ndarray | None = None  # (rows, features + 1), last column the base
    values: pd.DataFrame | None = None  # the sample's feature values, columns = features
    keys: pd.DataFrame | None = None  # grid_id, issue_time, prob of each sample row


@dataclass
class BacktestResult:
    """Everything the backtest measured. Panels are (T, G): evaluation issue time × grid,
    grids in input order; `scores[target][model]`, `probs[target][model]`."""

    metrics: dict[str, Any]
    issue_times: pd.DatetimeIndex
    grid_ids: np.ndarray
    targets: tuple[str, ...]
    models: tuple[str, ...]
    counts: dict[str, np.ndarray]
    scores: dict[str, dict[str, np.ndarray]]
    probs: dict[str, dict[str, np.ndarray]]
    expected: dict[str, np.ndarray]
    segments: dict[str, np.ndarray]
    area: np.ndarray
    settings: dict[str, Any]
    feature_info: list[FeatureInfo]
    shap: ShapSummary | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def timings(self) -> dict[str, float]:
        return self.metrics["timings_s"]

    @property
    def peak_rss_mb(self) -> float:
        return self.metrics["peak_rss_mb"]

    @property
    def predictions(self) -> pd.DataFrame:
        """Long frame `issue_time, grid_id, target, model, score, label, count`:
        model-major, then target, issue time, grid (T·G·targets·models rows)."""
        return predictions_frame(self)


# ----------------------------------------------------------------------------- helpers


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux `ru_maxrss` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _as_date(value: str | dt.date | pd.Timestamp, what: str) -> dt.date:
    return option_date(value, f"--{what}")


def _aware(values: pd.Series, tz: str) -> pd.Series:
    values = pd.to_datetime(values)
    return values.dt.tz_localize(tz) if values.dt.tz is None else values.dt.tz_convert(tz)


def _check_models(models: Iterable[str], truth: Truth | None) -> tuple[str, ...]:
    chosen = list(dict.fromkeys(models))
    accepted = [LIGHTGBM, *BASELINES, ORACLE]
    unknown = [m for m in chosen if m not in accepted]
    if unknown:
        raise ConfigError(f"unknown model {unknown[0]!r}; accepted: {accepted}")
    if ORACLE in chosen and truth is None:
        raise ConfigError("model 'oracle' needs the synthetic city's truth.json (truth=...)")
    if truth is not None and ORACLE not in chosen:
        chosen.append(ORACLE)
    if not chosen:
        raise ConfigError(f"no model to backtest; accepted: {accepted}")
    return tuple(chosen)


def default_train_start(
    first_event: dt.date,
    start: dt.date,
    warmup_days: int = WARMUP_DAYS,
    max_history_days: int = MAX_HISTORY_DAYS,
) -> dt.date:
    """The later of `first_event + warmup_days` and `start − max_history_days`."""
    return max(
        first_event + dt.timedelta(days=warmup_days), start - dt.timedelta(days=max_history_days)
    )


def retrain_blocks(n_days: int, retrain_days: int) -> list[slice]:
    """Evaluation day positions cut into consecutive blocks of `retrain_days`."""
    if retrain_days < 1:
        raise ConfigError(f"--retrain must be at least 1 day, got {retrain_days}")
    return [slice(lo, min(lo + retrain_days, n_days)) for lo in range(0, n_days, retrain_days)]


def _target_events(events: pd.DataFrame, target: str) -> pd.DataFrame:
    return events if target == ANY_TARGET else events[events["category"] == target]


def _poisson_prob(count: np.ndarray) -> np.ndarray:
    return np.clip(-np.expm1(-np.maximum(count, 0.0)), 0.0, 1.0)


def _tick(progress: Progress | None, step: str, done: int, total: int) -> None:
    if progress is not None:
        progress(step, done, total)


# ----------------------------------------------------------------------------- the backtest


# A window may close this long after the last event (the record's last day, read whole).
WINDOW_SLACK = pd.Timedelta(days=1)


def _check_windows_close(
    eval_times: pd.DatetimeIndex, data_end: pd.Timestamp, last_day: dt.date
) -> None:
    """Refuse an evaluation whose last windows close after the data stop (with
    `WINDOW_SLACK`): their labels would read "no event" where the record simply ends, and
    every method would be scored against invented quiet."""
    closes = eval_times + pd.Timedelta(hours=HORIZON_HOURS)
    late = closes > data_end + WINDOW_SLACK
    if not late.any():
        return
    fine = eval_times[~late]
    fix = (
        f"give --end {fine[-1].date()} or earlier"
        if len(fine)
        else f"give --start and --end at least {HORIZON_HOURS // 24} days before the last event"
    )
    raise ConfigError(
        f"--end {last_day}: the {HORIZON_HOURS} h windows of {int(late.sum())} issue day(s) "
        f"close after the last event ({data_end:%Y-%m-%d %H:%M}), so their labels would read "
        f"'no event' where the data simply stop; {fix}"
    )


@one_blas_thread
def run_backtest(
    grids: pd.DataFrame,
    events: pd.DataFrame,
    start: str | dt.date | pd.Timestamp,
    end: str | dt.date | pd.Timestamp,
    *,
    retrain_days: int = 7,
    hour: int = DEFAULT_ISSUE_HOUR,
    tz: str = DEFAULT_TZ,
    calendar: str = "CN",
    truth: Truth | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    targets: Sequence[str] | None = None,
    config: None | dict[str, Any] | str = None,
    progress: Progress | None = None,
    train_start: str | dt.date | pd.Timestamp | None = None,
    warmup_days: int = WARMUP_DAYS,
    max_history_days: int = MAX_HISTORY_DAYS,
    seed: int = 0,
    search: bool | None = None,
    search_days: int = SEARCH_DAYS,
    tree_refit_days: int = TREE_REFIT_DAYS,
    label_exclude_sources: Sequence[str] | str = LABEL_EXCLUDE_SOURCES,
    build: Callable[..., FeatureFrame] = build_features,
    visits: pd.DataFrame | None = None,
    patrol_exposure: bool = False,
    client: Any = None,
    open_windows: bool = False,
) -> BacktestResult:
    """Score every grid and target at each daily issue time of `start`..`end` with every model.

    `grids`, `events` are validated frames (`risk.contract`); `truth` adds the oracle; `config`
    overrides `models/lightgbm.toml` (dict or TOML path); `targets` defaults to `any` + every
    category of the events; `progress(step, done, total)` is called as steps advance.

    LightGBM's trees are grown anew every `tree_refit_days` (a whole number of blocks, at
    least one); at the blocks between, the classic stack, the blends and the calibrators are
    fitted again on the block's rows and the trees kept (docs/adr/012-training-cost.md).

    `search` (default: when no `config` is given) chooses LightGBM's settings first
    (`models.search`) on the `search_days` issue days whose windows close by `start`, fitted on
    what was known before them; the choice is in `metrics["configuration"]`. A given `config`
    is used as is.

    A baseline that fails on a target is recorded in `metrics.json` as `{"status": "failed",
    "reason": ...}` for that target, noted once in `notes`, and left out of the later blocks;
    the backtest completes with the other models. So is LightGBM on a target without an
    event in some block's training rows (`MultiTargetForecaster.skipped_`).

    `label_exclude_sources`: sources whose events no label counts (module docstring).
    `visits` (`grid_id`, `visited_at`[, `outcome`]): patrol visits, reported per segment in
    `metrics["exposure"]`; `patrol_exposure` makes them a feature (needs `visits`).
    `build`: the feature builder — `build_features`, or the same per partition on a Dask
    cluster (`features.partition.build_partitioned` bound to a client; issue 18).
    `client`: LightGBM's trees grow across that Dask client's workers at every full refit
    (`models.distributed`); the configuration search and the baselines run here.
    An evaluation whose windows close after the last event is refused (their labels would
    read "no event" where the data stop); `open_windows=True` scores it anyway, with a note —
    for checks of what a forecast knows at `t`, never for a measured result.
    """
    t_total = time.perf_counter()
    timings = {
        "features": 0.0,
        "train": 0.0,
        "predict": 0.0,
        "baselines": 0.0,
        "search": 0.0,
        "explain": 0.0,
        "total": 0.0,
    }
    chosen = _check_models(models, truth)
    grids = grids.reset_index(drop=True)
    if visits is not None:
        visits = check_visits(visits, tz, grids["grid_id"])
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
    events = events.copy()
    events["occurred_at"] = _aware(events["occurred_at"], tz)
    if "reported_at" in events.columns:
        events["reported_at"] = _aware(events["reported_at"], tz)
    if len(events) == 0:
        raise ConfigError("the events frame is empty; nothing to train on or to measure")

    first_day, last_day = _as_date(start, "start"), _as_date(end, "end")
    eval_times = daily_issue_times(first_day, last_day, hour, tz)
    data_start = events["occurred_at"].min()
    if train_start is None:
        train_day = default_train_start(data_start.date(), first_day, warmup_days, max_history_days)
    else:
        train_day = _as_date(train_start, "train-start")
    # The first training window (train_day at `hour`, + 72 h) must close by the first issue
    # time, or LightGBM has no row to learn from.
    first_close = train_day + dt.timedelta(hours=HORIZON_HOURS)
    data_end = events["occurred_at"].max()
    if LIGHTGBM in chosen and first_close > first_day and first_close >= data_end.date():
        span = (data_end - data_start).days
        raise ConfigError(
            f"the events span only {span} days ({data_start.date()} .. {data_end.date()}): "
            f"LightGBM needs {warmup_days} warm-up days and a {HORIZON_HOURS} h training window "
            "before --start, and the evaluation after it; give a file with a longer history"
        )
    if LIGHTGBM in chosen and first_close > first_day:
        raise ConfigError(
            f"no training history: training would start on {train_day}, and its first "
            f"{HORIZON_HOURS} h window does not close before --start {first_day}; give a later "
            f"--start, weeks after {first_close} (the data begin {data_start.date()}, and "
            f"{warmup_days} warm-up days are skipped)"
        )
    if eval_times[0] >= data_end:
        raise ConfigError(
            f"--start {first_day} is after the last event ({data_end:%Y-%m-%d %H:%M}): every "
            "window of the evaluation would be empty, so no forecast can be measured; give a "
            f"--start and --end within the data ({data_start.date()} .. {data_end.date()})"
        )
    if not open_windows:
        _check_windows_close(eval_times, data_end, last_day)
    open_note = (
        f"the last windows close after the last event ({data_end}); their labels are "
        "incomplete (open_windows)"
        if eval_times[-1] + pd.Timedelta(hours=HORIZON_HOURS) > data_end + WINDOW_SLACK
        else None
    )
    all_times = daily_issue_times(min(train_day, first_day), last_day, hour, tz)

    _tick(progress, "features", 0, 1)
    t0 = time.perf_counter()
    built = build(grids, events, all_times, spec)
    timings["features"] = time.perf_counter() - t0
    _tick(progress, "features", 1, 1)

    frame, n_grids = built.frame, len(grids)
    time_ns = all_times.as_unit("ns").asi8
    eval_pos = np.searchsorted(time_ns, eval_times.as_unit("ns").asi8)
    n_t = len(eval_times)
    counts = {
        t: frame[f"count_{t}"].to_numpy().reshape(len(all_times), n_grids)[eval_pos].astype(float)
        for t in target_list
    }
    scores: dict[str, dict[str, np.ndarray]] = {t: {} for t in target_list}
    probs: dict[str, dict[str, np.ndarray]] = {t: {} for t in target_list}
    for t in target_list:
        for m in chosen:
            if m != ORACLE:
                scores[t][m] = np.full((n_t, n_grids), np.nan)
                probs[t][m] = np.full((n_t, n_grids), np.nan)

    expected: dict[str, np.ndarray] = {}
    notes: list[str] = [open_note] if open_note else []
    if truth is not None:
        t0 = time.perf_counter()
        oracle = oracle_expected_counts(
            truth, events, grids, eval_times, HORIZON_HOURS, exclude_sources=excluded
        )
        names = oracle_targets(truth)
        for t in target_list:
            if t in names:
                expected[t] = oracle[:, :, names.index(t)]
                scores[t][ORACLE] = expected[t]
                probs[t][ORACLE] = _poisson_prob(expected[t])
            else:
                notes.append(f"the oracle knows no category {t!r}; no oracle for that target")
        timings["predict"] += time.perf_counter() - t0

    baseline_params = {name: {} for name in BASELINES}
    for name in NEEDS_START:
        baseline_params[name] = {"start": data_start}
    target_events = {t: _target_events(events, t) for t in target_list}
    known_events = event_arrays(events, grids["grid_id"]) if LIGHTGBM in chosen else None
    configuration: dict[str, Any] = {"chosen": "given" if config is not None else "default"}
    if LIGHTGBM in chosen and (search if search is not None else config is None):
        _tick(progress, "configuration search", 0, 1)
        found = _search(
            frame,
            time_ns,
            known_events,
            events,
            grids,
            target_list,
            first_day,
            train_day,
            hour=hour,
            tz=tz,
            search_days=search_days,
            feature_names=built.feature_names,
            start=data_start,
            max_history_days=max_history_days,
            base=config,
            label_exclude_sources=excluded,
        )
        if isinstance(found, str):
            notes.append(found)
        else:
            configuration = found.as_dict()
            config = found.override
            timings["search"] = found.seconds
        _tick(progress, "configuration search", 1, 1)
    blocks = retrain_blocks(n_t, retrain_days)
    trees_every = max(1, tree_refit_days // retrain_days)
    last_models: dict[str, LightGBMForecaster] = {}
    any_mix: dict[str, Any] | None = None  # whether `any` mixed its categories (ADR 026)
    baseline_names = tuple(m for m in chosen if m in BASELINES)
    failed: dict[tuple[str, str], str] = {}  # (baseline, target) -> the first failure
    # LightGBM's risk level of every grid-window, from each block's operating points
    levels = {t: np.full((n_t, n_grids), "blue", dtype=object) for t in target_list}
    # The baselines of a block run in a second thread while LightGBM trains: they are mostly
    # single-threaded NumPy, LightGBM does not keep both cores busy, and the results are the
    # same as one after the other (each model only reads the shared frames).
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baselines")
    try:
        for b, block in enumerate(blocks):
            _tick(progress, "blocks", b, len(blocks))
            block_times = eval_times[block]
            block_start = block_times[0]
            start_ns = int(block_start.as_unit("ns").value)
            rows = (eval_pos[block][:, None] * n_grids + np.arange(n_grids)).ravel()
            block_frame = frame.iloc[rows]
            pending = pool.submit(
                _baselines_block,
                baseline_names,
                baseline_params,
                target_events,
                grids,
                block_start,
                block_times,
                frozenset(failed),
            )
            if LIGHTGBM in chosen:
                t0 = time.perf_counter()
                # A sliding window: the last `max_history_days` before the block, so every
                # retrain costs the same and old regimes fade out.
                first_ns = start_ns - max_history_days * 24 * NS_PER_HOUR
                train = training_rows(
                    frame,
                    time_ns,
                    n_grids,
                    known_events,
                    target_list,
                    start_ns,
                    first_ns,
                    exclude_sources=excluded,
                )
                if b % trees_every == 0:
                    fitted = fit_at(
                        train,
                        events,
                        grids,
                        block_start,
                        target_list,
                        config=config,
                        feature_names=built.feature_names,
                        start=data_start,
                        client=client,
                    )
                else:  # the same trees; classic stack, blend and calibration fitted anew
                    fitted = refresh_at(fitted, train, events, grids, block_start, start=data_start)
                last_models = fitted.forecasters_
                any_mix = getattr(fitted, "mixed_", None)
                for t, reason in getattr(fitted, "skipped_", {}).items():
                    if (LIGHTGBM, t) not in failed:  # no model for t: its panel has gaps
                        failed[LIGHTGBM, t] = f"{reason} (fitted at {block_start:%Y-%m-%d %H:%M})"
                        notes.append(f"lightgbm has no model for target {t}: {reason}")
                del train
                timings["train"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                block_frame = fitted.add_classics(block_frame, events, grids, data_start)
                raws: dict[str, np.ndarray] = {}  # a mix (ADR 026) reuses its parts'
                for t, model in sorted(last_models.items(), key=lambda item: item[1].mixed):
                    # scored, as every model, by its expected count: -log(1 - p) from the
                    # unclipped calibrated log-odds (p itself ties at 1 - EPS for the
                    # busiest grids of a coarse grid); p for the probability metrics
                    raws[t] = raw = model.decision_function(block_frame, known=raws)
                    p, score = model.predict_proba_and_score(block_frame, raw)
                    shape = (len(block_times), n_grids)
                    p = p.reshape(shape)
                    scores[t][LIGHTGBM][block] = count_from_logit(score).reshape(shape)
                    probs[t][LIGHTGBM][block] = p
                    levels[t][block] = levels_at(p, model.levels_)
                timings["predict"] += time.perf_counter() - t0
            block_counts, block_failures, seconds = pending.result()
            timings["baselines"] += seconds
            for (name, t), c in block_counts.items():
                scores[t][name][block] = c
                probs[t][name][block] = _poisson_prob(c)
            for (name, t), reason in block_failures.items():
                failed[name, t] = reason
                notes.append(f"baseline {name} failed on target {t}: {reason}; left out")
    finally:
        pool.shutdown()
    _tick(progress, "blocks", len(blocks), len(blocks))

    shap = None
    feature_info = list(built.info)
    if LIGHTGBM in chosen:
        t0 = time.perf_counter()
        if fitted.stack_ is not None:
            feature_info += fitted.stack_.info()
        shap = shap_summary(last_models, block_frame, feature_info, seed)
        timings["explain"] = time.perf_counter() - t0
    else:
        notes.append("LightGBM was not run, so there is no SHAP summary")

    # grid type, street and population-make-up quartiles (docs/adr/020-fairness-by-segment.md)
    cut = grid_segments(grids)
    segments = cut.labels
    notes += cut.notes
    visit_panel = (
        None
        if visits is None
        else window_visits(visits, grids["grid_id"], eval_times, HORIZON_HOURS)
    )
    area = grids["area_km2"].to_numpy(dtype=float) if "area_km2" in grids.columns else None
    if area is not None and not (np.isfinite(area) & (area > 0)).all():
        # centroid-only grids have no area (risk.validation): PAI takes equal areas for all
        notes.append(
            f"{int((~(np.isfinite(area) & (area > 0))).sum())} of {n_grids} grids have no "
            "area (no polygon, no area_km2): pai@k takes every grid's area as equal"
        )
        area = None
    model_order = tuple(m for m in chosen if any(m in scores[t] for t in target_list))
    for m, t in failed:  # a failed pair has no forecast: the panels, plots and table skip it
        scores[t].pop(m, None)
        probs[t].pop(m, None)
    result_targets: dict[str, Any] = {}
    for i, t in enumerate(target_list):
        _tick(progress, "metrics", i, len(target_list))
        result_targets[t] = {
            "base_rate": base_rate(counts[t]),
            **(
                {
                    "levels": {
                        "operating_points": last_models[t].levels_,
                        "measured": level_table(levels[t], counts[t]),
                    }
                }
                if LIGHTGBM in chosen and t in last_models
                else {}
            ),
            **(
                {
                    "warning_rates": {
                        "model": LIGHTGBM,
                        **warning_rates_by_kind(levels[t], counts[t], segments, visit_panel),
                    }
                }
                if LIGHTGBM in chosen and t in last_models
                else {}
            ),
            "models": {
                m: {"status": "failed", "reason": failed[m, t]}
                if (m, t) in failed
                else evaluate(
                    scores[t][m],
                    counts[t],
                    prob=probs[t][m],
                    area=area,
                    expected=expected.get(t),
                    segments=segments,
                    seed=seed,
                )
                for m in model_order
                if m in scores[t] or (m, t) in failed
            },
        }
        if LIGHTGBM in scores[t]:
            # paired week-block intervals for the promotion gate (docs/adr/022-*)
            result_targets[t]["paired"] = paired_to_baselines(
                scores[t], counts[t], LIGHTGBM, seed=seed
            )
    _tick(progress, "metrics", len(target_list), len(target_list))

    settings = {
        "start": str(first_day),
        "end": str(last_day),
        "train_start": str(min(train_day, first_day)),
        "retrain_days": retrain_days,
        "tree_refit_days": trees_every * retrain_days,
        "blocks": len(blocks),
        "hour": hour,
        "tz": tz,
        "calendar": calendar,
        "models": list(model_order),
        "targets": list(target_list),
        "horizon_hours": HORIZON_HOURS,
        "seed": seed,
        "lightgbm_config": config if isinstance(config, dict | None) else str(config),
        "configuration": configuration,
        "any_mix": any_mix,
        "data_start": str(data_start),
        "label_exclude_sources": list(excluded),
        "patrol_exposure_feature": patrol_exposure,
    }
    timings["total"] = time.perf_counter() - t_total
    metrics = {
        "dataset": {
            "grids": n_grids,
            "events": int(len(events)),
            "start": str(first_day),
            "end": str(last_day),
        },
        "horizon_hours": HORIZON_HOURS,
        "issue_times": n_t,
        "targets": result_targets,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "backtest": settings,
        "configuration": configuration,
        "segments": cut.describe,
        "labels": label_summary(events, excluded),
    }
    if visits is not None:
        metrics["exposure"] = exposure_summary(visits, grids, eval_times, HORIZON_HOURS)
    return BacktestResult(
        metrics=metrics,
        issue_times=eval_times,
        grid_ids=grids["grid_id"].astype(str).to_numpy(),
        targets=target_list,
        models=model_order,
        counts=counts,
        scores=scores,
        probs=probs,
        expected=expected,
        segments=segments,
        area=np.ones(n_grids) if area is None else area,
        settings=settings,
        feature_info=feature_info,
        shap=shap,
        notes=notes,
    )


def _search(
    frame: pd.DataFrame,
    time_ns: np.ndarray,
    known: Any,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    targets: tuple[str, ...],
    first_day: dt.date,
    train_day: dt.date,
    *,
    hour: int,
    tz: str,
    search_days: int,
    feature_names: list[str],
    start: pd.Timestamp,
    max_history_days: int,
    base: None | dict[str, Any] | str,
    label_exclude_sources: tuple[str, ...],
) -> SearchResult | str:
    """The configuration search on the `search_days` issue days before `first_day` whose
    windows close by it, or a note saying why there is none (too little history)."""
    last_valid = first_day - dt.timedelta(days=HORIZON_HOURS // 24)
    first_valid = last_valid - dt.timedelta(days=search_days - 1)
    if first_valid - dt.timedelta(days=MIN_SEARCH_HISTORY_DAYS) < train_day:
        return (
            f"no configuration search: it needs {search_days} validation days and "
            f"{MIN_SEARCH_HISTORY_DAYS} days of training before them, after the warm-up "
            f"(training starts {train_day}); the packaged settings were used"
        )
    if isinstance(base, str):  # a TOML path: read it as a dict the candidates extend
        base = load_config(base).raw
    valid_times = daily_issue_times(first_valid, last_valid, hour, tz)
    until = daily_issue_times(first_day, first_day, hour, tz)[0]
    return search_config(
        frame,
        time_ns,
        known,
        events,
        grids,
        targets,
        valid_times,
        until,
        feature_names=feature_names,
        start=start,
        max_history_days=max_history_days,
        base=base,
        label_exclude_sources=label_exclude_sources,
    )


def label_summary(events: pd.DataFrame, excluded: Sequence[str]) -> dict[str, Any]:
    """What the labels counted (`metrics["labels"]`): the sources left out and how many events
    of the backtest's frame they were."""
    left_out = int(events["source"].isin(list(excluded)).sum()) if len(excluded) else 0
    return {
        "exclude_sources": list(excluded),
        "events_left_out": left_out,
        "events_counted": int(len(events)) - left_out,
    }


def _baselines_block(
    names: Sequence[str],
    params: dict[str, dict[str, Any]],
    target_events: dict[str, pd.DataFrame],
    grids: pd.DataFrame,
    block_start: pd.Timestamp,
    block_times: pd.DatetimeIndex,
    skip: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[dict[tuple[str, str], np.ndarray], dict[tuple[str, str], str], float]:
    """Every baseline × target fitted on the events known at `block_start` and its expected
    counts at `block_times`: `({(baseline, target): (T, G) counts}, failures, seconds)`.

    A baseline that raises, or returns a count that is not finite, is a failure
    (`{(baseline, target): reason}`), not the end of the backtest: the others go on. Pairs in
    `skip` (failed in an earlier block) are not fitted again."""
    t0 = time.perf_counter()
    out: dict[tuple[str, str], np.ndarray] = {}
    failures: dict[tuple[str, str], str] = {}
    for name in names:
        for target, events in target_events.items():
            if (name, target) in skip:
                continue
            try:
                model = make_baseline(name, **params[name]).fit(events, grids, block_start)
                counts = model.predict_count(events, block_times, HORIZON_HOURS)
            except Exception as exc:  # one method's failure must not end the backtest
                failures[name, target] = _failure_reason(exc, block_start)
                continue
            if not np.isfinite(counts).all():
                failures[name, target] = (
                    f"non-finite expected counts when fitted at {block_start:%Y-%m-%d %H:%M}"
                )
                continue
            out[name, target] = counts
    return out, failures, time.perf_counter() - t0


def _failure_reason(exc: BaseException, at: pd.Timestamp) -> str:
    return f"{type(exc).__name__}: {exc} (fitted at {at:%Y-%m-%d %H:%M})"


def shap_summary(
    forecasters: dict[str, LightGBMForecaster],
    frame: pd.DataFrame,
    info: list[FeatureInfo],
    seed: int = 0,
) -> ShapSummary | None:
    """Mean |contribution| per feature and family for the `any` model (else the first target)
    on at most `SHAP_MAX_ROWS` rows of `frame` (seeded sample). None when nothing was fitted."""
    if not forecasters:
        return None
    target = ANY_TARGET if ANY_TARGET in forecasters else next(iter(forecasters))
    model = forecasters[target]
    if len(frame) > SHAP_MAX_ROWS:
        pick = np.sort(np.random.default_rng(seed).choice(len(frame), SHAP_MAX_ROWS, False))
        frame = frame.iloc[pick]
    full = model.contributions(frame)
    contrib = np.abs(full[:, :-1]).mean(axis=0)
    family = {i.name: i.family for i in info}
    names = list(model.feature_names_)
    features = pd.DataFrame(
        {"feature": names, "family": [family.get(n, "other") for n in names], "mean_abs": contrib}
    ).sort_values("mean_abs", ascending=False, kind="stable", ignore_index=True)
    families = (
        features.groupby("family", observed=True)["mean_abs"]
        .sum()
        .sort_values(ascending=False, kind="stable")
        .reset_index()
    )
    keys = frame[["grid_id", "issue_time"]].reset_index(drop=True)
    keys["prob"] = model.predict_proba(frame)
    return ShapSummary(
        target=target,
        rows=len(frame),
        features=features,
        families=families,
        contributions=full,
        values=frame[names].reset_index(drop=True),
        keys=keys,
    )


# ----------------------------------------------------------------------------- outputs


def predictions_frame(result: BacktestResult) -> pd.DataFrame:
    """The long predictions table of DESIGN §6 (categorical `grid_id`, `target`, `model`)."""
    n_t, n_g = len(result.issue_times), len(result.grid_ids)
    cells = n_t * n_g
    pairs = [(m, t) for m in result.models for t in result.targets if m in result.scores[t]]
    n = len(pairs)
    model_codes = np.repeat([result.models.index(m) for m, _ in pairs], cells)
    target_codes = np.repeat([result.targets.index(t) for _, t in pairs], cells)
    count = np.concatenate([result.counts[t].ravel() for _, t in pairs]) if pairs else np.zeros(0)
    score = np.concatenate([result.scores[t][m].ravel() for m, t in pairs]) if pairs else count
    return pd.DataFrame(
        {
            # `take` keeps the tz-aware dtype; np.tile would box every row as a Timestamp
            "issue_time": result.issue_times.take(np.tile(np.arange(n_t).repeat(n_g), n)),
            "grid_id": pd.Categorical.from_codes(
                np.tile(np.arange(n_g), n_t * n), categories=pd.Index(result.grid_ids)
            ),
            "target": pd.Categorical.from_codes(target_codes, categories=list(result.targets)),
            "model": pd.Categorical.from_codes(model_codes, categories=list(result.models)),
            "score": score.astype(float),
            "label": (count >= 1).astype(np.int8),
            "count": count.astype(np.int32),
        },
        columns=list(PREDICTION_COLUMNS),
    )


def write_metrics(metrics: dict[str, Any], path: Path) -> Path:
    """`metrics.json` with NaN written as null (strict JSON)."""
    path.write_text(json.dumps(json_ready(metrics), indent=2, allow_nan=False), encoding="utf-8")
    return path


def write_outputs(
    result: BacktestResult, out_dir: str | Path, report: ReportWriter | None = None
) -> dict[str, Path]:
    """Write `metrics.json` and `predictions.parquet` into `out_dir`, and with `report` (e.g.
    `models.report.write_report`: `report.html` and its PNGs) the report too.

    Returns the paths by name (`metrics`, `predictions`; with a report also `report`, and the
    PNGs, written in `out_dir` itself, as `plot:<name>`). The report depends on the result, not
    the reverse: this module never imports it, the caller passes the writer.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": write_metrics(result.metrics, out / "metrics.json"),
        "predictions": out / "predictions.parquet",
    }
    result.predictions.to_parquet(paths["predictions"], index=False)
    if report is None:
        return paths
    paths["report"], plots = report(result, out)
    paths.update({f"plot:{p.stem}": p for p in plots})
    return paths
