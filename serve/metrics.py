"""What `/metrics` reports (issue 17, item 5), in Prometheus' text format: read from the
database at scrape time, so every worker process answers the same and nothing is counted in
process memory.

* `read_snapshot` — the I/O edge: a handful of aggregate queries at ``now``.
* `families` — pure: a `Snapshot` as Prometheus metric families (names and meaning below).
* `SnapshotCollector` / `render` — a prometheus_client collector over one snapshot, in a
  registry of its own (no global registry, no global counters), rendered as text.

Labels are closed sets only — run outcome, review state, SLA target, warning level, model
health status — and the model's targets and feature families (a few each); never a person, a
grid or free text. Metrics (all city-wide):

==========================================  =================================================
``risk_scoring_runs_total{status}``         scheduled scoring attempts, ``complete``/``failed``
``risk_scoring_last_run_timestamp_seconds`` when the last attempt of each ``status`` ended
``risk_scoring_last_run_duration_seconds``  wall time of the last attempt
``risk_scoring_run_duration_seconds``       histogram of the attempts' wall times
``risk_forecast_last_issue_timestamp_seconds`` issue time of the latest complete stored run
``risk_review_items{state}``                review items in each state of `risk.review`
``risk_review_open_overdue_items``          open items waiting longer than the response target
``risk_review_sla_judged{target}``          items queued in the last 7 days that can be judged
``risk_review_sla_breaches{target}``        … of them, response (2 h) / completion (24 h) missed
``risk_live_warnings{level}``               warnings whose window closed in the last 28 days
``risk_live_warnings_came_true{level}``     … of them, with ≥ 1 event of their target
``risk_model_health{status}``               1 for the latest run's health status, else 0
``risk_drift_score_psi{target}``            the latest run's score PSI per target
``risk_drift_family_psi{family}``           the latest run's PSI per feature family
``risk_drift_missing_share``                its share of grids with missing inputs
``risk_drift_out_of_range_share``           its share of grids with inputs out of range
``risk_realised_ece{target}``               realised ECE of the latest measured closed run
==========================================  =================================================

A family with nothing to say is left out (no run yet, no health record, no event counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from risk.accuracy import accuracy_by_level, closed_windows
from risk.health import STATUSES as HEALTH_STATUSES
from risk.levels import WARNING_LEVELS
from risk.review import DEFAULT_RESPONSE_TARGET, OPEN_STATES, ReviewState
from risk.service_levels import ServiceLevels, service_levels
from serve.repo import activity, attempts, reviews
from serve.repo.runs import COMPLETE, latest_run
from serve.tables import ForecastRunRow, RunHealthRow

SERVICE_DAYS = 7  # as the commander's service-level tiles (serve.api.dashboard)
LIVE_DAYS = 28  # as the commander's "red warnings came true" tile
# Every state but the open ones: warnings seen through to the end of their window.
DECIDED = tuple(s.value for s in ReviewState if s not in OPEN_STATES)


@dataclass(frozen=True)
class Health:
    """The latest complete run's health record, and the realised ECE of the latest run whose
    window was measured (`serve.run_health`)."""

    status: str
    score_psi: dict[str, float] = field(default_factory=dict)
    family_psi: dict[str, float] = field(default_factory=dict)
    missing_share: float | None = None
    out_of_range_share: float | None = None
    realised_ece: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    attempts: attempts.AttemptSummary
    last_issue_time: datetime | None
    queue: dict[str, int]  # every `ReviewState` value -> items
    open_overdue: int
    service: ServiceLevels  # over items queued in the last `SERVICE_DAYS`
    live: dict[str, tuple[int, int]] | None  # warning level -> (closed, came true); None: no counts
    health: Health | None = None


# --------------------------------------------------------------------------- reading


def _queue(session: Session) -> dict[str, int]:
    items = reviews.ITEMS
    counts = dict.fromkeys((s.value for s in ReviewState), 0)
    for state, n in session.execute(select(items.c.state, func.count()).group_by(items.c.state)):
        counts[state] = int(n)
    return counts


def _open_overdue(session: Session, now: datetime, response: timedelta) -> int:
    """As the commander's SLA tile: pending or escalated, window still open, in the queue
    since ``response`` or longer."""
    items = reviews.ITEMS
    return int(
        session.scalar(
            select(func.count()).where(
                items.c.state.in_([s.value for s in OPEN_STATES]),
                items.c.window_end > now,
                items.c.created_at <= now - response,
            )
        )
        or 0
    )


def _live(session: Session, now: datetime, days: int) -> dict[str, tuple[int, int]] | None:
    known_until = activity.counts_known_until(session)
    if known_until is None:
        return None
    items = reviews.ITEMS
    decided = reviews.items_where(
        session,
        items.c.state.in_(DECIDED),
        items.c.window_end > now - timedelta(days=days),
        items.c.window_end <= now,
    )
    closed = closed_windows(decided, now, days, known_until + timedelta(hours=1))
    hits = activity.window_hits(
        session, [(i.grid_id, i.target, i.window_start, i.window_end) for i in closed]
    )
    out = {level: (0, 0) for level in WARNING_LEVELS}
    for row in accuracy_by_level(closed, hits):  # per model version: summed over versions
        n, came_true = out.get(row.level, (0, 0))
        out[row.level] = (n + row.n, came_true + row.came_true)
    return out


def _numbers(values: Any) -> dict[str, float]:
    if not isinstance(values, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _health(session: Session) -> Health | None:
    health, runs = RunHealthRow.__table__, ForecastRunRow.__table__
    joined = (
        select(health)
        .join(runs, runs.c.run_id == health.c.run_id)
        .where(runs.c.status == COMPLETE)
        .order_by(runs.c.issue_time.desc(), runs.c.created_at.desc())
        .limit(1)
    )
    latest = session.execute(joined).first()
    if latest is None:
        return None
    measured = session.execute(joined.where(health.c.realised_at.is_not(None))).first()
    drift = latest.drift if isinstance(latest.drift, Mapping) else {}
    targets = (measured.realised or {}).get("targets", {}) if measured is not None else {}
    ece = {
        str(t): float(v["ece"])
        for t, v in targets.items()
        if isinstance(v, Mapping) and isinstance(v.get("ece"), int | float)
    }
    share = _numbers({k: drift.get(k) for k in ("missing_share", "out_of_range_share")})
    return Health(
        status=str(latest.status),
        score_psi=_numbers(drift.get("score_psi")),
        family_psi=_numbers(drift.get("family_psi")),
        missing_share=share.get("missing_share"),
        out_of_range_share=share.get("out_of_range_share"),
        realised_ece=ece,
    )


def read_snapshot(
    session: Session, now: datetime, response: timedelta = DEFAULT_RESPONSE_TARGET
) -> Snapshot:
    """Everything `/metrics` reports, read at ``now`` (``response``: the response target of
    the open-overdue count, the service's ``RISK_RESPONSE_TARGET_MINUTES``)."""
    since = now - timedelta(days=SERVICE_DAYS)
    queued = reviews.items_where(
        session, reviews.ITEMS.c.created_at >= since, reviews.ITEMS.c.created_at < now
    )
    run = latest_run(session)
    return Snapshot(
        attempts=attempts.summary(session),
        last_issue_time=None if run is None else run.issue_time,
        queue=_queue(session),
        open_overdue=_open_overdue(session, now, response),
        service=service_levels(queued, now, since),
        live=_live(session, now, LIVE_DAYS),
        health=_health(session),
    )


# --------------------------------------------------------------------------- exposition


def _gauge(name: str, doc: str, label: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def families(snap: Snapshot) -> Iterator[Metric]:
    """The metric families of one snapshot (module docstring), in a fixed order."""
    a = snap.attempts
    runs = CounterMetricFamily(
        "risk_scoring_runs",
        "Attempts of the service's scheduled scoring by outcome (complete: a run was stored).",
        labels=["status"],
    )
    for status in attempts.STATUSES:
        runs.add_metric([status], a.counts.get(status, 0))
    yield runs
    if a.last_finished:
        yield _gauge(
            "risk_scoring_last_run_timestamp_seconds",
            "When the last scheduled scoring attempt with this outcome ended (Unix time).",
            "status",
            {k: v.timestamp() for k, v in a.last_finished.items()},
        )
    if a.last_seconds is not None:
        yield GaugeMetricFamily(
            "risk_scoring_last_run_duration_seconds",
            "Wall time of the last scheduled scoring attempt.",
            value=a.last_seconds,
        )
    yield HistogramMetricFamily(
        "risk_scoring_run_duration_seconds",
        "Wall time of the scheduled scoring attempts.",
        buckets=[
            *((floatToGoString(b), n) for b, n in zip(a.bounds, a.buckets, strict=True)),
            ("+Inf", a.count),
        ],
        sum_value=a.seconds_sum,
    )
    if snap.last_issue_time is not None:
        yield GaugeMetricFamily(
            "risk_forecast_last_issue_timestamp_seconds",
            "Issue time of the latest complete forecast run stored (Unix time).",
            value=snap.last_issue_time.timestamp(),
        )
    yield _gauge("risk_review_items", "Review items in each state.", "state", snap.queue)
    yield GaugeMetricFamily(
        "risk_review_open_overdue_items",
        "Pending or escalated warnings, window open, waiting longer than the response target.",
        value=snap.open_overdue,
    )
    s = snap.service
    yield _gauge(
        "risk_review_sla_judged",
        f"Warnings queued in the last {SERVICE_DAYS} days whose response (2 h) or completion "
        "(24 h) target can be judged.",
        "target",
        {"response": s.judged_response, "completion": s.judged_completion},
    )
    yield _gauge(
        "risk_review_sla_breaches",
        f"Warnings queued in the last {SERVICE_DAYS} days that missed the response (2 h) or "
        "completion (24 h) target.",
        "target",
        {
            "response": s.judged_response - s.responded_in_time,
            "completion": s.judged_completion - s.completed_in_time,
        },
    )
    if snap.live is not None:
        yield _gauge(
            "risk_live_warnings",
            f"Warnings whose window closed in the last {LIVE_DAYS} days, by the model's level.",
            "level",
            {k: n for k, (n, _) in snap.live.items()},
        )
        yield _gauge(
            "risk_live_warnings_came_true",
            f"Warnings whose window closed in the last {LIVE_DAYS} days with at least one "
            "event of their target, by the model's level.",
            "level",
            {k: hit for k, (_, hit) in snap.live.items()},
        )
    h = snap.health
    if h is None:
        return
    yield _gauge(
        "risk_model_health",
        "Model health of the latest complete run: 1 for its status, 0 for the others.",
        "status",
        {status: float(status == h.status) for status in {*HEALTH_STATUSES, h.status}},
    )
    if h.score_psi:
        yield _gauge(
            "risk_drift_score_psi",
            "PSI of the latest run's probabilities against the training window, per target.",
            "target",
            h.score_psi,
        )
    if h.family_psi:
        yield _gauge(
            "risk_drift_family_psi",
            "PSI of the latest run's features against the training window, per feature family.",
            "family",
            h.family_psi,
        )
    for name, value, doc in (
        ("missing_share", h.missing_share, "Share of the latest run's grids with missing inputs."),
        (
            "out_of_range_share",
            h.out_of_range_share,
            "Share of the latest run's grids with inputs outside the training range.",
        ),
    ):
        if value is not None:
            yield GaugeMetricFamily(f"risk_drift_{name}", doc, value=value)
    if h.realised_ece:
        yield _gauge(
            "risk_realised_ece",
            "Realised ECE of the latest run whose window closed and was measured, per target.",
            "target",
            h.realised_ece,
        )


class SnapshotCollector:
    """A prometheus_client collector that reads one snapshot when collected."""

    def __init__(self, read: Callable[[], Snapshot]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        yield from families(self._read())


def render(read: Callable[[], Snapshot]) -> bytes:
    """The text exposition of the snapshot ``read`` returns, from a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(read))
    return generate_latest(registry)


__all__ = [
    "DECIDED",
    "LIVE_DAYS",
    "SERVICE_DAYS",
    "Health",
    "Snapshot",
    "SnapshotCollector",
    "families",
    "read_snapshot",
    "render",
]
