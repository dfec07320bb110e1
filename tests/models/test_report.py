"""The backtest report: coverage curves and reliability bins against hand-worked values, and
a page built from a small hand-made result (no LightGBM, so no SHAP) that links only PNGs
that exist and loads nothing from the network."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models.backtest import BacktestResult
from models.report import (
    coverage_curves,
    fairness_html,
    font_families,
    reliability_bins,
    write_report,
)
from risk.metrics import evaluate
from risk.segments import warning_rates_by_kind
from tests.conftest import need


def test_coverage_curves_with_equal_areas():
    score = np.array([[4.0, 3.0, 2.0, 1.0]])
    count = np.array([[2.0, 0.0, 1.0, 1.0]])  # 4 events
    hit, pai = coverage_curves(score, count, np.ones(4), coverages=(25, 50, 75))
    # K = 1: 2/4 = 0.5, PAI 0.5 / (1/4) = 2; K = 2: 2/4, PAI 1; K = 3: 3/4, PAI 0.75/0.75 = 1.
    np.testing.assert_allclose(hit, [0.5, 0.5, 0.75])
    np.testing.assert_allclose(pai, [2.0, 1.0, 1.0])


def test_coverage_curves_divide_by_the_area_share_of_the_flagged_grids():
    score = np.array([[4.0, 3.0, 2.0, 1.0]])
    count = np.array([[2.0, 0.0, 1.0, 1.0]])
    _, pai = coverage_curves(score, count, np.array([1.0, 1.0, 1.0, 3.0]), coverages=(25,))
    # Top 1 grid holds area 1 of 6: PAI = 0.5 / (1/6) = 3.
    np.testing.assert_allclose(pai, [3.0])


def test_reliability_bins_are_equal_count():
    prob = np.array([0.4, 0.1, 0.3, 0.2])
    label = np.array([1.0, 0.0, 1.0, 0.0])
    mean_p, rate = reliability_bins(prob, label, n_bins=2)
    # Sorted: (0.1, 0), (0.2, 0) | (0.3, 1), (0.4, 1).
    np.testing.assert_allclose(mean_p, [0.15, 0.35])
    np.testing.assert_allclose(rate, [0.0, 1.0])


def hand_result() -> BacktestResult:
    """3 issue times × 8 grids of two grid types; historical_rate and the oracle."""
    rng = np.random.default_rng(3)
    n_t, n_g = 3, 8
    expected = rng.gamma(2.0, 0.3, size=(n_t, n_g))
    count = rng.poisson(expected).astype(float)
    noisy = expected + rng.normal(0, 0.2, size=expected.shape).clip(-0.5, 0.5) + 0.5
    types = np.array(["old_residential", "commercial"] * 4, dtype=object)
    streets = np.array(["s1"] * 4 + ["s2"] * 4, dtype=object)
    segments = {"grid_type": types, "street": streets}
    scores = {"any": {"historical_rate": noisy, "oracle": expected}}
    probs = {"any": {m: -np.expm1(-s) for m, s in scores["any"].items()}}
    models = {
        m: evaluate(s, count, prob=probs["any"][m], expected=expected, segments=segments)
        for m, s in scores["any"].items()
    }
    metrics = {
        "dataset": {"grids": n_g, "events": int(count.sum()), "start": "2024-03-01",
                    "end": "2024-03-03"},
        "horizon_hours": 72,
        "issue_times": n_t,
        "targets": {"any": {"base_rate": float((count >= 1).mean()), "models": models}},
        "timings_s": {"features": 0.1, "train": 0.2, "predict": 0.1, "explain": 0.0,
                      "total": 0.4},
        "peak_rss_mb": 100.0,
    }  # fmt: skip
    return BacktestResult(
        metrics=metrics,
        issue_times=pd.date_range("2024-03-01 08:00", periods=n_t, freq="D", tz="Asia/Shanghai"),
        grid_ids=np.array([f"g{i}" for i in range(n_g)]),
        targets=("any",),
        models=("historical_rate", "oracle"),
        counts={"any": count},
        scores=scores,
        probs=probs,
        expected={"any": expected},
        segments=segments,
        area=np.ones(n_g),
        settings={"hour": 8, "tz": "Asia/Shanghai", "train_start": "2024-01-29",
                  "retrain_days": 7, "blocks": 1},
        feature_info=[],
        shap=None,
        notes=["a note for the reader"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    report, plots = write_report(hand_result(), out)
    return report, plots, report.read_text()


def test_report_links_exactly_the_plots_it_wrote(page):
    report, plots, html = page
    linked = set(re.findall(r'src="([^"]+)"', html))
    assert linked == {p.name for p in plots}
    # No LightGBM: no per-grid-type reliability and no SHAP plot.
    assert linked == {"hit_rate.png", "pai.png", "pr_curves.png", "reliability.png"}
    for name in linked:
        assert (report.parent / name).stat().st_size > 1000


def test_report_is_self_contained_and_says_what_is_missing(page):
    _, _, html = page
    assert "http://" not in html and "https://" not in html
    assert "No SHAP summary" in html
    assert "not calibrated" in html
    assert "a note for the reader" in html
    assert "8 grids" in html and "3 daily issue times" in html


def test_segment_table_has_a_row_per_grid_type_and_the_overall(page):
    _, _, html = page
    for row in ("old_residential (12 rows)", "commercial (12 rows)", "all grids"):
        assert f"<th>{row}</th>" in html  # 3 issue times × 4 grids of each type = 12 rows


def test_fairness_tables_per_kind_with_quartile_edges_and_warning_rates(page):
    _, _, html = page
    # the page: historical_rate (the one classic baseline; the oracle is not one) per grid
    # type and street; no warning rates without LightGBM
    assert "<h2>Fairness by segment</h2>" in html
    assert "<h3>target any, by grid type</h3>" in html and "<h3>target any, by street</h3>" in html
    assert "levels by" not in html
    r = hand_result()
    floating = np.array(["Q1", "Q2"] * 4, dtype=object)
    segments = {**r.segments, "floating_share": floating}
    level = np.where(r.counts["any"] >= 1, "red", "blue")  # red exactly where an event came
    metrics = {
        **r.metrics,
        "segments": {
            "grid_type": {"metrics_key": "by_segment"},
            "floating_share": {
                "metrics_key": "by_floating_share",
                "quartile_edges": [0.1, 0.2, 0.3],
            },
        },
    }
    metrics["targets"] = {
        "any": {
            **r.metrics["targets"]["any"],
            "models": {
                m: evaluate(r.scores["any"][m], r.counts["any"], prob=r.probs["any"][m],
                            segments=segments)
                for m in r.scores["any"]
            },
            "warning_rates": {"model": "lightgbm",
                              **warning_rates_by_kind(level, r.counts["any"], segments)},
        }
    }  # fmt: skip
    part = fairness_html(replace(r, metrics=metrics, segments=segments), "any")
    assert "<h3>target any, by floating population share (quartiles)</h3>" in part
    assert "<th>Q1 (≤ 0.1)</th>" in part and "<th>Q2 (0.1, 0.2]</th>" in part
    assert "<h3>target any, lightgbm levels by grid type</h3>" in part
    # red where an event came: each segment's red share is its event rate, precision 1
    types = r.segments["grid_type"]
    rate = float((r.counts["any"][:, types == "commercial"] >= 1).mean())
    assert f"<th>commercial</th><td>12</td><td>{rate:.3f}</td><td>{rate:.3f}</td>" in part


def test_a_chinese_category_is_drawn_with_a_chinese_font(tmp_path):
    """A city's Chinese category reaches the plots' titles as characters: DejaVu Sans has none,
    so matplotlib falls back to the installed CJK font (not empty boxes and a warning each)."""
    families = font_families()
    assert families[0] == "DejaVu Sans"
    need("a Chinese font", len(families) > 1, "apt-get install fonts-wqy-microhei")
    r = hand_result()
    key = "盗窃"  # theft
    result = replace(
        r,
        metrics={**r.metrics, "targets": {key: r.metrics["targets"]["any"]}},
        targets=(key,),
        counts={key: r.counts["any"]},
        scores={key: r.scores["any"]},
        probs={key: r.probs["any"]},
        expected={key: r.expected["any"]},
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing from font")
        report, _ = write_report(result, tmp_path)
    assert "盗窃" in report.read_text(encoding="utf-8")
