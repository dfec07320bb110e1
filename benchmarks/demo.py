"""Benchmark: `risk demo` after the install step, to the service answering (issue 13: < 60 s).

    .venv/bin/python -m benchmarks.demo [--repeat 3] [--port 8765]

Starts `risk demo --out TMP --port PORT` (what `make demo` runs once `.venv` exists) and
times it until `GET /api/v1/health` answers 200, then stops it. Repeats and writes
benchmarks/results/demo.json with the median and every run, and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.machine import machine

RESULTS = Path(__file__).resolve().parent / "results"
RISK = Path(sys.executable).with_name("risk")
TARGET_S = 60.0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def one_run(port: int, limit_s: float = 900) -> float:
    """Seconds from starting `risk demo` to the service answering."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(RISK), "demo", "--out", f"{tmp}/demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            while not _answers(f"http://127.0.0.1:{port}/api/v1/health"):
                if proc.poll() is not None:
                    raise SystemExit(
                        f"risk demo ended with {proc.returncode}: {proc.stderr.read()}"
                    )
                if time.perf_counter() - t0 > limit_s:
                    raise SystemExit(f"risk demo did not answer within {limit_s} s")
                time.sleep(0.2)
            return time.perf_counter() - t0
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, default=RESULTS / "demo.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs = [round(one_run(args.port), 1) for _ in range(args.repeat)]
    median = statistics.median(runs)
    result = {
        "benchmark": "demo",
        "command": "python -m benchmarks.demo",
        "what": "risk demo (400 grids, 540 days) from start to GET /api/v1/health = 200",
        "median_s": median,
        "runs_s": runs,
        "target_s": TARGET_S,
        "within_target": median < TARGET_S,
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
