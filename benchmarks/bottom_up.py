"""Diagnostic: would `any` be forecast better as a mix of its own model and the sum of its
categories' models? Read from a backtest's predictions; nothing is refitted.

    .venv/bin/python -m benchmarks.backtest                       # writes the predictions
    .venv/bin/python -m benchmarks.bottom_up [--predictions PATH] [--out JSON]

On a city whose `any` counts exactly the events of its target categories, `any`'s expected
count has two forecasts: LightGBM's `any` model, and the sum of the category models' expected
counts (bottom-up). Forecast combination says their mean may beat both. This reads
`predictions.parquet` of `benchmarks.backtest` (default: its `--out` folder), forms the
arithmetic mix `w · bottom-up + (1 − w) · any` for a few `w`, and scores each on the same
issue days as the backtest: `pr_auc`, `pei@5` and, where the oracle's expected counts are in
the file, `miss_rate_true@10` (all as `risk.metrics` defines them), beside `seppexp`.

Out of sample as the backtest's forecasts are, but `w` is looked at on the evaluation days
themselves: a lead for a design, not a result to quote as a forecast score. Writes
`benchmarks/results/bottom_up.json`.

The mix is built into the forecaster since (ADR 026, `[stacking] any_from_categories`), so a
backtest's `any` is already mixed; the committed `bottom_up*.json` were read from backtests
before that. To repeat them, run the backtest with the mix off:
`python -m benchmarks.backtest --config '{"stacking": {"any_from_categories": 0}}'`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.machine import machine
from risk.contract import ANY_TARGET
from risk.metrics import json_ready, miss_rate_true_at, pei_at, pr_auc

RESULTS = Path(__file__).resolve().parent / "results"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
LIGHTGBM, ORACLE, SEPPEXP = "lightgbm", "oracle", "seppexp"


def panel(frame: pd.DataFrame, target: str, model: str, column: str = "score") -> pd.DataFrame:
    """(issue time × grid) values of one target and model."""
    rows = frame[(frame["target"] == target) & (frame["model"] == model)]
    return rows.pivot(index="issue_time", columns="grid_id", values=column).sort_index()


def scores(score: np.ndarray, count: np.ndarray, truth: np.ndarray | None) -> dict[str, float]:
    out = {"pr_auc": pr_auc(score, count), "pei@5": pei_at(score, count, 5)}
    if truth is not None:
        out["miss_rate_true@10"] = miss_rate_true_at(score, truth, 10)
    return out


def evaluate(frame: pd.DataFrame) -> dict[str, Any]:
    """The mixes' scores on a backtest's predictions (`predictions.parquet`'s columns), whether
    `any` counts exactly its categories' events, and the panel's size."""
    targets = [str(t) for t in frame["target"].unique()]
    categories = [t for t in targets if t != ANY_TARGET]
    direct = panel(frame, ANY_TARGET, LIGHTGBM)
    count = panel(frame, ANY_TARGET, LIGHTGBM, "count").reindex_like(direct)
    parts = {c: panel(frame, c, LIGHTGBM, "count").reindex_like(direct) for c in categories}
    covered = bool((sum(parts.values()) == count).to_numpy().all())
    bottom_up = sum(panel(frame, c, LIGHTGBM).reindex_like(direct) for c in categories)
    models = set(frame.loc[frame["target"] == ANY_TARGET, "model"].astype(str))
    truth = (
        panel(frame, ANY_TARGET, ORACLE).reindex_like(direct).to_numpy()
        if ORACLE in models
        else None
    )
    c = count.to_numpy()
    rows = {
        f"w={w}": scores((w * bottom_up + (1 - w) * direct).to_numpy(), c, truth) for w in WEIGHTS
    }
    if SEPPEXP in models:
        sepp = panel(frame, ANY_TARGET, SEPPEXP).reindex_like(direct).to_numpy()
        rows[SEPPEXP] = scores(sepp, c, truth)
    return {
        "categories": categories,
        "any_is_the_sum_of_the_categories": covered,
        "issue_times": len(direct),
        "grids": direct.shape[1],
        "scores": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--predictions", type=Path, default=RESULTS / "backtest" / "predictions.parquet"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "bottom_up.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    found = evaluate(pd.read_parquet(args.predictions))
    summary = {
        "benchmark": "bottom_up",
        "command": "python -m benchmarks.bottom_up",
        "predictions": str(args.predictions),
        "what": "w * (sum of the category models' expected counts) + (1 - w) * the any "
        "model's; w = 0 is the any model as the backtest scores it",
        **found,
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_ready(summary), indent=2) + "\n", encoding="utf-8")
    for name, values in found["scores"].items():
        print(f"  {name:10s} " + "  ".join(f"{k} {v:.4f}" for k, v in values.items()))
    covered = found["any_is_the_sum_of_the_categories"]
    print(f"any is the sum of its categories: {covered}; wrote {args.out}")


if __name__ == "__main__":
    main()
