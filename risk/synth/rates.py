"""Background rate per grid and category (events per day, before triggering).

`mu[g, k] = base[k] · type_multiplier[type(g), k] · M[g, k] / mean_{grids of that type}(M[·, k])`

with `M = population**exponent · interaction · frailty`. The within-type modifiers are
normalised to mean 1, so the mean background rate of a grid type is exactly
`base · type_multiplier`; the interaction terms (e.g. fraud ∝ (elderly_alone + 1)**1.2, only
in old residential compounds) decide *which* grids of that type are hot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.synth.params import SynthParams


def background_rates(
    grids: pd.DataFrame, params: SynthParams, rng: np.random.Generator
) -> np.ndarray:
    """(G, K) background rates per day, in grid row order and `params.categories` order."""
    cats = params.categories
    n, k = len(grids), len(cats)
    types = grids["grid_type"].to_numpy()
    population = grids["population"].to_numpy(dtype=float)
    frailty = _lognormal_mean1(params.frailty_sigma, (n, 1), rng)
    modifier = frailty * _lognormal_mean1(params.category_frailty_sigma, (n, k), rng)
    modifier = modifier * (population[:, None] + 1.0) ** np.array(
        [params.population_exponent[c] for c in cats]
    )
    for category, grid_type, column, exponent in params.interactions:
        rows = types == grid_type
        col = cats.index(category)
        modifier[rows, col] *= (grids[column].to_numpy(dtype=float)[rows] + 1.0) ** exponent
    mu = np.empty((n, k))
    base = np.array([params.base_rate_per_day[c] for c in cats])
    for grid_type in np.unique(types):  # one pass per grid type
        rows = types == grid_type
        mult = np.array([params.type_multiplier[grid_type][c] for c in cats])
        mu[rows] = base * mult * modifier[rows] / modifier[rows].mean(axis=0)
    return mu


def _lognormal_mean1(sigma: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return np.exp(rng.normal(-0.5 * sigma**2, sigma, size=shape))


def excitation_matrices(params: SynthParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernel memory `r` (K,), within-grid offspring `B` (K, K) [source, target], and offspring
    to all ring-1 neighbours together `b_nb` (K,)."""
    cats = params.categories
    r = 1.0 - 1.0 / np.array([params.decay_hours[c] for c in cats])
    within = np.zeros((len(cats), len(cats)))
    for i, source in enumerate(cats):
        for target, value in params.excite_within[source].items():
            within[i, cats.index(target)] = value
    b_nb = np.array([params.excite_neighbours[c] for c in cats])
    return r, within, b_nb
