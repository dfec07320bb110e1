"""Page routes without a browser: redirects, role checks, static files and the service worker."""

from __future__ import annotations

import pytest

from serve.db import upgrade
from serve.web.pages import PAGE_ROLES, safe_next
from tests.serve.api_seed import PASSWORD, client, seed

# (page path, users who may open it, users who get the 403 page)
PAGES = [
    ("/commander", {"cmd", "ana", "adm"}, {"rev", "w1"}),
    ("/grid/g3", {"cmd", "ana", "adm", "rev"}, {"w1"}),
    ("/reviewer", {"rev", "adm"}, {"cmd", "ana", "w1"}),
    ("/worker", {"w1", "adm"}, {"cmd", "ana", "rev"}),
    ("/analyst", {"ana", "adm"}, {"cmd", "rev", "w1"}),
]
HOMES = {
    "cmd": "/commander",
    "rev": "/reviewer",
    "w1": "/worker",
    "ana": "/analyst",
    "adm": "/analyst",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One seeded SQLite app for the module (page routes do not depend on the backend)."""
    folder = tmp_path_factory.mktemp("pages")
    url = f"sqlite:///{folder / 'pages.db'}"
    upgrade(url)
    seed(url, passwords=True)
    with client(url, folder) as c:
        yield c


def log_in(c, username: str) -> None:
    c.cookies.clear()
    r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/commander", "/grid/g3", "/reviewer", "/worker", "/analyst"])
def test_a_page_without_a_session_redirects_to_login_with_next(app, path):
    app.cookies.clear()
    r = app.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=" + path.replace("/", "%2F")


def test_the_next_path_keeps_the_query(app):
    app.cookies.clear()
    r = app.get("/commander?level=red", follow_redirects=False)
    assert r.headers["location"] == "/login?next=%2Fcommander%3Flevel%3Dred"


def test_a_revoked_or_unknown_session_counts_as_none(app):
    log_in(app, "cmd")
    token = app.cookies["risk_session"]
    assert app.get("/commander", follow_redirects=False).status_code == 200
    # a change made with the cookie names its origin, as browsers do (serve/api/csrf.py)
    logout = app.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"})
    assert logout.status_code == 204
    app.cookies.set("risk_session", token)
    assert app.get("/commander", follow_redirects=False).status_code == 303
    app.cookies.set("risk_session", "not-a-token")
    assert app.get("/commander", follow_redirects=False).status_code == 303


def test_each_role_opens_its_pages_and_gets_403_elsewhere(app):
    for path, allowed, refused in PAGES:
        for user in allowed:
            log_in(app, user)
            r = app.get(path, follow_redirects=False)
            assert (path, user, r.status_code) == (path, user, 200)
            assert r.headers["content-type"].startswith("text/html")
        for user in refused:
            log_in(app, user)
            r = app.get(path, follow_redirects=False)
            assert (path, user, r.status_code) == (path, user, 403)
            assert 'id="forbidden-heading"' in r.text


def test_the_page_table_matches_the_test_table():
    names = {"commander": "/commander", "grid": "/grid/g3", "reviewer": "/reviewer",
             "worker": "/worker", "analyst": "/analyst"}  # fmt: skip
    roles = {"cmd": "commander", "ana": "analyst", "adm": "admin", "rev": "reviewer",
             "w1": "grid_worker"}  # fmt: skip
    for name, path in names.items():
        allowed = next(a for p, a, _ in PAGES if p == path)
        assert {r.value for r in PAGE_ROLES[name]} == {roles[u] for u in allowed}


def test_root_sends_each_role_home_and_strangers_to_login(app):
    app.cookies.clear()
    assert app.get("/", follow_redirects=False).headers["location"] == "/login"
    for user, home in HOMES.items():
        log_in(app, user)
        r = app.get("/", follow_redirects=False)
        assert (user, r.status_code, r.headers["location"]) == (user, 303, home)


def test_login_page_is_public_and_a_logged_in_user_goes_on(app):
    app.cookies.clear()
    r = app.get("/login", follow_redirects=False)
    assert r.status_code == 200
    assert 'id="login-form"' in r.text
    log_in(app, "cmd")
    r = app.get("/login?next=%2Fgrid%2Fg3", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/grid/g3")
    r = app.get("/login?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/commander"


def test_pages_carry_the_city_time_zone_and_are_not_cached(app):
    log_in(app, "cmd")
    r = app.get("/commander")
    assert 'data-tz="Asia/Shanghai"' in r.text
    assert "__RISK_TZ__" not in r.text
    assert r.headers["cache-control"] == "no-store"


def test_static_files_are_served(app):
    r = app.get("/static/common.js")
    assert r.status_code == 200
    assert "window.Risk = Risk" in r.text
    assert app.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert app.get("/static/nope.js").status_code == 404


def test_the_service_worker_is_served_from_the_root_with_its_headers(app):
    r = app.get("/sw.js")
    if r.status_code == 404:  # web-B's file not written yet
        assert r.json()["error"]["code"] == "not_found"
        return
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["service-worker-allowed"] == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/grid/g1?x=1", "/grid/g1?x=1"),
        ("//evil.example", None),
        ("https://evil.example", None),
        ("/\\evil.example", None),
        ("/a\nb", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next_allows_only_same_site_paths(target, expected):
    assert safe_next(target) == expected
