"""The audit chain's keys and hashes, and the signed anchor (docs/adr/014-keyed-audit-chain.md).

An entry's ``hash`` is HMAC-SHA256, under the ``audit`` key (`risk.keys`, kept outside the
database), of ``prev_hash`` followed by the canonical JSON of the entry including its
``key_id``: the key's fingerprint, the first 16 hex characters of its SHA-256. Entries written
before the chain was keyed carry no ``key_id`` and keep their plain SHA-256 (`legacy_hash`).
Whoever can write to the database but cannot read the key can no longer recompute a valid
chain after an edit.

`AuditKeys` is the key ring a process holds: the current key (new entries, anchors) and the
retired ones, files ``<data_dir>/keys/audit-retired/*.key`` (64 hex characters each), kept
after a rotation so older entries still verify. The app loads the ring of its data directory
at start and binds it to its session factory (`bind_keys`); any other session uses the ring of
its data directory (`session_keys`).

An anchor is the chain head (seq, hash) and the time, signed with the current key: stored
away from the database, it proves later that the log still extends that entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from risk.errors import ConfigError, ContractError
from risk.keys import KEY_BYTES, key_path, load_key
from serve.repo.jsonvalues import canonical_json, utc_iso

PURPOSE = "audit"
RETIRED_DIR = "audit-retired"
FINGERPRINT_CHARS = 16
ANCHOR_KIND = "risk-audit-anchor"
ANCHOR_FIELDS = ("kind", "seq", "hash", "anchored_at", "key_id")
_INFO = "audit_keys"  # Session.info entry holding the bound ring


def fingerprint(key: bytes) -> str:
    """The key's id as stored with each entry: first 16 hex characters of SHA-256(key)."""
    return hashlib.sha256(key).hexdigest()[:FINGERPRINT_CHARS]


def legacy_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """The unkeyed scheme of entries written before keying: SHA-256(prev_hash + JSON)."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def keyed_hash(key: bytes, prev_hash: str, payload: dict[str, Any]) -> str:
    """HMAC-SHA256(key, prev_hash + JSON); ``payload`` includes the entry's ``key_id``."""
    message = (prev_hash + canonical_json(payload)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditKeys:
    """The current key and the retired ones, by fingerprint."""

    current: bytes
    retired: tuple[bytes, ...] = ()
    _by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {fingerprint(k): k for k in self.retired}
        by_id[fingerprint(self.current)] = self.current
        object.__setattr__(self, "_by_id", by_id)

    @property
    def current_id(self) -> str:
        return fingerprint(self.current)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def key_for(self, key_id: str | None) -> bytes | None:
        return None if key_id is None else self._by_id.get(key_id)

    @classmethod
    def load(cls, data_dir: Path, *, create: bool = True) -> AuditKeys:
        """The ring of ``data_dir``: `risk.keys.load_key` (environment or key file, created on
        first use when ``create``) and every retired key file."""
        return cls(load_key(data_dir, PURPOSE, create=create), _retired(data_dir))


def retired_dir(data_dir: Path) -> Path:
    return key_path(data_dir, PURPOSE).parent / RETIRED_DIR


def _retired(data_dir: Path) -> tuple[bytes, ...]:
    folder = retired_dir(data_dir)
    if not folder.is_dir():
        return ()
    keys = []
    for path in sorted(folder.glob("*.key")):
        try:
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (ValueError, UnicodeDecodeError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"{path}: a retired audit key must be {2 * KEY_BYTES} hex characters. Fix: "
                "restore the file from your backup of the key, or remove it if it is not a key."
            )
        keys.append(key)
    return tuple(keys)


def require_key_file(data_dir: Path) -> None:
    """`ConfigError` when the key comes from the environment, which `risk` cannot rotate."""
    if os.environ.get("RISK_KEY_AUDIT"):
        raise ConfigError(
            "the audit key comes from RISK_KEY_AUDIT, which `risk` cannot change. Fix: write "
            f"its value to {retired_dir(data_dir)}/old.key (mode 0600), set RISK_KEY_AUDIT to "
            "a new key (`python -c 'import secrets; print(secrets.token_hex(32))'`) and restart"
        )


def rotate_key_file(data_dir: Path) -> tuple[str, str]:
    """Retire the current key file (moved to ``keys/audit-retired/<fingerprint>.key``, still
    owner-only) and create a new one; returns the old and the new fingerprint."""
    require_key_file(data_dir)
    path = key_path(data_dir, PURPOSE)
    old = load_key(data_dir, PURPOSE, create=False)
    folder = retired_dir(data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path.replace(folder / f"{fingerprint(old)}.key")
    with _lock:  # rings loaded before hold the retired key as current and lack the new one
        _loaded.clear()
    return fingerprint(old), fingerprint(load_key(data_dir, PURPOSE))


# --------------------------------------------------------------------------- binding to sessions


def bind_keys(factory: sessionmaker[Session], keys: AuditKeys) -> sessionmaker[Session]:
    """Every session of ``factory`` signs and verifies audit entries with ``keys``."""
    info = dict(factory.kw.get("info") or {})
    info[_INFO] = keys
    factory.configure(info=info)
    return factory


_lock = threading.Lock()
_loaded: dict[tuple[Path, str | None], AuditKeys] = {}


def session_keys(session: Session) -> AuditKeys:
    """The ring bound to the session's factory (`bind_keys`), else the ring of the session's
    data directory (``session.info["data_dir"]``, `serve.db.session_factory`) or of the
    settings' (``RISK_DATA_DIR``), loaded once per directory and ``RISK_KEY_AUDIT`` value."""
    keys = session.info.get(_INFO)
    if keys is not None:
        return keys
    data_dir = session.info.get("data_dir")
    if data_dir is None:
        from risk.settings import Settings

        data_dir = Settings().data_dir
    cache = (Path(data_dir).resolve(), os.environ.get("RISK_KEY_AUDIT"))
    with _lock:
        if cache not in _loaded:
            _loaded[cache] = AuditKeys.load(cache[0])
        return _loaded[cache]


# --------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class Anchor:
    """A signed chain head: entry ``seq`` had ``hash`` when anchored (``anchored_at``, UTC)."""

    seq: int
    hash: str
    anchored_at: str
    key_id: str
    signature: str

    def fields(self) -> dict[str, Any]:
        return {
            "kind": ANCHOR_KIND,
            "seq": self.seq,
            "hash": self.hash,
            "anchored_at": self.anchored_at,
            "key_id": self.key_id,
        }

    def to_json(self) -> str:
        return json.dumps({**self.fields(), "signature": self.signature}, indent=2) + "\n"

    def signed_by(self, keys: AuditKeys) -> bool:
        """Whether the signature is the HMAC of the fields under the key named by ``key_id``."""
        key = keys.key_for(self.key_id)
        if key is None:
            return False
        return hmac.compare_digest(_sign(key, self.fields()), self.signature)


def _sign(key: bytes, fields: dict[str, Any]) -> str:
    return hmac.new(key, canonical_json(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def make_anchor(keys: AuditKeys, seq: int, hash_: str, at: datetime | None = None) -> Anchor:
    """The head ``(seq, hash_)`` signed with the current key."""
    anchored_at = utc_iso(datetime.now(UTC) if at is None else at)
    unsigned = Anchor(seq, hash_, anchored_at, keys.current_id, "")
    return Anchor(seq, hash_, anchored_at, keys.current_id, _sign(keys.current, unsigned.fields()))


def read_anchor(path: Path) -> Anchor:
    """Parse an anchor file; `ContractError` naming the file and the field when it is not one.

    The signature is not checked here (`Anchor.signed_by`)."""
    where = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ContractError(
            f"cannot read the anchor: {exc}",
            file=where,
            fix="pass the file written by `risk audit anchor --out FILE`",
        ) from None
    if not isinstance(doc, dict) or doc.get("kind") != ANCHOR_KIND:
        raise ContractError(
            f'not an audit anchor (no "kind": "{ANCHOR_KIND}")',
            file=where,
            fix="pass the file written by `risk audit anchor --out FILE`",
        )
    seq, hash_ = doc.get("seq"), doc.get("hash")
    texts = {name: doc.get(name) for name in ("hash", "anchored_at", "key_id", "signature")}
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ContractError("must be a whole number >= 0", file=where, field="seq", value=seq)
    for name, value in texts.items():
        if not isinstance(value, str) or not value:
            raise ContractError("must be a non-empty string", file=where, field=name, value=value)
    return Anchor(seq, str(hash_), texts["anchored_at"], texts["key_id"], texts["signature"])


__all__ = [
    "Anchor",
    "AuditKeys",
    "bind_keys",
    "fingerprint",
    "keyed_hash",
    "legacy_hash",
    "make_anchor",
    "read_anchor",
    "require_key_file",
    "retired_dir",
    "rotate_key_file",
    "session_keys",
]
