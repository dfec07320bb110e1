"""Issue 16, item 1, "done when": events posted through the API and loaded with `risk events
load` reach the daily scoring with no events file configured, and change the next forecast as
the features say they should; a late report stays out until it is known. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from features.base import FeatureSpec
from features.build import build_features
from risk.cli import app as cli
from risk.loaders import load_grids
from risk.scopes import Scope
from risk.settings import Settings
from risk.synth.io import write_city
from serve.app import _scheduler, create_app
from serve.db import transaction
from serve.jobs import Scheduler, city_events, city_score_job
from serve.repo import runs
from serve.repo.events import load_events
from serve.repo.users import add_user, issue_token
from tests.serve import test_scoring
from tests.serve.test_scoring import AT, NOW, TARGETS, THRESHOLDS, TZ

city = test_scoring.city  # the tiny city and model of the scoring tests (module fixtures)
model_dir = test_scoring.model_dir

ISSUE = pd.Timestamp(AT, tz=TZ)
BURST = 6  # events in one quiet grid in the two days before the issue time
runner = CliRunner()


def _any_probs(factory, run_id):
    with factory() as s:
        frame, _ = runs.run_forecasts(s, run_id)
    part = frame[frame["target"] == "any"]
    return part.set_index("grid_id")["prob"]


def _burst(grid_id, prefix, n, start):
    """``n`` theft events in ``grid_id``, two hours apart from ``start``, reported at once."""
    times = [start + timedelta(hours=2 * k) for k in range(n)]
    return [
        {"event_id": f"{prefix}{k}", "occurred_at": t.isoformat(), "category": "theft",
         "grid_id": grid_id, "source": "hotline"}
        for k, t in enumerate(times)
    ]  # fmt: skip


def test_new_events_reach_the_daily_scoring_from_the_event_store(
    factory, db_url, city, model_dir, tmp_path, monkeypatch
):
    monkeypatch.delenv("RISK_CITY_EVENTS", raising=False)
    paths = write_city(city, tmp_path / "city")
    grids_file, events_file = paths["grids.geojson"], paths["events.csv"]
    database = ["--database-url", db_url, "--data-dir", str(tmp_path / "data")]

    # 1. the city's history through `risk events load`
    loaded = runner.invoke(cli, ["events", "load", "--events", str(events_file), "--grids",
                                 str(grids_file), "--tz", TZ, *database])  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    n = len(city.events)
    assert f"read {n:,} = stored {n:,} + duplicates 0" in " ".join(loaded.output.split())

    # 2. the daily job with RISK_CITY_GRIDS only: events come from the store
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, city_grids=grids_file,
                        city_events=None, tz=TZ)  # fmt: skip
    assert _scheduler(settings, factory).score_job is not None  # the service would score daily
    job = city_score_job(factory=factory, grids_path=grids_file, model_dir=model_dir, tz=TZ,
                         thresholds=THRESHOLDS)  # fmt: skip
    (first,) = Scheduler(factory, job, tz=TZ, sweep_every=None).run_due(NOW)
    assert first.ok, first.error
    before = _any_probs(factory, first.result.run_id)
    quiet = str(before.idxmin())  # the grid the model finds least at risk

    # 3. a burst in the quiet grid: half through the API (an integration account) ...
    with transaction(factory) as s:
        add_user(s, "feed", "integration", Scope.city())
        token = issue_token(s, "feed", "api")
    start = ISSUE - pd.Timedelta(hours=40)
    late = {"event_id": "late1", "occurred_at": (ISSUE - pd.Timedelta(hours=3)).isoformat(),
            "reported_at": (ISSUE + pd.Timedelta(hours=1)).isoformat(), "category": "theft",
            "grid_id": quiet}  # fmt: skip
    later = NOW + timedelta(days=1)
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=db_url, tz=TZ),
                     clock=lambda: later)  # fmt: skip
    with TestClient(app) as api:
        posted = api.post(
            "/api/v1/events",
            headers={"Authorization": f"Bearer {token}"},
            json={"events": [*_burst(quiet, "api", BURST // 2, start), late]},
        )
    assert posted.status_code == 200, posted.text
    assert (posted.json()["stored"], posted.json()["rejected"]) == (BURST // 2 + 1, 0)
    # ... and half through `risk events load`
    rest = pd.DataFrame(_burst(quiet, "cli", BURST // 2, start + timedelta(hours=20)))
    rest.to_csv(tmp_path / "burst.csv", index=False)
    loaded = runner.invoke(cli, ["events", "load", "--events", str(tmp_path / "burst.csv"),
                                 "--tz", TZ, *database])  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    assert "grids: the grids stored in the service database" in " ".join(loaded.output.split())

    # 4. what the features say: exactly BURST more theft (and any) events in the quiet grid in
    # the last 7 days; the late report is stored but not known at the issue time
    grids = load_grids(grids_file).valid
    known = city_events(factory, grids, ISSUE, tz=TZ)
    with factory() as s:
        assert "late1" in set(load_events(s, tz=TZ)["event_id"])
    assert "late1" not in set(known["event_id"])
    new = known["event_id"].str.match(r"^(api|cli)\d$")
    assert int(new.sum()) == BURST
    spec = FeatureSpec(tz=TZ, targets=TARGETS)
    with_burst = build_features(grids, known, [ISSUE], spec).frame.set_index("grid_id")
    without = build_features(grids, known[~new], [ISSUE], spec).frame.set_index("grid_id")
    delta = with_burst["events_7d_any"] - without["events_7d_any"]
    assert delta[quiet] == BURST and (delta.drop(quiet) == 0).all()
    assert with_burst.loc[quiet, "events_7d_theft"] - without.loc[quiet, "events_7d_theft"] == BURST

    # 5. the next daily run reads them: the quiet grid's forecast rises, and it alone moves much
    second = job(ISSUE, NOW)
    after = _any_probs(factory, second.run_id)
    assert after[quiet] > before[quiet]
    change = (after - before).abs()
    assert change.idxmax() == quiet
    assert second.data_fingerprint.startswith("frames:")  # scored from the store, not a file


@pytest.mark.parametrize("events_file", [True, False])
def test_the_service_scores_daily_with_the_grids_file_and_events_from_file_or_store(
    factory, tmp_path, events_file
):
    settings = Settings(data_dir=tmp_path, city_grids=tmp_path / "g.geojson",
                        city_events=tmp_path / "e.csv" if events_file else None)  # fmt: skip
    assert _scheduler(settings, factory).score_job is not None
    assert _scheduler(Settings(data_dir=tmp_path), factory).score_job is None
