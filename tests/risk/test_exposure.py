"""Patrol exposure: visits checked, counted per grid and window, summarised by segment."""

from __future__ import annotations

import pandas as pd
import pytest

from risk.errors import ContractError
from risk.exposure import check_visits, exposure_summary, window_visits

TZ = "Asia/Shanghai"
T0 = pd.Timestamp("2024-06-01 08:00", tz=TZ)
H = pd.Timedelta(hours=1)
TIMES = pd.DatetimeIndex([T0, T0 + 24 * H])
GRIDS = pd.DataFrame(
    {
        "grid_id": ["g1", "g2", "g3"],
        "grid_type": ["old_residential", "commercial", "commercial"],
        "street_id": ["s1", "s1", "s2"],
    }
)
RAW = pd.DataFrame(
    {
        "grid_id": ["g1", "g1", "g2", "g3", "g2"],
        "visited_at": [
            (T0 + H).isoformat(),
            (T0 + 25 * H).isoformat(),
            (T0 + 71 * H).isoformat(),
            T0.isoformat(),
            (T0 + 2 * H).isoformat(),
        ],
        "outcome": ["nothing_found", "found_issue", None, "nothing_found", "could_not_visit"],
    }
)


def test_could_not_visit_is_not_a_visit_and_times_are_read():
    visits = check_visits(RAW, TZ, GRIDS["grid_id"])
    assert len(visits) == 4
    assert visits["visited_at"].iloc[0] == T0  # sorted by time
    assert str(visits["visited_at"].dt.tz) == TZ


def test_visits_per_grid_and_window_by_hand():
    visits = check_visits(RAW, TZ)
    # T0: g1 at T0+1h, T0+25h -> 2; g2 at T0+71h -> 1; g3 at T0 exactly is not after T0 -> 0
    # T0+24h: g1 at T0+25h -> 1; g2 at T0+71h -> 1; g3 0
    assert window_visits(visits, GRIDS["grid_id"], TIMES, 72).tolist() == [[2, 1, 0], [1, 1, 0]]


def test_exposure_by_grid_type_and_street_by_hand():
    out = exposure_summary(check_visits(RAW, TZ), GRIDS, TIMES, 72)
    # visits in (T0, T0 + 24 h + 72 h]: g1 twice, g2 once (g3's at T0 is not in) -> 3
    assert (out["visits"], out["grids_visited"], out["grids"]) == (3, 2, 3)
    assert out["visits_per_grid_window"] == pytest.approx(5 / 6)
    assert out["by_grid_type"]["commercial"] == {
        "grids": 2,
        "visits": 1,
        "visits_per_grid_window": pytest.approx(0.5),  # (1 + 0 + 1 + 0) / 4
        "share_of_visits": pytest.approx(1 / 3),
    }
    assert out["by_grid_type"]["old_residential"]["visits_per_grid_window"] == pytest.approx(1.5)
    assert out["by_street"]["s1"]["visits_per_grid_window"] == pytest.approx(1.25)  # 5 / 4
    assert out["by_street"]["s2"]["visits"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"visited_at": ["yesterday", None, None, None, None]}, "field 'visited_at'.*row 0"),
        ({"outcome": ["lost", None, None, None, None]}, "field 'outcome'.*'lost'"),
        ({"grid_id": ["g9", "g1", "g1", "g1", "g1"]}, "field 'grid_id'.*not in the grids"),
    ],
)
def test_bad_visits_name_the_field_and_the_fix(change, message):
    raw = RAW.copy()
    for column, values in change.items():
        raw[column] = [v if v is not None else raw[column].iloc[i] for i, v in enumerate(values)]
    with pytest.raises(ContractError, match=message):
        check_visits(raw, TZ, GRIDS["grid_id"], file="visits.csv")


def test_a_missing_column_is_named():
    with pytest.raises(ContractError, match="visits.csv: field 'visited_at': missing column"):
        check_visits(RAW.drop(columns="visited_at"), TZ, file="visits.csv")
