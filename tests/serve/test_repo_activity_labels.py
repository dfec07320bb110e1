"""Stored event counts keep the labels' count (issue 17, item 2): a warning comes true only on
events its model's labels count — a patrol's own finds are left out by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from serve.db import transaction
from serve.repo.activity import COUNTS, hourly_counts, replace_event_counts, window_hits

T = datetime(2024, 5, 1, tzinfo=UTC)
# g1: a patrol's find at T + 1 h; g2: a resident's report at T + 2 h and a patrol's at T + 2 h
EVENTS = pd.DataFrame(
    {
        "occurred_at": pd.to_datetime([T + timedelta(hours=h) for h in (1, 2, 2)], utc=True),
        "reported_at": pd.to_datetime([T + timedelta(hours=h) for h in (1, 2, 2)], utc=True),
        "category": ["theft", "theft", "theft"],
        "grid_id": ["g1", "g2", "g2"],
        "source": ["patrol", "resident", "patrol"],
    }
)
AT = pd.Timestamp(T + timedelta(days=1))
WINDOWS = [("g1", "any", T, T + timedelta(days=1)), ("g2", "theft", T, T + timedelta(days=1))]


def test_hourly_counts_keep_the_labels_count():
    counts = hourly_counts(EVENTS, pd.Timestamp(T), ("patrol",))
    assert counts[["grid_id", "count", "label_count"]].values.tolist() == [
        ["g1", 1, 0],
        ["g2", 2, 1],
    ]


@pytest.mark.parametrize(("excluded", "hits"), [(("patrol",), [False, True]), ((), [True, True])])
def test_warnings_come_true_on_the_events_the_labels_count(factory, excluded, hits):
    with transaction(factory) as s:
        replace_event_counts(s, EVENTS, AT, excluded)
    with factory() as s:
        assert window_hits(s, WINDOWS) == hits


def test_counts_stored_before_the_label_count_count_every_source(factory):
    with transaction(factory) as s:
        replace_event_counts(s, EVENTS, AT, ("patrol",))
        s.execute(COUNTS.update().values(label_count=None))  # as rows written before 0009
    with factory() as s:
        assert window_hits(s, WINDOWS) == [True, True]
        assert set(s.scalars(select(COUNTS.c.count))) == {1, 2}
