"""The classic methods as features (models.stacking): hand-checked values, the known-at-t
contract as a property, and the fitted triggers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.baselines.known import NS_PER_DAY, IndexedEvents, earlier_known_decayed_sums
from models.covariates import grid_covariates, poisson_glm_rates
from models.stacking import (
    ClassicStack,
    Trigger,
    classic_components,
    column,
    covariate_rates,
    fit_triggers,
    pooled_rates,
    shrunk_rates,
)
from tests.models.test_baselines import TZ, line_grids, make_events, random_events

T = pd.Timestamp("2024-03-11 08:00", tz=TZ)
START = pd.Timestamp("2024-01-01 08:00", tz=TZ)  # 70 days before T


def at(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(stamps))).tz_localize(TZ)


def test_rate_self_and_neighbour_components_by_hand():
    # g0: events 10 days and 1 day before T; g1: one event 2 days before; g2: none.
    events = make_events(
        [("g0", "2024-03-01 08:00"), ("g0", "2024-03-10 08:00"), ("g1", "2024-03-09 08:00")]
    )
    triggers = {"any": Trigger(theta=0.5, omega=1.0)}
    block = classic_components(events, line_grids(), at("2024-03-11 08:00"), triggers, START)
    h = 3.0
    gain = 1 - math.exp(-3.0)  # 1 - exp(-omega h)
    # rate: 2 and 1 events over 70 days, times 3 days
    np.testing.assert_allclose(block.columns[column("rate", "any")][0], [2 / 70 * h, h / 70, 0])
    # self: sum exp(-omega age) * gain; ages g0: 10 d and 1 d, g1: 2 d
    own = np.array([math.exp(-10) + math.exp(-1), math.exp(-2), 0.0]) * gain
    np.testing.assert_allclose(block.columns[column("self", "any")][0], own, rtol=1e-6)
    # nbr: the line g0 - g1 - g2; g0 and g2 see g1, g1 sees g0 and g2
    np.testing.assert_allclose(
        block.columns[column("nbr", "any")][0], [own[1], own[0] + own[2], own[1]], rtol=1e-6
    )
    # citymean: the mean rate of the three grids, the same for each
    np.testing.assert_allclose(block.columns[column("citymean", "any")][0], [h / 70] * 3)
    # seppexp: (1 - theta) * steadied rate + theta * self
    eb = block.columns[column("eb", "any")][0]
    np.testing.assert_allclose(
        block.columns[column("seppexp", "any")][0], 0.5 * eb + 0.5 * own, rtol=1e-6
    )


def test_declustered_rate_by_hand():
    # One grid, events at days 0, 0.5 and 10 after START (reported at once), θ = 0.5, ω = 1;
    # prior b = 30 days at the city rate per grid (one grid: the city's own count per day).
    # p1 = 1 (no earlier event).
    # p2: φ = θω e^-0.5 = 0.303265; n = 1 other event, d = max(0.5, 1) = 1 day, city 2 events
    #     -> a = 30 · 2 / 1 = 60, μ = 0.5 · (1 + 60) / (1 + 30) = 0.983871; p2 = μ / (μ + φ)
    #     = 0.764388.
    # p3: φ = 0.5 (e^-10 + e^-9.5) = 6.0126e-5; n = 2, d = 10, city 3 -> a = 30 · 0.3 = 9,
    #     μ = 0.5 · 11 / 40 = 0.1375; p3 = 0.999563.
    # At day 5 (events 1, 2 known): (1 + p2) / 5 · 3 days; at day 20: (1 + p2 + p3) / 20 · 3.
    events = make_events(
        [("g0", "2024-01-01 08:00"), ("g0", "2024-01-01 20:00"), ("g0", "2024-01-11 08:00")]
    )
    block = classic_components(
        events,
        line_grids(1),
        at("2024-01-06 08:00", "2024-01-21 08:00"),
        {"theft": Trigger(theta=0.5, omega=1.0)},
        START,
    )
    phi2, mu2 = 0.5 * math.exp(-0.5), 0.5 * 61 / 31
    phi3, mu3 = 0.5 * (math.exp(-10) + math.exp(-9.5)), 0.5 * 11 / 40
    p2, p3 = mu2 / (mu2 + phi2), mu3 / (mu3 + phi3)
    assert (round(p2, 6), round(p3, 6)) == (0.764388, 0.999563)
    np.testing.assert_allclose(
        block.columns[column("declustered", "theft")][:, 0],
        [(1 + p2) / 5 * 3, (1 + p2 + p3) / 20 * 3],
        rtol=1e-6,
    )
    # below the historical rate (2 / 5 · 3, 3 / 20 · 3) by the bursts' share
    np.testing.assert_allclose(block.columns[column("rate", "theft")][:, 0], [1.2, 0.45])


def test_an_event_reported_late_does_not_discount_the_events_known_before_it():
    # Event A occurred at day 0 but was reported at day 5; event B occurred at day 1, reported
    # at once. When B became known, A was not: B's weight is 1 for good, and A's too (nothing
    # before it). At day 2 only B is known: 1 / 2 · 3 = 1.5; at day 6: 2 / 6 · 3 = 1.0, the
    # historical rate. Had A been reported at once, B would be discounted: φ = 0.5 e^-1 =
    # 0.183940, μ = 0.5 · (1 + 30 · 2 / 1) / 31 = 0.983871, p_B = 0.842492, giving
    # (1 + p_B) / 2 · 3 and (1 + p_B) / 6 · 3.
    grids, triggers, times = (
        line_grids(1),
        {"theft": Trigger(0.5, 1.0)},
        at("2024-01-03 08:00", "2024-01-07 08:00"),
    )
    late = make_events([("g0", "2024-01-01 08:00", "2024-01-06 08:00"), ("g0", "2024-01-02 08:00")])
    block = classic_components(late, grids, times, triggers, START)
    np.testing.assert_allclose(block.columns[column("declustered", "theft")][:, 0], [1.5, 1.0])
    prompt = make_events([("g0", "2024-01-01 08:00"), ("g0", "2024-01-02 08:00")])
    block = classic_components(prompt, grids, times, triggers, START)
    p_b = 0.5 * 61 / 31 / (0.5 * 61 / 31 + 0.5 * math.exp(-1))
    assert round(p_b, 6) == 0.842492
    np.testing.assert_allclose(
        block.columns[column("declustered", "theft")][:, 0],
        [(1 + p_b) / 2 * 3, (1 + p_b) / 6 * 3],
        rtol=1e-6,
    )


def test_earlier_known_decayed_sums_skip_simultaneous_and_later_known_events():
    # g0: two events at day 0, one at day 0.5 reported at day 3, one at day 1; g1: one at day 1.
    # ω = 1. The day-0 pair are not each other's past: 0, 0. The day-0.5 event (known at day 3)
    # sees both: 2 e^-0.5. The day-1 event, known at day 1, sees the pair but not the day-0.5
    # one (unknown then): 2 e^-1. g1's event has no past.
    day = NS_PER_DAY
    occurred = np.array([0, 0, day // 2, day, day], dtype=np.int64)
    known = np.array([0, 0, 3 * day, day, day], dtype=np.int64)
    events = IndexedEvents(np.array([0, 0, 0, 0, 1]), occurred, known, 2)
    np.testing.assert_allclose(
        earlier_known_decayed_sums(events, 1.0),
        [0, 0, 2 * math.exp(-0.5), 2 * math.exp(-1), 0],
        rtol=1e-12,
    )


def test_without_triggering_declustered_is_the_rate_and_dpooled_is_pooled():
    # θ = 0: no event is triggered, every weight is 1, so `declustered` is the historical
    # rate; and neither count is over-dispersed, so `dpooled` (the pooled shrinkage of the
    # declustered counts) is `pooled`, for a category and for `any` (the sum of its categories')
    events = random_events(7, n=300, days=60)
    events["category"] = np.where(np.arange(len(events)) % 3 == 0, "dispute", "theft")
    triggers = {
        "any": Trigger(0.0, 0.8),
        "theft": Trigger(0.0, 2.0, fitted=False),
        "dispute": Trigger(0.0, 1.0),
    }
    times = pd.date_range("2024-01-05 08:00", periods=12, freq="5D", tz=TZ)
    block = classic_components(events, line_grids(), times, triggers, START)
    for c in triggers:
        declustered = block.columns[column("declustered", c)]
        np.testing.assert_allclose(declustered, block.columns[column("rate", c)], rtol=1e-6)
        assert declustered.max() > 0
        dpooled = block.columns[column("dpooled", c)]
        np.testing.assert_allclose(dpooled, block.columns[column("pooled", c)], rtol=1e-5)
        assert dpooled.max() > 0
    np.testing.assert_allclose(
        block.columns[column("dpooled", "any")],
        block.columns[column("dpooled", "theft")] + block.columns[column("dpooled", "dispute")],
        rtol=1e-5,
    )


def test_pooled_declustered_rate_discounts_a_burst():
    # Two grids with the same number of events: g0's come in one burst, g1's spread out.
    # With triggering the burst is mostly discounted: g0's dpooled rate is below g1's, while
    # their `pooled` rates are equal.
    burst = [("g0", f"2024-02-01 {8 + k:02d}:00") for k in range(4)]
    spread = [("g1", f"2024-{day} 08:00") for day in ("01-05", "01-17", "01-29", "02-10")]
    events = make_events(burst + spread)
    events["category"] = "theft"
    triggers = {"theft": Trigger(0.6, 1.0)}
    block = classic_components(events, line_grids(), at("2024-03-11 08:00"), triggers, START)
    pooled = block.columns[column("pooled", "theft")][0]
    dpooled = block.columns[column("dpooled", "theft")][0]
    assert pooled[0] == pytest.approx(pooled[1])
    assert dpooled[0] < 0.8 * dpooled[1]


def test_dpooled_prior_discounts_a_burst_of_the_grids_other_events():
    # g0 and g1 have the same spread-out thefts and four disputes each: g0's in one burst,
    # g1's spread out. Theft has no trigger (every theft weighs 1), dispute does. With the
    # declustered prior (ADR 025) g0's disputes count for less, so its theft `dpooled` is
    # below g1's; counted as they are (models saved before), the two are equal.
    thefts = [(g, f"2024-{day} 08:00") for g in ("g0", "g1") for day in ("01-10", "02-20")]
    burst = [("g0", f"2024-02-01 {8 + k:02d}:00") for k in range(4)]
    spread = [("g1", f"2024-{day} 08:00") for day in ("01-05", "01-17", "01-29", "02-10")]
    events = make_events(thefts + burst + spread)
    events["category"] = ["theft"] * len(thefts) + ["dispute"] * (len(burst) + len(spread))
    triggers = {"theft": Trigger(0.0, 1.0), "dispute": Trigger(0.6, 1.0)}

    def dpooled(declustered_prior: bool) -> np.ndarray:
        block = classic_components(
            events,
            line_grids(),
            at("2024-03-11 08:00"),
            triggers,
            START,
            declustered_prior=declustered_prior,
        )
        return block.columns[column("dpooled", "theft")][0]

    now, before = dpooled(True), dpooled(False)
    assert before[0] == pytest.approx(before[1])
    assert now[0] < 0.95 * now[1]
    # a stack saved before the option reads back with the old prior; a new one keeps it
    stack = ClassicStack().fit(events, line_grids(), T, ["theft", "dispute"])
    saved = stack.to_dict()
    assert ClassicStack.from_dict(saved).declustered_prior is True
    del saved["declustered_prior"]
    assert ClassicStack.from_dict(saved).declustered_prior is False


def test_shrunk_rates_pull_noisy_grids_towards_their_group():
    # Two groups of 40 grids. Group 0: every grid 10 events in 100 days (no spread beyond noise:
    # the prior variance is the floor 0.05 m², so each rate is pulled towards the mean 0.1).
    counts = np.array([[10.0] * 40 + [0.0] * 39 + [40.0]])
    days = np.array([[100.0]])
    groups = np.array([0] * 40 + [1] * 40)
    eb = shrunk_rates(counts, days, groups, dispersion=1.0)
    np.testing.assert_allclose(eb[0, :40], 0.1)  # already at the group mean
    # group 1: 39 rates 0, one 0.4: mean 0.01, E[r²] 0.004, var 0.0039, less the noise
    # m / T = 0.0001 -> 0.0038, so b = 0.01 / 0.0038 = 2.63 days and a = m b
    m, var = 0.01, (0.4**2 / 40 - 0.01**2) - 0.01 / 100
    b = m / var
    np.testing.assert_allclose(eb[0, 40], (0 + m * b) / (100 + b))
    np.testing.assert_allclose(eb[0, 79], (40 + m * b) / (100 + b))
    assert 0 < eb[0, 40] < 0.01 and eb[0, 79] < 0.4


def test_small_groups_share_the_city_prior():
    counts = np.array([[5.0, 5.0, 50.0]])
    eb_alone = shrunk_rates(counts, np.array([[100.0]]), np.array([0, 1, 2]), 1.0)
    eb_city = shrunk_rates(counts, np.array([[100.0]]), np.array([0, 0, 0]), 1.0)
    np.testing.assert_allclose(eb_alone, eb_city)  # groups under MIN_GROUP grids: one prior


def test_pooled_rates_shrink_towards_the_grids_other_events():
    # Four grids (one city-wide group), 10 days. Other events [10, 10, 30, 30]: their steadied
    # rates are (n + 5) / 12.5 (mean 2, variance 5 - 4 - 0.2 = 0.8, b = 2.5, a = 5), i.e.
    # [1.2, 1.2, 2.8, 2.8]. The category is 8 / 80 = 0.1 of the other events, so the prior
    # means are m = [0.12, 0.12, 0.28, 0.28]; the relative spread of the rates
    # [0.2, 0, 0.4, 0.2] around them is below the counting noise (mean -0.168), so V is the
    # floor 0.05 and each rate is (n + 20) / (10 + 20 / m).
    counts = np.array([[2.0, 0.0, 4.0, 2.0]])
    other = np.array([[10.0, 10.0, 30.0, 30.0]])
    out = pooled_rates(counts, other, np.array([[10.0]]), np.zeros(4, int), 1.0, 1.0)
    np.testing.assert_allclose(
        out[0],
        [
            22 / (10 + 20 / 0.12),
            20 / (10 + 20 / 0.12),
            24 / (10 + 20 / 0.28),
            22 / (10 + 20 / 0.28),
        ],
    )
    # the grid with no event of its own still inherits its other events' level
    assert out[0, 1] > 0.11 and out[0, 3] > 2 * out[0, 0]


def test_pooled_rates_fall_back_to_the_grids_own_rate_without_other_events():
    counts = np.array([[3.0, 1.0]])
    out = pooled_rates(counts, np.zeros((1, 2)), np.array([[10.0]]), np.zeros(2, int), 1.0, 1.0)
    np.testing.assert_allclose(out, shrunk_rates(counts, np.array([[10.0]]), np.zeros(2, int), 1.0))


def test_covariate_rates_shrink_towards_the_regression_by_hand():
    # Four grids (one city-wide group), no attribute, no other event: the regression is its
    # intercept, the mean rate m = 8 / 40 = 0.2 per day. Rates [0, 0, 0.8, 0]: squared
    # deviations [0.04, 0.04, 0.36, 0.04], less the counting noise m / T = 0.02, over m² = 0.04
    # -> [0.5, 0.5, 8.5, 0.5], V = 2.5; so 1/V = 0.4, 1/(V m) = 2 and each rate is
    # (N + 0.4) / (10 + 2).
    counts = np.array([[0.0, 0.0, 8.0, 0.0]])
    out = covariate_rates(
        counts, np.zeros((1, 4)), np.array([[10.0]]), np.zeros(4, int), np.zeros((4, 0)), 1.0, 1.0
    )
    np.testing.assert_allclose(out[0], [0.4 / 12, 0.4 / 12, 8.4 / 12, 0.4 / 12], rtol=1e-6)


def test_covariate_rates_follow_an_attribute_that_explains_the_counts():
    # Rates 0.1 · 3^x for an attribute x = [-1, -1, 1, 1] (standardised): counts over 100
    # days [3.33, 3.33, 30, 30] rounded to [3, 4, 30, 30]. The regression puts the prior of
    # the first two near 0.035 and of the last two near 0.3 (the group mean is 0.1675): each
    # rate stays with its own kind of grid, where `eb` pulls all four towards the mean.
    counts = np.array([[3.0, 4.0, 30.0, 30.0]])
    days = np.array([[100.0]])
    static = np.array([[-1.0], [-1.0], [1.0], [1.0]])
    out = covariate_rates(counts, np.zeros((1, 4)), days, np.zeros(4, int), static, 1.0, 1.0)
    eb = shrunk_rates(counts, days, np.zeros(4, int), 1.0)
    assert abs(out[0, 0] - 0.035) < abs(eb[0, 0] - 0.035)
    assert abs(out[0, 2] - 0.3) < abs(eb[0, 2] - 0.3)
    # the prior itself: without penalty the regression gives each kind its mean rate, 7 / 200
    # and 60 / 200; the ridge pulls the slope a little towards no difference
    exact = poisson_glm_rates(counts, days, static, np.zeros((1, 4)), ridge=0.0)
    np.testing.assert_allclose(exact[0], [0.035, 0.035, 0.3, 0.3], rtol=1e-8)
    m = poisson_glm_rates(counts, days, static, np.zeros((1, 4)))
    assert 0.035 < m[0, 0] < 0.04 and 0.29 < m[0, 2] < 0.3


def test_covariate_rates_fall_back_without_events():
    counts = np.zeros((1, 3))
    out = covariate_rates(
        counts, np.ones((1, 3)), np.array([[10.0]]), np.zeros(3, int), np.eye(3), 1.0, 1.0
    )
    np.testing.assert_allclose(out, 0.0)


def test_poisson_glm_rates_recover_an_exact_log_linear_rate():
    # rate = 0.1 · exp(0.5 x + 0.3 z) with x static and z varying; counts = 10 days · rate
    # exactly, so without penalty the fitted rates are the counts / 10 (every t on its own:
    # the second row doubles the first's counts and exposure).
    x = np.array([-1.0, 0.0, 1.0, 0.0])
    z = np.array([0.0, 1.0, 0.0, -1.0])
    rate = 0.1 * np.exp(0.5 * x + 0.3 * z)
    counts = np.stack([10 * rate, 40 * rate])
    days = np.array([[10.0], [40.0]])
    fitted = poisson_glm_rates(counts, days, x[:, None], np.stack([z, z]), ridge=0.0)
    np.testing.assert_allclose(fitted, np.stack([rate, rate]), rtol=1e-8)


def test_grid_covariates_from_the_grid_file():
    # area constant (dropped), population log1p -> [0, 1, 2], a text attribute (dropped),
    # and the type indicator of the second group [0, 0, 1]; each standardised.
    grids = line_grids().assign(
        population=[0.0, math.e - 1, math.e**2 - 1], attr_name=["a", "b", "c"]
    )
    out = grid_covariates(grids, np.array([0, 0, 1]))
    s = math.sqrt(1.5)
    np.testing.assert_allclose(out[:, 0], [-s, 0.0, s])
    np.testing.assert_allclose(out[:, 1], [-1 / math.sqrt(2), -1 / math.sqrt(2), math.sqrt(2)])
    assert out.shape == (3, 2)
    assert grid_covariates(line_grids(), np.zeros(3, int)).shape == (3, 0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_covariate_rates_at_t_use_only_the_counts_at_t(seed):
    # Each issue time's regression and shrinkage see that time's counts only: a row computed
    # alone equals the same row computed beside later (larger) counts.
    rng = np.random.default_rng(seed)
    counts = np.cumsum(rng.poisson(0.3, (4, 40)), axis=0).astype(float)
    other = np.cumsum(rng.poisson(1.0, (4, 40)), axis=0).astype(float)
    days = np.array([[10.0], [20.0], [30.0], [40.0]])
    groups = np.repeat([0, 1], 20)
    static = rng.normal(size=(40, 2))
    together = covariate_rates(counts, other, days, groups, static, 1.5, 1.2)
    for i in range(4):
        alone = covariate_rates(
            counts[i : i + 1], other[i : i + 1], days[i : i + 1], groups, static, 1.5, 1.2
        )
        np.testing.assert_allclose(alone[0], together[i], rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), hour=st.integers(0, 24 * 80))
def test_components_at_t_use_only_what_is_known_at_t(seed, hour):
    # The same components whether or not the events unknown at t (occurred later, or reported
    # later) are in the frame, for fixed triggers.
    events = random_events(seed, n=150, days=100)
    events["category"] = np.where(np.arange(len(events)) % 3 == 0, "dispute", "theft")
    t = pd.Timestamp("2024-01-01 08:00", tz=TZ) + pd.Timedelta(hours=hour)
    triggers = {
        "any": Trigger(0.3, 0.7),
        "theft": Trigger(0.2, 0.4),
        "dispute": Trigger(0.0, 0.5, fitted=False),
    }
    start = pd.Timestamp("2024-01-01", tz=TZ)
    known = events[(events["occurred_at"] <= t) & (events["reported_at"] <= t)]
    full = classic_components(events, line_grids(), pd.DatetimeIndex([t]), triggers, start)
    trimmed = classic_components(known, line_grids(), pd.DatetimeIndex([t]), triggers, start)
    assert column("declustered", "theft") in full.columns  # every kind, the new ones too
    for name, values in full.columns.items():
        np.testing.assert_allclose(values, trimmed.columns[name], rtol=1e-6, err_msg=name)


def test_fit_triggers_per_category_and_a_category_without_events():
    events = random_events(3, n=400, days=120)
    stack = ClassicStack().fit(
        events, line_grids(), pd.Timestamp("2024-04-30", tz=TZ), ["any", "theft", "fraud"]
    )
    any_, fraud = stack.triggers_["any"], stack.triggers_["fraud"]
    assert any_.fitted and 0 <= any_.theta < 0.95 and any_.omega > 0
    assert stack.triggers_["theft"] == any_  # every event is a theft
    assert (fraud.theta, fraud.fitted) == (0.0, False)  # no fraud event: pure decay sums
    again = ClassicStack.from_dict(stack.to_dict())
    assert again.triggers_ == stack.triggers_ and again.until_ == stack.until_
    names = [i.name for i in again.info()]
    assert column("eb", "fraud") in names and len(names) == 3 * 12


def test_fit_triggers_names_the_failure_as_unfitted():
    out = fit_triggers(make_events([]), line_grids(), T, ["any"])
    assert out["any"].fitted is False and out["any"].omega > 0


@pytest.mark.parametrize("sorted_", [False])
def test_issue_times_must_be_sorted(sorted_):
    with pytest.raises(ValueError, match="sorted"):
        classic_components(
            make_events([("g0", "2024-03-01 08:00")]),
            line_grids(),
            at("2024-03-11 08:00", "2024-03-10 08:00"),
            {"any": Trigger(0.1, 1.0)},
            START,
        )
