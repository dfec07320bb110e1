"""Patrol suggestions for grid workers, made only from approved warnings (issue 5, item 4).

`plan_patrols` gives each worker at most ``capacity`` grids a day, only grids in their own
scope, most severe first (level, then probability). One suggestion per grid: a grid with
several approved warnings (say theft and fire_hazard) is one visit that covers them all; its
**lead** warning (highest level, then probability) sets the suggested time — the
``window_hours`` consecutive hours (wrapping past midnight) holding the largest share of the
grid's hour-of-day profile for that target. The chosen grids are then put in visiting order
by greedy nearest neighbour from the most severe one, on centroid distances in km.

Workers report back with a `PatrolOutcome`; `patrol_exposure` turns reports into per-grid,
per-day patrol exposure for later evaluation (a patrolled grid may record more events).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from risk.contract import ANY_TARGET
from risk.errors import ConfigError, ContractError, NotInScope
from risk.geometry import project_km
from risk.levels import level_rank
from risk.review import ReviewItem, ReviewState
from risk.scopes import Scope, ScopeKind

DEFAULT_CAPACITY = 5
DEFAULT_WINDOW_HOURS = 3
MAX_REPORT_AGE = timedelta(days=30)  # oldest patrol a report may describe
REPORT_CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock may run this far ahead

# category -> suggested actions as (中文, English). Unknown categories fall back to `any`.
DEFAULT_ACTIONS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "fire_hazard": (
        ("检查消防通道和疏散楼梯是否畅通", "check that escape routes and stairwells are clear"),
        (
            "走访独居老人，检查用火用电安全",
            "visit elderly residents living alone; check stoves and wiring",
        ),
        ("排查电动车违规停放充电", "look for e-bikes parked or charged indoors"),
    ),
    "theft": (
        ("提醒居民锁好门窗和车辆", "remind residents to lock doors, windows and vehicles"),
        ("检查监控探头和路灯是否正常", "check that CCTV cameras and street lights work"),
    ),
    "dispute": (
        (
            "走访近期有矛盾的楼栋，及时调解",
            "visit buildings with recent disputes and offer mediation",
        ),
        ("联系楼栋长了解邻里情况", "ask building heads how neighbours are getting on"),
    ),
    "safety_hazard": (
        ("排查楼道堆物和高空坠物隐患", "check stairwells for clutter and for falling-object risks"),
        ("检查井盖、围挡等公共设施", "check manhole covers, barriers and other public fixtures"),
    ),
    "fraud": (
        ("向老年人宣传常见诈骗手法", "brief elderly residents on common scams"),
        ("在公告栏张贴防诈骗提示", "post anti-fraud notices on the notice board"),
    ),
    "petition": (
        (
            "主动了解居民诉求并登记反馈",
            "listen to residents' concerns, record them and report back",
        ),
    ),
    ANY_TARGET: (("网格常规巡查", "routine patrol of the grid"),),
}


class PatrolOutcome(StrEnum):
    FOUND_ISSUE = "found_issue"
    NOTHING_FOUND = "nothing_found"
    COULD_NOT_VISIT = "could_not_visit"


@dataclass(frozen=True)
class PatrolReport:
    """What a grid worker reports after a suggested patrol."""

    worker_id: str
    grid_id: str
    outcome: PatrolOutcome
    at: datetime
    note: str | None = None
    item_ids: tuple[str, ...] = ()


# --------------------------------------------------------------------------- time window


def best_hours(
    profile: np.ndarray, window_hours: int = DEFAULT_WINDOW_HOURS
) -> tuple[pd.arrays.IntegerArray, np.ndarray]:
    """Start hour and share of the ``window_hours`` consecutive hours with the most weight.

    ``profile`` is ``(m, 24)`` (or ``(24,)``), non-negative. Windows wrap past midnight; ties
    go to the earliest start hour. Rows that sum to 0 have no window: start ``<NA>``, share NaN.
    """
    p = np.atleast_2d(np.asarray(profile, dtype=float))
    if p.shape[-1] != 24 or not (np.isfinite(p) & (p >= 0)).all():
        raise ConfigError(
            f"hour-of-day profile must be non-negative with 24 columns (got shape {p.shape})"
        )
    if not 1 <= window_hours <= 24:
        raise ConfigError(f"window_hours must be in 1..24 (got {window_hours})")
    sums = sum(np.roll(p, -k, axis=1) for k in range(window_hours))  # sums[:, s] = p[s..s+w-1]
    start = np.argmax(sums, axis=1)
    total = p.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = sums[np.arange(len(p)), start] / total
    hours = pd.array(start, dtype="Int64")
    hours[total <= 0] = pd.NA
    return hours, share


def hour_profiles(
    events: pd.DataFrame,
    grids: pd.DataFrame,
    targets: Iterable[str],
    smoothing: float = 1.0,
) -> dict[str, np.ndarray]:
    """Hour-of-day profile per target: ``(len(grids), 24)`` shares in grid row order.

    A grid's own counts by hour of ``occurred_at``, shrunk towards the city-wide profile of
    the target with weight ``smoothing`` events, so a grid with little history gets the city's
    shape. Pass only events known at planning time.
    """
    pos = pd.Series(np.arange(len(grids)), index=grids["grid_id"].astype(str))
    g = events["grid_id"].astype(str).map(pos)
    known = g.notna().to_numpy()
    g_idx = g.to_numpy(dtype=float)[known].astype(np.int64)
    hours = events["occurred_at"].dt.hour.to_numpy()[known]
    cats = events["category"].to_numpy()[known]
    out = {}
    for target in targets:
        sel = np.ones(len(g_idx), bool) if target == ANY_TARGET else cats == target
        counts = np.zeros((len(grids), 24))
        np.add.at(counts, (g_idx[sel], hours[sel]), 1.0)
        city = counts.sum(axis=0)
        city = city / city.sum() if city.sum() > 0 else np.full(24, 1 / 24)
        out[target] = (counts + smoothing * city) / (counts.sum(axis=1) + smoothing)[:, None]
    return out


# --------------------------------------------------------------------------- planning


def warnings_frame(items: Iterable[ReviewItem]) -> pd.DataFrame:
    """Approved review items as the frame `plan_patrols` takes (other states are left out)."""
    rows = [
        {
            "item_id": i.item_id,
            "grid_id": i.grid_id,
            "target": i.target,
            "level": i.level,
            "prob": i.prob,
            "reasons": list(i.reasons),
            "state": i.state.value,
        }
        for i in items
        if i.state is ReviewState.APPROVED
    ]
    cols = ["item_id", "grid_id", "target", "level", "prob", "reasons", "state"]
    return pd.DataFrame(rows, columns=cols)


def _worker_scope(value: Scope | Iterable[str]) -> Scope:
    return value if isinstance(value, Scope) else Scope(ScopeKind.GRIDS, frozenset(value))


def _profile_rows(
    hour_profiles: Mapping[str, np.ndarray] | None, targets: np.ndarray, pos: np.ndarray, n: int
) -> np.ndarray:
    """(m, 24) profile for each (target, grid position); zeros where no profile is known."""
    out = np.zeros((len(targets), 24))
    if not hour_profiles:
        return out
    for target in np.unique(targets):
        prof = hour_profiles.get(target, hour_profiles.get(ANY_TARGET))
        if prof is None:
            continue
        prof = np.asarray(prof, dtype=float)
        if prof.shape not in ((24,), (n, 24)):
            raise ConfigError(
                f"hour profile for target {target!r} has shape {prof.shape}; "
                f"expected (24,) or ({n}, 24) in grids row order"
            )
        sel = targets == target
        out[sel] = prof if prof.ndim == 1 else prof[pos[sel]]
    return out


def _actions(targets: list[str], table: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    zh: list[str] = []
    en: list[str] = []
    for target in targets:
        for a_zh, a_en in table.get(target, table.get(ANY_TARGET, ())):
            if a_en not in en:
                zh.append(a_zh)
                en.append(a_en)
    return zh, en


def _per_grid_lists(grid_id: pd.Series, values: pd.Series) -> list[list[Any]]:
    """Values gathered into one list per grid, grids in order of first appearance."""
    codes, _ = pd.factorize(grid_id)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return [chunk.tolist() for chunk in np.split(values.to_numpy(dtype=object)[order], bounds)]


def _scope_mask(scope: Scope, grids: pd.DataFrame, pos_of: pd.Series) -> np.ndarray:
    """`Scope.mask`, with a fast path for a grid list (the usual worker scope)."""
    if scope.kind is not ScopeKind.GRIDS:
        return scope.mask(grids)
    mask = np.zeros(len(grids), dtype=bool)
    pos = pos_of.reindex(list(scope.values)).dropna().to_numpy(dtype=np.int64)
    mask[pos] = True
    return mask


def visiting_order(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy nearest neighbour from point 0: the order of visits and each leg's length (km).

    Ties go to the lower index. The first leg is 0.
    """
    n = len(x)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    order = [0] if n else []
    legs = [0.0] if n else []
    left = np.ones(n, bool)
    if n:
        left[0] = False
    while left.any():
        here = order[-1]
        cand = np.where(left, d[here], np.inf)
        nxt = int(np.argmin(cand))
        order.append(nxt)
        legs.append(float(d[here, nxt]))
        left[nxt] = False
    return np.asarray(order, dtype=np.int64), np.asarray(legs)


SUGGESTION_COLUMNS = [
    "worker_id",
    "visit_order",
    "grid_id",
    "target",
    "targets",
    "level",
    "prob",
    "item_ids",
    "start_hour",
    "end_hour",
    "window",
    "window_share",
    "reasons",
    "actions_zh",
    "actions_en",
    "leg_km",
]


def plan_patrols(
    approved_warnings: pd.DataFrame,
    grids: pd.DataFrame,
    workers: Mapping[str, Scope | Iterable[str]],
    capacity: int = DEFAULT_CAPACITY,
    actions_table: Mapping[str, Any] | None = None,
    hour_profiles: Mapping[str, np.ndarray] | None = None,
    window_hours: int = DEFAULT_WINDOW_HOURS,
) -> pd.DataFrame:
    """One day's patrol suggestions, one row per (worker, grid), in each worker's visiting order.

    ``approved_warnings``: columns grid_id, target, level, prob (+ item_id, reasons, state);
    with a ``state`` column only ``approved`` rows are used. ``grids``: the validated grids
    frame (grid_id, centroid_lon, centroid_lat, and street_id/community_id for such scopes).
    ``workers``: worker id → their scope, or their list of grid ids. ``hour_profiles``:
    target → ``(len(grids), 24)`` (grids row order) or ``(24,)``; ``any`` is the fallback.
    Columns: `SUGGESTION_COLUMNS`; start/end hour are ``<NA>`` when no profile is known.
    """
    if capacity < 1:
        raise ConfigError(f"patrol capacity must be at least 1 grid a day (got {capacity})")
    table = DEFAULT_ACTIONS if actions_table is None else actions_table
    w = approved_warnings
    missing = [c for c in ("grid_id", "target", "level", "prob") if c not in w.columns]
    if missing:
        raise ContractError(
            "approved warnings lack a column",
            field=missing[0],
            fix="pass warnings_frame(items) or a frame with grid_id, target, level, prob",
        )
    if "state" in w.columns:
        w = w[w["state"].astype(str) == ReviewState.APPROVED.value]
    w = w.copy()
    if "item_id" not in w:
        w["item_id"] = None
    if "reasons" not in w:
        w["reasons"] = [[] for _ in range(len(w))]
    w["grid_id"] = w["grid_id"].astype(str)
    pos_of = pd.Series(np.arange(len(grids)), index=grids["grid_id"].astype(str))
    unknown = ~w["grid_id"].isin(pos_of.index)
    if unknown.any():
        raise ContractError(
            "warning names a grid that is not in the grids frame",
            field="grid_id",
            value=w.loc[unknown, "grid_id"].iloc[0],
            fix="plan with the same grids the warnings were scored on",
        )
    if w.empty:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS)
    w["rank"] = level_rank(w["level"].to_numpy(dtype=object))
    w = w.sort_values(["rank", "prob", "grid_id", "target"], ascending=[False, False, True, True])

    # One row per grid: the lead warning plus everything the visit covers.
    w["reason_entry"] = [
        {"target": t, "reasons": list(r)} for t, r in zip(w["target"], w["reasons"], strict=True)
    ]
    lead = w.drop_duplicates("grid_id").set_index("grid_id")[["target", "level", "prob"]]
    for column, source in (
        ("targets", "target"),
        ("item_ids", "item_id"),
        ("reasons", "reason_entry"),
    ):
        lead[column] = _per_grid_lists(w["grid_id"], w[source])  # still most severe first
    lead_pos = pos_of.loc[lead.index].to_numpy()
    start, share = best_hours(
        _profile_rows(hour_profiles, lead["target"].to_numpy(), lead_pos, len(grids)), window_hours
    )
    lead["start_hour"] = start
    lead["end_hour"] = (lead["start_hour"] + window_hours) % 24
    lead["window_share"] = share

    lon0, lat0 = grids["centroid_lon"].mean(), grids["centroid_lat"].mean()
    gx, gy = project_km(
        grids["centroid_lon"].to_numpy(), grids["centroid_lat"].to_numpy(), lon0, lat0
    )

    # Per warned grid, once: actions and the window label.
    acts = [_actions(t, table) for t in lead["targets"]]
    lead["actions_zh"] = [zh for zh, _ in acts]
    lead["actions_en"] = [en for _, en in acts]
    lead["window"] = [
        None if pd.isna(a) else f"{int(a):02d}:00-{int(b):02d}:00"
        for a, b in zip(lead["start_hour"], lead["end_hour"], strict=True)
    ]
    lead = lead.reset_index()

    picks: list[np.ndarray] = []
    who: list[str] = []
    orders: list[np.ndarray] = []
    leg_km: list[np.ndarray] = []
    for worker_id, scope_value in workers.items():
        in_scope = _scope_mask(_worker_scope(scope_value), grids, pos_of)
        mine = np.flatnonzero(in_scope[lead_pos])[:capacity]
        if mine.size == 0:
            continue
        order, legs = visiting_order(gx[lead_pos[mine]], gy[lead_pos[mine]])
        picks.append(mine[order])
        who.extend([worker_id] * mine.size)
        orders.append(np.arange(1, mine.size + 1))
        leg_km.append(legs)
    if not picks:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS)
    out = lead.iloc[np.concatenate(picks)].reset_index(drop=True)
    out["worker_id"] = who
    out["visit_order"] = np.concatenate(orders)
    out["leg_km"] = np.concatenate(leg_km)
    out["prob"] = out["prob"].astype(float)
    return out[SUGGESTION_COLUMNS]


# --------------------------------------------------------------------------- outcomes


def check_report_time(at: datetime, now: datetime, field: str = "at") -> None:
    """A report ends a patrol that happened: not later than ``now`` (plus a phone's clock
    skew, `REPORT_CLOCK_SKEW`) and not older than `MAX_REPORT_AGE` (a phone keeps unsent
    reports for days, not months). `ContractError` on ``field`` otherwise."""
    now = now.astimezone(at.tzinfo)  # both shown in the report's zone
    if at > now + REPORT_CLOCK_SKEW:
        raise ContractError(
            f"the report time is after now ({now.isoformat()})",
            field=field,
            value=at.isoformat(),
            fix=f"send when it happened (or leave '{field}' out for now); check the phone's clock",
        )
    if at < now - MAX_REPORT_AGE:
        raise ContractError(
            f"the report time is more than {MAX_REPORT_AGE.days} days before now "
            f"({now.isoformat()})",
            field=field,
            value=at.isoformat(),
            fix=f"report within {MAX_REPORT_AGE.days} days; check the phone's date",
        )


def record_outcome(
    worker_id: str,
    scope: Scope | Iterable[str],
    grid: Mapping[str, Any],
    outcome: PatrolOutcome | str,
    at: datetime,
    note: str | None = None,
    item_ids: Iterable[str] = (),
    *,
    now: datetime | None = None,
) -> PatrolReport:
    """A worker's report on one grid; the grid must be in their own scope. With ``now``, the
    report time must also be plausible (`check_report_time`)."""
    s = _worker_scope(scope)
    if not s.covers(grid):
        raise NotInScope(f"worker {worker_id!r} may not report on grid {grid.get('grid_id')!r}")
    try:
        parsed = PatrolOutcome(outcome)
    except ValueError:
        raise ConfigError(
            f"unknown patrol outcome {outcome!r}; accepted: "
            + ", ".join(o.value for o in PatrolOutcome)
        ) from None
    if at.tzinfo is None:
        raise ConfigError(f"report time must be timezone-aware (got {at!r})")
    if now is not None:
        check_report_time(at, now)
    return PatrolReport(worker_id, str(grid["grid_id"]), parsed, at, note, tuple(item_ids))


def patrol_exposure(reports: Iterable[PatrolReport], tz: str) -> pd.DataFrame:
    """Per grid and local day: visits made (found_issue / nothing_found), issues found, misses."""
    rows = [
        {
            "grid_id": r.grid_id,
            "date": pd.Timestamp(r.at).tz_convert(tz).date(),
            "visited": r.outcome is not PatrolOutcome.COULD_NOT_VISIT,
            "found_issue": r.outcome is PatrolOutcome.FOUND_ISSUE,
            "could_not_visit": r.outcome is PatrolOutcome.COULD_NOT_VISIT,
        }
        for r in reports
    ]
    cols = ["grid_id", "date", "visits", "issues_found", "could_not_visit"]
    if not rows:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(rows)
    out = frame.groupby(["grid_id", "date"], sort=True)[
        ["visited", "found_issue", "could_not_visit"]
    ].sum()
    out.columns = ["visits", "issues_found", "could_not_visit"]
    return out.reset_index().astype({"visits": int, "issues_found": int, "could_not_visit": int})


__all__ = [
    "DEFAULT_ACTIONS",
    "PatrolOutcome",
    "PatrolReport",
    "best_hours",
    "hour_profiles",
    "patrol_exposure",
    "plan_patrols",
    "check_report_time",
    "record_outcome",
    "visiting_order",
    "warnings_frame",
]
