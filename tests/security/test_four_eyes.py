"""Issue 14, item 5: four eyes on accounts, not on spellings.

The probe: ``approved_by: "Analyst"`` passed when the proposer was ``analyst`` (also
``Admin``, ``admin ``); ``approved_by`` was free text ("Li Wei (not a user)" accepted); and
`risk model promote` wrote no audit entry. Now the approver is an account of the service
database — found with the name case- and space-folded, active, an admin — and never the
proposer however spelt; the API records the signed-in admin, the CLI the named one, and both
audit every promotion, refusal and rollback.

Registry (in the live service's data dir): v1, v3 proposed by ``ana`` (analyst); v2 proposed
by ``ADM`` — the admin ``adm`` spelt otherwise. Every version passes the gates.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from models.registry import list_versions, register_model
from models.tracking import start_run
from risk.cli import EXIT_CONFIG
from risk.cli import app as cli
from risk.four_eyes import IdentityRefused
from risk.scopes import Scope
from serve import promotions
from serve.db import make_engine, session_factory, transaction
from serve.repo import audit
from serve.repo.users import add_user, disable_user
from tests.models.test_registry import GOOD

runner = CliRunner()
PROPOSERS = {1: "ana", 2: "ADM", 3: "ana"}


@pytest.fixture(scope="module")
def registry(live) -> Iterator[None]:
    saved = os.environ.pop("RISK_MLFLOW_URI", None)  # the registry of the live data dir
    for version, proposer in PROPOSERS.items():
        model = live.data_dir / f"model_v{version}.txt"
        model.write_bytes(b"tree\n")
        with start_run("train", live.data_dir) as run_id:
            register_model(model, run_id, GOOD, data_dir=live.data_dir, proposed_by=proposer)
    engine = make_engine(live.db_url)
    with transaction(session_factory(engine)) as s:  # a second admin, and a disabled one
        add_user(s, "adm2", "admin", Scope.city())
        add_user(s, "adm_off", "admin", Scope.city())
        disable_user(s, "adm_off")
    engine.dispose()
    yield
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved


def champion(live) -> int | None:
    rows = list_versions(data_dir=live.data_dir)
    return next((r.version for r in rows if "champion" in r.aliases), None)


def entries(live, action: str) -> list[dict]:
    r = httpx.get(
        f"{live.url}/api/v1/audit", params={"action": action}, headers=live.auth("adm"), timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


def newest_seq(live) -> int:
    engine = make_engine(live.db_url)
    try:
        with session_factory(engine)() as s:
            return audit.generation(s)
    finally:
        engine.dispose()


def promote_api(live, version: int, body: dict | None):
    return httpx.post(
        f"{live.url}/api/v1/models/{version}/promote",
        json=body,
        headers=live.auth("adm"),
        timeout=60,
    )


def model_cli(live, *args: str):
    common = ["--data-dir", str(live.data_dir), "--database-url", live.db_url]
    return runner.invoke(cli, ["model", *args, *common])


# --------------------------------------------------------------------------- the API


@pytest.mark.parametrize("named", ["Ana", "Li Wei (not a user)", "adm2"])
def test_api_approved_by_must_be_the_signed_in_admin(live, registry, named):
    r = promote_api(live, 1, {"approved_by": named})
    assert r.status_code == 422
    error = r.json()["error"]
    assert [f["field"] for f in error["fields"]] == ["approved_by"]
    assert f"{named!r} is not the signed-in account 'adm'" in error["message"]
    assert champion(live) is None


@pytest.mark.parametrize("body", [None, {"approved_by": " Adm "}])
def test_api_refuses_the_proposer_however_spelt(live, registry, body):
    r = promote_api(live, 2, body)  # proposed by "ADM"
    assert r.status_code == 403
    assert "proposed this model version" in r.json()["error"]["message"]
    assert champion(live) is None
    assert entries(live, "promote_model") == []


def test_api_promotion_records_the_admin_account(live, registry):
    r = promote_api(live, 1, {"approved_by": "  ADM "})
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["approved_by"]) == (1, "adm")
    assert champion(live) == 1
    [entry] = entries(live, "promote_model")
    assert (entry["actor"], entry["object_id"]) == ("adm", "1")
    assert (entry["after"]["approved_by"], entry["after"]["via"]) == ("adm", "api")


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(
    ("named", "says"),
    [
        ("Li Wei", "approved_by: 'Li Wei' is not a user account"),
        ("Ana", "approved_by: account 'ana' has the role analyst; only admin accounts approve"),
        ("adm_off", "approved_by: account 'adm_off' is disabled"),
        (" Adm", "'adm' proposed this model version and may not approve its promotion"),
    ],
)
def test_cli_refuses_names_that_are_not_another_active_admin(live, registry, named, says):
    before, audited = champion(live), newest_seq(live)
    result = model_cli(live, "promote", "--version", "2", "--approved-by", named)
    assert result.exit_code == EXIT_CONFIG
    assert says in " ".join(result.output.split())
    assert champion(live) == before
    assert newest_seq(live) == audited  # nothing happened, nothing to audit


def test_cli_promotion_and_rollback_are_audited_with_the_acting_account(live, registry):
    promoted = model_cli(live, "promote", "--version", "3", "--approved-by", "ADM2 ")
    assert promoted.exit_code == 0, promoted.output
    assert "champion: v3" in promoted.output and "approved by adm2" in promoted.output
    rolled = model_cli(live, "rollback", "--to", "1", "--approved-by", "adm2")
    assert rolled.exit_code == 0, rolled.output
    assert "champion: v1 (was v3), rolled back by adm2" in rolled.output
    assert champion(live) == 1
    [promotion] = [e for e in entries(live, "promote_model") if e["object_id"] == "3"]
    [rollback] = entries(live, "rollback_model")
    assert (promotion["actor"], promotion["after"]["via"]) == ("adm2", "cli")
    assert promotion["after"]["approved_by"] == "adm2"
    assert (rollback["actor"], rollback["object_id"]) == ("adm2", "1")
    assert (rollback["before"], rollback["after"]["champion"]) == ({"champion": 3}, 1)
    verified = httpx.get(f"{live.url}/api/v1/audit/verify", headers=live.auth("adm"), timeout=30)
    assert verified.json()["ok"] is True


@pytest.mark.parametrize(
    ("named", "says"),
    [
        ("Li Wei", "proposed_by: 'Li Wei' is not a user account"),
        ("adm", "proposed_by: account 'adm' has the role admin; only analyst accounts propose"),
    ],
)
def test_cli_train_refuses_a_proposer_that_is_not_an_analyst_account(
    live, registry, tmp_path, monkeypatch, named, says
):
    monkeypatch.setenv("RISK_DATABASE_URL", live.db_url)
    (tmp_path / "metrics.json").write_text("{}")
    args = ["--grids", "g.geojson", "--events", "e.csv", "--backtest", str(tmp_path)]
    result = runner.invoke(
        cli, ["train", *args, "--proposed-by", named, "--data-dir", str(live.data_dir)]
    )
    assert result.exit_code == EXIT_CONFIG  # before any file is read or model trained
    assert says in " ".join(result.output.split())


def test_the_proposer_is_stored_as_its_account_name(live, registry):
    engine = make_engine(live.db_url)
    try:
        with session_factory(engine)() as s:
            assert promotions.proposer_account(s, " ANA ").username == "ana"
            with pytest.raises(IdentityRefused, match="not a user account"):
                promotions.proposer_account(s, "Li Wei")
            assert audit.verify(s).ok
    finally:
        engine.dispose()
