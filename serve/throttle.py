"""Login throttling: a bound on password guesses per account and per client address.

Each account (the username as typed, case- and space-folded) and each client address may fail
at most ``limit`` logins within a sliding ``window``; beyond that, `LoginThrottle.attempt`
raises `LoginThrottled` *before* any password is checked, so the right password is refused
too until the oldest failure leaves the window. A success clears its account's failures (not
the address's: one good account must not reset a guesser's address).

An attempt is counted as a failure when it starts and taken back on success, so requests
racing in parallel can never get more than ``limit`` guesses through.

State lives in memory, shared by the threads of one service process (``risk serve`` runs one);
a restart forgets it. At most ``max_keys`` accounts and addresses are remembered; beyond that
the least recently failed are forgotten first.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from risk.errors import RiskError
from risk.settings import Settings

DEFAULT_WINDOW = timedelta(minutes=15)
DEFAULT_ACCOUNT_LIMIT = 5
DEFAULT_ADDRESS_LIMIT = 20
DEFAULT_MAX_KEYS = 50_000


class LoginThrottled(RiskError):
    """Too many failed logins for an account or an address (HTTP 429 with ``Retry-After``)."""

    def __init__(self, what: str, limit: int, window: timedelta, retry_after: int) -> None:
        self.what, self.retry_after = what, retry_after
        minutes = max(1, round(window.total_seconds() / 60))
        super().__init__(
            f"too many failed logins for this {what} ({limit} within {minutes} minutes); "
            f"the password was not checked. Try again in {retry_after} seconds, or ask an "
            "admin to check the account"
        )


@dataclass(frozen=True)
class Attempt:
    """A login in progress: the keys its tentative failure was recorded under."""

    account: str
    address: str
    at: datetime


class _Failures:
    """Failure times per key within a sliding window, least recently failed key first."""

    def __init__(self, limit: int, window: timedelta, max_keys: int) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._times: OrderedDict[str, deque[datetime]] = OrderedDict()

    def _live(self, key: str, now: datetime) -> deque[datetime] | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        return times

    def retry_after(self, key: str, now: datetime) -> int | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        times = self._live(key, now)
        if times is None or len(times) < self.limit:
            return None
        wait = (times[-self.limit] + self.window - now).total_seconds()
        return max(1, math.ceil(wait))

    def add(self, key: str, now: datetime) -> None:
        times = self._live(key, now) or deque()
        times.append(now)
        self._times[key] = times
        self._times.move_to_end(key)
        while len(self._times) > self.max_keys:
            self._times.popitem(last=False)

    def remove_one(self, key: str, at: datetime) -> None:
        times = self._times.get(key)
        if times is not None and at in times:
            times.remove(at)
            if not times:
                del self._times[key]

    def clear(self, key: str) -> None:
        self._times.pop(key, None)


class LoginThrottle:
    """Thread-safe failure counts for logins, per account and per client address."""

    def __init__(
        self,
        account_limit: int = DEFAULT_ACCOUNT_LIMIT,
        address_limit: int = DEFAULT_ADDRESS_LIMIT,
        window: timedelta = DEFAULT_WINDOW,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if account_limit < 1 or address_limit < 1 or window <= timedelta(0):
            raise ValueError("login limits must be at least 1 and the window positive")
        self._lock = threading.Lock()
        self._accounts = _Failures(account_limit, window, max_keys)
        self._addresses = _Failures(address_limit, window, max_keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        """Limits from ``RISK_LOGIN_ACCOUNT_FAILURES``, ``…_ADDRESS_FAILURES``, ``…_WINDOW_MINUTES``."""
        return cls(
            settings.login_account_failures,
            settings.login_address_failures,
            timedelta(minutes=settings.login_window_minutes),
        )

    @staticmethod
    def account_key(username: str) -> str:
        return username.strip().casefold()

    def attempt(self, username: str, address: str, now: datetime) -> Attempt:
        """Start a login: `LoginThrottled` if the address or account is over its limit, else
        the attempt, counted as a failure until `succeeded` takes it back."""
        account = self.account_key(username)
        with self._lock:
            for what, failures, key in (
                ("client address", self._addresses, address),
                ("account", self._accounts, account),
            ):
                wait = failures.retry_after(key, now)
                if wait is not None:
                    raise LoginThrottled(what, failures.limit, failures.window, wait)
            self._addresses.add(address, now)
            self._accounts.add(account, now)
        return Attempt(account, address, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account starts afresh; the address's count drops
        this attempt only."""
        with self._lock:
            self._accounts.clear(attempt.account)
            self._addresses.remove_one(attempt.address, attempt.at)

    def locked(self, attempt: Attempt) -> list[str]:
        """Which of the attempt's keys are now over their limit (``account``, ``address``)."""
        with self._lock:
            return [
                what
                for what, failures, key in (
                    ("account", self._accounts, attempt.account),
                    ("address", self._addresses, attempt.address),
                )
                if failures.retry_after(key, attempt.at) is not None
            ]


__all__ = ["Attempt", "LoginThrottle", "LoginThrottled"]
