"""The event process: a discrete-time (hourly) multivariate Hawkes process on the grid map.

At step s, grid g, category k:

    λ[s, g, k] = mu[g, k] · factor[s, k] · shock[day(s)]
                 + Σ_j z[s, g, j] · B[j, k]                   (same grid, incl. cross-category)
                 + b_nb[k] · Σ_{h ~ g} z[s, h, k] / deg(h)    (ring-1 neighbours, near-repeat)
    N[s, g, k] ~ Poisson(λ[s, g, k])
    z[s+1] = r ⊙ z[s] + (1 − r) ⊙ N[s]

so an event of category j adds (1 − r_j) r_j**(i−1) B[j, ·] to the intensity i hours later
(total offspring B[j, ·]). One numpy step per hour, vectorised over grids × categories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from risk.synth.params import SynthParams
from risk.synth.rates import excitation_matrices


@dataclass(frozen=True)
class Occurrences:
    """Simulated events before reporting: step, grid index and category index per event."""

    step: np.ndarray
    grid: np.ndarray
    category: np.ndarray


def spread_matrix(ring1: sp.csr_matrix) -> sp.csr_matrix:
    """P[g, h] = 1/deg(h) for neighbours h of g: each event's neighbour offspring split equally."""
    deg = np.asarray(ring1.sum(axis=0)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg, dtype=float), where=deg > 0)
    return (ring1 @ sp.diags(inv)).tocsr()


def simulate(
    mu: np.ndarray,
    factor: np.ndarray,
    shock_of_step: np.ndarray,
    ring1: sp.csr_matrix,
    params: SynthParams,
    rng: np.random.Generator,
) -> Occurrences:
    """Run the process for `len(factor)` hourly steps from an empty history."""
    r, within, b_nb = excitation_matrices(params)
    spread = spread_matrix(ring1)
    g, k = mu.shape
    z = np.zeros((g, k))
    steps: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    background = factor * shock_of_step[:, None]  # (S, K)
    # One BLAS thread: `z @ within` is a (G, K) x (K, K) product per hour, too thin to share,
    # and a second thread's waiting made a 100,000-grid city several times slower on a busy
    # machine (issue 18); each element is computed alike, so the draws are the same.
    with threadpool_limits(1, user_api="blas"):
        for s in range(len(factor)):  # one vectorised step per hour
            lam = mu * background[s] + z @ within + (spread @ z) * b_nb
            n = rng.poisson(lam)
            hit = np.flatnonzero(n)
            if hit.size:
                steps.append(np.full(hit.size, s, dtype=np.int64))
                cells.append(hit)
                counts.append(n.ravel()[hit])
                z *= r
                z += (1.0 - r) * n
            else:
                z *= r
    if not steps:
        empty = np.zeros(0, dtype=np.int64)
        return Occurrences(empty, empty, empty)
    repeat = np.concatenate(counts)
    cell = np.repeat(np.concatenate(cells), repeat)
    return Occurrences(
        step=np.repeat(np.concatenate(steps), repeat),
        grid=cell // k,
        category=cell % k,
    )
