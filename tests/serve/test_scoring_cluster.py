"""The daily scoring on a 2-worker LocalCluster gives the single process's forecasts,
reasons and review queue (issue 18): features, predictions and TreeSHAP per partition, one
atomic write from the client.

Levels, warnings and the queue are identical. Probabilities, counts and a reason's points may
differ in the last bits (numpy and BLAS sum a row in an order that can depend on how many rows
the array holds and on the processor: 5.6e-17 on 2 of 800 probabilities on one development
host, none on another), so they are compared to 1e-12 and reasons word for word."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from models.persist import save_forecaster
from models.training import train_forecaster
from risk.synth import synthesise, write_city
from serve.db import make_engine, session_factory, upgrade
from serve.jobs import city_score_job
from serve.repo import reviews, runs
from serve.scoring import load_model, score, score_city

TZ = "Asia/Shanghai"
FAST = {
    "training": {"num_boost_round": 60, "early_stopping_rounds": 10, "count_model": False},
    "lightgbm": {"num_leaves": 7, "min_data_in_leaf": 50, "learning_rate": 0.3, "num_threads": 1},
}
AT = "2024-05-20 08:00"
NOW = datetime(2024, 5, 20, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def city():
    return synthesise(400, 150, 3)


@pytest.fixture(scope="module")
def model_dir(city, tmp_path_factory):
    trained = train_forecaster(
        city.grids, city.events, AT, tz=TZ, config=FAST, targets=("any", "theft"),
        max_history_days=60,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("model") / "m"
    save_forecaster(trained.model, folder, extra=trained.manifest_extra())
    return folder


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir=model_dir)


def same_reasons(left: list[list[dict]], right: list[list[dict]]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert [r.keys() for r in a] == [r.keys() for r in b]
        for x, y in zip(a, b, strict=True):
            for key, value in x.items():
                if isinstance(value, float):
                    assert y[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
                else:
                    assert y[key] == value, key


def same_frames(left: pd.DataFrame, right: pd.DataFrame, skip: tuple[str, ...]) -> None:
    """Every column but `skip` equal: floats to 1e-12 (last bits), everything else exactly."""
    keep = [c for c in right.columns if c not in skip]
    floats = [c for c in keep if right[c].dtype.kind == "f"]
    exact = [c for c in keep if c not in floats]
    assert_frame_equal(left[exact], right[exact], check_exact=True)
    assert_frame_equal(left[floats], right[floats], check_exact=False, rtol=1e-12, atol=1e-12)


def test_partitioned_scoring_equals_the_single_process_one(city, model, dask_client):
    options = {"tz": TZ, "top_percent": 5.0, "min_level": None}
    alone = score_city(model, city.grids, city.events, AT, **options)
    spread = score_city(model, city.grids, city.events, AT, client=dask_client, **options)
    assert "partitions_wall" in spread.timings and "partitions_wall" not in alone.timings
    assert len(spread.forecasts) == 2 * 400
    # top 5 % per target: ceil(0.05 * 400) = 20 warnings each
    assert int(spread.forecasts["warn"].sum()) == 40
    same_frames(spread.forecasts, alone.forecasts, skip=("reasons",))
    # the words compare with the city's median, not the partition's
    same_reasons(spread.forecasts["reasons"].tolist(), alone.forecasts["reasons"].tolist())
    assert spread.forecasts["reasons"].map(len).sum() > 400
    assert spread.max_additivity_error <= 1e-6


def _queue(tmp_path, name, city, model, client=None):
    url = f"sqlite:///{tmp_path / name}"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = session_factory(engine)
        summary = score(
            AT, city.grids, city.events, factory=factory, model=model, tz=TZ, now=NOW,
            top_percent=5.0, client=client,
        )  # fmt: skip
        with factory() as s:
            items, _ = reviews.list_items(s, limit=None)
            stored, _ = runs.run_forecasts(s, summary.run_id)
    finally:
        engine.dispose()
    queue = sorted((i.grid_id, i.target, i.level, i.prob, i.reasons) for i in items)
    return summary, queue, stored


def test_the_review_queue_is_the_same_with_and_without_the_cluster(
    tmp_path, city, model, dask_client
):
    one, queue_one, stored_one = _queue(tmp_path, "one.db", city, model)
    many, queue_many, stored_many = _queue(tmp_path, "many.db", city, model, dask_client)
    assert many.items_created == one.items_created >= 40  # top 5 % of each target, at least
    assert [q[:3] for q in queue_many] == [q[:3] for q in queue_one]
    assert [q[3] for q in queue_many] == pytest.approx([q[3] for q in queue_one], abs=1e-12)
    same_reasons([q[4] for q in queue_many], [q[4] for q in queue_one])
    same_frames(stored_many, stored_one, skip=("run_id", "reasons"))


def test_the_services_daily_job_scores_on_the_configured_cluster(
    tmp_path, city, model_dir, dask_client
):
    files = write_city(city, tmp_path / "city")
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        job = city_score_job(
            factory=session_factory(engine), grids_path=files["grids.geojson"],
            events_path=files["events.csv"], model_dir=model_dir, tz=TZ, top_percent=5.0,
            dask_scheduler=dask_client.scheduler.address,
        )  # fmt: skip
        summary = job(pd.Timestamp(AT, tz=TZ), NOW)
    finally:
        engine.dispose()
    assert "partitions_wall" in summary.timings_s  # computed on the cluster
    assert summary.grids == 400 and summary.forecasts == 800
    assert summary.items_created >= 40
