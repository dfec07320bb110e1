"""Keyed pseudonyms for names that must not be stored as typed (failed-login usernames).

What someone types into the username field may be their password, or a person's name; the
audit log is append-only, so it keeps ``name#<16 hex>`` instead: the first 64 bits of
HMAC-SHA256 under the ``names`` key (`risk.keys`). The same name always gives the same
pseudonym, so an admin can count failures per name and find an account's failures by
computing its pseudonym (`risk users pseudonym NAME`); without the key, a guessed name cannot
be checked against the log.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from pathlib import Path

from risk.keys import load_key

PREFIX = "name#"
HEX_CHARS = 16
_lock = threading.Lock()
_keys: dict[tuple[Path, str | None], bytes] = {}


def pseudonym(key: bytes, name: str) -> str:
    """``name#`` and the first 16 hex characters of HMAC-SHA256(key, name)."""
    digest = hmac.new(key, name.encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_CHARS]


def names_key(data_dir: Path) -> bytes:
    """The ``names`` key of ``data_dir``, loaded (or created) once per process, thread-safe."""
    where = Path(data_dir).resolve()
    cache_key = (where, os.environ.get("RISK_KEY_NAMES"))
    with _lock:
        if cache_key not in _keys:
            _keys[cache_key] = load_key(where, "names")
        return _keys[cache_key]


__all__ = ["PREFIX", "names_key", "pseudonym"]
