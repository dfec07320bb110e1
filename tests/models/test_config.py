"""The versioned forecaster config: packaged defaults, overrides, and refusals."""

from __future__ import annotations

import pytest

from models.config import DEFAULT_CONFIG_PATH, load_config
from risk.errors import ConfigError


def test_packaged_config_is_version_5_stacked_deterministic_on_two_threads():
    cfg = load_config()
    assert cfg.version == 5
    assert cfg.source == str(DEFAULT_CONFIG_PATH)
    params = cfg.lightgbm_params
    assert params["num_threads"] == 2
    assert params["deterministic"] is True
    assert (params["objective"], params["metric"]) == ("poisson", "average_precision")
    assert cfg.section("stacking") == {
        "offset": "blend",
        "blend": ["eb", "pooled", "dpooled", "self", "nbr", "cross"],
        "features": "target",
        "classic_features": True,
        "any_from_categories": 0.5,
    }


def test_a_version_4_config_does_not_mix_any():
    # a model saved before the mix (ADR 026) forecast `any` from its own model alone
    assert load_config({"config_version": 4}).section("stacking")["any_from_categories"] == 0
    named = {"config_version": 4, "stacking": {"any_from_categories": 0.25}}
    assert load_config(named).section("stacking")["any_from_categories"] == 0.25
    assert load_config({"config_version": 2}).section("stacking")["any_from_categories"] == 0
    # a version-4 config without [stacking] keeps version 4's stacking, not the pre-stacking one
    assert load_config({"config_version": 4}).section("stacking")["offset"] == "blend"
    with pytest.raises(ConfigError, match=r"any_from_categories=1.5 is not accepted"):
        load_config({"stacking": {"any_from_categories": 1.5}})


def test_a_version_3_config_keeps_its_blend(tmp_path):
    # a model saved with version 3 meant the blend without `dpooled`, unless it named one
    path = tmp_path / "v3.toml"
    path.write_text('config_version = 3\n[lightgbm]\nobjective = "binary"\n')
    assert load_config(path).section("stacking")["blend"] == [
        "eb",
        "pooled",
        "self",
        "nbr",
        "cross",
    ]
    named = {"config_version": 3, "stacking": {"blend": ["eb", "self"]}}
    assert load_config(named).section("stacking")["blend"] == ["eb", "self"]
    assert (
        "dpooled"
        in load_config({"training": {"issue_time_stride": 3}}).section("stacking")["blend"]
    )


def test_a_version_2_config_means_no_stacking(tmp_path):
    # a model saved before stacking existed keeps its meaning when loaded again
    path = tmp_path / "old.toml"
    path.write_text('config_version = 2\n[lightgbm]\nobjective = "binary"\n')
    assert load_config(path).section("stacking")["offset"] == "none"
    assert load_config({"config_version": 2}).section("stacking")["features"] == "all"


def test_bad_stacking_values_are_refused():
    with pytest.raises(ConfigError, match=r"offset='mean' is not accepted; accepted: one of"):
        load_config({"stacking": {"offset": "mean"}})
    with pytest.raises(ConfigError, match=r"blend=\['eb', 'magic'\] is not accepted"):
        load_config({"stacking": {"blend": ["eb", "magic"]}})


def test_count_params_override_the_probability_params():
    cfg = load_config()
    assert cfg.count_params["objective"] == "poisson"
    assert cfg.count_params["num_leaves"] == cfg.lightgbm_params["num_leaves"]


def test_dict_override_is_deep_merged():
    cfg = load_config({"training": {"num_boost_round": 7}, "lightgbm": {"num_leaves": 3}})
    assert cfg.section("training")["num_boost_round"] == 7
    assert cfg.section("training")["early_stopping_rounds"] == 20  # untouched default
    assert cfg.lightgbm_params["num_leaves"] == 3
    assert cfg.lightgbm_params["num_threads"] == 2


def test_toml_file_override(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("config_version = 1\n[sampling]\nnegative_sample_rate = 0.5\n")
    cfg = load_config(path)
    assert cfg.section("sampling") == {
        "negative_sample_rate": 0.5,
        "max_negatives_per_positive": 4,
        "min_rows": 200_000,
    }
    assert cfg.source == str(path)


def test_unknown_key_names_it_and_lists_the_accepted():
    with pytest.raises(ConfigError, match=r"unknown config key 'num_rounds'.*num_boost_round"):
        load_config({"training": {"num_rounds": 5}})


def test_value_outside_the_accepted_range_is_refused():
    with pytest.raises(ConfigError, match=r"negative_sample_rate=0 is not accepted"):
        load_config({"sampling": {"negative_sample_rate": 0}})


def test_fractions_must_leave_training_rows():
    with pytest.raises(ConfigError, match="leaves no training rows"):
        load_config({"split": {"validation_fraction": 0.5, "calibration_fraction": 0.5}})


def test_unsupported_version_is_refused(tmp_path):
    path = tmp_path / "future.toml"
    path.write_text("config_version = 99\n")
    with pytest.raises(ConfigError, match="config_version=99 is not supported"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


def test_rare_targets_keep_at_most_the_configured_negatives_per_positive():
    from models.forecaster import sampling_rate

    label = [1] * 10 + [0] * 990
    # 4 negatives per positive: 40 of 990 negatives -> rate 40/990 = 0.0404, below 0.5
    assert sampling_rate(
        label, {"negative_sample_rate": 0.5, "max_negatives_per_positive": 4}
    ) == pytest.approx(40 / 990)
    # a common target keeps the configured rate: 4 * 500 / 500 = 4 > 0.5
    assert (
        sampling_rate([1, 0] * 500, {"negative_sample_rate": 0.5, "max_negatives_per_positive": 4})
        == 0.5
    )


def test_a_directory_or_a_binary_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the forecaster config"):
        load_config(tmp_path)
    binary = tmp_path / "cfg.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match=r"cfg.toml: not a UTF-8 text file"):
        load_config(binary)
