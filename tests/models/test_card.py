"""Model card: sections, the numbers beside the baselines, escaping."""

from __future__ import annotations

import pytest

from features.base import FeatureInfo
from models.card import model_card, with_health
from models.gates import GateResult

METRICS = {
    "dataset": {"grids": 2000, "events": 51234, "start": "2024-01-01", "end": "2024-06-30"},
    "horizon_hours": 72,
    "issue_times": 182,
    "targets": {
        "any": {
            "base_rate": 0.0812,
            "models": {
                "lightgbm": {
                    "pr_auc": 0.4567,
                    "pei@5": 0.612,
                    "ece": 0.0123,
                    "miss_rate@10": 0.25,
                    "by_segment": {
                        "old_residential": {"rows": 36400, "pr_auc": 0.5, "miss_rate@10": 0.31},
                        "commercial": {"rows": 9100, "pr_auc": 0.4, "miss_rate@10": 0.2},
                    },
                },
                "oracle": {"pr_auc": 0.5012, "by_segment": {"commercial": {"pr_auc": 0.45}}},
                "seppexp": {"pr_auc": 0.4311, "pei@5": 0.598, "ece": None},
            },
        }
    },
}
FEATURES = [
    FeatureInfo("hist_any_7d", "history", "events in 7 days", "7天事件"),
    ("is_workday", "calendar"),
    ("hist_theft_28d", "history"),
]
GATES = [
    GateResult("baseline pr_auc [any]", True, "pr_auc 0.457 ≥ best baseline seppexp 0.431 − 0.005"),
    GateResult("calibration ece [any]", False, "ece 0.041 > 0.03"),
]
INFO = {"name": "grid-risk", "version": 3, "approved_by": "Li Wei"}


@pytest.fixture(scope="module")
def card():
    return model_card(INFO, METRICS, FEATURES, ("2023-01-01", "2024-06-30"), GATES)


def test_markdown_has_every_section_in_order(card):
    md, _ = card
    titles = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert titles == [
        "Version",
        "Intended use",
        "Out-of-scope use",
        "Training window",
        "Features by family",
        "Configuration",
        "Labels and patrol exposure",
        "Metrics overall",
        "Metrics by segment",
        "Fairness by segment",
        "Promotion gates",
        "Known limitations",
    ]
    assert md.startswith("# Model card — grid-risk v3\n")


def test_use_statements(card):
    md, _ = card
    assert "human review queue" in md
    assert "Anything about individuals" in md
    assert "Automatic enforcement" in md


def test_training_window_and_dataset(card):
    md, _ = card
    assert "Trained on events from 2023-01-01 to 2024-06-30." in md
    assert "Backtest: 2000 grids, 51234 events, 2024-01-01 to 2024-06-30, 182 issue times" in md


def test_features_grouped_by_family(card):
    md, _ = card
    assert "3 features in 2 families." in md
    assert "| history | 2 | hist_any_7d, hist_theft_28d |" in md
    assert "| calendar | 1 | is_workday |" in md


def test_overall_table_model_first_baselines_then_oracle(card):
    md, _ = card
    # columns: model, pr_auc, roc_auc, pei@5, hit_rate@10, pai@10, miss_rate@10,
    #          miss_rate_true@10, ece, brier — 3 decimals, missing as —
    assert "| lightgbm | 0.457 | — | 0.612 | — | — | 0.250 | — | 0.012 | — |" in md
    assert "| seppexp | 0.431 | — | 0.598 | — | — | — | — | — | — |" in md
    rows = [line.split(" |")[0] for line in md.splitlines() if line.startswith("| ")]
    firsts = [r for r in rows if r in ("| lightgbm", "| seppexp", "| oracle")]
    assert firsts[:3] == ["| lightgbm", "| seppexp", "| oracle"]
    assert "**target any (base rate 0.081)**" in md


def test_segment_tables_with_baselines_beside(card):
    md, _ = card
    # pr_auc by grid type; columns grid_type, rows, lightgbm, seppexp, oracle
    assert "| commercial | 9100 | 0.400 | — | 0.450 |" in md
    # miss_rate@10 by grid type
    assert "| old_residential | 36400 | 0.310 | — | — |" in md


def test_fairness_section_with_quartiles_warning_rates_and_what_is_not_segmented():
    metrics = {
        "segments": {
            "grid_type": {"column": "grid_type", "metrics_key": "by_segment", "segments": 1},
            "floating_share": {"column": "floating_share", "metrics_key": "by_floating_share",
                               "segments": 1, "quartile_edges": [0.1, 0.25, 0.5]},
        },
        "targets": {
            "any": {
                "base_rate": 0.2,
                "models": {
                    "lightgbm": {
                        "pr_auc": 0.45, "ece": 0.01,
                        "by_segment": {"rural": {"rows": 900, "base_rate": 0.1, "ece": 0.02}},
                        "by_floating_share": {"Q2": {"rows": 700, "base_rate": 0.3,
                                                     "pr_auc": 0.5, "ece": 0.04}},
                    },
                    "seppexp": {"pr_auc": 0.44, "ece": 0.03,
                                "by_floating_share": {"Q2": {"pr_auc": 0.41, "ece": 0.05}}},
                },
                "warning_rates": {
                    "model": "lightgbm",
                    "overall": {"rows": 900, "event_rate": 0.1, "red": 0.02},
                    "by_segment": {"rural": {"rows": 900, "event_rate": 0.1, "red": 0.02}},
                },
            }
        },
    }  # fmt: skip
    md, html = model_card(INFO, metrics, FEATURES, ("2023-01-01", "2024-06-30"), GATES)
    section = md.split("## Fairness by segment")[1].split("## Promotion gates")[0]
    assert "Not segmented: elderly_share (not in the grids file)." in section
    assert "Not segmented: rental_share (not in the grids file)." in section
    # segment, rows, base rate, model, pr_auc, pei@5, hit_rate@10, flag_rate@10, miss_rate@10,
    # ece, brier — lightgbm, then seppexp (the best baseline on pr_auc and on ece)
    assert "| Q2 (0.1, 0.25] | 700 | 0.300 | lightgbm | 0.500 | — | — | — | — | 0.040 | — |" in (
        section
    )
    assert "| Q2 (0.1, 0.25] | 700 | 0.300 | seppexp | 0.410 | — | — | — | — | 0.050 | — |" in (
        section
    )
    assert "**target any, lightgbm levels by grid type**" in section
    assert "| rural | 900 | 0.100 | 0.020 | — | — | — | — | — |" in section
    assert "<h2>Fairness by segment</h2>" in html


def test_gate_results_listed_with_verdict(card):
    md, _ = card
    assert "| calibration ece [any] | FAIL | ece 0.041 > 0.03 |" in md
    assert "Some gates fail: this version cannot become champion." in md


def test_worst_grid_type_named_in_limitations(card):
    md, _ = card
    # old_residential 0.31 > overall 0.25; commercial 0.20 is better than overall
    assert (
        "- High-risk grids of type old_residential are missed more often than elsewhere in the "
        "backtest: miss_rate@10 0.310 against 0.250 overall (target any)."
    ) in md


def test_html_is_self_contained(card):
    _, html = card
    assert html.startswith("<!DOCTYPE html>")
    assert "<td>0.457</td>" in html
    assert "http" not in html and "<script" not in html and "<link" not in html


def test_html_escapes_a_malicious_feature_name():
    evil = [("<script>alert('x')</script>", "history"), ("a|b", "time")]
    md, html = model_card(INFO, METRICS, evil, ("2023-01-01", "2024-06-30"), [])
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    # in Markdown a pipe inside a cell is escaped so the table keeps its columns
    assert "| time | 1 | a\\|b |" in md
    assert "Gates not checked yet." in md


def test_the_configuration_search_is_shown_with_its_scores():
    from models.card import model_card

    metrics = {
        "configuration": {
            "chosen": "binary",
            "override": {"lightgbm": {"objective": "binary"}},
            "window": ["2024-05-01T08:00:00+08:00", "2024-05-28T08:00:00+08:00"],
            "scores": {
                "default": {"score": 1.0},
                "binary": {
                    "score": 1.0123,
                    "daily_lead": {"mean_diff": 0.0121, "low": 0.003, "high": 0.0219},
                },
                "wide": {"score": 0.99, "daily_lead": {"mean_diff": float("nan")}},
            },
        }
    }
    md, html = model_card({"version": 1}, metrics, [], ("a", "b"), [])
    assert "Chosen automatically: 'binary', of 3 candidates" in md
    assert "leads the first day by day with a 90 % week-block interval above zero" in md
    assert "| default | 1.000 | — |" in md
    assert "| binary (chosen) | 1.012 | +0.0121 [+0.0030, +0.0219] |" in md
    assert "| wide | 0.990 | — |" in md
    assert "{'lightgbm': {'objective': 'binary'}}" in md and "binary (chosen)" in html
    given, _ = model_card(
        {"version": 1}, {"configuration": {"chosen": "given"}}, [], ("a", "b"), []
    )
    assert "Settings given by the analyst" in given


def test_the_card_says_how_any_was_forecast():
    from models.card import model_card

    mixed = {
        "backtest": {
            "any_mix": {
                "target": "any",
                "weight": 0.5,
                "parts": ["theft", "fire"],
                "applied": True,
            }
        }
    }
    md, _ = model_card({"version": 1}, mixed, [], ("a", "b"), [])
    assert (
        "'any' is forecast as 0.5 × its own model's expected count + 0.5 × the sum of its "
        "categories' models' (theft, fire), and calibrated on that mix." in md
    )
    alone = {"backtest": {"any_mix": {"applied": False, "why_not": "no model for fire"}}}
    md, _ = model_card({"version": 1}, alone, [], ("a", "b"), [])
    assert "'any' is forecast by its own model alone: no model for fire." in md


def test_a_card_marked_with_health_alerts_says_so_under_its_title():
    markdown, html = model_card({"version": 3}, METRICS, FEATURES, ("a", "b"), GATES)
    marks = [
        {"run_id": "r2", "issue_time": "2024-05-21T00:00:00Z", "status": "alert",
         "summary": ["feature family PSI [history] 1.300 > alert level 0.5"]},
        {"run_id": "r1", "issue_time": "2024-05-20T00:00:00Z", "status": "warn",
         "summary": ["score PSI [any] 0.120 > warn level 0.1", "x <b>"]},
    ]  # fmt: skip
    md, page = with_health(markdown, html, marks)
    lines = md.split("\n")
    assert lines[:5] == [
        "# Model card — grid-risk v3",
        "",
        "## Health in service",
        "",
        "ALERT: 1 of the latest 2 flagged scoring runs passed an alert threshold of "
        "risk/health.toml; check the inputs and the model before relying on it.",
    ]
    assert (
        "| 2024-05-21T00:00:00Z | r2 | alert | feature family PSI [history] 1.300 > alert "
        "level 0.5 |" in lines
    )
    assert md.endswith(markdown.partition("\n\n")[2])  # the rest of the card unchanged
    assert page.index("<h2>Health in service</h2>") < page.index("<h2>Version</h2>")
    assert "x &lt;b&gt;" in page and "x <b>" not in page
    assert with_health(markdown, html, []) == (markdown, html)
    warn_only = with_health(markdown, html, marks[1:])[0]
    assert (
        "WARNING: scoring runs passed a warning threshold of risk/health.toml (1 listed below)."
        in warn_only
    )


def test_labels_section_says_which_sources_were_left_out_and_shows_exposure():
    metrics = {
        **METRICS,
        "labels": {"exclude_sources": ["patrol"], "events_left_out": 1234, "events_counted": 50000},
        "exposure": {
            "start": "2024-01-01", "end": "2024-07-03", "grids": 2000, "visits": 900,
            "grids_visited": 150, "visits_per_grid_window": 0.0075,
            "by_grid_type": {"commercial": {"grids": 300, "visits": 600,
                                            "visits_per_grid_window": 0.033,
                                            "share_of_visits": 0.6667}},
            "by_street": {"S01": {"grids": 20, "visits": 900, "visits_per_grid_window": 0.07,
                                  "share_of_visits": 1.0}},
        },
    }  # fmt: skip
    md, html = model_card(INFO, metrics, FEATURES, ("2023-01-01", "2024-06-30"), GATES)
    assert "Labels leave out events reported by: patrol" in md
    assert "1234 of 51234 events were left out" in md
    assert "900 visits to 150 of 2000 grids" in md
    assert "| commercial | 300 | 600 | 0.033 | 0.667 |" in md
    assert "| S01 | 20 | 900 | 0.070 | 1.000 |" in md
    assert "<caption>patrol exposure by street</caption>" in html


def test_labels_section_of_an_older_backtest_and_of_one_counting_every_source():
    older, _ = model_card(INFO, METRICS, FEATURES, ("2023-01-01", "2024-06-30"), GATES)
    assert "predates the label setting" in older
    assert "No patrol visits were given to the backtest." in older
    every = {**METRICS, "labels": {"exclude_sources": [], "events_left_out": 0}}
    md, _ = model_card(INFO, every, FEATURES, ("2023-01-01", "2024-06-30"), GATES)
    assert "Labels count events from every source" in md
