"""Users, their API/session tokens and web passwords (issue 5, item 6).

Secrets never reach the database in clear: a token is shown once, when issued, and only its
SHA-256 is stored (a token has 256 random bits, so a fast hash is enough and a lookup by hash
needs no constant-time compare); a password is stored as salted scrypt, checked with
`hmac.compare_digest`. Authentication refuses revoked and expired tokens and disabled users.

Every token expires: a session after `DEFAULT_SESSION_TTL`, an API token after
`DEFAULT_API_TTL` unless issued with another lifetime; a live API token can be exchanged for a
fresh one (`renew_token`). A failed password check costs one scrypt whether or not the user
exists, so the time taken does not tell which usernames exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from risk.errors import ConfigError, RiskError
from risk.scopes import Role, Scope, check_role_scope, web_login_allowed
from serve.db import atomic
from serve.tables import TokenRow, UserRow

USERS = UserRow.__table__
TOKENS = TokenRow.__table__
DEFAULT_SESSION_TTL = timedelta(hours=12)
DEFAULT_API_TTL = timedelta(days=90)
MAX_TTL = timedelta(days=3650)  # ten years: past that, a date overflows and a token is forever
MAX_USERNAME = 64
TOKEN_BYTES = 32
# scrypt cost: 2**14 × 8 × 128 B = 16 MiB and ~50 ms a check (OWASP's minimum for scrypt).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8
# Checked against when there is no real hash (unknown or disabled user, no password): same
# cost as a real check; its digest is no password's.
_DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'A' * 22}${'A' * 43}"


class TokenKind(StrEnum):
    API = "api"
    SESSION = "session"


class UserNotFound(RiskError, LookupError):
    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"no user {username!r}; fix: `risk users list` shows who exists")


class UserExists(RiskError):
    """A user with this name already exists."""


class TokenRefused(RiskError):
    """A token that does not authenticate, and why in plain words (unknown, revoked,
    expired, user disabled)."""


class NotRenewable(RiskError):
    """Only a live API token can be renewed (a session ends with a new login)."""


@dataclass(frozen=True)
class IssuedToken:
    """A token in clear (shown once) with its row id and expiry."""

    token: str
    id: int
    expires_at: datetime


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    scope: Scope
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _now(at: datetime | None) -> datetime:
    return datetime.now(UTC) if at is None else at


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        scope=Scope.of(row.scope_kind, row.scope_values),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` with a fresh 16-byte salt (base64, no padding)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(digest)}"


def _check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    expected = unb64(digest_b64)
    got = hashlib.scrypt(
        password.encode("utf-8"),
        salt=unb64(salt_b64),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(got, expected)


def _row_by_name(session: Session, username: str) -> Row[Any]:
    row = session.execute(select(USERS).where(USERS.c.username == username)).first()
    if row is None:
        raise UserNotFound(username)
    return row


def add_user(
    session: Session,
    username: str,
    role: Role | str,
    scope: Scope,
    password: str | None = None,
    at: datetime | None = None,
) -> User:
    """Create a user; `ConfigError` for a role/scope that makes no sense, `UserExists` if taken."""
    username = username.strip()
    if not username:
        raise ConfigError("a user needs a non-blank username")
    if len(username) > MAX_USERNAME or any(unicodedata.category(c)[0] == "C" for c in username):
        raise ConfigError(
            f"username {username[:MAX_USERNAME]!r} is not accepted: at most {MAX_USERNAME} "
            "characters, no control characters (a line break would show as two users)"
        )
    check_role_scope(role, scope)  # also rejects an unknown role
    if password is not None and not web_login_allowed(role):
        raise ConfigError(
            f"a {Role(role).value} account has no web login; fix: leave out the password "
            "(its API token is its only credential)"
        )
    values = {
        "username": username,
        "role": Role(role).value,
        "scope_kind": scope.kind.value,
        "scope_values": sorted(scope.values),
        "password_hash": None if password is None else hash_password(password),
        "created_at": _now(at),
        "disabled_at": None,
    }
    try:
        with atomic(session):
            session.execute(insert(USERS).values(**values))
    except IntegrityError:
        raise UserExists(f"user {username!r} already exists; fix: choose another name") from None
    return _user(_row_by_name(session, username))


def get_user(session: Session, username: str) -> User:
    return _user(_row_by_name(session, username))


def list_users(session: Session, include_disabled: bool = True) -> list[User]:
    stmt = select(USERS).order_by(USERS.c.username)
    if not include_disabled:
        stmt = stmt.where(USERS.c.disabled_at.is_(None))
    return [_user(r) for r in session.execute(stmt)]


def set_password(session: Session, username: str, password: str) -> None:
    row = _row_by_name(session, username)
    if not web_login_allowed(row.role):
        raise ConfigError(f"a {row.role} account has no web login; it uses its API token only")
    session.execute(
        update(USERS)
        .where(USERS.c.username == username)
        .values(password_hash=hash_password(password))
    )


def verify_password(session: Session, username: str, password: str) -> User | None:
    """The user if the password matches and the user is active, else None (no hint which).

    Costs one scrypt in every case, so the time taken does not reveal whether the user exists.
    """
    row = session.execute(select(USERS).where(USERS.c.username == username)).first()
    if row is None or row.password_hash is None or row.disabled_at is not None:
        _check_password(password, _DUMMY_HASH)
        return None
    return _user(row) if _check_password(password, row.password_hash) else None


def disable_user(session: Session, username: str, at: datetime | None = None) -> User:
    """Disable a user: every one of their tokens stops working at once (not deleted: audit)."""
    _row_by_name(session, username)
    session.execute(
        update(USERS)
        .where(USERS.c.username == username, USERS.c.disabled_at.is_(None))
        .values(disabled_at=_now(at))
    )
    return get_user(session, username)


def issue_token(
    session: Session,
    username: str,
    kind: TokenKind | str = TokenKind.API,
    ttl: timedelta | None = None,
    at: datetime | None = None,
) -> str:
    """A new random token for the user, returned in clear this once; only its hash is stored.

    ``ttl`` None means `DEFAULT_API_TTL` for an API token and `DEFAULT_SESSION_TTL` for a
    session.
    """
    return issue(session, username, kind, ttl, at).token


def issue(
    session: Session,
    username: str,
    kind: TokenKind | str = TokenKind.API,
    ttl: timedelta | None = None,
    at: datetime | None = None,
) -> IssuedToken:
    """`issue_token`, also returning the new token's row id and expiry."""
    try:
        kind = TokenKind(kind)
    except ValueError:
        raise ConfigError(
            f"unknown token kind {kind!r}; accepted: {', '.join(k.value for k in TokenKind)}"
        ) from None
    if ttl is None:
        ttl = DEFAULT_SESSION_TTL if kind is TokenKind.SESSION else DEFAULT_API_TTL
    if ttl <= timedelta(0):
        raise ConfigError(f"token lifetime must be positive (got {ttl})")
    if ttl > MAX_TTL:
        raise ConfigError(
            f"token lifetime {ttl.days} days is longer than {MAX_TTL.days}; give a shorter one "
            "(and renew it when it ends)"
        )
    row = _row_by_name(session, username)
    if row.disabled_at is not None:
        raise ConfigError(f"user {username!r} is disabled; fix: enable or add another user")
    now = _now(at)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + ttl
    result = session.execute(
        insert(TOKENS).values(
            user_id=row.id,
            token_sha256=hash_token(token),
            kind=kind.value,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            last_used_at=None,
        )
    )
    return IssuedToken(token, int(result.inserted_primary_key[0]), expires_at)


def _live_token(session: Session, token: str, now: datetime) -> Row[Any]:
    """The token's row joined with its user's, or `TokenRefused` saying why."""
    if not token:
        raise TokenRefused("no token; log in, or send the token you were given")
    row = session.execute(
        select(
            TOKENS.c.id.label("token_id"),
            TOKENS.c.kind,
            TOKENS.c.created_at.label("token_created_at"),
            TOKENS.c.expires_at,
            TOKENS.c.revoked_at,
            USERS,
        )
        .join(USERS, USERS.c.id == TOKENS.c.user_id)
        .where(TOKENS.c.token_sha256 == hash_token(token))
    ).first()
    if row is None:
        raise TokenRefused("the token is unknown; log in, or send the token you were given")
    if row.disabled_at is not None:
        raise TokenRefused("the token's user is disabled; ask an admin")
    fix = (
        "log in again"
        if row.kind == TokenKind.SESSION
        else "ask an admin for a new API token (`risk users token NAME`)"
    )
    if row.revoked_at is not None:
        raise TokenRefused(f"the token was revoked; {fix}")
    # tokens issued before API tokens expired (NULL) get the default lifetime
    expires_at = row.expires_at or row.token_created_at + DEFAULT_API_TTL
    if now >= expires_at:
        raise TokenRefused(f"token expired at {expires_at:%Y-%m-%d %H:%M} UTC; {fix}")
    return row


def check_token(
    session: Session, token: str, at: datetime | None = None, touch: bool = True
) -> User:
    """The active user holding this unrevoked, unexpired token; `TokenRefused` otherwise.

    A token expires at ``expires_at`` (at that instant it no longer works); one stored without
    (issued before API tokens expired) `DEFAULT_API_TTL` after it was created. ``touch``
    records ``last_used_at``.
    """
    now = _now(at)
    row = _live_token(session, token, now)
    if touch:
        session.execute(update(TOKENS).where(TOKENS.c.id == row.token_id).values(last_used_at=now))
    return _user(row)


def authenticate(
    session: Session, token: str, at: datetime | None = None, touch: bool = True
) -> User | None:
    """`check_token`, but None instead of `TokenRefused`."""
    try:
        return check_token(session, token, at, touch)
    except TokenRefused:
        return None


def renew_token(
    session: Session, token: str, ttl: timedelta | None = None, at: datetime | None = None
) -> tuple[IssuedToken, int, datetime | None]:
    """Exchange a live API token for a new one (``ttl``, default `DEFAULT_API_TTL`).

    The old token is revoked in the same transaction, so exactly one of the two works once the
    caller commits. Returns the new token, and the old token's id and expiry (for the audit).
    """
    now = _now(at)
    row = _live_token(session, token, now)
    if row.kind != TokenKind.API:
        raise NotRenewable(
            "only an API token can be renewed; this is a web session token: log in again "
            "for a new session"
        )
    result = session.execute(
        update(TOKENS)
        .where(TOKENS.c.id == row.token_id, TOKENS.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise TokenRefused("the token was revoked while renewing it; ask an admin for a new one")
    new = issue(session, row.username, TokenKind.API, ttl, now)
    return new, int(row.token_id), row.expires_at


def revoke_token(session: Session, token: str, at: datetime | None = None) -> bool:
    """Revoke one token (e.g. logout); False if it is unknown or was already revoked."""
    result = session.execute(
        update(TOKENS)
        .where(TOKENS.c.token_sha256 == hash_token(token), TOKENS.c.revoked_at.is_(None))
        .values(revoked_at=_now(at))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_user_tokens(session: Session, username: str, at: datetime | None = None) -> int:
    """Revoke every live token of a user (`risk users revoke`); returns how many."""
    row = _row_by_name(session, username)
    result = session.execute(
        update(TOKENS)
        .where(TOKENS.c.user_id == row.id, TOKENS.c.revoked_at.is_(None))
        .values(revoked_at=_now(at))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


__all__ = [
    "DEFAULT_API_TTL",
    "DEFAULT_SESSION_TTL",
    "IssuedToken",
    "NotRenewable",
    "TokenKind",
    "TokenRefused",
    "User",
    "UserExists",
    "UserNotFound",
    "add_user",
    "authenticate",
    "check_token",
    "disable_user",
    "get_user",
    "hash_password",
    "hash_token",
    "issue",
    "issue_token",
    "list_users",
    "renew_token",
    "revoke_token",
    "revoke_user_tokens",
    "set_password",
    "verify_password",
]
