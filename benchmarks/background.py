"""How well does each known-at-t estimate find a grid's true background rate? (issue 12)

    .venv/bin/python -m benchmarks.background [--grids 2000] [--days 730] [--weeks 26] [--seed 1]
        [--out benchmarks/results/background.json] [--backtest benchmarks/results/backtest.json]

On the benchmark's synthetic city the generator's background rate μ of every grid and
category is known. At the first evaluation day this script estimates it from the events known
then, eight ways, and sets them against a ceiling (`bayes`):

* `raw` — the grid's own count per day (`classic_rate`);
* `eb` — that rate shrunk towards grids of the same type (`classic_eb`,
  `models.stacking.shrunk_rates`);
* `pooled` — shrunk instead towards the grid's other events (`classic_pooled`,
  `models.stacking.pooled_rates`; docs/adr/010-forecast-core-v2.md);
* `covar` — shrunk instead towards a regression of the counts on the grids' attributes and
  their other events (`classic_covar`, `models.stacking.covariate_rates`);
* `declustered` — each known event weighted by the probability that it was a background
  event, per day (`classic_declustered`, `models.stacking.background_weights`, with the
  triggers fitted at that day);
* `dpooled` — those weighted counts shrunk towards the grid's other events, declustered too
  (`classic_dpooled`; docs/adr/023-achievable-background.md); `dpooled_raw` — the same with
  the other events counted as they are (`classic_dpooled` before ADR 025);
* `em` — `seppexp`'s EM background per grid (not known-at-t for the training rows, shown as
  the univariate self-exciting fit's reference);
* `bayes` — an achievable ceiling, not a method: the posterior mean of μ given the record
  under the generator's own prior and dynamics, the best any estimator could do in mean
  square (`bayes_background`). It knows what the generator knows except the two per-grid
  lognormal frailties: the deterministic part of μ (base × type × population and interaction
  terms), each type's total (which the generator fixes), the time profiles and the realised
  daily shocks, the exact triggering. Its likelihood is the simulator's own Poisson
  likelihood, hour by hour, of the events known at the first evaluation day, with the
  triggered intensity rebuilt from the earlier events (`hawkes_evidence`), so no event needs
  labelling as background; it stops 14 days before that day, by when all but ~0.04 % of
  events are reported. The posterior is integrated on a grid of both frailties jointly (the
  shared one couples a grid's categories; `posterior_moments`), and the type totals are
  imposed by exponential tilting.

For each it reports the rank (Spearman) correlation with the true μ per category and for the
sum over categories, and — keeping the oracle's exact dynamics and replacing only μ by the
estimate (rescaled to the true total per category, as `benchmarks.headroom` does) — `pr_auc`,
`pei@5` and `miss_rate_true@10` over the 26-week evaluation. The `ceiling` section gives, for
`any`, the share of the seppexp → oracle gap that `bayes` closes on `pr_auc` and `pei@5`, with
seppexp and the oracle read from `benchmarks/results/backtest.json` (`any.seppexp.*`,
`any.oracle.*`; `null` unless this run's city is that file's); `oracle_here` is the oracle
rescored here, which should equal the file's. Writes `benchmarks/results/background.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import spearmanr

from benchmarks.headroom import evaluation_city
from benchmarks.machine import machine
from features.base import LABEL_EXCLUDE_SOURCES
from features.binning import event_arrays
from features.labels import label_columns
from models.baselines import SEPPExp
from models.baselines.known import NS_PER_DAY, age_band_counts, index_events, to_utc_ns
from models.covariates import grid_covariates
from models.stacking import (
    _groups,
    _prior_groups,
    background_weights,
    covariate_rates,
    fit_triggers,
    pooled_rates,
    shrunk_rates,
)
from risk.contract import ANY_TARGET
from risk.errors import ConfigError
from risk.metrics import json_ready, miss_rate_true_at, pei_at, pr_auc
from risk.synth.oracle import _hours_since, oracle_expected_counts, oracle_targets
from risk.synth.profiles import clock_start, time_factors
from risk.synth.rates import background_rates, excitation_matrices
from risk.synth.simulate import spread_matrix
from risk.synth.truth import Truth

RESULTS = Path(__file__).resolve().parent / "results"
# The dispersion the estimates assume (a branching ratio of 0.3, about the benchmark city's).
DISPERSION = 1.0 / (1.0 - 0.3) ** 2
# `bayes`: the likelihood stops this many days before the estimate, so that nearly every event
# of its hours is reported by then (P(delay > 14 days) ≈ 0.1 · 0.004); quadrature step in log μ
# and prior span in standard deviations; event cells per chunk of the likelihood.
MARGIN_DAYS = 14
LOG_STEP = 0.05
SPAN_SD = 6.0
CELL_CHUNK = 16_384
GAP_KEYS = ("pr_auc", "pei@5")


def estimates(
    events: pd.DataFrame,
    grids: pd.DataFrame,
    at: pd.Timestamp,
    cats: list[str],
    start: pd.Timestamp,
) -> dict[str, np.ndarray]:
    """(G, K) background estimates per day at `at`, by method."""
    grid_ids = pd.Index(grids["grid_id"].astype(str))
    start_ns = int(to_utc_ns(pd.Timestamp(start), "start")[0])
    times = to_utc_ns(pd.DatetimeIndex([at]), "at")
    days = np.maximum((times - start_ns) / NS_PER_DAY, 1.0)[:, None]
    groups = _groups(grids)
    indexed = {c: index_events(events[events["category"] == c], grid_ids, start_ns) for c in cats}
    counts = {c: age_band_counts(indexed[c], times, 0, None) for c in cats}
    every = sum(counts.values())
    triggers = fit_triggers(events, grids, at, cats, start)
    background = {
        c: age_band_counts(
            indexed[c], times, 0, None, background_weights(indexed[c], triggers[c], start_ns)
        )
        for c in cats
    }
    every_background = sum(background.values())
    static = grid_covariates(grids, _prior_groups(groups)[0])
    names = ("raw", "eb", "pooled", "covar", "declustered", "dpooled_raw", "dpooled", "em")
    out: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for c in cats:
        n = counts[c]
        b = background[c]
        out["declustered"].append((b / days)[0])
        out["dpooled_raw"].append(pooled_rates(b, every - n, days, groups, 1.0, DISPERSION)[0])
        out["dpooled"].append(pooled_rates(b, every_background - b, days, groups, 1.0, 1.0)[0])
        out["raw"].append((n / days)[0])
        out["eb"].append(shrunk_rates(n, days, groups, DISPERSION)[0])
        out["pooled"].append(pooled_rates(n, every - n, days, groups, DISPERSION, DISPERSION)[0])
        out["covar"].append(
            covariate_rates(n, every - n, days, groups, static, DISPERSION, DISPERSION)[0]
        )
        out["em"].append(SEPPExp(start=start).fit(events[events["category"] == c], grids, at).mu_)
    return {name: np.stack(columns, axis=1) for name, columns in out.items()}


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What the record says about μ under the generator's exact dynamics, grids in truth order:

    log L[g, k](μ) = −μ · exposure[k] + Σ_cells count · log(μ · base + triggered)

    summed over the (hour, grid, category) cells that hold events, `base` the cell's
    background factor (time profile × realised daily shock) and `triggered` its intensity
    from the known earlier events (same grid and ring-1 neighbours).
    """

    exposure: np.ndarray  # (K,) background factor summed over the hours of the likelihood
    grid: np.ndarray
    category: np.ndarray
    count: np.ndarray
    base: np.ndarray
    triggered: np.ndarray


def hawkes_evidence(
    truth: Truth, events: pd.DataFrame, at: pd.Timestamp, margin_days: int = MARGIN_DAYS
) -> Evidence:
    """The exact Poisson likelihood of the simulator (`risk.synth.simulate`) for the hours
    before `at − margin_days`, from the events known at `at` (occurred and reported)."""
    params, cats = truth.params, truth.categories
    g_all, k = len(truth.grid_ids), len(cats)
    t0 = clock_start(truth.start, truth.tz)
    at_step = round((pd.Timestamp(at) - t0) / pd.Timedelta(hours=1))
    cut = at_step - 24 * margin_days
    if cut < 1:
        raise ConfigError(f"no history before {at} minus {margin_days} days to estimate from")
    grid = pd.Index(truth.grid_ids).get_indexer(events["grid_id"])
    cat = pd.Index(cats).get_indexer(events["category"])
    step = np.ceil(_hours_since(events["occurred_at"], t0, truth.tz)).astype(np.int64) - 1
    reported = np.ceil(_hours_since(events["reported_at"], t0, truth.tz)).astype(np.int64)
    keep = (grid >= 0) & (cat >= 0) & (step < cut) & (np.maximum(step + 1, reported) <= at_step)
    cells, count = np.unique((step[keep] * g_all + grid[keep]) * k + cat[keep], return_counts=True)
    cell_step, cell_grid, cell_cat = cells // (g_all * k), cells // k % g_all, cells % k
    factor, day, _ = time_factors(params, truth.start, truth.tz, 0, cut)
    background = factor * truth.daily_shock[day][:, None]  # (cut, K), as in `synthesise`

    r, within, b_nb = excitation_matrices(params)
    spread = spread_matrix(truth.ring1())
    triggered = np.empty(len(cells))
    z, now = np.zeros((g_all, k)), 0  # kernel state at step `now`, before its events
    bounds = np.flatnonzero(np.diff(cell_step, prepend=-1, append=cut + 1))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # one step per hour with events
        s, g, c = cell_step[lo], cell_grid[lo:hi], cell_cat[lo:hi]
        z *= r ** (s - now)
        triggered[lo:hi] = (z @ within + (spread @ z) * b_nb)[g, c]
        z *= r
        z[g, c] += (1.0 - r[c]) * count[lo:hi]
        now = s + 1
    return Evidence(
        exposure=background.sum(axis=0),
        grid=cell_grid,
        category=cell_cat,
        count=count.astype(float),
        base=background[cell_step, cell_cat],
        triggered=triggered,
    )


def log_likelihood(evidence: Evidence, rate: np.ndarray, log_nodes: np.ndarray) -> np.ndarray:
    """(G, K, M) log L[g, k](rate[g, k] · exp(log_nodes[m])), up to a constant per cell."""
    g_all, k = rate.shape
    x = np.exp(log_nodes)
    out = -(rate * evidence.exposure)[:, :, None] * x
    flat = out.reshape(g_all * k, len(x))
    row = evidence.grid * k + evidence.category
    for lo in range(0, len(row), CELL_CHUNK):  # chunks of event cells bound memory
        part = slice(lo, lo + CELL_CHUNK)
        mu = rate.ravel()[row[part]] * evidence.base[part]
        terms = evidence.count[part, None] * np.log(
            mu[:, None] * x + evidence.triggered[part, None]
        )
        n = len(terms)
        flat += sp.csr_matrix((np.ones(n), (row[part], np.arange(n))), shape=(g_all * k, n)) @ terms
    return out


def lognormal_nodes(sigma: float, step: float = LOG_STEP, span: float = SPAN_SD) -> np.ndarray:
    """Log prior weights of a mean-1 lognormal factor (log ~ N(−σ²/2, σ²)) on the log-nodes
    `step · (i − (n − 1)/2)`, i = 0 … n − 1, symmetric about 0 and covering ±`span` σ."""
    half = int(np.ceil((0.5 * sigma**2 + span * sigma) / step))
    log_x = step * np.arange(-half, half + 1)
    return -0.5 * ((log_x + 0.5 * sigma**2) / sigma) ** 2


def posterior_moments(
    loglik: np.ndarray, shared: np.ndarray, own: np.ndarray, step: float = LOG_STEP
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean (G, K) and second moments (G, K, K) of x[g, k] = F[g] · C[g, k], F shared
    by a grid's categories, C independent across them.

    `shared` (I,) and `own` (J,) are log prior weights of F and of each C on the log-nodes
    `step · (i − (n − 1)/2)` (as `lognormal_nodes`); `loglik` (G, K, I + J − 1) is the log-
    likelihood of grid g's category-k data at the node whose log is `log F_i + log C_j`, i.e.
    at index i + j. With A_k(i) = Σ_j p(C_j) L_k(i + j), B_k(i) = Σ_j p(C_j) C_j L_k(i + j)
    and w_i = p(F_i) Π_k A_k(i): E[x_k] = Σ_i w_i F_i B_k(i)/A_k(i) / Σ_i w_i, and
    E[x_k x_l] the same with F_i² B_k(i) B_l(i)/(A_k(i) A_l(i)) (k ≠ l) or F_i² B2_k(i)/A_k(i)
    (k = l, B2 with C_j²).
    """
    n_f, n_c = len(shared), len(own)
    lik = np.exp(loglik - loglik.max(axis=2, keepdims=True))
    p_c = np.exp(own - own.max())
    c = np.exp(step * (np.arange(n_c) - (n_c - 1) / 2))
    f = np.exp(step * (np.arange(n_f) - (n_f - 1) / 2))
    a = np.zeros(lik.shape[:2] + (n_f,))
    b, b2 = np.zeros_like(a), np.zeros_like(a)
    for j in range(n_c):  # one pass per node of the category factor
        window = p_c[j] * lik[:, :, j : j + n_f]
        a += window
        b += c[j] * window
        b2 += c[j] ** 2 * window
    a = np.maximum(a, np.finfo(float).tiny)
    log_w = shared + np.log(a).sum(axis=1)  # (G, I)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    given_f = b / a  # E[C_k | F_i, data]
    second = np.einsum("gi,gki,gli->gkl", w * f**2, given_f, given_f)
    diagonal = np.einsum("gi,gki->gk", w * f**2, b2 / a)
    k = np.arange(a.shape[1])
    second[:, k, k] = diagonal
    return np.einsum("gi,gki->gk", w * f, given_f), second


def bayes_background(
    truth: Truth,
    grids: pd.DataFrame,
    events: pd.DataFrame,
    at: pd.Timestamp,
    margin_days: int = MARGIN_DAYS,
    tol: float = 1e-6,
    max_iter: int = 50,
) -> tuple[np.ndarray, dict]:
    """(G, K) posterior mean of μ per day, in `grids` row order, under the generator's prior,
    and how the type totals were met (iterations, remaining gap, tilts).

    The generator draws μ[g, k] = T[type, k] · d[g, k] F[g] C[g, k] / Σ_type d F C, with d the
    deterministic part (`background_rates` with both frailties at 1), F and C the two mean-1
    lognormal frailties and T = Σ_type d the type's total, base · multiplier · grids. It is
    taken as the grids' independent priors d · F · C conditioned on the type totals, the
    condition applied by exponential tilting (saddlepoint): each grid's posterior is multiplied
    by exp(Σ_k λ[type, k] · μ[g, k]), λ set by Newton steps so that the means of each type add
    up to T (the Jacobian of a type is the sum of its grids' posterior covariances).
    """
    params = truth.params
    order = pd.Index(grids["grid_id"]).get_indexer(pd.Index(truth.grid_ids))
    ordered = grids.iloc[order].reset_index(drop=True)
    flat = dataclasses.replace(params, frailty_sigma=0.0, category_frailty_sigma=0.0)
    d = background_rates(ordered, flat, np.random.default_rng(0))
    types, type_of = np.unique(ordered["grid_type"].to_numpy(), return_inverse=True)
    shared = lognormal_nodes(params.frailty_sigma)
    own = lognormal_nodes(params.category_frailty_sigma)
    n = len(shared) + len(own) - 1
    x = np.exp(LOG_STEP * (np.arange(n) - (n - 1) / 2))
    evidence = hawkes_evidence(truth, events, at, margin_days)
    untilted = log_likelihood(evidence, d, np.log(x))
    member = np.eye(len(types))[type_of]  # (G, types)

    target = member.T @ d
    tilt = np.zeros_like(target)
    for iteration in range(1, max_iter + 1):  # Newton steps on λ
        first, second = posterior_moments(
            untilted + (tilt[type_of] * d)[:, :, None] * x, shared, own
        )
        mean = d * first
        gap = target - member.T @ mean
        if np.abs(gap / target).max() < tol or iteration == max_iter:
            break
        cov = d[:, :, None] * d[:, None, :] * (second - first[:, :, None] * first[:, None, :])
        jacobian = np.einsum("gt,gkl->tkl", member, cov)
        tilt = np.minimum(
            tilt + np.linalg.solve(jacobian, gap[:, :, None])[:, :, 0], 0.9 * evidence.exposure
        )
    ratio = tilt / evidence.exposure
    info = {
        "iterations": iteration,
        "max_relative_gap": float(np.abs(gap / target).max()),
        "tilt_per_exposure": [float(ratio.min()), float(ratio.max())],
        "likelihood_until": str(pd.Timestamp(at) - pd.Timedelta(days=margin_days)),
        "event_cells": len(evidence.count),
    }
    back = pd.Index(truth.grid_ids).get_indexer(grids["grid_id"])
    return mean[back], info


def _shown(path: Path) -> str:
    """`path` relative to the repository when inside it."""
    root = RESULTS.parents[1]
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(path)


def gap_closed(row: dict, backtest_any: dict) -> dict:
    """Per metric of `GAP_KEYS`: (row − seppexp) / (oracle − seppexp), the two read from a
    backtest JSON's `any` block (keys `any.seppexp.<metric>`, `any.oracle.<metric>`)."""
    sepp, oracle = backtest_any["seppexp"], backtest_any["oracle"]
    return {key: (row[key] - sepp[key]) / (oracle[key] - sepp[key]) for key in GAP_KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "background.json")
    parser.add_argument("--backtest", type=Path, default=RESULTS / "backtest.json")
    args = parser.parse_args()

    load_before = __import__("os").getloadavg()
    started = time.perf_counter()
    city, events, times = evaluation_city(args.grids, args.days, args.weeks, args.seed)
    truth, grids = city.truth, city.grids
    first, last = times[0].normalize(), times[-1].normalize()
    start = events["occurred_at"].min()
    names = oracle_targets(truth)
    cats = list(truth.categories)
    true = truth.background_per_day

    found = estimates(events, grids, times[0], cats, start)
    found["bayes"], bayes_info = bayes_background(truth, grids, events, times[0])
    labels = label_columns(
        event_arrays(events, grids["grid_id"]),
        times.as_unit("ns").asi8,
        len(grids),
        tuple(names),
        72,
        LABEL_EXCLUDE_SOURCES,  # the labels every backtest uses (docs/adr/019-*)
    )
    oracle = oracle_expected_counts(
        truth, events, grids, times, 72, exclude_sources=LABEL_EXCLUDE_SOURCES
    )
    table: dict = {}
    for name, mu in found.items():
        rescaled = mu * true.sum(axis=0) / np.maximum(mu.sum(axis=0), 1e-12)
        panel = oracle_expected_counts(
            dataclasses.replace(truth, background_per_day=rescaled),
            events,
            grids,
            times,
            72,
            exclude_sources=LABEL_EXCLUDE_SOURCES,
        )
        row: dict = {
            "spearman": {
                c: float(spearmanr(mu[:, k], true[:, k]).statistic) for k, c in enumerate(cats)
            },
        }
        row["spearman"][ANY_TARGET] = float(spearmanr(mu.sum(axis=1), true.sum(axis=1)).statistic)
        for j, target in enumerate(names):
            count = labels[f"count_{target}"].astype(float)
            row[target] = {
                "pr_auc": pr_auc(panel[:, :, j], count),
                "pei@5": pei_at(panel[:, :, j], count, 5),
                "miss_rate_true@10": miss_rate_true_at(panel[:, :, j], oracle[:, :, j]),
            }
        table[name] = row
    backtest = json.loads(args.backtest.read_text(encoding="utf-8"))
    any_count = labels[f"count_{ANY_TARGET}"].astype(float)
    same_city = not backtest.get("weaker_excitation") and all(
        backtest.get(key) == getattr(args, key) for key in ("grids", "days", "seed", "weeks")
    )
    ceiling = {
        "backtest": _shown(args.backtest),
        "keys": [f"{ANY_TARGET}.{m}.{key}" for m in ("seppexp", "oracle") for key in GAP_KEYS],
        "same_city": same_city,
        "seppexp": {key: backtest[ANY_TARGET]["seppexp"][key] for key in GAP_KEYS},
        "oracle": {key: backtest[ANY_TARGET]["oracle"][key] for key in GAP_KEYS},
        "oracle_here": {
            "pr_auc": pr_auc(oracle[:, :, 0], any_count),
            "pei@5": pei_at(oracle[:, :, 0], any_count, 5),
        },
        "bayes": {key: table["bayes"][ANY_TARGET][key] for key in GAP_KEYS},
        "gap_closed": gap_closed(table["bayes"][ANY_TARGET], backtest[ANY_TARGET])
        if same_city
        else None,
        "bayes_fit": bayes_info,
    }
    result = {
        "benchmark": "background",
        "grids": args.grids,
        "days": args.days,
        "seed": args.seed,
        "estimated_at": str(times[0]),
        "evaluation": [str(first.date()), str(last.date())],
        "estimates": table,
        "ceiling": ceiling,
        "wall_s": time.perf_counter() - started,
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_ready(result), indent=2))
    for name, row in table.items():
        rho = " ".join(f"{c}={v:.3f}" for c, v in row["spearman"].items())
        print(f"{name:7s} spearman {rho}")
        print(
            f"        any: pr_auc {row[ANY_TARGET]['pr_auc']:.4f}  pei@5 "
            f"{row[ANY_TARGET]['pei@5']:.4f}  miss_rate_true@10 "
            f"{row[ANY_TARGET]['miss_rate_true@10']:.3f}"
        )
    if same_city:
        closed = " ".join(f"{key} {value:.3f}" for key, value in ceiling["gap_closed"].items())
        print(f"bayes closes of the seppexp -> oracle gap on any: {closed}")
    else:
        print(f"gap closed not computed: this city is not the one of {ceiling['backtest']}")


if __name__ == "__main__":
    main()
