"""Scheduled scoring attempts (`serve.repo.attempts`, `serve.jobs.recorded`): every attempt
of the daily job is written, complete or failed, and summed up for `/metrics`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import select

from risk.errors import RiskError
from serve.db import transaction
from serve.jobs import city_score_job, recorded
from serve.repo.attempts import ATTEMPTS, record_attempt, summary

NOW = datetime(2024, 5, 10, 8, tzinfo=UTC)
ISSUE = pd.Timestamp("2024-05-10 08:00", tz="Asia/Shanghai")


def rows(factory):
    with factory() as s:
        return s.execute(select(ATTEMPTS).order_by(ATTEMPTS.c.id)).all()


def test_summary_counts_and_buckets(factory):
    with factory() as s:
        empty = summary(s)
    assert empty.counts == {"complete": 0, "failed": 0}
    assert (empty.count, empty.seconds_sum, empty.last_seconds) == (0, 0.0, None)
    assert empty.last_finished == {}
    with transaction(factory) as s:
        # a bound is inclusive: 5.0 s falls in the le=5 bucket
        record_attempt(s, started_at=NOW, seconds=5.0, status="complete", run_id="r1")
        record_attempt(s, started_at=NOW + timedelta(hours=1), seconds=0.25, status="failed")
    with factory() as s:
        got = summary(s, bounds=(1.0, 5.0, 10.0))
    assert got.counts == {"complete": 1, "failed": 1}
    assert got.buckets == [1, 2, 2]
    assert (got.count, got.seconds_sum, got.last_seconds) == (2, 5.25, 0.25)
    assert got.last_finished == {
        "complete": NOW + timedelta(seconds=5),
        "failed": NOW + timedelta(hours=1, seconds=0.25),
    }


def test_record_attempt_refuses_nonsense(factory):
    with factory() as s:
        with pytest.raises(ValueError, match="accepted: complete, failed"):
            record_attempt(s, started_at=NOW, seconds=1.0, status="ok")
        with pytest.raises(ValueError, match="seconds must be >= 0"):
            record_attempt(s, started_at=NOW, seconds=-1.0, status="failed")


def test_recorded_job_writes_each_attempt_and_keeps_the_outcome(factory):
    done = recorded(factory, lambda issue, now: SimpleNamespace(run_id="r7"))
    assert done(ISSUE, NOW).run_id == "r7"

    def broken(issue, now):
        raise RiskError("the grids file is gone: /secret/path/grids.csv")

    with pytest.raises(RiskError, match="grids file is gone"):
        recorded(factory, broken)(ISSUE, NOW + timedelta(days=1))
    first, second = rows(factory)
    assert (first.status, first.run_id, first.error) == ("complete", "r7", None)
    assert first.started_at == NOW and first.issue_time == ISSUE.tz_convert("UTC")
    assert 0 <= first.seconds < 5 and first.finished_at >= first.started_at
    # the class name only: a message may hold paths
    assert (second.status, second.run_id, second.error) == ("failed", None, "RiskError")


def test_the_service_job_is_recorded(factory, tmp_path):
    job = city_score_job(factory=factory, grids_path=tmp_path / "missing.geojson")
    with pytest.raises(RiskError):
        job(ISSUE, NOW)
    [row] = rows(factory)
    assert row.status == "failed" and row.error is not None
