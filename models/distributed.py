"""One LightGBM fit across a Dask cluster's workers (`lightgbm.dask`; issue 18, ADR 021).

`train_on_cluster` grows the trees `models.forecaster` grows in one process — the same
parameters, rows, sample weights (negative down-sampling) and `init_score` offsets (the
blend) — with LightGBM's data-parallel learner: the training rows are dealt to the workers,
every worker bins and builds histograms on its share, and the trees are agreed over
LightGBM's own network (ports chosen free by `lightgbm.dask`). The booster comes back to the
client, where the calibration, the levels and the SHAP covers are fitted as before.

Early stopping: `lightgbm.dask` does not support it (a worker that stops while another
continues hangs the network). Here every worker evaluates the *whole* validation slice —
sent to each, binned with the training set's (network-agreed) bin edges — so every worker
computes the same metric on the same trees and stops at the same round, the round the
single process's rule (`lightgbm.early_stopping`) picks on those trees.

What differs from one process, by design of the data-parallel learner: each feature's bin
edges come from one worker's sample of its share, and bagging samples each worker's rows;
the trees differ slightly (the tolerance is measured in ADR 021). Dask is imported only
inside `train_on_cluster`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

# The network addresses a distributed fit ran on; dropped from the returned booster so a saved
# model names no worker's address and port (`num_machines` stays: it records the fit's kind).
NETWORK_PARAMS = ("machines", "local_listen_port")
_NETWORK_LINE = re.compile(r"^\[(?:" + "|".join(NETWORK_PARAMS) + r"): [^\n]*\]\n", re.M)


@dataclass(frozen=True)
class FitRows:
    """Rows of one LightGBM fit: features `x`, labels `y`, sample weights and offsets."""

    x: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray | None = None
    init: np.ndarray | None = None


class WholeValidation:
    """LightGBM callback run before the first round: adds `rows` (the whole validation slice)
    as the booster's validation set, binned with the training set's bin edges, so that the
    early stopping that follows judges every worker's trees on the same rows."""

    before_iteration = True
    order = 0

    def __init__(self, rows: FitRows) -> None:
        self.rows = rows

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        if env.iteration != env.begin_iteration:
            return
        booster = env.model
        valid = lgb.Dataset(
            self.rows.x,
            label=self.rows.y,
            init_score=self.rows.init,
            reference=booster.train_set,
            params=booster.train_set.get_params(),
        )
        booster.add_valid(valid, "valid_0")


def deal_rows(n_rows: int, n_workers: int) -> list[np.ndarray]:
    """Row positions of each worker's share: row `i` to worker `i mod n` (every share spans
    the whole period and city, so each worker's sample of a feature — from which LightGBM
    takes that feature's bin edges — looks like the whole slice); no empty share."""
    n = max(1, min(n_workers, n_rows))
    return [np.arange(k, n_rows, n) for k in range(n)]


def _scattered(client: Any, rows: FitRows, shares: list[np.ndarray]) -> dict[str, Any]:
    """`rows` as Dask collections whose k-th partition lives on the k-th worker."""
    import dask.dataframe as dd  # the dask extra; only when a client is given

    workers = sorted(client.nthreads())
    parts: dict[str, list[Any]] = {"x": [], "y": [], "weight": [], "init": []}
    for k, share in enumerate(shares):
        pieces = {
            "x": rows.x.iloc[share],
            "y": pd.Series(rows.y[share]),
            "weight": None if rows.weight is None else pd.Series(rows.weight[share]),
            "init": None if rows.init is None else pd.Series(rows.init[share]),
        }
        present = {name: value for name, value in pieces.items() if value is not None}
        futures = client.scatter(
            list(present.values()), workers=[workers[k % len(workers)]], hash=False
        )
        for name, future in zip(present, futures, strict=True):
            parts[name].append(future)
    metas = {
        "x": rows.x.iloc[:0],
        "y": pd.Series(rows.y[:0]),
        "weight": pd.Series(np.empty(0)),
        "init": pd.Series(np.empty(0)),
    }
    return {
        name: dd.from_delayed(futures, meta=metas[name], verify_meta=False) if futures else None
        for name, futures in parts.items()
    }


def train_on_cluster(
    client: Any,
    params: dict[str, Any],
    training: dict[str, Any],
    train: FitRows,
    valid: FitRows,
) -> lgb.Booster:
    """`lightgbm.train(params, train, num_boost_round, valid_sets=[valid], early stopping)`
    as `models.forecaster` calls it, run data-parallel on the client's workers (module
    docstring). The booster's `best_iteration` is the early-stopped round."""
    from lightgbm.dask import DaskLGBMRegressor  # imports dask

    from risk.cluster import worker_count

    shares = deal_rows(len(train.x), worker_count(client))
    data = _scattered(client, train, shares)
    # LightGBM's own parameter names win over the scikit-learn aliases' defaults; the
    # estimator class only carries them (objective and all come from `params`).
    local = {k: v for k, v in params.items() if k not in ("num_threads", "n_jobs")}
    model = DaskLGBMRegressor(client=client, n_estimators=training["num_boost_round"], **local)
    # The validation slice travels once to each worker, not inside every task's arguments.
    whole = client.scatter(WholeValidation(valid), broadcast=True, hash=False)
    try:
        with warnings.catch_warnings():  # it drops the estimator's n_jobs=None, as it should
            warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")
            model.fit(
                data["x"],
                data["y"],
                sample_weight=data["weight"],
                init_score=data["init"],
                callbacks=[
                    whole,  # resolved to the callback on each worker
                    lgb.early_stopping(training["early_stopping_rounds"], verbose=False),
                ],
            )
    finally:
        whole.release()
    booster = lgb.Booster(model_str=_NETWORK_LINE.sub("", model.booster_.model_to_string()))
    booster.best_iteration = model.booster_.best_iteration
    return booster
