"""Every default of the synthetic city in one place.

`SynthParams` is plain data: nested dicts and tuples of numbers, so that `dataclasses.asdict`
writes all of it to `truth.json` and `SynthParams.from_dict` reads it back. Tables are keyed
by grid type and category so that a reader can see, for instance, that commercial grids have
three times the base theft rate. Category order is `CATEGORIES`; vectors per category follow it.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from risk.contract import GRID_TYPES, SOURCES

CATEGORIES = ("dispute", "theft", "fire_hazard", "safety_hazard", "fraud", "petition")
HOLIDAY_PHASES = ("before", "during", "after")


def _d(value: Any) -> Any:
    """A dataclass field whose default is a fresh copy of `value`."""
    return field(default_factory=lambda: copy.deepcopy(value))


@dataclass(frozen=True)
class SynthParams:
    """The generator's configuration: layout, population, rates, time profiles, triggering."""

    # --- layout -----------------------------------------------------------------------------
    centre_lon: float = 120.15
    centre_lat: float = 30.27
    cell_km2: float = 0.36  # lattice spacing 0.6 km; Voronoi cells of roughly 0.25-0.5 km²
    jitter: float = 0.3  # lattice jitter, as a share of the spacing
    grids_per_community: int = 20
    communities_per_street: int = 7
    # Share of a community's grids that take its dominant type; the rest draw from the zone mix.
    community_type_share: float = 0.75
    # Zone = normalised distance from the centre: core < 0.45 <= middle < 0.8 <= edge.
    zone_edges: tuple[float, float] = (0.45, 0.8)
    zone_type_mix: dict[str, dict[str, float]] = _d(
        {
            "core": {
                "old_residential": 0.50,
                "commercial": 0.25,
                "mixed": 0.12,
                "new_residential": 0.08,
                "campus": 0.05,
            },
            "middle": {
                "new_residential": 0.30,
                "mixed": 0.20,
                "old_residential": 0.15,
                "campus": 0.10,
                "commercial": 0.10,
                "industrial": 0.15,
            },
            "edge": {"rural": 0.55, "industrial": 0.25, "new_residential": 0.20},
        }
    )

    # --- population structure per grid type (medians / means) --------------------------------
    population_median: dict[str, float] = _d(
        {
            "old_residential": 3000,
            "new_residential": 2500,
            "commercial": 600,
            "campus": 4000,
            "rural": 800,
            "industrial": 400,
            "mixed": 1800,
        }
    )
    population_sigma: float = 0.45  # lognormal spread of population within a type
    household_size: dict[str, float] = _d(
        {
            "old_residential": 2.3,
            "new_residential": 2.8,
            "commercial": 1.8,
            "campus": 3.0,
            "rural": 3.2,
            "industrial": 2.0,
            "mixed": 2.5,
        }
    )
    elderly_share: dict[str, float] = _d(
        {
            "old_residential": 0.32,
            "new_residential": 0.12,
            "commercial": 0.10,
            "campus": 0.04,
            "rural": 0.25,
            "industrial": 0.05,
            "mixed": 0.18,
        }
    )
    floating_share: dict[str, float] = _d(
        {
            "old_residential": 0.25,
            "new_residential": 0.15,
            "commercial": 0.60,
            "campus": 0.50,
            "rural": 0.10,
            "industrial": 0.55,
            "mixed": 0.30,
        }
    )
    rental_share: dict[str, float] = _d(
        {
            "old_residential": 0.40,
            "new_residential": 0.20,
            "commercial": 0.50,
            "campus": 0.30,
            "rural": 0.10,
            "industrial": 0.60,
            "mixed": 0.30,
        }
    )
    share_concentration: float = 20.0  # Beta(mean*c, (1-mean)*c) for the three shares
    elderly_alone_rate: dict[str, float] = _d(
        {
            "old_residential": 0.22,
            "new_residential": 0.08,
            "commercial": 0.10,
            "campus": 0.05,
            "rural": 0.15,
            "industrial": 0.05,
            "mixed": 0.12,
        }
    )
    special_care_rate: float = 0.004  # special-care residents per resident
    shops_mean: dict[str, float] = _d(
        {
            "old_residential": 25,
            "new_residential": 15,
            "commercial": 120,
            "campus": 20,
            "rural": 5,
            "industrial": 10,
            "mixed": 40,
        }
    )

    # --- background rates ---------------------------------------------------------------------
    # Events per grid per day of a grid with type multiplier 1, before triggering.
    base_rate_per_day: dict[str, float] = _d(
        {
            "dispute": 0.020,
            "theft": 0.012,
            "fire_hazard": 0.006,
            "safety_hazard": 0.012,
            "fraud": 0.006,
            "petition": 0.005,
        }
    )
    # Mean background rate of a type relative to the base (within-type modifiers average 1).
    type_multiplier: dict[str, dict[str, float]] = _d(
        {
            "old_residential": {
                "dispute": 1.4,
                "theft": 0.8,
                "fire_hazard": 1.3,
                "safety_hazard": 1.0,
                "fraud": 1.3,
                "petition": 1.5,
            },
            "new_residential": {
                "dispute": 0.8,
                "theft": 0.6,
                "fire_hazard": 0.6,
                "safety_hazard": 0.7,
                "fraud": 0.8,
                "petition": 0.9,
            },
            "commercial": {
                "dispute": 1.0,
                "theft": 3.0,
                "fire_hazard": 1.0,
                "safety_hazard": 1.2,
                "fraud": 0.8,
                "petition": 0.5,
            },
            "campus": {
                "dispute": 0.5,
                "theft": 1.0,
                "fire_hazard": 0.5,
                "safety_hazard": 0.5,
                "fraud": 1.2,
                "petition": 0.3,
            },
            "rural": {
                "dispute": 0.9,
                "theft": 0.5,
                "fire_hazard": 1.2,
                "safety_hazard": 1.0,
                "fraud": 0.8,
                "petition": 1.4,
            },
            "industrial": {
                "dispute": 0.6,
                "theft": 0.8,
                "fire_hazard": 1.5,
                "safety_hazard": 2.5,
                "fraud": 0.4,
                "petition": 1.2,
            },
            "mixed": {
                "dispute": 1.0,
                "theft": 1.2,
                "fire_hazard": 1.0,
                "safety_hazard": 1.0,
                "fraud": 1.0,
                "petition": 1.0,
            },
        }
    )
    # Within-type modifier: rate ∝ population**exponent (normalised to mean 1 within the type).
    population_exponent: dict[str, float] = _d(
        {
            "dispute": 0.6,
            "theft": 0.3,
            "fire_hazard": 0.4,
            "safety_hazard": 0.3,
            "fraud": 0.5,
            "petition": 0.6,
        }
    )
    # Area-type interaction: [category, grid_type, column, exponent] — within that type only,
    # rate ∝ (column + 1)**exponent. Elsewhere the column has no effect on that category.
    interactions: tuple[tuple[str, str, str, float], ...] = (
        ("fraud", "old_residential", "elderly_alone", 1.2),
        ("fire_hazard", "old_residential", "elderly_alone", 1.0),
        ("theft", "commercial", "floating_share", 2.0),
        ("safety_hazard", "industrial", "rental_share", 1.5),
    )
    frailty_sigma: float = 0.6  # per-grid lognormal factor (mean 1) shared by all categories
    category_frailty_sigma: float = 0.25  # per grid×category lognormal factor (mean 1)

    # --- time profiles --------------------------------------------------------------------------
    # Hour of day: exp(a·cos(2π(h − peak)/24)), normalised to mean 1. [peak_hour, a]
    hour_profile: dict[str, tuple[float, float]] = _d(
        {
            "dispute": (20.0, 0.8),
            "theft": (15.0, 0.6),
            "fire_hazard": (18.0, 0.7),
            "safety_hazard": (11.0, 0.9),
            "fraud": (11.0, 1.0),
            "petition": (10.0, 1.5),
        }
    )
    # Day of week Monday..Sunday. Official holidays use Sunday's value, adjusted working
    # days (调休) Wednesday's.
    day_of_week: dict[str, tuple[float, ...]] = _d(
        {
            "dispute": (1.0, 1.0, 1.0, 1.0, 1.05, 1.15, 1.1),
            "theft": (1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.1),
            "fire_hazard": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
            "safety_hazard": (1.1, 1.1, 1.1, 1.1, 1.1, 0.8, 0.7),
            "fraud": (1.1, 1.1, 1.1, 1.1, 1.1, 0.8, 0.7),
            "petition": (1.3, 1.2, 1.2, 1.2, 1.1, 0.5, 0.4),
        }
    )
    # Month: 1 + a·cos(2π(month − peak)/12). [peak_month, a]
    seasonality: dict[str, tuple[float, float]] = _d(
        {
            "dispute": (7.0, 0.15),
            "theft": (8.0, 0.10),
            "fire_hazard": (1.0, 0.35),
            "safety_hazard": (7.0, 0.15),
            "fraud": (12.0, 0.10),
            "petition": (12.0, 0.20),
        }
    )
    # Holidays: multipliers [before, during, after]; before/after span `holiday_window_days`.
    holiday_window_days: int = 3
    spring_festival: dict[str, tuple[float, float, float]] = _d(
        {
            "dispute": (1.2, 1.3, 1.2),
            "theft": (1.3, 0.6, 1.0),
            "fire_hazard": (1.3, 2.0, 1.2),
            "safety_hazard": (1.1, 0.6, 1.1),
            "fraud": (1.5, 0.8, 1.0),
            "petition": (1.6, 0.25, 1.3),
        }
    )
    other_holiday: dict[str, tuple[float, float, float]] = _d(
        {
            "dispute": (1.05, 1.15, 1.05),
            "theft": (1.1, 1.2, 1.0),
            "fire_hazard": (1.0, 1.2, 1.0),
            "safety_hazard": (1.0, 0.8, 1.0),
            "fraud": (1.1, 0.9, 1.0),
            "petition": (1.2, 0.3, 1.1),
        }
    )
    # City-wide daily shock on the background: Gamma(shape, 1/shape), mean 1, cv 1/sqrt(shape).
    daily_shock_shape: float = 25.0

    # --- self-excitation (exponential kernels, discrete hourly) ---------------------------------
    # An event of category k adds to later hourly intensities (1 − r_k)·r_k**(j−1)·B[k, k'],
    # j = 1, 2, … hours after, with r_k = 1 − 1/decay_hours[k]; the total offspring is B[k, k'].
    decay_hours: dict[str, float] = _d(
        {
            "dispute": 24.0,
            "theft": 72.0,
            "fire_hazard": 48.0,
            "safety_hazard": 72.0,
            "fraud": 48.0,
            "petition": 120.0,
        }
    )
    # Expected offspring in the same grid, [source][target] (diagonal = self-excitation).
    excite_within: dict[str, dict[str, float]] = _d(
        {
            "dispute": {"dispute": 0.30, "petition": 0.15},
            "theft": {"theft": 0.25, "dispute": 0.05},
            "fire_hazard": {"fire_hazard": 0.15, "safety_hazard": 0.08},
            "safety_hazard": {"safety_hazard": 0.25, "fire_hazard": 0.10},
            "fraud": {"fraud": 0.20},
            "petition": {"petition": 0.35},
        }
    )
    # Expected offspring over all ring-1 neighbours together (split equally), same category.
    excite_neighbours: dict[str, float] = _d(
        {
            "dispute": 0.05,
            "theft": 0.15,
            "fire_hazard": 0.03,
            "safety_hazard": 0.05,
            "fraud": 0.10,
            "petition": 0.05,
        }
    )

    # --- reporting ------------------------------------------------------------------------------
    # Source mix per category, in `SOURCES` order (resident, hotline, grid_worker, patrol,
    # sensor, other).
    source_mix: dict[str, tuple[float, ...]] = _d(
        {
            "dispute": (0.35, 0.30, 0.20, 0.10, 0.00, 0.05),
            "theft": (0.40, 0.35, 0.05, 0.15, 0.00, 0.05),
            "fire_hazard": (0.15, 0.15, 0.25, 0.15, 0.25, 0.05),
            "safety_hazard": (0.15, 0.10, 0.40, 0.20, 0.10, 0.05),
            "fraud": (0.45, 0.40, 0.05, 0.00, 0.00, 0.10),
            "petition": (0.30, 0.40, 0.20, 0.00, 0.00, 0.10),
        }
    )
    # Reporting delay per source: with probability `late_share` a lognormal tail of days
    # (median `late_median_hours`), otherwise exponential with mean `prompt_mean_minutes`.
    prompt_mean_minutes: dict[str, float] = _d(
        {
            "resident": 25.0,
            "hotline": 15.0,
            "grid_worker": 30.0,
            "patrol": 10.0,
            "sensor": 2.0,
            "other": 40.0,
        }
    )
    late_share: dict[str, float] = _d(
        {
            "resident": 0.12,
            "hotline": 0.08,
            "grid_worker": 0.10,
            "patrol": 0.03,
            "sensor": 0.0,
            "other": 0.20,
        }
    )
    late_median_hours: float = 30.0
    late_sigma: float = 0.9
    # Severity 1..5 probabilities per category.
    severity: dict[str, tuple[float, ...]] = _d(
        {
            "dispute": (0.35, 0.35, 0.20, 0.08, 0.02),
            "theft": (0.30, 0.35, 0.25, 0.08, 0.02),
            "fire_hazard": (0.20, 0.30, 0.25, 0.15, 0.10),
            "safety_hazard": (0.25, 0.35, 0.25, 0.10, 0.05),
            "fraud": (0.20, 0.30, 0.30, 0.15, 0.05),
            "petition": (0.30, 0.35, 0.20, 0.10, 0.05),
        }
    )

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.base_rate_per_day)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthParams:
        """Inverse of `to_dict` (JSON turns tuples into lists; they are turned back)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: _tuples(v) for k, v in data.items() if k in known}
        return cls(**kwargs)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def check_params(params: SynthParams) -> None:
    """Refuse tables that do not cover every category, grid type and source."""
    from risk.errors import ConfigError

    cats = set(params.categories)
    for name in (
        "population_exponent",
        "hour_profile",
        "day_of_week",
        "seasonality",
        "spring_festival",
        "other_holiday",
        "decay_hours",
        "excite_within",
        "excite_neighbours",
        "source_mix",
        "severity",
    ):
        table = getattr(params, name)
        if set(table) != cats:
            raise ConfigError(
                f"synth parameter {name!r} must have one entry per category {sorted(cats)}, "
                f"got {sorted(table)}"
            )
    for name in ("population_median", "household_size", "type_multiplier", "shops_mean"):
        missing = set(GRID_TYPES) - set(getattr(params, name))
        if missing:
            raise ConfigError(f"synth parameter {name!r} lacks grid types {sorted(missing)}")
    for name in ("prompt_mean_minutes", "late_share"):
        missing = set(SOURCES) - set(getattr(params, name))
        if missing:
            raise ConfigError(f"synth parameter {name!r} lacks sources {sorted(missing)}")
    if any(d <= 1.0 for d in params.decay_hours.values()):
        raise ConfigError("synth parameter 'decay_hours' must be > 1 hour for every category")
