"""Free text encrypted at rest (issue 14; docs/adr/015-encryption-at-rest.md): review notes,
rejection texts and patrol notes reach the database only sealed, the API gives them back to
those who may read the item, plain values written before still read, and a sealed value
moved to another row does not open.
"""

from __future__ import annotations

import re
import stat

import httpx
import pytest
from sqlalchemy import select, update

from serve.db import make_engine, session_factory
from serve.repo import sealing
from serve.repo.reviews import get_item
from serve.tables import AuditEntryRow, PatrolReportRow, ReviewItemRow

NOTE = "张三 (13800000000) 住3号楼"
REJECTION = "Li Wei at 5 Elm Street already called the hotline"
PATROL_NOTE = "3号楼楼道堆物，王阿姨说已提醒物业"


def raw(live, statement):
    engine = make_engine(live.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(statement).all()
    finally:
        engine.dispose()


def post(live, user: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{live.url}/api/v1{path}", json=body, headers=live.auth(user), timeout=10)


@pytest.fixture(scope="module")
def written(live):
    """A note, a rejection text and a patrol note, written through the API."""
    items = live.seed.items
    approved = post(
        live, "rev", f"/review/items/{items['approve_me']}/approve",
        {"expected_version": 1, "note": NOTE},
    )  # fmt: skip
    rejected = post(
        live, "rev", f"/review/items/{items['reject_me']}/reject",
        {"expected_version": 1, "reason": "other", "text": REJECTION},
    )  # fmt: skip
    reported = post(
        live, "w1", "/patrols/reports",
        {"client_report_id": "enc-1", "grid_id": "g1", "outcome": "found_issue",
         "note": PATROL_NOTE},
    )  # fmt: skip
    assert (approved.status_code, rejected.status_code, reported.status_code) == (200, 200, 201)
    return approved.json(), rejected.json(), reported.json()


def test_the_api_returns_the_texts_to_their_readers(live, written):
    approved, rejected, reported = written
    assert (approved["note"], rejected["reject_text"], reported["note"]) == (
        NOTE,
        REJECTION,
        PATROL_NOTE,
    )
    detail = httpx.get(
        f"{live.url}/api/v1/review/items/{live.seed.items['approve_me']}", headers=live.auth("ana")
    )
    assert detail.json()["note"] == NOTE  # the analyst reads the whole city
    retry = post(
        live, "w1", "/patrols/reports",
        {"client_report_id": "enc-1", "grid_id": "g1", "outcome": "found_issue"},
    )  # fmt: skip
    assert (retry.status_code, retry.json()["note"]) == (200, PATROL_NOTE)  # read back, opened


def test_a_reader_outside_the_scope_gets_nothing(live, written):
    # the commander's scope is g3: g1's page (with its warnings) is "not found"
    r = httpx.get(f"{live.url}/api/v1/grids/g1", headers=live.auth("cmd"))
    assert r.status_code == 404 and NOTE not in r.text
    own = httpx.get(f"{live.url}/api/v1/grids/g1", headers=live.auth("rev"))
    assert NOTE in own.text


def test_the_database_holds_the_texts_only_sealed(live, written):
    items = live.seed.items
    (note,) = raw(
        live, select(ReviewItemRow.note).where(ReviewItemRow.item_id == items["approve_me"])
    )[0]
    (rejection,) = raw(
        live, select(ReviewItemRow.reject_text).where(ReviewItemRow.item_id == items["reject_me"])
    )[0]
    (patrol,) = raw(
        live, select(PatrolReportRow.note).where(PatrolReportRow.client_report_id == "enc-1")
    )[0]
    for sealed, plain in ((note, NOTE), (rejection, REJECTION), (patrol, PATROL_NOTE)):
        assert sealed.startswith("enc:v1:")
        assert plain not in sealed and "13800000000" not in sealed
    dump = repr(raw(live, select(ReviewItemRow))) + repr(raw(live, select(PatrolReportRow)))
    assert "13800000000" not in dump and "Elm Street" not in dump and "王阿姨" not in dump


def test_the_audit_log_keeps_the_texts_sealed_too(live, written):
    rows = raw(live, select(AuditEntryRow.before, AuditEntryRow.after))
    dump = repr(rows)
    assert "13800000000" not in dump and "Elm Street" not in dump and "王阿姨" not in dump
    notes = [r.after["note"] for r in rows if r.after.get("note")]
    assert notes and all(n.startswith("enc:v1:") for n in notes)
    verify = httpx.get(f"{live.url}/api/v1/audit/verify", headers=live.auth("adm")).json()
    assert verify["ok"] is True


def test_a_plain_value_written_before_sealing_still_reads(live, written):
    item = live.seed.items["adjust_me"]
    engine = make_engine(live.db_url)
    with engine.begin() as conn:
        conn.execute(
            update(ReviewItemRow).where(ReviewItemRow.item_id == item).values(note="legacy note")
        )
    engine.dispose()
    r = httpx.get(f"{live.url}/api/v1/review/items/{item}", headers=live.auth("rev"))
    assert r.json()["note"] == "legacy note"


def test_a_sealed_value_copied_to_another_item_does_not_open(live, written):
    items = live.seed.items
    (note,) = raw(
        live, select(ReviewItemRow.note).where(ReviewItemRow.item_id == items["approve_me"])
    )[0]
    engine = make_engine(live.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.item_id == items["claim_me"])
                .values(note=note)
            )
        with (
            session_factory(engine)() as session,
            pytest.raises(sealing.SealError, match=re.escape(items["claim_me"])),
        ):
            get_item(session, items["claim_me"])
    finally:
        engine.dispose()
    r = httpx.get(f"{live.url}/api/v1/review/items/{items['claim_me']}", headers=live.auth("rev"))
    assert r.status_code == 500 and NOTE not in r.text


def test_the_key_lives_in_an_owner_only_file_of_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_KEY_FIELDS", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    session = session_factory(engine, data_dir=tmp_path / "data")()
    try:
        cipher = sealing.cipher_for(session)
        sealed = cipher.seal("note", "review_items.note:x")
        assert cipher.open(sealed, "review_items.note:x") == "note"
        with pytest.raises(sealing.SealError):
            cipher.open(sealed, "review_items.note:y")
    finally:
        session.close()
        engine.dispose()
    key = tmp_path / "data" / "keys" / "fields.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert len(bytes.fromhex(key.read_text().strip())) == 32
