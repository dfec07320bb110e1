"""Issue 14, items 4 and 10: login throttling per account and per client address, and failed
logins audited with the client address and a keyed pseudonym of the name typed.

Each test connects from its own loopback address (127.0.0.x), so the per-address limit of one
test does not reach the others; the clock is fixed, so a window never passes here (the
sliding window itself: tests/serve/test_throttle.py). Defaults: 5 failures per account, 20 per
address, 15 minutes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from risk.cli import app as cli
from serve.db import make_engine
from serve.pseudonyms import names_key, pseudonym
from serve.tables import AuditEntryRow
from tests.serve.api_seed import PASSWORD

WINDOW_S = 15 * 60


def client(address: str) -> httpx.Client:
    """A client whose requests come from ``address`` (any 127.0.0.x reaches the server)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def login(c: httpx.Client, live, username: str, password: str) -> httpx.Response:
    return c.post(
        f"{live.url}/api/v1/auth/login", json={"username": username, "password": password}
    )


def failed_logins_from(live, address: str) -> list[dict]:
    r = httpx.get(
        f"{live.url}/api/v1/audit",
        params={"action": "login_failed", "limit": 500},
        headers=live.auth("adm"),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["after"].get("client") == address]


def test_forty_wrong_passwords_then_the_right_one_is_429_not_200(live):
    with client("127.0.0.2") as c:
        statuses = [login(c, live, "rev", f"guess-{k}").status_code for k in range(40)]
        right = login(c, live, "rev", PASSWORD)
    assert statuses == [401] * 5 + [429] * 35
    assert right.status_code == 429  # the password was not even checked
    # every failure at the fixed clock's instant: the first leaves the window in 15 minutes
    assert right.headers["Retry-After"] == str(WINDOW_S)
    error = right.json()["error"]
    assert error["code"] == "too_many_attempts"
    assert error["message"].startswith("too many failed logins for this account (5 within 15")
    assert "set-cookie" not in right.headers
    # only the 5 checked failures are audited, the 5th saying the account is now throttled
    audited = failed_logins_from(live, "127.0.0.2")
    assert len(audited) == 5
    assert audited[0]["after"] == {"client": "127.0.0.2", "throttled": ["account"]}


def test_an_address_is_refused_after_20_failures_whatever_the_names(live):
    with client("127.0.0.3") as c:
        statuses = [login(c, live, f"nobody-{k}", "guess").status_code for k in range(20)]
        right = login(c, live, "ana", PASSWORD)
    with client("127.0.0.4") as other:
        elsewhere = login(other, live, "ana", PASSWORD)
    assert statuses == [401] * 20
    assert right.status_code == 429
    assert right.json()["error"]["message"].startswith(
        "too many failed logins for this client address (20 within 15 minutes)"
    )
    assert right.headers["Retry-After"] == str(WINDOW_S)
    assert elsewhere.status_code == 200  # the account itself is not blocked


def test_a_success_resets_the_account_count(live):
    with client("127.0.0.5") as c:
        first = [login(c, live, "cmd", "wrong").status_code for _ in range(4)]
        ok1 = login(c, live, "cmd", PASSWORD).status_code
        second = [login(c, live, "cmd", "wrong").status_code for _ in range(4)]
        ok2 = login(c, live, "cmd", PASSWORD).status_code
    assert (first, ok1, second, ok2) == ([401] * 4, 200, [401] * 4, 200)


def test_parallel_guesses_get_no_more_than_the_limit_checked(live):
    with client("127.0.0.6") as c, ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda k: login(c, live, "w4", f"g{k}").status_code, range(30)))
    assert sorted(statuses) == [401] * 5 + [429] * 25


def test_a_password_typed_as_the_username_is_never_stored(live):
    typed = "Tr0ub4dor&3-horse"
    with client("127.0.0.8") as c:
        assert login(c, live, typed, "whatever").status_code == 401
    engine = make_engine(live.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(AuditEntryRow.__table__)).all()
    finally:
        engine.dispose()
    assert rows, "the failed login is audited"
    assert not any(typed in str(cell) for row in rows for cell in row)
    [entry] = failed_logins_from(live, "127.0.0.8")
    assert entry["object_id"] == pseudonym(names_key(live.data_dir), typed)
    assert entry["object_id"].startswith("name#") and len(entry["object_id"]) == 5 + 16
    assert (entry["actor"], entry["after"]) == ("anonymous", {"client": "127.0.0.8"})
    # an admin finds the failures of a name by its pseudonym, computed with the same key
    found = CliRunner().invoke(cli, ["users", "pseudonym", typed, "--data-dir", str(live.data_dir)])
    assert (found.exit_code, found.output.strip()) == (0, entry["object_id"])
