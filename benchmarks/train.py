"""Benchmark: a production retrain, `risk train`'s work on 2,000 grids × 365 days (issue 13).

    .venv/bin/python -m benchmarks.train [--grids 2000] [--days 400] [--seed 1] [--repeat 3]

Synthesises the city (400 days, so that the 365-day training window is full after the
warm-up), then times `models.training.train_forecaster` at the end of the record with the
packaged settings — features of every training issue time, labels recounted from what is
known, the classic stack, one blended LightGBM model per target, calibration — `--repeat`
times. Writes benchmarks/results/train.json: the median, every run, the training rows.
Target: < 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import pandas as pd

from benchmarks.machine import machine
from models.backtest import peak_rss_mb
from models.training import train_forecaster
from risk.synth import synthesise

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "train.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    city = synthesise(args.grids, args.days, args.seed)
    until = pd.Timestamp("2024-01-01 08:00", tz="Asia/Shanghai") + pd.Timedelta(days=args.days)
    runs, rows = [], None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        trained = train_forecaster(city.grids, city.events, until)
        runs.append(time.perf_counter() - t0)
        rows = trained.rows
        print(f"  train: {runs[-1]:.1f} s ({rows:,} rows)", flush=True)
    median = statistics.median(runs)
    result = {
        "benchmark": "train",
        "grids": args.grids,
        "days": args.days,
        "training_rows": rows,
        "targets": len(trained.targets),
        "median_s": median,
        "runs_s": runs,
        "target_s": TARGET_S,
        "within_target": median < TARGET_S,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
