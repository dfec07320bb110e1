"""The oracle: the true expected event count per issue time, grid and target, given what is
known at the issue time — the limit no model can beat on average.

With exponential kernels the expected future evolves deterministically. Let z be the
kernel state of `simulate` (decayed counts × (1 − r)). For the window steps s = t … t+H−1:

    m(s)   = mu · factor(s) · 1  +  z(s) · B  +  b_nb ⊙ (P z(s))      (expected intensity)
    z(s+1) = r ⊙ z(s) + (1 − r) ⊙ m(s)

and the expected count is Σ m(s). Choices, stated honestly:

* the state z(t) is built ONLY from events known at t (`occurred_at <= t` and
  `reported_at <= t`). Events that occurred but are not yet reported are treated as absent, so
  right after a burst the oracle is slightly low (most delays are under an hour);
* the city-wide daily shock is taken at its mean, 1, for every day of the window — including
  the remainder of the issue day, whose realised shock partly shows in that morning's events.

Labels may leave out the events of some sources (the system's own patrols by default,
docs/adr/019-*). The generator draws each event's source independently of everything else,
from its category's `source_mix`, so the expected count of the events a label counts is
exactly the expected count times the share of the category's events from the other sources
(`exclude_sources=`). The state z(t) still reads every known event: all of them happened.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from risk.contract import ANY_TARGET, HORIZON_HOURS, SOURCES
from risk.errors import ConfigError, ContractError
from risk.synth.profiles import clock_start, time_factors
from risk.synth.rates import excitation_matrices
from risk.synth.simulate import spread_matrix
from risk.synth.truth import Truth

_HOUR = pd.Timedelta(hours=1)


def oracle_targets(truth: Truth) -> list[str]:
    """Names of the last axis of `oracle_expected_counts`: `any`, then each category."""
    return [ANY_TARGET, *truth.categories]


def oracle_expected_counts(
    truth: Truth,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    issue_times: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    horizon_hours: int = HORIZON_HOURS,
    batch: int = 64,
    exclude_sources: Sequence[str] = (),
) -> np.ndarray:
    """Expected counts in `(t, t + horizon]`, shape (T, G, 1 + K).

    Axis 0 follows `issue_times` (any order), axis 1 the rows of `grids` (matched to the truth
    by `grid_id`), axis 2 `oracle_targets(truth)`. Issue times must fall on whole hours of the
    city clock; naive times are read in the truth's time zone. `events` needs `occurred_at`,
    `reported_at`, `category`, `grid_id` (contract shape); rows whose category or grid the
    truth does not know are ignored. `exclude_sources`: the counts are of the events of the
    other sources only (module docstring).
    """
    index = {g: i for i, g in enumerate(truth.grid_ids)}
    rows = np.array([index.get(g, -1) for g in grids["grid_id"]], dtype=np.int64)
    if (rows < 0).any():
        bad = grids["grid_id"].to_numpy()[rows < 0][0]
        raise ContractError(
            "grid is not part of the synthetic city",
            field="grid_id",
            value=bad,
            fix="pass the grids written alongside this truth.json",
        )
    t0 = clock_start(truth.start, truth.tz)
    issue_steps = _issue_steps(issue_times, t0, truth.tz)
    if horizon_hours < 1:
        raise ConfigError(f"horizon_hours must be at least 1, got {horizon_hours}")

    order = np.argsort(issue_steps, kind="stable")
    sorted_steps = issue_steps[order]
    state = known_state(truth, events, sorted_steps)  # (T, G_all, K)

    first = int(sorted_steps.min())
    span = int(sorted_steps.max()) - first + horizon_hours
    factor, _, _ = time_factors(truth.params, truth.start, truth.tz, first, span)
    r, within, b_nb = excitation_matrices(truth.params)
    spread = spread_matrix(truth.ring1())
    mu = truth.background_per_day
    g_all, k = mu.shape
    kept = counted_share(truth, exclude_sources)

    out = np.empty((len(sorted_steps), len(rows), k + 1))
    for lo in range(0, len(sorted_steps), batch):  # batches of issue times bound memory
        z = state[lo : lo + batch].copy()
        offset = sorted_steps[lo : lo + batch] - first
        total = np.zeros_like(z)
        for j in range(horizon_hours):  # one vectorised step per hour of the window
            nb = (spread @ z.transpose(1, 0, 2).reshape(g_all, -1)).reshape(g_all, len(z), k)
            m = (
                mu[None] * factor[offset + j][:, None, :]
                + z @ within
                + nb.transpose(1, 0, 2) * b_nb
            )
            total += m
            z = r * z + (1.0 - r) * m
        chosen = total[:, rows] * kept
        out[lo : lo + batch, :, 0] = chosen.sum(axis=2)
        out[lo : lo + batch, :, 1:] = chosen
    result = np.empty_like(out)
    result[order] = out
    return result


def counted_share(truth: Truth, exclude_sources: Sequence[str]) -> np.ndarray:
    """(K,): per category of the truth, the expected share of its events whose source is not
    in `exclude_sources` (`SynthParams.source_mix`)."""
    unknown = [s for s in exclude_sources if s not in SOURCES]
    if unknown:
        raise ConfigError(f"unknown source {unknown[0]!r}; accepted: {', '.join(SOURCES)}")
    mix = np.array([truth.params.source_mix[c] for c in truth.categories], dtype=float)
    mix /= mix.sum(axis=1, keepdims=True)
    left_out = [SOURCES.index(s) for s in exclude_sources]
    return 1.0 - mix[:, left_out].sum(axis=1)


def known_state(truth: Truth, events: pd.DataFrame, issue_steps: np.ndarray) -> np.ndarray:
    """Kernel state z at each (sorted) issue step from events known then: (T, G, K).

    Each event enters at the first issue time that knows it, with the weight its kernel has
    decayed to by then; the state is then carried forward by exact decay — no loop over events.
    """
    cats = truth.categories
    g_all, k = len(truth.grid_ids), len(cats)
    r = excitation_matrices(truth.params)[0]
    state = np.zeros((len(issue_steps), g_all, k))
    grid_index = pd.Index(truth.grid_ids).get_indexer(events["grid_id"])
    cat_index = pd.Index(cats).get_indexer(events["category"])
    keep = (grid_index >= 0) & (cat_index >= 0)
    if keep.any() and len(issue_steps):
        t0 = clock_start(truth.start, truth.tz)
        occurred = _hours_since(events["occurred_at"][keep], t0, truth.tz)
        reported = _hours_since(events["reported_at"][keep], t0, truth.tz)
        step = np.ceil(occurred).astype(np.int64) - 1  # step s covers (s, s+1] hours
        known_from = np.maximum(step + 1, np.ceil(reported).astype(np.int64))
        first = np.searchsorted(issue_steps, known_from, side="left")
        seen = first < len(issue_steps)
        g, c = grid_index[keep][seen], cat_index[keep][seen]
        at = first[seen]
        age = issue_steps[at] - 1 - step[seen]
        weight = (1.0 - r[c]) * r[c] ** age
        np.add.at(state, (at, g, c), weight)
    for i in range(1, len(issue_steps)):  # carry forward: one step per issue time
        state[i] += state[i - 1] * r ** (issue_steps[i] - issue_steps[i - 1])
    return state


def _localise(values: pd.Series | pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(pd.to_datetime(values))
    return index.tz_localize(tz) if index.tz is None else index


def _hours_since(values: pd.Series, t0: pd.Timestamp, tz: str) -> np.ndarray:
    index = _localise(values, tz)
    return ((index - t0) / _HOUR).to_numpy(dtype=float)


def _issue_steps(
    issue_times: Sequence[pd.Timestamp] | pd.DatetimeIndex, t0: pd.Timestamp, tz: str
) -> np.ndarray:
    hours = _hours_since(pd.Series(list(issue_times)), t0, tz) if len(issue_times) else np.zeros(0)
    if len(hours) == 0:
        raise ConfigError("oracle_expected_counts needs at least one issue time")
    steps = np.round(hours).astype(np.int64)
    if not np.allclose(hours, steps, atol=1e-9):
        bad = list(issue_times)[int(np.argmax(np.abs(hours - steps)))]
        raise ConfigError(f"issue times must fall on whole hours of the city clock, got {bad}")
    return steps
