"""Benchmark: LightGBM's fits with one BLAS thread against OpenBLAS's default (one per core).

    .venv/bin/python -m benchmarks.blas_threads --data ../shared/data/chicago [--repeat 3]

The first three weekly blocks of the Chicago benchmark (500 m cells, evaluation 2017-07-01 …
07-21, every model, no configuration search) run with `models.threads.BLAS_LIMIT` = 1 (the
default) and None (OpenBLAS's own choice), alternately, `--repeat` times each, in one process
with passive OpenMP waiting as `benchmarks.chicago` has it. Writes
`benchmarks/results/blas_threads.json`: each arm's wall times and median, the median of
each timing, the ratio of the medians, and how far LightGBM's metrics differ between the arms
(BLAS may sum a product in another order with more threads).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import models.threads as threads
from benchmarks.chicago import CALENDAR, TZ, load_city
from benchmarks.machine import machine
from models.backtest import LIGHTGBM, run_backtest
from risk.metrics import json_ready

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
START, END = "2017-07-01", "2017-07-21"
ARMS = {"one_thread": 1, "openblas_default": None}


def _lightgbm_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {
        target: {
            name: float(values[LIGHTGBM][name])
            for name in ("pr_auc", "pei@5", "ece")
            if name in values[LIGHTGBM]
        }
        for target, values in ((t, v["models"]) for t, v in metrics["targets"].items())
        if LIGHTGBM in values
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "chicago")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "blas_threads.json")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if "OMP_WAIT_POLICY" not in os.environ:  # as benchmarks.chicago: read when LightGBM loads
        os.environ["OMP_WAIT_POLICY"] = "passive"
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks.blas_threads", *sys.argv[1:]])

    load_before = os.getloadavg()
    grids, events, _ = load_city(args.data)
    walls: dict[str, list[float]] = {arm: [] for arm in ARMS}
    timings: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for run in range(max(1, args.repeat)):
        for arm, limit in ARMS.items():
            threads.BLAS_LIMIT = limit
            started = time.perf_counter()
            result = run_backtest(
                grids, events, START, END, retrain_days=7, tz=TZ, calendar=CALENDAR,
                search=False, seed=0,
            )  # fmt: skip
            walls[arm].append(round(time.perf_counter() - started, 2))
            timings[arm].append(result.metrics["timings_s"])
            scores[arm] = _lightgbm_metrics(result.metrics)
            print(f"  run {run + 1}, {arm}: {walls[arm][-1]:.1f} s", flush=True)
    threads.BLAS_LIMIT = 1
    medians = {arm: statistics.median(values) for arm, values in walls.items()}
    differences = [
        abs(scores["one_thread"][t][m] - scores["openblas_default"][t][m])
        for t in scores["one_thread"]
        for m in scores["one_thread"][t]
    ]
    summary = {
        "benchmark": "blas_threads",
        "command": "python -m benchmarks.blas_threads --data ../shared/data/chicago",
        "what": "Chicago 500 m, evaluation 2017-07-01..07-21 (3 weekly blocks), every model, "
        "no search; models.threads.BLAS_LIMIT 1 vs None (OpenBLAS default), alternating",
        "cells": len(grids),
        "events": len(events),
        "runs_s": walls,
        "median_s": medians,
        "median_timings_s": {
            arm: {k: statistics.median(t[k] for t in runs) for k in runs[0]}
            for arm, runs in timings.items()
        },
        "default_over_one_thread": round(medians["openblas_default"] / medians["one_thread"], 3),
        "lightgbm_metrics": scores,
        "max_abs_metric_difference": max(differences) if differences else 0.0,
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_ready(summary), indent=2) + "\n", encoding="utf-8")
    print(
        f"one thread {medians['one_thread']:.1f} s, OpenBLAS default "
        f"{medians['openblas_default']:.1f} s (x{summary['default_over_one_thread']}); "
        f"largest metric difference {summary['max_abs_metric_difference']:.2e}; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
