"""Response and completion against the planning document's targets (issue 16, item 3).

Over warnings that entered the queue in a period:

* **response within 2 h** — share whose first human action (a decision, or an escalation by
  a person) came within `response` of entering the queue; an item still waiting past the
  target, or one that expired or was escalated by the system sweep, counts as not responded;
* **timeout rate** — 1 − that share, over the items whose target has passed (an item still
  inside its first two hours is not judged yet);
* **completion within 24 h** — of the approved warnings, the share completed within
  `completion` of their approval; one still open past the target counts as late;
* **closure rate** — of the approved warnings whose completion target has passed, the share
  completed at all.

Pure: items in, numbers out (`ServiceLevels`); rates are None when nothing can be judged.
`judge` gives the same verdicts for one item (a **breach** is a missed response or completion).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from risk.review import SYSTEM_ACTOR, ReviewItem, ReviewState

RESPONSE = timedelta(hours=2)
COMPLETION = timedelta(hours=24)
APPROVED_STATES = (ReviewState.APPROVED, ReviewState.DISPATCHED, ReviewState.COMPLETED)


@dataclass(frozen=True)
class ServiceLevels:
    judged_response: int
    responded_in_time: int
    judged_completion: int
    completed_in_time: int
    closed: int

    @property
    def response_rate(self) -> float | None:
        return self.responded_in_time / self.judged_response if self.judged_response else None

    @property
    def timeout_rate(self) -> float | None:
        rate = self.response_rate
        return None if rate is None else 1 - rate

    @property
    def completion_rate(self) -> float | None:
        n = self.judged_completion
        return self.completed_in_time / n if n else None

    @property
    def closure_rate(self) -> float | None:
        return self.closed / self.judged_completion if self.judged_completion else None


def _first_response(item: ReviewItem) -> datetime | None:
    times = [item.reviewed_at]
    if item.escalated_by not in (None, SYSTEM_ACTOR):
        times.append(item.escalated_at)
    times = [t for t in times if t is not None]
    return min(times) if times else None


@dataclass(frozen=True)
class Judgement:
    """One item at ``now``: None where a target cannot be judged yet, else whether it was met."""

    responded_in_time: bool | None
    completed_in_time: bool | None
    closed: bool  # approved and completed (at any time)

    @property
    def breached(self) -> bool:
        """Responded late (or never), or completed late (or not yet, past the target)."""
        return self.responded_in_time is False or self.completed_in_time is False


def judge(
    item: ReviewItem,
    now: datetime,
    response: timedelta = RESPONSE,
    completion: timedelta = COMPLETION,
) -> Judgement:
    """The response and completion targets for one item, as `service_levels` counts them."""
    first = _first_response(item)
    in_time: bool | None = None
    if item.created_at + response <= now or (first is not None and first <= now):
        in_time = first is not None and first - item.created_at <= response
    done: bool | None = None
    closed = False
    if item.state in APPROVED_STATES and item.reviewed_at is not None:
        due = item.reviewed_at + completion
        closed = item.completed_at is not None
        if due <= now or closed:
            done = item.completed_at is not None and item.completed_at <= due
    return Judgement(in_time, done, closed)


def service_levels(
    items: Iterable[ReviewItem],
    now: datetime,
    since: datetime,
    response: timedelta = RESPONSE,
    completion: timedelta = COMPLETION,
) -> ServiceLevels:
    """The rates above for items that entered the queue in ``[since, now)``."""
    judged = responded = judged_done = done_in_time = closed = 0
    for item in items:
        if not since <= item.created_at < now:
            continue
        j = judge(item, now, response, completion)
        if j.responded_in_time is not None:
            judged += 1
            responded += j.responded_in_time
        if j.completed_in_time is not None:
            judged_done += 1
            closed += j.closed
            done_in_time += j.completed_in_time
    return ServiceLevels(judged, responded, judged_done, done_in_time, closed)
