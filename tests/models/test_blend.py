"""The non-negative Poisson blend (models.blend)."""

from __future__ import annotations

import numpy as np
import pytest

from models.blend import PoissonBlend
from risk.errors import NotFitted


def simulated(n: int = 60_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """y ~ Poisson(2 x1 + 0.5 x2); x3 is noise; every column a non-negative rate."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 0.1, size=(n, 3))
    return x, rng.poisson(2.0 * x[:, 0] + 0.5 * x[:, 1])


def test_recovers_the_weights_of_a_poisson_sum():
    x, y = simulated()
    blend = PoissonBlend().fit(x, y)
    np.testing.assert_allclose(blend.coef_, [2.0, 0.5, 0.0], atol=0.06)
    assert (blend.coef_ >= 0).all()


def test_a_method_that_only_hurts_gets_weight_zero():
    x, y = simulated()
    # a column that is high where counts are low: its best linear weight would be negative
    anti = (x[:, 0].max() - x[:, 0])[:, None]
    blend = PoissonBlend().fit(np.hstack([x[:, :2], anti]), y)
    assert blend.coef_[2] == 0.0


def test_predictions_are_floored_and_finite():
    x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    blend = PoissonBlend(floor_share=0.01).fit(x, np.array([1, 2, 0]))
    pred = blend.predict(x)
    # weight ~1 on the first column; the all-zero row gets the floor 1% of the mean fit (1.0)
    np.testing.assert_allclose(pred, [1.0, 2.0, 0.01], rtol=1e-3)
    assert blend.coef_[1] == 0.0  # a column of zeros carries nothing


def test_sample_weights_count_rows():
    x, y = simulated(20_000)
    doubled = PoissonBlend().fit(np.vstack([x, x]), np.concatenate([y, y]))
    weighted = PoissonBlend().fit(x, y, sample_weight=np.full(len(y), 2.0))
    np.testing.assert_allclose(doubled.coef_, weighted.coef_, rtol=1e-4, atol=1e-6)


def test_contract_errors():
    with pytest.raises(NotFitted):
        PoissonBlend().predict(np.ones((2, 1)))
    with pytest.raises(ValueError, match="expected counts"):
        PoissonBlend().fit(np.array([[-1.0]]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"\(n, k\)"):
        PoissonBlend().fit(np.ones(3), np.ones(3))
