"""Request and response bodies (pydantic). Strings that reach the database are bounded and free
of control characters, so no input can make the database itself refuse a query (HTTP 500)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from risk.patrol import PatrolOutcome
from risk.review import RejectReason, ReviewItem

Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
FreeText = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
Level = Literal["blue", "yellow", "orange", "red"]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
T = TypeVar("T")


def _in_range(value: datetime) -> datetime:
    """Aware, and within years 1970–2200 once in UTC (no overflow further down)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range") from None
    if not 1970 <= utc.year <= 2200:
        raise ValueError("time out of range (1970–2200)")
    return utc


ReportTime = Annotated[AwareDatetime, AfterValidator(_in_range)]


class Body(BaseModel):
    """A request body: an unknown field is a 422 naming it, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    total: int
    limit: int
    offset: int
    items: list[T]


# --------------------------------------------------------------------------- auth


class ScopeOut(BaseModel):
    kind: str
    values: list[str]


class Me(BaseModel):
    username: str
    role: str
    scope: ScopeOut
    tz: str  # the city's time zone: pages show times in it
    response_target_minutes: int  # a waiting warning escalates this long after it was created


class LoginIn(Body):
    username: Ident
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class TokenOut(BaseModel):
    token: str  # shown once: only its hash is stored
    expires_at: datetime


# --------------------------------------------------------------------------- review


class ReviewItemOut(BaseModel):
    item_id: str
    grid_id: str
    target: str
    window_start: datetime
    window_end: datetime
    level: str
    original_level: str
    prob: float
    reasons: list[Any]
    model_version: str
    created_at: datetime
    updated_at: datetime
    state: str
    version: int
    revision: int
    expected_count: float | None = None
    run_id: str | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    reject_reason: str | None = None
    reject_text: str | None = None
    escalated_by: str | None = None
    escalated_at: datetime | None = None
    note: str | None = None
    dispatched_by: str | None = None
    dispatched_at: datetime | None = None
    completed_at: datetime | None = None
    follows: str | None = Field(
        None, description="the decided warning this one re-raises at a higher level"
    )

    @classmethod
    def of(cls, item: ReviewItem) -> ReviewItemOut:
        return cls.model_validate(item.to_dict())


class Revision(BaseModel):
    revision: int
    at: datetime
    window_start: datetime | None = None  # the window this revision forecast
    prob: float
    level: str
    model_version: str
    run_id: str | None = None


class ItemPatrolReport(BaseModel):
    """A patrol report that answered a review item: what the patrol found, and when."""

    at: datetime
    outcome: str


class ReviewItemDetail(ReviewItemOut):
    revisions: list[Revision] = []
    patrol_reports: list[ItemPatrolReport] = []  # newest first (issue 16, item 3)


class ApproveIn(Body):
    expected_version: Version
    level: Level | None = Field(None, description="approve at another level (adjusts it)")
    note: FreeText | None = None


class RejectIn(Body):
    expected_version: Version
    reason: RejectReason
    text: FreeText | None = Field(None, description="required when reason is 'other'")


class EscalateIn(Body):
    expected_version: Version
    note: FreeText | None = None


class AdjustIn(Body):
    expected_version: Version
    level: Level


class ClaimIn(Body):
    expected_version: Version | None = None
    lease_minutes: Annotated[int, Field(ge=1, le=480)] = 30


class ReleaseIn(Body):
    expected_version: Version


class AssignIn(Body):
    expected_version: Version
    assignee: Ident = Field(description="an active reviewer whose scope covers the item's grid")
    lease_minutes: Annotated[int, Field(ge=1, le=480)] = 60


class VersionIn(Body):
    expected_version: Version


class BulkTarget(Body):
    item_id: Ident
    expected_version: Version


class BulkIn(Body):
    action: Literal["approve", "reject", "escalate", "adjust_level", "release"]
    items: Annotated[list[BulkTarget], Field(min_length=1, max_length=500)]
    level: Level | None = None
    reason: RejectReason | None = None
    text: FreeText | None = None
    note: FreeText | None = None


class BulkResultOut(BaseModel):
    item_id: str
    ok: bool
    code: str
    message: str = ""
    item: ReviewItemOut | None = None


class BulkOut(BaseModel):
    succeeded: int
    failed: int
    results: list[BulkResultOut]


class VerdictRow(BaseModel):
    key: str | None
    decided: int
    agree_rate: float
    adjusted_rate: float
    rejected_rate: float
    override_rate: float


class ReviewStats(BaseModel):
    by_reviewer: list[VerdictRow]
    by_model_version: list[VerdictRow]


class LiveAccuracyRow(BaseModel):
    model_version: str
    level: str  # the model's level
    n: int  # warnings whose window closed in the period
    came_true: int
    precision: float | None


class LiveAccuracy(BaseModel):
    days: int
    rows: list[LiveAccuracyRow]


# --------------------------------------------------------------------------- forecasts and grids


class RankedRow(BaseModel):
    grid_id: str
    target: str
    level: str
    prob: float
    expected_count: float | None = None
    reasons: list[Any] = []
    item_id: str | None = None
    state: str | None = None
    version: int | None = None  # the item's version, for dispatch and complete
    window_start: datetime | None = None
    window_end: datetime | None = None
    prev_prob: float | None = None  # the same grid and target in the run before


class RankedPage(Page[RankedRow]):
    source: Literal["forecasts", "approved_warnings"]
    run_id: str | None = None
    issue_time: datetime | None = None


class GridOut(BaseModel):
    grid_id: str
    community_id: str
    street_id: str
    grid_type: str | None = None
    centroid_lon: float | None = None
    centroid_lat: float | None = None


class HistoryPoint(BaseModel):
    run_id: str
    issue_time: datetime
    model_version: str
    target: str
    prob: float
    expected_count: float | None = None
    level: str
    reasons: list[Any] = []


class DayCount(BaseModel):
    day: str  # YYYY-MM-DD, city-local
    category: str
    count: int


class FieldPatrolReport(BaseModel):
    """A patrol report on a grid's page: the worker as the review history names people (the
    username), and the note only for a caller who may read it (else None)."""

    at: datetime
    outcome: str
    worker: str
    note: str | None = None


class FieldEvent(BaseModel):
    """An event a grid worker or a patrol reported (``source`` grid_worker or patrol)."""

    occurred_at: datetime
    category: str
    source: str
    note: str | None = None


class GridDetail(BaseModel):
    grid: GridOut
    latest: list[HistoryPoint]
    history: list[HistoryPoint]
    reviews: list[ReviewItemOut]
    recent_events: list[DayCount] = []  # last 28 days known to the latest run, newest first
    # issue 16, item 3: the last 30 days from the field, newest first, at most 50 each
    patrol_reports: list[FieldPatrolReport] = []
    field_events: list[FieldEvent] = []


class MapFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class RiskMap(BaseModel):
    """GeoJSON of the caller's grids; properties grid_id, community_id, street_id, level,
    prob, target, item_id, state (level null: nothing to show for this role)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    source: Literal["forecasts", "approved_warnings", "review_queue"]
    run_id: str | None = None
    issue_time: datetime | None = None
    features: list[MapFeature]


class LastRun(BaseModel):
    run_id: str
    issue_time: datetime
    model_version: str


class Kpis(BaseModel):
    pending: int  # pending + escalated warnings in scope
    escalated: int
    sla_breaches: int  # pending or escalated past the response target
    approved_open: int  # approved or dispatched, window still open
    hit_rate_last_week: float | None  # approved warnings whose window closed in the last 7 days
    hit_rate_n: int  # ... and how many such warnings (events known to the latest run)
    red_came_true_4w: float | None = None  # model-red warnings closed in 28 days that came true
    red_n_4w: int = 0  # ... and how many such warnings
    # warnings queued in the last `service_days` days (risk.service_levels)
    response_2h_rate: float | None = None  # first human action within 2 h
    timeout_rate: float | None = None  # no human action within 2 h
    completion_24h_rate: float | None = None  # approved and completed within 24 h
    closure_rate: float | None = None  # approved and completed at all (24 h passed)
    service_days: int = 7
    last_run: LastRun | None


class RollupRowOut(BaseModel):
    """One street, community or grid of the roll-up (`risk.rollup`): warnings queued in the
    period by state now, breaches of the 2 h / 24 h targets, and the hit rate of approved
    warnings whose window closed in the period (``hits / closed``)."""

    key: str  # the street, community or grid id ("" on the total row)
    street_id: str
    community_id: str | None
    grids: int
    pending: int  # pending or escalated
    approved: int
    dispatched: int
    completed: int
    breaches: int
    closed: int
    hits: int
    hit_rate: float | None


class Rollup(BaseModel):
    level: Literal["street", "community", "grid"]
    parent: str | None
    days: int
    since: datetime
    rows: list[RollupRowOut]
    total: RollupRowOut


class Outlines(BaseModel):
    """The caller's grids dissolved: one feature per street (properties street_id) and per
    community (community_id, street_id)."""

    streets: list[MapFeature]
    communities: list[MapFeature]


# --------------------------------------------------------------------------- patrols


class ReportedToday(BaseModel):
    """The worker's latest report on the grid today, as the server holds it."""

    outcome: str
    at: datetime
    note: str | None = None


class Suggestion(BaseModel):
    worker_id: str
    visit_order: int
    grid_id: str
    target: str
    targets: list[str]
    level: str
    prob: float
    item_ids: list[str | None]
    start_hour: int | None = None
    end_hour: int | None = None
    window: str | None = None
    window_share: float | None = None
    reasons: list[Any]
    actions_zh: list[str]
    actions_en: list[str]
    leg_km: float
    reported: ReportedToday | None = None


class PatrolsToday(BaseModel):
    date: str
    suggestions: list[Suggestion]
    waiting_review: int = Field(
        0, description="warnings in the caller's grids still waiting for a reviewer's decision"
    )
    categories: list[str] = Field(
        [], description="the categories a grid worker may report an event in (POST /worker/events)"
    )


class ReportIn(Body):
    client_report_id: Ident = Field(description="made on the device; a retry sends it again")
    grid_id: Ident
    outcome: PatrolOutcome
    note: FreeText | None = None
    item_ids: Annotated[list[Ident], Field(max_length=50)] = []
    at: ReportTime | None = Field(None, description="when the patrol ended; default now")
    category: Ident | None = Field(
        None,
        description="found_issue only: what kind of issue (PatrolsToday.categories); default "
        "the answered warnings' category, else 'other'",
    )


class ReportOut(BaseModel):
    client_report_id: str
    worker: str
    grid_id: str
    outcome: str
    note: str | None = None
    item_ids: list[str]
    reported_at: datetime
    received_at: datetime
    created: bool
    event_id: str | None = Field(None, description="found_issue: the event it became")


class WorkerEventIn(Body):
    """An event a grid worker saw in one of their own grids (issue 16, item 2)."""

    client_event_id: Ident = Field(description="made on the device; a retry sends it again")
    grid_id: Ident
    category: Ident = Field(description="one of PatrolsToday.categories")
    occurred_at: ReportTime | None = Field(None, description="when it happened; default now")
    note: FreeText | None = None


class WorkerEventOut(BaseModel):
    client_event_id: str
    event_id: str
    grid_id: str
    category: str
    source: str
    occurred_at: datetime
    reported_at: datetime
    note: str | None = None
    created: bool = Field(description="false: a retry, answered with the event stored first")


# --------------------------------------------------------------------------- models


class GateOut(BaseModel):
    name: str
    passed: bool
    detail: str


class ModelVersionOut(BaseModel):
    version: int
    aliases: list[str]
    created: datetime
    run_id: str
    gates_passed: bool | None
    gate_results: list[GateOut]
    approved_by: str | None = None
    approved_at: str | None = None
    proposed_by: str | None = None


class ModelCard(BaseModel):
    version: int
    markdown: str
    html: str
    health: list[CardHealthMark] = Field(
        [], description="scoring runs of this version past a health threshold, newest first"
    )


class PromoteIn(Body):
    approved_by: Ident | None = Field(None, description="defaults to the admin's username")


class PromotionOut(BaseModel):
    version: int
    previous_champion: int | None
    approved_by: str
    approved_at: str
    gate_results: list[GateOut]


# --------------------------------------------------------------------------- audit and health


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    model_version: str | None = None
    score: dict[str, Any] | None = None
    prev_hash: str
    hash: str
    key_id: str | None = Field(None, description="audit key fingerprint; null: before keying")


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    unkeyed: int = Field(0, description="checked entries written before the chain was keyed")


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


# --------------------------------------------------------------------------- events

# Event values arrive as text (times ISO 8601, as in a CSV): the contract's validation checks
# them row by row (`serve.intake`), so a bad value rejects its row, not the batch.
EventText = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


class EventIn(Body):
    """One event (DESIGN §3); never anything about a person."""

    event_id: EventText | None = Field(
        None, description="the sender's id: a retry sends the same id (absent: made from the row)"
    )
    occurred_at: EventText | None = Field(None, description="ISO 8601; naive = city time")
    reported_at: EventText | None = Field(None, description="ISO 8601; default occurred_at")
    category: EventText | None = None
    grid_id: EventText | None = Field(None, description="or lon + lat (WGS84 degrees)")
    lon: float | EventText | None = None
    lat: float | EventText | None = None
    source: EventText | None = None
    severity: int | EventText | None = Field(None, description="1 to 5")


class EventsIn(Body):
    events: Annotated[list[EventIn], Field(min_length=1)] = Field(
        description="at most RISK_EVENTS_BATCH_MAX (1,000) events per request"
    )


class EventFieldOut(BaseModel):
    field: str
    message: str


class EventResultOut(BaseModel):
    index: int = Field(description="position in the request's events (0 = first)")
    event_id: str | None
    status: Literal["stored", "duplicate", "conflict", "rejected"]
    reason: str | None = Field(None, description="why rejected (a contract reason) or conflict")
    message: str = ""
    fields: list[EventFieldOut] = []


class EventsOut(BaseModel):
    batch: str = Field(description="the batch's id: the object of its audit entry")
    received: int
    stored: int
    duplicates: int
    conflicts: int
    rejected: int
    adjusted: dict[str, int] = Field(
        default_factory=dict,
        description="stored events whose wall time, given without an offset, daylight saving "
        "made impossible (`dst_nonexistent_shifted`: moved to the end of the gap) or repeated "
        "(`dst_ambiguous_as_standard`: read as standard time); send offsets to avoid both",
    )
    results: list[EventResultOut]


# --------------------------------------------------------------------------- model health (issue 17)


class HealthBreachOut(BaseModel):
    metric: Literal["score_psi", "family_psi", "missing_share", "out_of_range_share", "ece"]
    key: str | None = Field(description="the target or the feature family")
    value: float
    severity: Literal["warn", "alert"]
    threshold: float
    run_id: str | None = Field(None, description="the run measured, when an earlier one (ECE)")
    text: str


class HealthLevelOut(BaseModel):
    n: int = Field(description="grids given this level whose window has closed")
    came_true: int
    precision: float | None


class HealthRealisedOut(BaseModel):
    measured_by: str | None = Field(description="the later run that knew the window's events")
    ece: dict[str, float | None] = Field(description="per target")
    n: dict[str, int] = Field(description="grids per target")
    levels: dict[str, HealthLevelOut] = Field(description="per model level, all targets")


class HealthRunOut(BaseModel):
    run_id: str
    issue_time: datetime
    model_version: str
    status: Literal["ok", "warn", "alert", "unknown"]
    score_psi: dict[str, float] = Field(description="per target; empty without a reference")
    family_psi: dict[str, float] = Field(description="per feature family: its largest PSI")
    missing_share: float | None
    out_of_range_share: float | None
    features_checked: int | None
    top_features: list[tuple[str, float]]
    volumes: dict[str, int] = Field(description="events of the last 7 days per source")
    realised: HealthRealisedOut | None
    breaches: list[HealthBreachOut]


class HealthLimitOut(BaseModel):
    warn: float
    alert: float


class ReliabilityBinOut(BaseModel):
    n: int
    mean_prob: float
    observed: float


class ReliabilityOut(BaseModel):
    run_id: str
    issue_time: datetime
    targets: dict[str, list[ReliabilityBinOut]]


class VersionHealthOut(BaseModel):
    warn: int = Field(description="runs of this version marked warn")
    alert: int
    last_flagged: datetime | None


class ExposureSegmentOut(BaseModel):
    grids: int
    visits: int
    visits_per_grid_day: float
    share_of_visits: float | None = Field(description="null when there was no visit")


class PatrolExposureOut(BaseModel):
    """Patrol visits per grid type and street (issue 17, item 2): city-wide aggregates."""

    start: str
    end: str
    days: int
    grids: int
    visits: int
    grids_visited: int
    visits_per_grid_day: float | None
    by_grid_type: dict[str, ExposureSegmentOut]
    by_street: dict[str, ExposureSegmentOut]


class ModelHealth(BaseModel):
    status: Literal["ok", "warn", "alert", "unknown"] | None = Field(
        description="the latest run's; null before any run with a health record"
    )
    latest: HealthRunOut | None
    runs: list[HealthRunOut] = Field(description="oldest first")
    thresholds: dict[str, HealthLimitOut]
    ece_min_rows: int
    reliability: ReliabilityOut | None = Field(
        description="reliability bins of the latest run whose window has closed"
    )
    versions: dict[str, VersionHealthOut] = Field(description="model versions with flagged runs")


class CardHealthMark(BaseModel):
    run_id: str
    issue_time: datetime
    status: Literal["warn", "alert"]
    summary: list[str]
