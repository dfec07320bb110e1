"""Generality of the forecast (issue 12): the same comparison on other cities and cell sizes.

    .venv/bin/python -m benchmarks.generality [--only NAME ...] [--table] [--data CHICAGO_FOLDER]

Runs, one after another, each as its own process (the other benchmark scripts, default
settings, configuration search included):

* three synthetic cities besides the 2,000-grid benchmark: 500 grids (seed 2), 1,000 grids
  with every self-excitation halved (seed 3), 3,000 grids (seed 4) — 730 days, 26 weekly
  retrains; the 2,000-grid row is read from `benchmarks/results/backtest.json`;
* two 1,000-grid cities whose times are coarse: dates only (seed 5) and on the hour (seed 6),
  floored before the backtest (`benchmarks.backtest --resolution`); and the 2,000-grid city
  laid out in its 100 communities, about twenty grids each (`--communities`);
* Chicago at 250 m and 1 km cells (the 500 m row is `benchmarks/results/chicago/metrics.json`).

Writes `benchmarks/results/generality.json`: per city and target, LightGBM and the best
classic method on `pr_auc` and `pei@5`, and whether LightGBM is at least as good. The
individual runs' outputs go to a temporary folder; their summaries are kept under
`benchmarks/results/generality/`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "generality"
SYNTH = {
    "synth-500-seed2": ["--grids", "500", "--seed", "2"],
    "synth-1000-seed3-weaker": ["--grids", "1000", "--seed", "3", "--weaker-excitation"],
    "synth-3000-seed4": ["--grids", "3000", "--seed", "4"],
    # coarse times: dates only, and on the hour (no oracle: the true times are gone)
    "synth-1000-seed5-dates": ["--grids", "1000", "--seed", "5", "--resolution", "day"],
    "synth-1000-seed6-hours": ["--grids", "1000", "--seed", "6", "--resolution", "hour"],
    # large districts: the 2,000-grid city laid out in its 100 communities (no oracle)
    "synth-2000-seed1-communities": ["--grids", "2000", "--seed", "1", "--communities"],
}
CHICAGO = {"chicago-250m": "250", "chicago-1km": "1000"}
CLASSIC = ("historical_rate", "recent_30d", "kde", "prospective", "seppexp")


def compare(metrics: dict) -> dict:
    """Per target: LightGBM and the best classic method on pr_auc and pei@5, and what tells
    a real lead or lag from the evaluation's luck: the block-bootstrap 90 % interval of the
    paired per-day difference (`interval`, where the run computed it) and, on a city with a
    known truth, the oracle's own difference from that method (`oracle_difference`: when
    even the true expected counts trail it, the sample favours that method).

    `verdict`: "ahead" (or level), "behind, within noise" (interval reaching 0) or "behind"."""
    rows = {}
    for target, block in metrics["targets"].items():
        models = block["models"]
        row = {}
        for key in ("pr_auc", "pei@5"):
            scored = {
                m: models[m][key]
                for m in CLASSIC
                if m in models and isinstance(models[m].get(key), int | float)
            }
            best = max(scored, key=lambda m: scored[m])
            lgb = models["lightgbm"][key]
            paired = (block.get("paired") or {}).get(key, {}).get(best)
            interval = None if not paired else [paired["low"], paired["high"]]
            oracle = models.get("oracle", {}).get(key)
            if lgb >= scored[best]:
                verdict = "ahead"
            elif interval is not None and interval[1] >= 0:
                verdict = "behind, within noise"
            else:
                verdict = "behind"
            row[key] = {
                "lightgbm": lgb,
                "best_classic": best,
                "best": scored[best],
                "difference": lgb - scored[best],
                "at_least_as_good": lgb >= scored[best],
                "interval": interval,
                "oracle_difference": None if oracle is None else oracle - scored[best],
                "verdict": verdict,
            }
        rows[target] = row
    return rows


def _run(args: list[str]) -> tuple[float, str | None]:
    """Run `python -m *args`; the seconds it took and, if it failed, why (one line)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *args], check=False)
    seconds = time.perf_counter() - t0
    if done.returncode == 0:
        return seconds, None
    reason = (
        f"`python -m {' '.join(args)}` exited with status {done.returncode} "
        "(its own message is printed above)"
    )
    print(f"generality: {reason}; the other rows go on", file=sys.stderr, flush=True)
    return seconds, reason


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="run only these rows (names as in the JSON)")
    parser.add_argument(
        "--table",
        action="store_true",
        help="run nothing: rebuild generality.json from the rows' committed summaries",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="the Chicago data folder, for the Chicago rows (default: benchmarks.chicago's own, "
        "../shared/data/chicago from the working directory)",
    )
    args = parser.parse_args(argv)
    data = [] if args.data is None else ["--data", str(args.data.resolve())]
    OUT.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(args.only or ()) - {*SYNTH, *CHICAGO})
    if unknown:
        parser.error(f"unknown rows {unknown}; rows: {', '.join([*SYNTH, *CHICAGO])}")
    wanted = set() if args.table else set(args.only or [*SYNTH, *CHICAGO])
    failed: dict[str, str] = {}  # row -> why its run failed (its old summary is not used)
    with tempfile.TemporaryDirectory(prefix="generality-") as tmp:
        for name, extra in SYNTH.items():
            if name in wanted:
                summary = OUT / f"{name}.json"
                _, reason = _run(["benchmarks.backtest", *extra, "--out", f"{tmp}/{name}",
                                  "--json", str(summary)])  # fmt: skip
                if reason:
                    failed[name] = reason
        for name, cell in CHICAGO.items():
            if name in wanted:
                seconds, reason = _run(
                    ["benchmarks.chicago", *data, "--cell-m", cell, "--out", f"{tmp}/{name}"]
                )
                if reason:
                    failed[name] = reason
                    continue
                metrics = json.loads(Path(f"{tmp}/{name}/metrics.json").read_text())
                bench = metrics["benchmark"]
                keep = {
                    "targets": metrics["targets"],
                    "configuration": metrics.get("configuration"),
                    "benchmark": {k: bench[k] for k in ("cell_m", "quality_bars", "wall_s")},
                    "grids": metrics["dataset"]["grids"],
                    "seconds": seconds,
                }
                (OUT / f"{name}.json").write_text(json.dumps(keep, indent=2))

    table = {}
    sources = {
        "synth-2000-seed1": RESULTS / "backtest.json",
        **{name: OUT / f"{name}.json" for name in SYNTH},
        "chicago-500m": RESULTS / "chicago" / "metrics.json",
        **{name: OUT / f"{name}.json" for name in CHICAGO},
    }
    for name, path in sources.items():
        if name in failed:
            table[name] = {
                "status": "failed",
                "reason": failed[name],
                "all_at_least_as_good": False,
            }
            continue
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        metrics = data
        if "quality_bars" in data and "any" in data:  # a benchmarks.backtest summary
            metrics = {"targets": {t: {"models": {}, "paired": {}} for t in data["targets"]}}
            for target, row in data["targets"].items():
                block = metrics["targets"][target]
                for key in ("pr_auc", "pei@5"):
                    cell = row[key]
                    block["models"].setdefault("lightgbm", {})[key] = cell["lightgbm"]
                    block["models"].setdefault(cell["best_classic"], {})[key] = cell["best"]
                    if cell.get("oracle") is not None:
                        block["models"].setdefault("oracle", {})[key] = cell["oracle"]
                    if cell.get("paired"):
                        block["paired"][key] = {cell["best_classic"]: cell["paired"]}
        rows = compare(metrics)
        table[name] = {
            "targets": rows,
            "all_at_least_as_good": all(
                v["at_least_as_good"] for r in rows.values() for v in r.values()
            ),
            "source": str(path.relative_to(RESULTS.parent.parent)),
        }
    result = {
        "benchmark": "generality",
        "rows": table,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
    }
    (RESULTS / "generality.json").write_text(json.dumps(result, indent=2))
    for name, row in table.items():
        if row.get("status") == "failed":
            print(f"{name:28s} failed: {row['reason']}")
            continue
        worst = min(
            (v["difference"], t, k, v["verdict"])
            for t, r in row["targets"].items()
            for k, v in r.items()
        )
        print(f"{name:28s} all >= best classic: {row['all_at_least_as_good']}  worst {worst}")


if __name__ == "__main__":
    main()
