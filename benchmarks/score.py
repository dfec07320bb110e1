"""Benchmark: one scoring run of a 2,000-grid city (DESIGN §8: score + explain < 5 s).

    .venv/bin/python -m benchmarks.score [--grids 2000] [--days 400] [--seed 1] [--repeat 3]

Synthesises the city, trains the forecaster with the default config on everything known at
the end of the record, saves it, then times `serve.scoring.score` at the last day's 08:00
issue time — model load, features, predict, explain (with the additivity check), the run
stored atomically, the warnings written to the review queue with their audit entries — on
a fresh SQLite file each repeat (so every repeat creates its items, the slower path).
Writes benchmarks/results/score.json (or --out): the median and every run, the median of
each step and the step that dominates.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from benchmarks.machine import machine
from models.persist import save_forecaster
from models.training import train_forecaster
from risk.contract import DEFAULT_TZ
from risk.synth import synthesise
from serve.db import make_engine, session_factory, upgrade
from serve.scoring import score

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "score.json")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="Reuse the model saved here by an earlier run (trained and saved there if absent).",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()

    t0 = time.perf_counter()
    city = synthesise(args.grids, args.days, args.seed)
    synth_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model_dir or Path(tmp) / "model"
        train_s = None
        if not (folder / "manifest.json").exists():
            t0 = time.perf_counter()
            trained = train_forecaster(city.grids, city.events, tz=DEFAULT_TZ)
            train_s = round(time.perf_counter() - t0, 2)
            # as `risk train` saves it: the drift reference too, so runs measure their health
            save_forecaster(trained.model, folder, extra=trained.manifest_extra())
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        last_day = pd.Timestamp(manifest["until"]).tz_convert(DEFAULT_TZ).date()
        issue = pd.Timestamp(f"{last_day} 08:00", tz=DEFAULT_TZ)
        runs = []
        for i in range(args.repeat):
            url = f"sqlite:///{Path(tmp) / f'risk-{i}.db'}"
            upgrade(url)
            engine = make_engine(url)
            try:
                t0 = time.perf_counter()
                summary = score(
                    issue,
                    city.grids,
                    city.events,
                    factory=session_factory(engine),
                    model_dir=folder,
                    now=datetime.now(UTC),
                    # the model's end of training, past the record's newest event: timing the
                    # run, not judging the issue time (the guard has its own tests)
                    force=True,
                )
                wall = time.perf_counter() - t0
            finally:
                engine.dispose()
            runs.append((wall, summary))
            print(f"run {i + 1}: {wall:.2f} s  {summary.timings_s}")

    walls = [w for w, _ in runs]
    steps = [k for k in runs[0][1].timings_s if k != "total"]
    step_medians = {k: round(statistics.median(s.timings_s[k] for _, s in runs), 3) for k in steps}
    last = runs[-1][1]
    result = {
        "benchmark": "risk score (one issue time, every grid and target)",
        "grids": args.grids,
        "days": args.days,
        "seed": args.seed,
        "events": len(city.events),
        "issue_time": issue.isoformat(),
        "targets": list(last.targets),
        "forecasts": last.forecasts,
        "warnings": last.warnings,
        "items_created": last.items_created,
        "features": len(manifest["feature_names"]),
        "repeat": args.repeat,
        "median_score_s": round(statistics.median(walls), 3),
        "runs_score_s": [round(w, 3) for w in walls],
        "median_step_s": step_medians,
        "dominant_step": max(step_medians, key=step_medians.get),
        "max_additivity_error": max(s.max_additivity_error for _, s in runs),
        "synthesise_s": round(synth_s, 2),
        "train_s": train_s,  # None: the model was reused (--model-dir)
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target_s": TARGET_S,
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
