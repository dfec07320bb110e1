"""Every target's prediction and reasons for the grids of one issue time — the daily scoring's
numeric work (`serve.scoring.score_city`), on the whole city or per partition on a Dask
cluster (issue 18).

Per row, a prediction and its TreeSHAP contributions do not depend on the other rows, and
the one city-wide quantity of the reasons — the median "a typical grid" is compared with —
is computed once over the whole city (`models.explain.city_medians`) and handed to every
partition. So the partitions, put back in row order, equal the single-process run exactly.
Levels, base rates and the warning rule (a top-k % is city-wide) stay with the caller.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.base import FeatureInfo
from features.partition import map_partitions, plan_partitions
from models.explain import check_additivity, city_medians, explain, reason_lists
from models.forecaster import count_from_logit
from risk.labels import LabelTable

TOP_REASONS = 3
ADDITIVITY_ATOL = 1e-6


@dataclass(frozen=True)
class Explained:
    """Per target, in frame row order: calibrated probability, expected count, reasons
    (JSON-ready lists, `models.explain.reason_lists`); the largest additivity error; and the
    seconds spent predicting and explaining (summed over partitions)."""

    probs: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    reasons: dict[str, list[list[dict]]]
    max_additivity_error: float
    seconds: dict[str, float]


def predict(
    forecaster: Any, frame: pd.DataFrame, raw: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated probability, expected count) with one pass of the probability model (none
    when its `raw` scores are given): `predict_proba` and, without a count model,
    `predict_count` would each run it again."""
    prob, score = forecaster.predict_proba_and_score(frame, raw)
    prob = np.asarray(prob, dtype=float)
    if getattr(forecaster, "count_booster_", None) is None:
        # from the unclipped log-odds: a busy grid's count does not stop at -log(EPS)
        return prob, count_from_logit(score)
    return prob, np.asarray(forecaster.predict_count(frame), dtype=float)


def predict_and_explain(
    frame: pd.DataFrame,
    *,
    model: Any,
    info: Sequence[FeatureInfo],
    targets: Sequence[str],
    labels: LabelTable | None = None,
    medians: Mapping[str, float] | None = None,
) -> Explained:
    """Predict and explain every row of `frame` (one issue time) for each of `targets` of the
    fitted `MultiTargetForecaster` `model`. Raises `models.explain.AdditivityError` when an
    explanation does not add up to its score. `medians`: the city's, when `frame` is a part."""
    grid_ids = frame["grid_id"].astype(str).to_numpy(dtype=object)
    probs: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    reasons: dict[str, list[list[dict]]] = {}
    max_error = 0.0
    seconds = {"predict": 0.0, "explain": 0.0}
    # each target's raw scores and contributions, for a mix to reuse (ADR 026)
    raws: dict[str, np.ndarray] = {}
    done: dict[str, np.ndarray] = {}
    # a loop over the handful of targets; a mix after the targets it mixes in
    for target in sorted(targets, key=lambda t: model.forecasters_[t].mixed):
        forecaster = model.forecasters_[target]
        t0 = time.perf_counter()
        raws[target] = raw = forecaster.decision_function(frame, known=raws)
        probs[target], counts[target] = predict(forecaster, frame, raw)
        t1 = time.perf_counter()
        done[target] = contrib = forecaster.contributions(frame, known=done)
        error = check_additivity(forecaster, frame, ADDITIVITY_ATOL, contrib, raw)
        max_error = max(max_error, error)
        table = explain(
            forecaster,
            frame,
            info,
            top=TOP_REASONS,
            contributions=contrib,
            labels=labels,
            medians=medians,
        )
        # One issue time: key the reasons by grid only (skips a Timestamp per reason).
        table["issue_time"] = 0
        by_key = {(k[0], k[2]): v for k, v in reason_lists(table).items()}
        reasons[target] = [by_key.get((g, target), []) for g in grid_ids]
        seconds["predict"] += t1 - t0
        seconds["explain"] += time.perf_counter() - t1
    probs, counts, reasons = ({t: d[t] for t in targets} for d in (probs, counts, reasons))
    return Explained(probs, counts, reasons, max_error, seconds)


def predict_and_explain_partitioned(
    client: Any,
    frame: pd.DataFrame,
    grids: pd.DataFrame,
    *,
    model: Any,
    info: Sequence[FeatureInfo],
    targets: Sequence[str],
    labels: LabelTable | None = None,
    n_partitions: int | None = None,
) -> Explained:
    """`predict_and_explain(frame, ...)` per spatial partition of `grids` on the client's
    workers (`features.partition`); `frame` holds one issue time, its rows in `grids` order.
    The model, feature info and labels travel once to each worker."""
    from risk.cluster import worker_count  # the client's size; imports no Dask

    if len(frame) != len(grids):
        raise ValueError(f"the frame has {len(frame)} rows for {len(grids)} grids: one issue time")
    cores = plan_partitions(grids.reset_index(drop=True), n_partitions or 2 * worker_count(client))
    parts = map_partitions(
        client,
        predict_and_explain,
        [(frame.iloc[rows],) for rows in cores],
        model=model,
        info=list(info),
        targets=list(targets),
        labels=labels,
        medians=city_medians(frame),
    )
    return join(parts, cores, len(frame))


def join(parts: Sequence[Explained], rows: Sequence[np.ndarray], n_rows: int) -> Explained:
    """The partitions' results (`rows`: each one's row positions) in frame row order."""
    where = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    targets = list(parts[0].probs) if parts else []
    probs, counts, reasons = {}, {}, {}
    for target in targets:
        for name, out in (("probs", probs), ("counts", counts)):
            values = np.empty(n_rows, dtype=np.float64)
            values[where] = np.concatenate([getattr(p, name)[target] for p in parts])
            out[target] = values
        listed: list[list[dict]] = [[] for _ in range(n_rows)]
        for part, at in zip(parts, rows, strict=True):
            for i, r in zip(at.tolist(), part.reasons[target], strict=True):
                listed[i] = r
        reasons[target] = listed
    seconds = {k: sum(p.seconds[k] for p in parts) for k in ("predict", "explain")}
    error = max((p.max_additivity_error for p in parts), default=0.0)
    return Explained(probs, counts, reasons, error, seconds)
