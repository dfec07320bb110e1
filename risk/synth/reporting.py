"""From simulated occurrences to contract-shaped event rows: exact times, source, reporting
delay, severity and ids."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.contract import EVENT_COLUMNS, SOURCES
from risk.synth.params import SynthParams
from risk.synth.simulate import Occurrences


def _draw(probs: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row from `probs[rows]` (probabilities per row group)."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(rows))
    return (u[:, None] >= cum[rows]).sum(axis=1)


def events_frame(
    occ: Occurrences,
    grid_ids: np.ndarray,
    start: pd.Timestamp,
    params: SynthParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Events in contract shape (`EVENT_COLUMNS`), sorted by `occurred_at`, ids `E0000001`…

    Step `s` covers `(start + s h, start + (s+1) h]`, so the second within the hour is drawn
    from 1..3600. `reported_at = occurred_at + delay`, the delay drawn per source.
    """
    cats = params.categories
    n = len(occ.step)
    second = rng.integers(1, 3601, size=n)
    source = _draw(np.array([params.source_mix[c] for c in cats]), occ.category, rng)
    late_share = np.array([params.late_share[s] for s in SOURCES])[source]
    prompt_mean = np.array([params.prompt_mean_minutes[s] for s in SOURCES])[source] * 60.0
    late = rng.random(n) < late_share
    prompt_delay = rng.exponential(1.0, n) * prompt_mean
    late_delay = np.exp(rng.normal(np.log(params.late_median_hours * 3600.0), params.late_sigma, n))
    delay = np.round(np.where(late, late_delay, prompt_delay)).astype(np.int64)
    severity = _draw(np.array([params.severity[c] for c in cats]), occ.category, rng) + 1

    occurred_s = occ.step * 3600 + second
    order = np.lexsort((occ.category, occ.grid, occurred_s))
    occurred_s, delay = occurred_s[order], delay[order]
    t0 = start.tz_convert("UTC")
    occurred = (t0 + pd.to_timedelta(occurred_s, unit="s")).tz_convert(start.tz)
    reported = (t0 + pd.to_timedelta(occurred_s + delay, unit="s")).tz_convert(start.tz)
    frame = pd.DataFrame(
        {
            "event_id": [f"E{i + 1:07d}" for i in range(n)],
            "occurred_at": occurred,
            "reported_at": reported,
            "category": np.asarray(cats, dtype=object)[occ.category[order]],
            "grid_id": np.asarray(grid_ids, dtype=object)[occ.grid[order]],
            "source": np.asarray(SOURCES, dtype=object)[source[order]],
            "severity": severity[order].astype(np.int64),
        }
    )
    return frame[list(EVENT_COLUMNS)]
