"""The rolling-origin backtest on a tiny synthetic city: schema, shape, oracle, no leakage,
hand-counted labels and baseline values, and the written outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from features.binning import event_arrays
from models.backtest import (
    DEFAULT_MODELS,
    PREDICTION_COLUMNS,
    default_train_start,
    retrain_blocks,
    run_backtest,
    training_rows,
    write_outputs,
)
from models.report import write_report
from risk.errors import ConfigError
from risk.metrics import pr_auc
from risk.synth import synthesise

TZ = "Asia/Shanghai"
# Few, small trees and coarse bins: the tests check wiring, not accuracy.
FAST = {
    "training": {"num_boost_round": 15, "early_stopping_rounds": 5},
    "lightgbm": {"num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.3, "max_bin": 31},
}
TARGETS = ("any", "dispute")
START, END = "2024-07-01", "2024-07-14"  # 14 evaluation days = 2 blocks of 7
TRAIN_START = "2024-04-01"  # 91 training issue times before START
ALL_MODELS = (*DEFAULT_MODELS, "oracle")
METRIC_KEYS = {
    "pr_auc", "roc_auc", "brier", "log_loss", "ece",
    "hit_rate@1", "hit_rate@5", "hit_rate@10", "pai@1", "pai@5", "pai@10", "pei@5",
    "miss_rate@10", "miss_rate_true@10", "by_segment",
}  # fmt: skip
SEGMENT_KEYS = {"rows", "pr_auc", "ece", "miss_rate@10"}


@pytest.fixture(scope="module")
def city():
    return synthesise(64, 200, seed=1)  # 2024-01-01 .. 2024-07-18


def _run(city, events, **kw):
    return run_backtest(
        city.grids,
        events,
        START,
        END,
        tz=TZ,
        truth=city.truth,
        targets=TARGETS,
        config=FAST,
        train_start=TRAIN_START,
        **kw,
    )


@pytest.fixture(scope="module")
def steps():
    return []


@pytest.fixture(scope="module")
def result(city, steps):
    return _run(city, city.events, progress=lambda s, d, n: steps.append((s, d, n)))


@pytest.fixture(scope="module")
def outputs(result, tmp_path_factory):
    return write_outputs(result, tmp_path_factory.mktemp("backtest"), report=write_report)


# ----------------------------------------------------------------------------- pure helpers


def test_retrain_blocks_cut_days_from_the_start():
    # 10 days, retrain 7: days 0..6 then 7..9.
    assert retrain_blocks(10, 7) == [slice(0, 7), slice(7, 10)]
    assert retrain_blocks(14, 7) == [slice(0, 7), slice(7, 14)]


def test_default_train_start_is_the_later_of_warmup_and_max_history():
    import datetime as dt

    first, start = dt.date(2024, 1, 1), dt.date(2025, 6, 1)
    # 2024-01-01 + 28 d = 2024-01-29; 2025-06-01 − 365 d = 2024-06-01 (2024 is a leap year).
    assert default_train_start(first, start) == dt.date(2024, 6, 1)
    # With a short history the warm-up wins: 2024-01-29 > 2024-03-01 − 365 d.
    assert default_train_start(first, dt.date(2024, 3, 1)) == dt.date(2024, 1, 29)


def test_training_labels_count_only_events_known_at_the_block_start():
    ids = pd.Series(["a", "b"])
    t0 = pd.Timestamp("2024-03-01 08:00", tz=TZ)
    times = pd.DatetimeIndex([t0 + pd.Timedelta(days=d) for d in range(5)])
    events = pd.DataFrame(
        {
            # e1 in a's window of day 0, known at once; e2 in b's window of day 0, reported
            # 10 days later; e3 in a's window of day 1 (t0 + 1 d + 2 h), known at once.
            "occurred_at": [t0 + pd.Timedelta(hours=5)] * 2 + [t0 + pd.Timedelta(hours=26)],
            "reported_at": [
                t0 + pd.Timedelta(hours=5),
                t0 + pd.Timedelta(days=10),
                t0 + pd.Timedelta(hours=26),
            ],
            "category": ["theft", "theft", "fraud"],
            "grid_id": ["a", "b", "a"],
            "source": ["resident"] * 3,
        }
    )
    frame = pd.DataFrame(
        {
            "grid_id": np.tile(ids, 5),
            "issue_time": times.repeat(2),
            "count_any": np.int32(99),
            "label_any": np.int8(1),
        }
    )
    block_start = int((t0 + pd.Timedelta(days=4)).value)
    out = training_rows(
        frame, times.as_unit("ns").asi8, 2, event_arrays(events, ids), ["any"], block_start
    )
    # Windows close at t + 3 d <= t0 + 4 d for days 0 and 1 only: 2 times × 2 grids = 4 rows.
    assert len(out) == 4
    # Day 0: a holds e1 and e3 (26 h <= 72 h), b's e2 is unknown at t0 + 4 d -> 0.
    # Day 1 (window t0 + 24 h .. t0 + 96 h): a holds e3, b nothing.
    assert out["count_any"].tolist() == [2, 0, 1, 0]
    assert out["label_any"].tolist() == [1, 0, 1, 0]


# ----------------------------------------------------------------------------- the run


def test_metrics_hold_every_schema_key_for_every_model_and_target(result):
    m = result.metrics
    assert set(m) >= {"dataset", "horizon_hours", "issue_times", "targets", "timings_s"}
    assert m["dataset"] == {"grids": 64, "events": 1565, "start": START, "end": END}
    assert (m["horizon_hours"], m["issue_times"]) == (72, 14)
    assert set(m["timings_s"]) == {
        "features", "train", "predict", "baselines", "search", "explain", "total"
    }  # fmt: skip
    assert m["peak_rss_mb"] > 0
    assert set(m["targets"]) == set(TARGETS)
    grid_types = set(result.segments["grid_type"])
    for target in TARGETS:
        assert 0 < m["targets"][target]["base_rate"] < 1
        models = m["targets"][target]["models"]
        assert set(models) == set(ALL_MODELS)
        for name, block in models.items():
            assert set(block) >= METRIC_KEYS, (target, name)
            assert set(block["by_segment"]) == grid_types
            for seg in block["by_segment"].values():
                assert set(seg) >= SEGMENT_KEYS
            assert set(block["by_street"]) == set(result.segments["street"])


def test_predictions_have_the_exact_columns_and_one_row_per_cell(result):
    p = result.predictions
    assert tuple(p.columns) == PREDICTION_COLUMNS
    # 14 issue times × 64 grids × 2 targets × 7 models (lightgbm, 5 baselines, oracle).
    assert len(p) == 14 * 64 * 2 * 7 == 12_544
    assert not p.duplicated(["issue_time", "grid_id", "target", "model"]).any()
    assert (p["label"] == (p["count"] >= 1)).all()
    # every model's score is its expected count; LightGBM's is -log(1 - p) of its calibrated
    # probability, from the unclipped log-odds (so it ranks where p rounds to 1 - EPS)
    score, prob = result.scores["any"]["lightgbm"], result.probs["any"]["lightgbm"]
    assert (score > 0).all()
    inside = prob < 0.999
    np.testing.assert_allclose(score[inside], -np.log1p(-prob[inside]), rtol=1e-6)


def test_counts_match_a_hand_count_of_the_events(result, city):
    p = result.predictions
    t = pd.Timestamp(f"{START} 08:00", tz=TZ)
    ev = city.events
    window = (ev["occurred_at"] > t) & (ev["occurred_at"] <= t + pd.Timedelta(hours=72))
    # labels leave the patrols' events out by default (docs/adr/019-*): 20 events in the
    # window, one of them a patrol's -> 19
    assert window.sum() == 20 and (window & (ev["source"] == "patrol")).sum() == 1
    window &= ev["source"] != "patrol"
    expected = ev[window].groupby("grid_id").size()
    got = p[(p["model"] == "oracle") & (p["target"] == "any") & (p["issue_time"] == t)]
    got = got.set_index(got["grid_id"].astype(str))["count"]
    assert got.sum() == expected.sum() > 0
    assert (got.reindex(expected.index) == expected).all()


def test_historical_rate_is_known_events_over_days_since_the_data_start(result, city):
    t = pd.Timestamp(f"{START} 08:00", tz=TZ)
    ev = city.events
    known = ev[(ev["occurred_at"] <= t) & (ev["reported_at"] <= t)]
    days = (t - ev["occurred_at"].min()) / pd.Timedelta(days=1)
    grid = known["grid_id"].value_counts().index[0]  # the busiest grid
    rate = known["grid_id"].eq(grid).sum() / days * 3  # events per day × 3 days of window
    col = list(result.grid_ids).index(grid)
    assert result.scores["any"]["historical_rate"][0, col] == pytest.approx(rate, rel=1e-9)


def test_the_oracle_misses_none_of_its_own_true_high_risk_grids(result):
    for target in TARGETS:
        assert result.metrics["targets"][target]["models"]["oracle"]["miss_rate_true@10"] == 0.0
        other = result.metrics["targets"][target]["models"]["recent_30d"]["miss_rate_true@10"]
        assert 0 < other <= 1


def test_progress_reports_every_step_to_completion(steps):
    assert ("features", 1, 1) in steps
    assert [s for s in steps if s[0] == "blocks"] == [("blocks", i, 2) for i in range(3)]
    assert ("metrics", 2, 2) in steps


def test_predictions_at_t_do_not_depend_on_events_after_t(result, city):
    # Cut mid first block: keep only events known at the 3rd issue time (occurred and
    # reported by then), same date range, same everything else.
    cut = pd.Timestamp(f"{START} 08:00", tz=TZ) + pd.Timedelta(days=2)
    ev = city.events
    known = ev[(ev["occurred_at"] <= cut) & (ev["reported_at"] <= cut)]
    assert len(known) < len(ev)
    # the cut run's later windows close after its last event: scored only on request
    with pytest.raises(ConfigError, match="close after the last event"):
        _run(city, known)
    short = _run(city, known, open_windows=True)
    assert any("incomplete (open_windows)" in note for note in short.notes)
    n = 3 * 64  # issue times START, +1 d, +2 d (<= cut), all grids
    for target in TARGETS:
        for model in ALL_MODELS:
            full = result.scores[target][model].ravel()[:n]
            cut_run = short.scores[target][model].ravel()[:n]
            np.testing.assert_array_equal(cut_run, full, err_msg=f"{target} {model}")
    # ... while later issue times do see the missing events (the test can fail).
    later = slice(7 * 64, 14 * 64)
    assert not np.array_equal(
        short.scores["any"]["recent_30d"].ravel()[later],
        result.scores["any"]["recent_30d"].ravel()[later],
    )


def test_outputs_are_strict_json_parquet_and_a_report_with_existing_plots(outputs, result):
    metrics = json.loads(outputs["metrics"].read_text())  # strict: NaN written as null
    assert metrics["issue_times"] == 14
    back = pd.read_parquet(outputs["predictions"])
    assert tuple(back.columns) == PREDICTION_COLUMNS and len(back) == 12_544
    lgb = back[(back["model"] == "lightgbm") & (back["target"] == "any")]
    panel = lgb.pivot(index="issue_time", columns="grid_id", values="score")
    counts = lgb.pivot(index="issue_time", columns="grid_id", values="count")
    got = metrics["targets"]["any"]["models"]["lightgbm"]["pr_auc"]
    assert math.isclose(pr_auc(panel.to_numpy(), counts.to_numpy()), got)
    html = outputs["report"].read_text()
    for name in ("hit_rate", "pai", "pr_curves", "reliability", "reliability_by_grid_type",
                 "shap_summary", "shap_beeswarm", "shap_waterfall"):  # fmt: skip
        assert f'src="{name}.png"' in html
        assert (outputs["report"].parent / f"{name}.png").stat().st_size > 1000
    assert "http://" not in html and "https://" not in html  # self-contained
    assert "<h2>Risk levels</h2>" in html and "any orange_or_above" in html
    # what the labels counted, and that no patrol visits were given (ADR 019)
    assert "<h2>Labels and patrol exposure</h2>" in html
    assert "Labels leave out events reported by: patrol" in html


def test_shap_summary_covers_every_feature_of_the_any_model(result):
    shap = result.shap
    assert shap.target == "any" and shap.rows == 7 * 64  # the last block's rows
    # the `any` model reads its own and the shared features and the classic components
    names = set(shap.features["feature"])
    assert {"events_7d_any", "classic_eb_any", "classic_self_dispute"} <= names
    assert not any(n.endswith("_dispute") and not n.startswith("classic_self") for n in names)
    assert names <= {i.name for i in result.feature_info}
    assert shap.families["mean_abs"].sum() == pytest.approx(shap.features["mean_abs"].sum())


def test_bad_settings_are_refused_with_the_accepted_values(city):
    with pytest.raises(ConfigError, match="accepted"):
        run_backtest(city.grids, city.events, START, END, models=("lightgbm", "arima"))
    with pytest.raises(ConfigError, match="truth"):
        run_backtest(city.grids, city.events, START, END, models=("oracle",))
    with pytest.raises(ConfigError, match="no training history"):
        run_backtest(city.grids, city.events, START, END, train_start="2024-07-02")
    with pytest.raises(ConfigError, match="is after the last event"):  # nothing to measure
        run_backtest(city.grids, city.events, "2031-01-01", "2031-01-10")
    # a date without its year (pandas: year 1) or past pandas' range: named, not an overflow
    with pytest.raises(ConfigError, match=r"--start 'May 1' \(read as 0001-05-01\) is outside"):
        run_backtest(city.grids, city.events, "May 1", END)
    with pytest.raises(ConfigError, match="--end '9999-12-31' is outside the years 1700..2249"):
        run_backtest(city.grids, city.events, START, "9999-12-31")
    # every event from the system's own patrols, which the labels leave out by default
    patrols = city.events.assign(source="patrol")
    with pytest.raises(ConfigError, match="every event has source 'patrol'.*none"):
        run_backtest(city.grids, patrols, START, END)
    # the data end 2024-07-18: windows of later issue days would count the end as quiet
    last = city.events["occurred_at"].max()
    latest = (last + pd.Timedelta(days=1) - pd.Timedelta(hours=72) - pd.Timedelta(hours=8)).date()
    with pytest.raises(ConfigError, match=f"close after the last event.*--end {latest} or"):
        run_backtest(city.grids, city.events, START, "2024-07-25")
    # ten days of events cannot hold the warm-up, a training window and an evaluation
    recent = city.events[city.events["occurred_at"] > last - pd.Timedelta(days=10)]
    with pytest.raises(ConfigError, match="span only 9 days .*longer history"):
        run_backtest(city.grids, recent, "2024-07-15", "2024-07-16")


def test_lightgbm_levels_are_its_operating_points_measured_on_the_evaluation(result):
    block = result.metrics["targets"]["any"]["levels"]
    assert set(block["operating_points"]) == {"red", "orange", "yellow"}
    for level, point in block["operating_points"].items():
        assert point["target"] == {"red": 0.8, "orange": 0.6, "yellow": 0.4}[level]
        assert point["threshold"] is None or 0 < point["threshold"] < 1
    measured = block["measured"]
    assert set(measured) == {"red", "orange", "yellow", "orange_or_above"}
    total = sum(measured[level]["flagged"] for level in ("red", "orange", "yellow"))
    assert total <= 14 * 64  # every grid-window at most one level
    assert measured["orange_or_above"]["flagged"] == (
        measured["red"]["flagged"] + measured["orange"]["flagged"]
    )


def test_metrics_record_which_sources_the_labels_left_out(result, city):
    patrol = int((city.events["source"] == "patrol").sum())
    assert result.metrics["labels"] == {
        "exclude_sources": ["patrol"],
        "events_left_out": patrol,
        "events_counted": 1565 - patrol,
    }
    assert result.settings["label_exclude_sources"] == ["patrol"]
    assert "exposure" not in result.metrics  # no visits given


def test_counting_every_source_and_reporting_patrol_exposure(city):
    g1, g2 = city.grids["grid_id"].iloc[:2]
    t = pd.Timestamp(f"{START} 08:00", tz=TZ)
    visits = pd.DataFrame(
        {"grid_id": [g1, g1, g2], "visited_at": [t + pd.Timedelta(hours=h) for h in (1, 30, 2)]}
    )
    out = run_backtest(
        city.grids, city.events, START, END, tz=TZ, targets=("any",),
        models=("historical_rate",), label_exclude_sources="none", visits=visits,
    )  # fmt: skip
    # the 20 events in the first window, the patrol's included (see the hand count above)
    assert out.counts["any"][0].sum() == 20
    assert out.metrics["labels"]["exclude_sources"] == []
    exposure = out.metrics["exposure"]
    assert (exposure["visits"], exposure["grids_visited"], exposure["grids"]) == (3, 2, 64)
    # 14 windows × 64 grids; g1's visits fall in windows of days 0 and 1 (1 h: day 0 only;
    # 30 h: days 0 and 1), g2's in day 0's -> 4 grid-window visits / 896
    assert exposure["visits_per_grid_window"] == pytest.approx(4 / 896)
    assert sum(v["visits"] for v in exposure["by_street"].values()) == 3


def test_the_exposure_feature_needs_visits(city):
    with pytest.raises(ConfigError, match="needs the patrol visits"):
        _run(city, city.events, patrol_exposure=True)


SEGMENT_BLOCKS = ("by_segment", "by_street", "by_elderly_share", "by_floating_share",
                  "by_rental_share")  # fmt: skip


def test_every_metric_by_grid_type_street_and_population_quartile(result, city):
    m = result.metrics
    assert list(m["segments"]) == [
        "grid_type", "street", "elderly_share", "floating_share", "rental_share"
    ]  # fmt: skip
    for column in ("elderly_share", "floating_share", "rental_share"):
        values = city.grids[column].to_numpy(dtype=float)
        edges = np.nanquantile(values, [0.25, 0.5, 0.75])
        assert m["segments"][column]["quartile_edges"] == pytest.approx(edges)
        assert (result.segments[column] == "Q4").sum() == (values > edges[2]).sum()
    rows = 14 * 64
    for target in TARGETS:
        for name, model in m["targets"][target]["models"].items():
            for key in SEGMENT_BLOCKS:  # the segments of each kind partition the panel
                assert sum(s["rows"] for s in model[key].values()) == rows, (target, name, key)
                events = sum(s["events"] for s in model[key].values())
                assert events == result.counts[target].sum()
            q4 = model["by_floating_share"]["Q4"]
            assert q4["rows"] == 14 * (result.segments["floating_share"] == "Q4").sum()
            assert set(q4) >= {
                "pr_auc", "roc_auc", "brier", "log_loss", "ece", "hit_rate@5", "pai@5",
                "pei@5", "flag_rate@10", "miss_rate@10", "miss_rate_true@10",
            }  # fmt: skip


def test_warning_rates_per_segment_add_up_to_the_measured_levels(result):
    for target in TARGETS:
        block = result.metrics["targets"][target]
        rates, measured = block["warning_rates"], block["levels"]["measured"]
        assert rates["model"] == "lightgbm"
        assert rates["overall"]["rows"] == 14 * 64
        for level in ("red", "orange", "yellow", "orange_or_above"):
            assert rates["overall"][level] == pytest.approx(measured[level]["share"])
            for key in SEGMENT_BLOCKS:  # row-weighted segment shares give the overall share
                flagged = sum(r[level] * r["rows"] for r in rates[key].values())
                assert flagged == pytest.approx(measured[level]["flagged"])


def test_warning_rates_carry_the_patrol_visits_per_segment(city):
    g1 = city.grids["grid_id"].iloc[0]
    t = pd.Timestamp(f"{START} 08:00", tz=TZ)
    visits = pd.DataFrame({"grid_id": [g1, g1], "visited_at": [t + pd.Timedelta(hours=1)] * 2})
    out = run_backtest(
        city.grids, city.events, START, END, tz=TZ, targets=("any",), config=FAST,
        train_start=TRAIN_START, models=("lightgbm",), visits=visits,
    )  # fmt: skip
    rates = out.metrics["targets"]["any"]["warning_rates"]
    # 2 visits to g1 in the first window: 2 / (14 · 64) per grid-window, 1 of 896 visited
    assert rates["overall"]["visits_per_grid_window"] == pytest.approx(2 / 896)
    assert rates["overall"]["visited"] == pytest.approx(1 / 896)
    assert out.metrics["exposure"]["visits_per_grid_window"] == pytest.approx(2 / 896)
    street = str(city.grids["street_id"].iloc[0])
    street_rows = rates["by_street"][street]["rows"]
    assert rates["by_street"][street]["visits_per_grid_window"] == pytest.approx(2 / street_rows)
