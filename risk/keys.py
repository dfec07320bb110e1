"""Secret keys kept outside the database: one 32-byte key per purpose.

A key comes from the environment (`RISK_KEY_<PURPOSE>`, 64 hex characters) or from the file
`<data_dir>/keys/<purpose>.key`, created on first use with owner-only permissions (0600, its
directory 0700). Whoever can read the database cannot forge what a key protects unless they
can also read this file or the service's environment. Rotation: see docs/adr (audit, at-rest).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from risk.errors import ConfigError

KEY_BYTES = 32
PURPOSES = ("audit", "fields", "names")


def key_path(data_dir: Path, purpose: str) -> Path:
    return Path(data_dir) / "keys" / f"{purpose}.key"


def load_key(data_dir: Path, purpose: str, *, create: bool = True) -> bytes:
    """The key for `purpose`: environment first, then the key file (created when `create`)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}; expected one of {PURPOSES}")
    env = os.environ.get(f"RISK_KEY_{purpose.upper()}")
    if env:
        return _decode(env.strip(), f"environment variable RISK_KEY_{purpose.upper()}")
    path = key_path(data_dir, purpose)
    if path.exists():
        return _decode(path.read_text(encoding="ascii").strip(), str(path))
    if not create:
        raise ConfigError(
            f"{path}: no {purpose} key. Fix: restore the key file from your backup, or set "
            f"RISK_KEY_{purpose.upper()} to its 64 hex characters."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = secrets.token_bytes(KEY_BYTES)
    # Written under a temporary name and linked into place: two processes creating the key
    # at once both end up with the one that landed first, never with a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _decode(path.read_text(encoding="ascii").strip(), str(path))
    finally:
        tmp.unlink()
    return key


def _decode(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"{where}: a key must be {2 * KEY_BYTES} hex characters. Fix: generate one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    return key
