"""Automatic configuration for a new city: a small declared search, on a validation window
that ends before the period it is for (docs/adr/010-forecast-core-v2.md).

    result = search_config(frame, time_ns, ..., valid_times, until=start)
    result.override   # the chosen entry of SEARCH_SPACE, merged over models/lightgbm.toml

Each candidate is fitted as a backtest block would be, at the first validation issue time `s`
(training rows whose windows closed by `s`, classic stack fitted on the events known at `s`)
but on every third of its training issue times (a third of the cost; the candidates are
compared with each other, all thinned alike, with the settings that count rows divided by
three so that thinning favours no candidate's trees, `_thinned`), and scored on the validation
issue times, whose labels count only the events known at `until` — the moment the choice is
made. Nothing of the evaluation (or deployment) period is looked at. The score of a candidate is the mean over targets of its `pr_auc` and `pei@5`,
each divided by the first candidate's (so rare and common targets weigh alike). The packaged
default is the first candidate, and the best-scoring other one replaces it only when it scores
`SEARCH_MARGIN` higher *and* leads it day by day with a week-block bootstrap interval
(`SEARCH_CI`) above zero: a few weeks of a small city (or of five top districts) can favour a
candidate by chance, and then the default stays
(docs/adr/027-search-keeps-the-default-unless-sure.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.base import LABEL_EXCLUDE_SOURCES
from features.binning import EventArrays
from models.config import load_config
from models.fitting import fit_prepared, training_rows, with_classics
from models.stacking import add_components, fit_seppexps
from models.threads import one_blas_thread
from risk.errors import ConfigError
from risk.metrics import paired_bootstrap_difference, pei_at, per_issue_time, pr_auc

NS_PER_DAY = 86_400 * 10**9
SEARCH_STRIDE = 3  # candidates train on every SEARCH_STRIDE-th of the issue times they would use
SEARCH_MARGIN = 0.005  # a candidate must beat the first by this much (relative score) to win
SEARCH_CI = 0.9  # ... and lead it day by day with this week-block bootstrap interval above 0
SEARCH_METRICS = ("pr_auc", "pei@5")

# name -> override of models/lightgbm.toml. Small on purpose: every candidate costs a fit.
SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "default": {},
    "binary": {"lightgbm": {"objective": "binary"}},
    "larger_trees": {"lightgbm": {"num_leaves": 31, "min_data_in_leaf": 200, "learning_rate": 0.1}},
    "wide_blend": {
        "stacking": {
            "blend": [
                *("eb", "pooled", "dpooled", "self", "nbr", "cross"),
                *("recent", "kde", "prospective"),
            ]
        }
    },
}


@dataclass
class SearchResult:
    """The chosen candidate, its override, and what every candidate scored."""

    chosen: str
    override: dict[str, Any]
    window: tuple[str, str]
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "override": self.override,
            "window": list(self.window),
            "scores": self.scores,
            "seconds": round(self.seconds, 1),
            "candidates": list(self.scores),
        }


def _daily_index(
    daily: dict[str, dict[str, dict[str, np.ndarray]]], reference: str
) -> dict[str, np.ndarray]:
    """Per candidate, one number per validation day: the mean over targets and metrics of the
    day's metric divided by the reference candidate's mean over the days (the day-by-day
    counterpart of the score; a metric undefined on a day is left out of that day, and a day
    with none is NaN)."""

    def mean(values: np.ndarray) -> float:
        seen = values[np.isfinite(values)]
        return float(seen.mean()) if seen.size else math.nan

    scale = {t: {m: mean(v[m]) for m in SEARCH_METRICS} for t, v in daily[reference].items()}
    out = {}
    for name, per_target in daily.items():
        n_days = len(next(iter(per_target.values()))[SEARCH_METRICS[0]])
        total, seen = np.zeros(n_days), np.zeros(n_days)
        for target, values in per_target.items():
            for metric in SEARCH_METRICS:
                ref = scale.get(target, {}).get(metric, math.nan)
                if not (np.isfinite(ref) and ref > 0):
                    continue
                ratio = values[metric] / ref
                ok = np.isfinite(ratio)
                total += np.where(ok, ratio, 0.0)
                seen += ok
        out[name] = np.where(seen > 0, total / np.maximum(seen, 1), np.nan)
    return out


# LightGBM settings that count rows or sum over them (a leaf's rows, its hessian sum, the
# penalties that leaf values are weighed against): on a thinned fit they are scaled down alike,
# so a candidate's trees are shaped as on every row (ADR 027).
PER_ROW_SETTINGS = ("min_data_in_leaf", "min_sum_hessian_in_leaf", "lambda_l1", "lambda_l2")


def _thinned(config: dict[str, Any], stride: int) -> dict[str, Any]:
    """`config` fitted on every `stride`-th of its training issue times: a `stride`-th of the
    cost, with the per-row settings (`PER_ROW_SETTINGS`) divided by `stride` so that the
    thinning does not favour one candidate's trees over another's."""
    loaded = load_config(config)
    lgb = loaded.section("lightgbm")
    scaled = {k: lgb[k] / stride for k in PER_ROW_SETTINGS if k in lgb}
    if "min_data_in_leaf" in scaled:
        scaled["min_data_in_leaf"] = max(1, round(scaled["min_data_in_leaf"]))
    every = int(loaded.section("training")["issue_time_stride"])
    return _merged(config, {"training": {"issue_time_stride": stride * every}, "lightgbm": scaled})


def _merged(base: dict[str, Any] | None, override: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: dict(v) if isinstance(v, dict) else v for k, v in (base or {}).items()
    }
    for section, values in override.items():
        out[section] = {**out.get(section, {}), **values}
    return out


@one_blas_thread
def search_config(
    frame: pd.DataFrame,
    time_ns: np.ndarray,
    known: EventArrays,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    targets: Sequence[str],
    valid_times: pd.DatetimeIndex,
    until: pd.Timestamp,
    *,
    feature_names: list[str],
    start: pd.Timestamp | None = None,
    max_history_days: int = 365,
    candidates: dict[str, dict[str, Any]] | None = None,
    base: dict[str, Any] | None = None,
    label_exclude_sources: Sequence[str] = LABEL_EXCLUDE_SOURCES,
) -> SearchResult:
    """Fit every candidate at `valid_times[0]` and score it on `valid_times` (see the module
    docstring). `frame` is the feature frame over `time_ns` (issue-time major over `grids`);
    `known` the events as arrays; `base` a dict override every candidate starts from; the
    training and validation labels leave out `label_exclude_sources` (`features.labels`)."""
    t0 = time.perf_counter()
    candidates = SEARCH_SPACE if candidates is None else candidates
    if not candidates:
        raise ConfigError("the configuration search has no candidate")
    n_grids = len(grids)
    valid_ns = valid_times.as_unit("ns").asi8
    first, until_ns = int(valid_ns[0]), int(pd.Timestamp(until).value)
    excluded = tuple(label_exclude_sources)
    first_ns = first - max_history_days * NS_PER_DAY
    rows = training_rows(
        frame, time_ns, n_grids, known, targets, first, first_ns, exclude_sources=excluded
    )
    # validation rows: the window's issue times, labels from the events known at `until`
    scored = training_rows(
        frame, time_ns, n_grids, known, targets, until_ns, first, exclude_sources=excluded
    )
    scored = scored[scored["issue_time"].isin(valid_times)]
    n_t = len(scored) // n_grids
    if n_t == 0:
        raise ConfigError(
            f"no validation issue time between {valid_times[0]} and {until} has a closed window"
        )
    counts = {t: scored[f"count_{t}"].to_numpy().reshape(n_t, n_grids) for t in targets}
    # every candidate's classic stack is the same (fitted at the same moment on the same
    # events): its components are computed once, on the training and the validation rows
    fits = fit_seppexps(events, grids, valid_times[0], list(targets), start)
    rows, stack = with_classics(
        rows, events, grids, valid_times[0], targets, start=start, fits=fits
    )
    scored_times = pd.DatetimeIndex(scored["issue_time"].unique())
    scored = add_components(scored, stack.transform(events, grids, scored_times, start))
    raw: dict[str, dict[str, dict[str, float]]] = {}
    daily: dict[str, dict[str, dict[str, np.ndarray]]] = {}  # name -> target -> metric -> days
    for name, override in candidates.items():
        config = _thinned(_merged(base, override), SEARCH_STRIDE)
        model = fit_prepared(rows, targets, stack, config=config, feature_names=feature_names)
        raw[name], daily[name] = {}, {}
        for target, forecaster in model.forecasters_.items():
            # the ranking score: p ties at 1 - EPS for the busiest grids
            score = forecaster.predict_score(scored).reshape(n_t, n_grids)
            raw[name][target] = {
                "pr_auc": pr_auc(score, counts[target]),
                "pei@5": pei_at(score, counts[target], 5),
            }
            days = per_issue_time(score, counts[target], ks=(5,))
            daily[name][target] = {m: days[m] for m in SEARCH_METRICS}
    reference = raw[next(iter(raw))]
    scores: dict[str, dict[str, Any]] = {}
    for name, per_target in raw.items():
        ratios = [
            per_target[t][m] / reference[t][m]
            for t in per_target
            if t in reference  # thinner training rows may leave a target without a model
            for m in SEARCH_METRICS
            if reference[t][m] and np.isfinite(per_target[t][m])
        ]
        scores[name] = {"score": float(np.mean(ratios)) if ratios else float("nan"), **per_target}
    ordered = list(scores)
    first = ordered[0]
    index = _daily_index(daily, first)
    for name in ordered[1:]:
        scores[name]["daily_lead"] = paired_bootstrap_difference(
            index[name], index[first], ci=SEARCH_CI
        )
    best = max(
        ordered,
        key=lambda n: (
            scores[n]["score"] if np.isfinite(scores[n]["score"]) else -np.inf,
            -ordered.index(n),
        ),
    )
    lead = scores[best].get("daily_lead", {})
    sure = bool(lead.get("low", math.nan) > 0)  # NaN (no day to compare) is not sure
    won = scores[best]["score"] > scores[first]["score"] + SEARCH_MARGIN
    chosen = best if won and sure else first
    return SearchResult(
        chosen=chosen,
        override=_merged(base, candidates[chosen]),
        window=(valid_times[0].isoformat(), valid_times[-1].isoformat()),
        scores=scores,
        seconds=time.perf_counter() - t0,
    )
