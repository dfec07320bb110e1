"""Does the forecast feed on its own patrols? (issue 17, item 3)

    .venv/bin/python -m benchmarks.feedback_loop [--grids 400] [--weeks 12] [--seed 1]

Twelve weeks of daily forecasts on a synthetic city, the forecaster refitted weekly, in five
arms (`models.feedback.ARMS`): no patrols; patrols without safeguards (patrol events in labels
and features); patrols with the default safeguards (patrol events out of the labels); and, for
the decision of docs/adr/019-*, both worlds with patrol events also kept out of the features.
Rule: each day the top 5 % of grids by forecast are warned and patrolled, the top 2 % red; a
patrolled grid-day records `uplift` × its true expected events more, with source patrol.

Measured per week (`models.feedback.weekly_measures`): share of red grids that were red the
week before, Gini of warnings over grids, Spearman rank correlation of the forecast with the
generator's true risk, share of warnings on the truly riskiest grids. Affordable on 2 cores:
a few hundred grids, LightGBM at 100 rounds on one thread (`models.feedback.SIM_CONFIG`).

Writes benchmarks/results/feedback_loop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from benchmarks.machine import machine
from models.feedback import ARMS, FeedbackSetup, prepare_world, run_arm, summary
from risk.feedback import RED_PERCENT, WARN_PERCENT
from risk.metrics import json_ready
from risk.synth import synthesise

RESULTS = Path(__file__).resolve().parent / "results"
BOUND = 0.02  # the safeguarded arm's Spearman must stay this close to the no-patrol arm's
CITY_START = pd.Timestamp("2024-01-01")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=400)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--history", type=int, default=365, help="city days before week 1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--uplift", type=float, default=1.0)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--out", type=Path, default=RESULTS / "feedback_loop.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    t0 = time.perf_counter()

    days = args.history + 7 * args.weeks + 4
    city = synthesise(args.grids, days, args.seed)
    start = (CITY_START + pd.Timedelta(days=args.history)).date()
    world = prepare_world(city, start, args.weeks)
    setup = FeedbackSetup(uplift=args.uplift, seed=args.seed)
    arms: dict[str, dict] = {}
    for name in args.arms.split(","):
        result = run_arm(world, ARMS[name], setup)
        arms[name] = {
            "patrols": result.arm.patrols,
            "label_exclude_sources": list(result.arm.label_exclude_sources),
            "model_exclude_sources": list(result.arm.model_exclude_sources),
            "summary": summary(result),
            "weeks": result.weeks,
        }
        print(name, json.dumps(json_ready(arms[name]["summary"])), flush=True)

    def gap(name: str, key: str = "spearman") -> float | None:
        if name not in arms or "no_patrols" not in arms:
            return None
        return arms[name]["summary"][key] - arms["no_patrols"]["summary"][key]

    safe = gap("safeguarded")
    measures = ("spearman", "red_persistence", "warning_gini", "true_top_share")
    result = {
        "benchmark": "feedback_loop",
        "city": {
            "grids": args.grids,
            "days": days,
            "seed": args.seed,
            "events": int(len(city.events)),
            "patrol_share_of_city_events": float((city.events["source"] == "patrol").mean()),
        },
        "simulation": {
            "weeks": args.weeks,
            "first_issue": str(world.times[0]),
            "retrain_days": setup.retrain_days,
            "history_days": setup.history_days,
            "rule": f"each day the top {WARN_PERCENT:g} % of grids by forecast are warned, "
            f"approved and patrolled; the top {RED_PERCENT:g} % are red",
            "discovery": f"a patrolled grid-day finds Poisson({setup.uplift:g} x the grid's "
            "true expected count that day) extra events per category, source patrol",
            "true_risk": "oracle expected count of `any` in (t, t + 72 h] from the city's own "
            "events",
            "lightgbm_override": setup.config,
            "note": "reduced for 2 cores: a few hundred grids, 100 boosting rounds, one "
            "thread, target `any` only",
        },
        "arms": arms,
        "gap_to_no_patrols": {
            name: {key: gap(name, key) for key in measures} for name in arms if name != "no_patrols"
        },
        "bound": {
            "max_abs_spearman_gap": BOUND,
            "safeguarded_gap": safe,
            "passed": None if safe is None else abs(safe) <= BOUND,
        },
        "wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_ready(result), indent=2, allow_nan=False))
    print(json.dumps(json_ready({k: result[k] for k in ("gap_to_no_patrols", "bound")})))


if __name__ == "__main__":
    main()
