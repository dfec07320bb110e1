"""Health thresholds of scoring runs and the judgement of one run against them (issue 17).

The numbers come from `risk.drift` (PSI, inputs missing or out of range) and, once a run's
window has closed, `risk.accuracy.realised_calibration` (ECE). The thresholds live in one
TOML (`risk/health.toml`; ``RISK_HEALTH_FILE`` names another, `risk.settings.Settings`):
``[psi.score]``, ``[psi.family]``, ``[inputs.missing]``, ``[inputs.out_of_range]`` and
``[calibration.ece]``, each with ``warn`` ≤ ``alert``; a value strictly above a level passes
it. A run is ``alert`` if any value passes its alert level, else ``warn`` if any passes its
warn level, else ``ok``; ``unknown`` when the model carries no drift reference (trained
before it existed) and nothing else was judged.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from risk.errors import ConfigError

HEALTH_FILE = Path(__file__).with_name("health.toml")
OK, WARN, ALERT, UNKNOWN = "ok", "warn", "alert", "unknown"
STATUSES = (OK, WARN, ALERT, UNKNOWN)
# metric -> (TOML section, words for people)
METRICS = {
    "score_psi": (("psi", "score"), "score PSI"),
    "family_psi": (("psi", "family"), "feature family PSI"),
    "missing_share": (("inputs", "missing"), "grids with missing inputs"),
    "out_of_range_share": (("inputs", "out_of_range"), "grids with inputs out of range"),
    "ece": (("calibration", "ece"), "realised ECE"),
}


@dataclass(frozen=True)
class Limit:
    warn: float
    alert: float

    def severity(self, value: float | None) -> str | None:
        if value is None or not math.isfinite(value):
            return None
        if value > self.alert:
            return ALERT
        if value > self.warn:
            return WARN
        return None


@dataclass(frozen=True)
class HealthConfig:
    limits: dict[str, Limit]  # metric (`METRICS`) -> levels
    ece_min_rows: int
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "limits": {k: asdict(v) for k, v in self.limits.items()},
            "ece_min_rows": self.ece_min_rows,
            "source": self.source,
        }


def load_health_config(path: Path | str | None = None) -> HealthConfig:
    """The thresholds of ``path`` (default `HEALTH_FILE`); `ConfigError` naming the file and
    the section for anything missing or out of order."""
    path = Path(path) if path is not None else HEALTH_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: health thresholds not found; give an existing TOML") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the health thresholds ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    limits: dict[str, Limit] = {}
    for metric, ((group, name), _) in METRICS.items():
        section = (raw.get(group) or {}).get(name)
        where = f"[{group}.{name}]"
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: section {where} is missing; it needs warn and alert")
        values = []
        for key in ("warn", "alert"):
            value = section.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{path}: {where} {key} must be a number >= 0 (got {value!r})")
            values.append(float(value))
        if values[0] > values[1]:
            raise ConfigError(f"{path}: {where} warn {values[0]} is above alert {values[1]}")
        limits[metric] = Limit(*values)
    min_rows = (raw.get("calibration") or {}).get("ece", {}).get("min_rows", 200)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise ConfigError(f"{path}: [calibration.ece] min_rows must be an integer >= 1")
    return HealthConfig(limits, min_rows, str(path))


@dataclass(frozen=True)
class Breach:
    """One value past a threshold. ``run_id``: the run it was measured on when that is not
    the run being judged (a realised ECE belongs to an earlier run)."""

    metric: str
    key: str | None  # the target or the feature family
    value: float
    severity: str  # WARN or ALERT
    threshold: float
    run_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """In words, e.g. ``score PSI [any] 0.312 > alert level 0.25``."""
        words = METRICS[self.metric][1]
        key = f" [{self.key}]" if self.key else ""
        run = f" (run {self.run_id})" if self.run_id else ""
        return f"{words}{key}{run} {self.value:.3f} > {self.severity} level {self.threshold:g}"


def _breach(metric: str, key: str | None, value: Any, config: HealthConfig, run_id=None):
    if value is None:
        return None
    limit = config.limits[metric]
    severity = limit.severity(float(value))
    if severity is None:
        return None
    threshold = limit.alert if severity == ALERT else limit.warn
    return Breach(metric, key, float(value), severity, threshold, run_id)


def assess(
    drift: Mapping[str, Any] | None,
    realised: Mapping[str, Mapping[str, Mapping[str, Any]]] | None,
    config: HealthConfig,
) -> list[Breach]:
    """Every value past a threshold, alerts first (then in the order of `METRICS`).

    ``drift``: `risk.drift.RunDrift.as_dict()` of the run (None without a reference);
    ``realised``: per earlier run id, per target, ``{"ece": …, "n": …}`` of the runs whose
    window closed by this run (targets with fewer than ``ece_min_rows`` grids are skipped)."""
    found: list[Breach | None] = []
    if drift:
        found += [_breach("score_psi", t, v, config) for t, v in drift["score_psi"].items()]
        found += [_breach("family_psi", f, v, config) for f, v in drift["family_psi"].items()]
        found.append(_breach("missing_share", None, drift.get("missing_share"), config))
        found.append(_breach("out_of_range_share", None, drift.get("out_of_range_share"), config))
    for run_id, targets in (realised or {}).items():
        for target, cal in targets.items():
            if int(cal.get("n") or 0) >= config.ece_min_rows:
                found.append(_breach("ece", target, cal.get("ece"), config, run_id))
    order = list(METRICS)
    breaches = [b for b in found if b is not None]
    return sorted(breaches, key=lambda b: (b.severity != ALERT, order.index(b.metric)))


def status_of(breaches: Iterable[Breach], judged: bool = True) -> str:
    """``alert`` / ``warn`` / ``ok``; ``unknown`` when nothing could be judged."""
    severities = {b.severity for b in breaches}
    if ALERT in severities:
        return ALERT
    if WARN in severities:
        return WARN
    return OK if judged else UNKNOWN


__all__ = [
    "ALERT",
    "HEALTH_FILE",
    "METRICS",
    "OK",
    "STATUSES",
    "UNKNOWN",
    "WARN",
    "Breach",
    "HealthConfig",
    "Limit",
    "assess",
    "load_health_config",
    "status_of",
]
