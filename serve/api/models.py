"""Model versions, cards and promotion (analysts read; only admins promote — four eyes).

Reads go to the MLflow registry in ``settings.data_dir`` (or ``RISK_MLFLOW_URI``) through
`models.registry`; a promotion goes through `serve.promotions`, which checks the accounts and
appends the promotion, or the refusal, to the audit log once the registry has answered.
"""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Body, Path
from mlflow.exceptions import MlflowException

from models import registry
from models.card import with_health
from models.registry import VersionRow
from models.tracking import client
from risk.four_eyes import IdentityRefused, same_account
from risk.health import Breach
from risk.scopes import Action, check_four_eyes
from serve import promotions
from serve.api.access import check
from serve.api.deps import CurrentUser, Now, SessionDep, SettingsDep
from serve.api.errors import NotFound
from serve.api.schemas import (
    CardHealthMark,
    GateOut,
    ModelCard,
    ModelVersionOut,
    PromoteIn,
    PromotionOut,
)
from serve.repo.health import flagged_runs

router = APIRouter(prefix="/models", tags=["models"])

VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
CARD_FILES = {"markdown": "model_card.md", "html": "model_card.html"}
CARD_MARKS = 10  # flagged runs listed on a card, newest first


def _out(row: VersionRow) -> ModelVersionOut:
    return ModelVersionOut(
        version=row.version,
        aliases=list(row.aliases),
        created=row.created,
        run_id=row.run_id,
        gates_passed=row.gates_passed,
        gate_results=[GateOut(**g.as_dict()) for g in row.gate_results],
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        proposed_by=row.proposed_by,
    )


def _version(data_dir: FilePath, version: int) -> VersionRow:
    for row in registry.list_versions(data_dir=data_dir):
        if row.version == version:
            return row
    raise NotFound("model version", version)


@router.get("", response_model=list[ModelVersionOut])
def versions(user: CurrentUser, settings: SettingsDep) -> list[ModelVersionOut]:
    """Every registered version, oldest first, with aliases and gate results."""
    check(user, Action.VIEW_MODELS)
    return [_out(r) for r in registry.list_versions(data_dir=settings.data_dir)]


@router.get("/{version}/card", response_model=ModelCard)
def card(
    version: VersionPath, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> ModelCard:
    """The version's model card as Markdown and as self-contained HTML; marked with a "Health
    in service" section (and ``health``) when its scoring runs passed a health threshold."""
    check(user, Action.VIEW_MODELS)
    row = _version(settings.data_dir, version)
    c = client(settings.data_dir)
    texts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, name in CARD_FILES.items():
            try:
                local = c.download_artifacts(row.run_id, name, tmp)
            except (MlflowException, OSError):
                raise NotFound("model card for version", version) from None
            texts[key] = FilePath(local).read_text(encoding="utf-8")
    marks = [
        CardHealthMark(
            run_id=r.run_id,
            issue_time=r.issue_time,
            status=r.status,
            summary=[Breach(**b).text() for b in r.breaches],
        )
        for r in flagged_runs(session, str(version), CARD_MARKS)
    ]
    texts["markdown"], texts["html"] = with_health(
        texts["markdown"], texts["html"], [m.model_dump(mode="json") for m in marks]
    )
    return ModelCard(version=version, health=marks, **texts)


@router.post("/{version}/promote", response_model=PromotionOut)
def promote(
    version: VersionPath,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    body: Annotated[PromoteIn | None, Body()] = None,
) -> PromotionOut:
    """Make the version champion if every gate passes; 409 lists the failed gates.

    The approver is the calling admin: ``approved_by``, when given, must name that account
    (case and spaces aside); the proposer of the version may not approve it (403)."""
    check(user, Action.PROMOTE_MODEL)
    row = _version(settings.data_dir, version)
    if row.proposed_by:  # four eyes first: the proposer learns why, whatever name was typed
        check_four_eyes(user.username, row.proposed_by)
    named = body.approved_by if body else None
    if named is not None and not same_account(named, user):
        raise IdentityRefused(
            "approved_by",
            f"approved_by: {named!r} is not the signed-in account {user.username!r}; an "
            "approval is recorded for the account that makes it: sign in as that admin",
        )
    result = promotions.promote(
        session, version, user, data_dir=settings.data_dir, at=now, via="api"
    )
    return PromotionOut(
        version=result.version,
        previous_champion=result.previous_champion,
        approved_by=result.approved_by,
        approved_at=result.approved_at,
        gate_results=[GateOut(**g.as_dict()) for g in result.gate_results],
    )
