"""Model health per scoring run (issue 17, item 1), on SQLite and PostgreSQL: a small model
trained on a 100-grid synthetic city (it carries its drift reference), three daily runs —
the city as it is, the same city with theft reported three times over (every theft of the
last 14 days copied twice), then the city as it is four days on, when the first two runs'
windows have closed — and what the service makes of them: the stored records, the audited
alert, the series over the API and the mark on the model card.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pandas as pd
import pytest

from models.persist import save_forecaster
from models.training import train_forecaster
from risk.metrics import ece
from risk.scopes import Scope
from risk.synth import synthesise
from serve.db import transaction
from serve.repo import audit, runs
from serve.repo import health as repo
from serve.repo.users import add_user, issue_token
from serve.scoring import SCORING_ACTOR, score
from tests.serve.api_seed import T0, bearer, client, register_two_versions

TZ = "Asia/Shanghai"
G = 100
FAST = {
    "training": {"num_boost_round": 150, "early_stopping_rounds": 10, "count_model": False},
    "lightgbm": {"num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.3, "num_threads": 1},
}
AT = pd.Timestamp("2024-05-20 08:00", tz=TZ)
DAY = pd.Timedelta(days=1)
THRESHOLDS = {"yellow": 1.1, "orange": 1.3, "red": 1.6}  # ratio levels: some grids warned


@pytest.fixture(scope="module")
def city():
    return synthesise(G, 160, 3)


@pytest.fixture(scope="module")
def model_dir(city, tmp_path_factory):
    trained = train_forecaster(
        city.grids, city.events, AT, tz=TZ, config=FAST, targets=("any", "theft"),
        max_history_days=60,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("model") / "m"
    save_forecaster(trained.model, folder, extra=trained.manifest_extra())
    return folder


@pytest.fixture(scope="module")
def registry_dir(tmp_path_factory):
    saved = os.environ.pop("RISK_MLFLOW_URI", None)
    data_dir = tmp_path_factory.mktemp("registry")
    register_two_versions(data_dir)
    yield data_dir
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved


def theft_thrice(events: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Every theft that occurred in the 14 days before ``at`` reported three times."""
    recent = events[(events["category"] == "theft") & (events["occurred_at"] > at - 14 * DAY)]
    copies = [recent.assign(event_id=recent["event_id"].astype(str) + f"-copy{k}") for k in (1, 2)]
    return pd.concat([events, *copies], ignore_index=True)


def run(factory, model_dir, city, at, events=None):
    now = (at + pd.Timedelta(minutes=30)).tz_convert("UTC").to_pydatetime()
    return score(
        at, city.grids, city.events if events is None else events, factory=factory,
        model_dir=model_dir, model_version="1", tz=TZ, thresholds=THRESHOLDS, now=now,
    )  # fmt: skip


@pytest.fixture
def three_runs(factory, model_dir, city):
    first = run(factory, model_dir, city, AT)
    shifted = run(factory, model_dir, city, AT + DAY, theft_thrice(city.events, AT + DAY))
    later = run(factory, model_dir, city, AT + 4 * DAY)
    return first, shifted, later


def test_shifted_inputs_raise_an_audited_alert_the_unchanged_city_does_not(factory, three_runs):
    first, shifted, _ = three_runs
    with factory() as s:
        one, two = repo.get_health(s, first.run_id), repo.get_health(s, shifted.run_id)
        entries = audit.list_entries(s, action="health_alert")[0]
    # The city as trained on: scores and inputs where they were (no alert level passed).
    assert first.health_status in ("ok", "warn")
    assert max(one.drift["score_psi"].values()) < 0.1
    assert one.drift["missing_share"] == 0.0
    assert one.drift["features_checked"] + one.drift["features_unchecked"] > 100
    # Theft three times over: the grids' own theft counts move far beyond anything trained on.
    assert shifted.health_status == two.status == "alert"
    history = two.drift["family_psi"]["history"]
    assert history > 1.0 > one.drift["family_psi"]["history"]
    assert {"metric": "family_psi", "key": "history", "value": pytest.approx(history),
            "severity": "alert", "threshold": 0.5, "run_id": None} in two.breaches  # fmt: skip
    assert [n for n, _ in two.drift["top_features"][:3]] and all(
        "theft" in n or "any" in n for n, _ in two.drift["top_features"][:3]
    )
    assert two.breaches[0]["severity"] == "alert"  # alerts first
    # One audit entry per flagged run, by the scoring actor, naming the run and the model.
    flagged = {e.object_id: e for e in entries}
    assert shifted.run_id in flagged
    entry = flagged[shifted.run_id]
    assert (entry.actor, entry.object_type, entry.model_version) == (
        SCORING_ACTOR, "forecast_run", "1",
    )  # fmt: skip
    assert entry.after["status"] == "alert"
    assert "feature family PSI [history]" in " ".join(entry.after["summary"])
    assert (first.run_id in flagged) == (first.health_status == "warn")
    # Volumes by source: the copies count too (events of the last 7 days).
    assert sum(two.volumes.values()) > sum(one.volumes.values())


def test_realised_calibration_and_precision_once_the_windows_close(factory, three_runs, city):
    first, shifted, later = three_runs
    with factory() as s:
        one = repo.get_health(s, first.run_id)
        three = repo.get_health(s, later.run_id)
        frame, _ = runs.run_forecasts(s, first.run_id)
    # Run 3 (day 4) knows the events of run 1's window (day 0 .. 3) and run 2's (day 1 .. 4).
    assert (one.realised_by, three.realised) == (later.run_id, None)
    with factory() as s:
        assert repo.get_health(s, shifted.run_id).realised_by == later.run_id
    # What came true, counted here from the events themselves: an event of the target that
    # occurred in (t, t + 72 h] and was reported by run 3's issue time — and that the model's
    # labels count: not a patrol's find (its manifest's label_exclude_sources, ADR 019).
    ev = city.events
    known = ev[ev["reported_at"].fillna(ev["occurred_at"]) <= AT + 4 * DAY]
    inside = known[(known["occurred_at"] > AT) & (known["occurred_at"] <= AT + 3 * DAY)]
    inside = inside[inside["source"] != "patrol"]
    hit = {
        "any": set(inside["grid_id"].astype(str)),
        "theft": set(inside.loc[inside["category"] == "theft", "grid_id"].astype(str)),
    }
    frame["hit"] = [g in hit[t] for g, t in zip(frame["grid_id"], frame["target"], strict=True)]
    for target in ("any", "theft"):
        part = frame[frame["target"] == target]
        got = one.realised["targets"][target]
        assert got["n"] == G and got["came_true"] == int(part["hit"].sum())
        expected = ece(part["prob"].to_numpy()[None, :], part["hit"].to_numpy()[None, :])
        assert got["ece"] == pytest.approx(expected, abs=1e-12)
        assert sum(b["n"] for b in got["bins"]) == G and len(got["bins"]) == 15
    warned = frame[frame["level"] != "blue"]
    assert len(warned) > 0
    for level, part in warned.groupby("level"):
        assert one.realised["levels"][level] == {
            "n": len(part),
            "came_true": int(part["hit"].sum()),
            "precision": pytest.approx(part["hit"].mean()),
        }
    # 100 grids are fewer than [calibration.ece] min_rows (200): ECE is shown, not judged.
    assert not [b for b in three.breaches if b["metric"] == "ece"]


def test_the_api_series_and_the_marked_model_card(factory, db_url, three_runs, registry_dir):
    first, shifted, later = three_runs
    with transaction(factory) as s:
        add_user(s, "ana", "analyst", Scope.city(), at=T0)
        add_user(s, "rev", "reviewer", Scope.city(), at=T0)
        tokens = {u: issue_token(s, u, "api", at=T0) for u in ("ana", "rev")}
    with client(db_url, registry_dir) as c:
        assert c.get("/api/v1/model-health", headers=bearer(tokens["rev"])).status_code == 403
        r = c.get("/api/v1/model-health", headers=bearer(tokens["ana"]))
        assert r.status_code == 200, r.text
        body = r.json()
        card = c.get("/api/v1/models/1/card", headers=bearer(tokens["ana"])).json()
        other = c.get("/api/v1/models/2/card", headers=bearer(tokens["ana"])).json()
        bad = c.get("/api/v1/model-health?limit=0", headers=bearer(tokens["ana"]))
    assert bad.status_code == 422
    assert [x["run_id"] for x in body["runs"]] == [first.run_id, shifted.run_id, later.run_id]
    assert [x["status"] for x in body["runs"]][1] == "alert"
    assert body["status"] == body["latest"]["status"] == later.health_status
    assert body["thresholds"]["score_psi"] == {"warn": 0.1, "alert": 0.25}
    assert body["thresholds"]["family_psi"] == {"warn": 0.25, "alert": 0.5}
    run2 = body["runs"][1]
    assert run2["family_psi"]["history"] > 1.0
    assert set(run2["score_psi"]) == {"any", "theft"}
    assert run2["breaches"][0]["text"].endswith("> alert level 0.5")
    assert run2["realised"]["measured_by"] == later.run_id
    assert set(run2["realised"]["ece"]) == {"any", "theft"}
    assert body["runs"][2]["realised"] is None
    assert body["reliability"]["run_id"] == shifted.run_id  # the latest with a closed window
    assert body["versions"]["1"]["alert"] >= 1
    # The card of version 1 (the runs' model) is marked; version 2's is not.
    assert [m["run_id"] for m in card["health"] if m["status"] == "alert"] == [shifted.run_id]
    assert card["markdown"].split("\n")[2] == "## Health in service"
    assert "ALERT" in card["markdown"] and "<h2>Health in service</h2>" in card["html"]
    assert other["health"] == [] and "Health in service" not in other["markdown"]


def test_a_model_without_a_reference_is_unknown_and_a_bad_thresholds_file_stops_the_run(
    factory, model_dir, city, tmp_path
):
    import json
    import shutil

    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["drift_reference"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    summary = run(factory, old, city, AT)
    assert (summary.health_status, summary.health_breaches) == ("unknown", [])
    with factory() as s:
        assert repo.get_health(s, summary.run_id).drift is None
    broken = tmp_path / "health.toml"
    broken.write_text("[psi.score]\nwarn = 0.3\nalert = 0.2\n")
    from risk.errors import ConfigError

    with pytest.raises(ConfigError, match="warn 0.3 is above alert 0.2"):
        score(
            AT, city.grids, city.events, factory=factory, model_dir=model_dir, tz=TZ,
            now=datetime(2024, 5, 20, 1, tzinfo=UTC), health_file=broken,
        )  # fmt: skip
    with factory() as s:
        assert len(runs.list_runs(s)) == 1  # the refused run left nothing behind
