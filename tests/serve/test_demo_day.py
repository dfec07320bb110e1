"""The demo's first day of work: decisions, dispatches, reports and a completion, audited."""

from __future__ import annotations

from datetime import timedelta

from risk.review import ReviewState
from serve.db import make_engine, session_factory
from serve.demo_day import play_demo_day
from serve.repo.audit import verify
from serve.repo.events import load_events
from serve.repo.exposure import visit_frame
from serve.repo.patrols import reports_for
from serve.repo.reviews import list_items
from tests.serve.api_seed import NOW, seed


def test_a_demo_day_fills_every_role_s_view_through_the_audited_path(db_url):
    seed(db_url)
    engine = make_engine(db_url)
    factory = session_factory(engine)
    try:
        with factory() as s:
            pending_before, _ = list_items(s, state="pending", limit=None)
        day = play_demo_day(factory, NOW + timedelta(minutes=5), reviewer="rev", commander="cmd",
                            worker="w1")  # fmt: skip
        with factory() as s:
            states = {i.item_id: i.state for i in list_items(s, limit=None)[0]}
            reports = reports_for(s, worker="w1")
            sources = sorted(load_events(s)["source"].astype(str))
            visits = len(visit_frame(s, NOW - timedelta(days=1), NOW + timedelta(days=2)))
            check = verify(s)
    finally:
        engine.dispose()
    # the seed has 9 pending items (one claimed by rev: decided too, its lease is rev's own)
    decided = int(len(pending_before) * 0.6)
    assert (day.approved + day.rejected, day.rejected) == (decided, decided // 5)
    # three approved in the seed plus the new ones, one dispatch per grid, up to three
    assert day.dispatched == 3 and len(set(day.worker_grids)) == 3
    assert (day.reports, day.completed, day.events) == (2, 1, 1)
    assert [r.report.outcome.value for r in reports] == ["found_issue", "nothing_found"]
    assert sum(s is ReviewState.COMPLETED for s in states.values()) == 1
    assert sum(s is ReviewState.DISPATCHED for s in states.values()) == 2
    assert check.ok
    # the found issue became a patrol event, the event seen on the way a grid_worker one; both
    # reports are visits
    assert sources == ["grid_worker", "patrol"] and visits == 2
