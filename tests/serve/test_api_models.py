"""Model versions, cards and promotion over HTTP, on a real (temporary) MLflow registry.

v1's backtest metrics pass every gate; v2's calibration does not (ece 0.041 > 0.03 allowed).
"""

from __future__ import annotations

import os

import pytest

from models.registry import list_versions, register_model
from models.tracking import start_run
from tests.models.test_registry import GOOD
from tests.serve.api_seed import bearer, client, empty, register_two_versions, seed


@pytest.fixture(scope="module")
def registry_dir(tmp_path_factory):
    saved = os.environ.pop("RISK_MLFLOW_URI", None)
    data_dir = tmp_path_factory.mktemp("registry")
    register_two_versions(data_dir)
    yield data_dir
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved


@pytest.fixture(scope="module")
def api(migrated_url, registry_dir):
    empty(migrated_url)
    s = seed(migrated_url)
    with client(migrated_url, registry_dir) as c:
        yield c, s
    empty(migrated_url)


def test_analyst_lists_versions_with_their_gate_results(api):
    c, s = api
    r = c.get("/api/v1/models", headers=bearer(s.tokens["ana"]))
    assert r.status_code == 200
    rows = {v["version"]: v for v in r.json()}
    assert sorted(rows) == [1, 2]
    assert rows[1]["gates_passed"] is True
    assert rows[2]["gates_passed"] is False
    assert [g["name"] for g in rows[2]["gate_results"] if not g["passed"]] == [
        "calibration ece [any]"
    ]


def test_the_model_card_comes_as_markdown_and_html(api):
    c, s = api
    r = c.get("/api/v1/models/1/card", headers=bearer(s.tokens["ana"]))
    assert r.status_code == 200
    assert r.json()["markdown"].startswith("# Model card — grid-risk v1")
    assert "<html" in r.json()["html"]


def test_a_version_failing_a_gate_is_refused_with_409_naming_the_gate(api, registry_dir):
    c, s = api
    r = c.post("/api/v1/models/2/promote", json={}, headers=bearer(s.tokens["adm"]))
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "promotion_refused"
    assert [f["field"] for f in error["fields"]] == ["calibration ece [any]"]
    refused = c.get("/api/v1/audit?action=promotion_refused", headers=bearer(s.tokens["adm"]))
    assert [e["object_id"] for e in refused.json()["items"]] == ["2"]
    assert "champion" not in {
        a for v in list_versions(data_dir=registry_dir) if v.version == 2 for a in v.aliases
    }


def test_admin_promotes_and_is_recorded_as_approver(api, registry_dir):
    c, s = api
    r = c.post("/api/v1/models/1/promote", headers=bearer(s.tokens["adm"]))
    assert r.status_code == 200
    assert (r.json()["version"], r.json()["approved_by"]) == (1, "adm")
    champion = [v.version for v in list_versions(data_dir=registry_dir) if "champion" in v.aliases]
    assert champion == [1]
    log = c.get("/api/v1/audit?action=promote_model", headers=bearer(s.tokens["adm"])).json()
    assert log["items"][0]["after"]["approved_by"] == "adm"
    assert c.get("/api/v1/audit/verify", headers=bearer(s.tokens["adm"])).json()["ok"] is True


@pytest.mark.parametrize("who", ["ana", "rev"])
def test_only_an_admin_may_promote(api, who):
    c, s = api
    r = c.post("/api/v1/models/1/promote", json={"approved_by": who}, headers=bearer(s.tokens[who]))
    assert r.status_code == 403


def test_an_admin_may_not_promote_a_version_they_proposed(db_url, tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_MLFLOW_URI", raising=False)
    model = tmp_path / "model.txt"
    model.write_bytes(b"tree\n")
    with start_run("train", tmp_path) as run_id:
        register_model(model, run_id, GOOD, data_dir=tmp_path, proposed_by="adm")
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        own = c.post(
            "/api/v1/models/1/promote",
            json={"approved_by": "Zhang San"},
            headers=bearer(s.tokens["adm"]),
        )
        listed = c.get("/api/v1/models", headers=bearer(s.tokens["ana"])).json()
    assert own.status_code == 403
    assert "proposed this model version" in own.json()["error"]["message"]
    assert listed[0]["proposed_by"] == "adm" and listed[0]["aliases"] == ["challenger"]
