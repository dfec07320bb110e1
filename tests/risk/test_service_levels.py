"""Response within 2 h, completion within 24 h, timeouts and closures, by hand."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pandas as pd
import pytest

from risk.review import ReviewState, upsert_from_scoring
from risk.service_levels import service_levels

T0 = pd.Timestamp("2024-03-01 08:00", tz="Asia/Shanghai").to_pydatetime()
H = timedelta(hours=1)
S = ReviewState


def item(grid, created=T0, **changes):
    made, _ = upsert_from_scoring(
        None, grid_id=grid, target="theft", window_start=created, window_end=created + 72 * H,
        prob=0.5, level="red", reasons=[], model_version="v1", at=created,
    )  # fmt: skip
    return dataclasses.replace(made, **changes)


def test_rates_by_hand():
    now = T0 + 30 * H
    items = [
        # approved after 1 h, completed 10 h later: in time on both
        item("a", state=S.COMPLETED, reviewed_at=T0 + H, completed_at=T0 + 11 * H),
        # approved after 3 h (late response), dispatched, not completed 27 h later: late, open
        item("b", state=S.DISPATCHED, reviewed_at=T0 + 3 * H),
        # rejected after 90 min: responded in time; no completion to judge
        item("c", state=S.REJECTED, reviewed_at=T0 + 1.5 * H),
        # escalated by the system sweep, then nothing: not a response
        item("d", state=S.ESCALATED, escalated_by="system", escalated_at=T0 + 2 * H),
        # escalated by a person after 30 min: a response in time
        item("e", state=S.ESCALATED, escalated_by="rev", escalated_at=T0 + 0.5 * H),
        # entered 1 h ago, still pending: not judged yet
        item("f", created=now - H),
        # approved 29 h ago, completed after 26 h: closed, but late
        item("g", state=S.COMPLETED, reviewed_at=T0 + H, completed_at=T0 + 27 * H),
        # before the period
        item("h", created=T0 - 48 * H, state=S.REJECTED, reviewed_at=T0 - 40 * H),
    ]
    got = service_levels(items, now, since=T0)
    assert (got.judged_response, got.responded_in_time) == (6, 4)  # a, c, e, g in time; b, d not
    assert got.response_rate == pytest.approx(4 / 6)
    assert got.timeout_rate == pytest.approx(2 / 6)
    assert (got.judged_completion, got.completed_in_time, got.closed) == (3, 1, 2)  # a, b, g
    assert got.completion_rate == pytest.approx(1 / 3)
    assert got.closure_rate == pytest.approx(2 / 3)


def test_nothing_to_judge_gives_no_rates():
    got = service_levels([item("a", created=T0)], T0 + H, since=T0)
    assert (got.response_rate, got.timeout_rate, got.completion_rate, got.closure_rate) == (
        None, None, None, None,
    )  # fmt: skip
