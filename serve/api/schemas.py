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


class ReviewItemDetail(ReviewItemOut):
    revisions: list[Revision] = []


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


class GridDetail(BaseModel):
    grid: GridOut
    latest: list[HistoryPoint]
    history: list[HistoryPoint]
    reviews: list[ReviewItemOut]
    recent_events: list[DayCount] = []  # last 28 days known to the latest run, newest first


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


class ReportIn(Body):
    client_report_id: Ident = Field(description="made on the device; a retry sends it again")
    grid_id: Ident
    outcome: PatrolOutcome
    note: FreeText | None = None
    item_ids: Annotated[list[Ident], Field(max_length=50)] = []
    at: ReportTime | None = Field(None, description="when the patrol ended; default now")


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
