"""A non-negative Poisson blend of the classic components: the forecaster's starting point.

    blend = PoissonBlend().fit(X, count)          # X: (n, k) expected counts, one per method
    offset = blend.predict(X)                       # Σ_j β_j X_j, β_j ≥ 0

The expected count in the window is modelled as a non-negative weighted sum of what the
classic methods say (a long-run rate, self-excitation from each category, neighbours, KDE,
...), fitted by Poisson maximum likelihood with the identity link. With β ≥ 0 each weight
reads as "how much of this method", the sum stays a count, and a multivariate self-exciting
process (background + triggers from several categories) is exactly of this form. LightGBM
then starts from `log(blend)` and learns only corrections (docs/adr/010-forecast-core-v2.md).

Columns are scaled to mean 1 before the fit so that the bounded L-BFGS-B problem is well
conditioned; predictions are floored at `floor_share` × the mean fitted count, so that a
grid no method gives any weight still has a finite log.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from risk.errors import NotFitted

TINY = 1e-12


class PoissonBlend(BaseEstimator):
    """Non-negative identity-link Poisson regression without intercept.

    Scikit-learn contract: arguments stored unchanged; `fit` sets `coef_`, `floor_`,
    `n_iter_`; `predict` before `fit` raises `risk.errors.NotFitted`.
    """

    def __init__(self, floor_share: float = 0.01, max_iter: int = 500) -> None:
        self.floor_share = floor_share
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Self:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n, k) with n = len(y); got {X.shape} and {y.shape}")
        if not np.isfinite(X).all() or (X < 0).any():
            raise ValueError("blend components must be finite expected counts (>= 0)")
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        scale = X.mean(axis=0)
        usable = scale > 0
        coef = np.zeros(X.shape[1])
        self.n_iter_ = 0
        if usable.any() and w.sum() > 0:
            Xs = X[:, usable] / scale[usable]
            wy = w * y
            # Σ w·m is linear in b (its gradient a constant), and only rows with a count
            # enter the log term: each step touches the few rows with an event, not them all.
            linear = Xs.T @ w
            counted = wy > 0
            Xc, wyc = Xs[counted], wy[counted]

            def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
                m = np.maximum(Xc @ b, TINY)
                value = float(linear @ b - wyc @ np.log(m))
                grad = linear - Xc.T @ (wyc / m)
                return value, grad

            # start from equal weights whose sum matches the mean count
            target = max(float(np.average(y, weights=w)), TINY)
            b0 = np.full(Xs.shape[1], target / Xs.shape[1])
            result = minimize(
                loss,
                b0,
                jac=True,
                method="L-BFGS-B",
                bounds=[(0.0, None)] * Xs.shape[1],
                options={"maxiter": self.max_iter},
            )
            coef[usable] = result.x / scale[usable]
            self.n_iter_ = int(result.nit)
        self.coef_ = coef
        fitted = X @ coef
        self.floor_ = self.floor_share * max(float(np.average(fitted, weights=w)), TINY)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n,) blended expected counts, at least `floor_`."""
        if not hasattr(self, "coef_"):
            raise NotFitted("PoissonBlend: call fit(X, y) before predict")
        X = np.asarray(X, dtype=np.float64)
        return np.maximum(X @ self.coef_, self.floor_)
