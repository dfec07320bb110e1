"""A first day of people's work on the demo's queue (demo only; `risk demo` says so).

After the demo scores its city every page would otherwise be empty: nothing approved, nothing
dispatched, no patrol report. `play_demo_day` acts as the demo's people would, through the same
state machine and audit log as the service: the reviewer approves most of the most severe
warnings and rejects a few with a reason, leaving the rest in the queue; the commander
dispatches the first approved ones; the grid worker, whose grids are those dispatched, reports
on them (a found issue becomes a `patrol` event, each report a recorded visit) and reports one
event seen on the way (`grid_worker`), and the commander completes the first reported one.
Deterministic (no randomness).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from risk.contract import DEFAULT_TZ
from risk.patrol import PatrolOutcome, PatrolReport
from risk.review import ReviewState, approve, complete, dispatch, reject
from serve.db import transaction
from serve.field_reports import record_patrol, report_event
from serve.repo import audit
from serve.repo.grids import get_grid
from serve.repo.reviews import list_items, save_item

DECIDE_SHARE = 0.6  # of the pending warnings, most severe first, the reviewer decides
REJECT_EVERY = 5  # ... rejecting every fifth of those (a false alarm), approving the others
DISPATCH = 3  # approved warnings the commander dispatches


@dataclass(frozen=True)
class DemoDay:
    approved: int
    rejected: int
    dispatched: int
    reports: int
    completed: int
    events: int
    worker_grids: tuple[str, ...]


def _save(session: Session, result, expected_version: int):
    item, event = result
    save_item(session, item, expected_version)
    audit.append_review_event(session, event)
    return item


def play_demo_day(
    factory: sessionmaker[Session],
    now: datetime,
    *,
    reviewer: str = "reviewer",
    commander: str = "commander",
    worker: str = "worker",
    tz: str = DEFAULT_TZ,
) -> DemoDay:
    """Decide, dispatch, report and complete as described above; returns what was done."""
    at = now
    approved = rejected = 0
    with transaction(factory) as s:
        queue, _ = list_items(s, state=ReviewState.PENDING.value, by_risk=True, limit=None)
        for k, item in enumerate(queue[: int(len(queue) * DECIDE_SHARE)]):
            at += timedelta(seconds=20)
            if k % REJECT_EVERY == REJECT_EVERY - 1:
                _save(s, reject(item, reviewer, at, item.version, "false_alarm"), item.version)
                rejected += 1
            else:
                _save(s, approve(item, reviewer, at, item.version), item.version)
                approved += 1
    dispatched = []
    with transaction(factory) as s:
        ready, _ = list_items(s, state=ReviewState.APPROVED.value, by_risk=True, limit=None)
        seen: set[str] = set()
        for item in ready:
            if item.grid_id in seen or len(dispatched) == DISPATCH:
                continue
            at += timedelta(minutes=2)
            seen.add(item.grid_id)
            dispatched.append(_save(s, dispatch(item, commander, at, item.version), item.version))
    reports = completed = events = 0
    with transaction(factory) as s:
        for k, item in enumerate(dispatched[:2]):
            at += timedelta(minutes=40)
            outcome = PatrolOutcome.FOUND_ISSUE if k == 0 else PatrolOutcome.NOTHING_FOUND
            note = "blocked fire exit in building 3; told the manager" if k == 0 else None
            report = PatrolReport(worker, item.grid_id, outcome, at, note, (item.item_id,))
            found = outcome is PatrolOutcome.FOUND_ISSUE
            stored = record_patrol(
                s,
                report,
                f"demo-{uuid.uuid4()}",
                role="grid_worker",
                category="fire_hazard" if found else None,
                now=at,
                tz=tz,
            ).stored
            audit.append(
                s,
                worker,
                "patrol_report",
                "patrol_report",
                stored.client_report_id,
                after={
                    "grid_id": item.grid_id,
                    "outcome": outcome.value,
                    "item_ids": [item.item_id],
                },
                at=at,
            )
            reports += 1
        if dispatched:
            grid = get_grid(s, dispatched[-1].grid_id)
            if grid is not None:  # an event the worker saw on the way
                at += timedelta(minutes=15)
                report_event(
                    s,
                    actor=worker,
                    client_event_id=f"demo-{uuid.uuid4()}",
                    grid=grid,
                    category="safety_hazard",
                    occurred_at=at - timedelta(minutes=10),
                    note="loose manhole cover at the east gate",
                    now=at,
                    tz=tz,
                )
                events += 1
            first = dispatched[0]
            at += timedelta(minutes=5)
            _save(s, complete(first, commander, at, first.version), first.version)
            completed = 1
    return DemoDay(
        approved=approved,
        rejected=rejected,
        dispatched=len(dispatched),
        reports=reports,
        completed=completed,
        events=events,
        worker_grids=tuple(i.grid_id for i in dispatched),
    )
