"""A model trained with the patrol exposure switch (issue 17, item 2) reads the visits recorded
in `patrol_visits` when it scores; without the switch no model reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from models.persist import save_forecaster
from models.training import train_forecaster
from risk.errors import ConfigError
from risk.patrol import PatrolOutcome, PatrolReport
from risk.synth import synthesise
from serve.db import transaction
from serve.repo import runs
from serve.repo.exposure import record_visit
from serve.repo.patrols import record_report
from serve.scoring import load_model, score, score_city

TZ = "Asia/Shanghai"
AT = "2024-05-20 08:00"
AT_UTC = datetime(2024, 5, 20, 0, 0, tzinfo=UTC)
NOW = datetime(2024, 5, 20, 0, 30, tzinfo=UTC)
FAST = {
    "training": {"num_boost_round": 60, "early_stopping_rounds": 10},
    "lightgbm": {"num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.3, "num_threads": 1},
}
VISITED = "G00010"
NO_VISITS = pd.DataFrame({"grid_id": pd.Series(dtype=str), "visited_at": pd.Series(dtype=str)})


@pytest.fixture(scope="module")
def city():
    return synthesise(49, 150, 3)


@pytest.fixture(scope="module")
def model_dir(city, tmp_path_factory):
    # Visits that herald events: a patrol 12 h before each event of the record (known then),
    # so the trees learn that a recently visited grid is busier.
    events = city.events
    visits = pd.DataFrame(
        {"grid_id": events["grid_id"], "visited_at": events["occurred_at"] - pd.Timedelta(hours=12)}
    )
    trained = train_forecaster(
        city.grids, events, AT, tz=TZ, config=FAST, targets=("any",), max_history_days=90,
        visits=visits, patrol_exposure=True,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("model") / "m"
    save_forecaster(trained.model, folder, extra=trained.manifest_extra())
    return folder


def _visits(n: int) -> pd.DataFrame:
    """`n` visits to `VISITED` in the day before AT."""
    times = [AT_UTC - timedelta(hours=2 + k) for k in range(n)]
    return pd.DataFrame({"grid_id": [VISITED] * n, "visited_at": pd.to_datetime(times, utc=True)})


def _prob(scored, grid: str) -> float:
    f = scored.forecasts
    return float(f.loc[(f["grid_id"] == grid) & (f["target"] == "any"), "prob"].iloc[0])


def test_the_switch_is_recorded_and_the_features_are_the_models(model_dir):
    loaded = load_model(model_dir=model_dir)
    assert loaded.manifest["patrol_exposure_feature"] is True
    assert {"patrol_visits_7d", "patrol_visits_28d"} <= set(loaded.manifest["feature_names"])
    assert loaded.manifest["label_exclude_sources"] == ["patrol"]


def test_recent_visits_raise_the_visited_grids_forecast(model_dir, city):
    loaded = load_model(model_dir=model_dir)
    quiet = score_city(loaded, city.grids, city.events, AT, tz=TZ, visits=NO_VISITS)
    busy = score_city(loaded, city.grids, city.events, AT, tz=TZ, visits=_visits(6))
    assert _prob(busy, VISITED) > _prob(quiet, VISITED)
    others = quiet.forecasts["grid_id"] != VISITED
    assert (busy.forecasts.loc[others, "prob"] == quiet.forecasts.loc[others, "prob"]).all()
    with pytest.raises(ConfigError, match="no patrol visits were given"):
        score_city(loaded, city.grids, city.events, AT, tz=TZ)


def test_a_scoring_run_reads_the_recorded_visits(factory, model_dir, city, tmp_path):
    with transaction(factory) as s:
        s.info["data_dir"] = tmp_path
        for k, at in enumerate(_visits(6)["visited_at"]):
            at = at.to_pydatetime()
            report = PatrolReport("w", VISITED, PatrolOutcome.NOTHING_FOUND, at)
            stored, _ = record_report(s, report, f"r-{k}", received_at=at)
            record_visit(s, report_id=stored.id, grid_id=VISITED, visited_at=at,
                         role="grid_worker", outcome="nothing_found", recorded_at=at)  # fmt: skip
    summary = score(
        AT, city.grids, city.events, factory=factory, model_dir=model_dir, tz=TZ, now=NOW
    )
    with factory() as s:
        stored, _ = runs.run_forecasts(s, summary.run_id)
    loaded = load_model(model_dir=model_dir)
    expected = score_city(loaded, city.grids, city.events, AT, tz=TZ, visits=_visits(6))
    got = stored.loc[(stored["grid_id"] == VISITED) & (stored["target"] == "any"), "prob"]
    assert float(got.iloc[0]) == pytest.approx(_prob(expected, VISITED), rel=1e-6)
