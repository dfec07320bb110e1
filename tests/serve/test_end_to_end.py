"""The whole path, end to end, on SQLite and PostgreSQL:

synth -> train -> register -> promote (named approver) -> score -> review queue ->
approve some, reject one with a reason, adjust one -> the grid worker sees only their own
suggestions -> reports outcomes (a retry is stored once) -> `risk audit verify` passes ->
one audit row edited -> verify fails naming it.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from models.persist import save_forecaster
from models.registry import promote, register_model
from models.tracking import start_run
from models.training import train_forecaster
from risk.cli import EXIT_AUDIT, app
from risk.patrol import DEFAULT_WINDOW_HOURS, best_hours, hour_profiles
from risk.scopes import Scope
from serve.db import make_engine, transaction
from serve.repo.users import add_user, issue_token
from serve.scoring import score
from tests.models.test_registry import GOOD
from tests.serve.api_seed import bearer, client
from tests.serve.test_scoring import AT, AT_UTC, FAST, TARGETS, THRESHOLDS, TZ

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from risk.synth import synthesise

    city = synthesise(49, 150, 3)
    model = train_forecaster(city.grids, city.events, AT, tz=TZ, config=FAST, targets=TARGETS,
                             max_history_days=90)  # fmt: skip
    folder = tmp_path_factory.mktemp("e2e_model") / "m"
    save_forecaster(model.model, folder, extra={"targets_trained": list(model.targets)})
    return city, folder


def test_the_whole_path(trained, factory, db_url, tmp_path, monkeypatch):
    city, folder = trained
    monkeypatch.delenv("RISK_MLFLOW_URI", raising=False)
    data_dir = tmp_path / "data"

    # train -> register (challenger) -> promote with a named approver -> champion
    with start_run("train", data_dir) as run_id:
        version = register_model(folder, run_id, GOOD, data_dir=data_dir)
    assert promote(version, "Li Wei", data_dir=data_dir).approved_by == "Li Wei"

    # score with the champion -> warnings in the review queue
    summary = score(AT, city.grids, city.events, factory=factory, data_dir=data_dir, tz=TZ,
                    thresholds=THRESHOLDS, now=AT_UTC)  # fmt: skip
    assert summary.forecasts == 49 * len(TARGETS) and summary.items_created >= 4

    with client(db_url, data_dir) as api:
        queue_grids = _users_and_tokens(api, factory, city)
        rev = bearer(queue_grids["tokens"]["rev"])
        queue = api.get("/api/v1/review/items?limit=100", headers=rev).json()["items"]
        assert len(queue) == summary.items_created
        first, second, third, fourth = queue[:4]

        def post(item, action, body):
            return api.post(
                f"/api/v1/review/items/{item['item_id']}/{action}", headers=rev, json=body
            )

        assert post(first, "approve", {"expected_version": first["version"]}).status_code == 200
        adjusted = post(second, "adjust", {"expected_version": second["version"], "level": "red"})
        assert adjusted.status_code == 200 and adjusted.json()["original_level"] == second["level"]
        assert (
            post(second, "approve", {"expected_version": adjusted.json()["version"]}).status_code
            == 200
        )
        rejected = post(
            third, "reject", {"expected_version": third["version"], "reason": "false_alarm"}
        )
        assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
        # someone else already changed `third`: a stale version is a conflict, not a lost update
        stale = post(third, "approve", {"expected_version": third["version"]})
        assert stale.status_code == 409
        assert fourth["state"] == "pending"

        # the worker of the first approved grid sees that grid and nothing of anyone else's
        w = bearer(queue_grids["tokens"]["w1"])
        plan = api.get("/api/v1/patrols/today", headers=w).json()["suggestions"]
        assert plan and {s["grid_id"] for s in plan} <= set(queue_grids["w1"])
        assert first["grid_id"] in {s["grid_id"] for s in plan}
        # its time window: the best 3 hours of the grid's own known events (city-shrunk)
        visit = next(s for s in plan if s["grid_id"] == first["grid_id"])
        assert visit["start_hour"] == _best_start(city, first["grid_id"], visit["target"])
        assert visit["end_hour"] == (visit["start_hour"] + DEFAULT_WINDOW_HOURS) % 24
        other = api.get(f"/api/v1/grids/{queue_grids['w2'][0]}", headers=w)
        assert other.status_code == 404

        report = {"client_report_id": "dev1-0001", "grid_id": first["grid_id"], "outcome": "found_issue",
                  "note": "blocked fire exit", "item_ids": [first["item_id"]]}  # fmt: skip
        assert api.post("/api/v1/patrols/reports", headers=w, json=report).status_code == 201
        retry = api.post("/api/v1/patrols/reports", headers=w, json=report)  # offline retry
        assert retry.status_code == 200 and retry.json()["created"] is False

    ok = runner.invoke(app, ["audit", "verify", "--database-url", db_url])
    assert ok.exit_code == 0, ok.output
    assert "audit log OK" in ok.output

    engine = make_engine(db_url)
    with engine.begin() as conn:
        seq = conn.execute(text("SELECT min(seq) FROM audit_log WHERE action = 'approve'")).scalar()
        postgres = conn.dialect.name == "postgresql"
        if postgres:  # an attacker with the owner's rights must first lift the append-only guard
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = :seq"), {"seq": seq})
        if postgres:
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    engine.dispose()
    broken = runner.invoke(app, ["audit", "verify", "--database-url", db_url])
    assert broken.exit_code == EXIT_AUDIT
    assert f"entry {seq}" in broken.output


def _best_start(city, grid_id: str, target: str) -> int:
    """The patrol window start computed independently from the events known at AT."""
    at = pd.Timestamp(AT).tz_localize(TZ) if pd.Timestamp(AT).tzinfo is None else pd.Timestamp(AT)
    ev = city.events
    known = ev[(ev["occurred_at"] <= at) & (ev["reported_at"].fillna(ev["occurred_at"]) <= at)]
    known = known.assign(occurred_at=known["occurred_at"].dt.tz_convert(TZ))
    profile = hour_profiles(known, city.grids, [target])[target]
    row = list(city.grids["grid_id"].astype(str)).index(grid_id)
    start, _ = best_hours(profile[row : row + 1], DEFAULT_WINDOW_HOURS)
    return int(start[0])


def _users_and_tokens(api, factory, city) -> dict:
    """A city-wide reviewer and two grid workers: w1 owns the first queue item's grid."""
    with factory() as s:
        from serve.repo.reviews import list_items

        items, _ = list_items(s, limit=None)
    ordered = sorted(
        items, key=lambda i: (-["blue", "yellow", "orange", "red"].index(i.level), i.created_at)
    )
    mine = [ordered[0].grid_id]
    others = [g for g in city.grids["grid_id"] if g not in {i.grid_id for i in items}][:1]
    tokens = {}
    with transaction(factory) as s:
        for name, role, scope in (("rev", "reviewer", Scope.city()), ("w1", "grid_worker", Scope.of("grids", mine)),
                                  ("w2", "grid_worker", Scope.of("grids", others))):  # fmt: skip
            add_user(s, name, role, scope)
            tokens[name] = issue_token(s, name, "api")
    return {"tokens": tokens, "w1": mine, "w2": others}
