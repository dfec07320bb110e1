"""Model promotion and rollback by named accounts, audited — the one path for the API and the CLI.

The approver is a user account of the service database (`account`: found with the name
normalised, active, admin), who is also the actor of the audit entry; the proposer tagged on the
version may not approve it (`risk.four_eyes`). The registry (MLflow) changes first; the audit
entry follows and is committed at once, so a refusal is recorded even when the caller then
raises. The two stores are not one transaction: should the commit fail after the registry
moved, the registry's own version history still names the approver.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from models import registry
from models.gates import GateConfig
from models.registry import PromotionRefused, PromotionResult
from risk.four_eyes import IdentityRefused, check_approver, check_proposer
from risk.scopes import normalise_username
from serve.repo import audit
from serve.repo.users import User, list_users

Via = Literal["api", "cli"]
OBJECT = "model_version"


def find_account(session: Session, name: str, field: str) -> User:
    """The one account whose name is ``name`` once normalised; `IdentityRefused` otherwise."""
    wanted = normalise_username(name or "")
    if not wanted:
        raise IdentityRefused(
            field, f"{field} is empty; fix: name the user account, e.g. {field} 'adm'"
        )
    matches = [u for u in list_users(session) if normalise_username(u.username) == wanted]
    if not matches:
        raise IdentityRefused(
            field,
            f"{field}: {name!r} is not a user account; fix: name an existing account "
            "(`risk users list`), or add one with `risk users add`",
        )
    if len(matches) > 1:
        names = ", ".join(repr(u.username) for u in matches)
        raise IdentityRefused(
            field,
            f"{field}: {name!r} matches several accounts once case and spaces are ignored "
            f"({names}); fix: disable all but one of them (`risk users revoke --disable`)",
        )
    return matches[0]


def approver_account(session: Session, name: str, proposer: str | None = None) -> User:
    """The account named to approve: active, admin, and not ``proposer``."""
    account = find_account(session, name, "approved_by")
    check_approver(account, proposer)
    return account


def proposer_account(session: Session, name: str) -> User:
    """The account named as proposer (`risk train --proposed-by`): active analyst."""
    account = find_account(session, name, "proposed_by")
    check_proposer(account)
    return account


def promote(
    session: Session,
    version: int,
    approver: User,
    *,
    data_dir: Path,
    at: datetime,
    via: Via,
    gates: GateConfig | None = None,
) -> PromotionResult:
    """Make ``version`` champion if its gates pass, approved by ``approver``; audited either
    way. Raises `PromotionRefused` (after auditing it) and `risk.scopes.Forbidden` when the
    approver proposed the version."""
    check_approver(approver, None)
    try:
        result = registry.promote(version, approver.username, data_dir=data_dir, gates=gates)
    except PromotionRefused as err:
        failed = [g.as_dict() for g in err.failed]
        after = {"approved_by": approver.username, "failed_gates": failed, "via": via}
        _record(session, approver, "promotion_refused", version, {}, after, at)
        raise
    gates_out = [g.as_dict() for g in result.gate_results]
    after = {"champion": version, "approved_by": approver.username, "gates": gates_out}
    before = {"champion": result.previous_champion}
    _record(session, approver, "promote_model", version, before, {**after, "via": via}, at)
    return result


def rollback(
    session: Session, to_version: int, approver: User, *, data_dir: Path, at: datetime, via: Via
) -> PromotionResult:
    """Move ``champion`` back to an earlier approved version, by ``approver``; audited either
    way (`PromotionRefused` for a version never approved)."""
    check_approver(approver, None)
    try:
        result = registry.rollback(to_version, approver.username, data_dir=data_dir)
    except PromotionRefused as err:
        after = {"approved_by": approver.username, "reason": str(err), "via": via}
        _record(session, approver, "rollback_refused", to_version, {}, after, at)
        raise
    before = {"champion": result.previous_champion}
    after = {"champion": to_version, "approved_by": approver.username, "via": via}
    _record(session, approver, "rollback_model", to_version, before, after, at)
    return result


def _record(
    session: Session,
    actor: User,
    action: str,
    version: int,
    before: dict[str, object],
    after: dict[str, object],
    at: datetime,
) -> None:
    audit.append(
        session, actor.username, action, OBJECT, str(version),
        before=before, after=after, model_version=str(version), at=at,
    )  # fmt: skip
    session.commit()


__all__ = ["approver_account", "find_account", "promote", "proposer_account", "rollback"]
