"""The fairness-by-segment tables shared by the report and the model card: which models, which
segments, which labels, on a hand-made metrics.json dict."""

from __future__ import annotations

import pytest

from models.segment_tables import (
    STREET_EXTREMES,
    best_baselines,
    metric_tables,
    segment_label,
    warning_tables,
)


def seg(rows: int, miss: float, ece: float = 0.02, **more: float) -> dict:
    return {"rows": rows, "base_rate": 0.2, "miss_rate@10": miss, "ece": ece, **more}


STREETS = {f"s{i:02d}": seg(100, i / 20) for i in range(12)}  # miss rate 0.00 .. 0.55
METRICS = {
    "segments": {
        "grid_type": {"column": "grid_type", "metrics_key": "by_segment", "segments": 2},
        "street": {"column": "street_id", "metrics_key": "by_street", "segments": 12},
        "floating_share": {
            "column": "floating_share",
            "metrics_key": "by_floating_share",
            "segments": 2,
            "quartile_edges": [0.1304, 0.2511, 0.4234],
        },
    },
    "targets": {
        "any": {
            "base_rate": 0.2,
            "models": {
                "lightgbm": {
                    "pr_auc": 0.45, "pei@5": 0.50, "ece": 0.010, "miss_rate@10": 0.30,
                    "by_segment": {"campus": seg(112, 0.5, 0.15), "rural": seg(900, 0.2)},
                    "by_street": STREETS,
                    "by_floating_share": {"Q1": seg(2800, 0.25), "Q4": seg(2800, 0.35)},
                },
                "seppexp": {
                    "pr_auc": 0.44, "pei@5": 0.48, "ece": 0.030, "miss_rate@10": 0.31,
                    "by_segment": {"campus": seg(112, 0.6), "rural": seg(900, 0.25)},
                },
                "kde": {"pr_auc": 0.40, "pei@5": 0.49, "ece": 0.090, "miss_rate@10": 0.33},
                "recent_30d": {"pr_auc": 0.30, "pei@5": 0.30, "ece": 0.020},
                "prospective": {"status": "failed", "reason": "no events"},
                "oracle": {"pr_auc": 0.60, "pei@5": 0.70, "ece": 0.001},
            },
            "warning_rates": {
                "model": "lightgbm",
                "overall": {"rows": 1012, "event_rate": 0.2, "orange_or_above": 0.05,
                            "visits_per_grid_window": 0.05, "visited": 0.04},
                "by_segment": {
                    "campus": {"rows": 112, "event_rate": 0.4, "red": 0.1, "orange_or_above": 0.2,
                               "visits_per_grid_window": 0.2, "visited": 0.15},
                    "rural": {"rows": 900, "event_rate": 0.1, "red": 0.0, "orange_or_above": 0.01,
                              "visits_per_grid_window": 0.0, "visited": 0.0},
                },
            },
        }
    },
}  # fmt: skip


def test_best_baselines_are_best_pr_auc_best_pei_and_best_calibrated_never_the_oracle():
    # pr_auc: seppexp 0.44; pei@5: kde 0.49; lowest ece: recent_30d 0.020 (the oracle's 0.001
    # and the failed prospective do not count)
    models = METRICS["targets"]["any"]["models"]
    assert best_baselines(models) == ["seppexp", "kde", "recent_30d"]


def test_quartiles_are_labelled_with_their_edges():
    assert segment_label(METRICS, "floating_share", "Q1") == "Q1 (≤ 0.13)"
    assert segment_label(METRICS, "floating_share", "Q2") == "Q2 (0.13, 0.251]"
    assert segment_label(METRICS, "floating_share", "Q4") == "Q4 (> 0.423)"
    assert segment_label(METRICS, "floating_share", "missing") == "missing"
    assert segment_label(METRICS, "grid_type", "campus") == "campus"


def test_metric_tables_per_kind_with_lightgbm_then_the_best_baselines():
    tables = metric_tables(METRICS, "any")
    assert [t.caption.split(";")[0] for t in tables] == [
        "target any, by grid type",
        "target any, by street",
        "target any, by floating population share (quartiles)",
    ]
    grid = tables[0]
    assert grid.header[:4] == ["segment", "rows", "base rate", "model"]
    # every segment, then "all grids", each with lightgbm, seppexp, kde, recent_30d
    assert [(r[0], r[3]) for r in grid.rows[:4]] == [
        ("campus", "lightgbm"), ("campus", "seppexp"), ("campus", "kde"),
        ("campus", "recent_30d"),
    ]  # fmt: skip
    col = grid.header.index("ece")
    assert grid.rows[0][col] == 0.15 and grid.rows[0][1] == 112
    assert grid.rows[2][col] is None  # kde has no grid-type metrics: blank, not an error
    assert [r[0] for r in grid.rows[-4:]] == ["all grids"] * 4
    assert grid.rows[-4][col] == 0.010  # lightgbm's overall ece


def test_only_the_extreme_streets_are_shown():
    street = metric_tables(METRICS, "any")[1]
    shown = list(dict.fromkeys(r[0] for r in street.rows if r[0] != "all grids"))
    # highest miss_rate@10 first: s11 .. s07, then the lowest: s04 .. s00
    assert shown == ["s11", "s10", "s09", "s08", "s07", "s04", "s03", "s02", "s01", "s00"]
    assert len(shown) == 2 * STREET_EXTREMES
    assert "12 streets: the 5 with the highest and the 5 with the lowest miss_rate@10" in (
        street.caption
    )


def test_warning_tables_add_patrol_visits_where_the_backtest_had_them():
    (grid,) = warning_tables(METRICS, "any")
    assert grid.caption == "target any, lightgbm levels by grid type"
    assert grid.header[-2:] == ["patrol visits per grid-window", "share visited"]
    campus = grid.rows[0]
    assert campus[:3] == ["campus", 112, 0.4]
    assert campus[grid.header.index("red")] == 0.1
    assert campus[-2:] == [0.2, 0.15] and grid.rows[1][-2:] == [0.0, 0.0]
    assert grid.rows[-1][0] == "all grids" and grid.rows[-1][-2:] == [0.05, 0.04]
    # without visits, no visit columns
    rates = METRICS["targets"]["any"]["warning_rates"]
    plain = {k: {s: {c: v for c, v in row.items() if "visit" not in c} for s, row in v.items()}
             for k, v in rates.items() if k != "overall" and k != "model"}  # fmt: skip
    plain["overall"] = {"rows": 1012, "event_rate": 0.2}
    metrics = {**METRICS, "targets": {"any": {**METRICS["targets"]["any"], "warning_rates": plain}}}
    assert warning_tables(metrics, "any")[0].header[-1] == "events caught (orange+)"


def test_no_warning_tables_without_lightgbm_levels():
    metrics = {**METRICS, "targets": {"any": {"models": {}}}}
    assert warning_tables(metrics, "any") == []
    assert metric_tables(metrics, "any") == []


@pytest.mark.parametrize("legacy", [{}, {"segments": {}}])
def test_a_metrics_json_from_before_the_segments_block_has_grid_type_and_street(legacy):
    metrics = {k: v for k, v in METRICS.items() if k != "segments"} | legacy
    captions = [t.caption.split(";")[0] for t in metric_tables(metrics, "any")]
    assert captions == ["target any, by grid type", "target any, by street"]
