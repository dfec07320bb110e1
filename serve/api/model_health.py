"""Model health over scoring runs for analysts and admins (issue 17, item 1).

Every value is a city-wide aggregate of the model — PSI of its inputs and scores, shares of
grids, ECE, precision per level, event counts per source — like the model card's metrics, so
the answer does not depend on the caller's scope; no grid, event or person is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query

from risk.health import Breach, load_health_config
from risk.scopes import Action
from serve.api.access import check
from serve.api.deps import CurrentUser, Now, SessionDep, SettingsDep
from serve.api.schemas import (
    ExposureSegmentOut,
    HealthBreachOut,
    HealthLevelOut,
    HealthLimitOut,
    HealthRealisedOut,
    HealthRunOut,
    ModelHealth,
    PatrolExposureOut,
    ReliabilityOut,
    VersionHealthOut,
)
from serve.repo import health as repo
from serve.repo.exposure import exposure_by_segment

router = APIRouter(tags=["models"])

FLAGGED_MAX = 1000  # flagged runs counted per version, newest first


def breach_out(b: Mapping[str, Any]) -> HealthBreachOut:
    return HealthBreachOut(**b, text=Breach(**b).text())


def _realised(record: repo.HealthRecord) -> HealthRealisedOut | None:
    data = record.realised
    if not data:
        return None
    targets = data.get("targets") or {}
    return HealthRealisedOut(
        measured_by=record.realised_by,
        ece={t: v.get("ece") for t, v in targets.items()},
        n={t: int(v.get("n") or 0) for t, v in targets.items()},
        levels={lv: HealthLevelOut(**v) for lv, v in (data.get("levels") or {}).items()},
    )


def run_out(record: repo.HealthRecord) -> HealthRunOut:
    drift = record.drift or {}
    return HealthRunOut(
        run_id=record.run_id,
        issue_time=record.issue_time,
        model_version=record.model_version or "",
        status=record.status,
        score_psi=drift.get("score_psi") or {},
        family_psi=drift.get("family_psi") or {},
        missing_share=drift.get("missing_share"),
        out_of_range_share=drift.get("out_of_range_share"),
        features_checked=drift.get("features_checked"),
        top_features=[(str(n), float(v)) for n, v in drift.get("top_features") or []],
        volumes={str(k): int(v) for k, v in (record.volumes or {}).items()},
        realised=_realised(record),
        breaches=[breach_out(b) for b in record.breaches],
    )


def _reliability(records: list[repo.HealthRecord]) -> ReliabilityOut | None:
    for record in reversed(records):
        if record.realised:
            targets = record.realised.get("targets") or {}
            return ReliabilityOut(
                run_id=record.run_id,
                issue_time=record.issue_time,
                targets={t: v.get("bins") or [] for t, v in targets.items()},
            )
    return None


def _versions(flagged: list[repo.HealthRecord]) -> dict[str, VersionHealthOut]:
    out: dict[str, VersionHealthOut] = {}
    for record in flagged:  # newest first
        version = record.model_version or ""
        row = out.setdefault(version, VersionHealthOut(warn=0, alert=0, last_flagged=None))
        setattr(row, record.status, getattr(row, record.status) + 1)
        if row.last_flagged is None:
            row.last_flagged = record.issue_time
    return out


@router.get("/model-health", response_model=ModelHealth)
def model_health(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=366, description="latest runs in the series")] = 90,
) -> ModelHealth:
    """The health of the latest ``limit`` scoring runs (oldest first): score and feature
    family PSI, shares of grids with inputs missing or out of range, event volumes by source,
    the realised ECE and precision by level once a run's window closed, and the thresholds
    passed; with the thresholds themselves and the flagged runs per model version."""
    check(user, Action.VIEW_MODELS)
    config = load_health_config(settings.health_file)
    records = repo.health_series(session, limit)
    runs = [run_out(r) for r in records]
    return ModelHealth(
        status=runs[-1].status if runs else None,
        latest=runs[-1] if runs else None,
        runs=runs,
        thresholds={
            k: HealthLimitOut(warn=v.warn, alert=v.alert) for k, v in config.limits.items()
        },
        ece_min_rows=config.ece_min_rows,
        reliability=_reliability(records),
        versions=_versions(repo.flagged_runs(session, limit=FLAGGED_MAX)),
    )


def _finite(value: float) -> float | None:
    return value if value == value else None  # NaN (nothing to divide) -> null


def _segments(table: Mapping[str, Mapping[str, Any]]) -> dict[str, ExposureSegmentOut]:
    return {
        seg: ExposureSegmentOut(
            grids=v["grids"],
            visits=v["visits"],
            visits_per_grid_day=v["visits_per_grid_window"],
            share_of_visits=_finite(v["share_of_visits"]),
        )
        for seg, v in table.items()
    }


@router.get("/patrol-exposure", response_model=PatrolExposureOut)
def patrol_exposure(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    days: Annotated[int, Query(ge=1, le=366, description="days before now")] = 28,
) -> PatrolExposureOut:
    """Patrol visits per grid type and street over the last ``days`` days (issue 17, item 2):
    a grid patrolled more may record more events whatever its risk."""
    check(user, Action.VIEW_MODELS)
    out = exposure_by_segment(session, now, days)
    return PatrolExposureOut(
        start=out["start"],
        end=out["end"],
        days=days,
        grids=out["grids"],
        visits=out["visits"],
        grids_visited=out["grids_visited"],
        visits_per_grid_day=_finite(out["visits_per_grid_window"]),
        by_grid_type=_segments(out["by_grid_type"]),
        by_street=_segments(out["by_street"]),
    )


__all__ = ["breach_out", "patrol_exposure", "router", "run_out"]
