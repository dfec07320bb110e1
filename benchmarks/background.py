"""How well does each known-at-t estimate find a grid's true background rate? (issue 12)

    .venv/bin/python -m benchmarks.background [--grids 2000] [--days 730] [--weeks 26] [--seed 1]

On the benchmark's synthetic city the generator's background rate μ of every grid and
category is known. At the first evaluation day this script estimates it from the events known
then, five ways:

* `raw` — the grid's own count per day (`classic_rate`);
* `eb` — that rate shrunk towards grids of the same type (`classic_eb`,
  `models.stacking.shrunk_rates`);
* `pooled` — shrunk instead towards the grid's other events (`classic_pooled`,
  `models.stacking.pooled_rates`; docs/adr/010-forecast-core-v2.md);
* `covar` — shrunk instead towards a regression of the counts on the grids' attributes and
  their other events (`classic_covar`, `models.stacking.covariate_rates`);
* `em` — `seppexp`'s EM background per grid (not known-at-t for the training rows, shown as
  the univariate self-exciting fit's reference).

For each it reports the rank (Spearman) correlation with the true μ per category and for the
sum over categories, and — keeping the oracle's exact dynamics and replacing only μ by the
estimate (rescaled to the true total per category, as `benchmarks.headroom` does) — `pr_auc`,
`pei@5` and `miss_rate_true@10` over the 26-week evaluation. Writes
`benchmarks/results/background.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from benchmarks.headroom import evaluation_city
from benchmarks.machine import machine
from features.base import LABEL_EXCLUDE_SOURCES
from features.binning import event_arrays
from features.labels import label_columns
from models.baselines import SEPPExp
from models.baselines.known import NS_PER_DAY, age_band_counts, index_events, to_utc_ns
from models.covariates import grid_covariates
from models.stacking import _groups, _prior_groups, covariate_rates, pooled_rates, shrunk_rates
from risk.contract import ANY_TARGET
from risk.metrics import json_ready, miss_rate_true_at, pei_at, pr_auc
from risk.synth.oracle import oracle_expected_counts, oracle_targets

RESULTS = Path(__file__).resolve().parent / "results"
# The dispersion the estimates assume (a branching ratio of 0.3, about the benchmark city's).
DISPERSION = 1.0 / (1.0 - 0.3) ** 2


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
    counts = {
        c: age_band_counts(
            index_events(events[events["category"] == c], grid_ids, start_ns), times, 0, None
        )
        for c in cats
    }
    every = sum(counts.values())
    static = grid_covariates(grids, _prior_groups(groups)[0])
    out: dict[str, list[np.ndarray]] = {"raw": [], "eb": [], "pooled": [], "covar": [], "em": []}
    for c in cats:
        n = counts[c]
        out["raw"].append((n / days)[0])
        out["eb"].append(shrunk_rates(n, days, groups, DISPERSION)[0])
        out["pooled"].append(pooled_rates(n, every - n, days, groups, DISPERSION, DISPERSION)[0])
        out["covar"].append(
            covariate_rates(n, every - n, days, groups, static, DISPERSION, DISPERSION)[0]
        )
        out["em"].append(SEPPExp(start=start).fit(events[events["category"] == c], grids, at).mu_)
    return {name: np.stack(columns, axis=1) for name, columns in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "background.json")
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
    result = {
        "benchmark": "background",
        "grids": args.grids,
        "days": args.days,
        "seed": args.seed,
        "estimated_at": str(times[0]),
        "evaluation": [str(first.date()), str(last.date())],
        "estimates": table,
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


if __name__ == "__main__":
    main()
