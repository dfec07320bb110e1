"""Free text sealed at rest: review notes, rejection texts, patrol notes (issue 14), notes on
events grid workers report (issue 16).

Free text is where a resident's name, phone number or address can slip in, so the database
never holds it in clear (docs/adr/015-encryption-at-rest.md). A value is stored as
``enc:v1:<base64url(12-byte nonce + AES-256-GCM ciphertext and tag)>`` under the ``fields``
key of `risk.keys` (environment ``RISK_KEY_FIELDS`` or ``<data_dir>/keys/fields.key``, never in
the database). The associated data names the value's place (``review_items.note:<item id>``),
so a sealed value copied into another row or column does not open.

The repositories seal on write and open on read; who may read an opened value is decided where
it always was (the API's role and scope checks). Plain values written before sealing (no
``enc:`` prefix) are read as they are. A value that does not open — another key, or altered —
raises `SealError` (HTTP 500: a configuration fault, never shown as text).

A session knows its data directory from ``session.info["data_dir"]`` (`serve.db.session_factory`
sets it); without one, the settings' data directory (``RISK_DATA_DIR`` or ``./data``).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from risk.errors import RiskError
from risk.keys import load_key

PREFIX = "enc:v1:"
NONCE_BYTES = 12
PURPOSE = "fields"
# Sealed columns, by table; audit entries of review actions seal the same fields.
SEALED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "review_items": ("note", "reject_text"),
    "patrol_reports": ("note",),
    "events": ("note",),  # a grid worker's note on an event they reported (issue 16)
}

_SESSION_CIPHER = "fields_cipher"  # Session.info entry: the cipher, once looked up
_lock = threading.Lock()
_ciphers: dict[tuple[Path, str], FieldCipher] = {}


class SealError(RiskError):
    """A sealed value does not open: it was sealed with another key, or altered."""


class FieldCipher:
    """AES-256-GCM with one key; ``place`` is the associated data binding a value to its cell."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, text: str | None, place: str) -> str | None:
        """``text`` sealed for ``place`` (None stays None)."""
        if text is None:
            return None
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), place.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str | None, place: str) -> str | None:
        """The text of a value stored at ``place``; plain (legacy) values come back as they are."""
        if stored is None or not stored.startswith(PREFIX):
            return stored
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :].encode("ascii"))
            text = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], place.encode("utf-8"))
        except (InvalidTag, ValueError) as exc:
            raise SealError(
                f"the sealed value of {place} does not open: it was sealed with another "
                f"'{PURPOSE}' key, or altered. Fix: run with the service's data directory "
                "(RISK_DATA_DIR) or its RISK_KEY_FIELDS"
            ) from exc
        return text.decode("utf-8")


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def data_dir_of(session: Session) -> Path:
    """The data directory whose keys this session's values are sealed with."""
    given = session.info.get("data_dir")
    if given is not None:
        return Path(given)
    from risk.settings import Settings

    return Settings().data_dir


def cipher_for(session: Session) -> FieldCipher:
    """The ``fields`` cipher of the session's data directory (key created on first use),
    looked up once per session."""
    cipher = session.info.get(_SESSION_CIPHER)
    if cipher is not None:
        return cipher
    where = data_dir_of(session).resolve()
    env = os.environ.get(f"RISK_KEY_{PURPOSE.upper()}", "")
    with _lock:
        cipher = _ciphers.get((where, env))
        if cipher is None:
            cipher = _ciphers[(where, env)] = FieldCipher(load_key(where, PURPOSE))
    session.info[_SESSION_CIPHER] = cipher
    return cipher


def place(table: str, column: str, row_id: str) -> str:
    """The associated data of one cell, e.g. ``review_items.note:g1/theft/20240501T0000Z``."""
    return f"{table}.{column}:{row_id}"


def seal_row(session: Session, table: str, row_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (column → value) with the table's free-text columns sealed."""
    out = dict(values)
    for column in SEALED_FIELDS[table]:
        if out.get(column) is not None:
            out[column] = cipher_for(session).seal(out[column], place(table, column, row_id))
    return out


def open_row(session: Session, table: str, row_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the table's sealed columns opened (plain legacy values kept)."""
    out = dict(values)
    for column in SEALED_FIELDS[table]:
        if is_sealed(out.get(column)):
            out[column] = cipher_for(session).open(out[column], place(table, column, row_id))
    return out


__all__ = [
    "PREFIX",
    "SEALED_FIELDS",
    "FieldCipher",
    "SealError",
    "cipher_for",
    "data_dir_of",
    "is_sealed",
    "open_row",
    "place",
    "seal_row",
]
