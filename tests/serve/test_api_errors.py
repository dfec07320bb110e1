"""The one error shape, for errors nobody planned for too."""

from __future__ import annotations

import pytest

import serve.repo.audit
from tests.serve.api_seed import bearer, client, seed


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        yield c, s


def test_an_unexpected_error_is_a_500_that_leaks_nothing(api, monkeypatch):
    c, s = api

    def broken(session):
        raise RuntimeError("password=hunter2 at /srv/secret.py line 3")

    monkeypatch.setattr(serve.repo.audit, "verify", broken)
    r = c.get("/api/v1/audit/verify", headers=bearer(s.tokens["adm"]))
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "code": "internal_error",
            "message": "internal error; the incident was logged",
            "fields": [],
        }
    }


def test_an_unknown_path_is_a_404_in_the_same_shape(api):
    c, s = api
    r = c.get("/api/v1/nowhere", headers=bearer(s.tokens["adm"]))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_a_missing_token_is_401_with_a_bearer_challenge(api):
    c, _ = api
    r = c.get("/api/v1/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
