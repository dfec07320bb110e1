"""The feedback-loop simulation (issue 17, item 3): daily forecasts send patrols, patrols find
events, the forecaster retrains weekly on what was recorded.

    world = prepare_world(city, start="2024-10-01", weeks=12)
    result = run_arm(world, ARMS["safeguarded"], FeedbackSetup())
    result.weeks   # per week: persistence of red grids, Gini of warnings, rank correlation

On a synthetic city (`risk.synth`) the truth is known: the generator's expected count of every
grid. Each day `t` of the simulated weeks (08:00):

1. the week's model (refitted every 7 days on the rows whose windows closed by `t`, the last
   `history_days` days, as a backtest block is) forecasts `any` for every grid;
2. the top `warn_percent` % of grids are warned and approved, the top `red_percent` % red
   (`risk.feedback.warning_tiers`); a patrol visits every warned grid that day;
3. a patrol finds Poisson(`uplift` × the grid's true expected count that day) events per
   category that would otherwise go unreported, recorded with `source = patrol`
   (`risk.feedback.discover_events`); they enter the record the next forecasts read.

The city's own events (about 11 % of them reported by routine patrols, `SynthParams.source_mix`)
are the same in every arm; only what the forecast's patrols add differs. An arm says whether
patrols are sent, which sources the labels leave out, and which sources the model never reads
(features and classic components; `model_exclude_sources`). The true risk the forecast is
compared with is the oracle's expected count of `any` in the 72-hour window, from the city's own
events — the found events are not part of the process, they are what gets recorded of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.base import LABEL_EXCLUDE_SOURCES, FeatureSpec
from features.binning import event_arrays
from features.build import build_features
from features.issue_times import daily_issue_times
from models.fitting import fit_at, training_rows
from risk.contract import ANY_TARGET, HORIZON_HOURS
from risk.errors import ConfigError
from risk.feedback import (
    PATROL_SOURCE,
    RED_PERCENT,
    WARN_PERCENT,
    discover_events,
    gini,
    persistence_share,
    spearman,
    warning_tiers,
)
from risk.synth import SynthCity, oracle_expected_counts, oracle_targets

TARGETS = (ANY_TARGET,)
NS_PER_DAY = 86_400 * 10**9
# Small and single-threaded: dozens of weekly fits must stay affordable on a shared 2-core
# machine (LightGBM's two threads wait on each other when other processes hold the cores).
SIM_CONFIG: dict[str, Any] = {
    "training": {"num_boost_round": 100},
    "lightgbm": {"num_threads": 1},
}


@dataclass(frozen=True)
class Arm:
    """One way of running the loop."""

    name: str
    patrols: bool
    label_exclude_sources: tuple[str, ...] = LABEL_EXCLUDE_SOURCES
    model_exclude_sources: tuple[str, ...] = ()  # never read by features or classic components


ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Arm("no_patrols", patrols=False),
        Arm("unguarded", patrols=True, label_exclude_sources=()),
        Arm("safeguarded", patrols=True),
        # the decision of docs/adr/019-*: should the features leave patrol events out too?
        Arm("no_patrols_features_without_patrol", False, model_exclude_sources=(PATROL_SOURCE,)),
        Arm("safeguarded_features_without_patrol", True, model_exclude_sources=(PATROL_SOURCE,)),
    )
}


@dataclass(frozen=True)
class FeedbackSetup:
    """The knobs of a run (defaults: the committed benchmark's)."""

    history_days: int = 180  # training issue days before each weekly refit
    warn_percent: float = WARN_PERCENT
    red_percent: float = RED_PERCENT
    uplift: float = 1.0  # a patrolled grid-day records (1 + uplift) × its expected events
    retrain_days: int = 7
    config: dict[str, Any] = field(default_factory=lambda: dict(SIM_CONFIG))
    seed: int = 0


@dataclass
class World:
    """What every arm shares: the city, the simulated issue times, and the truth at each."""

    city: SynthCity
    events: pd.DataFrame  # the city's own events, zone-aware
    times: pd.DatetimeIndex  # the simulated daily issue times
    true_risk: np.ndarray  # (T, G) oracle expected count of `any` in (t, t + 72 h]
    day_expected: np.ndarray  # (T, G, K) oracle expected count per category in (t, t + 24 h]
    categories: tuple[str, ...]
    history_start: pd.Timestamp
    hour: int = 8


@dataclass
class ArmResult:
    arm: Arm
    weeks: list[dict[str, Any]]
    prob: np.ndarray  # (T, G) forecasts
    warned: np.ndarray  # (T, G)
    red: np.ndarray  # (T, G)
    found: int  # events the forecast's patrols found
    seconds: float


def prepare_world(city: SynthCity, start: str | pd.Timestamp, weeks: int, hour: int = 8) -> World:
    """The simulated issue times (`weeks` × 7 days from `start`, at `hour`) and the oracle's
    truth at each. The city must cover the last window (`start` + 7·`weeks` + 3 days)."""
    tz = city.truth.tz
    events = city.events.copy()
    for column in ("occurred_at", "reported_at"):
        values = pd.to_datetime(events[column])
        events[column] = values.dt.tz_localize(tz) if values.dt.tz is None else values
    first = pd.Timestamp(start).date()
    times = daily_issue_times(first, first + pd.Timedelta(days=7 * weeks - 1), hour, tz)
    city_end = pd.Timestamp(city.truth.start) + pd.Timedelta(days=city.truth.days)
    if times[-1].tz_localize(None) + pd.Timedelta(hours=HORIZON_HOURS) > city_end:
        raise ConfigError(
            f"the city ends {city_end.date()}, before the last window of {weeks} weeks from "
            f"{first}; synthesise more days or start earlier"
        )
    names = oracle_targets(city.truth)
    true_risk = oracle_expected_counts(city.truth, events, city.grids, times, HORIZON_HOURS)
    day = oracle_expected_counts(city.truth, events, city.grids, times, 24)
    return World(
        city=city,
        events=events,
        times=times,
        true_risk=true_risk[:, :, names.index(ANY_TARGET)],
        day_expected=day[:, :, 1:],
        categories=tuple(city.truth.categories),
        history_start=events["occurred_at"].min(),
        hour=hour,
    )


def _without(events: pd.DataFrame, sources: tuple[str, ...]) -> pd.DataFrame:
    return events[~events["source"].isin(list(sources))] if sources else events


def run_arm(world: World, arm: Arm, setup: FeedbackSetup) -> ArmResult:
    """Simulate the arm over the world's issue times (module docstring)."""
    t0 = time.perf_counter()
    grids = world.city.grids.reset_index(drop=True)
    grid_ids = grids["grid_id"].to_numpy()
    n_t, n_g = len(world.times), len(grids)
    spec = FeatureSpec(
        tz=world.city.truth.tz, targets=TARGETS, label_exclude_sources=arm.label_exclude_sources
    )
    first_day = (world.times[0] - pd.Timedelta(days=setup.history_days)).date()
    before = daily_issue_times(
        first_day, (world.times[0] - pd.Timedelta(days=1)).date(), world.hour, spec.tz
    )
    base = _without(world.events, arm.model_exclude_sources)
    built = build_features(grids, base, before, spec, history_start=world.history_start)
    frames, names = [built.frame], built.feature_names
    rng = np.random.default_rng(setup.seed)
    found: list[pd.DataFrame] = []
    prob = np.zeros((n_t, n_g))
    warned = np.zeros((n_t, n_g), dtype=bool)
    red = np.zeros((n_t, n_g), dtype=bool)
    model = None
    for d, t in enumerate(world.times):
        record = pd.concat([world.events, *found], ignore_index=True) if found else world.events
        seen = _without(record, arm.model_exclude_sources)
        if d % setup.retrain_days == 0:
            frame = pd.concat(frames, ignore_index=True)
            time_ns = pd.DatetimeIndex(frame["issue_time"].unique()).as_unit("ns").asi8
            rows = training_rows(
                frame,
                time_ns,
                n_g,
                event_arrays(seen, grid_ids),
                TARGETS,
                int(t.value),
                int(t.value) - setup.history_days * NS_PER_DAY,
                exclude_sources=arm.label_exclude_sources,
            )
            model = fit_at(
                rows,
                seen,
                grids,
                t,
                TARGETS,
                config=setup.config,
                feature_names=names,
                start=world.history_start,
            )
        today = build_features(grids, seen, [t], spec, history_start=world.history_start).frame
        frames.append(today)
        ready = model.add_classics(today, seen, grids, world.history_start)
        prob[d] = model.forecasters_[ANY_TARGET].predict_proba(ready)
        warned[d], red[d] = warning_tiers(
            prob[d], setup.warn_percent, setup.red_percent, setup.seed + d
        )
        if arm.patrols:
            found.append(
                discover_events(
                    warned[d],
                    world.day_expected[d],
                    grid_ids,
                    world.categories,
                    t,
                    setup.uplift,
                    rng,
                )
            )
    weeks = weekly_measures(prob, warned, red, world.true_risk, setup.retrain_days)
    per_day = np.array([len(f) for f in found] or [0] * n_t)
    for w, week in enumerate(weeks):
        days = slice(w * setup.retrain_days, (w + 1) * setup.retrain_days)
        week["events_found"] = int(per_day[days].sum()) if arm.patrols else 0
    return ArmResult(
        arm=arm,
        weeks=weeks,
        prob=prob,
        warned=warned,
        red=red,
        found=int(per_day.sum()) if arm.patrols else 0,
        seconds=time.perf_counter() - t0,
    )


def weekly_measures(
    prob: np.ndarray,
    warned: np.ndarray,
    red: np.ndarray,
    true_risk: np.ndarray,
    days: int = 7,
) -> list[dict[str, Any]]:
    """Per block of `days` issue times: `red_persistence` (share of the grids red on some day
    of the week that were red on some day of the week before; NaN the first week),
    `warning_persistence` (the same for warned grids), `warning_gini` (Gini over grids of
    their warned days in the week), `spearman` (mean over the days of the rank correlation of
    the forecast with the true risk) and `true_top_share` (share of the warnings that went to
    the grids in the true top `warned.sum(1)` of their day)."""
    out: list[dict[str, Any]] = []
    prev_red = prev_warned = None
    for w, lo in enumerate(range(0, len(prob), days)):
        block = slice(lo, lo + days)
        red_w, warned_w = red[block].any(axis=0), warned[block].any(axis=0)
        rho = [spearman(p, r) for p, r in zip(prob[block], true_risk[block], strict=True)]
        hits = [
            np.isin(np.flatnonzero(flag), np.argsort(-truth, kind="stable")[: flag.sum()]).mean()
            for flag, truth in zip(warned[block], true_risk[block], strict=True)
            if flag.any()
        ]
        out.append(
            {
                "week": w + 1,
                "red_persistence": float("nan")
                if prev_red is None
                else persistence_share(red_w, prev_red),
                "warning_persistence": float("nan")
                if prev_warned is None
                else persistence_share(warned_w, prev_warned),
                "warning_gini": gini(warned[block].sum(axis=0)),
                "spearman": float(np.nanmean(rho)),
                "true_top_share": float(np.mean(hits)) if hits else float("nan"),
                "red_grids": int(red_w.sum()),
                "warned_grids": int(warned_w.sum()),
            }
        )
        prev_red, prev_warned = red_w, warned_w
    return out


def summary(result: ArmResult, last_weeks: int = 4) -> dict[str, float]:
    """Each weekly measure's mean over all weeks (persistence from week 2) and over the last
    `last_weeks` weeks (`<measure>_last<n>`), and the events found."""
    keys = ("red_persistence", "warning_persistence", "warning_gini", "spearman", "true_top_share")
    frame = pd.DataFrame(result.weeks)
    out: dict[str, float] = {}
    for key in keys:
        out[key] = float(frame[key].mean())  # NaN weeks (the first's persistence) skipped
        out[f"{key}_last{last_weeks}"] = float(frame[key].tail(last_weeks).mean())
    out["events_found"] = result.found
    out["seconds"] = round(result.seconds, 1)
    return out
