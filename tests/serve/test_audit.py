"""The hash-chained audit log: a clean chain verifies; edits, deletions, reordering do not.

Tampering goes straight to the table, as someone with write access to the database would; on
PostgreSQL that someone must first disable the append-only trigger (migration 0003).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from risk.review import approve, upsert_from_scoring
from serve.db import transaction
from serve.repo.audit import append, append_review_event, list_entries, verify
from serve.tables import GENESIS_HASH

T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def tamper(factory, *statements: str) -> None:
    """Run ``statements`` against the audit table with its append-only trigger disabled."""
    with transaction(factory) as s:
        postgres = s.get_bind().dialect.name == "postgresql"
        if postgres:
            s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        for statement in statements:
            s.execute(text(statement))
        if postgres:
            s.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def chain(factory, n=5):
    with transaction(factory) as s:
        for i in range(1, n + 1):
            append(
                s,
                actor="rev1",
                action="approve",
                object_type="review_item",
                object_id=f"g{i}/theft",
                before={"state": "pending", "version": 1},
                after={"state": "approved", "version": 2},
                model_version="m1",
                score={"prob": 0.25 * i / 2, "level": "red"},
                at=T0 + timedelta(minutes=i),
            )


def test_the_first_entry_is_the_hmac_of_genesis_plus_its_canonical_json(factory):
    with transaction(factory) as s:
        entry = append(s, "admin", "login", "user", "admin", at=T0)
    key = bytes.fromhex(os.environ["RISK_KEY_AUDIT"])  # the suite's key (tests/conftest.py)
    key_id = hashlib.sha256(key).hexdigest()[:16]
    payload = {
        "action": "login",
        "actor": "admin",
        "after": {},
        "at": "2024-05-01T00:00:00.000000+00:00",
        "before": {},
        "model_version": None,
        "object_id": "admin",
        "object_type": "user",
        "score": None,
        "seq": 1,
        "key_id": key_id,
    }
    text_ = GENESIS_HASH + json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert (entry.seq, entry.prev_hash, entry.key_id) == (1, GENESIS_HASH, key_id)
    assert entry.hash == hmac.new(key, text_.encode(), hashlib.sha256).hexdigest()


def test_a_clean_chain_verifies(factory):
    chain(factory, 5)
    with factory() as s:
        result = verify(s)
        entries, total = list_entries(s, limit=2)
        third = list_entries(s, object_id="g3/theft")[0][0]
    assert (result.ok, result.checked, result.first_bad_seq) == (True, 5, None)
    assert [e.seq for e in entries] == [5, 4] and total == 5
    assert entries[1].prev_hash == third.hash  # 4 links to 3


def test_an_empty_chain_verifies(factory):
    with factory() as s:
        assert verify(s).ok and verify(s).checked == 0


def test_editing_one_entry_fails_verify_naming_it(factory):
    chain(factory, 5)
    tamper(factory, """UPDATE audit_log SET "after" = '{"state": "rejected"}' WHERE seq = 3""")
    with factory() as s:
        result = verify(s)
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 2, 3)
    assert "edited" in result.reason


def test_deleting_a_middle_entry_fails_verify_naming_it(factory):
    chain(factory, 5)
    tamper(factory, "DELETE FROM audit_log WHERE seq = 3")
    with factory() as s:
        result = verify(s)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "entry 3 is missing" in result.reason


def test_deleting_the_newest_entry_fails_verify(factory):
    chain(factory, 5)
    tamper(factory, "DELETE FROM audit_log WHERE seq = 5")
    with factory() as s:
        result = verify(s)
    assert (result.ok, result.checked, result.first_bad_seq) == (False, 4, 5)


def test_swapping_two_entries_fails_verify_at_the_first_of_them(factory):
    chain(factory, 5)
    tamper(
        factory,
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 100",
    )
    with factory() as s:
        result = verify(s)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "does not link" in result.reason


def test_a_review_event_is_recorded_with_its_score_snapshot(factory):
    at = datetime(2024, 5, 1, 8, tzinfo=UTC)
    item, created = upsert_from_scoring(
        None,
        grid_id="g1",
        target="theft",
        window_start=at,
        window_end=at + timedelta(hours=72),
        prob=0.4,
        level="red",
        reasons=[{"family": "history", "delta_pts": 12.0}],
        model_version="m1",
        at=at,
    )
    _, approved = approve(item, "rev1", at + timedelta(minutes=30), 1, level="orange")
    with transaction(factory) as s:
        append_review_event(s, created)
        entry = append_review_event(s, approved)
    with factory() as s:
        assert verify(s).ok
    assert (entry.seq, entry.actor, entry.action, entry.object_id) == (
        2,
        "rev1",
        "approve",
        "g1/theft/20240501T0800Z",
    )
    assert (entry.before["level"], entry.after["level"]) == ("red", "orange")
    assert entry.score == {
        "prob": 0.4,
        "level": "orange",
        "original_level": "red",
        "reasons": [{"family": "history", "delta_pts": 12.0}],
        "model_version": "m1",
    }


def test_concurrent_appends_never_fork_the_chain(factory):
    # 4 threads × 10 appends, each its own transaction: seq 1..40, one unbroken chain.
    barrier = threading.Barrier(4, timeout=20)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            barrier.wait()
            for i in range(10):
                with transaction(factory) as s:
                    append(s, name, "export", "report", f"{name}-{i}")
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(f"t{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with factory() as s:
        result = verify(s)
        _, total = list_entries(s)
    assert errors == []
    assert (result.ok, result.checked, total) == (True, 40, 40)
