"""The five classic hotspot baselines of DESIGN §5, under one estimator contract.

    model = make_baseline("kde", bandwidth_km=0.8).fit(events, grids, until)
    counts = model.predict_count(events, issue_times)  # (T, G), columns in `grids` order

All are uncalibrated ranking methods put on a count scale; see `models.baselines.base`.
"""

from __future__ import annotations

from typing import Any

from models.baselines.base import Baseline
from models.baselines.historical import HistoricalRate
from models.baselines.kde import KDE
from models.baselines.prospective import Prospective
from models.baselines.recent import Recent30d
from models.baselines.seppexp import SEPPExp

BASELINES: dict[str, type[Baseline]] = {
    cls.name: cls for cls in (HistoricalRate, Recent30d, KDE, Prospective, SEPPExp)
}


def make_baseline(name: str, **params: Any) -> Baseline:
    """A baseline by its DESIGN name (`historical_rate`, `recent_30d`, `kde`, `prospective`, `seppexp`)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; accepted: {list(BASELINES)}")
    return BASELINES[name](**params)


__all__ = [
    "BASELINES",
    "KDE",
    "Baseline",
    "HistoricalRate",
    "Prospective",
    "Recent30d",
    "SEPPExp",
    "make_baseline",
]
