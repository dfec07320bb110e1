"""The data contract (DESIGN §3) as data: column names, types and accepted values.

After validation the toolkit works on two pandas frames whose shape is fixed here:

* **grids** — one row per grid, columns `GRID_COLUMNS` (always present) plus any optional
  population columns and `attr_*` columns that the input had. `geometry` holds shapely
  polygons (or `None` when only centroids were given).
* **events** — one row per valid event, columns `EVENT_COLUMNS`. `occurred_at` and
  `reported_at` are timezone-aware (the city zone); `category` is normalised.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from risk.errors import ConfigError

DEFAULT_TZ = "Asia/Shanghai"
HORIZON_HOURS = 72
DEFAULT_ISSUE_HOUR = 8
ANY_TARGET = "any"
UNASSIGNED = "unassigned"

GRID_TYPES = (
    "old_residential",
    "new_residential",
    "commercial",
    "campus",
    "rural",
    "industrial",
    "mixed",
)

SOURCES = ("resident", "hotline", "grid_worker", "patrol", "sensor", "other")

# Always present in a validated grids frame.
GRID_COLUMNS = (
    "grid_id",
    "community_id",
    "street_id",
    "grid_type",
    "area_km2",
    "centroid_lon",
    "centroid_lat",
    "geometry",
)
# Optional; absent in the input -> absent in the frame (never filled with zeros).
GRID_COUNT_COLUMNS = ("population", "households", "elderly_alone", "special_care")
GRID_SHARE_COLUMNS = ("elderly_share", "floating_share", "rental_share")
GRID_OPTIONAL_COLUMNS = GRID_COUNT_COLUMNS + GRID_SHARE_COLUMNS
ATTR_PREFIX = "attr_"

# Always present in a validated events frame, in this order.
EVENT_COLUMNS = (
    "event_id",
    "occurred_at",
    "reported_at",
    "category",
    "grid_id",
    "source",
    "severity",
)
EVENT_REQUIRED = ("occurred_at", "category")

_SPACES = re.compile(r"[\s\-]+")


def check_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone (e.g. Asia/Shanghai, America/Chicago), else
    `ConfigError` naming it and the fix."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(
            f"unknown time zone {name!r}; give an IANA name such as Asia/Shanghai or "
            "America/Chicago (names are case-sensitive)"
        ) from None
    return name


def normalise_category(raw: str) -> str:
    """Free-vocabulary category -> canonical token: trimmed, lower case, runs of spaces/dashes as `_`.

    >>> normalise_category("  Criminal   Damage ")
    'criminal_damage'
    """
    return _SPACES.sub("_", raw.strip().lower()).strip("_")
