"""Benchmark: the whole feature build on a synthetic city (DESIGN §8).

    .venv/bin/python -m benchmarks.features [--grids 2000] [--days 730] [--seed 0]

Writes benchmarks/results/features.json (or --out): wall time of `build_features` (all families, all
targets, daily 08:00 issue times over the period) and the peak RSS of the process.
Uses `risk.synth.synthesise` when it exists, otherwise a random city generated here.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from shapely import box

from features.base import FeatureSpec
from features.build import FAMILY_MODULES, build_features
from features.issue_times import daily_issue_times
from risk.contract import DEFAULT_TZ, SOURCES

RESULTS = Path(__file__).resolve().parent / "results"
START = pd.Timestamp("2024-01-01")
CATEGORIES = ("dispute", "theft", "fire_hazard", "safety_hazard", "fraud", "petition")


def random_city(n_grids: int, days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Square cells on a lattice, ~20 grids per community, ~200 per street, and events with
    grid-specific rates and reporting delays (mostly hours, a few weeks)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_grids)))
    size = 0.005
    rows, cols = np.divmod(np.arange(n_grids), side)
    cells = [
        box(116 + c * size, 39 + r * size, 116 + (c + 1) * size, 39 + (r + 1) * size)
        for r, c in zip(rows, cols, strict=True)
    ]
    block = (rows // 4) * side + cols // 5
    grids = pd.DataFrame(
        {
            "grid_id": [f"g{i:05d}" for i in range(n_grids)],
            "community_id": [f"c{b}" for b in block],
            "street_id": [f"s{r // 20}" for r in rows],
            "grid_type": rng.choice(["old_residential", "new_residential", "commercial"], n_grids),
            "area_km2": np.full(n_grids, 0.3),
            "centroid_lon": [c.centroid.x for c in cells],
            "centroid_lat": [c.centroid.y for c in cells],
            "geometry": cells,
            "population": rng.integers(500, 5000, n_grids),
        }
    )
    rate = rng.lognormal(mean=np.log(0.3), sigma=0.8, size=n_grids)  # events per grid-day
    counts = rng.poisson(rate * days)
    n = int(counts.sum())
    grid_of = np.repeat(np.arange(n_grids), counts)
    start = START.tz_localize(DEFAULT_TZ)
    occurred = start + pd.to_timedelta(rng.uniform(0, days, n), unit="D")
    delay_h = np.where(rng.random(n) < 0.02, rng.uniform(24, 24 * 30, n), rng.exponential(4, n))
    events = pd.DataFrame(
        {
            "event_id": np.arange(n).astype(str),
            "occurred_at": occurred,
            "reported_at": occurred + pd.to_timedelta(delay_h, unit="h"),
            "category": rng.choice(CATEGORIES, n),
            "grid_id": grids["grid_id"].to_numpy()[grid_of],
            "source": pd.Series(rng.choice(SOURCES[:5], n), dtype="str"),
            "severity": pd.array(rng.integers(1, 6, n), dtype="Int8"),
        }
    )
    return grids, events.sort_values("occurred_at", ignore_index=True)


def city(
    n_grids: int, days: int, seed: int, generator: str = "synth"
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    try:
        from risk.synth import synthesise  # written in parallel; may not exist yet
    except ImportError:
        generator = "random"
    if generator == "random":
        grids, events = random_city(n_grids, days, seed)
        return grids, events, "benchmarks.features.random_city"
    result = synthesise(n_grids, days, seed)
    return result.grids, result.events, "risk.synth.synthesise"


def available_families() -> tuple[str, ...]:
    import importlib.util

    return tuple(f for f, m in FAMILY_MODULES.items() if importlib.util.find_spec(m) is not None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--generator",
        choices=["synth", "random"],
        default="synth",
        help="risk.synth.synthesise, or the denser random city of this file (~600k events)",
    )
    parser.add_argument("--out", default="features.json", help="file name under benchmarks/results")
    args = parser.parse_args()

    t0 = time.perf_counter()
    grids, events, generator = city(args.grids, args.days, args.seed, args.generator)
    generate_s = time.perf_counter() - t0
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    start = START.date()
    issue_times = daily_issue_times(start, start + pd.Timedelta(days=args.days - 1))
    spec = FeatureSpec(families=available_families())
    t0 = time.perf_counter()
    built = build_features(grids, events, issue_times, spec)
    build_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    frame = built.frame
    result = {
        "grids": len(grids),
        "days": args.days,
        "events": len(events),
        "issue_times": len(issue_times),
        "rows": len(frame),
        "feature_columns": len(built.info),
        "targets": list(built.targets),
        "families": list(spec.families),
        "generator": generator,
        "generate_s": round(generate_s, 2),
        "build_s": round(build_s, 2),
        "frame_mb": round(frame.memory_usage(deep=False).sum() / 2**20, 1),
        "peak_rss_mb_before_build": round(rss_before_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "target_build_s": 60,
        "target_peak_rss_mb": 4096,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
