"""Login, logout and session cookies."""

from __future__ import annotations

import pytest

from tests.serve.api_seed import PASSWORD, bearer, client, seed


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url, passwords=True)
    with client(db_url, tmp_path) as c:
        yield c, s


def login(c, username="rev", password=PASSWORD):
    return c.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_sets_an_http_only_same_site_strict_cookie(api):
    c, _ = api
    r = login(c)
    assert r.status_code == 200
    assert r.json()["role"] == "reviewer"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("risk_session=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie.replace("samesite", "")  # plain http in the test client


def test_the_cookie_is_secure_over_tls(db_url, tmp_path):
    seed(db_url, passwords=True)
    with client(db_url, tmp_path) as c:
        c.base_url = "https://testserver"
        r = login(c)
    assert "; secure" in r.headers["set-cookie"].lower()


def test_the_session_cookie_authenticates_until_logout_revokes_it(api):
    c, _ = api
    login(c)
    token = c.cookies["risk_session"]
    assert c.get("/api/v1/me").json()["username"] == "rev"
    # a change made with the cookie names its origin, as browsers do (serve/api/csrf.py)
    logout = c.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"})
    assert logout.status_code == 204
    c.cookies.clear()
    again = c.get("/api/v1/me", headers=bearer(token))  # the old token, replayed
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "unauthenticated"


def test_a_wrong_password_is_401_without_saying_which_part_was_wrong(api):
    c, _ = api
    wrong = login(c, password="not the password")
    nobody = login(c, username="nobody")
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    assert "set-cookie" not in wrong.headers


def test_login_and_logout_are_audited_without_the_token(api):
    c, s = api
    login(c)
    token = c.cookies["risk_session"]
    c.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"})
    c.cookies.clear()
    log = c.get("/api/v1/audit?actor=rev&object_type=user", headers=bearer(s.tokens["adm"]))
    assert [e["action"] for e in log.json()["items"]] == ["logout", "login"]
    assert token not in log.text


def test_failed_logins_are_audited_without_the_password(api, tmp_path):
    from serve.pseudonyms import names_key, pseudonym

    c, s = api
    login(c, password="guess-1")
    login(c, username="nobody", password="guess-2")
    log = c.get("/api/v1/audit?actor=anonymous", headers=bearer(s.tokens["adm"])).json()
    # the name typed is kept as a keyed pseudonym (it may be a password), with the address
    key = names_key(tmp_path)
    assert [(e["action"], e["object_id"], e["after"]) for e in log["items"]] == [
        ("login_failed", pseudonym(key, "nobody"), {"client": "testclient"}),
        ("login_failed", pseudonym(key, "rev"), {"client": "testclient"}),
    ]
    assert "guess" not in str(log) and "nobody" not in str(log)
    verify = c.get("/api/v1/audit/verify", headers=bearer(s.tokens["adm"])).json()
    assert verify["ok"] is True


def test_a_revoked_api_token_is_401(api, db_url):
    from serve.db import session_factory, transaction
    from serve.repo.users import revoke_user_tokens

    c, s = api
    with transaction(session_factory(db_url)) as session:
        revoke_user_tokens(session, "ana")
    assert c.get("/api/v1/me", headers=bearer(s.tokens["ana"])).status_code == 401
