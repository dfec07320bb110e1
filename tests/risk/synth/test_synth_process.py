import numpy as np
import pandas as pd
import pytest

from risk.contract import EVENT_COLUMNS, SOURCES
from risk.synth import CATEGORIES, synthesise


def _local_day(events: pd.DataFrame) -> pd.Series:
    return events["occurred_at"].dt.tz_localize(None).dt.normalize()


def test_events_have_contract_shape_and_valid_values(spring_city):
    events = spring_city.events
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert events["event_id"].is_unique and events["event_id"].iloc[0] == "E0000001"
    assert set(events["category"]) == set(CATEGORIES) and len(CATEGORIES) == 6
    assert set(events["source"]) <= set(SOURCES)
    assert events["severity"].between(1, 5).all()
    assert (events["reported_at"] >= events["occurred_at"]).all()
    assert events["occurred_at"].is_monotonic_increasing
    assert set(events["grid_id"]) <= set(spring_city.grids["grid_id"])
    assert str(events["occurred_at"].dt.tz) == "Asia/Shanghai"


def test_volume_is_a_tenth_of_an_event_per_grid_day_with_hot_grids(spring_city):
    events = spring_city.events
    per_grid_day = len(events) / (1000 * 75)
    # background sums to 0.061/grid/day, triggering lifts it by ~1/(1-0.4) -> ~0.1
    assert 0.05 < per_grid_day < 0.15
    counts = events["grid_id"].value_counts().reindex(spring_city.grids["grid_id"], fill_value=0)
    # heavy tail: the top 5% of grids hold well over 5% of the events
    top = counts.sort_values(ascending=False).iloc[:50].sum() / counts.sum()
    assert top > 0.15


def test_reporting_delay_mostly_within_an_hour_with_a_tail_of_days(spring_city):
    delay_h = (
        spring_city.events["reported_at"] - spring_city.events["occurred_at"]
    ) / pd.Timedelta(hours=1)
    # prompt delays are exponential with means of 2-40 minutes; 0-20% per source go late
    assert 0.75 < (delay_h <= 1).mean() < 0.92
    # late share ~10% overall × P(lognormal, median 30 h, > 24 h) ≈ 0.6 -> ~6%
    assert 0.03 < (delay_h > 24).mean() < 0.10


def test_sources_follow_category_mix(spring_city):
    events = spring_city.events
    sensor_share = events.groupby("category")["source"].apply(lambda s: (s == "sensor").mean())
    # configured: sensors report 25% of fire hazards and never disputes, frauds or petitions
    assert sensor_share["fire_hazard"] == pytest.approx(0.25, abs=0.05)
    assert sensor_share["dispute"] == 0.0 and sensor_share["fraud"] == 0.0


def test_background_rate_by_type_is_exactly_as_configured(spring_city):
    truth = spring_city.truth
    mu = pd.DataFrame(truth.background_per_day, columns=list(truth.categories))
    mean = mu.groupby(spring_city.grids["grid_type"].to_numpy()).mean()
    # within-type modifiers are normalised to mean 1: mean = base × type multiplier
    assert mean.loc["commercial", "theft"] == pytest.approx(0.012 * 3.0)
    assert mean.loc["new_residential", "theft"] == pytest.approx(0.012 * 0.6)
    assert mean.loc["industrial", "safety_hazard"] == pytest.approx(0.012 * 2.5)


def test_observed_theft_rate_commercial_vs_new_residential_is_near_configured_factor(spring_city):
    grids, events = spring_city.grids, spring_city.events
    type_of = grids.set_index("grid_id")["grid_type"]
    theft = events.loc[events["category"] == "theft", "grid_id"].map(type_of).value_counts()
    n = grids["grid_type"].value_counts()
    ratio = (theft["commercial"] / n["commercial"]) / (
        theft["new_residential"] / n["new_residential"]
    )
    # configured 3.0 / 0.6 = 5; near-repeat spill to neighbours of other types pulls it towards 1
    assert 3.5 < ratio < 6.5


def test_area_type_interaction_only_inside_its_type(spring_city):
    grids = spring_city.grids
    mu_fraud = spring_city.truth.background_per_day[:, CATEGORIES.index("fraud")]
    alone = np.log1p(grids["elderly_alone"].to_numpy())
    old = (grids["grid_type"] == "old_residential").to_numpy()
    new = (grids["grid_type"] == "new_residential").to_numpy()
    corr_old = np.corrcoef(alone[old], np.log(mu_fraud[old]))[0, 1]
    corr_new = np.corrcoef(alone[new], np.log(mu_fraud[new]))[0, 1]
    # old compounds: fraud ∝ (elderly_alone + 1)**1.2; elsewhere only via population**0.5
    assert corr_old > 0.6
    assert corr_new < corr_old - 0.25


def test_spring_festival_effect_is_visible(spring_city):
    events = spring_city.events
    day = _local_day(events)
    during = (day >= "2024-02-10") & (day <= "2024-02-17")  # 8 official days off
    around = ((day >= "2024-01-17") & (day <= "2024-02-03")) | (
        (day >= "2024-02-24") & (day <= "2024-03-12")
    )  # 18 + 18 days, clear of the 3-day before/after phases

    def ratio(category: str) -> float:
        of = events["category"] == category
        return ((during & of).sum() / 8) / ((around & of).sum() / 36)

    # configured background multipliers during the festival: fire ×2.0, theft ×0.6,
    # petition ×0.25. Triggered events lag the background step, diluting it towards 1.
    assert 1.5 < ratio("fire_hazard") < 2.3
    assert ratio("theft") < 0.85
    assert ratio("petition") < 0.85


def test_events_cluster_beyond_poisson_in_weekly_counts(spring_city):
    grids, events = spring_city.grids, spring_city.events
    g = pd.Index(grids["grid_id"]).get_indexer(events["grid_id"])
    week = ((_local_day(events) - pd.Timestamp("2024-01-01")).dt.days // 7).to_numpy()
    weekly = np.zeros((len(grids), 11))
    inside = week < 11
    np.add.at(weekly, (g[inside], week[inside]), 1)
    weekly = weekly[:, 1:]  # skip the first week (history starts empty)
    mean = weekly.mean(axis=1)
    dispersion = (weekly.var(axis=1)[mean > 0] / mean[mean > 0]).mean()
    poisson = np.random.default_rng(0).poisson(np.repeat(mean[:, None], 10, axis=1))
    p_mean = poisson.mean(axis=1)
    p_dispersion = (poisson.var(axis=1)[p_mean > 0] / p_mean[p_mean > 0]).mean()
    # Poisson with the same per-grid rates: var/mean ≈ 0.9 (the n-1 bias of 10 weeks)
    assert p_dispersion < 1.05
    assert dispersion > 1.25
    assert dispersion > p_dispersion + 0.2


def test_a_dispute_raises_the_chance_of_another_in_the_same_grid(spring_city):
    events = spring_city.events
    disputes = events[events["category"] == "dispute"]
    hours = (disputes["occurred_at"] - disputes["occurred_at"].min()) / pd.Timedelta(hours=1)
    frame = pd.DataFrame({"grid": disputes["grid_id"].to_numpy(), "t": hours.to_numpy()})
    frame = frame.sort_values(["grid", "t"])
    gap = frame.groupby("grid")["t"].shift(-1) - frame["t"]
    conditional = (gap <= 24).mean()
    rate = frame.groupby("grid").size() / (75 * 24)
    unconditional = (1 - np.exp(-24 * rate.reindex(frame["grid"]).to_numpy())).mean()
    # self-excitation 0.30 with a 24 h kernel: ~0.3·(1 − e^-1) ≈ 0.19 extra within a day
    assert conditional > 2.5 * unconditional
    assert conditional > 0.15


def test_same_seed_same_events_different_seed_different():
    a = synthesise(60, 20, seed=11)
    b = synthesise(60, 20, seed=11)
    c = synthesise(60, 20, seed=12)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.events["occurred_at"].equals(c.events["occurred_at"])


def test_tiny_inputs_are_refused():
    from risk.errors import ConfigError

    with pytest.raises(ConfigError, match="--grids must be at least 4"):
        synthesise(2, 10, seed=1)
    with pytest.raises(ConfigError, match="--days must be at least 1"):
        synthesise(10, 0, seed=1)
