"""Promotion gates on a backtest's ``metrics.json`` (DESIGN §6): pure checks, no MLflow.

Three gates per gated target (default ``any``), thresholds from ``models/gates.toml``:

1. **baseline** — per metric (``pr_auc``, ``pei@5``): the model is not worse than the best
   baseline (the oracle excluded) by more than the tolerance;
2. **segments** — no ``grid_type`` whose ``miss_rate@10`` exceeds the overall by more than
   the best baseline's excess on that grid type, plus ``max_excess`` (docs/adr/010-*): some
   grid types are harder for every method (the oracle itself misses more campus grids), so
   the model is held to what the classic methods achieve there, not to a flat line. The best
   baseline is the one with the lowest overall ``miss_rate@10``; with ``relative_to =
   "overall"`` (or no baseline with grid-type metrics) the reference excess is 0. Segments
   under ``min_rows`` rows are skipped, and the detail says so;
3. **calibration** — ``ece <= max_ece``.

A comparison exactly at a threshold passes (a ``1e-9`` slack absorbs float noise such as
``0.431 - 0.426 = 0.00500000000000006``). A missing or undefined (``None``/NaN) number fails
its gate: a gate that cannot be checked does not pass.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from risk.errors import ConfigError

DEFAULT_GATES_FILE = Path(__file__).with_name("gates.toml")
SLACK = 1e-9


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the promotion gates; defaults equal ``models/gates.toml``."""

    model: str = "lightgbm"
    targets: tuple[str, ...] = ("any",)
    baseline_metrics: tuple[str, ...] = ("pr_auc", "pei@5")
    baseline_tolerance: float = 0.005
    exclude_baselines: tuple[str, ...] = ("oracle",)
    segment_metric: str = "miss_rate@10"
    segment_max_excess: float = 0.05
    segment_min_rows: int = 0
    segment_relative_to: str = "best_baseline"  # or "overall"
    max_ece: float = 0.03

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict; ``detail`` states the numbers in plain words."""

    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GateResult:
        return cls(name=str(d["name"]), passed=bool(d["passed"]), detail=str(d["detail"]))


# ----------------------------------------------------------------------------- config

# toml section -> {toml key: GateConfig field}
_TOML_KEYS: dict[str | None, dict[str, str]] = {
    None: {"model": "model", "targets": "targets"},
    "baseline": {
        "metrics": "baseline_metrics",
        "tolerance": "baseline_tolerance",
        "exclude": "exclude_baselines",
    },
    "segments": {
        "metric": "segment_metric",
        "max_excess": "segment_max_excess",
        "min_rows": "segment_min_rows",
        "relative_to": "segment_relative_to",
    },
    "calibration": {"max_ece": "max_ece"},
}


def load_gate_config(path: Path | None = None) -> GateConfig:
    """Read gate thresholds from a TOML file (default ``models/gates.toml``).

    Keys left out keep their defaults; an unknown key or a badly typed value raises
    ``ConfigError`` naming the file and key.
    """
    path = Path(path) if path is not None else DEFAULT_GATES_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: gate config not found; pass an existing TOML file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict) and key in _TOML_KEYS:
            table = _TOML_KEYS[key]
            for sub, subvalue in value.items():
                if sub not in table:
                    raise ConfigError(
                        f"{path}: unknown key [{key}] {sub!r}; accepted: {sorted(table)}"
                    )
                values[table[sub]] = subvalue
        elif key in _TOML_KEYS[None]:
            values[_TOML_KEYS[None][key]] = value
        else:
            accepted = sorted(_TOML_KEYS[None]) + [f"[{s}]" for s in _TOML_KEYS if s]
            raise ConfigError(f"{path}: unknown key {key!r}; accepted: {accepted}")
    return _typed_config(values, path)


def _typed_config(values: dict[str, Any], path: Path) -> GateConfig:
    defaults = GateConfig()
    typed: dict[str, Any] = {}
    for f in fields(GateConfig):
        if f.name not in values:
            continue
        value, default = values[f.name], getattr(defaults, f.name)
        if isinstance(default, tuple):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            kind = "list of strings"
        elif isinstance(default, str):
            ok, kind = isinstance(value, str), "string"
        else:
            number = isinstance(value, int | float) and not isinstance(value, bool)
            ok, kind = number and value >= 0, "non-negative number"
        if not ok:
            raise ConfigError(f"{path}: gate setting {f.name!r} must be a {kind}, got {value!r}")
        typed[f.name] = tuple(value) if isinstance(value, list) else value
    return GateConfig(**typed)


# ----------------------------------------------------------------------------- checks


def check_gates(metrics: Mapping[str, Any], config: GateConfig | None = None) -> list[GateResult]:
    """Every gate for every gated target, in a fixed order (baseline metrics, segments, ece)."""
    config = config or GateConfig()
    results: list[GateResult] = []
    for target in config.targets:
        models = metrics.get("targets", {}).get(target, {}).get("models", {})
        model = models.get(config.model)
        if not isinstance(model, Mapping) or not model:
            results.append(
                GateResult(
                    f"metrics[{target}]",
                    False,
                    f"no {config.model} metrics for target {target} in metrics.json",
                )
            )
            continue
        baselines = {
            name: m
            for name, m in models.items()
            if name != config.model and name not in config.exclude_baselines
        }
        for metric in config.baseline_metrics:
            results.append(_baseline_gate(target, metric, model, baselines, config))
        results.append(_segment_gate(target, model, baselines, config))
        results.append(_ece_gate(target, model, config))
    return results


def all_passed(results: list[GateResult]) -> bool:
    return bool(results) and all(r.passed for r in results)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _baseline_gate(
    target: str,
    metric: str,
    model: Mapping[str, Any],
    baselines: Mapping[str, Any],
    config: GateConfig,
) -> GateResult:
    name = f"baseline {metric} [{target}]"
    own = _number(model.get(metric))
    if own is None:
        return GateResult(name, False, f"{metric} of {config.model} is missing or undefined")
    scored = {b: _number(m.get(metric)) for b, m in baselines.items() if isinstance(m, Mapping)}
    scored = {b: v for b, v in scored.items() if v is not None}
    if not scored:
        return GateResult(name, False, f"no baseline has a {metric} to compare against")
    best = max(scored, key=lambda b: scored[b])
    tol = config.baseline_tolerance
    passed = own >= scored[best] - tol - SLACK
    sign = "≥" if passed else "<"
    detail = f"{metric} {own:.3f} {sign} best baseline {best} {scored[best]:.3f} − {tol:g}"
    return GateResult(name, passed, detail)


def _reference(
    baselines: Mapping[str, Any], config: GateConfig
) -> tuple[str | None, float, dict[str, float]]:
    """(name, overall, {segment: value}) of the baseline with the lowest overall segment
    metric among those with grid-type metrics; (None, nan, {}) when none qualifies."""
    metric = config.segment_metric
    best: tuple[str | None, float, dict[str, float]] = (None, math.nan, {})
    if config.segment_relative_to != "best_baseline":
        return best
    for name, m in baselines.items():
        if not isinstance(m, Mapping):
            continue
        overall = _number(m.get(metric))
        segments = m.get("by_segment") or {}
        if overall is None or not segments:
            continue
        if best[0] is None or overall < best[1]:
            values = {s: _number(v.get(metric)) for s, v in segments.items()}
            best = (name, overall, {s: v for s, v in values.items() if v is not None})
    return best


def _segment_gate(
    target: str,
    model: Mapping[str, Any],
    baselines: Mapping[str, Any],
    config: GateConfig,
) -> GateResult:
    metric, excess = config.segment_metric, config.segment_max_excess
    name = f"grid_type {metric} [{target}]"
    overall = _number(model.get(metric))
    segments = model.get("by_segment") or {}
    if overall is None:
        return GateResult(name, False, f"overall {metric} is missing or undefined")
    if not segments:
        return GateResult(name, False, f"no by_segment (grid_type) metrics to check {metric}")
    ref_name, ref_overall, ref_segments = _reference(baselines, config)
    worse, skipped, checked = [], [], []
    for seg, m in sorted(segments.items()):
        rows = int(m.get("rows", 0) or 0)
        value = _number(m.get(metric))
        if rows < config.segment_min_rows:
            skipped.append(f"{seg} ({rows} rows < {config.segment_min_rows})")
        elif value is None:
            skipped.append(f"{seg} ({metric} undefined)")
        else:
            allowed = excess
            if ref_name is not None and seg in ref_segments:
                allowed += max(ref_segments[seg] - ref_overall, 0.0)
            checked.append((seg, value, allowed))
            if value > overall + allowed + SLACK:
                worse.append(f"{seg} {value:.3f} > overall {overall:.3f} + {allowed:.3g}")
    if worse:
        detail = f"{metric} too high for grid_type " + "; ".join(worse)
    elif checked:
        seg, value, allowed = max(checked, key=lambda sv: sv[1] - sv[2])
        detail = (
            f"worst grid_type {seg} {metric} {value:.3f} ≤ overall {overall:.3f} + {allowed:.3g}"
            f" ({len(checked)} checked)"
        )
    else:
        detail = f"no grid_type could be checked for {metric}"
    if ref_name is not None:
        detail += (
            f"; allowed = {excess:g} + {ref_name}'s own excess on that grid type "
            f"(its overall {ref_overall:.3f})"
        )
    elif config.segment_relative_to == "best_baseline":
        detail += (
            "; no baseline has grid_type metrics, so the allowance is the flat " + f"{excess:g}"
        )
    if skipped:
        detail += "; skipped: " + ", ".join(skipped)
    return GateResult(name, bool(checked) and not worse, detail)


def _ece_gate(target: str, model: Mapping[str, Any], config: GateConfig) -> GateResult:
    name = f"calibration ece [{target}]"
    value = _number(model.get("ece"))
    if value is None:
        return GateResult(name, False, f"ece of {config.model} is missing or undefined")
    passed = value <= config.max_ece + SLACK
    sign = "≤" if passed else ">"
    return GateResult(name, passed, f"ece {value:.3f} {sign} {config.max_ece:g}")
