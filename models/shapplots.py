"""The analyst's SHAP plots, drawn from LightGBM's own TreeSHAP values (no `shap` package).

* :func:`beeswarm` — one row per feature (the `top` by mean |contribution|), one dot per
  sampled grid-window at its contribution, coloured by the feature's value (its rank among
  the sample: blue low, red high); the global picture of what moves the forecast and which way.
* :func:`waterfall` — one grid-window: from the base value, each of the `top` features adds
  its contribution, the rest summed as "other features", ending at the row's raw score.

Contributions are in the model's raw score (log expected count for the poisson objective,
log-odds for the binary one), including the classic blend's share (`models.forecaster.
LightGBMForecaster.contributions`). Why not the `shap` package: LightGBM computes the same
TreeSHAP values itself (`pred_contrib`), already used for serving; shap adds ~200 MB (numba)
for two plots (docs/adr/010-forecast-core-v2.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

LOW, HIGH = "#2b83ba", "#d7191c"


def top_features(contributions: np.ndarray, names: list[str], top: int) -> list[int]:
    """Column indices of the `top` features by mean |contribution| (base column excluded)."""
    strength = np.abs(np.asarray(contributions)[:, : len(names)]).mean(axis=0)
    return list(np.argsort(-strength, kind="stable")[:top])


def _colour_ranks(column: pd.Series) -> np.ndarray:
    """Each value's rank among the column's finite values in [0, 1]; NaN for missing/text."""
    numeric = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    out = np.full(len(numeric), np.nan)
    ok = np.isfinite(numeric)
    if ok.sum() > 1:
        out[ok] = pd.Series(numeric[ok]).rank(pct=True).to_numpy()
    return out


def beeswarm(
    ax: Axes,
    contributions: np.ndarray,
    values: pd.DataFrame,
    names: list[str],
    top: int = 15,
    seed: int = 0,
) -> list[str]:
    """Draw the beeswarm on `ax`; returns the features shown, strongest first."""
    chosen = top_features(contributions, names, top)
    rng = np.random.default_rng(seed)
    cmap = _cmap()
    for row, j in enumerate(reversed(chosen)):
        x = np.asarray(contributions)[:, j]
        y = row + rng.uniform(-0.3, 0.3, len(x)) * _density(x)
        colour = _colour_ranks(values[names[j]])
        grey = ~np.isfinite(colour)
        ax.scatter(x[grey], y[grey], s=4, color="#bbbbbb", alpha=0.6, linewidths=0)
        ax.scatter(
            x[~grey], y[~grey], s=4, c=colour[~grey], cmap=cmap, vmin=0, vmax=1, linewidths=0
        )
    shown = [names[j] for j in chosen]
    ax.set_yticks(range(len(chosen)), list(reversed(shown)), fontsize=7)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("contribution to the raw score (colour: feature value, blue low, red high)")
    return shown


def waterfall(
    ax: Axes,
    contributions: np.ndarray,
    names: list[str],
    values: pd.Series | None = None,
    top: int = 10,
) -> float:
    """Draw one row's waterfall on `ax` (`contributions`: (features + 1,), last the base);
    returns the row's raw score (base + every contribution)."""
    row = np.asarray(contributions, dtype=float)
    base, phi = float(row[-1]), row[:-1]
    order = list(np.argsort(-np.abs(phi), kind="stable")[:top])
    rest = float(phi.sum() - phi[order].sum())
    labels, steps = [], []
    for j in order:
        shown = "" if values is None else f" = {_short(values.iloc[j])}"
        labels.append(f"{names[j]}{shown}")
        steps.append(float(phi[j]))
    labels.append(f"other {len(phi) - len(order)} features")
    steps.append(rest)
    level = base
    for i, step in enumerate(steps):
        ax.barh(i, step, left=level, color=HIGH if step >= 0 else LOW, height=0.7)
        level += step
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(base, color="grey", lw=0.8, ls=":")
    ax.axvline(level, color="black", lw=0.8)
    ax.set_xlabel(f"raw score: base {base:.2f} -> {level:.2f}")
    return level


def _density(x: np.ndarray) -> np.ndarray:
    """Vertical spread per dot, wider where many dots share a contribution (a cheap swarm)."""
    if len(x) < 2 or not np.isfinite(x).all() or np.ptp(x) <= 1e-12 * max(1.0, np.abs(x).max()):
        return np.ones(len(x))  # one value (to rounding): nothing to spread
    hist, edges = np.histogram(x, bins=50)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(hist) - 1)
    return hist[which] / hist.max()


def _short(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "—" if not np.isfinite(value) else f"{float(value):.3g}"
    return str(value)


def _cmap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("low_high", [LOW, "#ffffbf", HIGH])
