"""Issue 14, item 3: a keyed audit chain, an external anchor, and an append-only table.

The probe: with write access to the database one could edit an entry (or delete the newest
ones), recompute the later hashes and the head with the project's own unkeyed hash, and
`verify` said OK; nothing blocked UPDATE or DELETE. Here an attacker with database access (on
PostgreSQL also disabling the trigger) does exactly that to the live service's log, and the
service's verify and `risk audit verify` name the entry. Each tampering is undone afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from risk.cli import EXIT_AUDIT, EXIT_CONFIG, EXIT_INPUT
from risk.cli import app as cli
from serve.audit_chain import AuditKeys, bind_keys, fingerprint, legacy_hash
from serve.db import make_engine, session_factory, transaction, upgrade
from serve.repo import audit
from serve.repo.audit import HEAD, LOG, PAYLOAD_FIELDS
from serve.repo.jsonvalues import utc_iso
from serve.tables import GENESIS_HASH
from tests.serve.conftest import _fresh

runner = CliRunner()


# --------------------------------------------------------------------------- the attacker


def payload(row: Any, key_id: str | None) -> dict[str, Any]:
    """What an entry's hash covers (serve.repo.audit), as an attacker would rebuild it."""
    out = {name: row[name] for name in PAYLOAD_FIELDS}
    out["at"] = utc_iso(out["at"])
    if key_id is not None:
        out["key_id"] = key_id
    return out


@dataclass(frozen=True)
class Scheme:
    """How an attacker recomputes hashes: the key id written, and the digest of prev + payload."""

    key_id: str | None
    digest: Callable[[str, dict[str, Any]], str]


UNKEYED = Scheme(None, legacy_hash)  # the project's own pre-0003 hash


def hmac_scheme(key: bytes, key_id: str) -> Scheme:
    def digest(prev: str, values: dict[str, Any]) -> str:
        text_ = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        message = (prev + text_).encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    return Scheme(key_id, digest)


class Attacker:
    """Writes straight to the tables, the append-only trigger disabled on PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        with self.engine.begin() as conn:
            pg = conn.dialect.name == "postgresql"
            if pg:
                conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            yield conn
            if pg:
                conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))

    def sql(self, statement: str, **params: Any) -> None:
        with self._conn() as conn:
            conn.execute(text(statement), params)

    def rows(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(LOG).order_by(LOG.c.seq)).mappings())

    def rechain(self, from_seq: int, scheme: Scheme, edit: dict[str, Any]) -> None:
        """Edit entry ``from_seq``, recompute its hash and every later one with ``scheme``, and
        move the head along: the attack of the issue."""
        rows = self.rows()
        prev = GENESIS_HASH if from_seq == 1 else rows[from_seq - 2]["hash"]
        with self._conn() as conn:
            for row in rows[from_seq - 1 :]:
                changes = edit if row["seq"] == from_seq else {}
                digest = scheme.digest(prev, payload({**row, **changes}, scheme.key_id))
                values = {**changes, "prev_hash": prev, "hash": digest, "key_id": scheme.key_id}
                conn.execute(update(LOG).where(LOG.c.seq == row["seq"]).values(**values))
                prev = digest
            conn.execute(update(HEAD).values(last_hash=prev))


@contextmanager
def tampered(live) -> Iterator[Attacker]:
    """An attacker on the live database; the log and head are restored afterwards."""
    engine = make_engine(live.db_url)
    with engine.connect() as conn:
        log = [dict(r) for r in conn.execute(select(LOG)).mappings()]
        head = dict(conn.execute(select(HEAD)).mappings().one())
    attacker = Attacker(engine)
    try:
        yield attacker
    finally:
        with attacker._conn() as conn:
            conn.execute(LOG.delete())
            conn.execute(insert(LOG), log)
            conn.execute(update(HEAD).values(**head))
        engine.dispose()


def api_verify(live) -> dict[str, Any]:
    r = httpx.get(f"{live.url}/api/v1/audit/verify", headers=live.auth("adm"), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def cli_audit(live, *args: str):
    common = ["--database-url", live.db_url, "--data-dir", str(live.data_dir)]
    return runner.invoke(cli, ["audit", *args, *common])


def newest(live) -> int:
    with make_engine(live.db_url).connect() as conn:
        return int(conn.execute(select(HEAD.c.last_seq)).scalar_one())


# --------------------------------------------------------------------------- the keyed chain


def test_entries_are_hmacs_under_the_audit_key_not_plain_hashes(live):
    keys = AuditKeys.load(live.data_dir)
    rows = Attacker(make_engine(live.db_url)).rows()
    assert len(rows) >= 10
    for row in rows:
        assert row["key_id"] == keys.current_id == fingerprint(keys.current)
        mine = hmac_scheme(keys.current, keys.current_id)
        assert row["hash"] == mine.digest(row["prev_hash"], payload(row, keys.current_id))
        assert row["hash"] != legacy_hash(row["prev_hash"], payload(row, None))
    assert api_verify(live) == {
        "ok": True, "checked": len(rows), "first_bad_seq": None, "reason": "", "unkeyed": 0
    }  # fmt: skip


def test_an_edited_entry_is_named_by_the_service_and_the_cli(live):
    with tampered(live) as attacker:
        attacker.sql("""UPDATE audit_log SET actor = 'someone else' WHERE seq = 3""")
        result = api_verify(live)
        cli_result = cli_audit(live, "verify")
    assert (result["ok"], result["checked"], result["first_bad_seq"]) == (False, 2, 3)
    assert "entry 3 was edited" in result["reason"]
    assert cli_result.exit_code == EXIT_AUDIT
    assert "audit log BROKEN at entry 3: entry 3 was edited" in cli_result.output
    assert api_verify(live)["ok"] is True  # restored


@pytest.mark.parametrize("seq", [1, 4])
def test_an_edit_rechained_with_the_unkeyed_hash_is_named(live, seq):
    with tampered(live) as attacker:
        attacker.rechain(seq, UNKEYED, edit={"actor": "someone else"})
        result = api_verify(live)
        cli_result = cli_audit(live, "verify")
    assert (result["ok"], result["first_bad_seq"]) == (False, seq)
    assert f"entry {seq} has an unkeyed hash" in result["reason"]
    assert "re-chained without the audit key" in result["reason"]
    assert cli_result.exit_code == EXIT_AUDIT
    assert f"BROKEN at entry {seq}" in cli_result.output


def test_a_log_rechained_with_another_key_is_named(live):
    ours = AuditKeys.load(live.data_dir).current_id
    theirs = secrets.token_bytes(32)
    with tampered(live) as attacker:  # their key, labelled as ours
        attacker.rechain(2, hmac_scheme(theirs, ours), edit={"object_id": "x"})
        labelled_ours = api_verify(live)
    with tampered(live) as attacker:  # their key, labelled as theirs
        attacker.rechain(2, hmac_scheme(theirs, fingerprint(theirs)), edit={"object_id": "x"})
        labelled_theirs = api_verify(live)
        cli_result = cli_audit(live, "verify")
    assert (labelled_ours["ok"], labelled_ours["first_bad_seq"]) == (False, 2)
    assert "entry 2 was edited" in labelled_ours["reason"]
    assert (labelled_theirs["ok"], labelled_theirs["first_bad_seq"]) == (False, 2)
    assert f"signed with key {fingerprint(theirs)}" in labelled_theirs["reason"]
    assert "does not hold" in labelled_theirs["reason"]
    assert cli_result.exit_code == EXIT_AUDIT and "BROKEN at entry 2" in cli_result.output


def test_deleted_newest_entries_fail_by_the_head_or_with_the_head_set_back_by_the_anchor(
    live, tmp_path
):
    anchor = tmp_path / "anchor.json"
    made = cli_audit(live, "anchor", "--out", str(anchor))
    assert made.exit_code == 0, made.output
    n = newest(live)
    assert json.loads(anchor.read_text())["seq"] == n
    with tampered(live) as attacker:
        attacker.sql("DELETE FROM audit_log WHERE seq > :keep", keep=n - 5)
        head_kept = api_verify(live)
        kept = attacker.rows()[-1]
        attacker.sql(
            "UPDATE audit_head SET last_seq = :seq, last_hash = :hash",
            seq=kept["seq"], hash=kept["hash"],
        )  # fmt: skip
        head_set_back = cli_audit(live, "verify")
        against_anchor = cli_audit(live, "verify", "--anchor", str(anchor))
    assert (head_kept["ok"], head_kept["first_bad_seq"]) == (False, n - 4)
    assert (
        f"the log ends at entry {n - 5} but the chain head records entry {n}"
        in (head_kept["reason"])
    )
    # A consistent prefix with its head set back: only the anchor, kept elsewhere, tells.
    assert head_set_back.exit_code == 0
    assert against_anchor.exit_code == EXIT_AUDIT
    assert f"BROKEN at entry {n - 4}" in against_anchor.output
    assert f"records entry {n} but the log ends at entry {n - 5}" in against_anchor.output


def test_an_anchor_is_signed_and_the_growing_log_extends_it(live, tmp_path):
    printed = cli_audit(live, "anchor")
    assert printed.exit_code == 0, printed.output
    doc = json.loads(printed.stdout)
    keys = AuditKeys.load(live.data_dir)
    assert set(doc) == {"kind", "seq", "hash", "anchored_at", "key_id", "signature"}
    assert (doc["kind"], doc["seq"], doc["key_id"]) == (
        "risk-audit-anchor", newest(live), keys.current_id
    )  # fmt: skip
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    text_ = json.dumps(unsigned, sort_keys=True, separators=(",", ":"))
    assert doc["signature"] == hmac.new(keys.current, text_.encode(), hashlib.sha256).hexdigest()
    anchor = tmp_path / "anchor.json"
    anchor.write_text(printed.stdout)
    r = httpx.post(
        f"{live.url}/api/v1/auth/login", json={"username": "rev", "password": "x" * 8}, timeout=30
    )  # a failed login: one more entry
    assert r.status_code == 401
    extended = cli_audit(live, "verify", "--anchor", str(anchor))
    assert extended.exit_code == 0, extended.output
    assert f"extends the anchor of {doc['anchored_at']} (entry {doc['seq']})" in extended.output

    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**doc, "seq": doc["seq"] - 1}))
    refused = cli_audit(live, "verify", "--anchor", str(forged))
    assert refused.exit_code == EXIT_AUDIT
    assert "the anchor's signature does not match" in refused.output
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    unreadable = cli_audit(live, "verify", "--anchor", str(junk))
    assert unreadable.exit_code == EXIT_INPUT
    assert str(junk) in unreadable.output and "risk audit anchor --out" in unreadable.output


def test_postgresql_refuses_update_and_delete_of_audit_entries(live, backend):
    if backend != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's (SQLite: the keyed chain only)")
    engine = make_engine(live.db_url)
    try:
        for statement in (
            "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        ):
            with pytest.raises(DBAPIError, match="audit_log is append-only"), engine.begin() as c:
                c.execute(text(statement))
    finally:
        engine.dispose()
    assert api_verify(live)["ok"] is True


# --------------------------------------------------------------------------- legacy and keys


@pytest.fixture
def fresh_url(request, backend, tmp_path) -> Iterator[str]:
    """A new, empty database on ``backend`` (not migrated)."""
    yield from _fresh(request, backend, tmp_path)


def _legacy_entries(url: str, n: int) -> None:
    """``n`` entries as the code before 0003 wrote them: plain SHA-256, no key id."""
    engine = make_engine(url)
    prev = GENESIS_HASH
    with engine.begin() as conn:
        for seq in range(1, n + 1):
            row = {
                "seq": seq, "at": datetime(2024, 5, 1, seq, tzinfo=UTC),
                "actor": "old", "action": "login", "object_type": "user", "object_id": "old",
                "before": {}, "after": {"n": seq}, "model_version": None, "score": None,
            }  # fmt: skip
            digest = legacy_hash(prev, payload(row, None))
            conn.execute(insert(LOG).values(**row, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(update(HEAD).values(last_seq=n, last_hash=prev))
    engine.dispose()


def test_a_legacy_unkeyed_prefix_and_a_keyed_suffix_both_verify(fresh_url, tmp_path):
    upgrade(fresh_url, "0002")
    _legacy_entries(fresh_url, 3)
    upgrade(fresh_url)  # 0003: legacy_until = 3
    engine = make_engine(fresh_url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        for i in range(2):
            audit.append(s, "new", "export", "report", f"r{i}")
    with factory() as s:
        result = audit.verify(s)
    args = ["audit", "verify", "--database-url", fresh_url, "--data-dir", str(tmp_path)]
    ok = runner.invoke(cli, args)
    Attacker(engine).sql("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    edited = runner.invoke(cli, args)
    engine.dispose()
    assert (result.ok, result.checked, result.unkeyed) == (True, 5, 3)
    assert ok.exit_code == 0 and "audit log OK: 5 entries (3 from before" in ok.output
    assert edited.exit_code == EXIT_AUDIT and "BROKEN at entry 2: entry 2 was edited" in (
        edited.output
    )


def test_the_audit_key_file_is_created_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_KEY_AUDIT", raising=False)
    keys = AuditKeys.load(tmp_path)
    path = tmp_path / "keys" / "audit.key"
    assert bytes.fromhex(path.read_text().strip()) == keys.current
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert AuditKeys.load(tmp_path).current == keys.current  # read back, not recreated


def test_rotating_the_key_keeps_older_entries_verifiable(fresh_url, tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_KEY_AUDIT", raising=False)
    data = tmp_path / "data"
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with transaction(bind_keys(session_factory(engine), AuditKeys.load(data))) as s:
        audit.append(s, "adm", "login", "user", "adm")
    old = AuditKeys.load(data).current_id
    common = ["--database-url", fresh_url, "--data-dir", str(data)]

    rotated = runner.invoke(cli, ["audit", "rotate-key", *common])
    new = AuditKeys.load(data).current_id
    retired = data / "keys" / "audit-retired" / f"{old}.key"
    retired_mode = stat.S_IMODE(retired.stat().st_mode)
    with transaction(bind_keys(session_factory(engine), AuditKeys.load(data))) as s:
        audit.append(s, "adm", "logout", "user", "adm")
    rows = Attacker(engine).rows()
    verified = runner.invoke(cli, ["audit", "verify", *common])
    retired_bytes = retired.read_bytes()
    retired.unlink()  # the retired key lost: its entries can no longer be checked
    lost = runner.invoke(cli, ["audit", "verify", *common])
    retired.write_bytes(retired_bytes)
    monkeypatch.setenv("RISK_KEY_AUDIT", "b8" * 32)
    from_env = runner.invoke(cli, ["audit", "rotate-key", *common])
    engine.dispose()

    assert rotated.exit_code == 0, rotated.output
    assert f"audit key rotated: {old} retired, {new} signs from now on" in rotated.output
    assert new != old and retired_mode == 0o600
    assert [(r["action"], r["key_id"]) for r in rows] == [
        ("login", old), ("audit.rotate_key", new), ("logout", new)
    ]  # fmt: skip
    assert (rows[1]["before"], rows[1]["after"]) == ({"key_id": old}, {"key_id": new})
    assert verified.exit_code == 0 and "audit log OK: 3 entries" in verified.output
    assert lost.exit_code == EXIT_AUDIT
    assert f"BROKEN at entry 1: entry 1 was signed with key {old}" in lost.output
    assert from_env.exit_code == EXIT_CONFIG and "RISK_KEY_AUDIT" in from_env.output


def test_truncate_still_empties_the_log_for_maintenance(fresh_url, backend):
    # The test fixtures (tests/serve/conftest.py) empty tables with TRUNCATE on PostgreSQL:
    # row triggers do not fire on it, so only UPDATE and DELETE are refused.
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    with transaction(session_factory(engine)) as s:
        audit.append(s, "adm", "login", "user", "adm")
    with engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(text("TRUNCATE audit_log"))
        else:
            conn.execute(text("DELETE FROM audit_log"))
        count = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    engine.dispose()
    assert count == 0
