"""Benchmark: LightGBM fitted across a 2-worker LocalCluster vs in one process (issue 18).

    .venv/bin/python -m benchmarks.distributed_fit [--grids 400] [--days 150] [--seeds 1 2 3]
        [--eval-days 28] [--targets any dispute] [--out benchmarks/results/distributed_fit.json]

The CI test's case (tests/models/test_distributed.py: 14 days, `any` and `dispute`, seed 3
among the cities) is `--eval-days 14 --targets any dispute --out
benchmarks/results/distributed_fit_14d.json`.

On each synthetic city one feature frame is built, then the same backtest (LightGBM only,
weekly blocks, new trees every block, `--eval-days` evaluation days) runs four ways:

* ``single`` — one process, LightGBM's seed 1 (the reference);
* ``single_seed2`` — one process, LightGBM's seed 2: how far an equally valid fit — other
  bagging and feature-fraction draws — moves the numbers; the yardstick for the next two;
* ``cluster`` — the trees grown data-parallel on the cluster (`models.distributed`), seed 1;
* ``cluster_again`` — the same once more: whether the distributed fit repeats itself.

The config is the default (`models/lightgbm.toml`: blend offset as `init_score`, bagging,
early stopping on the validation slice) with negative down-sampling switched on at this size
(`[sampling] min_rows` 10,000), so sample weights take part too. Per target and run: pr_auc
and pei@5, and against ``single``: the Spearman correlation of the probabilities over every
evaluated grid-window and the mean share of each day's top 5 % the two runs share
(`agreement`). The load average is recorded: these are not quiet-machine timings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from benchmarks.machine import machine
from features.build import FeatureFrame, build_features
from models.backtest import BacktestResult, run_backtest
from risk.cluster import dask_client
from risk.synth import synthesise

RESULTS = Path(__file__).resolve().parent / "results"
TZ = "Asia/Shanghai"
LIGHTGBM = "lightgbm"
# The default settings, with negative down-sampling (and its weights) at this size.
CONFIG: dict[str, Any] = {"sampling": {"min_rows": 10_000}}


def top_share(a: np.ndarray, b: np.ndarray, percent: float = 5.0) -> float:
    """Mean over rows (issue times) of the share of `a`'s top `percent` % of columns (grids)
    that are also in `b`'s; ties are broken by column order, the same way in both."""
    k = max(1, math.ceil(a.shape[1] * percent / 100))
    top_a = np.argsort(-a, axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-b, axis=1, kind="stable")[:, :k]
    shared = [len(np.intersect1d(x, y)) for x, y in zip(top_a, top_b, strict=True)]
    return float(np.mean(shared) / k)


def agreement(a: BacktestResult, b: BacktestResult, target: str) -> dict[str, float]:
    """How far run `b` is from run `a` on `target`: pr_auc and pei@5 differences (b − a),
    Spearman correlation of the probabilities, top-5 % share (`top_share`)."""
    ma = a.metrics["targets"][target]["models"][LIGHTGBM]
    mb = b.metrics["targets"][target]["models"][LIGHTGBM]
    pa, pb = a.probs[target][LIGHTGBM], b.probs[target][LIGHTGBM]
    return {
        "d_pr_auc": float(mb["pr_auc"] - ma["pr_auc"]),
        "d_pei@5": float(mb["pei@5"] - ma["pei@5"]),
        "spearman": float(spearmanr(pa.ravel(), pb.ravel()).statistic),
        "top5_shared": top_share(pa, pb),
    }


def one_city(seed: int, args: argparse.Namespace, client: Any) -> dict[str, Any]:
    """The four backtests of one city (module docstring), one feature frame for all."""
    city = synthesise(args.grids, args.days, seed)
    last = city.events["occurred_at"].max().tz_convert(TZ).normalize() - np.timedelta64(4, "D")
    start = last - np.timedelta64(args.eval_days - 1, "D")
    options = {
        "tz": TZ,
        "models": (LIGHTGBM,),
        "search": False,
        "retrain_days": 7,
        "tree_refit_days": 7,
        "targets": args.targets,
    }
    frames: dict[str, FeatureFrame] = {}

    def build_once(*a: Any, **k: Any) -> FeatureFrame:
        if "frame" not in frames:
            frames["frame"] = build_features(*a, **k)
        return frames["frame"]

    runs: dict[str, BacktestResult] = {}
    seconds: dict[str, float] = {}
    for name, config, with_client in (
        ("single", CONFIG, False),
        ("single_seed2", {**CONFIG, "lightgbm": {"seed": 2}}, False),
        ("cluster", CONFIG, True),
        ("cluster_again", CONFIG, True),
    ):
        t0 = time.perf_counter()
        runs[name] = run_backtest(
            city.grids,
            city.events,
            start.date(),
            last.date(),
            config=config,
            build=build_once,
            client=client if with_client else None,
            **options,
        )
        seconds[name] = round(runs[name].timings["train"], 2)
        print(f"seed {seed} {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    targets = list(runs["single"].targets)
    return {
        "seed": seed,
        "events": len(city.events),
        "evaluation": [str(start.date()), str(last.date())],
        "train_seconds": seconds,
        "targets": {
            t: {
                "metrics": {
                    name: {
                        k: float(run.metrics["targets"][t]["models"][LIGHTGBM][k])
                        for k in ("pr_auc", "pei@5")
                    }
                    for name, run in runs.items()
                },
                "vs_single": {
                    name: agreement(runs["single"], runs[name], t)
                    for name in ("single_seed2", "cluster", "cluster_again")
                },
            }
            for t in targets
        },
    }


def summary(cities: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per comparison, the worst case over cities and targets: largest |Δ pr_auc| and
    |Δ pei@5|, smallest Spearman correlation and top-5 % share."""
    out: dict[str, dict[str, float]] = {}
    for name in ("single_seed2", "cluster", "cluster_again"):
        rows = [c["targets"][t]["vs_single"][name] for c in cities for t in c["targets"]]
        out[name] = {
            "max_abs_d_pr_auc": max(abs(r["d_pr_auc"]) for r in rows),
            "max_abs_d_pei@5": max(abs(r["d_pei@5"]) for r in rows),
            "min_spearman": min(r["spearman"] for r in rows),
            "min_top5_shared": min(r["top5_shared"] for r in rows),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=400)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--eval-days", type=int, default=28)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--targets", nargs="+", default=None, help="default: any + every category")
    parser.add_argument("--out", type=Path, default=RESULTS / "distributed_fit.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with dask_client("local", n_workers=2, dashboard_address=":0", echo=print) as client:
        cities = [one_city(seed, args, client) for seed in args.seeds]
    result = {
        "benchmark": "distributed_fit (issue 18): lightgbm.dask vs one process, same backtest",
        "grids": args.grids,
        "days": args.days,
        "eval_days": args.eval_days,
        "targets": args.targets or "any + every category",
        "workers": 2,
        "config_override": CONFIG,
        "worst_vs_single": summary(cities),
        "cities": cities,
        "wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["worst_vs_single"], indent=2))


if __name__ == "__main__":
    main()
