"""The login throttle on its own: sliding windows, Retry-After, success, parallel attempts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from serve.throttle import LoginThrottle, LoginThrottled

T = datetime(2024, 5, 1, 8, tzinfo=UTC)
MIN = timedelta(minutes=1)


def fail(throttle: LoginThrottle, name: str, address: str, at: datetime) -> None:
    throttle.attempt(name, address, at)  # counted as a failure unless it succeeds


def test_the_account_is_refused_after_its_limit_until_the_oldest_failure_leaves_the_window():
    throttle = LoginThrottle(account_limit=3, address_limit=100, window=15 * MIN)
    for k in range(3):  # failures at 0, 1, 2 minutes
        fail(throttle, "rev", "10.0.0.1", T + k * MIN)
    with pytest.raises(LoginThrottled) as refused:
        throttle.attempt("rev", "10.0.0.2", T + 5 * MIN)
    # The oldest of the 3 (t = 0) leaves the window at 15 min: 10 minutes after t = 5.
    assert refused.value.retry_after == 600
    assert refused.value.what == "account"
    assert "password was not checked" in str(refused.value)
    with pytest.raises(LoginThrottled):  # same account, other spelling
        throttle.attempt(" REV ", "10.0.0.3", T + 14 * MIN)
    throttle.attempt("rev", "10.0.0.2", T + 15 * MIN)  # one slot free again


def test_the_address_is_refused_after_its_limit_whatever_the_name():
    throttle = LoginThrottle(account_limit=100, address_limit=4, window=15 * MIN)
    for k in range(4):
        fail(throttle, f"user{k}", "10.0.0.9", T)
    with pytest.raises(LoginThrottled) as refused:
        throttle.attempt("someone-else", "10.0.0.9", T + 30 * timedelta(seconds=1))
    assert (refused.value.what, refused.value.retry_after) == ("client address", 870)
    throttle.attempt("someone-else", "10.0.0.10", T)  # another address is not affected


def test_a_success_clears_the_account_but_not_the_address():
    throttle = LoginThrottle(account_limit=3, address_limit=5, window=15 * MIN)
    for _ in range(2):
        fail(throttle, "cmd", "10.0.0.1", T)
    throttle.succeeded(throttle.attempt("cmd", "10.0.0.1", T))
    for _ in range(2):  # the account's count started afresh: 2 more failures pass
        fail(throttle, "cmd", "10.0.0.1", T)
    # the address holds 4 failures (the success was taken back): one more, then refused
    fail(throttle, "other", "10.0.0.1", T)
    with pytest.raises(LoginThrottled) as refused:
        throttle.attempt("cmd", "10.0.0.1", T)
    assert refused.value.what == "client address"


def test_parallel_attempts_get_no_more_than_the_limit_through():
    throttle = LoginThrottle(account_limit=5, address_limit=1000, window=15 * MIN)
    passed, refused = [], []
    barrier = threading.Barrier(40)

    def guess() -> None:
        barrier.wait()
        try:
            throttle.attempt("w1", "10.0.0.1", T)
            passed.append(1)
        except LoginThrottled:
            refused.append(1)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(passed), len(refused)) == (5, 35)


def test_memory_is_bounded_by_forgetting_the_least_recent_keys():
    throttle = LoginThrottle(account_limit=1, address_limit=10_000, window=15 * MIN, max_keys=3)
    for k in range(5):
        fail(throttle, f"name{k}", "10.0.0.1", T)
    throttle.attempt("name0", "10.0.0.1", T)  # forgotten: may try again
    with pytest.raises(LoginThrottled):
        throttle.attempt("name4", "10.0.0.1", T)
