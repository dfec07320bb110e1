"""Benchmark `risk synth`: wall time and peak RSS of synthesise + write at 2,000 grids × 730 days.

Usage: python -m benchmarks.synth [--grids 2000] [--days 730] [--seed 1] [--repeat 3]
Writes benchmarks/results/synth.json (target, DESIGN §8: < 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from risk.synth import synthesise, write_city

RESULTS = Path(__file__).resolve().parent / "results"


def run_once(grids: int, days: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        city = synthesise(grids, days, seed)
        made = time.perf_counter()
        write_city(city, out)
        done = time.perf_counter()
        size = sum(p.stat().st_size for p in Path(out).iterdir())
    return {
        "synthesise_s": made - start,
        "write_s": done - made,
        "total_s": done - start,
        "events": len(city.events),
        "bytes_written": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    runs = [run_once(args.grids, args.days, args.seed) for _ in range(args.repeat)]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "benchmark": "risk synth",
        "grids": args.grids,
        "days": args.days,
        "seed": args.seed,
        "repeat": args.repeat,
        "events": runs[0]["events"],
        "bytes_written": runs[0]["bytes_written"],
        "median_total_s": statistics.median(r["total_s"] for r in runs),
        "median_synthesise_s": statistics.median(r["synthesise_s"] for r in runs),
        "median_write_s": statistics.median(r["write_s"] for r in runs),
        "runs_total_s": [round(r["total_s"], 3) for r in runs],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "target_s": 60,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synth.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
