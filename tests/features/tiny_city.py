"""The hand-worked city of the feature tests: a 3×3 lattice, two communities, a dozen events.

Cells are numbered row-major from the south-west corner:

    g6 g7 g8
    g3 g4 g5
    g0 g1 g2

Community cA = {g0, g1, g3, g4}, cB = {g2, g5, g6, g7, g8}; street s1 holds every grid.
Ring-1 (queen) of g4 is every other cell; of g0: g1, g3, g4; ring-2 of g0: g2, g5, g6, g7, g8.

T is the issue time 2026-03-10 08:00 (Asia/Shanghai). Events, as offsets from T
(reported when they occurred unless said):

    id   grid category  occurred        note
    e1   g4   theft     T - 2 h         reported T - 1 h
    e2   g4   theft     T - 5 d
    e3   g4   dispute   T - 10 d
    e4   g4   theft     T - 30 d
    e5   g0   dispute   T - 25 h
    e6   g1   theft     T - 6 d
    e7   g8   dispute   T - 3 d         reported T + 2 h: NOT known at T, known at T + 1 d
    e8   g2   theft     T - 400 d
    e9   g4   dispute   T - 7 d + 10 h  (= T - 6 d 14 h)
    e10  g4   theft     T - 365 d + 5 h (= T - 364 d 19 h)
    e11  g5   theft     T + 1 h         in the label window of T
    e12  g4   theft     T + 71 h        in the label window of T
    e13  g4   dispute   T + 73 h        just after the label window of T
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from shapely import box

from features.issue_times import daily_issue_times

TZ = "Asia/Shanghai"
T = pd.Timestamp("2026-03-10 08:00", tz=TZ)
H = pd.Timedelta(hours=1)
D = pd.Timedelta(days=1)
HISTORY_START = T - 500 * D
COMMUNITY = ["cA", "cA", "cB", "cA", "cA", "cB", "cB", "cB", "cB"]


def lattice_grids(n: int = 3, size_deg: float = 0.01) -> pd.DataFrame:
    cells = [
        box(
            110 + c * size_deg, 30 + r * size_deg, 110 + (c + 1) * size_deg, 30 + (r + 1) * size_deg
        )
        for r in range(n)
        for c in range(n)
    ]
    return pd.DataFrame(
        {
            "grid_id": [f"g{i}" for i in range(n * n)],
            "community_id": COMMUNITY if n == 3 else ["cA"] * (n * n),
            "street_id": ["s1"] * (n * n),
            "grid_type": ["mixed"] * (n * n),
            "area_km2": np.full(n * n, 1.07),
            "centroid_lon": [g.centroid.x for g in cells],
            "centroid_lat": [g.centroid.y for g in cells],
            "geometry": cells,
        }
    )


_EVENTS = [
    # id, grid, category, occurred, reported
    ("e1", "g4", "theft", T - 2 * H, T - 1 * H),
    ("e2", "g4", "theft", T - 5 * D, None),
    ("e3", "g4", "dispute", T - 10 * D, None),
    ("e4", "g4", "theft", T - 30 * D, None),
    ("e5", "g0", "dispute", T - 25 * H, None),
    ("e6", "g1", "theft", T - 6 * D, None),
    ("e7", "g8", "dispute", T - 3 * D, T + 2 * H),
    ("e8", "g2", "theft", T - 400 * D, None),
    ("e9", "g4", "dispute", T - 7 * D + 10 * H, None),
    ("e10", "g4", "theft", T - 365 * D + 5 * H, None),
    ("e11", "g5", "theft", T + 1 * H, None),
    ("e12", "g4", "theft", T + 71 * H, None),
    ("e13", "g4", "dispute", T + 73 * H, None),
]


def make_events(rows: list[tuple] = _EVENTS, source: str | None = "resident") -> pd.DataFrame:
    """Events in the validated shape (risk.contract.EVENT_COLUMNS)."""
    occurred = pd.DatetimeIndex([r[3] for r in rows], tz=TZ).as_unit("ns")
    reported = pd.DatetimeIndex([r[4] if r[4] is not None else r[3] for r in rows], tz=TZ).as_unit(
        "ns"
    )
    return pd.DataFrame(
        {
            "event_id": pd.Series([r[0] for r in rows], dtype="str"),
            "occurred_at": occurred,
            "reported_at": reported,
            "category": pd.Series([r[2] for r in rows], dtype="str"),
            "grid_id": pd.Series([r[1] for r in rows], dtype="str"),
            "source": pd.Series([source] * len(rows), dtype="str"),
            "severity": pd.array([pd.NA] * len(rows), dtype="Int8"),
        }
    )


def issue_times() -> pd.DatetimeIndex:
    """T - 2 d .. T + 2 d, daily at 08:00; T is position 2."""
    return daily_issue_times("2026-03-08", "2026-03-12")


def row(frame: pd.DataFrame, grid: str, at: pd.Timestamp = T) -> pd.Series:
    match = frame[(frame["grid_id"] == grid) & (frame["issue_time"] == at)]
    assert len(match) == 1
    return match.iloc[0]
