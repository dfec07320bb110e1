"""Model health of each scoring run (issue 17, item 1), stored with the run.

In the run's own transaction (`serve.scoring.store_scored`), after the event counts:

* **drift** — `risk.drift.run_drift` of this run's features and scores against the reference
  the model carries (`models.health`; none for a model trained before it: status
  ``unknown`` unless something else was judged);
* **volumes by source** — events known at the issue time that occurred in the last
  `VOLUME_DAYS` days, per ``source`` (``unknown`` when absent);
* **realised** — for every earlier run whose 72-hour window has closed by this issue time and
  whose window the stored event counts still cover (`serve.repo.activity.KEEP_DAYS`), once:
  per target the ECE and reliability bins (`risk.accuracy.realised_calibration`) and per
  model level how many grids came true (`risk.accuracy.count_by_level`; "came true" as for
  live accuracy: `serve.repo.activity.window_hits`), written onto that run's record;
* the **judgement** (`risk.health.assess`, thresholds of `risk/health.toml`): a run marked
  ``warn`` or ``alert`` writes one audit entry (action ``health_alert``, object the run),
  which the analyst page shows as a banner and the model card API as a mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from risk.accuracy import count_by_level, realised_calibration
from risk.contract import HORIZON_HOURS
from risk.drift import DriftReference, RunDrift, run_drift
from risk.health import ALERT, WARN, HealthConfig, assess, status_of
from risk.levels import WARNING_LEVELS
from serve.repo import activity, audit, runs
from serve.repo import health as repo

VOLUME_DAYS = 7


@dataclass(frozen=True)
class HealthOutcome:
    """What the judgement of one run found (``risk score`` prints it)."""

    status: str
    breaches: list[dict[str, Any]] = field(default_factory=list)
    realised_runs: list[str] = field(default_factory=list)  # earlier runs measured now


def measure(
    manifest: Mapping[str, Any], frame: pd.DataFrame, probs: Mapping[str, np.ndarray]
) -> RunDrift | None:
    """This run's drift against the manifest's ``drift_reference`` (None without one)."""
    reference = manifest.get("drift_reference")
    if not reference:
        return None
    return run_drift(frame, probs, DriftReference.from_dict(reference))


def volumes_by_source(
    events: pd.DataFrame | None, issue: pd.Timestamp, days: int = VOLUME_DAYS
) -> dict[str, int]:
    """Events known at ``issue`` that occurred in ``(issue − days, issue]``, per source."""
    if events is None or not len(events):
        return {}
    known = activity.known_events(events, issue)
    recent = known[known["occurred_at"] > issue - pd.Timedelta(days=days)]
    if "source" in recent.columns:
        source = recent["source"].astype(object).where(recent["source"].notna(), "unknown")
    else:
        source = pd.Series("unknown", index=recent.index)
    counts = source.astype(str).value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def realise(session: Session, run_id: str, issue: datetime, horizon: timedelta) -> dict[str, Any]:
    """Run ``run_id``'s forecasts against what happened in its window: per target
    ``{n, came_true, ece, bins, levels}`` and, over all targets, ``levels`` — per warning
    level ``{n, came_true, precision}``."""
    frame, _ = runs.run_forecasts(session, run_id)
    end = issue + horizon
    hits = activity.window_hits(
        session,
        [(g, t, issue, end) for g, t in zip(frame["grid_id"], frame["target"], strict=True)],
    )
    frame = frame.assign(hit=hits)

    def levels(part: pd.DataFrame) -> dict[str, dict[str, Any]]:
        warned = part[part["level"].isin(WARNING_LEVELS)]
        counted = count_by_level(((run_id, lv) for lv in warned["level"]), warned["hit"].tolist())
        return {
            r.level: {"n": r.n, "came_true": r.came_true, "precision": r.precision} for r in counted
        }

    targets = {}
    for target, part in frame.groupby("target", sort=True):
        cal = realised_calibration(part["prob"].to_numpy(), part["hit"].to_numpy())
        targets[str(target)] = {**cal.as_dict(), "levels": levels(part)}
    return {"targets": targets, "levels": levels(frame)}


def record_health(
    session: Session,
    *,
    run: runs.RunInfo,
    drift: RunDrift | None,
    events: pd.DataFrame | None,
    config: HealthConfig,
    now: datetime,
    actor: str,
    horizon_hours: int = HORIZON_HOURS,
) -> HealthOutcome:
    """Measure, judge and store run ``run``'s health (module docstring), in ``session``'s
    transaction; the event counts of this run must already be stored."""
    horizon = timedelta(hours=horizon_hours)
    realised: dict[str, dict[str, Any]] = {}
    if events is not None:
        since = run.issue_time - timedelta(days=activity.KEEP_DAYS)
        for earlier in repo.awaiting_realised(session, run.issue_time - horizon, since):
            if earlier.run_id == run.run_id or earlier.issue_time is None:
                continue
            measured = realise(session, earlier.run_id, earlier.issue_time, horizon)
            repo.set_realised(session, earlier.run_id, measured, now, run.run_id)
            realised[earlier.run_id] = measured["targets"]
    drift_dict = None if drift is None else drift.as_dict()
    breaches = assess(drift_dict, realised, config)
    status = status_of(breaches, judged=drift is not None or bool(realised))
    found = [b.as_dict() for b in breaches]
    repo.store_health(
        session,
        repo.HealthRecord(
            run_id=run.run_id,
            computed_at=now,
            status=status,
            drift=drift_dict,
            volumes=volumes_by_source(events, pd.Timestamp(run.issue_time)),
            breaches=found,
        ),
    )
    if status in (WARN, ALERT):
        audit.append(
            session,
            actor=actor,
            action="health_alert",
            object_type="forecast_run",
            object_id=run.run_id,
            after={
                "status": status,
                "issue_time": run.issue_time,
                "breaches": found,
                "summary": [b.text() for b in breaches],
            },
            model_version=run.model_version,
            at=now,
        )
    return HealthOutcome(status, found, list(realised))


__all__ = [
    "VOLUME_DAYS",
    "HealthOutcome",
    "measure",
    "realise",
    "record_health",
    "volumes_by_source",
]
