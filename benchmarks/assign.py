"""Benchmark: point-in-polygon assignment of 300k events to 2,000 grid polygons.

Also times full event validation (`risk.validation.validate_events`) of the same 300k rows
given as CSV-like text, the path `risk validate` takes. Median of 3 runs each.

    .venv/bin/python -m benchmarks.assign [--points 300000] [--grids 2000] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from risk.assign import assign_points
from risk.validation import validate_events, validate_grids


def jittered_lattice(n_grids: int, seed: int = 0, size_deg: float = 0.01) -> pd.DataFrame:
    """Irregular quadrilaterals: a lattice whose shared vertices are jittered (still a partition)."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n_grids)))
    rows = int(np.ceil(n_grids / cols))
    vx, vy = np.meshgrid(np.arange(cols + 1), np.arange(rows + 1))
    jitter = rng.uniform(-0.3, 0.3, size=(2, rows + 1, cols + 1))
    vx = 121.0 + (vx + jitter[0]) * size_deg
    vy = 31.0 + (vy + jitter[1]) * size_deg
    r, c = np.divmod(np.arange(n_grids), cols)
    rings = np.stack(
        [
            np.stack([vx[r, c], vy[r, c]], -1),
            np.stack([vx[r, c + 1], vy[r, c + 1]], -1),
            np.stack([vx[r + 1, c + 1], vy[r + 1, c + 1]], -1),
            np.stack([vx[r + 1, c], vy[r + 1, c]], -1),
        ],
        axis=1,
    )
    polys = shapely.polygons(rings)
    raw = pd.DataFrame({"grid_id": [f"g{i:05d}" for i in range(n_grids)], "geometry": polys})
    return validate_grids(raw, file="bench").valid


def median_time(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--grids", type=int, default=2_000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "assign.json"))
    args = parser.parse_args()

    grids = jittered_lattice(args.grids)
    rng = np.random.default_rng(1)
    lon0, lat0, lon1, lat1 = shapely.total_bounds(grids["geometry"].to_numpy())
    lon = rng.uniform(lon0 - 0.005, lon1 + 0.005, args.points)
    lat = rng.uniform(lat0 - 0.005, lat1 + 0.005, args.points)

    assign_s, idx = median_time(lambda: assign_points(lon, lat, grids))
    events = pd.DataFrame(
        {
            "occurred_at": pd.Series(
                pd.Timestamp("2024-01-01")
                + pd.to_timedelta(rng.integers(0, 365 * 86400, args.points), unit="s")
            ).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "category": rng.choice(["Theft", "dispute", "Fire Hazard"], args.points),
            "lon": pd.Series(lon).map("{:.6f}".format),
            "lat": pd.Series(lat).map("{:.6f}".format),
        }
    ).astype("str")
    now = pd.Timestamp("2025-06-01", tz="Asia/Shanghai")
    validate_s, result = median_time(lambda: validate_events(events, grids, now=now))

    record = {
        "benchmark": "assign",
        "points": args.points,
        "grids": len(grids),
        "assign_points_s": round(assign_s, 3),
        "assigned_share": round(float((idx >= 0).mean()), 4),
        "validate_events_s": round(validate_s, 3),
        "validate_valid_rows": len(result.valid),
        "repeat": 3,
        "statistic": "median",
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
