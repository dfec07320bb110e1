"""The scoring run (`risk score --at TIME`, and the service's daily job; issue 5, items 1–2).

`score` = load the model → build the features of every grid at one issue time → predict and
explain every target (additivity checked: a broken explanation stops the run) → a risk level
per (grid, target) → store, in ONE database transaction:

* the run and all its grid × target forecasts (`repo.runs.store_run`, all or nothing),
* the grids (`repo.grids.upsert_grids`), so street / community / scope filters work,
* the warnings (`risk.levels.warning_mask`) as review items, one per (grid, target, window
  ``(at, at + horizon]``) via `repo.reviews.apply_scoring` — re-scoring updates a pending item
  (revision + 1), never duplicates, and leaves a decided item alone,
* an audit entry per created or re-scored item (actor ``system:scoring``, model version, score
  snapshot) and one for the run itself,
* the run's model health (`serve.run_health`: drift against the training window, volumes by
  source, realised calibration of earlier runs whose window closed; an audited
  ``health_alert`` when a threshold of `risk/health.toml` is passed).

If anything fails, nothing of the run is kept. One transaction rather than run-then-queue:
a run whose warnings never reached the queue would be invisible to reviewers yet look
complete. The cost is that the audit chain head stays locked while the items are written
(a few hundred statements; other writers wait, none fails — SQLite's busy timeout, PostgreSQL's
row lock). A reviewer's concurrent action on an item wins: that item is counted in
``conflicts`` and left as the reviewer wrote it.

**Levels** (docs/adr/013-levels-as-operating-points.md): each target's operating points,
measured on held-out rows when the model was trained (`risk.levels.levels_at`) — red means
"at least 80 % of such warnings came true there". Models saved before operating points, or a
run given explicit ratio ``thresholds``, use the ratio to the base rate (`risk_level`).

**Base rate** of a target (the denominator of the ratio rule), first found of: the
``base_rates`` argument; ``manifest['base_rates'][target]`` or
``manifest['targets'][target]['base_rate']``; else the mean predicted probability over every
grid of the city at this issue time (``source = 'city_mean'``) — so a level then says "how
many times the city's average grid today". A city mean of 0 (every probability 0) gives base
rate 1 and every grid blue.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from features.area import source_columns as area_sources
from features.base import FeatureSpec
from features.build import build_features
from features.exposure import WINDOWS_DAYS as EXPOSURE_WINDOWS_DAYS
from features.partition import build_partitioned
from models.persist import load_forecaster
from models.predict_explain import predict_and_explain, predict_and_explain_partitioned
from models.training import label_sources_of
from risk.contract import ANY_TARGET, DEFAULT_TZ, HORIZON_HOURS
from risk.drift import RunDrift
from risk.errors import ConfigError, ContractError
from risk.exposure import check_visits
from risk.health import Breach, HealthConfig, load_health_config
from risk.issue_guard import check_issue_time, parse_issue_time
from risk.labels import LabelTable, load_labels
from risk.levels import LEVELS, levels_at, risk_level, validate_thresholds, warning_mask
from risk.patrol import hour_profiles
from risk.review import StaleVersion
from serve import run_health
from serve.db import transaction
from serve.repo import activity, audit, exposure, reviews, runs
from serve.repo import grids as grid_repo
from serve.repo.reviews import DuplicateItem

SCORING_ACTOR = "system:scoring"
VISIT_DAYS = max(EXPOSURE_WINDOWS_DAYS)  # what the patrol exposure feature reads


@dataclass(frozen=True)
class LoadedModel:
    """A fitted `MultiTargetForecaster`, its manifest, and the version recorded with runs."""

    model: Any
    manifest: dict[str, Any]
    version: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class ScoredCity:
    """Everything computed before storing: one forecast row per (grid, target)."""

    issue_time: pd.Timestamp
    forecasts: pd.DataFrame  # grid_id, target, prob, expected_count, level, reasons, warn
    base_rates: dict[str, float]
    base_rate_sources: dict[str, str]
    max_additivity_error: float
    timings: dict[str, float]
    drift: RunDrift | None = None  # against the model's training window (None: no reference)


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did (``risk score`` prints it; the scheduler logs it)."""

    run_id: str
    issue_time: datetime
    window_end: datetime
    model_version: str
    data_fingerprint: str
    grids: int
    targets: tuple[str, ...]
    forecasts: int
    warnings: int
    items_created: int
    items_rescored: int
    items_unchanged: int  # warnings whose item had left pending (decided, escalated, expired)
    conflicts: int  # items a reviewer changed while the run was writing (theirs kept)
    max_additivity_error: float
    base_rates: dict[str, float]
    base_rate_sources: dict[str, str]
    levels: dict[str, dict[str, int]]  # target -> level -> grids
    timings_s: dict[str, float] = field(default_factory=dict)
    health_status: str = "unknown"  # ok / warn / alert / unknown (serve.run_health)
    health_breaches: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["issue_time"] = self.issue_time.isoformat()
        out["window_end"] = self.window_end.isoformat()
        out["targets"] = list(self.targets)
        return out


# ----------------------------------------------------------------------------- the model


def _manifest_version(folder: Path) -> str:
    digest = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    return f"local-{digest[:12]}"


def check_categories(targets: Sequence[str], events: pd.DataFrame, *, force: bool = False) -> None:
    """`ContractError` when the model forecasts categories and the events hold none of them:
    a model of another city or another category scheme would forecast every category from no
    history at all. `force` scores anyway."""
    forecast = [t for t in targets if t != ANY_TARGET]
    held = set(events["category"].astype(str)) if len(events) else set()
    if force or not forecast or held & set(forecast):
        return
    shown = ", ".join(sorted(held)[:8]) + (", ..." if len(held) > 8 else "") or "no event"
    raise ContractError(
        f"the model forecasts {', '.join(forecast)}, and the events hold none of these "
        f"categories ({shown}): it was trained on another city or category scheme",
        field="category",
        fix="score with a model trained on these events (risk train), or pass --force",
    )


def check_time_settings(
    manifest: Mapping[str, Any], tz: str, calendar: str, *, force: bool = False
) -> None:
    """`ContractError` when scoring would build the time features in another city time or
    holiday calendar than the model was trained with (`tz`, `calendar` in its manifest): hour
    of day, weekday and holidays would then mean something else than the trees learned.
    A manifest that records neither (a model saved before they were) is not checked; `force`
    scores anyway."""
    if force:
        return
    for key, given, option in (("tz", tz, "--tz"), ("calendar", calendar, "--calendar")):
        trained = manifest.get(key)
        if trained is not None and str(trained) != str(given):
            raise ContractError(
                f"the model was trained with {key} {trained}, and this run scores with "
                f"{key} {given}: its time features would not mean what the model learned",
                field=key,
                value=given,
                fix=f"score with {option} {trained} (as in training), retrain with "
                f"{option} {given}, or pass --force",
            )


def model_targets(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """``targets_trained`` of the manifest, else the keys of its ``targets``."""
    trained = manifest.get("targets_trained")
    return tuple(trained) if trained else tuple(manifest["targets"])


def load_model(
    *,
    model_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    model_version: str | None = None,
    name: str | None = None,
) -> LoadedModel:
    """The model to score with: the folder ``model_dir`` (version ``model_version``, default
    ``local-<sha256 of its manifest, 12 hex>``), or the registry's ``champion`` in the MLflow
    store of ``data_dir`` (version = the registry's version number)."""
    if (model_dir is None) == (data_dir is None):
        raise ConfigError(
            "give exactly one of model_dir (a saved model folder) or data_dir (load the "
            "registry's champion)"
        )
    if model_dir is not None:
        folder = Path(model_dir)
        model, manifest = load_forecaster(folder)
        version = model_version or _manifest_version(folder)
        return LoadedModel(model, manifest, version, model_targets(manifest))
    from models.registry import DEFAULT_NAME, load_champion  # imports MLflow: only when used

    with tempfile.TemporaryDirectory() as tmp:
        path = load_champion(Path(tmp), data_dir=Path(data_dir), name=name or DEFAULT_NAME)
        # load_champion downloads into <dest>/v<version>/…: the folder names the version.
        version = Path(path).relative_to(tmp).parts[0].removeprefix("v")
        model, manifest = load_forecaster(path)  # boosters are read into memory
    return LoadedModel(model, manifest, model_version or version, model_targets(manifest))


# ----------------------------------------------------------------------------- pure-ish scoring


def issue_timestamp(at: Any, tz: str) -> pd.Timestamp:
    """``at`` as a tz-aware Timestamp (naive values are city time ``tz``); `ConfigError` in
    words for no time or one out of range (`risk.issue_guard.parse_issue_time`)."""
    return parse_issue_time(at, tz)


def resolve_base_rates(
    probs: Mapping[str, np.ndarray],
    manifest: Mapping[str, Any],
    given: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """(base rate, source) per target; the order of sources is in the module docstring."""
    rates: dict[str, float] = {}
    sources: dict[str, str] = {}
    from_manifest = dict(manifest.get("base_rates") or {})
    for target, p in probs.items():
        per_target = (manifest.get("targets") or {}).get(target) or {}
        if given and target in given:
            rates[target], sources[target] = float(given[target]), "given"
        elif target in from_manifest:
            rates[target], sources[target] = float(from_manifest[target]), "manifest"
        elif isinstance(per_target, Mapping) and per_target.get("base_rate") is not None:
            rates[target], sources[target] = float(per_target["base_rate"]), "manifest"
        else:
            mean = float(np.mean(p)) if len(p) else 0.0
            rates[target], sources[target] = (mean if mean > 0 else 1.0), "city_mean"
        if not 0 < rates[target] <= 1:
            raise ConfigError(
                f"base rate of target {target!r} is {rates[target]!r} ({sources[target]}); "
                "fix: give a share of grid-windows with an event, in (0, 1]"
            )
    return rates, sources


def score_city(
    loaded: LoadedModel,
    grids: pd.DataFrame,
    events: pd.DataFrame,
    at: Any,
    *,
    tz: str = DEFAULT_TZ,
    calendar: str = "CN",
    base_rates: Mapping[str, float] | None = None,
    thresholds: Mapping[str, float] | None = None,
    min_level: str | None = "orange",
    top_percent: float | None = None,
    seed: int = 0,
    labels: LabelTable | None = None,
    client: Any = None,
    visits: pd.DataFrame | None = None,
) -> ScoredCity:
    """Features, predictions, reasons, levels and the warning flag of every (grid, target)
    at ``at``. Raises `AdditivityError` when an explanation does not add up to its score.
    ``labels``: the label table of the reasons' words (default the packaged one).
    ``client``: a Dask client (`risk.cluster`): features, predictions and reasons are then
    computed per partition on its workers — the same numbers; levels and warnings here.
    ``visits``: the patrol visits (`risk.exposure.check_visits`) a model trained with the
    exposure switch reads (`features.exposure`); `score` gives it the recorded ones."""
    if thresholds is not None:
        validate_thresholds(thresholds)
    if min_level is None and top_percent is None:
        raise ConfigError("the warning rule needs min_level, top_percent or both")
    if min_level is not None and min_level not in LEVELS:
        raise ConfigError(f"unknown min_level {min_level!r}; accepted: {', '.join(LEVELS)}")
    issue = issue_timestamp(at, tz)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    horizon = int(loaded.manifest.get("horizon_hours", HORIZON_HOURS))
    spec = FeatureSpec(
        calendar=calendar,
        tz=tz,
        targets=loaded.targets,
        horizon_hours=horizon,
        label_exclude_sources=label_sources_of(loaded.manifest),  # as the model learned
        # patrol visits as a feature only for a model trained with that switch (`visits`)
        patrol_exposure=bool(loaded.manifest.get("patrol_exposure_feature")),
        patrol_visits=None if visits is None else check_visits(visits, tz),
    )
    build = build_features if client is None else functools.partial(build_partitioned, client)
    built = build(grids, events, [issue], spec)
    # the classic methods' components, with the triggers the model was trained with
    frame = loaded.model.add_classics(built.frame, events, grids.reset_index(drop=True))
    stack = getattr(loaded.model, "stack_", None)
    info = built.info + (stack.info() if stack is not None else [])
    missing = [n for n in loaded.manifest["feature_names"] if n not in frame.columns]
    if missing:
        absent = [c for c in area_sources(missing[0]) if c not in grids.columns]
        if absent:
            raise ContractError(
                f"the grids lack column {absent[0]!r}, from which the model's feature "
                f"{missing[0]!r} is made (it was in the grids the model was trained on)",
                field=absent[0],
                fix=f"give the grids file a {absent[0]!r} column (empty cells where unknown), "
                "or re-train the model on these grids",
            )
        raise ContractError(
            "the model needs a feature the scoring run did not build",
            field=missing[0],
            fix="score with the feature families the model was trained with, or re-train it",
        )
    timings["features"] = time.perf_counter() - t0

    grid_ids = frame["grid_id"].astype(str).to_numpy(dtype=object)
    n = len(frame)
    parts: list[pd.DataFrame] = []
    t0 = time.perf_counter()
    numeric = {"model": loaded.model, "info": info, "targets": loaded.targets, "labels": labels}
    if client is None:
        explained = predict_and_explain(frame, **numeric)
    else:  # per partition on the cluster, the same numbers (models.predict_explain)
        explained = predict_and_explain_partitioned(client, frame, grids, **numeric)
        timings["partitions_wall"] = time.perf_counter() - t0
    probs, counts, reasons = explained.probs, explained.counts, explained.reasons
    max_error = explained.max_additivity_error
    timings.update(explained.seconds)

    rates, sources = resolve_base_rates(probs, loaded.manifest, base_rates)
    for target in loaded.targets:
        points = getattr(loaded.model.forecasters_[target], "levels_", None)
        if points and thresholds is None:  # operating points measured at training time
            level = levels_at(probs[target], points)
        else:  # a model saved before them, or ratio thresholds asked for explicitly
            level = risk_level(probs[target], rates[target], validate_thresholds(thresholds))
        warn = warning_mask(
            level, probs[target], min_level=min_level, top_percent=top_percent, seed=seed
        )
        parts.append(
            pd.DataFrame(
                {
                    "grid_id": grid_ids,
                    "target": np.repeat(target, n).astype(object),
                    "prob": probs[target],
                    "expected_count": counts[target],
                    "level": np.asarray(level, dtype=object),
                    "reasons": pd.Series(reasons[target], dtype=object),
                    "warn": warn,
                }
            )
        )
    forecasts = pd.concat(parts, ignore_index=True)
    t0 = time.perf_counter()
    drift = run_health.measure(loaded.manifest, frame, probs)
    timings["drift"] = time.perf_counter() - t0
    return ScoredCity(issue, forecasts, rates, sources, max_error, timings, drift)


def frame_fingerprint(grids: pd.DataFrame, events: pd.DataFrame, at: pd.Timestamp) -> str:
    """sha256 over the grids and events frames (every column but geometry, by name) and the
    issue time: for runs scored from frames rather than files (``frames:<hex>``)."""
    h = hashlib.sha256()
    for frame in (grids, events):
        h.update(f"{len(frame)}\n".encode())
        for name in sorted(c for c in frame.columns if c != "geometry"):
            column = frame[name]
            if column.dtype == object or isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype(str)
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
    h.update(issue_timestamp(at, "UTC").isoformat().encode())
    return "frames:" + h.hexdigest()


# ----------------------------------------------------------------------------- storing


def _new_run_id(issue: pd.Timestamp) -> str:
    return f"{issue.tz_convert('UTC'):%Y%m%dT%H%MZ}-{uuid.uuid4().hex[:8]}"


def _write_queue(
    session: Session,
    warnings: pd.DataFrame,
    *,
    window: tuple[datetime, datetime],
    model_version: str,
    run_id: str,
    now: datetime,
) -> dict[str, int]:
    """One review item per warning row; returns created / rescored / unchanged / conflicts."""
    counts = {"created": 0, "rescored": 0, "unchanged": 0, "conflicts": 0}
    columns = ["grid_id", "target", "prob", "expected_count", "level", "reasons"]
    for grid_id, target, prob, expected, level, why in zip(
        *(warnings[c].tolist() for c in columns), strict=True
    ):  # one database write per warning: the repository works item by item
        try:
            _, event = reviews.apply_scoring(
                session,
                grid_id=grid_id,
                target=target,
                window_start=window[0],
                window_end=window[1],
                prob=prob,
                level=level,
                reasons=why,
                model_version=model_version,
                at=now,
                expected_count=expected if np.isfinite(expected) else None,
                run_id=run_id,
            )
        except (StaleVersion, DuplicateItem):
            counts["conflicts"] += 1
            continue
        if event is None:
            counts["unchanged"] += 1
            continue
        counts["created" if event.action == "create" else "rescored"] += 1
        audit.append_review_event(session, dataclasses.replace(event, actor=SCORING_ACTOR))
    return counts


def _store_activity(
    session: Session,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    warnings: pd.DataFrame,
    issue: pd.Timestamp,
    run_id: str,
    label_exclude_sources: Sequence[str] = (),
) -> None:
    """Event counts (with the count of the events the model's labels count) and the warned
    (grid, target) hour profiles, from events known at issue."""
    known = activity.known_events(events, issue)
    activity.replace_event_counts(session, known, issue, label_exclude_sources)
    if not len(warnings):
        return
    local = known.assign(occurred_at=known["occurred_at"].dt.tz_convert(issue.tz))
    targets = sorted(set(warnings["target"].astype(str)))
    profiles = hour_profiles(local, grids, targets)
    pos = pd.Series(np.arange(len(grids)), index=grids["grid_id"].astype(str))
    wanted: dict[tuple[str, str], np.ndarray] = {}
    for grid_id, target in zip(
        warnings["grid_id"].astype(str), warnings["target"].astype(str), strict=True
    ):
        if grid_id in pos.index:
            wanted[(grid_id, target)] = profiles[target][pos[grid_id]]
    activity.replace_hour_profiles(session, wanted, run_id)


def store_scored(
    factory: sessionmaker[Session],
    loaded: LoadedModel,
    scored: ScoredCity,
    grids: pd.DataFrame,
    *,
    fingerprint: str,
    now: datetime,
    events: pd.DataFrame | None = None,
    health: HealthConfig | None = None,
) -> tuple[runs.RunInfo, dict[str, int], dict[str, float], run_health.HealthOutcome]:
    """Store the run, the grids and the warnings in one transaction (module docstring).

    With ``events``, the same transaction replaces the stored event counts and the warned
    grids' hour profiles with those of the events known at the issue time
    (`serve.repo.activity`). The run's health is judged against ``health`` (default
    `risk/health.toml`) and stored last."""
    health = load_health_config() if health is None else health
    issue = scored.issue_time
    horizon = int(loaded.manifest.get("horizon_hours", HORIZON_HOURS))
    window = (
        issue.tz_convert("UTC").to_pydatetime(),
        (issue + pd.Timedelta(hours=horizon)).tz_convert("UTC").to_pydatetime(),
    )
    run = runs.RunInfo(
        run_id=_new_run_id(issue),
        issue_time=window[0],
        model_version=loaded.version,
        data_fingerprint=fingerprint,
        created_at=now,
    )
    timings: dict[str, float] = {}
    with transaction(factory) as session:
        t0 = time.perf_counter()
        grid_repo.upsert_grids(session, grids)
        stored = runs.store_run(session, run, scored.forecasts)
        t1 = time.perf_counter()
        warnings = scored.forecasts[scored.forecasts["warn"].to_numpy(dtype=bool)]
        counts = _write_queue(
            session,
            warnings,
            window=window,
            model_version=loaded.version,
            run_id=run.run_id,
            now=now,
        )
        audit.append(
            session,
            actor=SCORING_ACTOR,
            action="score",
            object_type="forecast_run",
            object_id=run.run_id,
            after={
                "issue_time": window[0],
                "window_end": window[1],
                "n_grids": stored.n_grids,
                "targets": list(loaded.targets),
                "data_fingerprint": fingerprint,
                "base_rates": scored.base_rates,
                "warnings": len(warnings),
                **{f"items_{k}": v for k, v in counts.items()},
            },
            model_version=loaded.version,
            at=now,
        )
        timings["store_run"] = t1 - t0
        timings["queue"] = time.perf_counter() - t1
        if events is not None:
            t2 = time.perf_counter()
            _store_activity(
                session,
                events,
                grids,
                warnings,
                issue,
                run.run_id,
                label_sources_of(loaded.manifest),
            )
            timings["activity"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        outcome = run_health.record_health(
            session,
            run=stored,
            drift=scored.drift,
            events=events,
            config=health,
            now=now,
            actor=SCORING_ACTOR,
            horizon_hours=horizon,
        )
        timings["health"] = time.perf_counter() - t3
    return stored, counts, timings, outcome


def score(
    at: Any,
    grids: pd.DataFrame,
    events: pd.DataFrame,
    *,
    factory: sessionmaker[Session],
    model_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    model_version: str | None = None,
    tz: str = DEFAULT_TZ,
    calendar: str = "CN",
    base_rates: Mapping[str, float] | None = None,
    thresholds: Mapping[str, float] | None = None,
    min_level: str | None = "orange",
    top_percent: float | None = None,
    data_paths: Sequence[str | Path] | None = None,
    now: datetime | None = None,
    model: LoadedModel | None = None,
    force: bool = False,
    labels_file: str | Path | None = None,
    health_file: str | Path | None = None,
    client: Any = None,
) -> ScoreSummary:
    """Score every grid of the validated ``grids``/``events`` at issue time ``at`` and store
    the run and its warnings (module docstring).

    The model: ``model`` already loaded, else the folder ``model_dir``, else the registry's
    champion of ``data_dir``. Warning rule: level ≥ ``min_level`` and/or the top
    ``top_percent`` % by probability, per target. ``data_paths`` (the grids and events files)
    give the same data fingerprint as training (`models.tracking.data_fingerprint` from the
    first event to ``at``); without them the frames are hashed (`frame_fingerprint`).
    ``now`` (aware; default the clock) stamps the items and the audit entries.
    An issue time after ``now``, before the first event or more than the horizon after the
    newest is refused (`risk.issue_guard.check_issue_time`) unless ``force``.
    ``labels_file``: the city's label table for the reasons' words (`risk.labels`).
    ``health_file``: the model health thresholds (default `risk/health.toml`).
    ``client``: a Dask client (`risk.cluster`): the numeric work runs on its workers
    (`score_city`); the run is stored from here, in one transaction, as without it.
    A model trained with the patrol exposure switch reads the visits recorded in
    ``patrol_visits`` over the `VISIT_DAYS` days before ``at`` (`serve.repo.exposure`).
    """
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None or now.utcoffset() is None:
        raise ConfigError(f"now {now!r} must be timezone-aware")
    # Before the model is loaded, so a refused run costs nothing; DESIGN's 72 h horizon.
    check_issue_time(issue_timestamp(at, tz), events, now=pd.Timestamp(now), force=force)
    health = load_health_config(health_file)  # a bad file stops the run before any work
    t_start = time.perf_counter()
    loaded = model or load_model(
        model_dir=model_dir, data_dir=data_dir, model_version=model_version
    )
    t_loaded = time.perf_counter()
    check_categories(loaded.targets, events, force=force)
    check_time_settings(loaded.manifest, tz, calendar, force=force)
    horizon = int(loaded.manifest.get("horizon_hours", HORIZON_HOURS))
    visits = None
    if loaded.manifest.get("patrol_exposure_feature"):  # the recorded visits known at `at`
        issue = issue_timestamp(at, tz)
        with factory() as session:
            visits = exposure.visit_frame(
                session,
                (issue - pd.Timedelta(days=VISIT_DAYS)).to_pydatetime(),
                (issue + pd.Timedelta(microseconds=1)).to_pydatetime(),
            )
    scored = score_city(
        loaded,
        grids,
        events,
        at,
        tz=tz,
        calendar=calendar,
        base_rates=base_rates,
        thresholds=thresholds,
        min_level=min_level,
        top_percent=top_percent,
        labels=load_labels(labels_file) if labels_file is not None else None,
        client=client,
        visits=visits,
    )
    t0 = time.perf_counter()
    if data_paths:
        from models.tracking import data_fingerprint  # imports MLflow: only when used

        start = events["occurred_at"].min() if len(events) else scored.issue_time
        fingerprint = data_fingerprint([Path(p) for p in data_paths], start, scored.issue_time)
    else:
        fingerprint = frame_fingerprint(grids, events, scored.issue_time)
    t_fp = time.perf_counter() - t0
    stored, counts, store_timings, outcome = store_scored(
        factory,
        loaded,
        scored,
        grids,
        fingerprint=fingerprint,
        now=now,
        events=events,
        health=health,
    )
    f = scored.forecasts
    levels = {
        t: {lv: int(((f["target"] == t) & (f["level"] == lv)).sum()) for lv in LEVELS}
        for t in loaded.targets
    }
    timings = {
        "load": t_loaded - t_start,
        **scored.timings,
        "fingerprint": t_fp,
        **store_timings,
        "total": time.perf_counter() - t_start,
    }
    return ScoreSummary(
        run_id=stored.run_id,
        issue_time=stored.issue_time,
        window_end=stored.issue_time + pd.Timedelta(hours=horizon).to_pytimedelta(),
        model_version=loaded.version,
        data_fingerprint=fingerprint,
        grids=stored.n_grids,
        targets=loaded.targets,
        forecasts=len(f),
        warnings=int(f["warn"].sum()),
        items_created=counts["created"],
        items_rescored=counts["rescored"],
        items_unchanged=counts["unchanged"],
        conflicts=counts["conflicts"],
        max_additivity_error=scored.max_additivity_error,
        base_rates=scored.base_rates,
        base_rate_sources=scored.base_rate_sources,
        levels=levels,
        timings_s={k: round(v, 4) for k, v in timings.items()},
        health_status=outcome.status,
        health_breaches=outcome.breaches,
    )


def summary_lines(summary: ScoreSummary, tz: str = DEFAULT_TZ) -> list[str]:
    """What ``risk score`` prints: run, model, counts per level, queue changes, timings."""
    issue = pd.Timestamp(summary.issue_time).tz_convert(tz)
    end = pd.Timestamp(summary.window_end).tz_convert(tz)
    lines = [
        f"forecast run {summary.run_id}: {summary.grids:,} grids × {len(summary.targets)} "
        f"targets = {summary.forecasts:,} forecasts, window {issue:%Y-%m-%d %H:%M} .. "
        f"{end:%Y-%m-%d %H:%M} ({tz})",
        f"model version {summary.model_version}; data fingerprint {summary.data_fingerprint[:20]}…",
        f"explanations add up: max |SHAP sum − raw score| = {summary.max_additivity_error:.1e}",
    ]
    for target in summary.targets:
        counts = summary.levels[target]
        lines.append(
            f"  {target}: base rate {summary.base_rates[target]:.3f} "
            f"({summary.base_rate_sources[target]}); "
            + ", ".join(f"{lv} {counts[lv]}" for lv in reversed(LEVELS))
        )
    lines.append(
        f"review queue: {summary.warnings} warnings → {summary.items_created} new items, "
        f"{summary.items_rescored} re-scored, {summary.items_unchanged} already decided"
        + (f", {summary.conflicts} changed by a reviewer meanwhile" if summary.conflicts else "")
    )
    health = f"model health: {summary.health_status}"
    if summary.health_breaches:
        health += (
            " — "
            + "; ".join(Breach(**b).text() for b in summary.health_breaches[:5])
            + (" …" if len(summary.health_breaches) > 5 else "")
        )
    lines.append(health)
    t = summary.timings_s
    lines.append(
        "time: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in t.items() if k != "total")
        + f"; total {t.get('total', 0.0):.2f}s"
    )
    return lines


__all__ = [
    "SCORING_ACTOR",
    "LoadedModel",
    "ScoreSummary",
    "ScoredCity",
    "frame_fingerprint",
    "issue_timestamp",
    "load_model",
    "model_targets",
    "resolve_base_rates",
    "score",
    "score_city",
    "store_scored",
    "summary_lines",
]
