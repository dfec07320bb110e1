"""The data contract (DESIGN §3) as data: column names, types and accepted values.

After validation the toolkit works on two pandas frames whose shape is fixed here:

* **grids** — one row per grid, columns `GRID_COLUMNS` (always present) plus any optional
  population columns and `attr_*` columns that the input had. `geometry` holds shapely
  polygons (or `None` when only centroids were given).
* **events** — one row per valid event, columns `EVENT_COLUMNS`. `occurred_at` and
  `reported_at` are timezone-aware (the city zone); `category` is normalised.
"""

from __future__ import annotations

import hashlib
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

# Anything but a letter (any script), a digit or `_` separates words of a category: a name
# becomes a file name, a feature name, an MLflow key and a JSON key, where `/`, `.`, `:`, `"`
# and the like break one of them.
_SEPARATORS = re.compile(r"[\W_]+")
MAX_CATEGORY_CHARS = 48  # longer names keep 40 characters and a hash of the whole name
RESERVED_CATEGORY_SUFFIX = "_category"  # a category named `any` would be the `any` target


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
    """Free-vocabulary name -> canonical token: trimmed, lower case, every run of characters
    other than letters (any script) and digits as one `_`, no `_` at either end; a token longer
    than `MAX_CATEGORY_CHARS` keeps its first 40 characters and 7 hex digits of a hash of the
    whole (distinct long names stay distinct). '' when nothing is left.

    >>> normalise_category("  Criminal   Damage ")
    'criminal_damage'
    >>> normalise_category("Fraud / Scam (online)")
    'fraud_scam_online'
    >>> normalise_category("..")
    ''
    """
    token = _SEPARATORS.sub("_", raw.strip().lower()).strip("_")
    if len(token) > MAX_CATEGORY_CHARS:
        digest = hashlib.sha1(token.encode("utf-8"), usedforsecurity=False).hexdigest()[:7]
        token = f"{token[:40].rstrip('_')}_{digest}"
    return token


def event_category(raw: str) -> str:
    """An event's category: `normalise_category`, and a name that would be the all-categories
    target `any` becomes `any_category` (so its events stay a category of their own).

    >>> event_category("ANY ")
    'any_category'
    """
    token = normalise_category(raw)
    return token + RESERVED_CATEGORY_SUFFIX if token == ANY_TARGET else token
