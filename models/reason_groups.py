"""Reason groups: the model's features partitioned into groups that each mean one thing to a
person (issue 15, item 4; docs/adr/017-reasons-in-plain-words.md).

Which group a feature belongs to depends on the target explained: for a theft model
`events_28d_theft` is "thefts here recently", `events_28d_fire_hazard` is "other kinds of
events here". Every feature name maps to exactly one group (`group_of`); names this module
does not know fall back to their family's group, else `other`.

| group | the target's own … / others |
|---|---|
| `long_term` | windows of 91 days and more, half-lives of 30 days and more, the same window a year ago, the long-run rate; classic rate, steadied rate, city mean, seppexp |
| `recent` | windows under 91 days, shorter half-lives, days since the last event, the same window a week ago, the 28-day trend; classic recent and self-excitation |
| `nearby` | every neighbourhood feature (adjacent grids, two steps away, community, street, the grid's share of its community); classic near-repeat, KDE, prospective |
| `other_kinds` | all of the above for any other category (cross-excitation included) |
| `when` | time-of-window and calendar features |
| `place` | grid type, area, density, `attr_*` |
| `people` | population features |
| `reporting` | shares of events by source |

Within a group, *aspects* (`aspect_of`) say which part of it pushes hardest, so the text can
name it: the category within `other_kinds`; season, week, holiday or hour within `when`; the
feature itself within `place`, `people`, `reporting` and `other`.
"""

from __future__ import annotations

import re

from features import population

GROUPS = (
    "long_term",
    "recent",
    "nearby",
    "other_kinds",
    "when",
    "place",
    "people",
    "reporting",
    "other",
)
OTHER = "other"

# Per-category features: pattern -> what decides own-category group. `w` is a window in days,
# `h` a half-life in days.
_HISTORY = (
    (re.compile(r"^events_(?P<w>\d+(?:\.\d+)?)d_(?P<c>.+)$"), "window"),
    (re.compile(r"^decay_(?P<h>\d+(?:\.\d+)?)d_(?P<c>.+)$"), "half_life"),
    (re.compile(r"^days_since_last_(?P<c>.+)$"), "recent"),
    (re.compile(r"^same_window_1w_(?P<c>.+)$"), "recent"),
    (re.compile(r"^same_window_1y_(?P<c>.+)$"), "long_term"),
    (re.compile(r"^rate_all_(?P<c>.+)$"), "long_term"),
    (re.compile(r"^trend_\d+d_(?P<c>.+)$"), "recent"),
)
_NEIGHBOURHOOD = (
    re.compile(r"^(nbr\d+|community|street)_events_\d+(?:\.\d+)?d_(?P<c>.+)$"),
    re.compile(r"^(nbr\d+|community|street)_decay_\d+(?:\.\d+)?d_(?P<c>.+)$"),
    re.compile(r"^community_share_\d+d_(?P<c>.+)$"),
)
_CLASSIC_GROUP = {
    "rate": "long_term",
    "eb": "long_term",
    "pooled": "long_term",
    "declustered": "long_term",
    "dpooled": "long_term",
    "citymean": "long_term",
    "seppexp": "long_term",
    "recent": "recent",
    "self": "recent",
    "nbr": "nearby",
    "kde": "nearby",
    "prospective": "nearby",
}
_CLASSIC = re.compile(rf"^classic_(?P<k>{'|'.join(_CLASSIC_GROUP)})_(?P<c>.+)$")
LONG_WINDOW_DAYS = 91  # windows this long or longer: "over the past year"
LONG_HALF_LIFE_DAYS = 30

SEASON = ("issue_month", "season_sin", "season_cos")
WEEK = ("window_weekend_share", "window_off_share", "issue_on_day_off")
HOLIDAY = (
    "window_holiday_share",
    "window_adjusted_workday_share",
    "issue_on_holiday",
    "days_to_next_holiday",
    "days_since_last_holiday",
)
HOUR = ("issue_hour",)
_WHEN = {**dict.fromkeys(SEASON, "season"), **dict.fromkeys(WEEK, "week")}
_WHEN |= {**dict.fromkeys(HOLIDAY, "holiday"), **dict.fromkeys(HOUR, "hour")}
PLACE = ("grid_type", "area_km2", "density_per_km2")
PEOPLE = population.FEATURES
_FAMILY_GROUP = {
    "time": "when",
    "calendar": "when",
    "area": "place",
    "population": "people",
    "reporting": "reporting",
}


def category_of(name: str) -> str | None:
    """The event category a per-category feature counts (history, neighbourhood, classic), or
    None for a feature shared by every category."""
    if name in _WHEN:  # days_since_last_holiday is the calendar's, not a category's
        return None
    for pattern, _ in _HISTORY:
        m = pattern.match(name)
        if m:
            return m["c"]
    for pattern in _NEIGHBOURHOOD:
        m = pattern.match(name)
        if m:
            return m["c"]
    m = _CLASSIC.match(name)
    return m["c"] if m else None


def _own_group(name: str) -> str:
    """The group of a feature of the explained target's own category."""
    for pattern, rule in _HISTORY:
        m = pattern.match(name)
        if not m:
            continue
        if rule == "window":
            return "long_term" if float(m["w"]) >= LONG_WINDOW_DAYS else "recent"
        if rule == "half_life":
            return "long_term" if float(m["h"]) >= LONG_HALF_LIFE_DAYS else "recent"
        return rule
    if any(p.match(name) for p in _NEIGHBOURHOOD):
        return "nearby"
    m = _CLASSIC.match(name)
    return _CLASSIC_GROUP[m["k"]] if m else OTHER


def group_of(name: str, target: str, family: str | None = None) -> str:
    """The group of feature `name` in the reasons of `target` (`family`: its feature family,
    used for a name this module does not know)."""
    category = category_of(name)
    if category is not None:
        return _own_group(name) if category == target else "other_kinds"
    if name in _WHEN or name.startswith("window_share_"):
        return "when"
    if name in PLACE or name.startswith("attr_"):
        return "place"
    if name in PEOPLE:
        return "people"
    if name.startswith("source_share_"):
        return "reporting"
    return _FAMILY_GROUP.get(family or "", OTHER)


def aspect_of(name: str, target: str, family: str | None = None) -> str:
    """Which part of its group a feature speaks for (module docstring)."""
    group = group_of(name, target, family)
    if group == "other_kinds":
        return category_of(name) or ""
    if group == "when":
        return _WHEN.get(name) or ("holiday" if family == "calendar" else "week")
    if group in ("place", "people", "reporting", OTHER):
        return name
    return ""
