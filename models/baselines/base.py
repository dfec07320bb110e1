"""The estimator contract every baseline follows (scikit-learn style, like `sklearn/dummy.py`).

* The constructor stores its arguments unchanged; `fit` validates them against the class's
  `_constraints` table and raises `ValueError` naming the accepted values.
* `fit(events, grids, until)` learns from the events known at `until` and sets attributes
  ending in `_` (`grid_ids_` always); predicting before `fit` raises `risk.errors.NotFitted`.
* `predict_count(events, issue_times, horizon_hours)` -> (T, G) expected event count in
  `(t, t + h]` using only the events known at each `t`; columns follow the fitted `grids` rows,
  rows follow `issue_times` as given.
* `predict_proba` -> (T, G) `P(count >= 1) = 1 - exp(-count)` under a Poisson assumption.
  **Baselines are not calibrated**: their counts are classic hotspot scores put on a count
  scale, good for ranking, only roughly right in level.

Events of grids absent from `grids` are ignored. The caller filters events to one target
(category) or passes them all for `any`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from models.baselines.known import IndexedEvents, index_events, to_utc_ns
from risk.contract import HORIZON_HOURS
from risk.errors import NotFitted


@dataclass(frozen=True)
class Accepts:
    """One row of a parameter table: a predicate and the words that describe what it accepts."""

    check: Callable[[Any], bool]
    accepted: str


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def positive_number(value: object) -> bool:
    return _is_real(value) and math.isfinite(value) and value > 0


def positive_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0


def optional_aware_time(value: object) -> bool:
    if value is None:
        return True
    try:
        return pd.Timestamp(value).tz is not None
    except (TypeError, ValueError):
        return False


POSITIVE = Accepts(positive_number, "a finite number > 0")
POSITIVE_INT = Accepts(positive_int, "an integer >= 1")
OPTIONAL_START = Accepts(optional_aware_time, "None or a timezone-aware timestamp")


class Baseline:
    """Base class: parameter handling, input checks and the known-at-`t` plumbing."""

    name: ClassVar[str]
    _constraints: ClassVar[dict[str, Accepts]] = {}

    # --- scikit-learn style parameters -------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        for param, rule in self._constraints.items():
            value = getattr(self, param)
            if not rule.check(value):
                raise ValueError(
                    f"{self.name}: parameter {param}={value!r} is not accepted; "
                    f"accepted: {rule.accepted}"
                )

    # --- contract ------------------------------------------------------------------------------
    def fit(self, events: pd.DataFrame, grids: pd.DataFrame, until: pd.Timestamp) -> Self:
        """Validate parameters, remember the grids, and learn from the events known at `until`."""
        self._validate_params()
        until_ns = int(to_utc_ns(until, "until")[0])
        self.grid_ids_ = pd.Index(grids["grid_id"].astype(str).to_numpy())
        self.until_ = pd.Timestamp(until)
        self._fit(self._index(events).known_at(until_ns), grids, until_ns)
        return self

    def predict_count(
        self,
        events: pd.DataFrame,
        issue_times: pd.DatetimeIndex,
        horizon_hours: int = HORIZON_HOURS,
    ) -> np.ndarray:
        """(T, G) expected event count in `(t, t + horizon]`, from events known at each `t`."""
        if not hasattr(self, "grid_ids_"):
            raise NotFitted(f"{self.name}: call fit(events, grids, until) before predicting")
        if not positive_number(horizon_hours):
            raise ValueError(
                f"{self.name}: horizon_hours={horizon_hours!r} is not accepted; "
                f"accepted: {POSITIVE.accepted}"
            )
        times = to_utc_ns(issue_times, "issue_times")
        order = np.argsort(times, kind="stable")
        out = np.empty((len(times), len(self.grid_ids_)))
        if len(times):
            out[order] = self._predict(self._index(events), times[order], horizon_hours / 24.0)
        return out

    def predict_proba(
        self,
        events: pd.DataFrame,
        issue_times: pd.DatetimeIndex,
        horizon_hours: int = HORIZON_HOURS,
    ) -> np.ndarray:
        """(T, G) `P(>= 1 event) = 1 - exp(-count)` (Poisson). Not calibrated."""
        return -np.expm1(-self.predict_count(events, issue_times, horizon_hours))

    # --- for subclasses ------------------------------------------------------------------------
    def _start_ns(self) -> int | None:
        start = getattr(self, "start", None)
        return None if start is None else int(to_utc_ns(start, "start")[0])

    def _index(self, events: pd.DataFrame) -> IndexedEvents:
        return index_events(events, self.grid_ids_, self._start_ns())

    def _fit(self, known: IndexedEvents, grids: pd.DataFrame, until_ns: int) -> None:
        """Learn from the events known at `until` (default: nothing beyond the grids)."""

    def _predict(self, events: IndexedEvents, times: np.ndarray, horizon_days: float) -> np.ndarray:
        """(T, G) counts for issue times sorted ascending (int64 UTC ns)."""
        raise NotImplementedError
