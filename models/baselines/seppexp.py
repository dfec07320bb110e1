"""`seppexp`: Mohler's grid self-exciting point process with an exponential trigger.

Intensity of grid g at time s (days):
    λ_g(s) = μ_g + Σ_{events i in g, t_i < s} θ ω exp(-ω (s - t_i))
μ_g is the background rate per day, θ the expected number of events one event triggers in its
own grid, 1/ω the mean delay in days. Fitted by expectation–maximisation (Mohler 2015) on the
events known at `until`, with exact times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.baselines.base import OPTIONAL_START, POSITIVE, POSITIVE_INT, Accepts, Baseline
from models.baselines.known import NS_PER_DAY, IndexedEvents, decayed_sums, to_utc_ns

THETA_MAX = 0.95  # keep the process stationary (θ < 1)
OMEGA_INIT = 0.5  # per day


class SEPPExp(Baseline):
    """EM-fitted background + exponential trigger; forecasts the first generation only.

    Expected count in `(t, t + h]` = μ_g h + θ Σ_i exp(-ω (t - t_i)) (1 - exp(-ω h)), the sum over
    the events of grid g known at `t`. Events triggered inside the window by events of the window
    are left out (first generation only), so the count is slightly low when θ is large.

    EM considers, as possible parents of an event, the earlier events of the same grid at most
    `max_lag_days` before it, and at most `max_parents` of them (the closest in time); older ones
    are treated as unrelated. The observation period runs from `start` (or the earliest known
    event) to `until`; the θ update corrects for offspring that fall after `until`.

    EM stops after `n_iter` iterations or once an iteration gains less than `tol` log-likelihood
    per event. Fitted attributes: `mu_` (G,) per day, `theta_`, `omega_` (per day), `n_iter_`,
    `log_likelihood_`.
    """

    name = "seppexp"
    _constraints = {
        "n_iter": POSITIVE_INT,
        "tol": POSITIVE,
        "max_lag_days": POSITIVE,
        "max_parents": POSITIVE_INT,
        "start": OPTIONAL_START,
        "omega_init": POSITIVE,
        "theta_init": Accepts(lambda v: POSITIVE.check(v) and v < 1, "a number in (0, 1)"),
    }

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-6,
        max_lag_days: float = 30.0,
        max_parents: int = 100,
        start=None,
        omega_init: float = OMEGA_INIT,
        theta_init: float = 0.5,
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.max_lag_days = max_lag_days
        self.max_parents = max_parents
        self.start = start
        self.omega_init = omega_init
        self.theta_init = theta_init

    def _fit(self, known: IndexedEvents, grids: pd.DataFrame, until_ns: int) -> None:
        n_grids = len(grids)
        start_ns = self._start_ns()
        origin = (
            start_ns if start_ns is not None else (known.occurred.min() if len(known) else until_ns)
        )
        times = (known.occurred - origin) / NS_PER_DAY
        period = max((until_ns - origin) / NS_PER_DAY, 1.0)
        child, _parent, lag = _candidate_pairs(
            known.grid, times, self.max_lag_days, self.max_parents
        )
        grid = known.grid
        left_to_end = period - times  # time each event had to trigger before `until`

        counts = np.bincount(grid, minlength=n_grids).astype(float)
        mu = counts * (1 - self.theta_init) / period
        theta, omega = float(self.theta_init), float(self.omega_init)
        previous = -np.inf
        n_done = 0
        while True:  # EM iterations, each vectorised over events and candidate pairs
            # E step: intensity at every event, and who triggered whom
            trigger = theta * omega * np.exp(-omega * lag)
            intensity = mu[grid] + np.bincount(child, weights=trigger, minlength=len(times))
            compensator = mu.sum() * period + theta * float(np.sum(-np.expm1(-omega * left_to_end)))
            log_likelihood = float(np.sum(np.log(intensity))) - compensator
            if n_done == self.n_iter or log_likelihood - previous < self.tol * max(len(times), 1):
                break
            previous = log_likelihood
            n_done += 1
            p_pair = trigger / intensity[child]
            # M step: background from the background shares, trigger from the pair shares
            mu = np.bincount(grid, weights=mu[grid] / intensity, minlength=n_grids) / period
            offspring = float(p_pair.sum())
            if offspring > 0:
                omega = offspring / float(np.sum(p_pair * lag))
                exposure = float(np.sum(-np.expm1(-omega * left_to_end)))
                theta = min(offspring / exposure, THETA_MAX)
            else:
                theta = 0.0
        self.mu_ = mu
        self.theta_ = theta
        self.omega_ = omega
        self.n_iter_ = n_done
        self.log_likelihood_ = log_likelihood

    def _predict(self, events: IndexedEvents, times: np.ndarray, horizon_days: float) -> np.ndarray:
        if len(times) and times[0] < to_utc_ns(self.until_, "until")[0]:
            raise ValueError(
                f"{self.name}: issue time {pd.Timestamp(times[0], tz='UTC')} is before the fit's "
                f"until={self.until_}; the fitted μ, θ, ω used events not known then. "
                "Fix: fit with until <= the first issue time"
            )
        excitation = decayed_sums(events, times, self.omega_)
        return self.mu_[None, :] * horizon_days + self.theta_ * excitation * -np.expm1(
            -self.omega_ * horizon_days
        )


def _candidate_pairs(
    grid: np.ndarray, times: np.ndarray, max_lag: float, max_parents: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(child, parent, lag) for every earlier event of the same grid within `max_lag` days.

    Events are sorted by (grid, time); the k-th predecessor in that order is a candidate when it
    is in the same grid and close enough. Once no event has a candidate at step k, none has one at
    k + 1, so the loop runs at most as many times as the busiest grid's parent count.
    """
    order = np.lexsort((times, grid))
    g, t = grid[order], times[order]
    children, parents, lags = [], [], []
    for k in range(1, min(max_parents, len(order) - 1) + 1):
        lag = t[k:] - t[:-k]
        ok = (g[k:] == g[:-k]) & (lag <= max_lag)
        if not ok.any():
            break
        children.append(order[k:][ok])
        parents.append(order[:-k][ok])
        lags.append(lag[ok])
    if not children:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(children), np.concatenate(parents), np.concatenate(lags)
