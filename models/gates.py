"""Promotion gates on a backtest's ``metrics.json`` (DESIGN §6): pure checks, no MLflow.

Four gates per gated target (default ``any``), thresholds from ``models/gates.toml``:

1. **baseline** — per metric (``pr_auc``, ``pei@5``): the model is not worse than the best
   baseline (the oracle excluded) by more than the tolerance; with ``rule = "interval"`` (the
   default) a model behind on the pooled value still passes when the paired week-block
   bootstrap interval of its per-day lead over that baseline (``targets.<t>.paired`` in
   ``metrics.json``) reaches ``−tolerance`` — it is refused when *shown* worse, not when four
   weeks of noise put it behind (docs/adr/022-gates-on-intervals.md);
2. **segments** — no ``grid_type`` whose ``miss_rate@10`` exceeds the overall by more than
   the best baseline's excess on that grid type, plus ``max_excess`` (docs/adr/010-*): some
   grid types are harder for every method (the oracle itself misses more campus grids), so
   the model is held to what the classic methods achieve there, not to a flat line. The best
   baseline is the one with the lowest overall ``miss_rate@10``; with ``relative_to =
   "overall"`` (or no baseline with grid-type metrics) the reference excess is 0. Segments
   under ``min_rows`` rows are skipped, and the detail says so;
3. **calibration** — ``ece <= max_ece``;
4. **calibration by segment** — per segment kind listed (grid type and the population-make-up
   quartiles, docs/adr/020-fairness-by-segment.md), the model's *spread* — its worst
   segment's ``ece`` minus its overall ``ece`` — is at most the reference baseline's spread on
   the same segments plus ``max_excess``. The reference is the best-calibrated baseline (the
   lowest overall ``ece``); with ``relative_to = "overall"`` (or no baseline with segment
   ECEs) its spread counts as 0. Kinds absent from ``metrics.json`` (a grids file without
   ``floating_share``) and segments under ``min_rows`` rows are skipped, and the detail says
   so. When every segment is under ``min_rows`` (a small city) the gate passes with "too few
   to judge"; when no kind is there, or a large enough segment has no ece, it fails.

A comparison exactly at a threshold passes (a ``1e-9`` slack absorbs float noise such as
``0.431 - 0.426 = 0.00500000000000006``). A missing or undefined (``None``/NaN) number fails
its gate: a gate that cannot be checked does not pass.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from risk.errors import ConfigError
from risk.metrics import segment_key

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
    baseline_rule: str = "interval"  # or "point"
    segment_metric: str = "miss_rate@10"
    segment_max_excess: float = 0.05
    segment_min_rows: int = 0
    segment_relative_to: str = "best_baseline"  # or "overall"
    max_ece: float = 0.03
    ece_segment_kinds: tuple[str, ...] = (
        "grid_type",
        "elderly_share",
        "floating_share",
        "rental_share",
    )
    ece_segment_max_excess: float = 0.02
    ece_segment_min_rows: int = 1000
    ece_segment_relative_to: str = "best_baseline"  # or "overall"

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
        "rule": "baseline_rule",
    },
    "segments": {
        "metric": "segment_metric",
        "max_excess": "segment_max_excess",
        "min_rows": "segment_min_rows",
        "relative_to": "segment_relative_to",
    },
    "calibration": {"max_ece": "max_ece"},
    "segment_calibration": {
        "segments": "ece_segment_kinds",
        "max_excess": "ece_segment_max_excess",
        "min_rows": "ece_segment_min_rows",
        "relative_to": "ece_segment_relative_to",
    },
}
RELATIVE_TO = ("best_baseline", "overall")
BASELINE_RULES = ("interval", "point")


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
        if ok and f.name.endswith("relative_to"):
            ok, kind = value in RELATIVE_TO, f"string, one of {list(RELATIVE_TO)}"
        if ok and f.name == "baseline_rule":
            ok, kind = value in BASELINE_RULES, f"string, one of {list(BASELINE_RULES)}"
        if not ok:
            raise ConfigError(f"{path}: gate setting {f.name!r} must be a {kind}, got {value!r}")
        typed[f.name] = tuple(value) if isinstance(value, list) else value
    return GateConfig(**typed)


# ----------------------------------------------------------------------------- checks


def check_gates(metrics: Mapping[str, Any], config: GateConfig | None = None) -> list[GateResult]:
    """Every gate for every gated target, in a fixed order (baseline metrics, segments, ece,
    ece by segment)."""
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
        paired = metrics.get("targets", {}).get(target, {}).get("paired") or {}
        for metric in config.baseline_metrics:
            results.append(
                _baseline_gate(target, metric, model, baselines, config, paired.get(metric))
            )
        results.append(_segment_gate(target, model, baselines, config))
        results.append(_ece_gate(target, model, config))
        results.append(_segment_ece_gate(target, model, baselines, config))
    return results


def all_passed(results: list[GateResult]) -> bool:
    return bool(results) and all(r.passed for r in results)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _scored(baselines: Mapping[str, Any], metric: str) -> dict[str, float]:
    """Each baseline's ``metric``, those with a number only."""
    values = {b: _number(m.get(metric)) for b, m in baselines.items() if isinstance(m, Mapping)}
    return {b: v for b, v in values.items() if v is not None}


def _baseline_gate(
    target: str,
    metric: str,
    model: Mapping[str, Any],
    baselines: Mapping[str, Any],
    config: GateConfig,
    paired: Mapping[str, Any] | None = None,
) -> GateResult:
    name = f"baseline {metric} [{target}]"
    own = _number(model.get(metric))
    if own is None:
        return GateResult(name, False, f"{metric} of {config.model} is missing or undefined")
    scored = _scored(baselines, metric)
    if not scored:
        return GateResult(name, False, f"no baseline has a {metric} to compare against")
    best = max(scored, key=lambda b: scored[b])
    tol = config.baseline_tolerance
    passed = own >= scored[best] - tol - SLACK
    sign = "≥" if passed else "<"
    detail = f"{metric} {own:.3f} {sign} best baseline {best} {scored[best]:.3f} − {tol:g}"
    if passed or config.baseline_rule != "interval":
        return GateResult(name, passed, detail)
    # Behind on the pooled value: refused only when the paired week-block interval shows it
    # (docs/adr/022-gates-on-intervals.md); a backtest without intervals stays refused.
    pair = (paired or {}).get(best) if isinstance(paired, Mapping) else None
    high = _number(pair.get("high")) if isinstance(pair, Mapping) else None
    if high is None:
        return GateResult(name, False, detail + "; no paired interval in metrics.json")
    low, diff = _number(pair.get("low")), _number(pair.get("mean_diff"))
    shown = high < -tol - SLACK
    what = "shown worse" if shown else "not shown worse"
    detail += (
        f"; {what}: per-day difference {diff:+.4f} over {pair.get('n_days')} issue days, "
        f"90 % week-block interval [{low:+.4f}, {high:+.4f}]"
        f" {'<' if shown else 'reaches'} −{tol:g}"
    )
    return GateResult(name, not shown, detail)


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


def _ece_spread(
    block: Mapping[str, Any], overall: float, only: Iterable[str] | None = None
) -> tuple[str, float] | None:
    """(segment, its ece − overall) of the segment with the highest ece among ``only`` (all
    when None); None when no segment has an ece."""
    values = {s: _number(m.get("ece")) for s, m in block.items() if isinstance(m, Mapping)}
    values = {s: v for s, v in values.items() if v is not None and (only is None or s in only)}
    if not values:
        return None
    worst = max(sorted(values), key=lambda s: values[s])
    return worst, values[worst] - overall


def _ece_reference(baselines: Mapping[str, Any], config: GateConfig) -> tuple[str, float] | None:
    """(name, overall ece) of the best-calibrated baseline, or None (none has an ece, or
    ``relative_to = "overall"``)."""
    if config.ece_segment_relative_to != "best_baseline":
        return None
    scored = _scored(baselines, "ece")
    if not scored:
        return None
    best = min(sorted(scored), key=lambda name: scored[name])
    return best, scored[best]


def _segment_ece_gate(
    target: str,
    model: Mapping[str, Any],
    baselines: Mapping[str, Any],
    config: GateConfig,
) -> GateResult:
    name = f"calibration by segment [{target}]"
    tol, min_rows = config.ece_segment_max_excess, config.ece_segment_min_rows
    overall = _number(model.get("ece"))
    if overall is None:
        return GateResult(name, False, f"ece of {config.model} is missing or undefined")
    ref = _ece_reference(baselines, config)
    passed, worse, skipped = [], [], []
    present = undefined = False  # any kind in metrics.json; a large enough segment, no ece
    for kind in config.ece_segment_kinds:
        block = model.get(segment_key(kind))
        if not isinstance(block, Mapping) or not block:
            skipped.append(f"{kind} (not in metrics.json)")
            continue
        present = True
        small = sorted(s for s, m in block.items() if int(m.get("rows", 0) or 0) < min_rows)
        if small:
            skipped.append(f"{kind} {', '.join(small)} (< {min_rows} rows)")
        kept = {s: m for s, m in block.items() if s not in small}
        own = _ece_spread(kept, overall)
        if own is None:
            if kept:
                undefined = True
                skipped.append(f"{kind} (no segment with an ece)")
            continue
        allowed, against = tol, f"{tol:g}"
        if ref is not None:
            theirs = _ece_spread(baselines[ref[0]].get(segment_key(kind)) or {}, ref[1], kept)
            if theirs is not None:
                allowed += max(theirs[1], 0.0)
                against = f"{ref[0]}'s {max(theirs[1], 0.0):.3f} + {tol:g}"
            else:
                against = f"{tol:g} ({ref[0]} has no {kind} ece)"
        segment, spread = own
        ok = spread <= allowed + SLACK
        (passed if ok else worse).append(
            f"{kind} {segment} ece {overall + spread:.3f} − overall {overall:.3f} = "
            f"{spread:.3f} {'≤' if ok else '>'} {against}"
        )
    # nothing checked, yet a kind was there and no large segment lacked an ece: every segment
    # is under min_rows — too little data to judge is not held against the model
    small_only = present and not undefined and not passed and not worse
    if worse:
        detail = "calibration uneven across segments: " + "; ".join(worse)
    elif passed:
        detail = "spread of ece over segments within the allowance: " + "; ".join(passed)
    elif small_only:
        detail = f"every segment has fewer than {min_rows} rows: too few to judge, not checked"
    else:
        detail = "no segment could be checked for ece"
    if ref is None:
        detail += f"; no baseline to compare, so the allowance is the flat {tol:g}"
    if skipped:
        detail += "; skipped: " + ", ".join(skipped)
    return GateResult(name, not worse and (bool(passed) or small_only), detail)
