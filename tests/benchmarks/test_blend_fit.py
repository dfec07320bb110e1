"""The blend's fit on the rows with a count finds the optimum of the loss over every row."""

from __future__ import annotations

import numpy as np

from benchmarks.blend_fit import TRUE_WEIGHTS, components, every_row_fit
from models.blend import PoissonBlend


def test_counted_rows_fit_equals_the_every_row_fit():
    x, y = components(20_000, seed=3)
    ours = PoissonBlend().fit(x, y).coef_
    peer = every_row_fit(x, y)
    np.testing.assert_allclose(ours, peer, atol=1e-5)
    # and both recover the weights the counts were drawn from, within sampling noise
    np.testing.assert_allclose(ours, TRUE_WEIGHTS, atol=0.15)
    assert ours[2] > 0.8 and ours[1] < 0.1
