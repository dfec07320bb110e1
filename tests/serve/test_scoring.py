"""The scoring run end to end on SQLite and PostgreSQL: a tiny model trained on a 49-grid
synthetic city, scored at one issue time, stored with its warnings in the review queue."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from features.base import FeatureSpec
from features.build import build_features
from models.explain import AdditivityError
from models.forecaster import LightGBMForecaster
from models.persist import save_forecaster
from models.training import train_forecaster
from risk.errors import ContractError
from risk.levels import LEVELS
from risk.review import approve
from risk.synth import synthesise
from serve.repo import audit, reviews, runs
from serve.repo import grids as grid_repo
from serve.scoring import SCORING_ACTOR, score
from serve.tables import ForecastRow, ForecastRunRow, GridRow, ReviewItemRow, ReviewRevisionRow

TZ = "Asia/Shanghai"
TARGETS = ("any", "theft")
# Few, small trees on one thread: the tests check the run, not the model.
FAST = {
    "training": {"num_boost_round": 150, "early_stopping_rounds": 10, "count_model": False},
    "lightgbm": {
        "num_leaves": 7,
        "min_data_in_leaf": 20,
        "learning_rate": 0.3,
        "num_threads": 1,
    },
}
AT = "2024-05-20 08:00"  # city time = 2024-05-20T00:00Z
AT_UTC = datetime(2024, 5, 20, 0, 0, tzinfo=UTC)
NOW = datetime(2024, 5, 20, 0, 30, tzinfo=UTC)  # 08:30 city time
# Levels as multiples of the city-mean probability; low enough that the tiny model's best
# grids reach orange (its top "any" grid is ~1.8× the mean).
THRESHOLDS = {"yellow": 1.1, "orange": 1.3, "red": 1.6}
G = 49


@pytest.fixture(scope="module")
def city():
    return synthesise(G, 150, 3)


@pytest.fixture(scope="module")
def model_dir(city, tmp_path_factory):
    trained = train_forecaster(
        city.grids, city.events, AT, tz=TZ, config=FAST, targets=TARGETS, max_history_days=90
    )
    folder = tmp_path_factory.mktemp("model") / "m"
    save_forecaster(trained.model, folder, extra={"targets_trained": list(trained.targets)})
    return folder


def run(factory, model_dir, city, **kw):
    options = {"tz": TZ, "thresholds": THRESHOLDS, "now": NOW, **kw}
    return score(AT, city.grids, city.events, factory=factory, model_dir=model_dir, **options)


def forecasts(factory, run_id):
    with factory() as s:
        frame, _ = runs.run_forecasts(s, run_id)
    return frame


def items(factory):
    with factory() as s:
        found, _ = reviews.list_items(s, limit=None)
    return {(i.grid_id, i.target): i for i in found}


def count(factory, row):
    with factory() as s:
        return s.scalar(select(func.count()).select_from(row))


# ----------------------------------------------------------------------------- the run


def test_run_stores_every_grid_and_target_with_version_and_fingerprint(factory, model_dir, city):
    summary = run(factory, model_dir, city, model_version="7")
    frame = forecasts(factory, summary.run_id)
    assert len(frame) == G * 2  # 49 grids × 2 targets
    assert set(frame["grid_id"]) == set(city.grids["grid_id"])
    assert frame.groupby("target").size().to_dict() == {"any": G, "theft": G}
    with factory() as s:
        stored = runs.get_run(s, summary.run_id)
    assert (stored.model_version, stored.n_grids, stored.issue_time) == ("7", G, AT_UTC)
    assert stored.data_fingerprint == summary.data_fingerprint
    assert summary.data_fingerprint.startswith("frames:") and len(summary.data_fingerprint) == 71
    assert summary.window_end == AT_UTC + timedelta(hours=72)


def test_model_folder_version_defaults_to_its_manifest_hash(factory, model_dir, city):
    import hashlib

    digest = hashlib.sha256((model_dir / "manifest.json").read_bytes()).hexdigest()
    assert run(factory, model_dir, city).model_version == f"local-{digest[:12]}"


def test_items_are_exactly_the_grids_at_orange_or_above(factory, model_dir, city):
    summary = run(factory, model_dir, city)
    frame = forecasts(factory, summary.run_id)
    warned = frame[frame["level"].isin(["orange", "red"])]
    found = items(factory)
    assert len(warned) > 0  # the thresholds above make sure the rule is exercised
    assert set(found) == set(zip(warned["grid_id"], warned["target"], strict=True))
    assert summary.warnings == summary.items_created == len(warned)
    for item in found.values():
        assert (item.window_start, item.window_end) == (AT_UTC, AT_UTC + timedelta(hours=72))
        assert (item.state.value, item.version, item.revision) == ("pending", 1, 0)
        assert item.created_at == NOW and item.run_id == summary.run_id


def test_levels_are_ratios_to_the_city_mean_probability(factory, model_dir, city):
    summary = run(factory, model_dir, city)
    frame = forecasts(factory, summary.run_id)
    for target in TARGETS:
        part = frame[frame["target"] == target]
        mean = part["prob"].mean()
        assert summary.base_rate_sources[target] == "city_mean"
        assert summary.base_rates[target] == pytest.approx(mean, rel=1e-12)
        ratio = part["prob"].to_numpy() / mean
        # 1.3 ≤ ratio < 1.6 is orange, ≥ 1.6 red, 1.1 ≤ ratio < 1.3 yellow
        expected = np.select(
            [ratio >= 1.6, ratio >= 1.3, ratio >= 1.1], ["red", "orange", "yellow"], "blue"
        )
        assert part["level"].tolist() == expected.tolist()


def test_top_percent_rule_warns_ceil_of_k_percent_per_target(factory, model_dir, city):
    # ceil(10% · 49) = ceil(4.9) = 5 grids per target, 2 targets -> 10 items
    summary = run(factory, model_dir, city, min_level=None, top_percent=10)
    found = items(factory)
    assert summary.items_created == 10
    assert sorted(t for _, t in found) == ["any"] * 5 + ["theft"] * 5


def test_base_rate_from_the_manifest_wins_over_the_city_mean(factory, model_dir, city, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(model_dir, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["base_rates"] = {"any": 1.0, "theft": 1.0}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    summary = run(factory, folder, city)
    # ratio = prob / 1.0 <= 1 < 1.1 (yellow): every grid blue, no warning
    assert summary.base_rate_sources == {"any": "manifest", "theft": "manifest"}
    assert summary.levels == {t: {"blue": G, "yellow": 0, "orange": 0, "red": 0} for t in TARGETS}
    assert summary.warnings == 0 and items(factory) == {}


def test_reasons_name_the_grids_real_feature_values(factory, model_dir, city):
    from models.persist import load_forecaster

    run(factory, model_dir, city)
    model, _ = load_forecaster(model_dir)
    spec = FeatureSpec(tz=TZ, targets=TARGETS)
    built = build_features(city.grids, city.events, [AT], spec).frame
    # the reasons may name the classic methods' components too (models.stacking)
    frame = model.add_classics(built, city.events, city.grids).set_index("grid_id")
    found = items(factory)
    assert found
    for (grid_id, _), item in found.items():
        assert 1 <= len(item.reasons) <= 3
        assert [r["rank"] for r in item.reasons] == list(range(1, len(item.reasons) + 1))
        for reason in item.reasons:
            actual = frame.at[grid_id, reason["feature"]]
            if isinstance(actual, str):
                assert reason["value"] is None and reason["value_text"] == actual
                continue
            if np.isnan(actual):  # a missing value is named as missing
                assert (reason["value"], reason["value_text"]) == (None, "—")
                continue
            assert reason["value"] == pytest.approx(float(actual), rel=1e-6)
            if reason["group"] == "when":  # the calendar is said in words (winter, weekend)
                continue
            assert reason["value_text"] in reason["text_en"]
            assert reason["value_text"] in reason["text_zh"]


def test_probabilities_are_the_models_calibrated_predictions(factory, model_dir, city):
    from models.persist import load_forecaster

    model, _ = load_forecaster(model_dir)
    built = build_features(city.grids, city.events, [AT], FeatureSpec(tz=TZ, targets=TARGETS))
    frame = model.add_classics(built.frame, city.events, city.grids)
    stored = forecasts(factory, run(factory, model_dir, city).run_id).set_index(
        ["target", "grid_id"]
    )
    for target in TARGETS:
        expected = model.forecasters_[target].predict_proba(frame)
        got = stored.loc[target].loc[frame["grid_id"].astype(str), "prob"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_expected_count_reads_the_calibrated_probability_as_poisson(factory, model_dir, city):
    # count_model = false: expected count = -log(1 - p)
    frame = forecasts(factory, run(factory, model_dir, city).run_id)
    np.testing.assert_allclose(frame["expected_count"], -np.log1p(-frame["prob"]), rtol=1e-9)


def test_grids_are_stored_so_street_filters_work(factory, model_dir, city):
    summary = run(factory, model_dir, city)
    street = city.grids["street_id"].iloc[0]
    in_street = set(city.grids.loc[city.grids["street_id"] == street, "grid_id"])
    with factory() as s:
        assert len(grid_repo.load_grids(s)) == G
        frame, total = runs.run_forecasts(s, summary.run_id, street=street, target="any")
    assert set(frame["grid_id"]) == in_street and total == len(in_street)


# ----------------------------------------------------------------------------- re-scoring


def test_rescoring_the_same_window_updates_pending_items_never_duplicates(factory, model_dir, city):
    first = run(factory, model_dir, city)
    before = items(factory)
    later = NOW + timedelta(hours=1)
    second = run(factory, model_dir, city, now=later)
    after = items(factory)
    assert set(after) == set(before)
    assert (second.items_created, second.items_rescored) == (0, len(before))
    for item in after.values():
        assert (item.version, item.revision) == (2, 1)
        assert item.created_at == NOW  # the response-target clock does not restart
        assert (item.updated_at, item.run_id) == (later, second.run_id)
        with factory() as s:
            history = reviews.revisions(s, item.item_id)
        assert [h["run_id"] for h in history] == [first.run_id, second.run_id]
    assert count(factory, ForecastRunRow) == 2


def test_an_approved_item_is_untouched_by_rescoring(factory, model_dir, city):
    run(factory, model_dir, city)
    key, item = sorted(items(factory).items())[0]
    approved, event = approve(item, "reviewer:li", NOW + timedelta(minutes=5), item.version)
    with factory.begin() as s:
        reviews.save_item(s, approved, item.version)
    second = run(factory, model_dir, city, now=NOW + timedelta(hours=1))
    kept = items(factory)[key]
    assert kept == approved
    assert second.items_unchanged == 1
    assert second.items_rescored == second.warnings - 1


def test_seven_daily_runs_keep_one_open_item_per_grid_and_target(factory, model_dir, city):
    """Daily runs with overlapping 72-hour windows: one open item per (grid, target), revised
    and moved forward each day; every day some items are decided, and a decided pair comes back
    only at a higher level, as a new item following the decision."""
    day = pd.Timedelta(days=1)
    decided_levels = {}
    raised: set[str] = set()
    for d in range(7):
        at = pd.Timestamp(AT, tz=TZ) + d * day
        now = NOW + timedelta(days=d)
        score(
            at,
            city.grids,
            city.events,
            factory=factory,
            model_dir=model_dir,
            tz=TZ,
            thresholds=THRESHOLDS,
            now=now,
        )
        with factory() as s:
            everything, _ = reviews.list_items(s, limit=None)
        open_pairs = [(i.grid_id, i.target) for i in everything if i.state.value == "pending"]
        assert len(open_pairs) == len(set(open_pairs)), f"day {d}: a pair open twice"
        for item in everything:
            if item.follows is not None:  # re-raised: above the decision it follows, when
                # raised (an open item then follows the model, down as well as up)
                with factory() as s:
                    raised_at = reviews.revisions(s, item.item_id)[0]["level"]
                assert LEVELS.index(raised_at) > LEVELS.index(decided_levels[item.follows])
                raised.add(item.item_id)
        # decide the first two pending items of the day
        pending = sorted(
            (i for i in everything if i.state.value == "pending"), key=lambda i: i.item_id
        )
        with factory.begin() as s:
            for item in pending[:2]:
                approved, _ = approve(item, "reviewer:li", now + timedelta(minutes=5), item.version)
                reviews.save_item(s, approved, item.version)
                decided_levels[item.item_id] = item.level
    with factory() as s:
        everything, _ = reviews.list_items(s, limit=None)
        moved = [i for i in everything if i.revision > 0 and i.state.value == "pending"]
        history = reviews.revisions(s, moved[0].item_id) if moved else []
    assert moved, "some pending item was revised across days"
    assert raised, "some decided pair was re-raised at a higher level"
    starts = [h["window_start"] for h in history]
    assert starts == sorted(starts) and len(set(starts)) == len(starts) > 1


# ----------------------------------------------------------------------------- all or nothing


def test_a_failure_while_queueing_leaves_no_run_no_items_no_audit(
    factory, model_dir, city, monkeypatch
):
    real = reviews.apply_scoring
    calls = []

    def fails_half_way(session, **kw):
        calls.append(kw["grid_id"])
        if len(calls) > 2:
            raise RuntimeError("database went away")
        return real(session, **kw)

    monkeypatch.setattr(reviews, "apply_scoring", fails_half_way)
    with pytest.raises(RuntimeError, match="database went away"):
        run(factory, model_dir, city, min_level=None, top_percent=10)  # 10 items wanted
    assert len(calls) == 3  # two written, the third raised
    for row in (ForecastRunRow, ForecastRow, GridRow, ReviewItemRow, ReviewRevisionRow):
        assert count(factory, row) == 0
    with factory() as s:
        assert audit.verify(s).checked == 0


def test_broken_additivity_stops_the_run_before_anything_is_stored(
    factory, model_dir, city, monkeypatch
):
    real = LightGBMForecaster.contributions

    def shifted(self, frame, known=None):
        out = real(self, frame, known).copy()
        out[:, -1] += 1e-3  # the expected value off by 0.001 log-odds
        return out

    monkeypatch.setattr(LightGBMForecaster, "contributions", shifted)
    with pytest.raises(AdditivityError, match="up to 0.001"):
        run(factory, model_dir, city)
    assert count(factory, ForecastRunRow) == 0


# ----------------------------------------------------------------------------- audit


def test_audit_has_one_entry_per_item_change_and_per_run_and_verifies(factory, model_dir, city):
    first = run(factory, model_dir, city)
    run(factory, model_dir, city, now=NOW + timedelta(hours=1))
    n = first.items_created
    with factory() as s:
        entries, total = audit.list_entries(s, actor=SCORING_ACTOR, limit=1000)
        result = audit.verify(s)
    actions = sorted(e.action for e in entries)
    # run 1: n creates + 1 run entry; run 2: n re-scores + 1 run entry
    assert actions == ["create"] * n + ["rescore"] * n + ["score"] * 2
    assert result.ok and result.checked == total == 2 * n + 2
    created = next(e for e in entries if e.action == "create")
    item = items(factory)[tuple(created.object_id.split("/")[:2])]
    assert created.model_version == first.model_version
    assert created.score["level"] == item.original_level
    assert created.after["prob"] == pytest.approx(first_prob(factory, first.run_id, item))


def first_prob(factory, run_id, item):
    frame = forecasts(factory, run_id)
    row = frame[(frame["grid_id"] == item.grid_id) & (frame["target"] == item.target)]
    return float(row["prob"].iloc[0])


# ----------------------------------------------------------------------------- the registry


def test_scores_with_the_registry_champion_and_the_files_fingerprint(
    factory, model_dir, city, tmp_path, monkeypatch, backend
):
    if backend != "sqlite":
        pytest.skip("the MLflow registry does not depend on the service database (5 s)")
    monkeypatch.delenv("RISK_MLFLOW_URI", raising=False)
    from models.registry import promote, register_model
    from models.tracking import data_fingerprint, start_run
    from tests.models.test_registry import GOOD

    data_dir = tmp_path / "data"
    with start_run("train", data_dir) as run_id:
        version = register_model(model_dir, run_id, GOOD, data_dir=data_dir)
    promote(version, "Li Wei", data_dir=data_dir)
    paths = [tmp_path / "grids.csv", tmp_path / "events.csv"]
    city.grids.drop(columns="geometry").to_csv(paths[0], index=False)
    city.events.to_csv(paths[1], index=False)
    summary = score(
        AT,
        city.grids,
        city.events,
        factory=factory,
        data_dir=data_dir,
        tz=TZ,
        thresholds=THRESHOLDS,
        data_paths=paths,
        now=NOW,
    )
    assert summary.model_version == "1"
    start = city.events["occurred_at"].min()
    assert summary.data_fingerprint == data_fingerprint(paths, start, pd.Timestamp(AT, tz=TZ))
    assert {i.model_version for i in items(factory).values()} == {"1"}
    assert summary.max_additivity_error <= 1e-6


def test_grids_without_a_column_the_model_used_name_the_column(factory, model_dir, city):
    # the model learned `density_per_km2` from `population`: grids without it are refused
    # naming the grids column, not only the derived feature, and nothing is written
    assert "population" in city.grids.columns
    grids = city.grids.drop(columns="population")
    with pytest.raises(ContractError, match="lack column 'population'.*'density_per_km2'") as e:
        score(AT, grids, city.events, factory=factory, model_dir=model_dir, tz=TZ, now=NOW)
    assert e.value.field == "population"
    assert count(factory, ForecastRunRow) == 0


def test_a_model_of_other_categories_is_refused_unless_forced():
    from serve.scoring import check_categories

    events = pd.DataFrame({"category": ["theft", "dispute", "theft"]})
    with pytest.raises(ContractError, match="the model forecasts burglary, noise, and the events"):
        check_categories(("any", "burglary", "noise"), events)
    check_categories(("any", "burglary", "noise"), events, force=True)
    check_categories(("any", "theft", "noise"), events)  # one shared category is enough
    check_categories(("any",), events)  # `any` forecasts whatever the categories are


def test_a_model_of_another_city_time_or_calendar_is_refused_unless_forced():
    from serve.scoring import check_time_settings

    manifest = {"tz": "Asia/Shanghai", "calendar": "CN"}
    check_time_settings(manifest, "Asia/Shanghai", "CN")
    with pytest.raises(ContractError, match="trained with tz Asia/Shanghai.*scores with tz UTC"):
        check_time_settings(manifest, "UTC", "CN")
    with pytest.raises(ContractError, match="score with --calendar CN") as caught:
        check_time_settings(manifest, "Asia/Shanghai", "US")
    assert caught.value.field == "calendar" and caught.value.value == "US"
    check_time_settings(manifest, "UTC", "US", force=True)
    check_time_settings({}, "UTC", "US")  # a model saved before they were recorded
