"""The drift reference a model carries from its training window (issue 17, item 1).

`drift_reference` draws it at training time and `risk.drift.run_drift` compares each scoring
run with it. It holds, per feature the model reads and per target's calibrated probability,
the quantile bin edges and shares (`risk.drift`), and per feature the training range — a few
hundred numbers per feature at most, never a row.

Which rows: the **calibration slice** (the latest issue times of the training window, held
out from the trees; the rows the levels were chosen on) sets the bins and shares, so the
score reference is the model's out-of-sample distribution, not its (more extreme) in-sample
one, and the features are compared with the weeks just before the model went live. At most
`MAX_ROWS` rows: whole issue times, evenly spaced. The range (min, max, whether NaN occurs)
comes from every training row (the classic components, computed only for the sample, from
the sample).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from risk.drift import SCORE_FAMILY, DriftReference, bins_for, reference_of

MAX_ROWS = 50_000
FALLBACK_FRACTION = 0.15  # without a calibration slice: the latest 15 % of issue times


def _families(feature_info: Iterable[Any]) -> dict[str, str]:
    out = {}
    for f in feature_info:
        name, family = (f.name, f.family) if hasattr(f, "family") else (f[0], f[1])
        out[str(name)] = str(family)
    return out


def reference_times(model: Any, times: pd.DatetimeIndex, max_times: int) -> pd.DatetimeIndex:
    """The issue times of the sample: those of the calibration slice (else the latest
    `FALLBACK_FRACTION`), at most ``max_times`` of them evenly spaced (the last kept)."""
    times = pd.DatetimeIndex(times).sort_values()
    first = next(iter(model.forecasters_.values()))
    start = (getattr(first, "split_", None) or {}).get("calib_start")
    chosen = times[times >= pd.Timestamp(start)] if start else times[:0]
    if not len(chosen):
        chosen = times[-max(1, math.ceil(FALLBACK_FRACTION * len(times))) :]
    if len(chosen) > max_times:
        pick = np.unique(np.linspace(len(chosen) - 1, 0, max(1, max_times)).round().astype(int))
        chosen = chosen[pick]
    return chosen


def drift_reference(
    model: Any,
    rows: pd.DataFrame,
    events: pd.DataFrame,
    grids: pd.DataFrame,
    feature_info: Iterable[Any],
    *,
    start: pd.Timestamp | None = None,
    max_rows: int = MAX_ROWS,
) -> DriftReference:
    """The reference of a fitted `MultiTargetForecaster` from its training ``rows`` (issue-time
    major over every grid of ``grids``, as `models.fitting.training_rows` gives them);
    ``events``/``start`` as the model's classic stack needs them (`add_classics`)."""
    n_grids = len(grids)
    times = pd.DatetimeIndex(rows["issue_time"].unique())
    chosen = reference_times(model, times, max(1, max_rows // max(1, n_grids)))
    sample = rows[rows["issue_time"].isin(chosen)]
    sample = model.add_classics(
        sample.reset_index(drop=True), events, grids.reset_index(drop=True), start
    )
    families = _families(feature_info)
    n_bins = bins_for(n_grids)
    features = {}
    for name in model.feature_names_:
        values = sample[name]
        whole = rows[name] if name in rows.columns else values
        low = high = None
        nan_seen = bool(whole.isna().any())
        if not isinstance(whole.dtype, pd.CategoricalDtype) and whole.dtype != object:
            arr = whole.to_numpy(dtype=float)
            finite = arr[~np.isnan(arr)]
            if finite.size:
                low, high = float(finite.min()), float(finite.max())
            values = values.to_numpy(dtype=float)
        features[name] = reference_of(
            name,
            families.get(name, "other"),
            values,
            n_bins,
            issue_times=len(chosen),
            low=low,
            high=high,
            nan_seen=nan_seen,
        )
    scores = {
        target: reference_of(
            target, SCORE_FAMILY, forecaster.predict_proba(sample), n_bins, issue_times=len(chosen)
        )
        for target, forecaster in model.forecasters_.items()
    }
    return DriftReference(
        features=features,
        scores=scores,
        n_bins=n_bins,
        rows=len(rows),
        sample_rows=len(sample),
        issue_times=(chosen[0].isoformat(), chosen[-1].isoformat()),
    )


__all__ = ["MAX_ROWS", "drift_reference", "reference_times"]
