"""The street → community → grid roll-up, by hand (risk.rollup)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pandas as pd
import pytest

from risk.review import ReviewState, upsert_from_scoring
from risk.rollup import RollupRow, rollup, total

T0 = pd.Timestamp("2024-03-01 08:00", tz="Asia/Shanghai").to_pydatetime()
H = timedelta(hours=1)
NOW = T0 + 30 * H
S = ReviewState

# street s1: community c1 = g1, g2; community c2 = g3. street s2: community c3 = g4.
GRIDS = pd.DataFrame(
    {
        "grid_id": ["g1", "g2", "g3", "g4"],
        "community_id": ["c1", "c1", "c2", "c3"],
        "street_id": ["s1", "s1", "s1", "s2"],
    }
)


def item(grid, created=T0, target="theft", **changes):
    made, _ = upsert_from_scoring(
        None, grid_id=grid, target=target, window_start=created, window_end=created + 72 * H,
        prob=0.5, level="red", reasons=[], model_version="v1", at=created,
    )  # fmt: skip
    return dataclasses.replace(made, **changes)


ITEMS = [
    # g1: approved after 1 h, completed 10 h later: both targets met
    item("g1", state=S.COMPLETED, reviewed_at=T0 + H, completed_at=T0 + 11 * H),
    # g1: approved after 3 h (late), dispatched, open 27 h after approval: misses both, one breach
    item("g1", target="any", state=S.DISPATCHED, reviewed_at=T0 + 3 * H),
    # g2: approved after 1 h, not completed 29 h later: completion missed
    item("g2", state=S.APPROVED, reviewed_at=T0 + H),
    # g3: pending since T0, 30 h without a response: timeout
    item("g3"),
    # g3: escalated by the system sweep, nobody acted: timeout, still waiting
    item("g3", target="any", state=S.ESCALATED, escalated_by="system", escalated_at=T0 + 2 * H),
    # g4: entered an hour ago: waiting, not judged yet
    item("g4", created=NOW - H),
    # g4: rejected after 90 min: no column, no breach
    item("g4", target="any", state=S.REJECTED, reviewed_at=T0 + 1.5 * H),
    # g2: before the period; g9: a grid not given (out of scope)
    item("g2", created=T0 - 48 * H, target="any"),
    item("g9"),
]
# Approved warnings whose window closed, and whether it saw an event.
CLOSED = [item("g1", T0 - 96 * H), item("g2", T0 - 96 * H), item("g4", T0 - 96 * H),
          item("g9", T0 - 96 * H)]  # fmt: skip
CAME_TRUE = [True, False, True, True]


def counts(rows):
    return {
        r.key: (r.pending, r.approved, r.dispatched, r.completed, r.breaches, r.closed, r.hits)
        for r in rows
    }


def run(level, parent=None):
    return rollup(GRIDS, level, ITEMS, NOW, T0, CLOSED, CAME_TRUE, parent=parent)


def test_streets():
    rows = run("street")
    # s1: waiting g3 ×2; approved g2; dispatched g1; completed g1; breaches g1-any, g2, g3 ×2;
    # closed g1 (hit), g2 (miss). s2: g4 waiting, the rejection counts nowhere; g4 closed, hit.
    assert counts(rows) == {"s1": (2, 1, 1, 1, 4, 2, 1), "s2": (1, 0, 0, 0, 0, 1, 1)}
    assert [(r.street_id, r.community_id, r.grids) for r in rows] == [("s1", None, 3),
                                                                     ("s2", None, 1)]  # fmt: skip
    assert [r.hit_rate for r in rows] == [0.5, 1.0]


def test_communities_of_a_street():
    rows = run("community", parent="s1")
    assert counts(rows) == {"c1": (0, 1, 1, 1, 2, 2, 1), "c2": (2, 0, 0, 0, 2, 0, 0)}
    assert [(r.street_id, r.community_id, r.grids) for r in rows] == [("s1", "c1", 2),
                                                                     ("s1", "c2", 1)]  # fmt: skip
    assert rows[1].hit_rate is None  # nothing closed in c2
    assert counts(run("community")).keys() == {"c1", "c2", "c3"}  # no parent: every community


def test_grids_of_a_community_with_zero_rows():
    assert counts(run("grid", parent="c1")) == {
        "g1": (0, 0, 1, 1, 1, 1, 1),
        "g2": (0, 1, 0, 0, 1, 1, 0),
    }
    quiet = rollup(GRIDS, "grid", [], NOW, T0, parent="c3")
    assert quiet == [RollupRow("g4", "s2", "c3", 1)]  # every grid gets a row, zeros included
    assert run("grid", parent="nowhere") == []


def test_total_sums_the_rows():
    whole = total(run("street"))
    assert (whole.grids, whole.pending, whole.breaches, whole.closed, whole.hits) == (4, 3, 4, 3, 2)
    assert whole.hit_rate == pytest.approx(2 / 3)


def test_outcomes_must_match_the_closed_warnings():
    with pytest.raises(ValueError, match="4 closed warnings but 1 outcomes"):
        rollup(GRIDS, "street", [], NOW, T0, CLOSED, [True])
    with pytest.raises(ValueError):
        rollup(GRIDS, "province", [], NOW, T0)
