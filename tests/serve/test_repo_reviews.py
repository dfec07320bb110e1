"""Review items in the database: round trip, one item per key, compare-and-set, listing."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import func, select

from risk.review import ReviewState, StaleVersion, approve, reject, upsert_from_scoring
from risk.scopes import Scope
from serve.db import transaction
from serve.repo.grids import upsert_grids
from serve.repo.reviews import (
    DuplicateItem,
    ItemNotFound,
    apply_scoring,
    get_item,
    insert_item,
    list_items,
    revisions,
    save_item,
)
from serve.tables import ReviewItemRow

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 8, tzinfo=SHANGHAI)
WINDOW = timedelta(hours=72)
REASONS = [{"family": "history", "value": 9, "delta_pts": 12.0, "en": "28-day theft count 9"}]


def scored(grid="g1", level="orange", prob=0.3, at=T0, target="theft"):
    item, _ = upsert_from_scoring(
        None,
        grid_id=grid,
        target=target,
        window_start=T0,
        window_end=T0 + WINDOW,
        prob=prob,
        level=level,
        reasons=REASONS,
        model_version="m1",
        at=at,
        run_id="r1",
    )
    return item


def stored(factory, *items):
    with transaction(factory) as s:
        for item in items:
            insert_item(s, item)


def test_an_item_comes_back_equal_after_a_decision_is_saved(factory):
    item = scored()
    stored(factory, item)
    rejected, _ = reject(item, "rev1", T0 + timedelta(minutes=5), 1, "other", "seen already")
    with transaction(factory) as s:
        save_item(s, rejected, expected_version=1)
    with factory() as s:
        back = get_item(s, item.item_id)
    assert back == rejected
    assert back.reject_reason.value == "other" and back.version == 2
    assert back.reasons == tuple(REASONS)


def test_a_second_item_for_the_same_grid_target_window_is_refused(factory):
    item = scored()
    stored(factory, item)
    twin = dataclasses.replace(item, item_id="another-id-same-key")
    with transaction(factory) as s:
        with pytest.raises(DuplicateItem):
            insert_item(s, twin)
        count = s.scalar(select(func.count()).select_from(ReviewItemRow.__table__))
    assert count == 1


def test_a_stale_save_raises_and_leaves_the_row_unchanged(factory):
    item = scored()
    stored(factory, item)
    first, _ = approve(item, "rev1", T0 + timedelta(minutes=1), 1)
    late, _ = reject(item, "rev2", T0 + timedelta(minutes=2), 1, "false_alarm")
    with transaction(factory) as s:
        save_item(s, first, 1)
    with pytest.raises(StaleVersion) as err, transaction(factory) as s:
        save_item(s, late, 1)
    assert (err.value.expected, err.value.actual) == (1, 2)
    with factory() as s:
        assert get_item(s, item.item_id) == first


def test_saving_an_unknown_item_raises_not_found(factory):
    item = scored()
    new, _ = approve(item, "rev1", T0, 1)
    with pytest.raises(ItemNotFound), transaction(factory) as s:
        save_item(s, new, 1)


def test_two_sessions_racing_on_one_version_exactly_one_wins(factory):
    item = scored()
    stored(factory, item)
    barrier = threading.Barrier(2, timeout=20)
    outcomes: dict[str, str] = {}

    def act(actor: str, verdict) -> None:
        with factory() as s:
            loaded = get_item(s, item.item_id)
            new, _ = verdict(loaded, actor)
            barrier.wait()
            try:
                save_item(s, new, loaded.version)
                s.commit()
                outcomes[actor] = "won"
            except StaleVersion:
                s.rollback()
                outcomes[actor] = "stale"

    threads = [
        threading.Thread(target=act, args=("a", lambda i, who: approve(i, who, T0, 1))),
        threading.Thread(target=act, args=("b", lambda i, who: reject(i, who, T0, 1, "duplicate"))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["stale", "won"]
    winner = next(a for a, o in outcomes.items() if o == "won")
    with factory() as s:
        final = get_item(s, item.item_id)
    assert final.version == 2 and final.reviewed_by == winner
    assert final.state is (ReviewState.APPROVED if winner == "a" else ReviewState.REJECTED)


@pytest.fixture
def queue(factory):
    """g3 red (08:00), g2 red (09:00), g4 orange, g1 blue; g1, g2 in street s1 / community c1."""
    grids = pd.DataFrame(
        {
            "grid_id": ["g1", "g2", "g3", "g4"],
            "community_id": ["c1", "c1", "c2", "c3"],
            "street_id": ["s1", "s1", "s2", "s2"],
        }
    )
    items = [
        scored("g1", "blue", 0.05),
        scored("g2", "red", 0.6, at=T0 + timedelta(hours=1)),
        scored("g3", "red", 0.5),
        scored("g4", "orange", 0.4),
    ]
    with transaction(factory) as s:
        upsert_grids(s, grids)
        for item in items:
            insert_item(s, item)
    return factory


def _ids(rows):
    return [r.grid_id for r in rows]


def test_list_orders_by_level_then_oldest_first_and_pages(queue):
    with queue() as s:
        everything, total = list_items(s)
        page, page_total = list_items(s, limit=2, offset=1)
    assert _ids(everything) == ["g3", "g2", "g4", "g1"]
    assert total == 4
    assert (_ids(page), page_total) == (["g2", "g4"], 4)


def test_ranked_lists_order_by_level_then_probability(queue):
    with queue() as s:
        ranked, _ = list_items(s, by_risk=True)
    # g2 (red 0.6, newer) before g3 (red 0.5, older): probability, not age, within a level
    assert _ids(ranked) == ["g2", "g3", "g4", "g1"]


def test_ranked_lists_order_rounded_probabilities_by_expected_count(factory):
    """Three red grids whose probabilities all round to 1 - 1e-6 (ADR 024): the one expecting
    40 events first, then 15, then the one stored without a count, on every database. They
    were created oldest first in the opposite order, so the next tie-break would reverse it."""
    hours = {"a": 0, "b": 1, "c": 2}

    def busy(grid, count):
        item, _ = upsert_from_scoring(
            None, grid_id=grid, target="theft", window_start=T0, window_end=T0 + WINDOW,
            prob=1 - 1e-6, level="red", reasons=REASONS, model_version="m1",
            at=T0 + timedelta(hours=hours[grid]), run_id="r1", expected_count=count,
        )  # fmt: skip
        return item

    grids = pd.DataFrame({"grid_id": ["a", "b", "c"], "community_id": ["c1"] * 3,
                          "street_id": ["s1"] * 3})  # fmt: skip
    with transaction(factory) as s:
        upsert_grids(s, grids)
        for item in (busy("a", None), busy("b", 15.0), busy("c", 40.0)):
            insert_item(s, item)
    with factory() as s:
        ranked, _ = list_items(s, by_risk=True)
    assert _ids(ranked) == ["c", "b", "a"]


def test_list_filters_by_level_and_state(queue):
    with queue() as s:
        reds, n_red = list_items(s, level="red")
        approved, n_approved = list_items(s, state=ReviewState.APPROVED)
        open_, n_open = list_items(s, state=["pending", "escalated"], level=["orange", "blue"])
    assert (_ids(reds), n_red) == (["g3", "g2"], 2)
    assert (approved, n_approved) == ([], 0)
    assert (_ids(open_), n_open) == (["g4", "g1"], 2)


def test_list_filters_by_scope_street_and_community(queue):
    with queue() as s:
        street_scope, _ = list_items(s, scope=Scope.of("street", ["s1"]))
        grid_scope, n_grid = list_items(s, scope=Scope.of("grids", ["g4", "g9"]))
        community, _ = list_items(s, community="c2")
        both, n_both = list_items(s, street="s2", scope=Scope.of("community", ["c3"]))
        city, n_city = list_items(s, scope=Scope.city())
    assert _ids(street_scope) == ["g2", "g1"]
    assert (_ids(grid_scope), n_grid) == (["g4"], 1)
    assert _ids(community) == ["g3"]
    assert (_ids(both), n_both) == (["g4"], 1)
    assert n_city == 4


def _rescore(s, prob, level, at):
    return apply_scoring(
        s,
        grid_id="g1",
        target="theft",
        window_start=T0,
        window_end=T0 + WINDOW,
        prob=prob,
        level=level,
        reasons=REASONS,
        model_version="m2",
        at=at,
        run_id="r2",
    )


def test_rescoring_updates_the_pending_item_and_records_the_revision(factory):
    with transaction(factory) as s:
        _, created = _rescore(s, 0.3, "orange", T0)
    with transaction(factory) as s:
        item, event = _rescore(s, 0.5, "red", T0 + timedelta(hours=1))
    with factory() as s:
        rows = s.scalar(select(func.count()).select_from(ReviewItemRow.__table__))
        history = revisions(s, item.item_id)
        back = get_item(s, item.item_id)
    assert (created.action, event.action) == ("create", "rescore")
    assert rows == 1
    assert (back.revision, back.version, back.prob, back.level) == (1, 2, 0.5, "red")
    assert [(h["revision"], h["prob"], h["level"]) for h in history] == [
        (0, 0.3, "orange"),
        (1, 0.5, "red"),
    ]


def test_rescoring_a_decided_item_changes_nothing(factory):
    with transaction(factory) as s:
        item, _ = _rescore(s, 0.3, "orange", T0)
        approved, _ = approve(item, "rev1", T0 + timedelta(minutes=3), 1)
        save_item(s, approved, 1)
    with transaction(factory) as s:
        again, event = _rescore(s, 0.9, "red", T0 + timedelta(hours=2))
    with factory() as s:
        assert event is None
        assert get_item(s, item.item_id) == approved == again
        assert len(revisions(s, item.item_id)) == 1


def _daily(s, day: int, grid: str, level: str, prob: float):
    start = T0 + timedelta(days=day)
    return apply_scoring(
        s,
        grid_id=grid,
        target="theft",
        window_start=start,
        window_end=start + WINDOW,
        prob=prob,
        level=level,
        reasons=REASONS,
        model_version="m1",
        at=start,
        run_id=f"r{day}",
    )


def test_seven_daily_scorings_keep_one_warning_per_grid_and_target(factory):
    """g1 is never reviewed: one item whose window moves forward, a revision per day.
    g2 is approved at orange on day 1: held at orange and below while its window lasts, re-raised
    as a new item following the decision when it turns red on day 3. g3 is rejected on day 0:
    nothing until its window has passed (day 3), then a new item."""
    levels = {
        "g1": ["yellow", "orange", "orange", "red", "orange", "yellow", "orange"],
        "g2": ["yellow", "orange", "orange", "red", "red", "red", "orange"],
        "g3": ["yellow", "yellow", "yellow", "orange", "yellow", "yellow", "yellow"],
    }
    decisions = {}
    routes = {g: [] for g in levels}
    for day in range(7):
        with transaction(factory) as s:
            for grid, by_day in levels.items():
                item, event = _daily(s, day, grid, by_day[day], 0.2 + 0.1 * day)
                routes[grid].append(None if event is None else event.action)
                at = T0 + timedelta(days=day, minutes=5)
                if grid == "g2" and day == 1:
                    decided, _ = approve(item, "rev1", at, item.version)
                    save_item(s, decided, item.version)
                    decisions["g2"] = decided.item_id
                if grid == "g3" and day == 0:
                    decided, _ = reject(item, "rev1", at, item.version, reason="false_alarm")
                    save_item(s, decided, item.version)
        with factory() as s:
            queue, total = list_items(s, state=["pending", "escalated"])
        pairs = [(i.grid_id, i.target) for i in queue]
        assert len(pairs) == len(set(pairs)) == total
    assert routes["g1"] == ["create"] + ["rescore"] * 6
    assert routes["g2"] == ["create", "rescore", None, "create", "rescore", "rescore", "rescore"]
    assert routes["g3"] == ["create", None, None, "create", "rescore", "rescore", "rescore"]
    with factory() as s:
        g1 = [i for i in list_items(s, grid_ids=["g1"], limit=50)[0]]
        g2 = sorted(list_items(s, grid_ids=["g2"], limit=50)[0], key=lambda i: i.window_start)
        g1_history = revisions(s, g1[0].item_id)
    assert len(g1) == 1 and g1[0].window_start == T0 + timedelta(days=6)
    assert [h["window_start"] for h in g1_history] == [T0 + timedelta(days=d) for d in range(7)]
    assert [h["level"] for h in g1_history] == levels["g1"]
    assert [i.state for i in g2] == [ReviewState.APPROVED, ReviewState.PENDING]
    assert g2[1].follows == decisions["g2"] and g2[1].window_start == T0 + timedelta(days=6)


def test_lists_show_a_re_raised_decision_once(factory):
    """Approved at orange, re-raised red the next day and approved too: the ranked lists
    (newest_only) show the grid and target once — the newer decision."""
    with transaction(factory) as s:
        first, _ = _daily(s, 0, "g1", "orange", 0.3)
        approved, _ = approve(first, "rev1", T0 + timedelta(minutes=5), 1)
        save_item(s, approved, 1)
    with transaction(factory) as s:
        second, event = _daily(s, 1, "g1", "red", 0.6)
        assert event.action == "create" and second.follows == first.item_id
        approved2, _ = approve(second, "rev1", T0 + timedelta(days=1, minutes=5), 1)
        save_item(s, approved2, 1)
    now = T0 + timedelta(days=1, hours=1)
    with factory() as s:
        both, n_both = list_items(s, state="approved", window_open_at=now)
        newest, n_newest = list_items(s, state="approved", window_open_at=now, newest_only=True)
    assert n_both == 2 and {i.item_id for i in both} == {first.item_id, second.item_id}
    assert (n_newest, [i.item_id for i in newest]) == (1, [second.item_id])
