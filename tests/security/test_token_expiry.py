"""Issue 14, item 16 (tokens): API tokens expire, say so when they have, and can be renewed.

The probe: API tokens never expired (``expires_at`` NULL). Now every API token gets a lifetime
(``RISK_API_TOKEN_DAYS``, 30 days in this module; 90 by default), an expired one answers 401
with "token expired" in words, and a live one is exchanged for a fresh one through
``POST /api/v1/auth/tokens/renew`` (the old one stops at once) or reissued by an admin with
``risk users token NAME``. The service's clock is fixed at `NOW`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from risk.cli import app as cli
from serve.db import make_engine, session_factory, transaction
from serve.repo.users import hash_token, issue
from serve.tables import TokenRow
from tests.serve.api_seed import NOW, PASSWORD, T0

DAYS = 30


@pytest.fixture(scope="module")
def live_settings() -> dict:
    return {"api_token_days": DAYS}


def new_token(live, username: str, ttl: timedelta, at: datetime) -> str:
    engine = make_engine(live.db_url)
    try:
        with transaction(session_factory(engine)) as s:
            return issue(s, username, "api", ttl=ttl, at=at).token
    finally:
        engine.dispose()


def token_row(live, token: str):
    engine = make_engine(live.db_url)
    try:
        with engine.connect() as conn:
            table = TokenRow.__table__
            return conn.execute(
                select(table).where(table.c.token_sha256 == hash_token(token))
            ).one()
    finally:
        engine.dispose()


def me(live, token: str) -> httpx.Response:
    return httpx.get(
        f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def renew(live, token: str) -> httpx.Response:
    return httpx.post(
        f"{live.url}/api/v1/auth/tokens/renew",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_an_api_token_gets_an_expiry_by_default(live):
    row = token_row(live, live.seed.tokens["ana"])  # issued by the seed at T0, no ttl given
    assert (row.kind, row.expires_at) == ("api", T0 + timedelta(days=90))


def test_an_expired_token_is_401_saying_it_expired(live):
    # issued 2 h before the service's NOW for 1 h: expired at NOW - 1 h = 2024-05-01 00:00 UTC
    token = new_token(live, "ana", timedelta(hours=1), NOW - timedelta(hours=2))
    r = me(live, token)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == (
        "token expired at 2024-05-01 00:00 UTC; "
        "ask an admin for a new API token (`risk users token NAME`)"
    )
    assert renew(live, token).status_code == 401  # too late to renew


def test_a_token_issued_without_expiry_expires_after_the_default_lifetime(live):
    token = new_token(live, "ana", timedelta(days=1), NOW - timedelta(days=91))
    engine = make_engine(live.db_url)
    try:
        with engine.begin() as conn:  # as tokens were stored before they expired
            conn.execute(
                update(TokenRow.__table__)
                .where(TokenRow.__table__.c.token_sha256 == hash_token(token))
                .values(expires_at=None)
            )
    finally:
        engine.dispose()
    r = me(live, token)
    assert r.status_code == 401
    expired = (NOW - timedelta(days=1)).astimezone(UTC)  # created + 90 days
    assert r.json()["error"]["message"].startswith(f"token expired at {expired:%Y-%m-%d %H:%M}")


def test_a_live_token_is_renewed_once_and_the_old_one_stops(live):
    old = new_token(live, "cmd", timedelta(days=2), NOW - timedelta(days=1))
    r = renew(live, old)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert datetime.fromisoformat(body["expires_at"]) == NOW + timedelta(days=DAYS)
    assert me(live, body["token"]).json()["username"] == "cmd"
    refused = me(live, old)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"].startswith("the token was revoked")
    assert renew(live, old).status_code == 401  # one renewal per token
    log = httpx.get(
        f"{live.url}/api/v1/audit",
        params={"actor": "cmd", "action": "token.renew"},
        headers=live.auth("adm"),
        timeout=30,
    ).json()["items"]
    new_id = token_row(live, body["token"]).id
    assert [(e["object_type"], e["object_id"]) for e in log] == [("token", str(new_id))]
    assert log[0]["after"]["token_id"] == new_id
    assert log[0]["before"]["token_id"] == token_row(live, old).id
    assert body["token"] not in str(log) and old not in str(log)


def test_a_session_token_is_not_renewable(live):
    login = httpx.post(
        f"{live.url}/api/v1/auth/login",
        json={"username": "w1", "password": PASSWORD},
        timeout=30,
    )
    r = httpx.post(
        f"{live.url}/api/v1/auth/tokens/renew",
        cookies={"risk_session": login.cookies["risk_session"]},
        headers={"Origin": live.url},
        timeout=30,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "not_renewable"
    assert "log in again" in r.json()["error"]["message"]


def test_the_cli_issues_a_token_and_prints_its_expiry(live):
    before = datetime.now(UTC)
    result = CliRunner().invoke(
        cli,
        ["users", "token", "w4", "--days", "7", "--database-url", live.db_url],
        env={"RISK_DATA_DIR": str(live.data_dir)},  # the service's keys, not ./data
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    row = token_row(live, token)
    assert before + timedelta(days=7) <= row.expires_at <= datetime.now(UTC) + timedelta(days=7)
    assert f"it expires {row.expires_at:%Y-%m-%d %H:%M} UTC" in result.output
    assert me(live, token).json()["username"] == "w4"
    log = httpx.get(
        f"{live.url}/api/v1/audit",
        params={"actor": "cli", "action": "token.issue"},
        headers=live.auth("adm"),
        timeout=30,
    ).json()["items"]
    assert [(e["object_id"], e["after"]["user"]) for e in log] == [(str(row.id), "w4")]
