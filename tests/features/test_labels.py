"""Labels: events with occurred_at in (t, t + 72 h], whenever reported."""

from __future__ import annotations

from features.base import FeatureSpec
from features.build import build_features
from tests.features.tiny_city import D, T, issue_times, lattice_grids, make_events, row


def _frame():
    spec = FeatureSpec(
        families=("history",), windows_days=(1,), targets=("any", "theft", "dispute")
    )
    return build_features(lattice_grids(), make_events(), issue_times(), spec).frame


def test_labels_count_the_next_72_hours():
    frame = _frame()
    g4 = row(frame, "g4")
    # g4 at T: e12 (theft, T + 71 h) is in, e13 (dispute, T + 73 h) is out
    assert (g4["count_any"], g4["count_theft"], g4["count_dispute"]) == (1, 1, 0)
    assert (g4["label_any"], g4["label_theft"], g4["label_dispute"]) == (1, 1, 0)
    # g5 at T: e11 (T + 1 h) -> 1
    assert row(frame, "g5")["count_any"] == 1
    # g4 at T + 1 d: window (T + 1 d, T + 4 d] holds e12 and e13 -> 2
    assert row(frame, "g4", T + D)["count_any"] == 2


def test_labels_ignore_reporting_time():
    # e11 (g5, occurred T + 1 h) reported 30 days later still counts in the label of T
    events = make_events()
    events.loc[events["event_id"] == "e11", "reported_at"] = T + 30 * D
    spec = FeatureSpec(families=("history",), windows_days=(1,), targets=("any",))
    late = build_features(lattice_grids(), events, issue_times(), spec).frame
    assert row(late, "g5")["count_any"] == 1


def test_label_dtypes():
    frame = _frame()
    assert str(frame["label_any"].dtype) == "int8"
    assert str(frame["count_any"].dtype) == "int32"
