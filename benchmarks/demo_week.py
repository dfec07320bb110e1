"""Scripted check: `risk demo`, then six more daily scorings — one warning per grid and risk.

    .venv/bin/python -m benchmarks.demo_week [--out data/demo-week]

Runs the demo without the service (`risk demo --no-serve`), then scores six more days at
08:00 with `risk score --force` (the demo's history ends today, so those issue times lie in
the future: the check is about the queue, not the forecast). Between scorings a reviewer
approves the two most severe pending items of the day, as people would, so decided warnings
meet newer, overlapping windows. After every day it checks, in the service database:

* no (grid, target) has more than one open (pending or escalated) item;
* the review queue, the commander's ranked list of approved warnings and the grid workers'
  approved items (the lists the pages show, `newest_only`) hold each grid and target once.

Writes benchmarks/results/demo_week.json and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from risk.contract import DEFAULT_TZ
from risk.review import ReviewState, approve
from serve.db import make_engine, session_factory, transaction
from serve.repo.reviews import list_items, save_item

RESULTS = Path(__file__).resolve().parent / "results"
RISK = Path(sys.executable).with_name("risk")
OPEN = [ReviewState.PENDING.value, ReviewState.ESCALATED.value]
APPROVED = [ReviewState.APPROVED.value, ReviewState.DISPATCHED.value]


def _run(*args: str) -> None:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run([str(RISK), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"risk {' '.join(args[:1])} failed with exit code {done.returncode}")


def _twice(pairs: list[tuple[str, str]]) -> int:
    return sum(n > 1 for n in Counter(pairs).values())


def check_day(factory, now: datetime) -> dict[str, int]:
    with factory() as s:
        everything, _ = list_items(s, limit=None)
        queue, _ = list_items(s, state=OPEN, limit=None)
        ranked, _ = list_items(s, state=APPROVED, window_open_at=now, newest_only=True, limit=None)
        worker, _ = list_items(
            s, state=ReviewState.APPROVED.value, window_open_at=now, newest_only=True, limit=None
        )
    return {
        "items": len(everything),
        "open": len(queue),
        "pairs_open_twice": _twice([(i.grid_id, i.target) for i in queue]),
        "ranked_pairs_twice": _twice([(i.grid_id, i.target) for i in ranked]),
        "worker_pairs_twice": _twice([(i.grid_id, i.target) for i in worker]),
        "re_raised": sum(i.follows is not None for i in everything),
    }


def approve_top(factory, n: int, at: datetime) -> int:
    with transaction(factory) as s:
        queue, _ = list_items(s, state=OPEN, by_risk=True, limit=n)
        for item in queue:
            new, _ = approve(item, "demo-reviewer", at, item.version)
            save_item(s, new, item.version)
    return len(queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/demo-week"))
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--json", type=Path, default=RESULTS / "demo_week.json")
    args = parser.parse_args()

    t0 = time.perf_counter()
    _run("demo", "--out", str(args.out), "--no-serve")
    demo_s = time.perf_counter() - t0
    city = args.out / "city"
    db_url = f"sqlite:///{(args.out / 'risk.db').resolve()}"
    engine = make_engine(db_url)
    factory = session_factory(engine)
    today = pd.Timestamp.now(tz=DEFAULT_TZ).normalize()
    first = today - pd.Timedelta(days=1)  # the demo scored yesterday 08:00
    days = []
    try:
        now = datetime.now(UTC)
        days.append(
            {"issue": str((first + pd.Timedelta(hours=8)).date()), **check_day(factory, now)}
        )
        for d in range(1, args.days + 1):
            approved = approve_top(factory, 2, datetime.now(UTC))
            issue = first + pd.Timedelta(days=d, hours=8)
            _run(
                "score",
                "--grids", str(city / "grids.geojson"),
                "--events", str(city / "events.csv"),
                "--at", f"{issue:%Y-%m-%dT%H:%M}",
                "--top-percent", "5",
                "--data-dir", str(args.out),
                "--force",
            )  # fmt: skip
            now = issue.tz_convert("UTC").to_pydatetime() + timedelta(minutes=5)
            days.append(
                {"issue": str(issue.date()), "approved_before": approved, **check_day(factory, now)}
            )
    finally:
        engine.dispose()
    passed = all(
        d["pairs_open_twice"] == d["ranked_pairs_twice"] == d["worker_pairs_twice"] == 0
        for d in days
    )
    result = {
        "benchmark": "demo_week",
        "command": "python -m benchmarks.demo_week",
        "demo_s": round(demo_s, 1),
        "days": days,
        "passed": passed,
        "machine": {"cpus": os.cpu_count(), "load_average_after": os.getloadavg()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for d in days:
        print(d)
    print(f"{'passed' if passed else 'FAILED'}; written {args.json}")
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
