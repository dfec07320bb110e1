"""Scheduled work of the service: the daily scoring run and the review-queue sweep.

* `sweep_queue` escalates pending items past the response target (default 2 h from entering
  the queue) and expires undecided items whose window has passed (`risk.review.sweep`), each
  written with a compare-and-set on its version and audited as ``system:sweep``. An item a
  person changed meanwhile is skipped (``conflicts``) and picked up by the next sweep.
* `Scheduler` decides what is due at a given moment (`run_due(now)`, no threads, so tests
  drive it with any clock) and can run itself on a daemon thread (`start` / `stop`) for the
  app's lifespan. Scoring runs once per city-local day at ``score_at`` (default 08:00): due
  from that moment on, skipped if the database already holds a complete run for that issue
  time (a restarted service does not score twice). Days the service was down are not
  back-filled. A failed scoring is retried after ``retry_after``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from risk.contract import DEFAULT_ISSUE_HOUR, DEFAULT_TZ
from risk.errors import ConfigError
from risk.review import DEFAULT_RESPONSE_TARGET, OPEN_STATES, StaleVersion, sweep
from serve.db import transaction
from serve.repo import audit, reviews, runs

SWEEP_ACTOR = "system:sweep"
DEFAULT_SWEEP_EVERY = timedelta(minutes=5)
DEFAULT_RETRY_AFTER = timedelta(minutes=15)

log = logging.getLogger(__name__)

# (issue time, now) -> anything (a ScoreSummary for the real job)
ScoreJob = Callable[[pd.Timestamp, datetime], Any]


@dataclass(frozen=True)
class SweepCounts:
    checked: int  # undecided items looked at
    escalated: int
    expired: int
    conflicts: int  # changed by someone between read and write: left for the next sweep


def sweep_queue(
    factory: sessionmaker[Session],
    now: datetime,
    response_target: timedelta = DEFAULT_RESPONSE_TARGET,
) -> SweepCounts:
    """Escalate overdue pending items and expire items whose window passed, at ``now``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ConfigError(f"now {now!r} must be timezone-aware")
    escalated = expired = conflicts = 0
    with transaction(factory) as session:
        items, _ = reviews.list_items(
            session, state=sorted(s.value for s in OPEN_STATES), limit=None
        )
        for new, event in sweep(items, now, response_target):
            try:
                reviews.save_item(session, new, new.version - 1)
            except StaleVersion:
                conflicts += 1
                continue
            audit.append_review_event(session, dataclasses.replace(event, actor=SWEEP_ACTOR))
            if event.action == "expire":
                expired += 1
            else:
                escalated += 1
    return SweepCounts(len(items), escalated, expired, conflicts)


@dataclass(frozen=True)
class JobResult:
    """One job the scheduler ran: ``kind`` is ``score`` or ``sweep``."""

    kind: str
    at: datetime
    ok: bool
    result: Any = None
    error: str = ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Runs the daily scoring job and the periodic sweep; see the module docstring.

    ``score_job(issue_time, now)`` does the scoring (e.g. `city_score_job`); None disables
    scoring (sweeps only). ``clock`` gives the current aware time to the thread loop.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        score_job: ScoreJob | None = None,
        *,
        tz: str = DEFAULT_TZ,
        score_at: time = time(DEFAULT_ISSUE_HOUR, 0),
        sweep_every: timedelta | None = DEFAULT_SWEEP_EVERY,
        response_target: timedelta = DEFAULT_RESPONSE_TARGET,
        retry_after: timedelta = DEFAULT_RETRY_AFTER,
        clock: Callable[[], datetime] = _utcnow,
        tick_seconds: float = 30.0,
    ) -> None:
        if sweep_every is not None and sweep_every <= timedelta(0):
            raise ConfigError(f"sweep_every must be positive (got {sweep_every})")
        if tick_seconds <= 0:
            raise ConfigError(f"tick_seconds must be positive (got {tick_seconds})")
        self.factory = factory
        self.score_job = score_job
        self.tz = tz
        self.score_at = score_at
        self.sweep_every = sweep_every
        self.response_target = response_target
        self.retry_after = retry_after
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.history: list[JobResult] = []
        self._scored_issue: pd.Timestamp | None = None
        self._retry_at: datetime | None = None
        self._next_sweep: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ what is due

    def issue_time_for(self, now: datetime) -> pd.Timestamp:
        """Today's issue time in the city: the local date of ``now`` at ``score_at``."""
        local = pd.Timestamp(now).tz_convert(self.tz)
        return pd.Timestamp(datetime.combine(local.date(), self.score_at), tz=self.tz).as_unit("ns")

    def _already_stored(self, issue: pd.Timestamp) -> bool:
        with self.factory() as session:
            latest = runs.latest_run(session)
        return latest is not None and pd.Timestamp(latest.issue_time) >= issue

    def _score_due(self, now: datetime) -> pd.Timestamp | None:
        if self.score_job is None:
            return None
        issue = self.issue_time_for(now)
        if pd.Timestamp(now) < issue or self._scored_issue == issue:
            return None
        if self._retry_at is not None and now < self._retry_at:
            return None
        if self._already_stored(issue):
            self._scored_issue = issue
            return None
        return issue

    def run_due(self, now: datetime | None = None) -> list[JobResult]:
        """Run whatever is due at ``now`` (default: the clock): scoring first, then the sweep
        (so the new items are in the queue the sweep looks at). Never raises for a failing
        job: the failure is logged and returned."""
        now = self.clock() if now is None else now
        if now.tzinfo is None or now.utcoffset() is None:
            raise ConfigError(f"now {now!r} must be timezone-aware")
        done: list[JobResult] = []
        with self._lock:
            issue = self._score_due(now)
            if issue is not None:
                done.append(self._run("score", now, lambda: self.score_job(issue, now)))
                if done[-1].ok:
                    self._scored_issue, self._retry_at = issue, None
                else:
                    self._retry_at = now + self.retry_after
            if self.sweep_every is not None and (
                self._next_sweep is None or now >= self._next_sweep
            ):
                done.append(
                    self._run(
                        "sweep", now, lambda: sweep_queue(self.factory, now, self.response_target)
                    )
                )
                self._next_sweep = now + self.sweep_every
            self.history.extend(done)
            del self.history[:-100]
        return done

    def _run(self, kind: str, now: datetime, fn: Callable[[], Any]) -> JobResult:
        try:
            result = fn()
        except Exception as exc:  # a job's failure must not stop the service's loop
            log.exception("scheduled %s at %s failed", kind, now.isoformat())
            return JobResult(kind, now, False, error=f"{type(exc).__name__}: {exc}")
        log.info("scheduled %s at %s done: %s", kind, now.isoformat(), result)
        return JobResult(kind, now, True, result)

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        """Run `run_due` every ``tick_seconds`` on a daemon thread until `stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="risk-scheduler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(self.tick_seconds)

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end and wait for a running job to finish (up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def city_score_job(
    *,
    factory: sessionmaker[Session],
    grids_path: str | Path,
    events_path: str | Path | None = None,
    data_dir: str | Path | None = None,
    model_dir: str | Path | None = None,
    tz: str = DEFAULT_TZ,
    calendar: str = "CN",
    dask_scheduler: str | None = None,
    **score_options: Any,
) -> ScoreJob:
    """The production scoring job: re-read and validate the city's grids file, take the events
    (`city_events`), then `serve.scoring.score` with the champion of ``data_dir`` (or
    ``model_dir``). ``score_options``: thresholds, min_level, top_percent, base_rates,
    labels_file. ``dask_scheduler`` (RISK_DASK_SCHEDULER, `risk.cluster`): each run computes
    on that cluster — ``local`` starts one for the run — and stores from here, as without."""
    from risk.cluster import dask_client
    from risk.loaders import load_grids
    from serve.scoring import score

    def job(issue_time: pd.Timestamp, now: datetime) -> Any:
        grids = load_grids(grids_path).valid
        events = city_events(factory, grids, issue_time, events_path, tz=tz)
        # the files' fingerprint, as training's; the frames' for events from the store
        paths = None if events_path is None else [grids_path, events_path]
        with dask_client(dask_scheduler, echo=log.info) as client:
            return score(
                issue_time,
                grids,
                events,
                factory=factory,
                model_dir=model_dir,
                data_dir=data_dir,
                tz=tz,
                calendar=calendar,
                data_paths=paths,
                now=now,
                client=client,
                **score_options,
            )

    return recorded(factory, job)


def recorded(factory: sessionmaker[Session], job: ScoreJob) -> ScoreJob:
    """``job``, each attempt written to ``scoring_attempts`` (`serve.repo.attempts`): its start
    (the job's ``now``), its wall time, ``complete`` with the run (a result's ``run_id``) or
    ``failed`` with the exception's class name; the exception is then raised as before.
    `/metrics` counts and times runs from these rows, the same for every worker process."""
    from time import perf_counter

    from serve.repo import attempts

    def write(now: datetime, issue: pd.Timestamp, started: float, **outcome: Any) -> None:
        try:
            with transaction(factory) as session:
                attempts.record_attempt(
                    session,
                    started_at=now,
                    seconds=perf_counter() - started,
                    issue_time=pd.Timestamp(issue).to_pydatetime(),
                    **outcome,
                )
        except Exception:  # telemetry must never hide the job's own outcome
            log.exception("could not record the scoring attempt at %s", now.isoformat())

    def run(issue_time: pd.Timestamp, now: datetime) -> Any:
        started = perf_counter()
        try:
            result = job(issue_time, now)
        except Exception as exc:
            write(now, issue_time, started, status=attempts.FAILED, error=type(exc).__name__)
            raise
        run_id = getattr(result, "run_id", None)
        write(now, issue_time, started, status=attempts.COMPLETE, run_id=run_id)
        return result

    return run


def city_events(
    factory: sessionmaker[Session],
    grids: pd.DataFrame,
    issue_time: pd.Timestamp,
    events_path: str | Path | None = None,
    *,
    tz: str = DEFAULT_TZ,
) -> pd.DataFrame:
    """The events a daily run at ``issue_time`` scores from.

    With ``events_path`` (RISK_CITY_EVENTS): that file, validated as before the event store
    (the store is not read). Without: the event store (`serve.repo.events`), only the events
    known at ``issue_time`` (occurred and reported by then, as the features require) and only
    those in ``grids``."""
    if events_path is not None:
        from risk.loaders import load_events

        return load_events(events_path, grids, tz=tz).valid
    from serve.repo.events import load_events as stored_events

    with factory() as session:
        events = stored_events(session, tz=tz, known_at=issue_time)
    known = events["grid_id"].isin(grids["grid_id"].astype(str)).to_numpy()
    return events[known].reset_index(drop=True)


__all__ = [
    "JobResult",
    "ScoreJob",
    "Scheduler",
    "SweepCounts",
    "city_events",
    "city_score_job",
    "recorded",
    "sweep_queue",
]
