"""Issue 14, item 13: cookie-authenticated changes must come from the service's own origin.

The probe: a cookie-only ``POST …/claim`` with ``Origin: http://evil.example`` answered 200
(SameSite=Strict does not cover same-site origins such as another port of the host). Now such
a request gets 403 unless its Origin (or, without one, its Referer) is the service's own;
requests with a bearer token, as scripts send, are not affected.
"""

from __future__ import annotations

import httpx
import pytest

from tests.serve.api_seed import PASSWORD


@pytest.fixture(scope="module")
def cookie(live) -> dict[str, str]:
    """rev's session cookie, from a login as a script makes it (no Origin header)."""
    r = httpx.post(
        f"{live.url}/api/v1/auth/login",
        json={"username": "rev", "password": PASSWORD},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {"risk_session": r.cookies["risk_session"]}


def claim(live, item: str, cookies=None, headers=None) -> httpx.Response:
    return httpx.post(
        f"{live.url}/api/v1/review/items/{live.seed.items[item]}/claim",
        json={},
        cookies=cookies,
        headers=headers or {},
        timeout=30,
    )


def state(live, item: str) -> tuple[str, int]:
    r = httpx.get(
        f"{live.url}/api/v1/review/items/{live.seed.items[item]}",
        headers=live.auth("adm"),
        timeout=30,
    )
    return r.json()["state"], r.json()["version"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # same site, another port
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {},  # neither header
    ],
    ids=["foreign-origin", "other-port", "null-origin", "foreign-referer", "no-origin"],
)
def test_a_cookie_change_from_elsewhere_is_403_and_changes_nothing(live, cookie, headers):
    before = state(live, "claim_me")
    r = claim(live, "claim_me", cookies=cookie, headers=headers)
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "cross_site"
    assert error["message"].startswith("refused:")
    assert "API token" in error["message"]
    assert state(live, "claim_me") == before == ("pending", 1)


def test_the_same_change_from_the_service_origin_is_200(live, cookie):
    r = claim(live, "claim_me", cookies=cookie, headers={"Origin": live.url})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["claimed_by"]) == ("pending", "rev")


def test_a_referer_from_the_service_pages_is_enough_without_origin(live, cookie):
    r = claim(live, "bulk_me", cookies=cookie, headers={"Referer": f"{live.url}/reviewer"})
    assert r.status_code == 200, r.text


def test_a_bearer_token_is_not_checked(live):
    r = claim(live, "adjust_me", headers={**live.auth("rev"), "Origin": "http://evil.example"})
    assert r.status_code == 200, r.text


def test_reads_with_the_cookie_need_no_origin(live, cookie):
    r = httpx.get(f"{live.url}/api/v1/me", cookies=cookie, timeout=30)
    assert (r.status_code, r.json()["username"]) == (200, "rev")


def test_a_login_posted_from_another_origin_is_refused(live):
    body = {"username": "cmd", "password": PASSWORD}
    evil = httpx.post(
        f"{live.url}/api/v1/auth/login",
        json=body,
        headers={"Origin": "http://evil.example"},
        timeout=30,
    )
    own = httpx.post(
        f"{live.url}/api/v1/auth/login", json=body, headers={"Origin": live.url}, timeout=30
    )
    assert (evil.status_code, evil.json()["error"]["code"]) == (403, "cross_site")
    assert "set-cookie" not in evil.headers
    assert own.status_code == 200
