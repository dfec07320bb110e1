"""The commander's screen: risk map, KPI tiles, ranked-page cache, trends, recent events."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from risk.settings import Settings
from serve.app import create_app
from serve.db import make_engine, session_factory, transaction
from serve.repo import activity, audit
from serve.repo.runs import RunInfo, store_run
from tests.serve.api_seed import NOW, T0, WINDOW, bearer, client, forecasts, seed


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        yield c, s


@contextmanager
def clocked(url, data_dir, clock):
    """A client whose clock is ``clock[0]`` (tests move it)."""
    app = create_app(Settings(data_dir=data_dir, database_url=url), clock=lambda: clock[0])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def get(c, s, who, path):
    return c.get(f"/api/v1{path}", headers=bearer(s.tokens[who]))


def write(url, fn):
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            fn(session)
    finally:
        engine.dispose()


def events(rows):
    """Contract-like events: (grid, category, occurred_at, reported_at)."""
    frame = pd.DataFrame(rows, columns=["grid_id", "category", "occurred_at", "reported_at"])
    for col in ("occurred_at", "reported_at"):
        frame[col] = pd.to_datetime(frame[col]).dt.tz_convert("Asia/Shanghai")
    return frame


def levels(fc):
    return {f["properties"]["grid_id"]: f["properties"]["level"] for f in fc["features"]}


def test_map_shows_each_role_what_it_may_see(api):
    c, s = api
    ana = get(c, s, "ana", "/map").json()
    # worst of (any, theft) per grid in run r1: see api_seed.forecasts()
    assert (ana["source"], ana["run_id"]) == ("forecasts", "r1")
    assert levels(ana) == {"g1": "blue", "g2": "yellow", "g3": "orange", "g4": "red", "g5": "red"}
    g1 = next(f for f in ana["features"] if f["properties"]["grid_id"] == "g1")
    assert g1["geometry"]["type"] == "Polygon" and len(g1["geometry"]["coordinates"][0]) == 5
    only_any = get(c, s, "ana", "/map?target=theft").json()
    assert levels(only_any)["g5"] == "red" and levels(only_any)["g4"] == "orange"

    cmd = get(c, s, "cmd", "/map").json()  # community c2 = g3; approved g3/any is orange
    assert cmd["source"] == "approved_warnings"
    assert [(f["properties"]["grid_id"], f["properties"]["level"], f["properties"]["state"])
            for f in cmd["features"]] == [("g3", "orange", "approved")]  # fmt: skip

    rev = get(c, s, "rev", "/map").json()  # street s1 = g1, g2, g3; waiting items only
    assert rev["source"] == "review_queue"
    assert levels(rev) == {"g1": "red", "g2": "orange", "g3": "orange"}
    assert get(c, s, "w1", "/map").status_code == 403


def test_kpis_count_waiting_breached_and_open_warnings_in_scope(db_url, tmp_path):
    s = seed(db_url)
    clock = [NOW]
    with clocked(db_url, tmp_path, clock) as c:
        k = get(c, s, "cmd", "/dashboard/kpis").json()
        # g3: release_me + cmd_escalates waiting (created T0, target 2 h), approved_g3 open
        assert k == {"pending": 2, "escalated": 0, "sla_breaches": 0, "approved_open": 1,
                     "hit_rate_last_week": None, "hit_rate_n": 0,
                     "red_came_true_4w": None, "red_n_4w": 0,
                     "response_2h_rate": 1.0, "timeout_rate": 0.0,
                     "completion_24h_rate": None, "closure_rate": None, "service_days": 7,
                     "last_run": {"run_id": "r1", "issue_time": "2024-05-01T00:00:00Z",
                                  "model_version": "m1"}}  # fmt: skip
        clock[0] = T0 + timedelta(hours=2)  # exactly at the response target: breached
        late = get(c, s, "cmd", "/dashboard/kpis").json()
        assert late["sla_breaches"] == 2
        # approved_g3 was decided in time; the two still waiting at 2 h are timeouts now
        assert late["response_2h_rate"] == pytest.approx(1 / 3)
        assert late["timeout_rate"] == pytest.approx(2 / 3)
        city = get(c, s, "adm", "/dashboard/kpis").json()
        assert (city["pending"], city["approved_open"]) == (9, 3)
        assert get(c, s, "w1", "/dashboard/kpis").status_code == 403


def test_hit_rate_counts_approved_windows_closed_last_week_with_an_event(db_url, tmp_path):
    s = seed(db_url)
    later = T0 + WINDOW + timedelta(hours=8)
    ev = events([
        ("g1", "theft", T0 + timedelta(hours=5), T0 + timedelta(hours=6)),  # in g1's window
        ("g4", "theft", T0 - timedelta(hours=2), T0 - timedelta(hours=1)),  # before g4's
        ("g3", "fire", T0 + timedelta(hours=10), later + timedelta(hours=1)),  # reported late
        ("g5", "theft", T0 + WINDOW + timedelta(hours=3), T0 + WINDOW + timedelta(hours=3)),
    ])  # fmt: skip
    write(db_url, lambda session: activity.replace_event_counts(session, ev, pd.Timestamp(later)))
    with clocked(db_url, tmp_path, [later]) as c:
        k = get(c, s, "adm", "/dashboard/kpis").json()
    # approved g1, g3, g4 (any) all closed: only g1 had an event known at `later`
    assert k["hit_rate_n"] == 3
    assert k["hit_rate_last_week"] == pytest.approx(1 / 3)
    # the model's red warnings (approved_g1) came true; every decided window is judged
    assert (k["red_came_true_4w"], k["red_n_4w"]) == (1.0, 1)


def test_live_accuracy_per_model_version_and_level(db_url, tmp_path):
    s = seed(db_url)
    later = T0 + WINDOW + timedelta(hours=8)
    ev = events([
        ("g1", "theft", T0 + timedelta(hours=5), T0 + timedelta(hours=6)),
        ("g5", "theft", T0 + WINDOW + timedelta(hours=3), T0 + WINDOW + timedelta(hours=3)),
    ])  # fmt: skip
    # events are known past the windows' end, so the windows can be judged
    write(db_url, lambda session: activity.replace_event_counts(session, ev, pd.Timestamp(later)))
    with clocked(db_url, tmp_path, [later]) as c:
        page = get(c, s, "ana", "/review/live-accuracy").json()
        short = get(c, s, "ana", "/review/live-accuracy?days=1").json()
        worker = get(c, s, "w1", "/review/live-accuracy")
        bad = get(c, s, "ana", "/review/live-accuracy?days=0")
    # decided: approved g1 (red, any: the g1 theft), g3 and g4 (orange), rejected g2 (orange)
    assert page == {"days": 28, "rows": [
        {"model_version": "m1", "level": "red", "n": 1, "came_true": 1, "precision": 1.0},
        {"model_version": "m1", "level": "orange", "n": 3, "came_true": 0, "precision": 0.0},
    ]}  # fmt: skip
    assert short == {"days": 1, "rows": page["rows"]}  # the windows closed 8 hours before
    assert (worker.status_code, bad.status_code) == (403, 422)


def test_grid_page_lists_recent_event_counts_per_local_day(db_url, tmp_path):
    s = seed(db_url)
    ev = events([
        ("g1", "theft", T0 - timedelta(hours=1), T0 - timedelta(hours=1)),   # 05-01 07:00 local
        ("g1", "theft", T0 - timedelta(hours=9), T0 - timedelta(hours=9)),   # 04-30 23:00 local
        ("g1", "dispute", T0 - timedelta(hours=2), T0 - timedelta(hours=2)),
        ("g1", "theft", T0 - timedelta(days=40), T0 - timedelta(days=40)),   # too old
        ("g2", "theft", T0 - timedelta(hours=1), T0 - timedelta(hours=1)),   # another grid
    ])  # fmt: skip
    write(db_url, lambda session: activity.replace_event_counts(session, ev, pd.Timestamp(T0)))
    with client(db_url, tmp_path) as c:
        page = get(c, s, "ana", "/grids/g1").json()
        worker = get(c, s, "w1", "/grids/g1").json()
    expected = [
        {"day": "2024-05-01", "category": "dispute", "count": 1},
        {"day": "2024-05-01", "category": "theft", "count": 1},
        {"day": "2024-04-30", "category": "theft", "count": 1},
    ]
    assert page["recent_events"] == expected
    assert worker["recent_events"] == expected


def test_ranked_pages_follow_new_runs_and_decisions_at_once(db_url, tmp_path):
    s = seed(db_url)
    clock = [NOW]
    with clocked(db_url, tmp_path, clock) as c:
        first = get(c, s, "ana", "/forecasts/ranked?target=any").json()
        assert first["run_id"] == "r1" and all(r["prev_prob"] is None for r in first["items"])
        assert get(c, s, "ana", "/forecasts/ranked?target=any").json() == first  # cached

        def second_run(session):
            f = forecasts()
            f["prob"] = f["prob"] / 2
            store_run(session, RunInfo("r2", T0 + timedelta(days=1), "m1", "fp2", NOW), f)
            audit.append(session, "scoring", "score", "forecast_run", "r2", at=NOW)

        write(db_url, second_run)
        page = get(c, s, "ana", "/forecasts/ranked?target=any").json()
        assert page["run_id"] == "r2"
        top = page["items"][0]  # g5: 0.5 in r1, 0.25 in r2
        assert (top["grid_id"], top["prob"], top["prev_prob"]) == ("g5", 0.25, 0.5)

        assert [r["grid_id"] for r in get(c, s, "cmd", "/forecasts/ranked").json()["items"]] == [
            "g3"
        ]
        item = get(c, s, "rev", f"/review/items/{s.items['cmd_escalates']}").json()
        ok = c.post(
            f"/api/v1/review/items/{item['item_id']}/approve",
            headers=bearer(s.tokens["rev"]),
            json={"expected_version": item["version"]},
        )
        assert ok.status_code == 200
        now_two = get(c, s, "cmd", "/forecasts/ranked").json()
        assert [(r["grid_id"], r["target"]) for r in now_two["items"]] == [
            ("g3", "any"),
            ("g3", "dispute"),
        ]
        clock[0] = T0 + WINDOW  # the windows have ended: nothing left to act on
        assert get(c, s, "cmd", "/forecasts/ranked").json()["total"] == 0
