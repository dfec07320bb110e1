"""Do the risk levels keep their promise on held-out issue times? Three rules for the precision
bound of `risk.levels.operating_points` (docs/adr/013-levels-as-operating-points.md).

    .venv/bin/python -m benchmarks.level_bounds [--only NAME ...]

Each city's LightGBM backtest (no classic methods, default settings, no configuration
search: the levels do not depend on them) runs once. Whenever a block's model chooses its
operating points on its calibration slice, every rule chooses them on the same rows and
probabilities:

* `wilson` — `[support] cluster_days = 0`: the Wilson bound alone, every grid-window an
  independent trial (the rule before);
* `mean` — `cluster_days = 7, promise = "mean"`: the more conservative of the Wilson bound and
  the cluster-robust bound, over weeks of issue days, on the mean precision;
* `week` — `cluster_days = 7, promise = "week"`: the same with the cluster-robust prediction
  bound of one coming week's precision (`risk/levels.toml` as packaged).

Each rule's thresholds then level that block's evaluation probabilities. Per target the JSON
records each level's share of the evaluation's grid-windows, precision and recall
(`risk.levels.level_table`), red per block (start, threshold, precision on the slice,
evaluation rows flagged red and how many saw an event), and the last block's operating points.
The packaged rule's table is checked against the backtest's own.

Cities (`--only` picks some; default the first three):

* `synth-500-seed2`, `synth-1000-seed3-weaker` — `benchmarks.generality`'s synthetic cities:
  730 days, the last 26 weeks evaluated daily, weekly retraining;
* `chicago-1km` — Chicago (`benchmarks.chicago`'s data and evaluation, 1 km cells), when
  `--data` holds it;
* `chicago-500m`, `synth-2000-seed1` — the two committed benchmarks' cities (slower).

Writes `benchmarks/results/level_bounds.json` (rows of earlier runs are kept unless run again).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

import models.forecaster
from benchmarks.backtest import weaker_excitation
from benchmarks.chicago import CALENDAR, END, RETRAIN_DAYS, START, TZ, load_city
from benchmarks.machine import machine
from models.backtest import LIGHTGBM, retrain_blocks, run_backtest
from risk.levels import level_table, levels_at, load_level_config, operating_points
from risk.metrics import json_ready
from risk.synth import synthesise

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "level_bounds.json"
SYNTH: dict[str, dict[str, Any]] = {
    "synth-500-seed2": {"grids": 500, "seed": 2, "weaker": False},
    "synth-1000-seed3-weaker": {"grids": 1000, "seed": 3, "weaker": True},
    "synth-2000-seed1": {"grids": 2000, "seed": 1, "weaker": False},
}
CHICAGO = {"chicago-1km": 1000.0, "chicago-500m": 500.0}
DEFAULT = ("synth-500-seed2", "synth-1000-seed3-weaker", "chicago-1km")
DAYS, WEEKS = 730, 26
# rule name -> the [support] settings it changes: the rule before (Wilson alone), the
# cluster-robust bound on the mean precision, and on one coming week's (the packaged one)
RULES: dict[str, dict[str, Any]] = {
    "wilson": {"cluster_days": 0},
    "mean": {"cluster_days": 7, "promise": "mean"},
    "week": {"cluster_days": 7, "promise": "week"},
}
RED_PRECISION = 0.80


class PointsRecorder:
    """Stands in for `operating_points` inside the forecaster: chooses the points with every
    rule on the same rows, keeps them by (block, target), and returns the packaged rule's."""

    def __init__(self) -> None:
        self.config = load_level_config()
        self.packaged = next(
            (r for r, c in RULES.items() if all(self.config[k] == v for k, v in c.items())), None
        )
        if self.packaged is None:
            raise RuntimeError(f"risk/levels.toml matches none of the rules {sorted(RULES)}")
        self.block: int | None = None
        self.target: str | None = None
        self.points: dict[tuple[int, str], dict[str, Any]] = {}

    def progress(self, step: str, done: int, total: int) -> None:
        if step == "blocks":
            self.block = done

    def __call__(self, prob: Any, label: Any, config: Any = None, *, issue_time: Any = None):
        chosen = {
            rule: operating_points(prob, label, {**self.config, **change}, issue_time=issue_time)
            for rule, change in RULES.items()
        }
        if self.block is not None and self.target is not None:
            self.points[self.block, self.target] = chosen
        return chosen[self.packaged]


def city(name: str, data: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """`(grids, events, backtest keyword arguments)` of a named city."""
    if name in SYNTH:
        spec = SYNTH[name]
        made = synthesise(
            spec["grids"],
            DAYS,
            spec["seed"],
            params=weaker_excitation() if spec["weaker"] else None,
        )
        last_day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=DAYS - 4)
        first_day = last_day - pd.Timedelta(days=7 * WEEKS - 1)
        return made.grids, made.events, {"start": first_day.date(), "end": last_day.date()}
    grids, events, _ = load_city(data, CHICAGO[name])
    return grids, events, {"start": START, "end": END, "tz": TZ, "calendar": CALENDAR}


def verdict(targets: dict[str, Any]) -> dict[str, Any]:
    """Targets where red was issued on the evaluation, and those below 0.80 there."""
    issued = {
        t: v["measured"]["red"] for t, v in targets.items() if v["measured"]["red"]["flagged"]
    }
    return {
        "red_issued": sorted(issued),
        "red_below_bar": sorted(t for t, r in issued.items() if r["precision"] < RED_PRECISION),
    }


def run_city(name: str, data: Path) -> dict[str, Any]:
    grids, events, kwargs = city(name, data)
    recorder = PointsRecorder()
    calibrate = models.forecaster.LightGBMForecaster._calibrate

    def calibrate_recorded(self, *args: Any) -> Any:
        recorder.target = self.target
        return calibrate(self, *args)

    started = time.perf_counter()
    with (
        mock.patch.object(models.forecaster, "operating_points", recorder),
        mock.patch.object(models.forecaster.LightGBMForecaster, "_calibrate", calibrate_recorded),
    ):
        result = run_backtest(
            grids,
            events,
            retrain_days=RETRAIN_DAYS,
            models=(LIGHTGBM,),
            search=False,
            progress=recorder.progress,
            **kwargs,
        )
    blocks = retrain_blocks(len(result.issue_times), RETRAIN_DAYS)
    rules: dict[str, Any] = {}
    for rule in RULES:
        targets = {}
        for t in result.targets:
            if not result.metrics["targets"][t].get("levels"):
                continue
            prob, count = result.probs[t][LIGHTGBM], result.counts[t]
            level = np.full(prob.shape, "blue", dtype=object)
            by_block = []  # red per block: its start, threshold, promise; evaluation rows, hits
            for b, block in enumerate(blocks):
                if (b, t) in recorder.points:
                    point = recorder.points[b, t][rule]
                    level[block] = levels_at(prob[block], point)
                    red = level[block] == "red"
                    by_block.append([
                        str(result.issue_times[block][0].date()), point["red"]["threshold"],
                        point["red"]["precision"], int(red.sum()), int((count[block][red] >= 1).sum()),
                    ])  # fmt: skip
            targets[t] = {
                "base_rate": result.metrics["targets"][t]["base_rate"],
                "measured": level_table(level, count),
                "last_block": recorder.points.get((len(blocks) - 1, t), {}).get(rule),
                "red_by_block": by_block,
            }
            if (
                rule == recorder.packaged
                and targets[t]["measured"] != (result.metrics["targets"][t]["levels"]["measured"])
            ):
                raise RuntimeError(f"{name} {t}: the recorded levels differ from the backtest's")
        rules[rule] = {"settings": RULES[rule], "targets": targets, **verdict(targets)}
        print(f"{name} {rule}: " + ", ".join(
            f"{t} red {v['measured']['red']['precision']} over {v['measured']['red']['share']:.4f}"
            for t, v in targets.items()), flush=True)  # fmt: skip
    return {
        "grids": len(grids),
        "events": len(events),
        "evaluation": [str(kwargs["start"]), str(kwargs["end"])],
        "blocks": len(blocks),
        "seconds": time.perf_counter() - started,
        "rules": rules,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=[*SYNTH, *CHICAGO], help="cities to run")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "chicago")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    load_before = os.getloadavg()
    previous = json.loads(OUT.read_text()) if OUT.exists() else {}
    rows = dict(previous.get("rows", {}))
    for name in args.only or DEFAULT:  # written after each city: a long run keeps what it did
        rows[name] = run_city(name, args.data)
        result = {
            "benchmark": "level_bounds",
            "command": ".venv/bin/python -m benchmarks.level_bounds --only " + " ".join(rows),
            "rules": {
                "wilson": "[support] cluster_days = 0: the one-sided Wilson bound alone (before)",
                "mean": "cluster_days = 7, promise = mean: min(Wilson, cluster-robust bound on "
                "the mean precision over weeks)",
                "week": "cluster_days = 7, promise = week: min(Wilson, cluster-robust prediction "
                "bound of one coming week's precision) — risk/levels.toml as packaged",
            },
            "confidence": load_level_config()["confidence"],
            "rows": rows,
            "machine": machine(load_before),
        }
        OUT.write_text(json.dumps(json_ready(result), indent=2))


if __name__ == "__main__":
    main()
