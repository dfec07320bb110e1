"""How much of the best-classic → oracle gap can any estimator close? (issue 12)

    .venv/bin/python -m benchmarks.headroom [--grids 2000] [--days 730] [--weeks 26] [--seed 1]

On the benchmark's synthetic city, the oracle knows two things no forecaster can: every
grid's true background rate μ, and the generator's exact dynamics (per-category decays,
cross-category and neighbour triggers, calendar profiles). This script keeps the oracle's
exact dynamics and replaces only μ by what could be estimated from the record, to see how
much of the gap between the best classic method (`seppexp`) and the oracle is the price of
not knowing μ:

* `oracle` — true μ, true dynamics (the limit);
* `dynamics+em_mu` — true dynamics, μ per category from `seppexp`'s EM fitted at the first
  evaluation day (what a univariate self-exciting fit can tell);
* `dynamics+em_mu_rescaled` — the same, each category's μ rescaled to the true total (its
  level bias removed, its noise kept);
* `dynamics+ideal_mu` — true dynamics, μ = Poisson(μ · T) / T with T the days of history at the
  first evaluation day: the noise of a perfect separation of background from triggered events;
* `seppexp` — the classic method, refitted weekly as in the backtest.

Writes benchmarks/results/headroom.json: `pr_auc`, `pei@5`, `miss_rate_true@10` per target and
row, and for `any` the share of the seppexp → oracle gap each row closes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from features.base import LABEL_EXCLUDE_SOURCES
from features.binning import event_arrays
from features.issue_times import daily_issue_times
from features.labels import label_columns
from models.backtest import _aware, retrain_blocks
from models.baselines import SEPPExp
from risk.contract import ANY_TARGET
from risk.metrics import json_ready, miss_rate_true_at, pei_at, pr_auc
from risk.synth import synthesise
from risk.synth.oracle import oracle_expected_counts, oracle_targets

RESULTS = Path(__file__).resolve().parent / "results"


def evaluation_city(grids: int, days: int, weeks: int, seed: int, tz: str = "Asia/Shanghai"):
    """The benchmark's synthetic city, its events with zone-aware times, and the daily issue
    times (08:00) of the last `weeks` weeks whose 72-hour windows the record covers."""
    city = synthesise(grids, days, seed)
    events = city.events.copy()
    events["occurred_at"] = _aware(events["occurred_at"], tz)
    events["reported_at"] = _aware(events["reported_at"], tz)
    last = pd.Timestamp("2024-01-01") + pd.Timedelta(days=days - 4)
    first = last - pd.Timedelta(days=7 * weeks - 1)
    return city, events, daily_issue_times(first.date(), last.date(), 8, tz)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "headroom.json")
    args = parser.parse_args()

    city, events, times = evaluation_city(args.grids, args.days, args.weeks, args.seed)
    truth, grids = city.truth, city.grids
    first, last = times[0].normalize(), times[-1].normalize()
    start = events["occurred_at"].min()
    names = oracle_targets(truth)
    cats = list(truth.categories)

    labels = label_columns(
        event_arrays(events, grids["grid_id"]),
        times.as_unit("ns").asi8,
        len(grids),
        tuple(names),
        72,
        LABEL_EXCLUDE_SOURCES,  # the labels every backtest uses (docs/adr/019-*)
    )
    counts = {t: labels[f"count_{t}"].astype(float) for t in names}

    def with_mu(mu: np.ndarray) -> np.ndarray:
        return oracle_expected_counts(
            dataclasses.replace(truth, background_per_day=mu),
            events,
            grids,
            times,
            72,
            exclude_sources=LABEL_EXCLUDE_SOURCES,
        )

    em_mu = np.zeros_like(truth.background_per_day)
    for k, category in enumerate(cats):
        chosen = events[events["category"] == category]
        em_mu[:, k] = SEPPExp(start=start).fit(chosen, grids, times[0]).mu_
    rescaled = em_mu * truth.background_per_day.sum(axis=0) / em_mu.sum(axis=0)
    history_days = (times[0] - start).total_seconds() / 86_400
    rng = np.random.default_rng(args.seed)
    ideal = rng.poisson(truth.background_per_day * history_days) / history_days

    rows = {
        "oracle": oracle_expected_counts(
            truth, events, grids, times, 72, exclude_sources=LABEL_EXCLUDE_SOURCES
        ),
        "dynamics+em_mu": with_mu(em_mu),
        "dynamics+em_mu_rescaled": with_mu(rescaled),
        "dynamics+ideal_mu": with_mu(ideal),
    }
    sepp = {t: np.zeros((len(times), len(grids))) for t in names}
    for block in retrain_blocks(len(times), 7):
        at = times[block]
        for t in names:
            chosen = events if t == ANY_TARGET else events[events["category"] == t]
            model = SEPPExp(start=start).fit(chosen, grids, at[0])
            sepp[t][block] = model.predict_count(chosen, at, 72)

    table: dict = {}
    for t in names:
        k = names.index(t)
        oracle = rows["oracle"][:, :, k]
        scored = {"seppexp": sepp[t], **{name: panel[:, :, k] for name, panel in rows.items()}}
        table[t] = {
            name: {
                "pr_auc": pr_auc(score, counts[t]),
                "pei@5": pei_at(score, counts[t], 5),
                "miss_rate_true@10": miss_rate_true_at(score, oracle),
            }
            for name, score in scored.items()
        }
    gap = {}
    for name in table[ANY_TARGET]:
        gap[name] = {
            key: (table[ANY_TARGET][name][key] - table[ANY_TARGET]["seppexp"][key])
            / (table[ANY_TARGET]["oracle"][key] - table[ANY_TARGET]["seppexp"][key])
            for key in ("pr_auc", "pei@5")
        }
    result = {
        "benchmark": "headroom",
        "grids": args.grids,
        "days": args.days,
        "seed": args.seed,
        "evaluation": [str(first.date()), str(last.date())],
        "history_days_at_first_issue": history_days,
        "targets": table,
        "any_gap_closed": gap,
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_ready(result), indent=2))
    print(json.dumps(json_ready({"any": table[ANY_TARGET], "gap_closed": gap}), indent=2))


if __name__ == "__main__":
    main()
