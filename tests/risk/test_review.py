import dataclasses
from datetime import timedelta

import pandas as pd
import pytest

from risk.errors import InvalidTransition
from risk.review import (
    OPEN_STATES,
    SYSTEM_ACTOR,
    TRANSITIONS,
    LeaseHeld,
    RejectReason,
    ReviewInputError,
    ReviewState,
    Route,
    StaleVersion,
    adjust_level,
    approve,
    assign,
    bulk,
    claim,
    complete,
    dispatch,
    escalate,
    escalate_overdue,
    expire_due,
    item_key,
    reject,
    release,
    route_scoring,
    sweep,
    upsert_from_scoring,
    verdict_rates,
)

S = ReviewState
T0 = pd.Timestamp("2024-03-01 08:00", tz="Asia/Shanghai")
END = T0 + pd.Timedelta(hours=72)
REASONS = [{"family": "history", "en": "28-day theft count 9: +12 pts"}]


def scored(at=T0, prob=0.3, level="orange", grid="g1", target="theft", existing=None):
    return upsert_from_scoring(
        existing,
        grid_id=grid,
        target=target,
        window_start=T0,
        window_end=END,
        prob=prob,
        level=level,
        reasons=REASONS,
        model_version="v1",
        at=at,
    )


def item_in(state, **changes):
    item, _ = scored()
    return dataclasses.replace(item, state=state, **changes)


AT = T0 + pd.Timedelta(minutes=10)

# Person actions that move an item into a state.
MOVES = {
    S.APPROVED: lambda i: approve(i, "rev", AT, i.version),
    S.REJECTED: lambda i: reject(i, "rev", AT, i.version, "false_alarm"),
    S.ESCALATED: lambda i: escalate(i, "rev", AT, i.version),
    S.DISPATCHED: lambda i: dispatch(i, "cmd", AT, i.version),
    S.COMPLETED: lambda i: complete(i, "cmd", AT, i.version),
}
PAIRS = [(a, b) for a in S for b in MOVES]
ALLOWED = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
DISALLOWED = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]


def test_transition_table_is_the_design():
    assert TRANSITIONS[S.PENDING] == {S.APPROVED, S.REJECTED, S.ESCALATED, S.EXPIRED}
    assert TRANSITIONS[S.ESCALATED] == {S.APPROVED, S.REJECTED, S.EXPIRED}
    assert TRANSITIONS[S.APPROVED] == {S.DISPATCHED}
    assert TRANSITIONS[S.DISPATCHED] == {S.COMPLETED}
    assert TRANSITIONS[S.REJECTED] == TRANSITIONS[S.EXPIRED] == TRANSITIONS[S.COMPLETED] == set()
    # 4 + 3 + 1 + 1 person moves; expiry is the system sweep's (tested below)
    assert len(ALLOWED) == 7 and len(DISALLOWED) == 7 * 5 - 7


@pytest.mark.parametrize(("start", "to"), ALLOWED)
def test_allowed_transition_moves_and_bumps_version(start, to):
    item = item_in(start)
    new, event = MOVES[to](item)
    assert (new.state, new.version, new.updated_at) == (to, 2, AT)
    assert (event.from_state, event.to_state) == (start, to)
    assert event.before["version"] == 1 and event.after["version"] == 2
    assert item.state is start  # the input is untouched


@pytest.mark.parametrize(("start", "to"), DISALLOWED)
def test_disallowed_transition_names_both_states(start, to):
    with pytest.raises(InvalidTransition, match=f"from {start.value} to {to.value}"):
        MOVES[to](item_in(start))


@pytest.mark.parametrize("start", list(S))
def test_expire_due_moves_only_undecided_items(start):
    changed = expire_due([item_in(start)], END + pd.Timedelta(seconds=1))
    if S.EXPIRED in TRANSITIONS[start]:
        assert [(i.state, e.actor) for i, e in changed] == [(S.EXPIRED, SYSTEM_ACTOR)]
    else:
        assert changed == []


def test_expiry_only_once_the_window_has_passed():
    item, _ = scored()
    # window (T0, T0+72h] includes its end instant
    assert expire_due([item], END) == []
    assert expire_due([item], END + pd.Timedelta(seconds=1))[0][0].state is S.EXPIRED


def test_stale_version_is_refused():
    item = item_in(S.PENDING, version=3)
    with pytest.raises(StaleVersion, match="version 3, not 2"):
        approve(item, "rev", AT, expected_version=2)


def test_lease_held_by_another_blocks_until_it_ends():
    item, _ = scored()
    held, _ = claim(item, "alice", T0, lease=timedelta(minutes=30))
    assert (held.claimed_by, held.lease_until, held.version) == (
        "alice",
        T0 + pd.Timedelta(minutes=30),
        2,
    )
    with pytest.raises(LeaseHeld, match="'alice'"):
        approve(held, "bob", T0 + pd.Timedelta(minutes=29), 2)
    with pytest.raises(LeaseHeld):
        claim(held, "bob", T0 + pd.Timedelta(minutes=29))
    # the holder may act; at exactly T0+30min the lease is over and anyone may act
    assert approve(held, "alice", T0 + pd.Timedelta(minutes=29), 2)[0].reviewed_by == "alice"
    new, _ = approve(held, "bob", T0 + pd.Timedelta(minutes=30), 2)
    assert (new.state, new.reviewed_by, new.claimed_by) == (S.APPROVED, "bob", None)


def test_release_and_assign_move_the_lease():
    item, _ = scored()
    held, _ = claim(item, "alice", T0)
    freed, _ = release(held, "alice", AT, 2)
    assert (freed.claimed_by, freed.lease_until) == (None, None)
    given, event = assign(freed, "cmd", AT, 3, assignee="bob", lease=timedelta(hours=1))
    assert (given.claimed_by, given.lease_until) == ("bob", AT + pd.Timedelta(hours=1))
    assert event.actor == "cmd" and event.after["claimed_by"] == "bob"


def test_claim_refused_once_decided():
    with pytest.raises(InvalidTransition, match="cannot be claimed in state approved"):
        claim(item_in(S.APPROVED), "alice", AT)


def test_adjust_level_keeps_the_original():
    item, _ = scored(level="orange")
    adjusted, event = adjust_level(item, "rev", AT, 1, "red")
    assert (adjusted.level, adjusted.original_level) == ("red", "orange")
    assert event.before == {"level": "orange", "state": "pending", "version": 1}
    assert event.after == {"level": "red", "state": "pending", "version": 2}
    approved, _ = approve(adjusted, "rev", AT, 2, level="yellow")
    assert (approved.level, approved.original_level) == ("yellow", "orange")


def test_adjust_refused_after_approval_and_unknown_level_refused():
    with pytest.raises(InvalidTransition, match="state approved"):
        adjust_level(item_in(S.APPROVED), "rev", AT, 1, "red")
    with pytest.raises(ReviewInputError, match="'purple'.*blue, yellow, orange, red"):
        approve(item_in(S.PENDING), "rev", AT, 1, level="purple")


def test_reject_needs_a_reason_and_other_needs_text():
    item = item_in(S.PENDING)
    with pytest.raises(ReviewInputError, match="needs a reason"):
        reject(item, "rev", AT, 1, None)
    with pytest.raises(ReviewInputError, match="'other' needs a text"):
        reject(item, "rev", AT, 1, "other", "   ")
    with pytest.raises(ReviewInputError, match="unknown rejection reason 'bored'"):
        reject(item, "rev", AT, 1, "bored")
    new, event = reject(item, "rev", AT, 1, "other", " road works ")
    assert (new.reject_reason, new.reject_text) == (RejectReason.OTHER, "road works")
    assert event.after["reject_reason"] == "other"
    assert reject(item, "rev", AT, 1, "duplicate")[0].reject_reason is RejectReason.DUPLICATE


def test_escalation_fires_at_exactly_the_response_target():
    item, _ = scored(at=T0)
    assert escalate_overdue([item], T0 + pd.Timedelta(hours=2) - pd.Timedelta(seconds=1)) == []
    [(new, event)] = escalate_overdue([item], T0 + pd.Timedelta(hours=2))
    assert (new.state, new.escalated_by, event.actor) == (S.ESCALATED, SYSTEM_ACTOR, SYSTEM_ACTOR)
    # a custom target of 30 minutes fires earlier
    assert len(escalate_overdue([item], T0 + pd.Timedelta(minutes=30), timedelta(minutes=30))) == 1


def test_escalation_skips_decided_and_passed_items():
    approved = item_in(S.APPROVED)
    escalated = item_in(S.ESCALATED)
    assert escalate_overdue([approved, escalated], T0 + pd.Timedelta(hours=3)) == []
    # window passed: expiry, not escalation
    assert escalate_overdue([item_in(S.PENDING)], END + pd.Timedelta(hours=1)) == []


def test_sweep_expires_then_escalates():
    old = item_in(S.PENDING, item_id="old", window_end=T0 + pd.Timedelta(hours=1))
    late = item_in(S.PENDING, item_id="late")
    result = sweep([old, late], T0 + pd.Timedelta(hours=2))
    assert [(i.item_id, i.state) for i, _ in result] == [("old", S.EXPIRED), ("late", S.ESCALATED)]


def test_upsert_creates_one_pending_item_with_a_stable_id():
    item, event = scored()
    # 08:00 Asia/Shanghai is 00:00 UTC
    assert item.item_id == item_key("g1", "theft", T0) == "g1/theft/20240301T0000Z"
    assert (item.state, item.version, item.revision, item.level, item.original_level) == (
        S.PENDING,
        1,
        0,
        "orange",
        "orange",
    )
    assert (event.action, event.before, event.after["prob"]) == ("create", {}, 0.3)


def test_rescore_updates_a_pending_item_and_counts_the_revision():
    first, _ = scored(at=T0)
    later = T0 + pd.Timedelta(hours=1)
    second, event = scored(at=later, prob=0.5, level="red", existing=first)
    assert (second.item_id, second.version, second.revision) == (first.item_id, 2, 1)
    assert (second.prob, second.level, second.original_level) == (0.5, "red", "red")
    assert (second.created_at, second.updated_at) == (T0, later)  # escalation clock kept
    assert event.action == "rescore" and event.before["prob"] == 0.3


def test_rescore_keeps_a_reviewers_adjusted_level():
    first, _ = scored(level="orange")
    adjusted, _ = adjust_level(first, "rev", AT, 1, "yellow")
    second, _ = scored(prob=0.5, level="red", existing=adjusted)
    assert (second.level, second.original_level, second.revision) == ("yellow", "red", 1)


@pytest.mark.parametrize("state", [s for s in S if s not in OPEN_STATES])
def test_rescore_leaves_decided_items_untouched(state):
    item = item_in(state)
    again, event = scored(prob=0.9, level="red", existing=item)
    assert again is item and event is None


def test_rescore_revises_an_escalated_item_and_keeps_it_escalated():
    item = item_in(S.ESCALATED)
    again, event = scored(prob=0.9, level="red", existing=item)
    assert (again.state, again.prob, again.level, again.revision) == (S.ESCALATED, 0.9, "red", 1)
    assert event.action == "rescore"


def test_rescore_moves_the_open_item_to_the_later_window_and_keeps_its_id():
    first, _ = scored()
    day = pd.Timedelta(days=1)
    moved, event = upsert_from_scoring(
        first,
        grid_id="g1",
        target="theft",
        window_start=T0 + day,
        window_end=END + day,
        prob=0.4,
        level="orange",
        reasons=REASONS,
        model_version="v1",
        at=T0 + day,
    )
    assert (moved.item_id, moved.window_start, moved.window_end) == (
        first.item_id,
        T0 + day,
        END + day,
    )
    assert event.before["window_start"] == T0.isoformat()
    older, none = upsert_from_scoring(
        moved,
        grid_id="g1",
        target="theft",
        window_start=T0,
        window_end=END,
        prob=0.9,
        level="red",
        reasons=REASONS,
        model_version="v1",
        at=T0 + 2 * day,
    )
    assert older is moved and none is None  # an older run never moves an item back


def _at_window(item, days, state):
    shift = pd.Timedelta(days=days)
    return dataclasses.replace(
        item,
        window_start=item.window_start + shift,
        window_end=item.window_end + shift,
        state=state,
    )


def test_route_prefers_the_same_window_then_the_open_item():
    pending, _ = scored()
    decided = _at_window(pending, 1, S.APPROVED)
    assert route_scoring(
        [pending, decided], window_start=T0 + pd.Timedelta(days=1), level="red"
    ) == (
        Route.UPDATE,
        decided,
    )
    assert route_scoring(
        [decided, pending], window_start=T0 + pd.Timedelta(days=2), level="red"
    ) == (
        Route.UPDATE,
        pending,
    )
    assert route_scoring([], window_start=T0, level="yellow") == (Route.CREATE, None)


@pytest.mark.parametrize(
    ("decided_level", "new_level", "route"),
    [
        ("orange", "orange", Route.HOLD),
        ("orange", "yellow", Route.HOLD),
        ("orange", "red", Route.RAISE),
        ("yellow", "orange", Route.RAISE),
    ],
)
def test_a_decision_holds_the_overlapping_window_unless_the_level_rises(
    decided_level, new_level, route
):
    item, _ = scored(level=decided_level)
    for state in (S.APPROVED, S.REJECTED, S.DISPATCHED, S.COMPLETED):
        decided = dataclasses.replace(item, state=state)
        next_day = T0 + pd.Timedelta(days=1)
        assert route_scoring([decided], window_start=next_day, level=new_level) == (route, decided)
    # once its window has passed (or it only expired undecided), a decision holds nothing back
    after = END
    assert route_scoring(
        [dataclasses.replace(item, state=S.APPROVED)], window_start=after, level="yellow"
    ) == (Route.CREATE, None)
    expired = dataclasses.replace(item, state=S.EXPIRED)
    assert route_scoring([expired], window_start=T0 + pd.Timedelta(days=1), level="yellow") == (
        Route.CREATE,
        None,
    )


def test_rescore_with_another_key_is_refused():
    item, _ = scored(grid="g1")
    with pytest.raises(ReviewInputError, match="does not match"):
        scored(grid="g2", existing=item)


def test_naive_time_is_refused():
    with pytest.raises(ReviewInputError, match="timezone-aware"):
        approve(item_in(S.PENDING), "rev", pd.Timestamp("2024-03-01 09:00"), 1)


def test_bulk_reports_each_item():
    ok = item_in(S.PENDING, item_id="a")
    stale = item_in(S.PENDING, item_id="b", version=4)
    done = item_in(S.REJECTED, item_id="c")
    unversioned = item_in(S.PENDING, item_id="d")
    results = bulk(
        [ok, stale, done, unversioned],
        "reject",
        actor="rev",
        at=AT,
        expected_versions={"a": 1, "b": 3, "c": 1},
        reason="already_handled",
    )
    assert [(r.item_id, r.ok, r.code) for r in results] == [
        ("a", True, "ok"),
        ("b", False, "stale_version"),
        ("c", False, "invalid_transition"),
        ("d", False, "invalid_input"),
    ]
    assert results[0].item.state is S.REJECTED and results[0].event.action == "reject"
    assert "from rejected to rejected" in results[2].message


def test_bulk_lease_error_and_unknown_action():
    held = item_in(
        S.PENDING, item_id="a", claimed_by="alice", lease_until=AT + pd.Timedelta(1, "h")
    )
    [r] = bulk([held], "approve", actor="bob", at=AT, expected_versions={"a": 1})
    assert (r.ok, r.code) == (False, "lease_held")
    with pytest.raises(ReviewInputError, match="unknown bulk action 'promote'"):
        bulk([held], "promote", actor="bob", at=AT, expected_versions={})


def test_event_carries_the_score_snapshot():
    _, event = approve(item_in(S.PENDING), "rev", AT, 1)
    assert event.score == {
        "prob": 0.3,
        "level": "orange",
        "original_level": "orange",
        "reasons": REASONS,
        "model_version": "v1",
    }
    d = event.to_dict()
    assert (d["at"], d["from_state"], d["to_state"]) == (AT.isoformat(), "pending", "approved")


def test_verdict_rates_per_reviewer():
    def decided(state, reviewer, level="orange"):
        return item_in(state, reviewed_by=reviewer, level=level)

    items = [
        decided(S.APPROVED, "a"),
        decided(S.COMPLETED, "a"),
        decided(S.APPROVED, "a", level="red"),
        decided(S.REJECTED, "a"),
        decided(S.APPROVED, "b"),
        item_in(S.PENDING),  # undecided: not counted
        item_in(S.EXPIRED),
    ]
    rates = verdict_rates(items).set_index("reviewed_by")
    # a: 4 decided; agree 2/4, adjusted 1/4, rejected 1/4, override 2/4. b: 1 agree of 1.
    assert rates.loc["a"].tolist() == [4, 0.5, 0.25, 0.25, 0.5]
    assert rates.loc["b"].tolist() == [1, 1.0, 0.0, 0.0, 0.0]
