"""Labels: events with occurred_at in (t, t + 72 h], whenever reported."""

from __future__ import annotations

import pytest

from features.base import FeatureSpec
from features.build import build_features
from risk.errors import ConfigError
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


def _with_sources(sources: dict[str, str | None]):
    events = make_events()
    for event_id, source in sources.items():
        events.loc[events["event_id"] == event_id, "source"] = source
    return events


def _g4_count_next_day(events, **spec) -> int:
    """count_any of g4 at T + 1 d (window (T + 1 d, T + 4 d]: e12 theft, e13 dispute)."""
    spec = FeatureSpec(families=("history",), windows_days=(1,), targets=("any",), **spec)
    frame = build_features(lattice_grids(), events, issue_times(), spec).frame
    return int(row(frame, "g4", T + D)["count_any"])


def test_patrol_events_are_left_out_of_labels_by_default():
    # g4 at T + 1 d: window (T + 1 d, T + 4 d] holds e12 (theft) and e13 (dispute); e12 found
    # by a patrol -> the label counts e13 only; the feature e1 (T - 2 h, also a patrol's)
    # still counts in events_1d_any of g4 at T (features see every source).
    events = _with_sources({"e12": "patrol", "e1": "patrol"})
    spec = FeatureSpec(families=("history",), windows_days=(1,), targets=("any", "theft"))
    frame = build_features(lattice_grids(), events, issue_times(), spec).frame
    later = row(frame, "g4", T + D)
    assert (later["count_any"], later["count_theft"]) == (1, 0)
    assert row(frame, "g4")["events_1d_any"] == 1


def test_label_sources_are_a_setting():
    # counting every source puts e12 back: 2 events for g4 at T + 1 d, as before the setting
    assert _g4_count_next_day(_with_sources({"e12": "patrol"}), label_exclude_sources=()) == 2
    # leaving hotline out instead: e12 (patrol) counts, e13 (hotline) does not -> 1
    events = _with_sources({"e12": "patrol", "e13": "hotline"})
    assert _g4_count_next_day(events, label_exclude_sources=("hotline",)) == 1


def test_events_without_a_source_count_in_labels():
    assert _g4_count_next_day(_with_sources({"e12": None, "e13": None})) == 2


def test_unknown_label_source_is_refused_with_the_accepted_ones():
    with pytest.raises(ConfigError, match="unknown source 'police'.*accepted: resident"):
        FeatureSpec(label_exclude_sources=("police",))
    assert FeatureSpec(label_exclude_sources="patrol, other").label_exclude_sources == (
        "patrol",
        "other",
    )
    assert FeatureSpec(label_exclude_sources="none").label_exclude_sources == ()
