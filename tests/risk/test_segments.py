"""Segments of the grids table (grid type, street, population-make-up quartiles) and the
warning rates per segment, against hand-worked values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk.segments import grid_segments, quartile_labels, warning_rates, warning_rates_by_kind


def test_quartiles_by_hand_with_a_missing_value():
    # the 8 given values sorted: 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.9; linear quantiles at positions
    # 1.75, 3.5, 5.25: q25 = 0.2 + 0.75·0.1 = 0.275, q50 = 0.45, q75 = 0.6 + 0.25·0.1 = 0.625
    values = [0.1, 0.2, 0.3, 0.4, 0.5, np.nan, 0.9, 0.6, 0.7]
    labels, edges = quartile_labels(values)
    assert edges == pytest.approx([0.275, 0.45, 0.625])
    assert labels.tolist() == ["Q1", "Q1", "Q2", "Q2", "Q3", "missing", "Q4", "Q3", "Q4"]


def test_a_value_on_an_edge_falls_in_the_lower_quartile_and_ties_empty_some():
    # edges 0, 0, 0: every 0 is Q1 (v <= q25); 1 is above q75 → Q4; Q2 and Q3 stay empty
    labels, edges = quartile_labels([0.0, 0.0, 0.0, 0.0, 1.0])
    assert edges == [0.0, 0.0, 0.0]
    assert labels.tolist() == ["Q1", "Q1", "Q1", "Q1", "Q4"]


def test_grid_segments_cut_the_share_columns_present_and_note_the_rest():
    grids = pd.DataFrame(
        {
            "grid_id": ["g1", "g2", "g3", "g4"],
            "street_id": ["s1", "s1", "s2", "s2"],
            "grid_type": ["campus", "rural", "rural", "rural"],
            "floating_share": [0.4, 0.1, 0.3, 0.2],
            "rental_share": [np.nan] * 4,
        }
    )
    cut = grid_segments(grids)
    assert list(cut.labels) == ["grid_type", "street", "floating_share"]
    assert cut.labels["street"].tolist() == ["s1", "s1", "s2", "s2"]
    # 0.1 0.2 0.3 0.4: q25 = 0.175, q50 = 0.25, q75 = 0.325
    assert cut.labels["floating_share"].tolist() == ["Q4", "Q1", "Q3", "Q2"]
    assert cut.describe["floating_share"]["quartile_edges"] == pytest.approx([0.175, 0.25, 0.325])
    assert cut.describe["floating_share"]["metrics_key"] == "by_floating_share"
    assert cut.describe["grid_type"] == {
        "column": "grid_type",
        "metrics_key": "by_segment",
        "segments": 2,
    }
    assert cut.notes == [
        "no population make-up segments for elderly_share: the grids file has no such column "
        "(add it, a share in [0, 1] per grid, to see metrics by its quartiles)",
        "no population make-up segments for rental_share: the column holds no value in any grid",
    ]


def test_grid_segments_without_grid_type_or_street_are_one_unassigned_segment():
    cut = grid_segments(pd.DataFrame({"grid_id": ["g1", "g2"]}))
    assert cut.labels["grid_type"].tolist() == ["unassigned", "unassigned"]
    assert cut.describe["street"]["segments"] == 1


def test_warning_rates_by_hand():
    # grids x, x, y over 2 issue times
    level = [["red", "blue", "orange"], ["yellow", "orange", "blue"]]
    count = [[1, 0, 0], [0, 2, 1]]
    out = warning_rates(level, count, ["x", "x", "y"])
    # x: 4 rows, events in 2 → event rate 0.5; one red, one orange, one yellow; orange+ rows
    # (red d0 1 event, orange d1 2 events) both saw an event; they hold all 3 of x's events
    assert out["x"] == {
        "rows": 4,
        "event_rate": 0.5,
        "red": 0.25,
        "orange": 0.25,
        "yellow": 0.25,
        "orange_or_above": 0.5,
        "precision@orange_or_above": 1.0,
        "recall@orange_or_above": 1.0,
    }
    # y: 2 rows, event on d1; its one warning (orange, d0) saw none and caught none of its 1
    assert out["y"] == {
        "rows": 2,
        "event_rate": 0.5,
        "red": 0.0,
        "orange": 0.5,
        "yellow": 0.0,
        "orange_or_above": 0.5,
        "precision@orange_or_above": 0.0,
        "recall@orange_or_above": 0.0,
    }
    both = warning_rates_by_kind(level, count, {"grid_type": ["x", "x", "y"], "street": ["s"] * 3})
    assert set(both) == {"overall", "by_segment", "by_street"}
    assert both["by_street"]["s"] == both["overall"]
    assert both["overall"]["orange_or_above"] == pytest.approx(3 / 6)


def test_patrol_visits_per_segment_when_given():
    level = [["red", "blue", "blue"], ["blue", "blue", "blue"]]
    count = [[1, 0, 0], [0, 0, 0]]
    visits = [[2, 0, 1], [0, 0, 0]]
    out = warning_rates(level, count, ["x", "x", "y"], visits=visits)
    # x: 2 visits over 4 grid-windows, one of them visited; y: 1 over 2, one visited
    assert (out["x"]["visits_per_grid_window"], out["x"]["visited"]) == (0.5, 0.25)
    assert (out["y"]["visits_per_grid_window"], out["y"]["visited"]) == (0.5, 0.5)
    assert "visited" not in warning_rates(level, count, ["x", "x", "y"])["x"]


def test_warning_rates_refuse_mismatched_panels():
    with pytest.raises(ValueError, match="one label per grid"):
        warning_rates([["red", "blue"]], [[1, 0]], ["x"])
