"""The forecaster's versioned hyper-parameters: `models/lightgbm.toml`, loaded with tomllib.

`load_config(source)` starts from the packaged file and deep-merges an override over it:
`None` (the packaged file as is), a `dict` (e.g. `{"training": {"num_boost_round": 20}}` in
tests), or the path of another TOML file. Unknown sections or keys, and values outside what is
accepted, raise `ConfigError` naming the key, the value and what is accepted. The `[lightgbm]`
and `[lightgbm_count]` tables go to LightGBM unchecked (LightGBM checks its own parameters).
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk.errors import ConfigError

DEFAULT_CONFIG_PATH = Path(__file__).with_name("lightgbm.toml")
# 2: faster defaults, same keys (+ max_negatives_per_positive); 3: [stacking] (the classic
# methods as features and a blended offset, docs/adr/010-forecast-core-v2.md); 4: the blend
# weighs the declustered background (`dpooled`, docs/adr/023-achievable-background.md); 5:
# `any` mixes its own model with the sum of its categories' (`any_from_categories`,
# docs/adr/026-any-from-its-categories.md).
SUPPORTED_VERSIONS = (1, 2, 3, 4, 5)
OFFSETS = ("blend", "none")
# What a blend may weigh: a classic component kind of the target itself (models/stacking.py),
# or "cross" — every other category's self-excitation and, for a category, `any`'s steadied
# rate.
BLEND_KINDS = (
    "citymean",
    "eb",
    "pooled",
    "declustered",
    "dpooled",
    "rate",
    "recent",
    "self",
    "nbr",
    "seppexp",
    "kde",
    "prospective",
    "cross",
)
FEATURE_MODES = ("target", "all")
# What a version-1/2 config meant: no stacking (its models have no classic components).
BEFORE_STACKING = {
    "offset": "none",
    "blend": ["eb", "self"],
    "features": "all",
    "classic_features": True,
    "any_from_categories": 0.0,
}
# What a version-3 config's blend was when it did not name one.
VERSION_3_BLEND = ["eb", "pooled", "self", "nbr", "cross"]
CALIBRATION_METHODS = ("isotonic", "platt", "cloglog", "identity")
SELECTION_METRICS = ("log_loss", "ece")
FREE_TABLES = ("lightgbm", "lightgbm_count")  # passed through to LightGBM


def _fraction(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1


def _rate(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 1


def _count(minimum: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _methods(v: Any) -> bool:
    return isinstance(v, list) and all(m in CALIBRATION_METHODS for m in v)


# section -> key -> (check, what is accepted)
_RULES: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "split": {
        "validation_fraction": (lambda v: _fraction(v) and v > 0, "a number in (0, 1)"),
        "calibration_fraction": (_fraction, "a number in [0, 1); 0 turns calibration off"),
        "min_issue_times": (_count(1), "an integer >= 1"),
    },
    "sampling": {
        "negative_sample_rate": (_rate, "a number in (0, 1]; 1 keeps every negative"),
        "min_rows": (_count(0), "an integer >= 0"),
        "max_negatives_per_positive": (
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v > 0,
            "a number > 0",
        ),
    },
    "calibration": {
        "methods": (_methods, f"a list drawn from {list(CALIBRATION_METHODS)}"),
        "selection_metric": (lambda v: v in SELECTION_METRICS, f"one of {list(SELECTION_METRICS)}"),
    },
    "stacking": {
        "offset": (lambda v: v in OFFSETS, f"one of {list(OFFSETS)}"),
        "blend": (
            lambda v: isinstance(v, list) and bool(v) and all(k in BLEND_KINDS for k in v),
            f"a non-empty list drawn from {list(BLEND_KINDS)}",
        ),
        "features": (lambda v: v in FEATURE_MODES, f"one of {list(FEATURE_MODES)}"),
        "classic_features": (lambda v: isinstance(v, bool), "true or false"),
        "any_from_categories": (
            lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1,
            "a number in [0, 1]; 0 keeps the `any` model alone",
        ),
    },
    "training": {
        "num_boost_round": (_count(1), "an integer >= 1"),
        "early_stopping_rounds": (_count(1), "an integer >= 1"),
        "count_model": (lambda v: isinstance(v, bool), "true or false"),
        "issue_time_stride": (_count(1), "an integer >= 1; 1 keeps every training issue time"),
    },
}


@dataclass(frozen=True)
class ForecasterConfig:
    """One validated config. `raw` is the merged TOML document (logged with each run)."""

    raw: dict[str, Any]
    source: str

    @property
    def version(self) -> int:
        return int(self.raw["config_version"])

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.raw[name])

    @property
    def lightgbm_params(self) -> dict[str, Any]:
        """Parameters of the probability model."""
        return self.section("lightgbm")

    @property
    def count_params(self) -> dict[str, Any]:
        """Parameters of the count model: `[lightgbm]` overridden by `[lightgbm_count]`."""
        return {**self.section("lightgbm"), **self.section("lightgbm_count")}

    @property
    def seed(self) -> int:
        return int(self.raw["lightgbm"].get("seed", 0))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: forecaster config file not found; give an existing .toml"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc.reason}); give a .toml") from exc
    except OSError as exc:  # a directory, no permission, ...
        raise ConfigError(
            f"{path}: cannot read the forecaster config ({exc.strerror or exc}); give a .toml file"
        ) from exc


def _merge(base: dict[str, Any], override: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown config key '{key}'; accepted: {sorted(base)}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: '{key}' must be a table, got {value!r}")
            if key in FREE_TABLES:
                out[key] = {**base[key], **value}
            else:
                out[key] = _merge(base[key], value, f"{where}[{key}]")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _validate(raw: dict[str, Any], where: str) -> None:
    version = raw.get("config_version")
    if version not in SUPPORTED_VERSIONS:
        raise ConfigError(
            f"{where}: config_version={version!r} is not supported; accepted: "
            f"{list(SUPPORTED_VERSIONS)}. Fix: start from models/lightgbm.toml"
        )
    for section, rules in _RULES.items():
        for key, (check, accepted) in rules.items():
            value = raw[section][key]
            if not check(value):
                raise ConfigError(
                    f"{where}: [{section}] {key}={value!r} is not accepted; accepted: {accepted}"
                )
    split = raw["split"]
    if split["validation_fraction"] + split["calibration_fraction"] >= 1:
        raise ConfigError(
            f"{where}: [split] validation_fraction + calibration_fraction = "
            f"{split['validation_fraction'] + split['calibration_fraction']!r} leaves no "
            "training rows; accepted: a sum below 1"
        )
    for table in FREE_TABLES:
        for key, value in raw[table].items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{where}: [{table}] {key}={value!r} must be finite")


def load_config(source: None | Mapping[str, Any] | str | Path = None) -> ForecasterConfig:
    """The packaged config, with `source` (a dict or a TOML path) deep-merged over it."""
    if isinstance(source, ForecasterConfig):
        return source
    base = _read_toml(DEFAULT_CONFIG_PATH)
    if source is None:
        raw, where = base, str(DEFAULT_CONFIG_PATH)
    elif isinstance(source, Mapping):
        raw, where = _merge(base, source, "config override"), "config override"
    elif isinstance(source, str | Path):
        path = Path(source)
        raw, where = _merge(base, _read_toml(path), str(path)), str(path)
    else:
        raise ConfigError(
            f"config={source!r} is not accepted; accepted: None, a dict, or the path of a "
            "TOML file shaped like models/lightgbm.toml"
        )
    if raw.get("config_version") in (1, 2, 3, 4) and source is not None:
        given = source if isinstance(source, Mapping) else _read_toml(Path(source))
        if "any_from_categories" not in given.get("stacking", {}):  # before the mix
            raw["stacking"] = {**raw["stacking"], "any_from_categories": 0.0}
        if raw["config_version"] == 3:  # its blend, unless it named one
            if "blend" not in given.get("stacking", {}):
                raw["stacking"] = {**raw["stacking"], "blend": list(VERSION_3_BLEND)}
        elif raw["config_version"] in (1, 2) and "stacking" not in given:
            raw["stacking"] = dict(BEFORE_STACKING)  # an old model's: trained without stacking
    _validate(raw, where)
    return ForecasterConfig(raw=raw, source=where)
