"""Saving and loading a fitted `MultiTargetForecaster` without pickle.

A model folder holds, per target, the LightGBM boosters as LightGBM's own text format
(`prob_<target>.txt`, `count_<target>.txt`), the calibrator, the features the trees read and
the classic blend (components, weights, floor, reference) as JSON, and one `manifest.json`
(targets, feature names, config version and values, horizon, the classic stack's triggers,
anything the caller adds such as the training window). Loading never executes code from the folder, so a model artifact
fetched from the registry cannot run anything (the registry also checks file hashes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from models.blend import PoissonBlend
from models.calibration import (
    CALIBRATORS,
    CloglogCalibrator,
    IdentityCalibrator,
    IsotonicCalibrator,
    PlattCalibrator,
)
from models.config import load_config
from models.forecaster import LightGBMForecaster, MultiTargetForecaster
from models.stacking import ClassicStack
from risk.errors import ContractError

# 2: per-target features and blend, the classic stack; 3: a target may mix other targets'
# models into its forecast (`mix`: weight and parts; docs/adr/026-any-from-its-categories.md)
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MANIFEST = "manifest.json"


def _calibrator_to_dict(calibrator: Any) -> dict[str, Any]:
    if isinstance(calibrator, PlattCalibrator | CloglogCalibrator):  # two numbers each
        return {"name": calibrator.name, "a": calibrator.a_, "b": calibrator.b_}
    if isinstance(calibrator, IsotonicCalibrator):
        model = calibrator.model_
        return {
            "name": "isotonic",
            "x": np.asarray(model.X_thresholds_, dtype=float).tolist(),
            "y": np.asarray(model.y_thresholds_, dtype=float).tolist(),
        }
    return {"name": "identity"}


def _calibrator_from_dict(data: dict[str, Any]) -> Any:
    name = data.get("name")
    if name in ("platt", "cloglog"):
        calibrator = CALIBRATORS[name]()
        calibrator.a_, calibrator.b_ = float(data["a"]), float(data["b"])
        return calibrator
    if name == "isotonic":
        x, y = np.asarray(data["x"], dtype=float), np.asarray(data["y"], dtype=float)
        calibrator = IsotonicCalibrator()
        # Fitting on the thresholds themselves reproduces the same monotone map exactly.
        return calibrator.fit(x, y)
    if name == "identity":
        return IdentityCalibrator().fit(np.empty(0), np.empty(0))
    raise ContractError(
        "unknown calibrator in the model manifest",
        field="calibrator",
        value=name,
        fix="re-train the model with this version of the toolkit",
    )


def _blend_to_dict(forecaster: LightGBMForecaster) -> dict[str, Any] | None:
    blend = forecaster.blend_
    if blend is None:
        return None
    return {
        "columns": list(forecaster.blend_feature_names_),
        "coef": [float(c) for c in blend.coef_],
        "floor": float(blend.floor_),
        "reference": [float(v) for v in forecaster.blend_reference_],
    }


def _blend_from_dict(forecaster: LightGBMForecaster, data: dict[str, Any] | None) -> None:
    if data is None:
        forecaster.blend_, forecaster.blend_feature_names_ = None, []
        return
    blend = PoissonBlend()
    blend.coef_ = np.asarray(data["coef"], dtype=float)
    blend.floor_ = float(data["floor"])
    forecaster.blend_ = blend
    forecaster.blend_feature_names_ = list(data["columns"])
    forecaster.blend_reference_ = np.asarray(data["reference"], dtype=float)


def save_forecaster(
    model: MultiTargetForecaster, folder: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write `model` into `folder` (created); returns the manifest path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    targets: dict[str, Any] = {}
    for target, forecaster in model.forecasters_.items():
        prob_file = f"prob_{target}.txt"
        forecaster.booster_.save_model(folder / prob_file, num_iteration=forecaster.best_iteration_)
        entry: dict[str, Any] = {
            "prob_model": prob_file,
            "best_iteration": forecaster.best_iteration_,
            "calibrator": _calibrator_to_dict(forecaster.calibrator_),
            "split": forecaster.split_,
            "count_model": None,
            "objective": forecaster.objective_,
            "feature_names": list(forecaster.feature_names_),
            "tree_feature_names": list(forecaster.tree_feature_names_),
            "blend": _blend_to_dict(forecaster),
            "levels": getattr(forecaster, "levels_", None),
            "mix": (
                {"weight": forecaster.mix_weight_, "parts": list(forecaster.mix_parts_)}
                if forecaster.mixed
                else None
            ),
        }
        if forecaster.count_booster_ is not None:
            count_file = f"count_{target}.txt"
            forecaster.count_booster_.save_model(
                folder / count_file, num_iteration=forecaster.count_best_iteration_
            )
            entry["count_model"] = count_file
            entry["count_best_iteration"] = forecaster.count_best_iteration_
        targets[target] = entry
    first = next(iter(model.forecasters_.values()))
    stack = getattr(model, "stack_", None)
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": "grid-risk MultiTargetForecaster",
        "horizon_hours": model.horizon_hours,
        "feature_names": list(model.feature_names_),
        "classic_stack": None if stack is None else stack.to_dict(),
        "config_version": first.config_version_,
        "config": first.config_.raw,
        "mixed": getattr(model, "mixed_", {}),
        "targets": targets,
        **(extra or {}),
    }
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    return path


def load_forecaster(folder: str | Path) -> tuple[MultiTargetForecaster, dict[str, Any]]:
    """Read a folder written by `save_forecaster`; returns the fitted model and its manifest."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(
            f"cannot read the model manifest: {exc}",
            file=str(path),
            fix="point at a folder written by `risk train`",
        ) from exc
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise ContractError(
            "unsupported model format",
            file=str(path),
            field="format_version",
            value=manifest.get("format_version"),
            fix="re-train the model",
        )
    config = load_config(manifest["config"])
    names = list(manifest["feature_names"])
    model = MultiTargetForecaster(
        config=manifest["config"], horizon_hours=manifest["horizon_hours"]
    )
    model.targets_ = list(manifest["targets"])
    stack = manifest.get("classic_stack")
    model.stack_ = None if stack is None else ClassicStack.from_dict(stack)
    model.forecasters_ = {}
    for target, entry in manifest["targets"].items():
        forecaster = LightGBMForecaster(manifest["config"], target, None, manifest["horizon_hours"])
        forecaster.booster_ = _booster(folder / entry["prob_model"])
        forecaster.best_iteration_ = forecaster.booster_.current_iteration()
        forecaster.calibrator_ = _calibrator_from_dict(entry["calibrator"])
        forecaster.calibration_scores_ = {}
        if entry.get("count_model"):
            forecaster.count_booster_ = _booster(folder / entry["count_model"])
            forecaster.count_best_iteration_ = forecaster.count_booster_.current_iteration()
        else:
            forecaster.count_booster_ = None
            forecaster.count_best_iteration_ = 0
        forecaster.feature_names_ = list(entry.get("feature_names", names))
        forecaster.tree_feature_names_ = list(entry.get("tree_feature_names", names))
        forecaster.objective_ = entry.get(
            "objective", config.lightgbm_params.get("objective", "binary")
        )
        _blend_from_dict(forecaster, entry.get("blend"))
        forecaster.levels_ = entry.get("levels")  # None: saved before operating points
        forecaster.config_ = config
        forecaster.config_version_ = config.version
        forecaster.split_ = entry.get("split", {})
        forecaster.negative_sampled_ = False
        forecaster.mix_parts_, forecaster.mix_weight_ = {}, 0.0
        model.forecasters_[target] = forecaster
    for target, entry in manifest["targets"].items():
        mix = entry.get("mix")
        if mix:
            _attach_mix(model, target, mix, path)
    model.mixed_ = manifest.get("mixed", {})
    return model, manifest


def _attach_mix(model: MultiTargetForecaster, target: str, mix: dict[str, Any], path: Path) -> None:
    missing = [t for t in mix["parts"] if t not in model.forecasters_]
    if missing:
        raise ContractError(
            f"target {target} mixes in a model the folder does not hold",
            file=str(path),
            field=f"targets.{target}.mix.parts",
            value=missing[0],
            fix="restore the model folder, or train the model again (risk train)",
        )
    own = model.forecasters_[target]
    own.mix_parts_ = {t: model.forecasters_[t] for t in mix["parts"]}
    own.mix_weight_ = float(mix["weight"])


def _booster(path: Path) -> lgb.Booster:
    """The LightGBM booster saved at `path`; `ContractError` when it is missing or damaged."""
    try:
        return lgb.Booster(model_file=str(path))
    except (lgb.basic.LightGBMError, OSError) as exc:
        raise ContractError(
            f"model file {path.name} is missing or damaged ({str(exc).strip()[:120]})",
            file=str(path),
            fix="restore the model folder, or train the model again (risk train)",
        ) from exc
