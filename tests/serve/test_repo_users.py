"""Users, tokens and passwords: secrets hashed at rest, revoked/expired/disabled refused."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from risk.errors import ConfigError
from risk.scopes import Role, Scope
from serve.db import transaction
from serve.repo.users import (
    UserExists,
    add_user,
    authenticate,
    disable_user,
    issue_token,
    list_users,
    revoke_token,
    revoke_user_tokens,
    verify_password,
)
from serve.tables import TokenRow, UserRow

T0 = datetime(2024, 5, 1, tzinfo=UTC)
WORKER_SCOPE = Scope.of("grids", ["g1", "g2"])


@pytest.fixture
def worker(factory):
    with transaction(factory) as s:
        add_user(s, "wang", Role.GRID_WORKER, WORKER_SCOPE, password="correct horse", at=T0)
    return factory


def test_a_user_comes_back_with_role_and_scope(worker):
    with worker() as s:
        users = list_users(s)
    assert [(u.username, u.role, u.scope, u.created_at) for u in users] == [
        ("wang", Role.GRID_WORKER, WORKER_SCOPE, T0)
    ]


def test_a_grid_worker_with_a_street_scope_is_refused(factory):
    with pytest.raises(ConfigError, match="grid list"), transaction(factory) as s:
        add_user(s, "li", "grid_worker", Scope.of("street", ["s1"]))


def test_a_taken_username_is_refused(worker):
    with pytest.raises(UserExists), transaction(worker) as s:
        add_user(s, "wang", Role.ANALYST, Scope.city())


def test_the_clear_token_is_stored_nowhere_only_its_sha256(worker):
    with transaction(worker) as s:
        token = issue_token(s, "wang", "api", at=T0)
    with worker() as s:
        rows = s.execute(select(TokenRow.__table__)).all()
    cells = [str(v) for row in rows for v in row]
    assert len(token) == 43  # 32 random bytes, base64url without padding
    assert not any(token in c for c in cells)
    assert rows[0].token_sha256 == hashlib.sha256(token.encode()).hexdigest()


def test_a_valid_token_authenticates_and_records_its_use(worker):
    with transaction(worker) as s:
        token = issue_token(s, "wang", at=T0)
    with transaction(worker) as s:
        user = authenticate(s, token, at=T0 + timedelta(hours=1))
    with worker() as s:
        used = s.scalar(select(TokenRow.last_used_at))
    assert (user.username, user.scope) == ("wang", WORKER_SCOPE)
    assert used == T0 + timedelta(hours=1)


def test_an_unknown_token_is_refused(worker):
    with worker() as s:
        assert authenticate(s, "not-a-token", at=T0) is None


def test_a_revoked_token_is_refused(worker):
    with transaction(worker) as s:
        token = issue_token(s, "wang", at=T0)
        other = issue_token(s, "wang", at=T0)
    with transaction(worker) as s:
        assert revoke_token(s, token, at=T0) is True
        assert revoke_token(s, token, at=T0) is False  # already revoked
    with worker() as s:
        assert authenticate(s, token, at=T0) is None
        assert authenticate(s, other, at=T0, touch=False).username == "wang"


def test_revoking_a_user_revokes_all_their_live_tokens(worker):
    with transaction(worker) as s:
        tokens = [issue_token(s, "wang", at=T0) for _ in range(3)]
        assert revoke_user_tokens(s, "wang", at=T0) == 3
    with worker() as s:
        assert [authenticate(s, t, at=T0) for t in tokens] == [None, None, None]


def test_a_session_token_expires_at_its_ttl(worker):
    with transaction(worker) as s:
        token = issue_token(s, "wang", "session", ttl=timedelta(hours=2), at=T0)
    with worker() as s:
        just_before = authenticate(s, token, at=T0 + timedelta(hours=2) - timedelta(seconds=1))
        at_expiry = authenticate(s, token, at=T0 + timedelta(hours=2))
    assert just_before is not None and at_expiry is None


def test_a_disabled_user_cannot_authenticate_or_log_in(worker):
    with transaction(worker) as s:
        token = issue_token(s, "wang", at=T0)
        disable_user(s, "wang", at=T0 + timedelta(days=1))
    with worker() as s:
        assert authenticate(s, token, at=T0 + timedelta(days=2)) is None
        assert verify_password(s, "wang", "correct horse") is None


def test_password_verifies_and_only_a_salted_hash_is_stored(worker):
    with worker() as s:
        ok = verify_password(s, "wang", "correct horse")
        wrong = verify_password(s, "wang", "correct horsf")
        nobody = verify_password(s, "zhao", "correct horse")
        stored = s.scalar(select(UserRow.password_hash))
    assert ok.username == "wang"
    assert (wrong, nobody) == (None, None)
    assert "correct horse" not in stored and stored.startswith("scrypt$16384$8$1$")


def test_two_users_with_one_password_get_different_hashes(factory):
    with transaction(factory) as s:
        add_user(s, "a", Role.ANALYST, Scope.city(), password="same password")
        add_user(s, "b", Role.ANALYST, Scope.city(), password="same password")
    with factory() as s:
        hashes = s.scalars(select(UserRow.password_hash)).all()
    assert len(set(hashes)) == 2


def test_a_token_longer_than_ten_years_is_refused(worker):
    with pytest.raises(ConfigError, match="longer than 3650"), transaction(worker) as s:
        issue_token(s, "wang", "api", ttl=timedelta(days=100_000_000), at=T0)


@pytest.mark.parametrize("name", ["ev\x01il\nx", "tab\there", "x" * 65])
def test_a_username_with_control_characters_or_too_long_is_refused(factory, name):
    with pytest.raises(ConfigError, match="no control characters"), transaction(factory) as s:
        add_user(s, name, Role.ANALYST, Scope.city())
