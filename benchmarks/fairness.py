"""Benchmark: calibration by segment (docs/adr/020-fairness-by-segment.md) on the demo-sized
synthetic city, and the street spreads of the committed Chicago run.

    .venv/bin/python -m benchmarks.fairness [--grids 400] [--days 540] [--weeks 4] [--seed 1]

A demo-sized city (400 grids, 540 days from 2024-01-01, seed 1; `risk demo` uses the same
city dated to end today) backtested over its last `--weeks` weeks with the packaged settings,
as `risk demo` does. For every target and segment kind: each method's ECE spread (worst
segment's ECE minus its overall ECE, over segments with at least the gate's `min_rows` rows),
and the verdict of every gate of `models/gates.toml` on every target. For Chicago (no grid
types or population columns), the spreads over community areas from
benchmarks/results/chicago/metrics.json. Writes benchmarks/results/fairness.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.backtest import evaluation_days
from benchmarks.machine import machine
from models.backtest import run_backtest
from models.gates import check_gates, load_gate_config
from risk.metrics import json_ready, segment_key
from risk.synth import synthesise

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("grid_type", "street", "elderly_share", "floating_share", "rental_share")


def spreads(metrics: dict[str, Any], min_rows: int) -> dict[str, Any]:
    """Per target, kind and method: the worst segment (at least `min_rows` rows), its ECE and
    its spread over the method's overall ECE."""
    out: dict[str, Any] = {}
    for target, block in metrics["targets"].items():
        for kind in KINDS:
            key = segment_key(kind)
            row = {}
            for name, m in block["models"].items():
                segs = {
                    s: v["ece"]
                    for s, v in (m.get(key) or {}).items()
                    if v.get("ece") is not None and v.get("rows", 0) >= min_rows
                }
                if segs and m.get("ece") is not None:
                    worst = max(sorted(segs), key=lambda s: segs[s])
                    row[name] = {
                        "ece": m["ece"],
                        "worst": worst,
                        "worst_ece": segs[worst],
                        "spread": segs[worst] - m["ece"],
                    }
            if row:
                out.setdefault(target, {})[kind] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=400)
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=RESULTS / "fairness.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    city = synthesise(args.grids, args.days, args.seed)
    first_day, last_day = evaluation_days(args.days, args.weeks)
    # the packaged settings, as `risk demo` runs it
    result = run_backtest(
        city.grids, city.events, first_day.date(), last_day.date(), truth=city.truth, search=False
    )
    gates = load_gate_config()
    every_target = replace(gates, targets=tuple(result.targets))
    chicago_file = RESULTS / "chicago" / "metrics.json"
    chicago = json.loads(chicago_file.read_text()) if chicago_file.exists() else None
    summary = {
        "benchmark": "fairness",
        "command": "python -m benchmarks.fairness",
        "city": {"grids": args.grids, "days": args.days, "seed": args.seed},
        "evaluation": [str(first_day.date()), str(last_day.date())],
        "segments": result.metrics["segments"],
        "min_rows": gates.ece_segment_min_rows,
        "ece_spreads": spreads(result.metrics, gates.ece_segment_min_rows),
        "gates_every_target": [g.as_dict() for g in check_gates(result.metrics, every_target)],
        "warning_rates_any": result.metrics["targets"]["any"].get("warning_rates"),
        "chicago_street_ece_spreads": spreads(chicago, 0) if chicago else None,
        "notes": result.notes,
        "wall_s": time.perf_counter() - started,
        "machine": machine(load_before),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(json_ready(summary), indent=2))
    print(json.dumps(json_ready(summary["gates_every_target"]), indent=2))


if __name__ == "__main__":
    main()
