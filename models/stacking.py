"""The classic hotspot methods as features (stacking; docs/adr/010-forecast-core-v2.md).

At each retrain the forecaster learns what the classic methods know, then adds to it. This
module turns the events into their per-grid quantities at every issue time `t`, each an
expected count in the window `(t, t + horizon]`:

* `classic_rate_<c>` — historical rate: known events since the start of the record per day,
  times the horizon (`historical_rate`);
* `classic_eb_<c>` — the same rate shrunk towards the mean of grids of the same `grid_type`
  (empirical Bayes, gamma–Poisson, moments at `t`; see :func:`shrunk_rates`);
* `classic_pooled_<c>` — the same rate shrunk instead towards what the grid's *other*
  categories say: the category's share (per `grid_type`) of the grid's steadied rate of every
  other event (a grid busy with everything is busier with each thing; see
  :func:`pooled_rates`); for `any`, the sum of the categories' pooled rates;
* `classic_declustered_<c>` — the declustered rate: each known event weighted by the
  probability that it was a background event rather than triggered by the earlier events of
  its grid (`seppexp`'s E step, as known when the event became known; see
  :func:`background_weights`), summed, per day, times the horizon. An event's weight is
  fixed when it becomes known, so the value at `t` sums weights known at `t`. For `any`, every
  event with `any`'s trigger, as `self` and `seppexp` are (not the sum over categories as
  `pooled`, which has no other events to pool for `any`): a burst of mixed categories in one
  grid is discounted too;
* `classic_dpooled_<c>` — the declustered rate shrunk like `pooled` towards the grid's other
  events, themselves declustered (docs/adr/025-declustered-prior.md); for `any`, the sum of
  the categories';
* `classic_citymean_<c>` — the city-wide mean rate (one value per issue time);
* `classic_recent_<c>` — known events of the last 30 days, per day, times the horizon;
* `classic_self_<c>` — the self-exciting trigger per unit of branching ratio:
  `Σ exp(−ω (t − t_i)) · (1 − exp(−ω h))` over the grid's known events (`seppexp`'s
  excitation, with that category's fitted ω);
* `classic_nbr_<c>` — the same summed over the ring-1 neighbours (near-repeat);
* `classic_seppexp_<c>` — `seppexp`'s forecast with a known-at-`t` background: the steadied
  rate less the share θ of events that were triggered, `(1 − θ) · eb + θ · self`;
* `classic_kde_<c>`, `classic_prospective_<c>` — those baselines' counts.

**Known at `t`.** Every value at `t` is computed from the events known at `t`
(`occurred_at <= t` and `reported_at <= t`) — the same contract as every feature, proven by
the same kind of property test. The only fitted quantities are two numbers per category, θ
and ω of `seppexp`, fitted by EM on the events known at the retrain moment
(:func:`fit_triggers`, on at most 500 sampled grids: they are city-wide). They are parameters
of the transformation, fitted on the training period like any model parameter, never on the
period being forecast; no per-grid quantity is
carried from the fit (a per-grid EM background fitted at the retrain would hold the very
events that training rows are labelled with).

:func:`covariate_rates` (a prior from the grids' attributes and other events, regressed at
every `t`) is measured by `benchmarks.background` but is not a component: in the blend it gave
a mixed result on a 500-grid city (docs/adr/010-forecast-core-v2.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.base import FeatureBlock, FeatureInfo
from features.labels import target_en, target_zh
from models.baselines import KDE, Prospective, SEPPExp
from models.baselines.known import (
    NS_PER_DAY,
    IndexedEvents,
    age_band_counts,
    decayed_sums,
    earlier_known_decayed_sums,
    index_events,
    known_counts,
    to_utc_ns,
)
from models.covariates import poisson_glm_rates
from risk.contract import ANY_TARGET, HORIZON_HOURS, UNASSIGNED
from risk.geometry import ring1_matrix

FAMILY = "classic"
PREFIX = "classic_"
RECENT_DAYS = 30
# A grid_type with fewer grids than this shares the city-wide prior.
MIN_GROUP = 30
# The prior's share of the between-grid variance is at least this part of the squared mean
# (a prior of at most 1 / 0.05 = 20 "rate-days" per unit of mean, never an infinite pull).
MIN_VARIANCE_SHARE = 0.05
DEFAULT_OMEGA = 0.5  # per day, when a category's trigger cannot be fitted
TRIGGER_GRIDS = 500  # grids (a seeded sample) the triggers' EM is fitted on, at most
# The declustered background's prior: this many days at the city-wide rate (per grid).
BACKGROUND_PRIOR_DAYS = 30.0

KINDS: dict[str, tuple[str, str]] = {
    "rate": ("long-run rate of {en} here (historical rate): {value}", "本网格{zh}长期水平:{value}"),
    "eb": (
        "long-run rate of {en} here, steadied by similar grids: {value}",
        "参照同类网格后的{zh}长期水平:{value}",
    ),
    "pooled": (
        "long-run rate of {en} here, steadied by this grid's other events: {value}",
        "参照本网格其他事件后的{zh}长期水平:{value}",
    ),
    "declustered": (
        "long-run rate of {en} here, bursts discounted: {value}",
        "扣除连发后的本网格{zh}长期水平:{value}",
    ),
    "dpooled": (
        "long-run rate of {en} here, bursts discounted and steadied by this grid's other "
        "events: {value}",
        "扣除连发并参照本网格其他事件后的{zh}长期水平:{value}",
    ),
    "citymean": ("city-wide average of {en}: {value}", "全市{zh}平均水平:{value}"),
    "recent": (
        "{en} here in the last 30 days, as a 3-day rate: {value}",
        "近30天{zh}(折合3天):{value}",
    ),
    "self": (
        "recent {en} here that tend to be followed by more: {value}",
        "近期{zh}的连锁效应:{value}",
    ),
    "nbr": (
        "recent {en} in the adjacent grids: {value}",
        "相邻网格近期{zh}的连锁效应:{value}",
    ),
    "seppexp": (
        "self-exciting model (seppexp) of {en}: {value}",
        "自激点过程模型({zh}):{value}",
    ),
    "kde": ("hotspot map (KDE) of {en}: {value}", "热点核密度({zh}):{value}"),
    "prospective": (
        "prospective hotspot of {en}: {value}",
        "前瞻热点({zh}):{value}",
    ),
}


@dataclass(frozen=True)
class Trigger:
    """`seppexp`'s global parameters for one category: branching ratio θ, decay ω per day."""

    theta: float
    omega: float
    fitted: bool = True  # False: the fit failed or had no events; the defaults were used

    def as_dict(self) -> dict[str, float | bool]:
        return asdict(self)


def column(kind: str, category: str) -> str:
    """`classic_<kind>_<category>`."""
    return f"{PREFIX}{kind}_{category}"


def _category_events(events: pd.DataFrame, category: str) -> pd.DataFrame:
    return events if category == ANY_TARGET else events[events["category"] == category]


def fit_triggers(
    events: pd.DataFrame,
    grids: pd.DataFrame,
    until: pd.Timestamp,
    categories: Sequence[str],
    start: pd.Timestamp | None = None,
) -> dict[str, Trigger]:
    """θ and ω of `seppexp` per category (`any` = every event), fitted by EM on the events
    known at `until`. A category whose fit fails or that has no event gets θ = 0 and
    ω = `DEFAULT_OMEGA` (`fitted = False`): its trigger components are then pure decay sums."""
    return triggers_from(fit_seppexps(events, grids, until, categories, start))


def fit_seppexps(
    events: pd.DataFrame,
    grids: pd.DataFrame,
    until: pd.Timestamp,
    categories: Sequence[str],
    start: pd.Timestamp | None = None,
    max_grids: int | None = TRIGGER_GRIDS,
    seed: int = 0,
) -> dict[str, SEPPExp | None]:
    """`seppexp` fitted per category on the events known at `until` (None where it fails).

    θ and ω are city-wide, so at most `max_grids` grids (a seeded random sample) are enough
    to fit them: the EM's cost grows with the events, and a large city need not pay it in
    full at every retrain. Their per-grid background (`mu_`) then covers the sample only."""
    if max_grids is not None and len(grids) > max_grids:
        picked = np.random.default_rng(seed).choice(len(grids), max_grids, replace=False)
        grids = grids.iloc[np.sort(picked)]
        events = events[events["grid_id"].isin(set(grids["grid_id"].astype(str)))]
    fits: dict[str, SEPPExp | None] = {}
    for category in categories:
        chosen = _category_events(events, category)
        try:
            fits[category] = SEPPExp(start=start).fit(chosen, grids, until)
        except (ValueError, ArithmeticError, FloatingPointError):
            fits[category] = None
    return fits


def triggers_from(fits: dict[str, SEPPExp | None]) -> dict[str, Trigger]:
    """The triggers of `seppexp` models already fitted (None: the fit failed), as
    :func:`fit_triggers` would give them — the backtest fits `seppexp` once per block for
    both its comparison and the stack."""
    out: dict[str, Trigger] = {}
    for category, model in fits.items():
        if model is None or not (
            np.isfinite(model.theta_) and np.isfinite(model.omega_) and model.omega_ > 0
        ):
            out[category] = Trigger(0.0, DEFAULT_OMEGA, fitted=False)
            continue
        fitted = int((model.mu_ > 0).sum()) > 0
        out[category] = Trigger(float(model.theta_), float(model.omega_), fitted=fitted)
    return out


def background_weights(events: IndexedEvents, trigger: Trigger, start_ns: int) -> np.ndarray:
    """(N,) for each event i, the probability that it was a background event rather than
    triggered by the earlier events of its grid — `seppexp`'s E step with the trigger's θ, ω
    — from what was known when i became known (`known_i`), never later:

    * `φ_i = θ ω Σ exp(−ω (t_i − t_j))` over the grid's events j that occurred before i and were
      known at `known_i` (:func:`~models.baselines.known.earlier_known_decayed_sums`);
    * `μ̂_i = (1 − θ) (n_i + a) / (d_i + b)`: the grid's background rate per day — `n_i` its other
      events known at `known_i`, `d_i` the days from `start` to `known_i` (at least 1) — with a
      prior of `b = BACKGROUND_PRIOR_DAYS` days at the city-wide rate per grid known then
      (`a = b · C_i / (d_i · G)`, `C_i` the city's events known at `known_i`, i included, so
      `μ̂_i > 0` whenever θ < 1);
    * `p_i = μ̂_i / (μ̂_i + φ_i)`, 1 where both are 0.

    With θ = 0 every weight is 1."""
    n = len(events)
    if n == 0:
        return np.zeros(0)
    theta, omega = trigger.theta, trigger.omega
    phi = theta * omega * earlier_known_decayed_sums(events, omega)
    days = np.maximum((events.known - start_ns) / NS_PER_DAY, 1.0)
    city = known_counts(np.zeros(n, dtype=np.int64), events.known)
    own = known_counts(events.grid, events.known)
    prior = BACKGROUND_PRIOR_DAYS * city / (days * max(events.n_grids, 1))
    mu = (1.0 - theta) * (own - 1 + prior) / (days + BACKGROUND_PRIOR_DAYS)
    total = mu + phi
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, mu / total, 1.0)


def _prior_groups(groups: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix]:
    """(G,) codes of the groups that share a prior — groups under `MIN_GROUP` grids merged into
    one city-wide group — and the (G, k) membership matrix that sums over them."""
    codes = np.asarray(groups, dtype=np.int64)
    sizes = np.bincount(codes)
    codes = pd.factorize(np.where(sizes[codes] < MIN_GROUP, sizes.size, codes))[0]
    n_g, k = len(codes), int(codes.max()) + 1
    return codes, sp.csr_matrix((np.ones(n_g), (np.arange(n_g), codes)), shape=(n_g, k))


def shrunk_rates(
    counts: np.ndarray, days: np.ndarray, groups: np.ndarray, dispersion: float
) -> np.ndarray:
    """(T, G) empirical-Bayes rates per day: `(N + a) / (T + b)` with a gamma prior per group.

    At each issue time and per group of grids (`groups`: (G,) int codes), the prior's mean
    `m` is the group's mean rate and its variance the between-grid variance of the rates less
    the counting noise `m / T · dispersion` (a self-exciting process is over-dispersed by
    `1 / (1 − θ)²`), floored at `MIN_VARIANCE_SHARE · m²`; then `b = m / var`, `a = m · b`.
    Groups smaller than `MIN_GROUP` share one city-wide prior. Everything is computed from the
    counts known at each `t`.
    """
    n_t, n_g = counts.shape
    if n_g == 0:
        return np.zeros((n_t, 0))
    codes, member = _prior_groups(groups)
    size = np.asarray(member.sum(axis=0)).ravel()
    rate = counts / days
    mean = np.asarray(member.T @ rate.T).T / size
    second = np.asarray(member.T @ (rate**2).T).T / size
    noise = mean / days * dispersion
    var = np.maximum(second - mean**2 - noise, MIN_VARIANCE_SHARE * mean**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(var > 0, mean / var, 0.0)
    a = mean * b
    return (counts + a[:, codes]) / (days + b[:, codes])


def pooled_rates(
    counts: np.ndarray,
    other: np.ndarray,
    days: np.ndarray,
    groups: np.ndarray,
    dispersion: float,
    other_dispersion: float,
    own: np.ndarray | None = None,
) -> np.ndarray:
    """(T, G) empirical-Bayes rates per day of one category, shrunk towards the grid's other
    events: a gamma prior whose mean is `m = s · r`, with `r` the grid's steadied rate of every
    other event (:func:`shrunk_rates` of `other`) and `s` the category's share of those events
    among grids of the same group, and whose relative variance `V` per group is the mean of
    `((N/T − m)² − dispersion · m / T) / m²`, floored at `MIN_VARIANCE_SHARE`; then
    `(N + 1/V) / (T + 1/(V m))`.

    Categories share much of a grid's risk (its people, its buildings, its management), and
    the other events are many more than one category's: the prior is far closer to the grid's
    own rate than its group's mean is, so rare categories gain most. Everything is computed
    from the counts known at each `t`. `own`: :func:`shrunk_rates` of `counts` if already
    computed (the fallback where the group has no other event)."""
    n_t, n_g = counts.shape
    if n_g == 0:
        return np.zeros((n_t, 0))
    codes, member = _prior_groups(groups)
    steady = shrunk_rates(other, days, groups, other_dispersion)
    own_sum = np.asarray(member.T @ counts.T).T
    other_sum = np.asarray(member.T @ other.T).T
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(other_sum > 0, own_sum / other_sum, 0.0)
    m = share[:, codes] * steady
    if own is None:
        own = shrunk_rates(counts, days, groups, dispersion)
    return _shrink_towards(counts, days, m, groups, dispersion, own)


def _shrink_towards(
    counts: np.ndarray,
    days: np.ndarray,
    m: np.ndarray,
    groups: np.ndarray,
    dispersion: float,
    own: np.ndarray,
) -> np.ndarray:
    """(T, G) gamma–Poisson rates `(N + 1/V) / (T + 1/(V m))` around prior means `m` (T, G),
    with the prior's relative variance `V` per group the mean of
    `((N/T − m)² − dispersion · m / T) / m²` over its grids with `m > 0`, floored at
    `MIN_VARIANCE_SHARE`; `own` where `m` is 0 (no prior to speak of)."""
    codes, member = _prior_groups(groups)
    rate = counts / days
    usable = m > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(usable, ((rate - m) ** 2 - dispersion * m / days) / m**2, 0.0)
    n_used = np.asarray(member.T @ usable.T.astype(float)).T
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(n_used > 0, np.asarray(member.T @ rel.T).T / n_used, 0.0)
    v = np.maximum(v, MIN_VARIANCE_SHARE)[:, codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        shrunk = (counts + 1.0 / v) / (days + 1.0 / (v * m))
    return np.where(usable, shrunk, own)


def covariate_rates(
    counts: np.ndarray,
    other: np.ndarray,
    days: np.ndarray,
    groups: np.ndarray,
    static: np.ndarray,
    dispersion: float,
    other_dispersion: float,
    own: np.ndarray | None = None,
) -> np.ndarray:
    """(T, G) empirical-Bayes rates per day of one category, shrunk towards a covariate
    prior: at each `t`, a ridge Poisson regression (`models.covariates.poisson_glm_rates`) of
    the grid's count on its static attributes (`static`, `models.covariates.grid_covariates`)
    and on the log of its steadied rate of every other event (:func:`shrunk_rates` of
    `other`, what :func:`pooled_rates` scales) gives the prior mean `m`; the grid's own count
    is then shrunk towards it as in :func:`pooled_rates` (`V` per group, by moments).

    A grid's people, buildings and type explain part of its rate, its other events another
    part: the regression weighs both from the data at `t`, so neither the group mean (`eb`)
    nor a fixed share of the other events (`pooled`) is imposed. Everything is computed from
    the counts known at each `t`; a `t` without any event of the category gives `own`."""
    n_t, n_g = counts.shape
    if n_g == 0:
        return np.zeros((n_t, 0))
    if own is None:
        own = shrunk_rates(counts, days, groups, dispersion)
    steady = shrunk_rates(other, days, groups, other_dispersion)
    level = steady.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(level > 0, np.log(steady + 0.01 * level), 0.0)
    spread = z.std(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(spread > 1e-12, (z - z.mean(axis=1, keepdims=True)) / spread, 0.0)
    m = poisson_glm_rates(counts, days, static, z)
    m = np.where(counts.sum(axis=1, keepdims=True) > 0, m, 0.0)
    return _shrink_towards(counts, days, m, groups, dispersion, own)


def _groups(grids: pd.DataFrame) -> np.ndarray:
    if "grid_type" not in grids.columns:
        return np.zeros(len(grids), dtype=np.int64)
    types = grids["grid_type"].astype(str).fillna(UNASSIGNED).to_numpy()
    return pd.factorize(types)[0].astype(np.int64)


def classic_components(
    events: pd.DataFrame,
    grids: pd.DataFrame,
    issue_times: pd.DatetimeIndex,
    triggers: dict[str, Trigger],
    start: pd.Timestamp | None = None,
    horizon_hours: int = HORIZON_HOURS,
    declustered_prior: bool = True,
) -> FeatureBlock:
    """The components of every category in `triggers` at `issue_times` (sorted, tz-aware):
    a `FeatureBlock` of (T, G) float32 arrays, grids in `grids` row order.

    `start` is the start of the record (the rates' denominator); default the earliest
    `occurred_at` among `events`. `declustered_prior`: `dpooled` shrinks towards the grid's
    other events declustered (each weighted by its own category's background probability;
    events of a category without a trigger counted as they are); False: counted as they are
    (the components of models saved before docs/adr/025-declustered-prior.md).
    """
    grids = grids.reset_index(drop=True)
    grid_ids = pd.Index(grids["grid_id"].astype(str))
    times = to_utc_ns(issue_times, "issue_times")
    if len(times) > 1 and (np.diff(times) <= 0).any():
        raise ValueError("issue_times must be sorted and unique")
    if start is None:
        start = events["occurred_at"].min() if len(events) else issue_times[0]
    start_ns = int(to_utc_ns(pd.Timestamp(start), "start")[0])
    days = np.maximum((times - start_ns) / NS_PER_DAY, 1.0)[:, None]
    h = horizon_hours / 24.0
    ring = ring1_matrix(grids) if len(grids) else sp.csr_matrix((0, 0))
    groups = _groups(grids)
    # Their "fit" only lays spatial weights over the grids; counts are known-at-t by design.
    kde = KDE().fit(events.iloc[:0], grids, issue_times[0])
    prospective = Prospective().fit(events.iloc[:0], grids, issue_times[0])

    block = FeatureBlock()
    f32 = np.float32
    every = age_band_counts(index_events(events, grid_ids, start_ns), times, 0, None)
    every_theta = triggers[ANY_TARGET].theta if ANY_TARGET in triggers else 0.0
    pooled_sum = np.zeros_like(every, dtype=np.float64)
    background_sum = np.zeros_like(every, dtype=np.float64)
    categories = [c for c in triggers if c != ANY_TARGET]
    # `any` last: its pooled rate is the sum of the categories' (when it has categories)
    ordered = [*categories, *([ANY_TARGET] if ANY_TARGET in triggers else [])]
    chosen_of, idx_of, n_of, background_of = {}, {}, {}, {}
    for category in ordered:
        chosen_of[category] = _category_events(events, category)
        idx_of[category] = index_events(chosen_of[category], grid_ids, start_ns)
        n_of[category] = age_band_counts(idx_of[category], times, 0, None)
        weights = background_weights(idx_of[category], triggers[category], start_ns)
        background_of[category] = age_band_counts(idx_of[category], times, 0, None, weights)
    # every event declustered where its category is a target, counted as is where not
    every_background = every - sum(
        (n_of[c] - background_of[c] for c in categories), np.zeros_like(every, dtype=np.float64)
    )
    for category in ordered:
        trigger = triggers[category]
        chosen, idx, n = chosen_of[category], idx_of[category], n_of[category]
        background = background_of[category]
        decayed = decayed_sums(idx, times, trigger.omega)
        gain = -np.expm1(-trigger.omega * h)
        rate = n / days
        own = decayed * gain
        dispersion = 1.0 / (1.0 - trigger.theta) ** 2
        steadied = shrunk_rates(n, days, groups, dispersion)
        shrunk = steadied * h
        # declustered counts are about Poisson: no over-dispersion to allow for
        steadied_background = shrunk_rates(background, days, groups, 1.0)
        if category != ANY_TARGET:
            other_dispersion = 1.0 / (1.0 - every_theta) ** 2
            pooled = pooled_rates(
                n, every - n, days, groups, dispersion, other_dispersion, steadied
            )
            if declustered_prior:
                # the prior from the grid's other events, declustered too: its bursts say
                # nothing more about the grid's background than about this category's
                pooled_background = pooled_rates(
                    background,
                    every_background - background,
                    days,
                    groups,
                    1.0,
                    1.0,
                    steadied_background,
                )
            else:
                pooled_background = pooled_rates(
                    background,
                    every - n,
                    days,
                    groups,
                    1.0,
                    other_dispersion,
                    steadied_background,
                )
            pooled_sum += pooled
            background_sum += pooled_background
            pooled, pooled_background = pooled * h, pooled_background * h
        else:
            pooled = pooled_sum * h if categories else shrunk
            pooled_background = background_sum * h if categories else steadied_background * h
        values = {
            "rate": rate * h,
            "eb": shrunk,
            "pooled": pooled,
            "declustered": background / days * h,
            "dpooled": pooled_background,
            "citymean": np.repeat(rate.mean(axis=1, keepdims=True), len(grids), axis=1) * h,
            "recent": age_band_counts(idx, times, 0, RECENT_DAYS * NS_PER_DAY) / RECENT_DAYS * h,
            "self": own,
            "nbr": np.asarray(ring @ own.T).T,
            "seppexp": (1 - trigger.theta) * shrunk + trigger.theta * own,
            "kde": _spatial(kde, chosen, issue_times, horizon_hours, len(grids)),
            "prospective": _spatial(prospective, chosen, issue_times, horizon_hours, len(grids)),
        }
        en, zh = target_en(category), target_zh(category)
        for kind, value in values.items():
            label_en, label_zh = KINDS[kind]
            block.add(
                FeatureInfo(
                    column(kind, category),
                    FAMILY,
                    label_en.format(en=en, value="{value}"),
                    label_zh.format(zh=zh, value="{value}"),
                ),
                np.asarray(value, dtype=f32),
            )
    return block


def _spatial(
    model: KDE | Prospective,
    events: pd.DataFrame,
    issue_times: pd.DatetimeIndex,
    horizon_hours: int,
    n_grids: int,
) -> np.ndarray:
    """A spatial method's counts, or zeros (with a warning) when it fails: a component the
    blend then gives no weight, never the end of a fit."""
    try:
        counts = model.predict_count(events, issue_times, horizon_hours)
    except Exception as exc:  # one classic method's failure must not stop the forecaster
        warnings.warn(
            f"classic component {model.name} failed ({type(exc).__name__}: {exc}); "
            "it is zero in this fit",
            RuntimeWarning,
            stacklevel=2,
        )
        return np.zeros((len(issue_times), n_grids))
    return np.nan_to_num(counts, nan=0.0, posinf=0.0, neginf=0.0)


def component_info(categories: Sequence[str]) -> list[FeatureInfo]:
    """The `FeatureInfo` of every component of `categories`, as `classic_components` names
    them (for explanations of a saved model, without computing anything)."""
    info = []
    for category in categories:
        en, zh = target_en(category), target_zh(category)
        for kind, (label_en, label_zh) in KINDS.items():
            info.append(
                FeatureInfo(
                    column(kind, category),
                    FAMILY,
                    label_en.format(en=en, value="{value}"),
                    label_zh.format(zh=zh, value="{value}"),
                )
            )
    return info


class ClassicStack:
    """The fitted part of the stacking: θ and ω per category (:func:`fit_triggers`), and the
    horizon. `transform` computes the components at any issue times from the events known at
    each; `to_dict` / `from_dict` keep it in a model manifest.

    `declustered_prior`: `dpooled`'s prior from the grid's other events declustered (ADR
    025); a stack saved before that option existed reads back without it, so a saved model's
    components mean what they meant when it was trained."""

    def __init__(self, horizon_hours: int = HORIZON_HOURS, declustered_prior: bool = True) -> None:
        self.horizon_hours = horizon_hours
        self.declustered_prior = declustered_prior

    def fit(
        self,
        events: pd.DataFrame,
        grids: pd.DataFrame,
        until: pd.Timestamp,
        categories: Sequence[str],
        start: pd.Timestamp | None = None,
        fits: dict[str, SEPPExp | None] | None = None,
    ) -> ClassicStack:
        """Fit the triggers at `until`; `fits` (`seppexp` per category, fitted there on the
        same events, None where it failed) saves fitting them again."""
        if fits is not None and set(fits) >= set(categories):
            self.triggers_ = triggers_from({c: fits[c] for c in categories})
        else:
            self.triggers_ = fit_triggers(events, grids, until, categories, start)
        self.until_ = pd.Timestamp(until)
        return self

    @property
    def categories_(self) -> list[str]:
        return list(self.triggers_)

    def transform(
        self,
        events: pd.DataFrame,
        grids: pd.DataFrame,
        issue_times: pd.DatetimeIndex,
        start: pd.Timestamp | None = None,
    ) -> FeatureBlock:
        return classic_components(
            events,
            grids,
            issue_times,
            self.triggers_,
            start,
            self.horizon_hours,
            self.declustered_prior,
        )

    def info(self) -> list[FeatureInfo]:
        return component_info(self.categories_)

    def to_dict(self) -> dict:
        return {
            "horizon_hours": self.horizon_hours,
            "declustered_prior": self.declustered_prior,
            "until": self.until_.isoformat(),
            "triggers": {c: t.as_dict() for c, t in self.triggers_.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> ClassicStack:
        stack = cls(int(data["horizon_hours"]), bool(data.get("declustered_prior", False)))
        stack.until_ = pd.Timestamp(data["until"])
        stack.triggers_ = {
            c: Trigger(float(t["theta"]), float(t["omega"]), bool(t.get("fitted", True)))
            for c, t in data["triggers"].items()
        }
        return stack


def take_times(block: FeatureBlock, rows: slice) -> FeatureBlock:
    """The block's arrays at a slice of its issue times (rows of every (T, G) array)."""
    out = FeatureBlock()
    for item in block.info:
        out.add(item, block.columns[item.name][rows])
    return out


def add_components(frame: pd.DataFrame, block: FeatureBlock) -> pd.DataFrame:
    """`frame` (issue-time major over all grids, as `features.build` makes it) with the
    component columns appended; the block's arrays must cover the frame's issue times and
    grids in the same order."""
    extra = {name: values.reshape(-1) for name, values in block.columns.items()}
    sizes = {len(v) for v in extra.values()}
    if sizes and sizes != {len(frame)}:
        raise ValueError(
            f"component arrays hold {sizes.pop()} values for a frame of {len(frame)} rows; "
            "compute them at the frame's issue times and grids"
        )
    clash = [c for c in extra if c in frame.columns]
    if clash:
        raise ValueError(f"the frame already has a column {clash[0]!r}")
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
