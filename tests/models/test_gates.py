"""Promotion gates on hand-made metrics.json dicts."""

from __future__ import annotations

import copy

import pytest

from models.gates import GateConfig, all_passed, check_gates, load_gate_config
from risk.errors import ConfigError


def passing_metrics() -> dict:
    """lightgbm beats every baseline, segments close to overall, ece small.

    best baseline on pr_auc: seppexp 0.431 (oracle 0.600 excluded); on pei@5: kde 0.500.
    overall miss_rate@10 0.250; worst segment old_residential 0.290 (≤ 0.250 + 0.05).
    ece by grid type: worst old_residential 0.035 − overall 0.020 = 0.015 ≤ the flat 0.02 (no
    baseline has an ece; the oracle's is excluded).
    """
    return {
        "targets": {
            "any": {
                "base_rate": 0.1,
                "models": {
                    "lightgbm": {
                        "pr_auc": 0.450,
                        "pei@5": 0.520,
                        "ece": 0.020,
                        "miss_rate@10": 0.250,
                        "by_segment": {
                            "old_residential": {
                                "rows": 4000,
                                "miss_rate@10": 0.290,
                                "ece": 0.035,
                            },
                            "commercial": {"rows": 3000, "miss_rate@10": 0.200, "ece": 0.015},
                        },
                    },
                    "historical_rate": {"pr_auc": 0.400, "pei@5": 0.480, "ece": None},
                    "kde": {"pr_auc": 0.410, "pei@5": 0.500, "ece": None},
                    "seppexp": {"pr_auc": 0.431, "pei@5": 0.490, "ece": None},
                    "oracle": {"pr_auc": 0.600, "pei@5": 0.700, "ece": 0.001},
                },
            }
        }
    }


def by_name(results):
    return {r.name: r for r in results}


def test_all_gates_pass_with_numbers_in_details():
    results = check_gates(passing_metrics(), GateConfig())
    assert [r.name for r in results] == [
        "baseline pr_auc [any]",
        "baseline pei@5 [any]",
        "grid_type miss_rate@10 [any]",
        "calibration ece [any]",
        "calibration by segment [any]",
    ]
    assert all_passed(results)
    r = by_name(results)
    assert r["baseline pr_auc [any]"].detail == "pr_auc 0.450 ≥ best baseline seppexp 0.431 − 0.005"
    assert r["baseline pei@5 [any]"].detail == "pei@5 0.520 ≥ best baseline kde 0.500 − 0.005"
    assert r["grid_type miss_rate@10 [any]"].detail == (
        "worst grid_type old_residential miss_rate@10 0.290 ≤ overall 0.250 + 0.05 (2 checked)"
        "; no baseline has grid_type metrics, so the allowance is the flat 0.05"
    )
    assert r["calibration ece [any]"].detail == "ece 0.020 ≤ 0.03"
    assert r["calibration by segment [any]"].detail == (
        "spread of ece over segments within the allowance: grid_type old_residential ece 0.035 "
        "− overall 0.020 = 0.015 ≤ 0.02; no baseline to compare, so the allowance is the flat "
        "0.02; skipped: elderly_share (not in metrics.json), floating_share (not in "
        "metrics.json), rental_share (not in metrics.json)"
    )


def test_baseline_gate_fails_on_pr_auc_alone():
    m = passing_metrics()
    m["targets"]["any"]["models"]["lightgbm"]["pr_auc"] = 0.412  # 0.412 < 0.431 - 0.005 = 0.426
    r = by_name(check_gates(m))
    assert not r["baseline pr_auc [any]"].passed
    assert r["baseline pr_auc [any]"].detail == (
        "pr_auc 0.412 < best baseline seppexp 0.431 − 0.005; no paired interval in metrics.json"
    )
    assert [x.name for x in r.values() if not x.passed] == ["baseline pr_auc [any]"]


def test_oracle_is_not_a_baseline_to_beat():
    m = passing_metrics()
    # 0.45 is far below the oracle's 0.600 but above seppexp's 0.431: passes.
    assert by_name(check_gates(m))["baseline pr_auc [any]"].passed
    # Counting the oracle as a baseline makes it fail: 0.450 < 0.600 - 0.005.
    r = by_name(check_gates(m, GateConfig(exclude_baselines=())))
    assert r["baseline pr_auc [any]"].detail == (
        "pr_auc 0.450 < best baseline oracle 0.600 − 0.005; no paired interval in metrics.json"
    )


@pytest.mark.parametrize(
    ("best", "own", "passed"),
    [
        (0.431, 0.426, True),  # 0.431 - 0.426 = 0.005 exactly: at the tolerance passes
        (0.014, 0.009, True),  # in floats 0.014 - 0.005 = 0.009000000000000001 > 0.009
        (0.431, 0.4259, False),  # 0.431 - 0.4259 = 0.0051 > 0.005
    ],
)
def test_baseline_tolerance_boundary(best, own, passed):
    m = passing_metrics()
    for baseline in ("historical_rate", "kde", "seppexp"):
        m["targets"]["any"]["models"][baseline]["pr_auc"] = best
    m["targets"]["any"]["models"]["lightgbm"]["pr_auc"] = own
    assert by_name(check_gates(m))["baseline pr_auc [any]"].passed is passed


def with_paired(low: float, high: float, diff: float) -> dict:
    """lightgbm 0.412 behind seppexp 0.431 on pooled pr_auc, with a paired interval."""
    m = passing_metrics()
    m["targets"]["any"]["models"]["lightgbm"]["pr_auc"] = 0.412
    pair = {"mean_diff": diff, "low": low, "high": high, "n_days": 28, "block_days": 7}
    m["targets"]["any"]["paired"] = {"pr_auc": {"seppexp": pair, "kde": dict(pair, high=1.0)}}
    return m


def test_behind_but_not_shown_worse_passes_the_interval_rule():
    # -0.004 per day, interval [-0.012, -0.003]: -0.003 >= -0.005, so within the noise
    r = by_name(check_gates(with_paired(-0.012, -0.003, -0.004)))["baseline pr_auc [any]"]
    assert r.passed
    assert r.detail == (
        "pr_auc 0.412 < best baseline seppexp 0.431 − 0.005; not shown worse: per-day difference "
        "-0.0040 over 28 issue days, 90 % week-block interval [-0.0120, -0.0030] reaches −0.005"
    )


def test_shown_worse_fails_the_interval_rule_and_point_rule_ignores_intervals():
    # the interval's top -0.0051 < -0.005: the lead of seppexp is real
    r = by_name(check_gates(with_paired(-0.020, -0.0051, -0.012)))["baseline pr_auc [any]"]
    assert not r.passed
    assert "shown worse: per-day difference -0.0120" in r.detail
    assert r.detail.endswith("[-0.0200, -0.0051] < −0.005")
    # at -0.005 exactly the interval reaches the tolerance
    assert by_name(check_gates(with_paired(-0.02, -0.005, -0.01)))["baseline pr_auc [any]"].passed
    point = GateConfig(baseline_rule="point")
    r = by_name(check_gates(with_paired(-0.012, -0.003, -0.004), point))["baseline pr_auc [any]"]
    assert not r.passed
    assert r.detail == "pr_auc 0.412 < best baseline seppexp 0.431 − 0.005"


def test_segment_gate_fails_naming_the_grid_type():
    m = passing_metrics()
    seg = m["targets"]["any"]["models"]["lightgbm"]["by_segment"]
    seg["old_residential"]["miss_rate@10"] = 0.331  # 0.331 > 0.250 + 0.05 = 0.300
    results = check_gates(m)
    r = by_name(results)["grid_type miss_rate@10 [any]"]
    assert not r.passed
    assert r.detail.startswith(
        "miss_rate@10 too high for grid_type old_residential 0.331 > overall 0.250 + 0.05;"
    )
    assert [x.name for x in results if not x.passed] == ["grid_type miss_rate@10 [any]"]


def test_segment_exactly_at_max_excess_passes():
    lgb = passing_metrics()["targets"]["any"]["models"]["lightgbm"]
    lgb["miss_rate@10"] = 0.35
    lgb["by_segment"]["old_residential"]["miss_rate@10"] = 0.40
    # 0.40 = 0.35 + 0.05 exactly (in floats 0.35 + 0.05 = 0.39999999999999997): passes
    m = {"targets": {"any": {"models": {"lightgbm": lgb, "kde": {"pr_auc": 0.1, "pei@5": 0.1}}}}}
    assert by_name(check_gates(m))["grid_type miss_rate@10 [any]"].passed


def test_small_segments_are_skipped_and_said_so():
    m = passing_metrics()
    seg = m["targets"]["any"]["models"]["lightgbm"]["by_segment"]
    seg["village"] = {"rows": 12, "miss_rate@10": 0.9}  # would fail, but only 12 rows < 50
    r = by_name(check_gates(m, GateConfig(segment_min_rows=50)))["grid_type miss_rate@10 [any]"]
    assert r.passed
    assert r.detail.endswith("allowance is the flat 0.05; skipped: village (12 rows < 50)")


def test_segment_allowance_is_the_best_baselines_own_excess_plus_max_excess():
    # campus is hard for every method: the best baseline (lowest overall miss rate, seppexp
    # 0.240) misses 0.380 there, +0.140 over its overall. The model's campus 0.420 is +0.170
    # over its overall 0.250: allowed 0.140 + 0.05 = 0.190, so it passes; 0.450 would not.
    m = passing_metrics()
    models = m["targets"]["any"]["models"]
    models["lightgbm"]["by_segment"]["campus"] = {"rows": 200, "miss_rate@10": 0.420}
    models["seppexp"].update(
        {"miss_rate@10": 0.240, "by_segment": {"campus": {"rows": 200, "miss_rate@10": 0.380}}}
    )
    models["kde"].update(
        {"miss_rate@10": 0.300, "by_segment": {"campus": {"rows": 200, "miss_rate@10": 0.600}}}
    )
    r = by_name(check_gates(m))["grid_type miss_rate@10 [any]"]
    assert r.passed
    # "worst" is the grid type nearest its own limit: old_residential (0.290 vs 0.300)
    assert r.detail == (
        "worst grid_type old_residential miss_rate@10 0.290 ≤ overall 0.250 + 0.05 (3 checked); "
        "allowed = 0.05 + seppexp's own excess on that grid type (its overall 0.240)"
    )
    models["lightgbm"]["by_segment"]["campus"]["miss_rate@10"] = 0.450
    r = by_name(check_gates(m))["grid_type miss_rate@10 [any]"]
    assert not r.passed and "campus 0.450 > overall 0.250 + 0.19" in r.detail
    # the flat rule of before, on request
    flat = by_name(check_gates(m, GateConfig(segment_relative_to="overall")))
    assert "campus 0.450 > overall 0.250 + 0.05" in flat["grid_type miss_rate@10 [any]"].detail


def test_ece_gate_fails_alone():
    m = passing_metrics()
    m["targets"]["any"]["models"]["lightgbm"]["ece"] = 0.041
    results = check_gates(m)
    assert [(x.name, x.detail) for x in results if not x.passed] == [
        ("calibration ece [any]", "ece 0.041 > 0.03")
    ]


def test_missing_ece_fails_rather_than_passes():
    m = passing_metrics()
    m["targets"]["any"]["models"]["lightgbm"]["ece"] = None
    r = by_name(check_gates(m))["calibration ece [any]"]
    assert (r.passed, r.detail) == (False, "ece of lightgbm is missing or undefined")


def quartiles(eces: list[float], rows: int = 2000) -> dict:
    return {f"Q{i + 1}": {"rows": rows, "ece": e} for i, e in enumerate(eces)}


def test_ece_by_segment_is_held_to_the_best_calibrated_baselines_spread():
    # lightgbm: overall 0.020, floating_share Q4 0.055 → spread 0.035. Best-calibrated
    # baseline: seppexp (overall 0.030 < kde 0.060), worst quartile Q4 0.050 → spread 0.020;
    # allowed 0.020 + 0.02 = 0.040 ≥ 0.035: passes. kde's wild 0.200 spread does not count.
    m = passing_metrics()
    models = m["targets"]["any"]["models"]
    models["lightgbm"]["by_floating_share"] = quartiles([0.018, 0.022, 0.031, 0.055])
    models["seppexp"].update(ece=0.030, by_floating_share=quartiles([0.025, 0.030, 0.040, 0.050]))
    models["kde"].update(ece=0.060, by_floating_share=quartiles([0.260, 0.030, 0.040, 0.050]))
    r = by_name(check_gates(m))["calibration by segment [any]"]
    assert r.passed
    assert r.detail.startswith(
        "spread of ece over segments within the allowance: grid_type old_residential ece 0.035 "
        "− overall 0.020 = 0.015 ≤ 0.02 (seppexp has no grid_type ece); floating_share Q4 ece "
        "0.055 − overall "
        "0.020 = 0.035 ≤ seppexp's 0.020 + 0.02; skipped: elderly_share (not in metrics.json)"
    )
    # Q4 at 0.061: spread 0.041 > 0.040 fails, and only this gate
    models["lightgbm"]["by_floating_share"]["Q4"]["ece"] = 0.061
    results = check_gates(m)
    assert [x.name for x in results if not x.passed] == ["calibration by segment [any]"]
    assert by_name(results)["calibration by segment [any]"].detail.startswith(
        "calibration uneven across segments: floating_share Q4 ece 0.061 − overall 0.020 = "
        "0.041 > seppexp's 0.020 + 0.02; skipped:"
    )
    # relative_to = "overall": the flat 0.02 alone, so 0.055 (spread 0.035) fails too
    models["lightgbm"]["by_floating_share"]["Q4"]["ece"] = 0.055
    flat = by_name(check_gates(m, GateConfig(ece_segment_relative_to="overall")))
    assert "floating_share Q4 ece 0.055 − overall 0.020 = 0.035 > 0.02" in (
        flat["calibration by segment [any]"].detail
    )


def test_ece_by_segment_skips_small_segments_and_judges_nothing_on_a_small_city():
    m = passing_metrics()
    lgb = m["targets"]["any"]["models"]["lightgbm"]
    lgb["by_segment"]["campus"] = {"rows": 112, "ece": 0.300}  # too few rows to judge
    assert by_name(check_gates(m))["calibration by segment [any]"].passed
    # every segment under 5000 rows: nothing to judge, which is not held against the model
    gate = by_name(check_gates(m, GateConfig(ece_segment_min_rows=5000)))[
        "calibration by segment [any]"
    ]
    assert gate.passed
    assert gate.detail.startswith(
        "every segment has fewer than 5000 rows: too few to judge, not checked; no baseline to "
        "compare, so the allowance is the flat 0.02; skipped: grid_type campus, commercial, "
        "old_residential (< 5000 rows), elderly_share (not in metrics.json)"
    )


def test_ece_by_segment_fails_when_a_judgeable_segment_has_no_ece_or_none_is_there():
    m = passing_metrics()
    for seg in m["targets"]["any"]["models"]["lightgbm"]["by_segment"].values():
        seg["ece"] = None
    gate = by_name(check_gates(m))["calibration by segment [any]"]
    assert not gate.passed
    assert gate.detail.startswith("no segment could be checked for ece;")
    assert "grid_type (no segment with an ece)" in gate.detail
    m["targets"]["any"]["models"]["lightgbm"]["by_segment"] = {}
    gate = by_name(check_gates(m))["calibration by segment [any]"]
    assert not gate.passed and "grid_type (not in metrics.json)" in gate.detail


def test_missing_target_fails():
    m = passing_metrics()
    results = check_gates(m, GateConfig(targets=("any", "theft")))
    assert [(x.name, x.passed) for x in results][-1] == ("metrics[theft]", False)
    assert results[-1].detail == "no lightgbm metrics for target theft in metrics.json"


def test_default_toml_equals_defaults():
    assert load_gate_config() == GateConfig()


def test_toml_overrides_and_rejects_unknown_keys(tmp_path):
    good = tmp_path / "gates.toml"
    good.write_text('targets = ["any", "theft"]\n[calibration]\nmax_ece = 0.05\n')
    assert load_gate_config(good) == GateConfig(targets=("any", "theft"), max_ece=0.05)
    bad = tmp_path / "bad.toml"
    bad.write_text("[calibration]\nmax_eec = 0.05\n")
    with pytest.raises(ConfigError, match=r"unknown key \[calibration\] 'max_eec'"):
        load_gate_config(bad)
    typed = tmp_path / "typed.toml"
    typed.write_text('[baseline]\ntolerance = "small"\n')
    with pytest.raises(ConfigError, match="'baseline_tolerance' must be a non-negative number"):
        load_gate_config(typed)
    relative = tmp_path / "relative.toml"
    relative.write_text('[segment_calibration]\nrelative_to = "best"\n')
    with pytest.raises(
        ConfigError,
        match=r"'ece_segment_relative_to' must be a string, one of \['best_baseline', "
        r"'overall'\], got 'best'",
    ):
        load_gate_config(relative)
    kinds = tmp_path / "kinds.toml"
    kinds.write_text('[segment_calibration]\nsegments = ["grid_type", "street"]\nmin_rows = 0\n')
    assert load_gate_config(kinds) == GateConfig(
        ece_segment_kinds=("grid_type", "street"), ece_segment_min_rows=0
    )


def test_check_gates_does_not_mutate_metrics():
    m = passing_metrics()
    before = copy.deepcopy(m)
    check_gates(m)
    assert m == before
