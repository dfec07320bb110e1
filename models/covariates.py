"""A grid's static attributes as a design matrix, and a Poisson regression of counts on them
fitted at every issue time at once (the covariate prior of `models.stacking.covariate_rates`;
docs/adr/010-forecast-core-v2.md).

    static = grid_covariates(grids)                          # (G, q), standardised
    rates = poisson_glm_rates(counts, days, static, other)   # (T, G) fitted rates per day

Columns are discovered from the grid file, never configured per city: `area_km2`, the
optional population columns (`risk.contract.GRID_OPTIONAL_COLUMNS`) and every numeric
`attr_*` column that the grids have (log1p when never negative), and `grid_type` as one-hot
(types under `MIN_GROUP` grids merged). A city without attributes gets its types only; a
column that is constant, or not numeric, is left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.contract import ATTR_PREFIX, GRID_OPTIONAL_COLUMNS

RIDGE = 1.0  # penalty on every standardised coefficient but the intercept (in events)
GLM_STEPS = 12  # Newton steps at most (from the city-wide rate); ~6 on the benchmark city
MAX_STEP = 2.0  # a step moves no coefficient by more than this
CONVERGED = 1e-10  # every coefficient's step below this at every t: stop
MAX_LOG_RATE = 30.0


def attribute_columns(grids: pd.DataFrame) -> list[str]:
    """The grid file's columns the prior may read: `area_km2`, the optional population columns
    and `attr_*`, in that order (present ones only)."""
    named = [c for c in ("area_km2", *GRID_OPTIONAL_COLUMNS) if c in grids.columns]
    return named + sorted(c for c in grids.columns if str(c).startswith(ATTR_PREFIX))


def grid_covariates(grids: pd.DataFrame, groups: np.ndarray) -> np.ndarray:
    """(G, q) standardised static covariates (mean 0, standard deviation 1 over the grids).

    Numeric attribute columns (`attribute_columns`) as `log1p` when never negative, else as
    they are; missing values take the column's mean. `groups` ((G,) int codes, e.g. grid types
    with small ones merged) adds one indicator per group but the first. Constant and
    non-numeric columns are dropped, so `q` may be 0."""
    n_g = len(grids)
    columns: list[np.ndarray] = []
    for name in attribute_columns(grids):
        values = pd.to_numeric(grids[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        if finite.sum() < 2:
            continue
        if values[finite].min() >= 0:
            values = np.log1p(values)
        columns.append(np.where(finite, values, values[finite].mean()))
    codes = np.asarray(groups, dtype=np.int64)
    for code in range(1, int(codes.max()) + 1 if n_g else 0):
        columns.append((codes == code).astype(float))
    if not columns:
        return np.zeros((n_g, 0))
    design = np.column_stack(columns)
    spread = design.std(axis=0)
    keep = spread > 1e-12
    return (design[:, keep] - design[:, keep].mean(axis=0)) / spread[keep]


def poisson_glm_rates(
    counts: np.ndarray,
    days: np.ndarray,
    static: np.ndarray,
    varying: np.ndarray,
    ridge: float = RIDGE,
    steps: int = GLM_STEPS,
) -> np.ndarray:
    """(T, G) fitted rates per day `exp(β₀ + static·β + varying·γ)` of a ridge Poisson
    regression `counts[t] ~ Poisson(days[t] · rate)`, fitted separately at each issue time.

    `counts` (T, G) events known at each `t`, `days` (T, 1) the exposure, `static` (G, q)
    covariates common to every `t`, `varying` (T, G) one covariate per `t`. The penalty
    `ridge · |β, γ|² / 2` leaves the intercept free. Every `t` is fitted at once by Newton's
    method (batched normal equations), so each row depends on that row's counts only."""
    n_t, n_g = counts.shape
    design = np.column_stack([np.ones(n_g), static])  # (G, q1)
    q1 = design.shape[1]
    p = q1 + 1
    upper = np.triu_indices(q1)
    outer = design[:, upper[0]] * design[:, upper[1]]  # (G, q1 (q1 + 1) / 2): H is symmetric
    # the intercept is free; a trace keeps a column without information (or a t without
    # events) solvable
    penalty = np.full(p, max(float(ridge), 1e-9))
    penalty[0] = 1e-9
    beta = np.zeros((n_t, p))
    beta[:, 0] = np.log((counts.sum(axis=1) + 0.5) / (max(n_g, 1) * days[:, 0]))

    def log_rate(b: np.ndarray) -> np.ndarray:
        return np.minimum(b[:, :q1] @ design.T + varying * b[:, q1:], MAX_LOG_RATE)

    for _ in range(steps):
        mu = days * np.exp(log_rate(beta))
        resid = counts - mu
        grad = np.column_stack([resid @ design, (resid * varying).sum(axis=1)]) - penalty * beta
        hess = np.empty((n_t, p, p))
        block = mu @ outer
        hess[:, upper[0], upper[1]] = block
        hess[:, upper[1], upper[0]] = block
        cross = (mu * varying) @ design
        hess[:, :q1, q1] = cross
        hess[:, q1, :q1] = cross
        hess[:, q1, q1] = (mu * varying**2).sum(axis=1)
        hess += np.diag(penalty)
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        beta += step / np.maximum(1.0, np.abs(step).max(axis=1, keepdims=True) / MAX_STEP)
        if n_t and np.abs(step).max() < CONVERGED:  # every t converged (Newton: quadratically)
            break
    return np.exp(log_rate(beta))
