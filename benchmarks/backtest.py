"""Benchmark the rolling-origin backtest and check issue #4's quality bars.

Synthetic city (default 2,000 grids × 730 days, seed 1), evaluation over the last 26 weeks
(daily 08:00 issue times), weekly retraining, LightGBM + every baseline + the oracle.
Writes benchmarks/results/backtest/{metrics.json, report.html, ...} and
benchmarks/results/backtest.json (wall time, peak RSS, metrics table, quality bars).

Usage: python -m benchmarks.backtest [--grids 2000] [--days 730] [--weeks 26] [--seed 1]
Target (DESIGN §8): < 15 min on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import pandas as pd

from models.backtest import ORACLE, run_backtest, write_outputs
from risk.metrics import json_ready
from risk.synth import synthesise

RESULTS = Path(__file__).resolve().parent / "results"
TABLE_KEYS = ("pr_auc", "pei@5", "pai@5", "ece", "miss_rate@10", "miss_rate_true@10")


def quality_bars(metrics: dict) -> dict:
    """Issue #4's bars for target `any` (and ece / segment spread for every target)."""
    models = metrics["targets"]["any"]["models"]
    lgb, oracle = models["lightgbm"], models[ORACLE]
    baselines = {k: v for k, v in models.items() if k not in ("lightgbm", ORACLE)}
    bars = {}
    for key in ("pr_auc", "pei@5"):
        best_name = max(baselines, key=lambda k: baselines[k][key])
        best = baselines[best_name][key]
        gap = oracle[key] - best
        closed = (lgb[key] - best) / gap if gap > 0 else float("nan")
        bars[f"gap_closed_{key}"] = {
            "value": closed,
            "bar": ">= 0.5",
            "passed": closed >= 0.5,
            "best_baseline": best_name,
            "best": best,
            "lightgbm": lgb[key],
            "oracle": oracle[key],
        }
    ratio = lgb["pr_auc"] / oracle["pr_auc"]
    bars["pr_auc_vs_oracle"] = {"value": ratio, "bar": ">= 0.97", "passed": ratio >= 0.97}
    bars["ece"] = {"value": lgb["ece"], "bar": "<= 0.03", "passed": lgb["ece"] <= 0.03}
    overall = lgb["miss_rate@10"]
    spread = {seg: v["miss_rate@10"] - overall for seg, v in lgb["by_segment"].items()}
    worst = max(spread, key=lambda s: abs(spread[s]))
    bars["grid_type_miss_spread"] = {
        "value": spread[worst],
        "segment": worst,
        "bar": "|x| <= 0.05",
        "passed": all(abs(v) <= 0.05 for v in spread.values()),
        "by_segment": spread,
    }
    mt = lgb["miss_rate_true@10"]
    bars["miss_rate_true@10"] = {"value": mt, "bar": "< 0.10", "passed": mt < 0.10}
    return bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "backtest")
    args = parser.parse_args()

    started = time.perf_counter()
    city = synthesise(args.grids, args.days, args.seed)
    synth_s = time.perf_counter() - started
    last_day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=args.days - 4)  # windows complete
    first_day = last_day - pd.Timedelta(days=7 * args.weeks - 1)

    def progress(step: str, done: int, total: int) -> None:
        print(f"  {step}: {done}/{total}  ({time.perf_counter() - started:.0f} s)", flush=True)

    run_started = time.perf_counter()
    result = run_backtest(
        city.grids,
        city.events,
        first_day.date(),
        last_day.date(),
        retrain_days=7,
        truth=city.truth,
        progress=progress,
    )
    backtest_s = time.perf_counter() - run_started
    paths = write_outputs(result, args.out)

    any_models = result.metrics["targets"]["any"]["models"]
    table = {m: {k: any_models[m].get(k) for k in TABLE_KEYS} for m in any_models}
    summary = {
        "benchmark": "backtest",
        "grids": args.grids,
        "days": args.days,
        "seed": args.seed,
        "weeks": args.weeks,
        "evaluation": [str(first_day.date()), str(last_day.date())],
        "events": len(city.events),
        "synth_s": synth_s,
        "backtest_s": backtest_s,
        "target_s": 900,
        "timings_s": result.metrics["timings_s"],
        "peak_rss_mb": result.metrics["peak_rss_mb"],
        "any": table,
        "quality_bars": quality_bars(result.metrics),
        "outputs": {k: str(v) for k, v in paths.items() if not k.startswith("plot:")},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "backtest.json").write_text(json.dumps(json_ready(summary), indent=2))
    print(json.dumps(json_ready(summary), indent=2))


if __name__ == "__main__":
    main()
