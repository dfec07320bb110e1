"""Shared vocabulary of the feature builders: the declarative spec, per-feature metadata,
and the block of columns each family returns.

A family module exposes `build(ctx: BuildContext) -> FeatureBlock`. The orchestrator
(`features.build`) calls the families named in the spec, broadcasts every block to one row
per (issue time, grid) and appends the labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from risk.contract import DEFAULT_TZ, HORIZON_HOURS, SOURCES
from risk.errors import ConfigError

FAMILIES = ("history", "neighbourhood", "time", "calendar", "area", "population", "reporting")
# Labels count the events reported independently of the system's own patrols: a patrol sent
# by a warning finds events where it was sent, whatever the risk (docs/adr/019-*).
LABEL_EXCLUDE_SOURCES: tuple[str, ...] = ("patrol",)


def check_sources(values: object, field_name: str) -> tuple[str, ...]:
    """`values` (an iterable of source names, or one comma-separated string; "" or "none"
    for none) as a tuple of sources of `risk.contract.SOURCES`, else `ConfigError`."""
    if isinstance(values, str):
        text = values.strip().lower()
        values = () if text in ("", "none") else [v.strip() for v in text.split(",")]
    try:
        out = tuple(dict.fromkeys(str(v) for v in values))  # type: ignore[union-attr]
    except TypeError:
        raise ConfigError(
            f"{field_name} must be a list of sources, got {values!r}; accepted: {list(SOURCES)}"
        ) from None
    unknown = [v for v in out if v not in SOURCES]
    if unknown:
        raise ConfigError(
            f"{field_name}: unknown source {unknown[0]!r}; accepted: {', '.join(SOURCES)} "
            "(comma-separated), or 'none' to count every source"
        )
    return out


@dataclass(frozen=True)
class FeatureSpec:
    """What to build. Defaults are the families and windows of issue #3."""

    families: tuple[str, ...] = FAMILIES
    windows_days: tuple[int, ...] = (1, 3, 7, 14, 28, 91, 365)
    half_lives_days: tuple[float, ...] = (1.0, 7.0, 30.0)
    targets: tuple[str, ...] | None = None  # None: "any" + every category in the events
    horizon_hours: int = HORIZON_HOURS
    calendar: str = "CN"
    tz: str = DEFAULT_TZ
    reporting_days: int = 28  # window for the share of recent events by source
    # None: every source present in the events given; a partitioned build fixes the city's.
    sources: tuple[str, ...] | None = None
    # Sources whose events the labels leave out (default: the system's own patrols).
    label_exclude_sources: tuple[str, ...] = LABEL_EXCLUDE_SOURCES
    # The explicit switch of the patrol-exposure feature (`features.exposure`, off by default),
    # and the visits it reads (`risk.exposure.check_visits`).
    patrol_exposure: bool = False
    patrol_visits: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    # User table `date,is_workday[,holiday_name]` fixing days beyond the official calendar.
    calendar_overrides: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise ValueError(
                f"unknown feature families {sorted(unknown)}; accepted: {list(FAMILIES)}"
            )
        if any(w <= 0 for w in self.windows_days):
            raise ValueError(f"windows_days must be positive, got {self.windows_days}")
        excluded = check_sources(self.label_exclude_sources, "label_exclude_sources")
        object.__setattr__(self, "label_exclude_sources", excluded)


@dataclass(frozen=True)
class FeatureInfo:
    """One feature column: stable name, family, and a human label for explanations.

    Labels may hold `{value}` placeholders that explanations fill with the actual value.
    """

    name: str
    family: str
    label_en: str
    label_zh: str


@dataclass
class FeatureBlock:
    """Columns of one family.

    Each value is either a float32 array of shape (T, G), (T, 1) (same for every grid) or
    (1, G) (same for every issue time), or a `pandas.Categorical` of length G (a static
    per-grid category such as `grid_type`). `info` has one entry per column, same order.
    """

    columns: dict[str, np.ndarray | pd.Categorical] = field(default_factory=dict)
    info: list[FeatureInfo] = field(default_factory=list)

    def add(self, info: FeatureInfo, values: np.ndarray | pd.Categorical) -> None:
        if info.name in self.columns:
            raise ValueError(f"feature {info.name!r} defined twice")
        self.columns[info.name] = values
        self.info.append(info)


@dataclass(frozen=True)
class BuildContext:
    """Everything a family may look at.

    `grids` are validated grids (core + halo) in build order; `events` are validated events
    of any time — a family must itself keep to what is known at each issue time
    (`occurred_at <= t` and `reported_at <= t`). `issue_times` are tz-aware, sorted, unique.
    """

    grids: pd.DataFrame
    events: pd.DataFrame
    issue_times: pd.DatetimeIndex
    targets: tuple[str, ...]
    spec: FeatureSpec
