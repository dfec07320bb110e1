"""The blend's fit on the rows with a count against the same fit on every row (ADR 012).

    .venv/bin/python -m benchmarks.blend_fit [--rows 200000] [--repeat 5]

`models.blend.PoissonBlend` evaluates the Poisson loss only on rows with an event (`Σ w·m` is
linear in the weights). The peer is the same L-BFGS-B problem with the loss written over
every row, as it was before (commit afa4953). Both are fitted on the same synthetic components (10 gamma
columns, 30 % zeros, counts drawn from a known non-negative blend), timed alternately;
reported as medians, their ratio, and the largest difference in the fitted weights.
Writes `benchmarks/results/blend_fit.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from benchmarks.machine import machine
from models.blend import TINY, PoissonBlend

RESULTS = Path(__file__).resolve().parent / "results"
TRUE_WEIGHTS = np.array([0.5, 0.0, 1.0, 0.2, 0.0, 0.0, 0.3, 0.0, 0.1, 0.05])


def components(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, 10) expected counts and counts drawn from `TRUE_WEIGHTS` of them."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.5, 0.05, (rows, len(TRUE_WEIGHTS)))
    x[rng.random(x.shape) < 0.3] = 0.0
    return x, rng.poisson(x @ TRUE_WEIGHTS).astype(np.float64)


def every_row_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The peer: the same scaled, bounded L-BFGS-B fit with the loss over every row."""
    scale = x.mean(axis=0)
    xs = x / scale
    w = np.ones(len(y))  # the unweighted fit, written as the weighted one was
    wy = w * y

    def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
        m = np.maximum(xs @ b, TINY)
        return float(np.sum(w * m) - np.sum(wy * np.log(m))), xs.T @ (w - wy / m)

    b0 = np.full(xs.shape[1], max(float(y.mean()), TINY) / xs.shape[1])
    bounds = [(0.0, None)] * xs.shape[1]
    result = minimize(loss, b0, jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "blend_fit.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    x, y = components(args.rows)
    counted, every = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = PoissonBlend().fit(x, y).coef_
        counted.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        peer = every_row_fit(x, y)
        every.append(time.perf_counter() - t0)
    summary = {
        "benchmark": "blend_fit",
        "rows": args.rows,
        "rows_with_a_count": int((y > 0).sum()),
        "repeat": args.repeat,
        "median_counted_rows_s": float(np.median(counted)),
        "median_every_row_s": float(np.median(every)),
        "speedup": float(np.median(every) / np.median(counted)),
        "max_weight_difference": float(np.max(np.abs(ours - peer))),
        "weights": [round(float(w), 6) for w in ours],
        "machine": machine(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
