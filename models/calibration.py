"""Probability calibrators (fit on a held-out later slice, then map raw model probabilities).

Each calibrator has `fit(prob, label, sample_weight=None) -> self` and
`transform(prob) -> calibrated prob`, both on 1-d arrays of raw probabilities in [0, 1].
Outputs are clipped to `[EPS, 1 - EPS]` (`risk.metrics.EPS`) so a log loss stays finite.
`transform_logit(z)` maps raw log-odds to calibrated log-odds without that clip: a busy grid
whose probability rounds to 1 - EPS still ranks above a busier one's (the ranking score).

`select_calibrator` measures the candidates on the slice itself: fit each on the earlier
half of its issue times, score on the later half, keep the best, refit it on the whole slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from risk.errors import ConfigError, NotFitted
from risk.metrics import EPS, ece, log_loss


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)


def _weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)


class IdentityCalibrator:
    """No change (besides the clip): the reference the others must beat."""

    name = "identity"

    def fit(self, prob: np.ndarray, label: np.ndarray, sample_weight=None) -> Self:
        self.fitted_ = True
        return self

    def transform(self, prob: np.ndarray) -> np.ndarray:
        if not hasattr(self, "fitted_"):
            raise NotFitted("identity calibrator: call fit before transform")
        return _clip(prob)

    def transform_logit(self, z: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of raw log-odds `z`, never rounded to 0 or 1 (a ranking)."""
        if not hasattr(self, "fitted_"):
            raise NotFitted("identity calibrator: call fit before transform")
        return np.asarray(z, dtype=float)


class IsotonicCalibrator:
    """Monotone step map by pool-adjacent-violators (scikit-learn's IsotonicRegression),
    linear between fitted points, flat beyond the fitted range."""

    name = "isotonic"

    def fit(self, prob: np.ndarray, label: np.ndarray, sample_weight=None) -> Self:
        prob = np.asarray(prob, dtype=float)
        self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.model_.fit(prob, np.asarray(label, dtype=float), _weights(sample_weight, len(prob)))
        return self

    def transform(self, prob: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFitted("isotonic calibrator: call fit before transform")
        return _clip(self.model_.predict(np.asarray(prob, dtype=float)))

    def transform_logit(self, z: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of raw log-odds `z`; flat where the steps are (their ties
        stay: isotonic is not the default for that reason)."""
        return logit(self.transform(expit(np.asarray(z, dtype=float))))


class PlattCalibrator:
    """`sigmoid(a · logit(p) + b)`, fitted by maximum likelihood on Platt's (1999) smoothed
    targets `(N+ + 1) / (N+ + 2)` and `1 / (N- + 2)`, which keep `a, b` finite even when the
    slice holds a single class."""

    name = "platt"

    def fit(self, prob: np.ndarray, label: np.ndarray, sample_weight=None) -> Self:
        x = logit(_clip(prob))
        y = np.asarray(label, dtype=float) >= 1
        w = _weights(sample_weight, len(x))
        n_pos, n_neg = w[y].sum(), w[~y].sum()
        target = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
        w = w / w.sum()

        def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
            z = ab[0] * x + ab[1]
            # -[t log s(z) + (1-t) log(1-s(z))] = logaddexp(0, z) - t z
            value = float(np.sum(w * (np.logaddexp(0.0, z) - target * z)))
            g = w * (expit(z) - target)
            return value, np.array([np.sum(g * x), np.sum(g)])

        result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        self.a_, self.b_ = float(result.x[0]), float(result.x[1])
        return self

    def transform(self, prob: np.ndarray) -> np.ndarray:
        if not hasattr(self, "a_"):
            raise NotFitted("platt calibrator: call fit before transform")
        return _clip(expit(self.a_ * logit(_clip(prob)) + self.b_))

    def transform_logit(self, z: np.ndarray) -> np.ndarray:
        """`a · z + b` on raw log-odds `z`, unclipped: the same order as `transform` where
        that is not clipped, and still an order where it is (a > 0)."""
        if not hasattr(self, "a_"):
            raise NotFitted("platt calibrator: call fit before transform")
        return self.a_ * np.asarray(z, dtype=float) + self.b_


class CloglogCalibrator:
    """`1 − exp(−e^b · λ^a)`, λ = −log(1 − p) the expected count the raw probability reads as:
    a power-law rescaling of the count, the complementary log-log link. Fitted by maximum
    likelihood with a weak pull towards the identity (a = 1, b = 0; `RIDGE` per unit of
    weight) that keeps it finite on a slice of one class.

    Unlike Platt's smoothed targets, a row whose probability rounds to 1 − EPS with an event
    costs almost nothing once its rescaled count is large, so the busiest grids of a coarse
    layout do not bend the fit (docs/adr/024-ranking-past-the-clip.md)."""

    name = "cloglog"
    RIDGE = 1e-4

    def fit(self, prob: np.ndarray, label: np.ndarray, sample_weight=None) -> Self:
        x = np.log(-np.log1p(-_clip(prob)))  # log λ, finite on the clipped range
        y = np.asarray(label, dtype=float) >= 1
        w = _weights(sample_weight, len(x))
        w = w / w.sum()

        def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
            u = ab[0] * x + ab[1]  # log of the rescaled count
            lam = np.exp(np.minimum(u, 700.0))
            # −[y log(1 − e^−λ) + (1 − y)(−λ)]; d/du: −y λ e^−λ/(1 − e^−λ) + (1 − y) λ
            hit = -np.expm1(-lam)
            value = float(np.sum(w * np.where(y, -np.log(np.maximum(hit, 1e-300)), lam)))
            du = w * np.where(y, -lam * np.exp(-lam) / np.maximum(hit, 1e-300), lam)
            ridge = self.RIDGE * ((ab[0] - 1.0) ** 2 + ab[1] ** 2)
            grad = np.array([np.sum(du * x), np.sum(du)])
            return value + ridge, grad + 2 * self.RIDGE * np.array([ab[0] - 1.0, ab[1]])

        result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        self.a_, self.b_ = float(result.x[0]), float(result.x[1])
        return self

    def _count(self, log_count: np.ndarray) -> np.ndarray:
        return np.exp(np.minimum(self.a_ * log_count + self.b_, 700.0))

    def transform(self, prob: np.ndarray) -> np.ndarray:
        if not hasattr(self, "a_"):
            raise NotFitted("cloglog calibrator: call fit before transform")
        return _clip(-np.expm1(-self._count(np.log(-np.log1p(-_clip(prob))))))

    def transform_logit(self, z: np.ndarray) -> np.ndarray:
        """Calibrated log-odds `log(e^λc − 1)` of raw log-odds `z`, unclipped (λ = log(1 + e^z),
        λc = e^b λ^a): rising with `z` (a > 0) where `transform` rounds to 1 − EPS."""
        if not hasattr(self, "a_"):
            raise NotFitted("cloglog calibrator: call fit before transform")
        lam = np.logaddexp(0.0, np.asarray(z, dtype=float))
        with np.errstate(divide="ignore"):
            rescaled = self._count(np.log(lam))
            return rescaled + np.log(-np.expm1(-rescaled))


CALIBRATORS = {
    c.name: c for c in (IdentityCalibrator, IsotonicCalibrator, PlattCalibrator, CloglogCalibrator)
}


@dataclass
class CalibrationChoice:
    """The kept calibrator (refitted on the whole slice) and what each candidate scored."""

    calibrator: IdentityCalibrator | IsotonicCalibrator | PlattCalibrator
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


def _metric(name: str, prob: np.ndarray, label: np.ndarray) -> float:
    p, c = prob[None, :], label[None, :].astype(float)
    return log_loss(p, c) if name == "log_loss" else ece(p, c)


def select_calibrator(
    prob: np.ndarray,
    label: np.ndarray,
    groups: np.ndarray,
    methods: list[str] | tuple[str, ...] = ("isotonic", "platt"),
    metric: str = "log_loss",
) -> CalibrationChoice:
    """Pick among `methods` by `metric` on a time split of the calibration slice.

    `groups` orders the rows in time (the issue time of each row): rows of the earlier half of
    distinct groups fit, rows of the later half score. `identity` is always measured, so a
    calibrator is kept only if it beats doing nothing (ties go to the earlier method listed,
    identity last). With fewer than two groups there is nothing to measure on: the first
    method is fitted on everything.
    """
    unknown = [m for m in methods if m not in CALIBRATORS]
    if unknown or not methods:
        raise ConfigError(
            f"calibration methods {list(methods)!r} are not accepted; "
            f"accepted: a non-empty list drawn from {sorted(CALIBRATORS)}"
        )
    prob = np.asarray(prob, dtype=float)
    label = (np.asarray(label) >= 1).astype(float)
    distinct = np.unique(groups)
    candidates = list(dict.fromkeys([*methods, "identity"]))
    if len(distinct) < 2:
        return CalibrationChoice(CALIBRATORS[methods[0]]().fit(prob, label))
    cut = distinct[len(distinct) // 2]
    early = np.asarray(groups < cut)
    scores: dict[str, dict[str, float]] = {}
    for method in candidates:
        fitted = CALIBRATORS[method]().fit(prob[early], label[early])
        held = fitted.transform(prob[~early])
        scores[method] = {
            "log_loss": _metric("log_loss", held, label[~early]),
            "ece": _metric("ece", held, label[~early]),
        }
    best = min(candidates, key=lambda m: (scores[m][metric], candidates.index(m)))
    return CalibrationChoice(CALIBRATORS[best]().fit(prob, label), scores)
