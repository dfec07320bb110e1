"""The sweep (escalation after 2 h, expiry after the window) and the scheduler, driven by an
injected clock: nothing here sleeps, except the one test of the thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pandas as pd
import pytest

from risk.errors import ConfigError
from risk.review import approve, claim
from serve.jobs import SWEEP_ACTOR, Scheduler, sweep_queue
from serve.repo import audit, reviews
from serve.scoring import score
from tests.serve import test_scoring
from tests.serve.test_scoring import AT, NOW, THRESHOLDS, TZ

# The tiny trained model and its city (module-scoped fixtures, built again for this module).
city = test_scoring.city
model_dir = test_scoring.model_dir

T0 = datetime(2024, 5, 20, 0, 30, tzinfo=UTC)  # item enters the queue (08:30 city time)
START = datetime(2024, 5, 20, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=72)
SECOND = timedelta(seconds=1)


def add_item(factory, grid_id="g1", target="any", at=T0):
    with factory.begin() as s:
        item, event = reviews.apply_scoring(
            s,
            grid_id=grid_id,
            target=target,
            window_start=START,
            window_end=END,
            prob=0.4,
            level="orange",
            reasons=[],
            model_version="3",
            at=at,
        )
        audit.append_review_event(s, event)
    return item


def stored(factory, item_id):
    with factory() as s:
        return reviews.require_item(s, item_id)


# ----------------------------------------------------------------------------- sweep


def test_pending_item_escalates_exactly_at_two_hours_not_before(factory):
    item = add_item(factory)
    early = sweep_queue(factory, T0 + timedelta(hours=2) - SECOND)
    assert (early.escalated, stored(factory, item.item_id).state.value) == (0, "pending")
    due = sweep_queue(factory, T0 + timedelta(hours=2))
    after = stored(factory, item.item_id)
    assert (due.checked, due.escalated, due.expired) == (1, 1, 0)
    assert (after.state.value, after.version) == ("escalated", 2)
    assert after.escalated_at == T0 + timedelta(hours=2)


def test_response_target_is_configurable(factory):
    item = add_item(factory)
    counts = sweep_queue(factory, T0 + timedelta(minutes=30), response_target=timedelta(minutes=30))
    assert counts.escalated == 1 and stored(factory, item.item_id).state.value == "escalated"


def test_item_expires_once_its_window_end_has_passed(factory):
    item = add_item(factory)
    at_end = sweep_queue(factory, END)  # window (start, end]: at `end` it is still open
    assert (at_end.escalated, at_end.expired) == (1, 0)
    past = sweep_queue(factory, END + SECOND)
    after = stored(factory, item.item_id)
    assert (past.escalated, past.expired) == (0, 1)
    assert (after.state.value, after.version) == ("expired", 3)


def test_sweep_leaves_decided_items_alone(factory):
    item = add_item(factory)
    approved, _ = approve(item, "reviewer:li", T0 + SECOND, item.version)
    with factory.begin() as s:
        reviews.save_item(s, approved, item.version)
    counts = sweep_queue(factory, END + timedelta(hours=1))
    assert (counts.checked, counts.escalated, counts.expired) == (0, 0, 0)
    assert stored(factory, item.item_id) == approved


def test_a_second_sweep_at_the_same_time_changes_nothing(factory):
    add_item(factory, "g1")
    add_item(factory, "g2")
    first = sweep_queue(factory, T0 + timedelta(hours=3))
    again = sweep_queue(factory, T0 + timedelta(hours=3))
    assert first.escalated == 2
    assert (again.checked, again.escalated, again.expired) == (2, 0, 0)


def test_item_changed_by_a_person_meanwhile_is_a_conflict_not_overwritten(factory, monkeypatch):
    item = add_item(factory)
    claimed, _ = claim(item, "reviewer:li", T0 + SECOND)  # version 2 in the database
    with factory.begin() as s:
        reviews.save_item(s, claimed, item.version)
    # The sweep read the item just before the claim landed: it holds version 1.
    monkeypatch.setattr(reviews, "list_items", lambda session, **kw: ([item], 1))
    counts = sweep_queue(factory, T0 + timedelta(hours=2))
    assert (counts.escalated, counts.conflicts) == (0, 1)
    assert stored(factory, item.item_id) == claimed


def test_each_sweep_change_is_audited_as_system_sweep_and_the_chain_verifies(factory):
    add_item(factory, "g1")
    add_item(factory, "g2", at=T0 + timedelta(hours=1))
    sweep_queue(factory, T0 + timedelta(hours=2))  # g1 escalates (g2 is 1 h old)
    sweep_queue(factory, END + SECOND)  # g1 (escalated) and g2 (pending) expire
    with factory() as s:
        entries, _ = audit.list_entries(s, actor=SWEEP_ACTOR)
        result = audit.verify(s)
    assert sorted((e.object_id.split("/")[0], e.action) for e in entries) == [
        ("g1", "escalate"),
        ("g1", "expire"),
        ("g2", "expire"),
    ]
    assert result.ok and result.checked == 5  # 2 creates + 3 sweep changes


def test_naive_now_is_refused(factory):
    with pytest.raises(ConfigError, match="timezone-aware"):
        sweep_queue(factory, datetime(2024, 5, 20, 10, 0))


# ----------------------------------------------------------------------------- scheduler


def local(text):
    return pd.Timestamp(text, tz=TZ).to_pydatetime()


class Recorder:
    def __init__(self, fail_times=0):
        self.calls = []
        self.fail_times = fail_times

    def __call__(self, issue_time, now):
        self.calls.append((issue_time, now))
        if len(self.calls) <= self.fail_times:
            raise RuntimeError("events file unreadable")
        return "scored"


def test_run_due_scores_once_per_day_from_the_configured_local_time(factory):
    job = Recorder()
    sched = Scheduler(factory, job, tz=TZ, score_at=time(8, 0), sweep_every=None)
    for moment in ("2024-05-20 07:59", "2024-05-20 08:00", "2024-05-20 08:05", "2024-05-20 23:59"):
        sched.run_due(local(moment))
    sched.run_due(local("2024-05-21 07:59"))
    sched.run_due(local("2024-05-21 09:30"))  # late start on day 2 still scores day 2
    assert [issue for issue, _ in job.calls] == [
        pd.Timestamp("2024-05-20 08:00", tz=TZ),
        pd.Timestamp("2024-05-21 08:00", tz=TZ),
    ]
    assert [now for _, now in job.calls] == [local("2024-05-20 08:00"), local("2024-05-21 09:30")]


def test_run_due_sweeps_every_n_minutes(factory):
    sched = Scheduler(factory, None, tz=TZ, sweep_every=timedelta(minutes=10))
    kinds = [
        [r.kind for r in sched.run_due(T0 + timedelta(minutes=m))] for m in (0, 5, 9, 10, 19, 20)
    ]
    assert kinds == [["sweep"], [], [], ["sweep"], [], ["sweep"]]


def test_a_failed_scoring_is_retried_after_the_retry_delay_only(factory):
    job = Recorder(fail_times=1)
    sched = Scheduler(factory, job, tz=TZ, sweep_every=None, retry_after=timedelta(minutes=15))
    first = sched.run_due(local("2024-05-20 08:00"))
    assert (first[0].ok, first[0].error) == (False, "RuntimeError: events file unreadable")
    assert sched.run_due(local("2024-05-20 08:14")) == []
    assert sched.run_due(local("2024-05-20 08:15"))[0].ok
    assert sched.run_due(local("2024-05-20 08:30")) == []
    assert len(job.calls) == 2


def test_scheduler_scores_for_real_then_the_sweep_escalates_two_hours_later(
    factory, model_dir, city
):
    def job(issue_time, now):
        return score(
            issue_time,
            city.grids,
            city.events,
            factory=factory,
            model_dir=model_dir,
            tz=TZ,
            thresholds=THRESHOLDS,
            now=now,
        )

    sched = Scheduler(factory, job, tz=TZ, sweep_every=timedelta(minutes=30))
    done = sched.run_due(local("2024-05-20 08:00"))
    assert [r.kind for r in done] == ["score", "sweep"]
    summary, first_sweep = done[0].result, done[1].result
    assert summary.items_created > 0 and first_sweep.escalated == 0
    later = sched.run_due(local("2024-05-20 10:00"))  # created 08:00 + 2 h response target
    assert [r.kind for r in later] == ["sweep"]
    assert later[0].result.escalated == summary.items_created


def test_a_restarted_scheduler_does_not_score_a_day_already_stored(factory, model_dir, city):
    score(AT, city.grids, city.events, factory=factory, model_dir=model_dir, tz=TZ, now=NOW)
    job = Recorder()
    restarted = Scheduler(factory, job, tz=TZ, sweep_every=None)
    assert restarted.run_due(local("2024-05-20 09:00")) == []
    assert job.calls == []


def test_start_runs_the_loop_on_a_thread_until_stop(factory):
    called = threading.Event()

    def job(issue_time, now):
        called.set()
        return "scored"

    sched = Scheduler(
        factory,
        job,
        tz=TZ,
        sweep_every=timedelta(minutes=5),
        clock=lambda: local("2024-05-20 08:00"),
        tick_seconds=0.01,
    )
    sched.start()
    try:
        assert called.wait(10)
    finally:
        sched.stop(timeout=10)
    assert not sched.running
    # The clock stands still at 08:00: one score, one sweep, then nothing more is due.
    assert [r.kind for r in sched.history] == ["score", "sweep"]
