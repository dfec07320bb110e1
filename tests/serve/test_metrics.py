"""``GET /metrics`` (issue 17, item 5): scraped with prometheus_client's parser after a
scripted day of review actions, scoring attempts and run health, on SQLite and PostgreSQL.

The clock is NOW. Items (grid, target, model level, in the queue since, what happened):

    a  g1 any     red     NOW-3h   nothing                      pending    response breach
    b  g2 any     orange  NOW-1h   nothing                      pending    (not judged yet)
    c  g3 theft   orange  NOW-30m  nothing                      pending    (not judged yet)
    d  g4 any     red     NOW-30h  approved +1h                 approved   completion breach
    e  g5 any     orange  NOW-5h   rejected +10m                rejected
    f  g1 theft   yellow  NOW-10h  escalated by rev +3h         escalated  response breach
    g  g2 theft   red     NOW-20h  approved, dispatched, done   completed
    h  g3 any     red     NOW-10d  approved, dispatched, done   completed  window closed, true
    i  g4 theft   orange  NOW-9d   rejected +15m                rejected   window closed, false
    j  g5 dispute yellow  NOW-4d   expired by the sweep         expired    response breach

Windows are 72 h from entering the queue. Event counts: g3 "fire" at NOW-9d (in h's window:
``any`` came true), g4 "dispute" at NOW-8d (not theft: i did not), g1 "fire" at NOW-2h (the
events known end there).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from risk.errors import ConfigError
from risk.review import approve, complete, dispatch, escalate, expire_due, reject
from risk.review import upsert_from_scoring as new_item
from risk.scopes import Scope
from risk.settings import Settings
from serve.api.metrics import scrape_token_digest
from serve.app import create_app
from serve.db import transaction
from serve.repo.attempts import record_attempt
from serve.repo.reviews import insert_item, save_item
from serve.repo.users import add_user, issue_token
from serve.tables import EventCountRow, ForecastRunRow, RunHealthRow

NOW = datetime(2024, 5, 10, 12, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)
SCRAPE_TOKEN = "s3cret-scrape-token-of-forty-characters!"
USERS = {
    "adm": "admin",
    "mon": "monitor",
    "ana": "analyst",
    "rev": "reviewer",
    "cases": "integration",
}
# name -> grid, target, level, entered the queue, actions as (what, hours after entering)
ITEMS = {
    "a": ("g1", "any", "red", NOW - 3 * H, []),
    "b": ("g2", "any", "orange", NOW - H, []),
    "c": ("g3", "theft", "orange", NOW - H / 2, []),
    "d": ("g4", "any", "red", NOW - 30 * H, [("approve", 1)]),
    "e": ("g5", "any", "orange", NOW - 5 * H, [("reject", 1 / 6)]),
    "f": ("g1", "theft", "yellow", NOW - 10 * H, [("escalate", 3)]),
    "g": ("g2", "theft", "red", NOW - 20 * H, [("approve", 0.5), ("dispatch", 1), ("complete", 5)]),
    "h": ("g3", "any", "red", NOW - 10 * D, [("approve", 1 / 3), ("dispatch", 1), ("complete", 3)]),
    "i": ("g4", "theft", "orange", NOW - 9 * D, [("reject", 0.25)]),
    "j": ("g5", "dispute", "yellow", NOW - 4 * D, [("expire", 84)]),
}


def _act(item, what: str, at: datetime):
    v = item.version
    if what == "approve":
        return approve(item, "rev", at, v)
    if what == "reject":
        return reject(item, "rev", at, v, "false_alarm")
    if what == "escalate":
        return escalate(item, "rev", at, v)
    if what == "dispatch":
        return dispatch(item, "cmd", at, v)
    if what == "complete":
        return complete(item, "cmd", at, v)
    [(new, event)] = expire_due([item], at)
    return new, event


def _seed(factory) -> dict[str, str]:
    tokens = {}
    with transaction(factory) as s:
        for name, role in USERS.items():
            add_user(s, name, role, Scope.city(), at=NOW - 30 * D)
            tokens[name] = issue_token(s, name, "api", at=NOW - D)
        for grid, target, level, at, actions in ITEMS.values():
            item, _ = new_item(
                None, grid_id=grid, target=target, window_start=at, window_end=at + 72 * H,
                prob=0.5, level=level, reasons=[], model_version="m1", at=at,
            )  # fmt: skip
            insert_item(s, item)
            for what, hours in actions:
                new, _ = _act(item, what, at + hours * H)
                save_item(s, new, item.version)
                item = new
        counts = [
            ("g3", NOW - 9 * D, "fire"),
            ("g4", NOW - 8 * D, "dispute"),
            ("g1", NOW - 2 * H, "fire"),
        ]
        s.execute(
            insert(EventCountRow.__table__),
            [{"grid_id": g, "hour": h, "category": c, "count": 1} for g, h, c in counts],
        )
        # Scheduled scoring: complete in 40 s, failed after 0.5 s, complete in 75 s.
        record_attempt(s, started_at=NOW - 50 * H, seconds=40.0, status="complete", run_id="r0")
        record_attempt(s, started_at=NOW - 26 * H, seconds=0.5, status="failed", error="OSError")
        record_attempt(s, started_at=NOW - 25 * H, seconds=75.0, status="complete", run_id="r1")
        for run, issued in (("r0", NOW - 2 * D), ("r1", NOW - D)):
            s.execute(
                insert(ForecastRunRow.__table__).values(
                    run_id=run, issue_time=issued, model_version="m1", data_fingerprint="fp",
                    created_at=issued, n_grids=5, status="complete",
                )
            )  # fmt: skip
        drift = {"score_psi": {"any": 0.05, "theft": 0.31}, "family_psi": {"history": 0.12},
                 "missing_share": 0.0, "out_of_range_share": 0.02, "grids": 5,
                 "top_features": [["hist_any_7d", 0.12]]}  # fmt: skip
        health = RunHealthRow.__table__
        s.execute(
            insert(health).values(
                run_id="r0", computed_at=NOW - 2 * D, status="ok", drift=drift, volumes={},
                breaches=[], realised={"targets": {"any": {"ece": 0.04, "n": 5}}},
                realised_at=NOW - D, realised_by="r1",
            )
        )  # fmt: skip
        s.execute(
            insert(health).values(
                run_id="r1", computed_at=NOW - D, status="alert", drift=drift, volumes={},
                breaches=[{"metric": "score_psi", "key": "theft"}],
            )
        )  # fmt: skip
    return tokens


@pytest.fixture
def seeded(db_url, factory, tmp_path):
    tokens = _seed(factory)
    clock = [NOW]
    settings = Settings(data_dir=tmp_path, database_url=db_url, metrics_token=SCRAPE_TOKEN)
    with TestClient(create_app(settings, clock=lambda: clock[0])) as c:
        yield c, tokens, clock


def scrape(client: TestClient, token: str) -> dict[tuple[str, frozenset], float]:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def labelled(samples, name: str, label: str) -> dict[str, float]:
    return {dict(k)[label]: v for (n, k), v in samples.items() if n == name}


def test_metrics_after_a_scripted_day(seeded):
    client, tokens, _ = seeded
    m = scrape(client, tokens["mon"])

    assert labelled(m, "risk_scoring_runs_total", "status") == {"complete": 2, "failed": 1}
    last = labelled(m, "risk_scoring_last_run_timestamp_seconds", "status")
    assert last == {
        "complete": (NOW - 25 * H).timestamp() + 75,
        "failed": (NOW - 26 * H).timestamp() + 0.5,
    }
    assert m[("risk_scoring_last_run_duration_seconds", frozenset())] == 75.0
    buckets = labelled(m, "risk_scoring_run_duration_seconds_bucket", "le")
    assert buckets == {"1.0": 1, "5.0": 1, "10.0": 1, "30.0": 1, "60.0": 2, "120.0": 3,
                       "300.0": 3, "600.0": 3, "1800.0": 3, "+Inf": 3}  # fmt: skip
    assert m[("risk_scoring_run_duration_seconds_count", frozenset())] == 3
    assert m[("risk_scoring_run_duration_seconds_sum", frozenset())] == 115.5
    assert m[("risk_forecast_last_issue_timestamp_seconds", frozenset())] == (NOW - D).timestamp()

    assert labelled(m, "risk_review_items", "state") == {
        "pending": 3, "escalated": 1, "approved": 1, "dispatched": 0,
        "completed": 2, "rejected": 2, "expired": 1,
    }  # fmt: skip
    assert m[("risk_review_open_overdue_items", frozenset())] == 2  # a and f
    # Queued in the last 7 days: a-g and j. Response judged for all but b and c, missed by
    # a (none yet), f (3 h) and j (never); completion judged for d (due, open) and g.
    assert labelled(m, "risk_review_sla_judged", "target") == {"response": 6, "completion": 2}
    assert labelled(m, "risk_review_sla_breaches", "target") == {"response": 3, "completion": 1}

    # Windows closed in the last 28 days: h (red, came true), i (orange), j (yellow).
    assert labelled(m, "risk_live_warnings", "level") == {"red": 1, "orange": 1, "yellow": 1}
    came = labelled(m, "risk_live_warnings_came_true", "level")
    assert came == {"red": 1, "orange": 0, "yellow": 0}

    health = labelled(m, "risk_model_health", "status")
    assert health == {"ok": 0, "warn": 0, "alert": 1, "unknown": 0}  # r1, the latest run
    assert labelled(m, "risk_drift_score_psi", "target") == {"any": 0.05, "theft": 0.31}
    assert labelled(m, "risk_drift_family_psi", "family") == {"history": 0.12}
    assert m[("risk_drift_missing_share", frozenset())] == 0.0
    assert m[("risk_drift_out_of_range_share", frozenset())] == 0.02
    assert labelled(m, "risk_realised_ece", "target") == {"any": 0.04}  # r0, measured by r1

    # Closed label sets only: nothing names a person, a grid or an item.
    names = {k for _, labels in m for k, _ in labels}
    assert names == {"status", "state", "target", "level", "family", "le"}
    values = {v for _, labels in m for _, v in labels}
    assert not values & {*USERS, "cmd", "g1", "g2", "g3", "g4", "g5", "m1", "r0", "r1"}


def test_who_may_scrape(seeded):
    client, tokens, _ = seeded
    r = client.get("/metrics")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "RISK_METRICS_TOKEN" in r.json()["error"]["message"]
    for token in ("not-a-token", SCRAPE_TOKEN[:-1]):
        r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
    for name in ("ana", "rev", "cases"):
        r = client.get("/metrics", headers={"Authorization": f"Bearer {tokens[name]}"})
        assert r.status_code == 403, name
        assert "may not view_metrics" in r.json()["error"]["message"]
    for token in (SCRAPE_TOKEN, tokens["adm"], tokens["mon"]):
        assert (
            client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
    # The monitor's token reads nothing else.
    mon = {"Authorization": f"Bearer {tokens['mon']}"}
    assert client.get("/api/v1/dashboard/kpis", headers=mon).status_code == 403
    assert client.get("/api/v1/review/items", headers=mon).status_code == 403
    assert "/metrics" not in client.get("/api/v1/openapi.json").json()["paths"]


def test_scrapes_are_cached_for_a_few_seconds(seeded, factory):
    client, _, clock = seeded
    before = scrape(client, SCRAPE_TOKEN)
    with transaction(factory) as s:
        record_attempt(s, started_at=NOW, seconds=2.0, status="failed", error="OSError")
    key = ("risk_scoring_runs_total", frozenset({("status", "failed")}))
    assert scrape(client, SCRAPE_TOKEN)[key] == before[key] == 1  # the same body, cached
    clock[0] = NOW + timedelta(seconds=5)
    assert scrape(client, SCRAPE_TOKEN)[key] == 2


def test_an_empty_service_answers_with_zeros(db_url, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=db_url, metrics_token=SCRAPE_TOKEN)
    with TestClient(create_app(settings, clock=lambda: NOW)) as c:
        m = scrape(c, SCRAPE_TOKEN)
    assert labelled(m, "risk_scoring_runs_total", "status") == {"complete": 0, "failed": 0}
    assert set(labelled(m, "risk_review_items", "state").values()) == {0}
    assert m[("risk_scoring_run_duration_seconds_count", frozenset())] == 0
    # Nothing known yet: no last run, no live accuracy, no health.
    assert not {n for n, _ in m} & {
        "risk_scoring_last_run_duration_seconds",
        "risk_forecast_last_issue_timestamp_seconds",
        "risk_live_warnings",
        "risk_model_health",
    }


def test_scrape_token_setting():
    assert scrape_token_digest(None) is None
    assert scrape_token_digest(SCRAPE_TOKEN) == hashlib.sha256(SCRAPE_TOKEN.encode()).digest()
    hashed = "sha256:" + hashlib.sha256(SCRAPE_TOKEN.encode()).hexdigest()
    assert scrape_token_digest(hashed) == scrape_token_digest(SCRAPE_TOKEN)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        scrape_token_digest("short")
    with pytest.raises(ConfigError, match="64 hex digits"):
        scrape_token_digest("sha256:abc")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        create_app(Settings(metrics_token="short"))


def test_only_the_hash_of_the_scrape_token_is_needed(db_url, tmp_path):
    hashed = "sha256:" + hashlib.sha256(SCRAPE_TOKEN.encode()).hexdigest()
    settings = Settings(data_dir=tmp_path, database_url=db_url, metrics_token=hashed)
    with TestClient(create_app(settings, clock=lambda: NOW)) as c:
        assert scrape(c, SCRAPE_TOKEN)
        bad = {"Authorization": f"Bearer {hashed}"}  # the hash itself is not the token
        assert c.get("/metrics", headers=bad).status_code == 401


def test_a_monitor_account_has_no_web_login(factory):
    with transaction(factory) as s, pytest.raises(ConfigError, match="no web login"):
        add_user(s, "prom", "monitor", Scope.city(), password="a long password")
