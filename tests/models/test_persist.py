"""A saved model folder reloads to the same predictions, without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.forecaster import MultiTargetForecaster
from models.persist import load_forecaster, save_forecaster
from risk.errors import ContractError
from tests.models.test_forecaster import FAST, toy_frame


@pytest.mark.parametrize("methods", [["platt"], ["isotonic"], ["cloglog"], []])
def test_round_trip_gives_identical_predictions(tmp_path, methods):
    frame = toy_frame()
    model = MultiTargetForecaster(config={**FAST, "calibration": {"methods": methods}}).fit(frame)
    save_forecaster(model, tmp_path / "m", extra={"training_window": ["2025-01-01", "2025-03-01"]})
    loaded, manifest = load_forecaster(tmp_path / "m")
    before, after = model.predict(frame), loaded.predict(frame)
    np.testing.assert_allclose(after["prob"], before["prob"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(after["count"], before["count"], rtol=1e-9)
    assert manifest["training_window"] == ["2025-01-01", "2025-03-01"]
    assert set(manifest["targets"]) == {"any", "theft"}
    # SHAP contributions still add up to the raw score after reloading.
    f = loaded.forecasters_["any"]
    np.testing.assert_allclose(
        f.contributions(frame).sum(axis=1), f.decision_function(frame), atol=1e-6
    )


def test_unknown_format_is_refused(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ContractError, match="unsupported model format"):
        load_forecaster(folder)


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_a_missing_or_damaged_booster_file_is_a_contract_error(tmp_path, damage):
    model = MultiTargetForecaster(config=FAST).fit(toy_frame())
    save_forecaster(model, tmp_path / "m")
    booster = tmp_path / "m" / "prob_theft.txt"
    if damage == "delete":
        booster.unlink()
    else:
        booster.write_text(booster.read_text()[:200])
    with pytest.raises(ContractError, match="prob_theft.txt is missing or damaged"):
        load_forecaster(tmp_path / "m")
