"""`seppexp`: Mohler's grid self-exciting point process with an exponential trigger.

Intensity of grid g at time s (days):
    λ_g(s) = μ_g + Σ_{events i in g, t_i < s} θ ω exp(-ω (s - t_i))
μ_g is the background rate per day, θ the expected number of events one event triggers in its
own grid, 1/ω the mean delay in days. Fitted by expectation–maximisation (Mohler 2015) on the
events known at `until`.

Coarse records (docs/adr/009-seppexp-on-coarse-times.md): the time resolution of the events
(`risk.resolution`: day, hour, minute, second) bounds what the trigger can show. Two events of
a grid less than one unit apart (same minute, same hour, same date) are simultaneous as far as
the record goes, so neither is a candidate parent of the other; then every candidate lag is at
least one unit and the M step cannot push ω past 1 / unit. Without this a few same-minute pairs
(multi-offense reports) pull ω up until exp(−ω · lag) underflows for every real lag, and the
M step divides by zero. The EM also keeps its last finite ω and θ if an update is not finite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.baselines.base import OPTIONAL_START, POSITIVE, POSITIVE_INT, Accepts, Baseline
from models.baselines.known import NS_PER_DAY, IndexedEvents, decayed_sums, to_utc_ns
from risk.resolution import Resolution, time_resolution

THETA_MAX = 0.95  # keep the process stationary (θ < 1)
OMEGA_INIT = 0.5  # per day
FINEST_LAG_DAYS = 1 / 1_440  # exact times: the trigger's mean delay is at least a minute
TINY = 1e-300  # intensity floor: log() of an event the fit cannot explain stays finite


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

    def fit(self, events: pd.DataFrame, grids: pd.DataFrame, until: pd.Timestamp) -> SEPPExp:
        """As every baseline; also sets `resolution_`, the time resolution of `events`."""
        self.resolution_: Resolution = time_resolution(events["occurred_at"])
        return super().fit(events, grids, until)

    def _fit(self, known: IndexedEvents, grids: pd.DataFrame, until_ns: int) -> None:
        n_grids = len(grids)
        unit = self.resolution_.days
        start_ns = self._start_ns()
        origin = (
            start_ns if start_ns is not None else (known.occurred.min() if len(known) else until_ns)
        )
        times = (known.occurred - origin) / NS_PER_DAY
        period = max((until_ns - origin) / NS_PER_DAY, 1.0)
        # pairs by position in the (grid, time) order: the E step's gathers and sums over
        # pairs then read memory in sequence (sums over events keep the events' own order)
        order, child, _parent, lag = _candidate_pairs(
            known.grid, times, self.max_lag_days, self.max_parents, min_lag=unit
        )
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        omega_max = 1.0 / max(unit, FINEST_LAG_DAYS)
        grid = known.grid
        left_to_end = period - times  # time each event had to trigger before `until`

        sorted_grid = grid[order]
        counts = np.bincount(grid, minlength=n_grids).astype(float)
        mu = counts * (1 - self.theta_init) / period
        theta, omega = float(self.theta_init), min(float(self.omega_init), omega_max)
        previous = -np.inf
        n_done = 0
        # Two buffers of one value per candidate pair, reused by every iteration: a city's
        # millions of pairs make allocating fresh arrays most of an iteration's cost.
        trigger, p_pair = np.empty_like(lag), np.empty_like(lag)
        while True:  # EM iterations, each vectorised over events and candidate pairs
            # E step: intensity at every event, and who triggered whom
            np.multiply(lag, -omega, out=trigger)
            np.exp(trigger, out=trigger)
            trigger *= theta * omega
            by_position = np.maximum(
                mu[sorted_grid] + np.bincount(child, weights=trigger, minlength=len(times)), TINY
            )
            intensity = by_position[rank]
            compensator = mu.sum() * period + theta * float(np.sum(-np.expm1(-omega * left_to_end)))
            log_likelihood = float(np.sum(np.log(intensity))) - compensator
            if n_done == self.n_iter or log_likelihood - previous < self.tol * max(len(times), 1):
                break
            previous = log_likelihood
            n_done += 1
            np.take(by_position, child, out=p_pair, mode="clip")  # "clip": no bounds-check copy
            np.divide(trigger, p_pair, out=p_pair)
            # M step: background from the background shares, trigger from the pair shares
            mu = np.bincount(grid, weights=mu[grid] / intensity, minlength=n_grids) / period
            offspring = float(p_pair.sum())
            weighted_lag = float(np.sum(np.multiply(p_pair, lag, out=trigger)))
            if offspring > 0 and weighted_lag > 0:
                omega = min(offspring / weighted_lag, omega_max)
                exposure = float(np.sum(-np.expm1(-omega * left_to_end)))
                theta = min(offspring / exposure, THETA_MAX) if exposure > 0 else 0.0
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
    grid: np.ndarray,
    times: np.ndarray,
    max_lag: float,
    max_parents: int,
    min_lag: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(order, child, parent, lag): `order` sorts the events by (grid, time); `child` and
    `parent` are positions in that order, one pair for every earlier event of the same grid
    with a lag in `[min_lag, max_lag]` days, and never 0 (events at the same instant are not
    each other's parents). `order[child]` are the children's own indices.

    Events are sorted by (grid, time); the k-th predecessor in that order is a candidate when it
    is in the same grid and close enough. Once no event has a candidate at step k, none has one at
    k + 1; an event stops looking once it has `max_parents` candidates. Predecessors less than
    `min_lag` before it are skipped, not counted.
    """
    order = np.lexsort((times, grid))
    g, t = grid[order], times[order]
    children, parents, lags = [], [], []
    n_parents = np.zeros(len(order), dtype=np.int64)
    for k in range(1, len(order)):
        lag = t[k:] - t[:-k]
        open_ = (g[k:] == g[:-k]) & (lag <= max_lag) & (n_parents[k:] < max_parents)
        if not open_.any():
            break
        # a relative hair of tolerance: float days of whole hours are not exact multiples
        ok = open_ & (lag >= min_lag * (1 - 1e-9)) & (lag > 0)
        n_parents[k:] += ok
        positions = np.flatnonzero(ok)
        children.append(positions + k)
        parents.append(positions)
        lags.append(lag[ok])
    if not children:
        empty = np.zeros(0, dtype=np.int64)
        return order, empty, empty, np.zeros(0)
    return order, np.concatenate(children), np.concatenate(parents), np.concatenate(lags)
