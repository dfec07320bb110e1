"""Calibrators: exact isotonic values on a tiny case, Platt's smoothed targets, ECE reduction,
and the measured choice between them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from models.calibration import (
    CloglogCalibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    PlattCalibrator,
    select_calibrator,
)
from risk.errors import ConfigError, NotFitted
from risk.metrics import EPS, ece


def miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True p ~ U(0.02, 0.6); the score is sigmoid(0.5 · logit(p) + 1): too high everywhere
    (p = 0.1 scores sigmoid(0.5 · -2.197 + 1) = sigmoid(-0.099) = 0.475)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.6, n)
    label = (rng.random(n) < p).astype(float)
    return p, expit(0.5 * logit(p) + 1.0), label


def test_isotonic_exact_values_on_four_points():
    # PAV on labels (0, 1, 0, 1) at scores (.1, .2, .3, .4): the violating pair (1, 0) pools
    # to 0.5, so the fitted map is .1 -> 0, .2 -> .5, .3 -> .5, .4 -> 1 (0 and 1 clipped to
    # EPS, 1 - EPS). Between points it is linear: .15 -> .25, .35 -> .75; outside, flat.
    cal = IsotonicCalibrator().fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    out = cal.transform(np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.9]))
    np.testing.assert_allclose(out, [EPS, EPS, 0.25, 0.5, 0.5, 0.5, 0.75, 1 - EPS, 1 - EPS])


def test_isotonic_uses_sample_weights():
    # Pooling (.2 -> 1 with weight 3, .3 -> 0 with weight 1): (3·1 + 1·0) / 4 = 0.75.
    cal = IsotonicCalibrator().fit(
        np.array([0.2, 0.3]), np.array([1, 0]), sample_weight=np.array([3.0, 1.0])
    )
    np.testing.assert_allclose(cal.transform(np.array([0.2, 0.3])), [0.75, 0.75])


def test_platt_single_class_uses_smoothed_target():
    # Eight negatives, all scored 0.5 (logit 0): Platt's target for negatives is
    # 1 / (N- + 2) = 1 / 10, the slope a gets no gradient (x = 0) and b = logit(0.1) = -2.197,
    # so every score of 0.5 maps to 0.1 — finite, unlike a plain logistic fit.
    cal = PlattCalibrator().fit(np.full(8, 0.5), np.zeros(8))
    assert cal.b_ == pytest.approx(np.log(0.1 / 0.9), abs=1e-4)
    np.testing.assert_allclose(cal.transform(np.array([0.5])), [0.1], atol=1e-4)


def test_platt_recovers_the_inverse_of_a_logistic_distortion():
    # score = sigmoid(0.5 · logit(p) + 1) inverts to p = sigmoid(2 · logit(score) - 2),
    # so a -> 2 and b -> -2 (up to sampling noise and the tiny smoothing of the targets).
    p, score, label = miscalibrated(40_000, seed=3)
    cal = PlattCalibrator().fit(score, label)
    assert cal.a_ == pytest.approx(2.0, abs=0.1)
    assert cal.b_ == pytest.approx(-2.0, abs=0.1)


@pytest.mark.parametrize("calibrator", [IsotonicCalibrator, PlattCalibrator])
def test_calibration_reduces_ece_on_held_out_rows(calibrator):
    # Uncalibrated ECE ≈ mean(score - p) ≈ 0.2 (every score sits well above its p); after
    # fitting on one sample and scoring another, only sampling noise is left (< 0.02).
    _, s_fit, y_fit = miscalibrated(20_000, seed=1)
    _, s_new, y_new = miscalibrated(20_000, seed=2)
    before = ece(s_new[None, :], y_new[None, :])
    after = ece(calibrator().fit(s_fit, y_fit).transform(s_new)[None, :], y_new[None, :])
    assert before > 0.15
    assert after < 0.02


def test_select_calibrator_keeps_the_best_by_the_metric_and_beats_identity():
    _, score, label = miscalibrated(20_000, seed=4)
    groups = np.repeat(np.arange(20), 1_000)  # 20 "issue times": fit on 0-9, score on 10-19
    choice = select_calibrator(score, label, groups, ["isotonic", "platt"], "log_loss")
    assert set(choice.scores) == {"isotonic", "platt", "identity"}
    best = min(choice.scores, key=lambda m: choice.scores[m]["log_loss"])
    assert choice.calibrator.name == best != "identity"
    assert choice.scores[best]["ece"] < choice.scores["identity"]["ece"]


def test_select_calibrator_rejects_unknown_method():
    with pytest.raises(ConfigError, match="accepted"):
        select_calibrator(np.array([0.5]), np.array([1]), np.array([0]), ["beta"])


@pytest.mark.parametrize("calibrator", [IdentityCalibrator, IsotonicCalibrator, PlattCalibrator])
def test_transform_before_fit_raises_not_fitted(calibrator):
    with pytest.raises(NotFitted):
        calibrator().transform(np.array([0.5]))


@pytest.mark.parametrize(
    "calibrator", [IdentityCalibrator, IsotonicCalibrator, PlattCalibrator, CloglogCalibrator]
)
def test_the_logit_transform_keeps_the_order_beyond_the_clip(calibrator):
    """Raw log-odds from -5 to 40: `transform_logit` is `logit(transform)` wherever
    `transform` is not clipped at 1 - EPS; there `transform` ties many values, and for Platt
    and identity `transform_logit` keeps rising."""
    p, score, label = miscalibrated(4_000, seed=7)
    cal = calibrator().fit(score, label)
    z = np.linspace(-5.0, 40.0, 91)
    prob = cal.transform(expit(z))
    inside = prob < 1 - 2 * EPS
    got = cal.transform_logit(z)
    np.testing.assert_allclose(got[inside], logit(prob[inside]), rtol=1e-6)
    if calibrator is not IsotonicCalibrator:  # isotonic is flat beyond its fitted range
        assert (prob == 1 - EPS).sum() > 10  # the clipped ones tie ...
        assert np.all(np.diff(got) > 0)  # ... the log-odds do not


def test_cloglog_is_not_bent_by_probabilities_that_round_to_one():
    """Half the rows at p = 0.05 (5 % positives), half at log-odds 15 and 40 (all positive),
    whose probabilities round to 1 - EPS: Platt's smoothed targets bend its slope below 0.8;
    the complementary log-log fit stays at the identity, a = 1, b = 0."""
    rng = np.random.default_rng(11)
    z = np.concatenate([np.full(20_000, logit(0.05)), np.full(10_000, 15.0), np.full(10_000, 40.0)])
    label = np.concatenate([rng.random(20_000) < 0.05, np.ones(20_000, dtype=bool)]).astype(float)
    assert PlattCalibrator().fit(expit(z), label).a_ < 0.8
    cal = CloglogCalibrator().fit(expit(z), label)
    assert cal.a_ == pytest.approx(1.0, abs=0.03) and cal.b_ == pytest.approx(0.0, abs=0.05)
    assert cal.transform(np.array([0.05]))[0] == pytest.approx(0.05, abs=0.002)


def test_cloglog_recovers_a_power_law_distortion_of_the_count():
    """True counts λ; the raw model reads 1.5 · λ^0.8, so the inverse is a = 1 / 0.8 = 1.25,
    b = -1.25 · log 1.5 = -0.507; held-out ECE below 0.01."""
    rng = np.random.default_rng(3)
    lam = np.exp(rng.normal(-1.0, 1.2, 200_000))
    label = (rng.poisson(lam) >= 1).astype(float)
    raw = -np.expm1(-(1.5 * lam**0.8))
    cal = CloglogCalibrator().fit(raw[:100_000], label[:100_000])
    assert cal.a_ == pytest.approx(1.25, abs=0.05) and cal.b_ == pytest.approx(-0.507, abs=0.05)
    assert ece(cal.transform(raw[None, 100_000:]), label[None, 100_000:]) < 0.01
    # the unclipped log-odds keep rising where the probability rounds to 1 - EPS
    z = np.linspace(10.0, 60.0, 51)
    assert np.all(np.diff(cal.transform_logit(z)) > 0)
    assert np.unique(cal.transform(expit(z))).size < 10
