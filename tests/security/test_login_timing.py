"""Issue 14, item 11: login time does not tell whether a username exists.

The probe measured 38 ms (unknown user: no scrypt) against 88 ms (known user, wrong password).
Now both run one scrypt of the same cost, so their medians stay within a factor of 2. The
limits are raised here so that the samples are not throttled.
"""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

ROUNDS = 9


@pytest.fixture(scope="module")
def live_settings() -> dict:
    return {"login_account_failures": 1000, "login_address_failures": 1000}


def elapsed(c: httpx.Client, url: str, username: str) -> float:
    start = time.perf_counter()
    r = c.post(f"{url}/api/v1/auth/login", json={"username": username, "password": "wrong-pw"})
    took = time.perf_counter() - start
    assert r.status_code == 401, r.text
    return took


def test_an_unknown_user_takes_as_long_as_a_wrong_password(live):
    unknown, known = [], []
    with httpx.Client(timeout=30) as c:
        elapsed(c, live.url, "warm-up")  # first use: key file, connections
        for _ in range(ROUNDS):  # interleaved, so load on the machine hits both alike
            unknown.append(elapsed(c, live.url, "nobody-here"))
            known.append(elapsed(c, live.url, "rev"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 <= ratio <= 2, (ratio, unknown, known)
