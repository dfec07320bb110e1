"""The gated registry end to end on one temporary SQLite MLflow store (module-scoped).

One fixture plays an operator's session and records what it saw after each step:
register v1 (passing) and v2 (failing ece) → promote v2 (refused) → promote v1 → register v3
(passing) → promote v3 → roll back to v1. Each test checks one observation, so the tests do
not depend on their order.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from models.registry import (
    PromotionRefused,
    RegistryError,
    list_versions,
    load_champion,
    promote,
    register_model,
    rollback,
)
from models.tracking import client, start_run
from risk.scopes import Forbidden

GOOD = {
    "targets": {
        "any": {
            "models": {
                "lightgbm": {
                    "pr_auc": 0.45,
                    "pei@5": 0.52,
                    "ece": 0.02,
                    "miss_rate@10": 0.25,
                    "by_segment": {"old_residential": {"rows": 10, "miss_rate@10": 0.28}},
                },
                "seppexp": {"pr_auc": 0.431, "pei@5": 0.49},
                "oracle": {"pr_auc": 0.6, "pei@5": 0.7},
            }
        }
    }
}


def bad_ece() -> dict:
    m = copy.deepcopy(GOOD)
    m["targets"]["any"]["models"]["lightgbm"]["ece"] = 0.041
    return m


@pytest.fixture(scope="module", autouse=True)
def _no_env_override():
    saved = os.environ.pop("RISK_MLFLOW_URI", None)
    yield
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved


FEATURES = [("hist_any_7d", "history"), ("is_workday", "calendar")]
WINDOW = ("2024-01-01", "2024-06-30")


def register(data_dir, version, metrics, card=False):
    model = data_dir / f"model_v{version}.txt"
    model.write_bytes(f"tree version={version}\n".encode())
    extra = {"feature_info": FEATURES, "training_window": WINDOW} if card else {}
    with start_run("train", data_dir) as run_id:
        assert register_model(model, run_id, metrics, data_dir=data_dir, **extra) == version
    return run_id


def rows(data_dir):
    return {r.version: r for r in list_versions(data_dir=data_dir)}


def tags(data_dir, version):
    return client(data_dir).get_model_version("grid-risk", str(version)).tags


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    s = SimpleNamespace(data_dir=data_dir)
    register(data_dir, 1, GOOD)
    register(data_dir, 2, bad_ece())
    s.registered = rows(data_dir)
    with pytest.raises(PromotionRefused) as refused:
        promote(2, "Li Wei", data_dir=data_dir)
    s.refused, s.after_refusal = refused.value, rows(data_dir)
    s.promoted = promote(1, "Li Wei", data_dir=data_dir)
    s.after_promote, s.v1_tags = rows(data_dir), tags(data_dir, 1)
    s.champion_file = load_champion(tmp_path_factory.mktemp("dl"), data_dir=data_dir)
    run3 = register(data_dir, 3, GOOD, card=True)
    c = client(data_dir)

    def read(name):
        local = c.download_artifacts(run3, name, str(tmp_path_factory.mktemp("card")))
        return Path(local).read_text(encoding="utf-8")

    s.card_registered = read("model_card.md")
    s.promoted3 = promote(3, "Zhang San", data_dir=data_dir)
    s.after_promote3 = rows(data_dir)
    s.card_promoted, s.card_html = read("model_card.md"), read("model_card.html")
    s.rolled_back = rollback(1, "Li Wei", data_dir=data_dir)
    s.after_rollback, s.v1_tags_after_rollback = rows(data_dir), tags(data_dir, 1)
    return s


def test_challenger_alias_on_newest(seen):
    r = seen.registered
    assert (r[1].aliases, r[2].aliases) == ((), ("challenger",))


def test_list_versions_shows_gate_results(seen):
    r = seen.registered
    assert (r[1].gate_summary, r[2].gate_summary) == ("pass", "FAIL: calibration ece [any]")
    ece = next(g for g in r[2].gate_results if g.name == "calibration ece [any]")
    assert ece.detail == "ece 0.041 > 0.03"


def test_store_and_artifacts_stay_in_data_dir(seen):
    assert (seen.data_dir / "mlflow.db").exists()
    assert any((seen.data_dir / "mlartifacts").rglob("model_v1.txt"))


def test_failing_version_is_refused_naming_the_gate(seen):
    assert "calibration ece [any]: ece 0.041 > 0.03" in str(seen.refused)
    assert [g.name for g in seen.refused.failed] == ["calibration ece [any]"]


def test_refusal_leaves_champion_unset(seen):
    assert all("champion" not in row.aliases for row in seen.after_refusal.values())
    assert seen.after_refusal[2].approved_by is None


def test_promote_passing_version_records_approver(seen):
    p = seen.promoted
    assert (p.version, p.previous_champion, p.approved_by) == (1, None, "Li Wei")
    r1 = seen.after_promote[1]
    assert r1.aliases == ("champion",)
    assert (r1.approved_by, r1.approved_at) == ("Li Wei", p.approved_at)
    history = json.loads(seen.v1_tags["history"])
    assert [(h["action"], h["by"]) for h in history] == [("promoted", "Li Wei")]


def test_load_champion_returns_registered_bytes(seen):
    assert seen.champion_file.name == "model_v1.txt"
    assert seen.champion_file.read_bytes() == b"tree version=1\n"


def test_promoted_challenger_loses_challenger_alias(seen):
    assert seen.promoted3.previous_champion == 1
    assert (seen.after_promote3[1].aliases, seen.after_promote3[3].aliases) == ((), ("champion",))


def test_model_card_logged_at_registration_and_updated_on_promotion(seen):
    assert "| approved_by | not approved |" in seen.card_registered
    assert "| history | 1 | hist_any_7d |" in seen.card_registered
    assert "| approved_by | Zhang San |" in seen.card_promoted
    assert "<td>Zhang San</td>" in seen.card_html


def test_rollback_moves_champion_back_and_is_recorded(seen):
    b = seen.rolled_back
    assert (b.action, b.version, b.previous_champion) == ("rollback", 1, 3)
    r = seen.after_rollback
    assert (r[1].aliases, r[3].aliases) == (("champion",), ())
    assert seen.v1_tags_after_rollback["rolled_back_by"] == "Li Wei"
    history = json.loads(seen.v1_tags_after_rollback["history"])
    assert [h["action"] for h in history] == ["promoted", "rollback"]


def test_rollback_to_never_approved_version_is_refused(seen):
    with pytest.raises(PromotionRefused, match="version 2 was never approved as champion"):
        rollback(2, "Li Wei", data_dir=seen.data_dir)


def test_blank_approver_is_refused(seen):
    with pytest.raises(RegistryError, match="approved_by is empty"):
        promote(3, "  ", data_dir=seen.data_dir)


def test_unknown_version_is_a_registry_error(seen):
    with pytest.raises(RegistryError, match="has no version 9"):
        promote(9, "Li Wei", data_dir=seen.data_dir)


def test_list_versions_of_unregistered_name_is_empty(seen):
    assert list_versions(data_dir=seen.data_dir, name="nothing-here") == []


def test_the_proposer_of_a_version_may_not_approve_its_promotion(tmp_path):
    model = tmp_path / "model.txt"
    model.write_bytes(b"tree\n")
    with start_run("train", tmp_path) as run_id:
        version = register_model(model, run_id, GOOD, data_dir=tmp_path, proposed_by="Li Wei")
    assert rows(tmp_path)[version].proposed_by == "Li Wei"
    with pytest.raises(Forbidden, match="proposed this model version"):
        promote(version, " Li Wei ", data_dir=tmp_path)
    assert rows(tmp_path)[version].aliases == ("challenger",)
    assert promote(version, "Zhang San", data_dir=tmp_path).approved_by == "Zhang San"
