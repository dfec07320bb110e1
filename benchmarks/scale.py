"""Benchmark: a large synthetic city on a local Dask cluster (issue 18).

    .venv/bin/python -m benchmarks.scale --grids 20000 --days 400 [--workers 2]
        [--train-rows 1000000] [--seed 1] [--out benchmarks/results/scale.json]

Four steps, each timed, with the peak memory of the client process and of every worker:

1. **synth** — `risk.synth.synthesise` (one process: the event process is sequential in time);
2. **features** — the frame of one training block, built per partition on the workers
   (`features.partition.build_partitioned`) at every k-th issue day, k chosen so that the
   frame holds at most `--train-rows` rows (a city of 100,000 grids × 365 days would not
   fit in memory: training needs a strided subset, daily scoring one issue time);
3. **train** — the rest of `models.training.train_forecaster` on that frame: the classic
   components, blends, calibration and covers on the client; LightGBM's trees across the
   workers (`lightgbm.dask`, `models.distributed`);
4. **score** — one daily run with explanations (`serve.scoring.score` with the client):
   features, predictions and TreeSHAP per partition on the workers, levels, warnings and
   the one transaction into a fresh SQLite database on the client.

Peak memory: every process — the client and each worker — samples its own RSS every 0.2 s
during the step (the features' worker peaks are those of the training step, whose work on
the workers is the feature build). The JSON
(`--out`, default benchmarks/results/scale.json: one entry per city size, the latest run)
also holds an *extrapolation* — not a measurement — of the scoring wall time on N workers:
the client's serial part plus the workers' summed predict + explain seconds divided by N.
Times on a shared machine are not quiet figures: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from features.partition import build_partitioned
from models.persist import save_forecaster
from models.training import train_forecaster
from risk.cluster import dask_client
from risk.contract import DEFAULT_TZ
from risk.synth import synthesise
from serve.db import make_engine, session_factory, upgrade
from serve.scoring import load_model, score

RESULTS = Path(__file__).resolve().parent / "results"
TRAINING_DAYS = 365  # models.training's max_history_days
WARMUP_DAYS = 28


class _Sampler:
    """Peak RSS of this process, sampled every 0.2 s from `start` to `stop` (MB)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.done = threading.Event()
        self.peak = 0
        self.thread: threading.Thread | None = None

    def watch(self) -> None:
        while True:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            if self.done.wait(0.2):
                return

    def start(self) -> None:
        self.peak, self.done = self.proc.memory_info().rss, threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def stop(self) -> float:
        self.done.set()
        if self.thread is not None:
            self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        return round(self.peak / 2**20, 1)


_SAMPLER = _Sampler()  # one per process: the client's, and each worker's own


def _start_sampling() -> None:
    # imported by name: run as `python -m`, this module is __main__ and is sent by value
    from benchmarks.scale import _SAMPLER

    _SAMPLER.start()


def _stop_sampling() -> float:
    from benchmarks.scale import _SAMPLER

    return _SAMPLER.stop()


@contextmanager
def peaks(client: Any, into: dict[str, Any]) -> Iterator[None]:
    """Peak RSS during the block of this process (`client_peak_mb`) and of every worker
    (`worker_peak_mb`), each sampled by itself."""
    client.run(_start_sampling)
    local = _Sampler()
    local.start()
    try:
        yield
    finally:
        into["client_peak_mb"] = local.stop()
        into["worker_peak_mb"] = sorted(client.run(_stop_sampling).values())


def issue_stride(grids: int, days: int, train_rows: int) -> int:
    """k so that a training block of daily issue times, every k-th kept, holds at most
    `train_rows` rows (grids × issue times)."""
    times = max(1, min(TRAINING_DAYS, days - WARMUP_DAYS - 3))
    return max(1, math.ceil(grids * times / train_rows))


def timed_build(client: Any, seconds: dict[str, float]) -> Callable[..., Any]:
    """`build_partitioned` on the client, its wall time added to `seconds['features']`."""

    def build(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        built = build_partitioned(client, *args, **kwargs)
        seconds["features"] = seconds.get("features", 0.0) + time.perf_counter() - t0
        seconds["rows"] = len(built.frame)
        seconds["columns"] = built.frame.shape[1]
        return built

    return build


def run(args: argparse.Namespace) -> dict[str, Any]:
    steps: dict[str, dict[str, Any]] = {}
    load_before = os.getloadavg()

    sampler = _Sampler()
    sampler.start()
    t0 = time.perf_counter()
    city = synthesise(args.grids, args.days, args.seed)
    steps["synth"] = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "client_peak_mb": sampler.stop(),
        "events": len(city.events),
        "where": "client, one process (the event process is sequential in time)",
    }
    print(f"synth: {steps['synth']}", flush=True)

    stride = issue_stride(args.grids, args.days, args.train_rows)
    with dask_client("local", n_workers=args.workers, echo=print) as client:
        seconds: dict[str, float] = {}
        memory: dict[str, Any] = {}
        t0 = time.perf_counter()
        with peaks(client, memory):
            trained = train_forecaster(
                city.grids,
                city.events,
                tz=DEFAULT_TZ,
                issue_stride=stride,
                build=timed_build(client, seconds),
                client=client,
            )
        total = time.perf_counter() - t0
        steps["features"] = {
            "wall_s": round(seconds["features"], 1),
            "rows": int(seconds["rows"]),
            "columns": int(seconds["columns"]),
            "issue_stride": stride,
            "worker_peak_mb": memory["worker_peak_mb"],
            "where": "workers, per partition",
        }
        steps["train"] = {
            "wall_s": round(total - seconds["features"], 1),
            "training_rows": trained.rows,
            "targets": len(trained.targets),
            "client_peak_mb": memory["client_peak_mb"],
            "worker_peak_mb": memory["worker_peak_mb"],  # features and trees: one window
            "where": "client (classic stack, blends, calibration, covers) and workers "
            "(LightGBM's trees, lightgbm.dask data-parallel)",
        }
        print(f"features: {steps['features']}\ntrain: {steps['train']}", flush=True)

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            save_forecaster(trained.model, folder, extra=trained.manifest_extra())
            del trained
            loaded = load_model(model_dir=folder)
            last_day = pd.Timestamp(loaded.manifest["until"]).tz_convert(DEFAULT_TZ).date()
            issue = pd.Timestamp(f"{last_day} 08:00", tz=DEFAULT_TZ)
            url = f"sqlite:///{Path(tmp) / 'risk.db'}"
            upgrade(url)
            engine = make_engine(url)
            memory = {}
            try:
                t0 = time.perf_counter()
                with peaks(client, memory):
                    summary = score(
                        issue,
                        city.grids,
                        city.events,
                        factory=session_factory(engine),
                        model=loaded,
                        now=datetime.now(UTC),
                        force=True,  # the end of training, past the newest event: timing only
                        client=client,
                    )
                wall = time.perf_counter() - t0
            finally:
                engine.dispose()
    t = summary.timings_s
    parallel = t.get("predict", 0.0) + t.get("explain", 0.0)
    serial = max(0.0, wall - t.get("partitions_wall", 0.0))
    steps["score"] = {
        "wall_s": round(wall, 1),
        "forecasts": summary.forecasts,
        "warnings": summary.warnings,
        "items_created": summary.items_created,
        "max_additivity_error": summary.max_additivity_error,
        "timings_s": t,
        **memory,
    }
    print(f"score: {steps['score']}", flush=True)
    return {
        "benchmark": "scale (issue 18): synth, features, one training block, one daily scoring",
        "grids": args.grids,
        "days": args.days,
        "seed": args.seed,
        "workers": args.workers,
        "threads_per_worker": 1,
        "train_rows_budget": args.train_rows,
        "steps": steps,
        "extrapolated_score_wall_s": {
            "note": "extrapolation, not measured: serial client part + (predict + explain "
            "worker seconds) / workers",
            **{str(n): round(serial + parallel / n, 1) for n in (2, 4, 8, 16, 32)},
        },
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
    }


def merge(path: Path, result: dict[str, Any]) -> None:
    """scale.json holds one entry per city size, the latest run of each."""
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else []
    runs = [r for r in runs if r["grids"] != result["grids"]] + [result]
    runs.sort(key=lambda r: r["grids"])
    path.write_text(json.dumps({"runs": runs}, indent=2) + "\n", encoding="utf-8")


def markdown_table(runs: list[dict[str, Any]]) -> str:
    """The README's table of `scale.json` (`--table`)."""

    def gb(mb: float | list[float]) -> str:
        return f"{max(mb) if isinstance(mb, list) else mb:,.1f}".rstrip("0").rstrip(".") + " GB"

    lines = [
        "| grids | events | synth | features (workers) | one training block (client memory) "
        "| daily scoring + explanations | load average |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        st = r["steps"]
        f, t, sc = st["features"], st["train"], st["score"]
        lines.append(
            f"| {r['grids']:,} | {st['synth']['events']:,} | {st['synth']['wall_s']:.0f} s "
            f"| {f['rows']:,} rows (issue stride {f['issue_stride']}): {f['wall_s']:.0f} s, "
            f"{gb([m / 1024 for m in f['worker_peak_mb']])} per worker "
            f"| {t['training_rows']:,} rows, {t['targets']} targets: {t['wall_s']:.0f} s, "
            f"{gb(t['client_peak_mb'] / 1024)} "
            f"| {sc['wall_s']:.0f} s ({sc['timings_s'].get('partitions_wall', 0):.0f} s on the "
            f"workers), {gb([m / 1024 for m in sc['worker_peak_mb']])} per worker, client "
            f"{gb(sc['client_peak_mb'] / 1024)} "
            f"| {r['machine']['load_average_before'][0]:.0f}–"
            f"{r['machine']['load_average_after'][0]:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    parser.add_argument(
        "--table", action="store_true", help="Print the README's table of --out and stop."
    )
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(args.out.read_text(encoding="utf-8"))["runs"]))
        return
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    merge(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
