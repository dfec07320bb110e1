"""Health thresholds and the judgement of a run (risk.health), by hand."""

from __future__ import annotations

import pytest

from risk.errors import ConfigError
from risk.health import Breach, Limit, assess, load_health_config, status_of


def test_the_packaged_thresholds():
    config = load_health_config()
    assert config.limits == {
        "score_psi": Limit(0.1, 0.25),
        "family_psi": Limit(0.25, 0.5),
        "missing_share": Limit(0.02, 0.1),
        "out_of_range_share": Limit(0.05, 0.2),
        "ece": Limit(0.05, 0.1),
    }
    assert config.ece_min_rows == 200
    assert config.source.endswith("risk/health.toml")


def test_a_value_passes_a_level_only_strictly_above_it():
    limit = Limit(0.1, 0.25)
    assert [limit.severity(v) for v in (0.1, 0.1001, 0.25, 0.26, None, float("nan"))] == [
        None, "warn", "warn", "alert", None, None,
    ]  # fmt: skip


DRIFT = {
    "score_psi": {"any": 0.05, "theft": 0.3},
    "family_psi": {"history": 0.26, "area": 0.0},
    "missing_share": 0.0,
    "out_of_range_share": 0.06,
}


def test_assess_lists_alerts_first_then_warnings_in_metric_order():
    config = load_health_config()
    realised = {"r0": {"any": {"ece": 0.12, "n": 500}, "theft": {"ece": 0.5, "n": 150}}}
    found = assess(DRIFT, realised, config)
    assert [(b.metric, b.key, b.severity, b.threshold, b.run_id) for b in found] == [
        ("score_psi", "theft", "alert", 0.25, None),
        ("ece", "any", "alert", 0.1, "r0"),
        ("family_psi", "history", "warn", 0.25, None),
        ("out_of_range_share", None, "warn", 0.05, None),
    ]  # theft's ECE: 150 grids < min_rows 200, not judged
    assert found[0].text() == "score PSI [theft] 0.300 > alert level 0.25"
    assert found[1].text() == "realised ECE [any] (run r0) 0.120 > alert level 0.1"
    assert Breach(**found[2].as_dict()) == found[2]
    assert status_of(found) == "alert"
    assert status_of(found[2:]) == "warn"
    assert status_of([]) == "ok"
    assert status_of([], judged=False) == "unknown"
    assert assess(None, None, config) == []


def test_another_thresholds_file(tmp_path):
    path = tmp_path / "h.toml"
    sections = "".join(
        f"[{s}]\nwarn = 0.5\nalert = 1\n"
        for s in ("psi.score", "psi.family", "inputs.missing", "inputs.out_of_range")
    )
    path.write_text(sections + "[calibration.ece]\nwarn = 0\nalert = 0\nmin_rows = 3\n")
    config = load_health_config(path)
    assert config.limits["score_psi"] == Limit(0.5, 1.0)
    assert config.ece_min_rows == 3
    assert [b.metric for b in assess(DRIFT, {"r": {"any": {"ece": 0.01, "n": 3}}}, config)] == [
        "ece"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[psi.score]\nwarn = 0.1\nalert = 0.2\n", r"section \[psi.family\] is missing"),
        ("[psi.score]\nwarn = 0.3\nalert = 0.2\n", "warn 0.3 is above alert 0.2"),
        ("[psi.score]\nwarn = 'x'\nalert = 0.2\n", "warn must be a number >= 0"),
        ("[psi.score\n", "not valid TOML"),
    ],
)
def test_a_bad_thresholds_file_names_the_problem(tmp_path, text, message):
    path = tmp_path / "h.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_health_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_health_config(tmp_path / "absent.toml")
