import numpy as np
import pandas as pd
import pytest

from risk.errors import ConfigError
from risk.levels import (
    at_least,
    level_notes,
    level_rank,
    level_table,
    levels_at,
    load_level_config,
    max_level,
    operating_points,
    precision_lower_bound,
    risk_level,
    unissued,
    warning_mask,
)


def test_levels_from_ratio_to_base_rate_with_inclusive_bounds():
    # base 0.02: ratios 0.5, 1.499.., 1.5, 2.5, 3.999.., 4.0, 10 (floats chosen exact-ish)
    prob = np.array([0.01, 0.02998, 0.03, 0.05, 0.07998, 0.08, 0.2])
    assert risk_level(prob, 0.02).tolist() == [
        "blue",
        "blue",
        "yellow",
        "orange",
        "orange",
        "red",
        "red",
    ]


def test_scalar_in_scalar_out_and_per_row_base_rates():
    assert risk_level(0.3, 0.1) == "orange"  # ratio 3.0
    # same prob 0.2 against base rates 0.2 (1×), 0.1 (2×), 0.04 (5×)
    assert risk_level([0.2, 0.2, 0.2], [0.2, 0.1, 0.04]).tolist() == ["blue", "yellow", "red"]


def test_custom_thresholds():
    t = {"red": 3.0, "orange": 2.0, "yellow": 1.1}
    # base 0.1: ratios 1.0, 1.2, 2.0, 3.0
    assert risk_level([0.1, 0.12, 0.2, 0.3], 0.1, t).tolist() == ["blue", "yellow", "orange", "red"]


def test_absolute_floor_keeps_tiny_probabilities_blue():
    # base 0.001: 0.005 is 5× (red) but below the floor 0.01; 0.02 is 20× and above it
    assert risk_level([0.005, 0.02], 0.001, min_prob=0.01).tolist() == ["blue", "red"]


@pytest.mark.parametrize(
    ("thresholds", "match"),
    [
        ({"red": 4.0, "orange": 2.5}, "exactly the keys"),
        ({"red": 2.0, "orange": 2.5, "yellow": 1.5}, "yellow < orange < red"),
        ({"red": 4.0, "orange": 2.5, "yellow": 0.0}, "yellow < orange < red"),
    ],
)
def test_bad_thresholds_are_refused(thresholds, match):
    with pytest.raises(ConfigError, match=match):
        risk_level(0.1, 0.1, thresholds)


def test_bad_probabilities_and_base_rates_are_refused():
    with pytest.raises(ConfigError, match=r"prob must be .* \(got 1.5\)"):
        risk_level([0.1, 1.5], 0.1)
    with pytest.raises(ConfigError, match=r"base_rate must be in \(0, 1\] \(got 0.0\)"):
        risk_level(0.1, 0.0)


def test_level_ordering_helpers():
    assert level_rank("blue") == 0 and level_rank("red") == 3
    assert level_rank(np.array(["yellow", "orange"], dtype=object)).tolist() == [1, 2]
    assert at_least("red", "orange") is True and at_least("yellow", "orange") is False
    assert at_least(np.array(["blue", "orange", "red"]), "orange").tolist() == [False, True, True]
    assert max_level(["yellow", "red", "blue"]) == "red"
    with pytest.raises(ConfigError, match="unknown risk level 'amber'"):
        level_rank("amber")


def test_warning_mask_by_level():
    levels = np.array(["blue", "orange", "yellow", "red"])
    prob = np.array([0.1, 0.3, 0.2, 0.5])
    assert warning_mask(levels, prob).tolist() == [False, True, False, True]


def test_warning_mask_top_percent_union_with_level():
    levels = np.array(["blue"] * 9 + ["red"])
    prob = np.arange(10) / 10  # 0.0 .. 0.9; red is the last
    # top 20% of 10 grids = 2 highest probs: rows 9 and 8; red adds nothing new
    assert np.flatnonzero(warning_mask(levels, prob, top_percent=20)).tolist() == [8, 9]
    # top 20% only, no level rule: same 2 rows
    mask = warning_mask(levels, prob, min_level=None, top_percent=20)
    assert np.flatnonzero(mask).tolist() == [8, 9]
    with pytest.raises(ConfigError, match="min_level, top_percent or both"):
        warning_mask(levels, prob, min_level=None)


# ----------------------------------------------------------------------------- operating points

TEN_PROB = [0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
TEN_LABEL = [1, 1, 1, 0, 1, 0, 1, 0, 0, 0]
CFG = {"precision": {"red": 0.8, "orange": 0.6, "yellow": 0.4}, "min_flagged": 1}


def test_operating_points_are_the_deepest_cuts_holding_each_precision():
    # cumulative precision down the ranking: 1, 1, 1, .75, .8, .67, .71, .625, .56, .5
    # (the first 0.9 ties with the second: no cut between them)
    points = operating_points(TEN_PROB, TEN_LABEL, CFG)
    assert points["red"] == {
        "threshold": 0.6, "target": 0.8, "precision": 0.8, "flagged": 5, "share": 0.5
    }  # fmt: skip
    assert (points["orange"]["threshold"], points["orange"]["flagged"]) == (0.3, 8)
    assert points["orange"]["precision"] == pytest.approx(0.625)
    assert (points["yellow"]["threshold"], points["yellow"]["precision"]) == (0.1, 0.5)
    assert levels_at([0.65, 0.6, 0.35, 0.3, 0.05], points).tolist() == [
        "red", "red", "orange", "orange", "blue"
    ]  # fmt: skip


def test_a_level_never_reached_with_enough_support_is_not_issued():
    points = operating_points(TEN_PROB, TEN_LABEL, {**CFG, "min_flagged": 6})
    assert points["red"]["threshold"] is None and points["red"]["flagged"] == 0
    assert points["orange"]["threshold"] == 0.3  # 8 rows flagged at .625
    assert levels_at([0.99], points).tolist() == ["orange"]  # red is never issued


def test_precision_must_hold_with_confidence_not_only_on_average():
    # Wilson's one-sided bound at 90 %: 80 of 100 gives 0.744 (by hand: z = 1.2816,
    # (0.8 + z²/200 − z·sqrt(0.0016 + z²/40000)) / (1 + z²/100)); 0.5 is the estimate itself
    assert precision_lower_bound(80, 100, 0.9) == pytest.approx(0.7441, abs=1e-4)
    assert precision_lower_bound(80, 100, 0.5) == pytest.approx(0.8)
    # 3 of 3 at the top of TEN: precision 1 but a bound of 0.646, so red is not issued
    points = operating_points(TEN_PROB, TEN_LABEL, {**CFG, "confidence": 0.9})
    assert points["red"]["threshold"] is None
    # 4,000 of 5,000 flagged rows at 0.80: the bound (0.791) misses 0.80; 0.82 clears it
    prob = np.r_[np.full(5000, 0.9), np.full(5000, 0.1)]
    for hits, issued in ((4000, False), (4100, True)):
        label = np.r_[np.ones(hits), np.zeros(10000 - hits)]
        got = operating_points(prob, label, {**CFG, "confidence": 0.9})["red"]["threshold"]
        assert (got is not None) == issued


def test_the_cluster_bound_withdraws_a_level_wilson_would_issue():
    # 3 issue days; at 0.9 the flagged rows are 4 of 4, 2 of 4 and 2 of 2 hits (0.8 over 10),
    # and every day adds two 0.1 rows without an event. Wilson alone: 0.602 at 0.9, so orange
    # (0.6) is issued there. Clustered by day (tests/risk/test_precision_bounds.py): 0.454 —
    # orange is withdrawn, yellow (0.4) stays at 0.9; at 0.1 (8 of 16) both bounds miss 0.4.
    prob = [0.9] * 4 + [0.1] * 2 + [0.9] * 4 + [0.1] * 2 + [0.9] * 2 + [0.1] * 2
    label = [1, 1, 1, 1, 0, 0] + [1, 1, 0, 0, 0, 0] + [1, 1, 0, 0]
    days = ["2024-03-01 08:00"] * 6 + ["2024-03-02 08:00"] * 6 + ["2024-03-03 08:00"] * 4
    times = pd.DatetimeIndex(days).tz_localize("Asia/Shanghai")
    cfg = {**CFG, "confidence": 0.9, "cluster_days": 1, "promise": "mean"}
    assert operating_points(prob, label, cfg)["orange"]["threshold"] == 0.9  # Wilson alone
    points = operating_points(prob, label, cfg, issue_time=times)
    assert points["red"]["threshold"] is None and points["orange"]["threshold"] is None
    yellow = points["yellow"]
    assert (yellow["threshold"], yellow["precision"], yellow["flagged"]) == (0.9, 0.8, 10)
    assert yellow["bound"]["method"] == "min(wilson, cluster)"
    assert (yellow["bound"]["clusters"], yellow["bound"]["cluster_days"]) == (3, 1)
    assert yellow["bound"]["wilson"] == pytest.approx(0.60160, abs=1e-5)
    assert yellow["bound"]["cluster"] == pytest.approx(0.45436, abs=1e-5)
    assert points["orange"]["bound"]["wilson"] is None  # not issued: no bound at a threshold
    assert yellow["bound"]["promise"] == "mean"
    # promise "week": one more day like these, 0.8 − 1.88562 · 0.18330 · sqrt(3 + 1) = 0.109
    week = operating_points(prob, label, {**cfg, "promise": "week"}, issue_time=times)
    assert all(week[level]["threshold"] is None for level in ("red", "orange", "yellow"))
    # cluster_days 0: the Wilson bound alone, and the result says so
    wilson_only = operating_points(prob, label, {**cfg, "cluster_days": 0}, issue_time=times)
    assert wilson_only["orange"]["threshold"] == 0.9
    assert wilson_only["orange"]["bound"]["method"] == "wilson"
    assert wilson_only["orange"]["bound"]["cluster"] is None
    # the three days are one week: between-week spread cannot be measured, nothing is issued
    weekly = operating_points(prob, label, {**cfg, "cluster_days": 7}, issue_time=times)
    assert all(weekly[level]["threshold"] is None for level in ("red", "orange", "yellow"))
    with pytest.raises(ConfigError, match="issue_time differ in length"):
        operating_points(prob, label, cfg, issue_time=times[:3])


def test_weeks_that_swing_together_withdraw_red_that_wilson_issues():
    # 10 weeks × 7 days × 20 rows at 0.9, weeks alternating between 133 and 98 hits of 140
    # (0.825 overall), over 1,400 rows at 0.1 without events. Wilson alone issues red at 0.9
    # (bound 0.812); the weekly cluster bound is 0.767 (tests/risk/test_precision_bounds.py),
    # so red is not issued — the weeks hold 10 pieces of information, not 1,400.
    times = np.repeat(pd.date_range("2024-03-04 08:00", periods=70, freq="D", tz="UTC"), 40)
    week = np.repeat(np.arange(10), 280)
    in_week = np.tile(np.arange(280), 10)  # rows 0..139 of a week at 0.9, the rest at 0.1
    hits = np.where(week % 2 == 0, 133, 98)
    day_row = np.arange(times.size) % 40
    prob = np.where(day_row < 20, 0.9, 0.1)
    rank_in_week = (in_week // 40) * 20 + day_row  # 0..139 over the week's 0.9 rows
    label = (day_row < 20) & (rank_in_week < hits)
    cfg = {**CFG, "confidence": 0.9, "min_flagged": 50, "promise": "mean"}
    assert operating_points(prob, label, cfg)["red"]["threshold"] == 0.9
    points = operating_points(prob, label, cfg, issue_time=times)
    assert points["red"]["threshold"] is None
    orange = points["orange"]
    assert orange["threshold"] == 0.9 and orange["bound"]["clusters"] == 10
    assert orange["bound"]["cluster"] == pytest.approx(0.76737, abs=1e-5)
    # promise "week" (the packaged one): a coming week's precision, 0.825 − 1.38303 · 0.041667
    # · sqrt(10 + 1) = 0.63388 — orange still holds at 0.9
    week = operating_points(prob, label, {**cfg, "promise": "week"}, issue_time=times)
    assert week["red"]["threshold"] is None and week["orange"]["threshold"] == 0.9
    assert week["orange"]["bound"]["cluster"] == pytest.approx(0.63388, abs=1e-5)


def test_a_citywide_surge_raises_levels():
    points = operating_points(TEN_PROB, TEN_LABEL, CFG)
    ordinary = levels_at([0.2, 0.4, 0.65], points)
    surge = levels_at([0.3, 0.6, 0.9], points)  # the same grids, everything more likely
    assert (ordinary == "red").sum() == 1 and (surge == "red").sum() == 2


def test_level_table_counts_precision_and_recall():
    level = np.array([["red", "orange", "blue"], ["yellow", "red", "blue"]])
    count = np.array([[2, 0, 1], [1, 0, 0]])
    table = level_table(level, count)
    assert table["red"] == {"flagged": 2, "share": 2 / 6, "precision": 0.5, "recall": 0.5}
    assert table["orange_or_above"]["precision"] == pytest.approx(1 / 3)
    assert table["yellow"] == {"flagged": 1, "share": 1 / 6, "precision": 1.0, "recall": 0.25}


def test_packaged_level_settings_and_refusals(tmp_path):
    cfg = load_level_config()
    assert cfg == {
        "precision": {"red": 0.8, "orange": 0.6, "yellow": 0.4},
        "min_flagged": 50,
        "confidence": 0.9,
        "cluster_days": 7,
        "promise": "week",
    }
    bad = tmp_path / "levels.toml"
    bad.write_text("[precision]\nred = 0.5\norange = 0.6\nyellow = 0.4\n")
    with pytest.raises(ConfigError, match="1 >= red >= orange >= yellow"):
        load_level_config(bad)
    bad.write_text(
        "[precision]\nred = 0.8\norange = 0.6\nyellow = 0.4\n[support]\ncluster_days = -1\n"
    )
    with pytest.raises(ConfigError, match=r"cluster_days must be an integer >= 0 \(got -1\)"):
        load_level_config(bad)
    bad.write_text(
        "[precision]\nred = 0.8\norange = 0.6\nyellow = 0.4\n[support]\npromise = 'year'\n"
    )
    with pytest.raises(ConfigError, match=r"promise must be one of week, mean \(got 'year'\)"):
        load_level_config(bad)


def test_level_notes_name_the_targets_without_levels():
    none = {level: {"threshold": None} for level in ("yellow", "orange", "red")}
    no_red = {
        "yellow": {"threshold": 0.3},
        "orange": {"threshold": 0.6},
        "red": {"threshold": None},
    }
    every = {"yellow": {"threshold": 0.3}, "orange": {"threshold": 0.6}, "red": {"threshold": 0.9}}
    yellow_only = {**none, "yellow": {"threshold": 0.3}}
    assert unissued(none) == ["yellow", "orange", "red"] and unissued(every) == []
    notes = level_notes(
        {"any": every, "fraud": none, "theft": no_red, "fire": yellow_only, "petition": none}
    )
    assert len(notes) == 3
    assert notes[0].startswith("note: no warning level is issued for fraud, petition:")
    assert "at least 50 grid-windows" in notes[0] and "--top-percent" in notes[0]
    assert notes[1].startswith("note: no red level for theft (")
    assert notes[2].startswith("note: yellow only for fire (")
    assert level_notes({"any": every}) == []
