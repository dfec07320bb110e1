"""The LightGBM 72-hour forecaster (DESIGN §4; docs/adr/004-forecaster.md).

Input: a feature frame as `features.build.build_features(...).frame` makes it — `grid_id`,
tz-aware `issue_time`, feature columns, and `count_<target>` / `label_<target>` per target.
Features are the explicit `feature_names`, or every column except `grid_id`, `issue_time`,
`count_*` and `label_*`.

`fit` cuts the distinct issue times into [train] gap [validation] gap [calibration]
(`time_split`): the probability model (objective `binary`) and the count model (objective
`poisson`) train on the first slice with early stopping on the second; the calibrator is
chosen and fitted on the last. The first slice may be thinned to every k-th issue time
(`[training] issue_time_stride`; neighbouring daily rows share most of their window).
Targets fitted on the same frame can share one binned copy of its training and validation
rows (`SharedBins`): LightGBM bins the features once, and each target takes its rows as a
subset with its own labels — the binning is most of a fit's cost beside the boosting itself.
Hyper-parameters come from `models/lightgbm.toml` (`models.config`), none are tuned here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.base import BaseEstimator

from models import stacking
from models.blend import PoissonBlend
from models.calibration import IdentityCalibrator, select_calibrator
from models.config import ForecasterConfig, load_config
from models.covers import recount_covers
from models.distributed import FitRows, train_on_cluster
from risk.contract import ANY_TARGET, HORIZON_HOURS
from risk.errors import ConfigError, ContractError, NotFitted
from risk.levels import levels_at, operating_points

KEY_COLUMNS = ("grid_id", "issue_time")
LABEL_PREFIXES = ("count_", "label_")
NS_PER_HOUR = 3_600 * 10**9
REFERENCE_ROWS = 20_000  # plain training rows that set the SHAP covers (models.covers)
BLEND_ROWS = 200_000  # training rows the blend is fitted on, at most
CALIBRATION_ROWS = 100_000  # calibration-slice rows a calibrator is chosen and fitted on
SHORT_HISTORY_FIX = (  # the end of the time split's errors (too little history)
    "the model needs more history before the time it is fitted for. Fix: a file with a longer "
    "history, a later `risk backtest --start` or `risk train --until`, or lower [split] "
    "validation_fraction / calibration_fraction / min_issue_times in models/lightgbm.toml "
    "(or --config)"
)


# ----------------------------------------------------------------------------- frame helpers


def feature_columns(frame: pd.DataFrame, feature_names: list[str] | None = None) -> list[str]:
    """`feature_names` checked against the frame, or every non-key, non-label column."""
    if feature_names is None:
        return [
            c
            for c in frame.columns
            if c not in KEY_COLUMNS and not str(c).startswith(LABEL_PREFIXES)
        ]
    missing = [c for c in feature_names if c not in frame.columns]
    if missing:
        raise ContractError(
            "feature column missing from the feature frame",
            field=missing[0],
            fix="build the frame with the same feature spec the model was trained on",
        )
    return list(feature_names)


def targets_in(frame: pd.DataFrame) -> list[str]:
    """Targets with a `label_<target>` column, in frame order."""
    return [c.removeprefix("label_") for c in frame.columns if str(c).startswith("label_")]


def issue_ns(frame: pd.DataFrame) -> np.ndarray:
    """The `issue_time` column as int64 UTC nanoseconds; refuses naive or missing times."""
    if "issue_time" not in frame.columns:
        raise ContractError(
            "the feature frame has no issue_time column",
            field="issue_time",
            fix="pass the frame built by features.build.build_features",
        )
    index = pd.DatetimeIndex(frame["issue_time"])
    if index.tz is None:
        raise ContractError(
            "issue times must be timezone-aware",
            field="issue_time",
            fix="localise them to the city time zone (e.g. Asia/Shanghai)",
        )
    if index.hasnans:
        raise ContractError("issue_time holds a missing value", field="issue_time")
    return index.as_unit("ns").asi8


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        raise ContractError(
            "label column missing from the feature frame",
            field=name,
            fix="build the frame with this target (FeatureSpec.targets) or pick another target",
        )
    return frame[name].to_numpy()


class NothingToLearn(ConfigError):
    """A target has no event in its training rows: no model can be fitted for it."""

    def __init__(self, target: str, rows: int, before: str) -> None:
        self.target, self.rows, self.before = target, rows, before
        super().__init__(
            f"target '{target}' has no event in the {rows} training rows (issue times before "
            f"{before}); nothing to learn. Give a longer date range or leave this target out"
        )


# ----------------------------------------------------------------------------- the time split


@dataclass(frozen=True)
class TimeSplit:
    """Row masks of the three slices and the issue times that open the later two."""

    train: np.ndarray
    valid: np.ndarray
    calib: np.ndarray
    valid_start_ns: int
    calib_start_ns: int | None

    def summary(self) -> dict[str, Any]:
        def stamp(ns: int | None) -> str | None:
            return None if ns is None else pd.Timestamp(ns, tz="UTC").isoformat()

        return {
            "train_rows": int(self.train.sum()),
            "valid_rows": int(self.valid.sum()),
            "calib_rows": int(self.calib.sum()),
            "dropped_rows": int((~(self.train | self.valid | self.calib)).sum()),
            "valid_start": stamp(self.valid_start_ns),
            "calib_start": stamp(self.calib_start_ns),
        }


def time_split(
    issue_time_ns: np.ndarray,
    horizon_hours: float = HORIZON_HOURS,
    validation_fraction: float = 0.15,
    calibration_fraction: float = 0.15,
    min_issue_times: int = 2,
) -> TimeSplit:
    """Split rows by issue time into train | validation | calibration, with horizon gaps.

    Of the `m` distinct issue times the last `ceil(calibration_fraction · m)` open the
    calibration slice and the `ceil(validation_fraction · m)` before them the validation slice
    (each at least `min_issue_times`; calibration 0 when its fraction is 0). A row at `t` stays
    in the training (validation) slice only if its label window `(t, t + horizon]` closes at or
    before the first validation (calibration) issue time; the rows in between are dropped, so
    no label of an earlier slice holds an event of a later slice's period.
    """
    t = np.asarray(issue_time_ns, dtype=np.int64)
    distinct = np.unique(t)
    m = len(distinct)
    n_cal = (
        0
        if calibration_fraction == 0
        else max(min_issue_times, math.ceil(calibration_fraction * m))
    )
    n_val = max(min_issue_times, math.ceil(validation_fraction * m))
    gap = int(round(horizon_hours * NS_PER_HOUR))
    if n_cal + n_val >= m:
        raise ConfigError(
            f"{m} training issue days are too few for {n_val} validation and {n_cal} "
            f"calibration days plus training: {SHORT_HISTORY_FIX}"
        )
    valid_start = int(distinct[m - n_cal - n_val])
    calib_start = int(distinct[m - n_cal]) if n_cal else None
    train = t + gap <= valid_start
    if calib_start is None:
        valid, calib = t >= valid_start, np.zeros(len(t), dtype=bool)
    else:
        valid = (t >= valid_start) & (t + gap <= calib_start)
        calib = t >= calib_start
    if not train.any() or not valid.any():
        empty = "training" if not train.any() else "validation"
        raise ConfigError(
            f"the {m} training issue days leave the {empty} slice empty once rows whose "
            f"{horizon_hours} h window overlaps the next slice are dropped: {SHORT_HISTORY_FIX}"
        )
    return TimeSplit(train, valid, calib, valid_start, calib_start)


def every_kth_issue_time(issue_time_ns: np.ndarray, stride: int) -> np.ndarray:
    """Row mask keeping the rows of every `stride`-th distinct issue time, counted back from
    the latest (which is always kept); `stride` 1 keeps every row."""
    t = np.asarray(issue_time_ns, dtype=np.int64)
    if stride <= 1 or t.size == 0:
        return np.ones(t.size, dtype=bool)
    distinct = np.unique(t)
    kept = distinct[::-1][::stride]
    return np.isin(t, kept)


def sampling_rate(label: np.ndarray, sampling: dict[str, Any]) -> float:
    """The share of negatives to keep: `negative_sample_rate`, lowered for rare targets so that
    at most `max_negatives_per_positive` negatives are kept per positive (cost scales with rows,
    while the information sits mostly in the positives)."""
    rate = float(sampling["negative_sample_rate"])
    ratio = sampling.get("max_negatives_per_positive")
    positives = int((np.asarray(label) >= 1).sum())
    negatives = len(label) - positives
    if ratio is not None and negatives > 0 and positives > 0:
        rate = min(rate, ratio * positives / negatives)
    return min(rate, 1.0)


def negative_sample(label: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep every positive and each negative with probability `rate` (seeded); kept negatives
    weigh `1 / rate`, so weighted sums — and the fitted base rate — stay unbiased.

    Returns (indices of kept rows, their weights)."""
    label = np.asarray(label)
    u = np.random.default_rng(seed).random(len(label))
    keep = np.flatnonzero((label >= 1) | (u < rate))
    weight = np.where(label[keep] >= 1, 1.0, 1.0 / rate)
    return keep, weight


# ----------------------------------------------------------------------------- the estimator


@dataclass
class SharedBins:
    """One frame's training rows (thinned by `issue_time_stride`) and validation rows, binned
    once by LightGBM for every target fitted on that frame with the same feature list
    (`LightGBMForecaster.fit(frame, bins=...)`). Build with :meth:`build`; the bin edges come
    from the whole training slice, not from one target's negative-sampled rows. Labels (and
    offsets) are set per target, so fits that share these bins run one after another, never
    concurrently."""

    n_rows: int
    feature_names: list[str]
    times: np.ndarray
    split: TimeSplit
    stride: int
    train_idx: np.ndarray
    train_set: lgb.Dataset
    valid_set: lgb.Dataset

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        config: None | dict[str, Any] | str = None,
        feature_names: list[str] | None = None,
        horizon_hours: int = HORIZON_HOURS,
        train_keep: np.ndarray | None = None,
    ) -> SharedBins:
        """Bin the (thinned) training rows and the validation rows; `train_keep` (positions
        among the thinned training rows, e.g. one target's negative sample) bins only those:
        fewer rows to bin when the bins serve a single target."""
        cfg = load_config(config)
        names = feature_columns(frame, feature_names)
        times = issue_ns(frame)
        split, train_idx, stride = thinned_split(times, cfg, horizon_hours)
        if train_keep is not None:
            train_idx = train_idx[train_keep]
        valid_idx = np.flatnonzero(split.valid)
        cols = frame.columns.get_indexer(names)
        params = cfg.lightgbm_params
        # A placeholder label: LightGBM copies labels into subsets; each fit sets its own.
        train_set = lgb.Dataset(
            frame.iloc[train_idx, cols],
            label=np.zeros(len(train_idx)),
            params=params,
            free_raw_data=True,
        ).construct()
        valid_set = lgb.Dataset(
            frame.iloc[valid_idx, cols],
            label=np.zeros(len(valid_idx)),
            reference=train_set,
            params=params,
            free_raw_data=True,
        ).construct()
        return cls(len(frame), names, times, split, stride, train_idx, train_set, valid_set)

    def check(self, frame: pd.DataFrame, names: list[str], times: np.ndarray) -> None:
        """Refuse bins built from another frame or feature list."""
        if len(frame) != self.n_rows or names != self.feature_names:
            raise ValueError(
                f"bins were built for {self.n_rows} rows and {len(self.feature_names)} features, "
                f"not {len(frame)} rows and {len(names)} features; build them from this frame"
            )
        if not np.array_equal(times, self.times):
            raise ValueError("bins were built from a frame with other issue times")

    def datasets(
        self,
        keep: np.ndarray | None,
        y: np.ndarray,
        w: np.ndarray | None,
        y_val: np.ndarray,
        init: np.ndarray | None = None,
        init_val: np.ndarray | None = None,
    ) -> tuple[lgb.Dataset, lgb.Dataset]:
        """The training rows `keep` (positions in `train_idx`; None: all of them) with labels
        `y`, weights `w` and offsets `init`, and the validation rows with labels `y_val` and
        offsets `init_val`."""
        train_set = self.train_set if keep is None else self.train_set.subset(keep).construct()
        train_set.set_label(y)
        if w is not None:
            train_set.set_weight(w)
        train_set.set_init_score(init)
        self.valid_set.set_label(y_val)
        self.valid_set.set_init_score(init_val)
        return train_set, self.valid_set


def thinned_split(
    times: np.ndarray, cfg: ForecasterConfig, horizon_hours: int
) -> tuple[TimeSplit, np.ndarray, int]:
    """The time split, the training rows thinned to every `issue_time_stride`-th issue time,
    and the stride."""
    split = time_split(times, horizon_hours, **cfg.section("split"))
    stride = int(cfg.section("training").get("issue_time_stride", 1))
    train_idx = np.flatnonzero(split.train)
    return split, train_idx[every_kth_issue_time(times[train_idx], stride)], stride


def _train(
    params: dict[str, Any],
    train_set: lgb.Dataset,
    valid_set: lgb.Dataset,
    training: dict[str, Any],
) -> lgb.Booster:
    return lgb.train(
        params,
        train_set,
        num_boost_round=training["num_boost_round"],
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(training["early_stopping_rounds"], verbose=False)],
    )


def _best(booster: lgb.Booster) -> int:
    return int(booster.best_iteration or booster.current_iteration())


# ----------------------------------------------------------------------------- stacking helpers


def _suffix_target(name: str, targets: list[str]) -> str | None:
    """The target a per-target feature belongs to (`events_7d_fire_hazard` -> `fire_hazard`);
    the longest matching suffix wins; None for a shared feature (calendar, area, ...)."""
    matches = [t for t in targets if name.endswith(f"_{t}")]
    return max(matches, key=len) if matches else None


def select_features(names: list[str], target: str, targets: list[str], mode: str) -> list[str]:
    """`mode` "all": every feature. "target": the shared features (calendar, area, population,
    reporting, ...), those of `target` and of `any`, and the classic self-excitation of every
    category (what one category says about another); other categories' history is left out."""
    if mode == "all" or not targets:
        return list(names)
    keep = []
    for name in names:
        owner = _suffix_target(name, targets)
        if (
            owner is None
            or owner in (target, ANY_TARGET)
            or name.startswith(stacking.column("self", ""))
        ):
            keep.append(name)
    return keep


def tree_features(
    names: list[str], target: str, targets: list[str], stack: dict[str, Any]
) -> list[str]:
    """The features the trees of `target` split on, by the `[stacking]` section."""
    chosen = select_features(names, target, targets, stack["features"])
    if stack["classic_features"]:
        return chosen
    return [n for n in chosen if not n.startswith(stacking.PREFIX)]


def blend_columns(
    names: list[str], target: str, targets: list[str], kinds: list[str] | tuple[str, ...]
) -> list[str]:
    """The classic components the blend of `target` weighs: its own components of `kinds`
    and, with "cross", the self-excitation of every other category and for a category the
    steadied rate of `any` (grids busy with everything are busier with each thing)."""
    wanted = [stacking.column(kind, target) for kind in kinds if kind != "cross"]
    if "cross" in kinds:
        wanted += [
            stacking.column("self", other) for other in targets if other not in (target, ANY_TARGET)
        ]
        if target != ANY_TARGET:
            wanted.append(stacking.column("eb", ANY_TARGET))
    present = set(names)
    return [c for c in wanted if c in present]


def count_from_logit(z: np.ndarray) -> np.ndarray:
    """Expected count `-log(1 - p)` of the probability with log-odds `z`: `log(1 + e^z)`,
    computed without forming p (so it keeps growing where p rounds to 1)."""
    return np.logaddexp(0.0, np.asarray(z, dtype=float))


def offset_link(count: np.ndarray, objective: str) -> np.ndarray:
    """Raw score of an expected count: `log λ` (poisson), `logit(1 − e^−λ)` (binary)."""
    count = np.asarray(count, dtype=np.float64)
    if objective == "poisson":
        return np.log(count)
    return logit(np.clip(-np.expm1(-count), 1e-12, 1 - 1e-12))


# ----------------------------------------------------------------------------- the estimator


class LightGBMForecaster(BaseEstimator):
    """Calibrated P(count >= 1 in the 72-hour window) and expected count for one target.

    With `[stacking] offset = "blend"` and the frame's classic components
    (`models.stacking`), the model first fits a non-negative Poisson blend of those methods
    (`models.blend.PoissonBlend`) on the training slice and LightGBM boosts from it: the raw
    score is `link(blend) + trees` (`init_score`), so the trees learn only corrections and
    early stopping keeps them from undoing what the classic methods know.

    Scikit-learn contract: the constructor stores its arguments unchanged; `fit` sets the
    attributes ending in `_`; predicting before `fit` raises `risk.errors.NotFitted`.
    `config` is None (models/lightgbm.toml), a dict override or a TOML path.
    """

    def __init__(
        self,
        config: None | dict[str, Any] | str = None,
        target: str = ANY_TARGET,
        feature_names: list[str] | None = None,
        horizon_hours: int = HORIZON_HOURS,
    ) -> None:
        self.config = config
        self.target = target
        self.feature_names = feature_names
        self.horizon_hours = horizon_hours

    # --- fit ---------------------------------------------------------------------------------
    def fit(
        self,
        frame: pd.DataFrame,
        bins: SharedBins | None = None,
        client: Any = None,
        keep_calibration_rows: bool = False,
    ) -> Self:
        """Fit on `frame`; `bins` (built from this frame with this config and the same tree
        feature list, :meth:`SharedBins.build`) saves binning the features again per target.
        `client` (a Dask client): the trees grow across its workers (`models.distributed`;
        `bins` unused), everything else — blend, sampling, covers, calibration — here.
        `keep_calibration_rows`: keep this model's scores of the calibration rows until
        `forget_calibration_rows`, for a mix of it fitted on the same frame (`mix`)."""
        self.forget_calibration_rows()
        self._keep_calibration_rows = keep_calibration_rows
        cfg: ForecasterConfig = load_config(self.config)
        label = _column(frame, f"label_{self.target}")
        count = _column(frame, f"count_{self.target}")
        every = feature_columns(frame, self.feature_names)
        stack = cfg.section("stacking")
        targets = targets_in(frame)
        tree_names = tree_features(every, self.target, targets, stack)
        blend_names = (
            blend_columns(every, self.target, targets, stack["blend"])
            if stack["offset"] == "blend"
            else []
        )
        sampling, training = cfg.section("sampling"), cfg.section("training")
        objective = cfg.lightgbm_params.get("objective", "binary")
        times = issue_ns(frame)
        if bins is not None:
            bins.check(frame, tree_names, times)
            split, train_idx, stride = bins.split, bins.train_idx, bins.stride
        else:
            split, train_idx, stride = thinned_split(times, cfg, self.horizon_hours)
        if not (label[train_idx] >= 1).any():
            raise NothingToLearn(self.target, len(train_idx), split.summary()["valid_start"])
        self.objective_ = objective
        self.feature_names_ = list(dict.fromkeys([*tree_names, *blend_names]))
        self.tree_feature_names_ = tree_names
        self.blend_feature_names_ = blend_names
        self.blend_ = None
        if blend_names:
            # The blend learns from the training slice (at most BLEND_ROWS of its rows, drawn
            # without weights: it has a dozen weights to fit).
            rows = _at_most(np.flatnonzero(split.train), BLEND_ROWS, cfg.seed)
            x = _matrix(frame, blend_names, rows)
            self.blend_ = PoissonBlend().fit(x, count[rows].astype(np.float64))
            self.blend_reference_ = x.mean(axis=0)

        weight = None
        keep = np.arange(len(train_idx))
        rate = sampling_rate(label[train_idx], sampling)
        sampled = len(train_idx) > sampling["min_rows"] and rate < 1
        reference_idx = train_idx
        if sampled:
            keep, weight = negative_sample(label[train_idx], rate, cfg.seed)
        if client is not None:  # the workers bin their own shares of the rows
            train_idx = train_idx[keep]
        elif bins is None:  # bins for this target alone: only its sampled rows are binned
            bins = SharedBins.build(frame, self.config, tree_names, self.horizon_hours, keep)
            train_idx, keep = bins.train_idx, None
        else:
            train_idx = train_idx[keep]
        valid_idx = np.flatnonzero(split.valid)

        # A poisson objective learns the expected count (more information than "any event");
        # its probability is 1 - exp(-count) before calibration.
        y = count if objective == "poisson" else label
        init = self._offset_raw(frame, train_idx)
        init_val = self._offset_raw(frame, valid_idx)

        def grow(params: dict[str, Any], target: np.ndarray, offset: Any, offset_val: Any):
            """Trees on the training rows, early-stopped on the validation rows: on the
            shared bins here, or across the client's workers."""
            if client is None:
                train_set, valid_set = bins.datasets(
                    keep, target[train_idx], weight, target[valid_idx], offset, offset_val
                )
                return _train(params, train_set, valid_set, training)
            cols = frame.columns.get_indexer(tree_names)
            return train_on_cluster(
                client,
                params,
                training,
                FitRows(frame.iloc[train_idx, cols], target[train_idx], weight, offset),
                FitRows(frame.iloc[valid_idx, cols], target[valid_idx], None, offset_val),
            )

        booster = grow(cfg.lightgbm_params, y, init, init_val)
        self.best_iteration_ = _best(booster)
        # Covers from plain rows (no down-sampling, no bagging): honest SHAP base values.
        self.booster_ = recount_covers(
            booster, _reference_rows(frame, tree_names, reference_idx, cfg.seed)
        )
        if training["count_model"]:
            self.count_booster_ = grow(cfg.count_params, count, None, None)
            self.count_best_iteration_ = _best(self.count_booster_)
        else:
            self.count_booster_ = None
            self.count_best_iteration_ = 0

        self.config_ = cfg
        self.config_version_ = cfg.version
        self.mix_parts_: dict[str, LightGBMForecaster] = {}
        self.mix_weight_ = 0.0
        self.split_ = {
            **split.summary(),
            "issue_time_stride": stride,
            "sampled_train_rows": len(train_idx),
        }
        self.negative_sampled_ = bool(sampled)
        self.calibrator_, self.calibration_scores_ = self._calibrate(frame, split, label, times)
        return self

    def refresh(self, frame: pd.DataFrame, keep_calibration_rows: bool = False) -> Self:
        """Re-fit what is cheap on a newer `frame` — the blend and the calibrator — and keep
        the trees (a weekly update between full fits, docs/adr/012-training-cost.md). `frame`
        holds the same columns as the one the model was fitted on. A mix is recalibrated on
        its parts as they are: refresh them first (`keep_calibration_rows` as in `fit`)."""
        self._check_fitted()
        self.forget_calibration_rows()
        self._keep_calibration_rows = keep_calibration_rows
        label = _column(frame, f"label_{self.target}")
        count = _column(frame, f"count_{self.target}")
        times = issue_ns(frame)
        split, _, _ = thinned_split(times, self.config_, self.horizon_hours)
        if self.blend_ is not None:
            rows = _at_most(np.flatnonzero(split.train), BLEND_ROWS, self.config_.seed)
            x = _matrix(frame, self.blend_feature_names_, rows)
            self.blend_ = PoissonBlend().fit(x, count[rows].astype(np.float64))
            self.blend_reference_ = x.mean(axis=0)
        self.split_ = {**self.split_, **split.summary(), "refreshed": True}
        self.calibrator_, self.calibration_scores_ = self._calibrate(frame, split, label, times)
        return self

    def mix(self, parts: dict[str, LightGBMForecaster], weight: float, frame: pd.DataFrame) -> Self:
        """Forecast the expected count as `(1 − weight) · own + weight · Σ parts` (each model's
        uncalibrated expected count; docs/adr/026-any-from-its-categories.md) and refit the
        calibrator and levels on the mix over `frame`'s calibration slice. `parts` are fitted
        forecasters of targets whose counts add up to this one's; they stay shared (refresh
        them before this model)."""
        self._check_fitted()
        if not 0 < weight <= 1 or not parts:
            raise ValueError(f"a mix needs parts and a weight in (0, 1], got {weight!r}")
        self.mix_parts_ = dict(parts)
        self.mix_weight_ = float(weight)
        names = [*self.feature_names_, *(n for p in parts.values() for n in p.feature_names_)]
        self.feature_names_ = list(dict.fromkeys(names))
        times = issue_ns(frame)
        split, _, _ = thinned_split(times, self.config_, self.horizon_hours)
        label = _column(frame, f"label_{self.target}")
        self.calibrator_, self.calibration_scores_ = self._calibrate(frame, split, label, times)
        return self

    @property
    def mixed(self) -> bool:
        """Whether the forecast mixes this model with other targets' (`mix`)."""
        return bool(getattr(self, "mix_parts_", None))

    def _offset_raw(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray | None:
        """`link(blend)` of the rows (all when None), or None without a blend."""
        if self.blend_ is None:
            return None
        offset = self.blend_.predict(_matrix(frame, self.blend_feature_names_, rows))
        return offset_link(offset, self.objective_)

    def _calibrate(
        self, frame: pd.DataFrame, split: TimeSplit, label: np.ndarray, times: np.ndarray
    ) -> tuple[Any, dict[str, dict[str, float]]]:
        """Choose and fit the calibrator on the calibration slice, and set `levels_`: the
        risk levels' operating points measured there on the calibrated probabilities, with
        the rows' issue times for the cluster-robust bound (`risk.levels.operating_points`;
        every level unissued without a slice)."""
        methods = self.config_.section("calibration")["methods"]
        if not split.calib.any() or not methods:
            self.levels_ = operating_points(np.empty(0), np.empty(0), issue_time=np.empty(0))
            return IdentityCalibrator().fit(np.empty(0), np.empty(0)), {}
        idx = np.flatnonzero(split.calib)
        # At most CALIBRATION_ROWS rows, whole issue times kept: the selection splits by time,
        # and the levels' cluster-robust bound clusters by it (a stride up to 7 still keeps a
        # day of every week, so the bound keeps all its clusters; ADR 013).
        stride = max(1, math.ceil(len(idx) / CALIBRATION_ROWS))
        idx = idx[every_kth_issue_time(times[idx], stride)]
        raw = self.raw_to_prob(self._calibration_decision(frame, idx))
        choice = select_calibrator(
            raw,
            label[idx],
            times[idx],
            methods,
            self.config_.section("calibration")["selection_metric"],
        )
        self.levels_ = operating_points(
            choice.calibrator.transform(raw), label[idx], issue_time=times[idx]
        )
        return choice.calibrator, choice.scores

    def _calibration_decision(self, frame: pd.DataFrame, idx: np.ndarray) -> np.ndarray:
        """`decision_function` of the calibration rows `idx` of `frame`. The own part is kept
        for the fit or refresh under way (`_calibration_cache`), so a mix calibrated on the
        same rows right after reuses its parts' instead of running their trees again."""
        rows = frame.iloc[idx]

        def own_raw(model: LightGBMForecaster) -> np.ndarray:
            cached = getattr(model, "_calibration_cache", None)
            if cached is not None and cached[0] == id(frame) and np.array_equal(cached[1], idx):
                return cached[2]
            return model._own_raw(rows)

        own = own_raw(self)
        decision = own
        if self.mixed:
            parts = [
                own_raw(p) if not p.mixed else p.decision_function(rows)
                for p in self.mix_parts_.values()
            ]
            decision = self._mixed_raw(own, parts)
        if getattr(self, "_keep_calibration_rows", False):
            self._calibration_cache = (id(frame), idx, own)
        return decision

    def forget_calibration_rows(self) -> None:
        """Drop what `_calibration_decision` kept (`fit(..., keep_calibration_rows=True)`)."""
        self.__dict__.pop("_calibration_cache", None)
        self.__dict__.pop("_keep_calibration_rows", None)

    # --- predict -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFitted(
                f"LightGBMForecaster(target={self.target!r}): call fit(frame) before predicting"
            )

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
        feature_columns(frame, self.feature_names_)  # names any missing column
        return frame[self.tree_feature_names_]

    def _raw_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return self.raw_to_prob(self.decision_function(frame))

    def raw_to_prob(self, raw: np.ndarray) -> np.ndarray:
        """Uncalibrated probability from the raw score: the logistic link for the binary
        objective, `1 - exp(-exp(raw))` for the poisson one (raw = log expected count)."""
        raw = np.asarray(raw, dtype=float)
        if self.objective_ == "poisson":
            return -np.expm1(-np.exp(raw))
        return expit(raw)

    def raw_to_logit(self, raw: np.ndarray) -> np.ndarray:
        """Log-odds of `raw_to_prob(raw)`, computed without rounding the probability: for the
        poisson objective `log(e^λ − 1) = λ + log(1 − e^−λ)`, λ = exp(raw), which keeps
        growing with λ where the probability is 1 in floating point (λ above ~37)."""
        raw = np.asarray(raw, dtype=float)
        if self.objective_ != "poisson":
            return raw
        with np.errstate(over="ignore", divide="ignore"):
            lam = np.exp(raw)
            return lam + np.log(-np.expm1(-lam))

    def raw_to_count(self, raw: np.ndarray) -> np.ndarray:
        """Uncalibrated expected count of the raw score: `exp(raw)` (poisson) or
        `−log(1 − sigmoid(raw)) = log(1 + e^raw)` (binary, a Poisson reading of p)."""
        raw = np.asarray(raw, dtype=float)
        if self.objective_ == "poisson":
            with np.errstate(over="ignore"):
                return np.exp(raw)
        return np.logaddexp(0.0, raw)

    def count_to_raw(self, count: np.ndarray) -> np.ndarray:
        """The inverse of `raw_to_count`: `log λ` (poisson), `log(e^λ − 1)` (binary)."""
        count = np.asarray(count, dtype=float)
        with np.errstate(divide="ignore"):
            if self.objective_ == "poisson":
                return np.log(count)
            return count + np.log(-np.expm1(-count))

    def count_slope(self, raw: np.ndarray) -> np.ndarray:
        """d raw_to_count / d raw: `exp(raw)` (poisson), `sigmoid(raw)` (binary)."""
        raw = np.asarray(raw, dtype=float)
        return np.exp(raw) if self.objective_ == "poisson" else expit(raw)

    def decision_function(
        self, frame: pd.DataFrame, known: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """(n,) raw, uncalibrated score: log-odds (binary) or log expected count (poisson),
        the blend's offset included; for a mix (`mix`), the raw score of the mixed count.
        `known`: the parts' raw scores already computed on `frame`, by target."""
        own = self._own_raw(frame)
        if not self.mixed:
            return own
        known = known or {}
        parts = [
            known[t] if t in known else p.decision_function(frame)
            for t, p in self.mix_parts_.items()
        ]
        return self._mixed_raw(own, parts)

    def _mixed_raw(self, own: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
        """The raw score of `(1 − w) · count(own) + w · Σ count(part)`, parts in `mix_parts_`
        order."""
        counts = [
            p.raw_to_count(raw) for p, raw in zip(self.mix_parts_.values(), parts, strict=True)
        ]
        return self.count_to_raw(self._mixed_count(self.raw_to_count(own), counts))

    def _mixed_count(self, own: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
        """`(1 − w) · own + w · Σ parts` of expected counts."""
        w = self.mix_weight_
        count = (1.0 - w) * np.asarray(own, dtype=float)
        for part in parts:
            count = count + w * np.asarray(part, dtype=float)
        return count

    def _own_raw(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.booster_.predict(
            self._x(frame), num_iteration=self.best_iteration_, raw_score=True
        )
        offset = self._offset_raw(frame)
        return raw if offset is None else raw + offset

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(n,) calibrated P(count >= 1 in (t, t + horizon]), in frame row order."""
        self._check_fitted()
        return self.calibrator_.transform(self._raw_proba(frame))

    def predict_score(self, frame: pd.DataFrame) -> np.ndarray:
        """(n,) calibrated log-odds, never clipped: the order of `predict_proba` wherever the
        probability is below 1 − EPS, and still an order above it (a grid expecting 40 events
        ranks above one expecting 15, both at probability 1 − EPS). Rankings use it."""
        return self.predict_proba_and_score(frame)[1]

    def predict_proba_and_score(
        self, frame: pd.DataFrame, raw: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(`predict_proba`, `predict_score`) from one pass of the trees (none when `raw`, the
        rows' `decision_function`, is given)."""
        self._check_fitted()
        raw = self.decision_function(frame) if raw is None else np.asarray(raw, dtype=float)
        prob = self.calibrator_.transform(self.raw_to_prob(raw))
        return prob, self.calibrator_.transform_logit(self.raw_to_logit(raw))

    def predict_level(self, frame: pd.DataFrame) -> np.ndarray:
        """(n,) risk level of each row from the calibrated probability and `levels_`."""
        return levels_at(self.predict_proba(frame), self.levels_)

    def predict_count(self, frame: pd.DataFrame) -> np.ndarray:
        """(n,) expected count in the window: the Poisson model, or `-log(1 - p)` from the
        calibrated probability when `[training] count_model = false` (from its unclipped
        log-odds, `count_from_logit`, so it does not stop at `-log(EPS)` ≈ 13.8)."""
        self._check_fitted()
        if self.count_booster_ is None:
            return count_from_logit(self.predict_score(frame))
        count = self.count_booster_.predict(
            self._x(frame), num_iteration=self.count_best_iteration_
        )
        if self.mixed:
            count = self._mixed_count(
                count, [p.predict_count(frame) for p in self.mix_parts_.values()]
            )
        return count

    def contributions(
        self, frame: pd.DataFrame, known: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """(n, len(feature_names_) + 1) contributions to the raw score; columns follow
        `feature_names_`, the last is the expected value. Rows sum to `decision_function`.

        Trees: TreeSHAP (`pred_contrib`) with covers counted on plain training rows
        (`models.covers`). Blend: `link(blend(x)) − link(blend(x̄))` (x̄ the mean components of
        the training slice) shared among the components in proportion to `β_j (x_j − x̄_j)`;
        `link(blend(x̄))` joins the expected value.

        A mix (`mix`; docs/adr/026-any-from-its-categories.md): each model m's raw change
        `z_m − z_m⁰` becomes the count change `C_m − C_m⁰`, shared among its contributions in
        proportion (the secant of its count link), weighted by its mix weight; the summed count
        change `M − M⁰` becomes the raw change `Z − Z⁰` the same way, and `Z⁰ = raw(M⁰)` is the
        expected value — so rows still sum exactly to the mixed raw score. `known`: the parts'
        own contributions already computed on `frame`, by target (saves their TreeSHAP)."""
        own = self._own_contributions(frame)
        if not self.mixed:
            return own
        w = self.mix_weight_
        position = {n: i for i, n in enumerate(self.feature_names_)}
        count_phi = np.zeros_like(own)
        base = 0.0
        members = [(self, 1.0 - w, own, None)]
        for target, part in self.mix_parts_.items():
            given = (known or {}).get(target)
            phi = part.contributions(frame) if given is None else np.asarray(given, dtype=float)
            members.append((part, w, phi, [position[n] for n in part.feature_names_]))
        for model, weight, phi, columns in members:
            z = phi.sum(axis=1)
            z0 = float(phi[0, -1]) if len(phi) else 0.0
            c0 = float(model.raw_to_count(z0))
            slope = _secant(model.raw_to_count(z) - c0, z - z0, float(model.count_slope(z0)))
            moved = (weight * slope)[:, None] * phi[:, :-1]
            if columns is None:
                count_phi[:, :-1] += moved
            else:
                count_phi[:, columns] += moved
            base += weight * c0
        total = count_phi[:, :-1].sum(axis=1)
        raw0 = float(self.count_to_raw(base))
        scale = _secant(
            self.count_to_raw(base + total) - raw0, total, 1.0 / float(self.count_slope(raw0))
        )
        out = count_phi * scale[:, None]
        out[:, -1] = raw0
        return out

    def _own_contributions(self, frame: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        tree = np.asarray(
            self.booster_.predict(
                self._x(frame), num_iteration=self.best_iteration_, pred_contrib=True
            )
        )
        position = {n: i for i, n in enumerate(self.feature_names_)}
        out = np.zeros((len(frame), len(self.feature_names_) + 1))
        out[:, [position[n] for n in self.tree_feature_names_]] = tree[:, :-1]
        out[:, -1] = tree[:, -1]
        if self.blend_ is not None:
            shares, base = self._blend_shares(frame)
            out[:, [position[n] for n in self.blend_feature_names_]] += shares
            out[:, -1] += base
        return out

    def _blend_shares(self, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
        x = _matrix(frame, self.blend_feature_names_)
        beta = self.blend_.coef_
        base = float(
            offset_link(self.blend_.predict(self.blend_reference_[None, :]), self.objective_)[0]
        )
        total = self._offset_raw(frame) - base
        part = (x - self.blend_reference_) * beta
        denom = part.sum(axis=1)
        tiny = np.abs(denom) < 1e-12
        share = np.divide(part, denom[:, None], out=np.zeros_like(part), where=~tiny[:, None])
        # no component moved (or they cancel exactly): the change goes to the largest weight
        if tiny.any():
            share[np.ix_(tiny, [int(np.argmax(beta))])] = 1.0
        return share * total[:, None], base


def _secant(rise: np.ndarray, run: np.ndarray, slope_at_start: float) -> np.ndarray:
    """`rise / run` elementwise, the slope at the start where `run` is (nearly) 0."""
    rise, run = np.asarray(rise, dtype=float), np.asarray(run, dtype=float)
    tiny = np.abs(run) < 1e-12
    out = np.full(run.shape, slope_at_start)
    np.divide(rise, run, out=out, where=~tiny)
    return out


def _matrix(frame: pd.DataFrame, names: list[str], rows: np.ndarray | None = None) -> np.ndarray:
    values = frame[names] if rows is None else frame.iloc[rows, frame.columns.get_indexer(names)]
    return np.nan_to_num(values.to_numpy(dtype=np.float64), nan=0.0)


def _at_most(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`rows`, or `n` of them drawn without replacement (seeded), in order."""
    if len(rows) <= n:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))


def _reference_rows(
    frame: pd.DataFrame, names: list[str], rows: np.ndarray, seed: int
) -> pd.DataFrame:
    """At most `REFERENCE_ROWS` of `rows`, drawn without weights (seeded)."""
    return frame.iloc[_at_most(rows, REFERENCE_ROWS, seed)][names]


class MultiTargetForecaster(BaseEstimator):
    """One `LightGBMForecaster` per target (docs/adr/004-forecaster.md), same config.

    `stack` (fitted `models.stacking.ClassicStack`, optional) is kept with the model so that
    scoring can add the same classic components to a new frame (:meth:`add_classics`)."""

    def __init__(
        self,
        config: None | dict[str, Any] | str = None,
        feature_names: list[str] | None = None,
        horizon_hours: int = HORIZON_HOURS,
    ) -> None:
        self.config = config
        self.feature_names = feature_names
        self.horizon_hours = horizon_hours

    def fit(
        self,
        frame: pd.DataFrame,
        targets: list[str] | tuple[str, ...] | None = None,
        stack: stacking.ClassicStack | None = None,
        client: Any = None,
    ) -> Self:
        """Fit every target of `targets` (default: every `label_<target>` of the frame);
        with a Dask `client` each target's trees grow across its workers.

        A target without an event in its training rows gets no model: it is left out of
        `targets_` and `forecasters_`, with the reason in `skipped_` (a category a city has not
        seen yet must not stop the others); no target with an event is a `ConfigError`."""
        chosen = list(targets) if targets is not None else targets_in(frame)
        if not chosen:
            raise ContractError(
                "the feature frame has no label_<target> column",
                field="label_any",
                fix="build the frame with features.build.build_features",
            )
        self.stack_ = stack
        cfg = load_config(self.config)
        stack_cfg = cfg.section("stacking")
        bins = None
        if stack_cfg["features"] == "all" and client is None:  # same trees' features for all
            names = tree_features(
                feature_columns(frame, self.feature_names), ANY_TARGET, chosen, stack_cfg
            )
            bins = SharedBins.build(frame, self.config, names, self.horizon_hours)
        self.forecasters_ = {}
        self.skipped_: dict[str, str] = {}  # target -> why it has no model
        first: NothingToLearn | None = None
        for t in chosen:
            try:
                self.forecasters_[t] = LightGBMForecaster(
                    self.config, t, self.feature_names, self.horizon_hours
                ).fit(frame, bins=bins, client=client, keep_calibration_rows=True)
            except NothingToLearn as exc:
                self.skipped_[t] = str(exc)
                first = first or exc
        if first is not None and not self.forecasters_:
            raise ConfigError(
                f"no target has an event in its {first.rows} training rows (issue times "
                f"before {first.before}); give a longer history or a later date range"
            )
        self.targets_ = list(self.forecasters_)
        self.mixed_ = self._mix(frame, chosen, float(stack_cfg.get("any_from_categories", 0)))
        for model in self.forecasters_.values():
            model.forget_calibration_rows()
        return self

    def _mix(self, frame: pd.DataFrame, chosen: list[str], weight: float) -> dict[str, Any]:
        """Mix `any` with its categories (`LightGBMForecaster.mix`, ADR 026) where that is
        what `any` is: every other chosen target has a model and, on every row of `frame`,
        `count_any` is the sum of their counts. Returns what was done and, if nothing, why."""
        parts = [t for t in chosen if t != ANY_TARGET]
        out: dict[str, Any] = {"target": ANY_TARGET, "weight": weight, "parts": parts}
        own = self.forecasters_.get(ANY_TARGET)
        why = None
        if weight <= 0:
            why = "[stacking] any_from_categories is 0"
        elif own is None or not parts:
            why = "needs a model of any and of at least one category"
        elif missing := [t for t in parts if t not in self.forecasters_]:
            why = f"no model for {', '.join(missing)}"
        else:
            total = sum(frame[f"count_{t}"].to_numpy(dtype=np.float64) for t in parts)
            if not np.array_equal(total, frame[f"count_{ANY_TARGET}"].to_numpy(dtype=np.float64)):
                why = "any holds events of no chosen category (its count is not their sum)"
        if why is not None:
            return {**out, "applied": False, "weight": 0.0, "why_not": why}
        own.mix({t: self.forecasters_[t] for t in parts}, weight, frame)
        return {**out, "applied": True}

    def refresh(self, frame: pd.DataFrame, stack: stacking.ClassicStack | None = None) -> Self:
        """Every target's `refresh` on `frame` (built with `stack`'s components, kept)."""
        if not hasattr(self, "forecasters_"):
            raise NotFitted("MultiTargetForecaster: call fit(frame, targets) before refresh")
        self.stack_ = stack
        # a mix is calibrated on its parts' forecasts: refresh the parts first
        for model in sorted(self.forecasters_.values(), key=lambda m: m.mixed):
            model.refresh(frame, keep_calibration_rows=True)
        for model in self.forecasters_.values():
            model.forget_calibration_rows()
        return self

    @property
    def feature_names_(self) -> list[str]:
        """Every column some target reads, in first-seen order."""
        names: list[str] = []
        for model in self.forecasters_.values():
            names.extend(model.feature_names_)
        return list(dict.fromkeys(names))

    def add_classics(
        self,
        frame: pd.DataFrame,
        events: pd.DataFrame,
        grids: pd.DataFrame,
        start: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """`frame` with the classic components the model was trained with (none without a
        stack). `frame` must be issue-time major over every grid of `grids`, in order;
        `start` is the start of the record (default: the earliest event)."""
        if getattr(self, "stack_", None) is None:
            return frame
        times = pd.DatetimeIndex(frame["issue_time"].unique())
        block = self.stack_.transform(events, grids, times, start)
        return stacking.add_components(frame, block)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Long frame `grid_id, issue_time, target, prob, count`, target-major, rows of each
        target in frame order."""
        if not hasattr(self, "forecasters_"):
            raise NotFitted("MultiTargetForecaster: call fit(frame, targets) before predicting")
        n = len(frame)
        keys = frame[list(KEY_COLUMNS)].reset_index(drop=True)
        parts = [
            keys.assign(
                target=np.repeat(target, n),
                prob=model.predict_proba(frame),
                count=model.predict_count(frame),
            )
            for target, model in self.forecasters_.items()
        ]
        return pd.concat(parts, ignore_index=True)
