"""Four eyes on model promotion, by account (DESIGN §1; issue 14, item 5).

An analyst account proposes a model version; an admin account approves its promotion (or a
rollback). Names are compared once normalised (`risk.scopes.normalise_username`), so
``"Analyst"`` or ``"admin "`` is the same person as ``analyst`` or ``admin``. Pure checks over an
account; finding the account in the service database is `serve.promotions`.
"""

from __future__ import annotations

from typing import Protocol

from risk.errors import ConfigError
from risk.scopes import Action, Role, allowed, check_four_eyes, normalise_username


class Account(Protocol):
    """What the checks need of a user account (`serve.repo.users.User` has it)."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def active(self) -> bool: ...


class IdentityRefused(ConfigError):
    """A name given for the proposer or the approver is not an acceptable account (HTTP 422
    naming ``field``; CLI exit 4)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def check_proposer(account: Account, field: str = "proposed_by") -> None:
    """The proposer is an active account whose role may propose a model (analyst)."""
    _check(account, Action.PROPOSE_MODEL, field, "propose model versions")


def check_approver(account: Account, proposer: str | None, field: str = "approved_by") -> None:
    """The approver is an active admin account and not the proposer (`Forbidden` if it is)."""
    _check(account, Action.PROMOTE_MODEL, field, "approve promotions")
    if proposer:
        check_four_eyes(account.username, proposer)


def same_account(name: str, account: Account) -> bool:
    return normalise_username(name) == normalise_username(account.username)


def _check(account: Account, action: Action, field: str, what: str) -> None:
    if not account.active:
        raise IdentityRefused(
            field,
            f"{field}: account {account.username!r} is disabled; fix: name an active account",
        )
    if not allowed(account.role, action):
        roles = ", ".join(sorted(r.value for r in Role if allowed(r, action)))
        raise IdentityRefused(
            field,
            f"{field}: account {account.username!r} has the role {Role(account.role).value}; "
            f"only {roles} accounts {what} (four eyes: analysts propose, admins approve)",
        )


__all__ = ["Account", "IdentityRefused", "check_approver", "check_proposer", "same_account"]
