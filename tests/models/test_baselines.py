"""The five classic baselines (DESIGN §5) on tiny hand-made cases, plus the known-at-t rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.baselines import (
    BASELINES,
    KDE,
    HistoricalRate,
    Prospective,
    Recent30d,
    SEPPExp,
    make_baseline,
)
from risk.errors import NotFitted
from risk.geometry import EARTH_RADIUS_KM

TZ = "Asia/Shanghai"
KM_DEG = float(np.degrees(1 / EARTH_RADIUS_KM))  # 1 km of longitude on the equator


def line_grids(n: int = 3, area: float = 1.0) -> pd.DataFrame:
    """n grids on the equator, centroids exactly 1 km apart: g0 - g1 - g2 ..."""
    return pd.DataFrame(
        {
            "grid_id": [f"g{i}" for i in range(n)],
            "community_id": "c",
            "street_id": "s",
            "grid_type": "mixed",
            "area_km2": area,
            "centroid_lon": 110 + KM_DEG * np.arange(n),
            "centroid_lat": 0.0,
            "geometry": None,
        }
    )


def make_events(rows: list[tuple[str, str] | tuple[str, str, str]]) -> pd.DataFrame:
    """(grid_id, occurred_at[, reported_at]) in city time; reported defaults to occurred."""
    grid = [r[0] for r in rows]
    occurred = pd.to_datetime([r[1] for r in rows]).tz_localize(TZ)
    reported = pd.to_datetime([r[2] if len(r) == 3 else r[1] for r in rows]).tz_localize(TZ)
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "occurred_at": occurred,
            "reported_at": reported,
            "category": "theft",
            "grid_id": grid,
            "source": "resident",
            "severity": 2,
        }
    )


def at(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(stamps))).tz_localize(TZ)


def random_events(seed: int, n: int = 300, n_grids: int = 3, days: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz=TZ)
    occurred = start + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D")
    delay = pd.to_timedelta(rng.exponential(0.5, n), unit="D")
    frame = make_events([(f"g{rng.integers(n_grids)}", "2024-01-01") for _ in range(n)])
    frame["occurred_at"] = occurred
    frame["reported_at"] = occurred + delay
    return frame


# --- historical_rate ---------------------------------------------------------------------------


def history_events() -> pd.DataFrame:
    return make_events(
        [
            ("g0", "2024-03-01 08:00"),  # earliest event: history starts here
            ("g0", "2024-03-05 12:00"),
            ("g1", "2024-03-10 12:00"),
            ("g0", "2024-03-11 07:00"),  # before the 08:00 issue time on the issue day: known
            ("g1", "2024-03-11 09:00"),  # after it: not known at 2024-03-11 08:00
            ("zz", "2024-03-02 08:00"),  # grid not in the grids: ignored
        ]
    )


def test_historical_rate_is_count_over_days_of_history_times_horizon():
    model = HistoricalRate().fit(
        history_events(), line_grids(), pd.Timestamp("2024-03-11 08:00", tz=TZ)
    )
    counts = model.predict_count(history_events(), at("2024-03-11 08:00", "2024-03-12 08:00"))
    # t1: 10 days since 03-01 08:00; g0 3 events, g1 1, g2 0 -> 3/10*3, 1/10*3, 0
    # t2: 11 days; the 09:00 event is now known: g0 3/11*3, g1 2/11*3
    np.testing.assert_allclose(counts, [[0.9, 0.3, 0.0], [9 / 11, 6 / 11, 0.0]])


def test_historical_rate_start_sets_the_denominator_and_drops_older_events():
    events = history_events()
    model = HistoricalRate(start="2024-03-02 08:00+08:00").fit(
        events, line_grids(), pd.Timestamp("2024-03-11 08:00", tz=TZ)
    )
    # 9 days since the start; the 03-01 event of g0 is before the start: g0 2/9*3, g1 1/9*3
    np.testing.assert_allclose(
        model.predict_count(events, at("2024-03-11 08:00")), [[2 / 3, 1 / 3, 0.0]]
    )


def test_predict_proba_is_poisson_probability_of_at_least_one_event():
    model = HistoricalRate().fit(history_events(), line_grids(), pd.Timestamp("2024-03-11", tz=TZ))
    proba = model.predict_proba(history_events(), at("2024-03-11 08:00"))
    # counts 0.9, 0.3, 0 -> 1 - exp(-0.9) = 0.593430, 1 - exp(-0.3) = 0.259182, 0
    np.testing.assert_allclose(proba, [[0.593430, 0.259182, 0.0]], atol=1e-6)


def test_rows_follow_issue_times_as_given_and_history_can_be_empty():
    model = HistoricalRate().fit(history_events(), line_grids(), pd.Timestamp("2024-03-11", tz=TZ))
    counts = model.predict_count(history_events(), at("2024-03-12 08:00", "2024-02-01 08:00"))
    # unsorted input: first row is 03-12 (9/11 for g0); nothing known on 02-01 -> zeros
    np.testing.assert_allclose(counts, [[9 / 11, 6 / 11, 0.0], [0.0, 0.0, 0.0]])


# --- recent_30d --------------------------------------------------------------------------------


def test_recent_30d_counts_only_the_last_30_days():
    events = make_events(
        [
            ("g0", "2024-03-01 07:00"),  # 30 days + 1 hour before t: out
            ("g0", "2024-03-01 08:00"),  # exactly 30 days: out, the window is (t - 30d, t]
            ("g0", "2024-03-01 09:00"),  # 29 days 23 hours: in
            ("g1", "2024-02-29 12:00"),  # 31 days: out
            ("g1", "2024-03-31 07:59"),  # one minute before t: in
            ("g2", "2024-03-20 08:00", "2024-03-31 08:01"),  # reported a minute after t: out
        ]
    )
    model = Recent30d().fit(events, line_grids(), pd.Timestamp("2024-03-31 08:00", tz=TZ))
    counts = model.predict_count(events, at("2024-03-31 08:00"), horizon_hours=72)
    # g0: 1 event / 30 days * 3 days = 0.1; g1: 0.1; g2: 0
    np.testing.assert_allclose(counts, [[0.1, 0.1, 0.0]])


# --- kde ---------------------------------------------------------------------------------------


def test_kde_spreads_recent_events_with_the_quartic_kernel():
    events = make_events(
        [
            ("g0", "2024-03-20 08:00"),  # 11 days old: in the 60-day window
            ("g2", "2024-01-30 08:00"),  # 61 days old: out
        ]
    )
    model = KDE(bandwidth_km=2.0).fit(events, line_grids(), pd.Timestamp("2024-03-31 08:00", tz=TZ))
    counts = model.predict_count(events, at("2024-03-31 08:00"))
    # K(d) = (1 - (d/2)^2)^2: K(0) = 1, K(1 km) = 0.75^2 = 0.5625, K(2 km) = 0; areas 1 km2
    # column sums of W: 1.5625, 2.125, 1.5625 -> norm = 5.25 / 3 = 1.75
    # g0 event: scores [1, 0.5625, 0] / 1.75 / 60 days * 3 days
    np.testing.assert_allclose(model.norm_, 1.75)
    np.testing.assert_allclose(counts, [[1 / 35, 0.5625 / 35, 0.0]])


def test_kde_scales_by_grid_area():
    events = make_events([("g1", "2024-03-30 08:00")])
    grids = line_grids()
    grids["area_km2"] = [1.0, 1.0, 3.0]
    model = KDE(bandwidth_km=2.0).fit(events, grids, pd.Timestamp("2024-03-31 08:00", tz=TZ))
    counts = model.predict_count(events, at("2024-03-31 08:00"))
    # density at g0 and g2 alike (0.5625 from g1), but g2 is 3x larger: its count is 3x g0's
    assert counts[0, 2] == pytest.approx(3 * counts[0, 0])
    assert counts[0, 1] > counts[0, 0]


# --- prospective -------------------------------------------------------------------------------

HARMONIC_8 = sum(1 / (1 + w) for w in range(8))  # 2.717857


def prospective_events() -> pd.DataFrame:
    return make_events(
        [
            ("g0", "2024-03-28 08:00"),  # 3 days old: week 0, weight 1
            ("g2", "2024-03-21 08:00"),  # 10 days old: week 1, weight 1/2
            ("g1", "2024-02-01 08:00"),  # 60 days old: beyond 8 weeks, weight 0
        ]
    )


def test_prospective_weights_are_inverse_weeks_times_inverse_cells():
    model = Prospective(bandwidth_cells=2.0).fit(
        prospective_events(), line_grids(), pd.Timestamp("2024-03-31 08:00", tz=TZ)
    )
    counts = model.predict_count(prospective_events(), at("2024-03-31 08:00"))
    # spacing 1 km = 1 cell; spatial weight 1/(1+d): d=0 -> 1, d=1 -> 1/2, d=2 -> 1/3
    # g0: 1*1 + 1/2*1/3 = 7/6;  g1: 1*1/2 + 1/2*1/2 = 3/4;  g2: 1*1/3 + 1/2*1 = 5/6
    # norm = mean column sum of W = (11/6 + 2 + 11/6) / 3 = 17/9
    # count = score / (7 * H_8 * 17/9) * 3 days
    assert model.cell_km_ == pytest.approx(1.0)
    assert model.norm_ == pytest.approx(17 / 9)
    scale = 3 / (7 * HARMONIC_8 * 17 / 9)
    np.testing.assert_allclose(counts, [[7 / 6 * scale, 3 / 4 * scale, 5 / 6 * scale]])


def test_prospective_bandwidth_cuts_off_farther_grids():
    model = Prospective(bandwidth_cells=1.0).fit(
        prospective_events(), line_grids(), pd.Timestamp("2024-03-31 08:00", tz=TZ)
    )
    counts = model.predict_count(prospective_events(), at("2024-03-31 08:00"))
    # g0 no longer sees g2 (2 cells away): 1 ; g1: 1/2 + 1/2*1/2 = 3/4 ; g2: 1/2
    # norm = (3/2 + 2 + 3/2) / 3 = 5/3
    scale = 3 / (7 * HARMONIC_8 * 5 / 3)
    np.testing.assert_allclose(counts, [[1 * scale, 3 / 4 * scale, 1 / 2 * scale]])


# --- seppexp -----------------------------------------------------------------------------------


def simulate_hawkes(
    mu: np.ndarray, theta: float, omega: float, days: float, seed: int
) -> pd.DataFrame:
    """Per-grid Hawkes process by branching: background Poisson, then Poisson(θ) children."""
    rng = np.random.default_rng(seed)
    grids, times = [], []
    for g, rate in enumerate(mu):
        generation = rng.uniform(0, days, rng.poisson(rate * days))
        while len(generation):
            grids += [g] * len(generation)
            times += list(generation)
            n_children = rng.poisson(theta, len(generation))
            children = np.repeat(generation, n_children) + rng.exponential(
                1 / omega, n_children.sum()
            )
            generation = children[children < days]
    start = pd.Timestamp("2020-01-01", tz=TZ)
    frame = make_events([(f"g{g}", "2020-01-01") for g in grids])
    frame["occurred_at"] = start + pd.to_timedelta(np.asarray(times), unit="D")
    frame["reported_at"] = frame["occurred_at"]
    return frame


def test_seppexp_recovers_the_parameters_of_a_simulated_hawkes_process():
    mu = np.array([0.1, 0.2, 0.3, 0.2, 0.1])
    events = simulate_hawkes(mu, theta=0.5, omega=1.0, days=1500, seed=7)
    until = pd.Timestamp("2020-01-01", tz=TZ) + pd.Timedelta(days=1500)
    model = SEPPExp(start=pd.Timestamp("2020-01-01", tz=TZ)).fit(events, line_grids(5), until)
    # ~2,700 events; loose tolerances for sampling noise
    assert model.theta_ == pytest.approx(0.5, abs=0.1)
    assert model.omega_ == pytest.approx(1.0, rel=0.3)
    np.testing.assert_allclose(model.mu_, mu, rtol=0.3)


def test_seppexp_ranks_a_recent_burst_above_the_same_long_run_rate():
    rows = [
        ("g0", f"{pd.Timestamp('2023-01-01') + pd.Timedelta(days=10 * k):%Y-%m-%d %H:%M}")
        for k in range(30)
    ]
    rows += [
        ("g1", f"{pd.Timestamp('2023-01-01') + pd.Timedelta(days=10 * k):%Y-%m-%d %H:%M}")
        for k in range(27)
    ]
    # g1: same 30 events as g0 in the long run, but its last 3 come in a burst just before t
    rows += [("g1", "2023-10-27 00:00"), ("g1", "2023-10-27 06:00"), ("g1", "2023-10-27 12:00")]
    events = make_events(rows)
    t = pd.Timestamp("2023-10-28 08:00", tz=TZ)  # day 300; g0's last event was day 290
    model = SEPPExp().fit(events, line_grids(), t)
    counts = model.predict_count(events, at("2023-10-28 08:00"))
    history = (
        HistoricalRate().fit(events, line_grids(), t).predict_count(events, at("2023-10-28 08:00"))
    )
    assert history[0, 0] == pytest.approx(history[0, 1])  # same long-run rate
    assert model.theta_ > 0
    assert counts[0, 1] > counts[0, 0] > counts[0, 2] == 0.0


def test_seppexp_count_is_background_plus_first_generation_trigger():
    events = simulate_hawkes(np.array([0.2, 0.4, 0.1]), theta=0.4, omega=0.5, days=300, seed=3)
    delay = np.random.default_rng(4).exponential(2.0, len(events))  # reports up to days late
    events["reported_at"] = events["occurred_at"] + pd.to_timedelta(delay, unit="D")
    t0 = pd.Timestamp("2020-01-01", tz=TZ) + pd.Timedelta(days=290)
    issue = pd.DatetimeIndex([t0, t0 + pd.Timedelta(hours=30), t0 + pd.Timedelta(days=9)])
    model = SEPPExp().fit(events, line_grids(), t0)
    counts = model.predict_count(events, issue, horizon_hours=48)
    # by hand, per issue time t and grid g, over events known at t:
    # mu_g * 2 days + theta * sum_i exp(-omega (t - t_i)) * (1 - exp(-2 omega))
    grid = events["grid_id"].to_numpy()
    for row, t in enumerate(issue):
        age = (t - events["occurred_at"]).dt.total_seconds().to_numpy() / 86400
        known = (events["occurred_at"] <= t) & (events["reported_at"] <= t)
        decay = np.where(known, np.exp(-model.omega_ * age), 0.0)
        excitation = np.array([decay[grid == f"g{g}"].sum() for g in range(3)])
        expected = model.mu_ * 2 + model.theta_ * excitation * (1 - np.exp(-2 * model.omega_))
        np.testing.assert_allclose(counts[row], expected, rtol=1e-9)


def test_seppexp_refuses_issue_times_before_its_fit():
    events = history_events()
    model = SEPPExp().fit(events, line_grids(), pd.Timestamp("2024-03-11 08:00", tz=TZ))
    with pytest.raises(ValueError, match="before the fit's until"):
        model.predict_count(events, at("2024-03-10 08:00"))


def coarse(events: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The same events recorded to the `unit` ('min', 'h', 'D'), as a coarse file would."""
    out = events.copy()
    out["occurred_at"] = out["occurred_at"].dt.floor(unit)
    out["reported_at"] = out["occurred_at"]
    return out


def assert_finite_fit(model: SEPPExp, n_grids: int) -> None:
    assert np.isfinite(model.mu_).all() and (model.mu_ >= 0).all() and len(model.mu_) == n_grids
    assert 0.0 <= model.theta_ <= 0.95
    assert np.isfinite(model.omega_) and model.omega_ > 0
    assert np.isfinite(model.log_likelihood_)


def test_seppexp_same_minute_twins_are_not_parents_of_each_other():
    # No self-excitation at all (theta 0), but a third of the events have a twin at the same
    # minute, as multi-offense reports do. Before the fix the zero-lag pairs pulled omega up
    # until exp(-omega * lag) underflowed for every real lag: ZeroDivisionError in the M step.
    events = simulate_hawkes(np.full(5, 1.0), theta=0.0, omega=0.5, days=400, seed=1)
    events = coarse(events, "min")
    events = pd.concat([events, events.iloc[::3]], ignore_index=True)
    start = pd.Timestamp("2020-01-01", tz=TZ)
    model = SEPPExp(start=start).fit(events, line_grids(5), start + pd.Timedelta(days=400))
    assert model.resolution_.name == "minute"
    assert_finite_fit(model, 5)
    assert model.theta_ < 0.1  # twins explained as background, not as triggering
    # each grid: ~1 event a day plus one twin for every third event
    np.testing.assert_allclose(model.mu_, 4 / 3, rtol=0.15)


@pytest.mark.parametrize(
    ("unit", "resolution", "omega_max"),
    [("h", "hour", 24.0), ("D", "day", 1.0)],
)
def test_seppexp_on_hour_only_and_date_only_records_stays_finite(unit, resolution, omega_max):
    # ~10,000 events in 10 busy grids, weak excitation: dates only crashed before the fix.
    truth = simulate_hawkes(np.full(10, 5.0), theta=0.05, omega=0.5, days=200, seed=1)
    events = coarse(truth, unit)
    start = pd.Timestamp("2020-01-01", tz=TZ)
    until = start + pd.Timedelta(days=200)
    model = SEPPExp(start=start).fit(events, line_grids(10), until)
    assert model.resolution_.name == resolution
    assert_finite_fit(model, 10)
    assert model.omega_ <= omega_max + 1e-12  # a trigger no faster than the record can show
    counts = model.predict_count(events, pd.DatetimeIndex([until]))
    assert np.isfinite(counts).all()
    np.testing.assert_allclose(counts, 5.0 * 3, rtol=0.2)  # ~5 a day over 3 days


def test_seppexp_fits_a_grid_with_one_event_and_a_category_with_none():
    start = pd.Timestamp("2024-01-01", tz=TZ)
    until = pd.Timestamp("2024-03-01", tz=TZ)
    one = make_events([("g1", "2024-02-01 10:00")])
    model = SEPPExp(start=start).fit(one, line_grids(), until)
    assert_finite_fit(model, 3)
    np.testing.assert_allclose(model.mu_, [0.0, 1 / 60, 0.0])  # one event over 60 days
    assert model.theta_ == 0.0
    none = one.iloc[:0]
    empty = SEPPExp(start=start).fit(none, line_grids(), until)
    assert_finite_fit(empty, 3)
    np.testing.assert_array_equal(empty.predict_count(none, at("2024-03-01 08:00")), 0.0)


# --- every baseline ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BASELINES))
def test_no_leakage_from_events_unknown_at_t(name):
    events = random_events(seed=1)
    t = pd.Timestamp("2024-03-15 08:00", tz=TZ)
    leaky = pd.concat(
        [
            events,
            make_events(
                [
                    ("g1", "2024-03-15 08:30"),  # occurred after t
                    (
                        "g2",
                        "2024-03-15 07:00",
                        "2024-03-15 09:00",
                    ),  # occurred before, reported after
                    ("g0", "2024-02-01 07:00", "2024-03-20 09:00"),  # old but reported after t
                ]
            ),
        ],
        ignore_index=True,
    )
    issue = at("2024-03-15 08:00")
    clean = make_baseline(name).fit(events, line_grids(), t).predict_count(events, issue)
    dirty = make_baseline(name).fit(leaky, line_grids(), t).predict_count(leaky, issue)
    np.testing.assert_array_equal(clean, dirty)
    assert clean.shape == (1, 3) and clean.sum() > 0


@pytest.mark.parametrize("name", list(BASELINES))
def test_an_event_known_before_the_issue_time_on_the_issue_day_counts(name):
    events = random_events(seed=2)
    t = pd.Timestamp("2024-03-15 08:00", tz=TZ)
    issue = at("2024-03-15 08:00")
    model = make_baseline(name).fit(events, line_grids(), t)
    base = model.predict_count(events, issue)
    early = pd.concat([events, make_events([("g1", "2024-03-15 07:00")])], ignore_index=True)
    late = pd.concat([events, make_events([("g1", "2024-03-15 09:00")])], ignore_index=True)
    assert model.predict_count(early, issue)[0, 1] > base[0, 1]
    np.testing.assert_array_equal(model.predict_count(late, issue), base)


@pytest.mark.parametrize("name", list(BASELINES))
def test_predicting_before_fit_raises_not_fitted(name):
    with pytest.raises(NotFitted):
        make_baseline(name).predict_count(history_events(), at("2024-03-11 08:00"))


@pytest.mark.parametrize(
    ("name", "params", "accepted"),
    [
        ("kde", {"bandwidth_km": 0}, "a finite number > 0"),
        ("recent_30d", {"window_days": -1}, "a finite number > 0"),
        ("prospective", {"window_weeks": 2.5}, "an integer >= 1"),
        ("seppexp", {"theta_init": 1.5}, r"a number in \(0, 1\)"),
        ("historical_rate", {"start": "2024-01-01"}, "None or a timezone-aware timestamp"),
    ],
)
def test_bad_parameter_raises_value_error_listing_what_is_accepted(name, params, accepted):
    model = make_baseline(name, **params)
    assert model.get_params()[next(iter(params))] == next(iter(params.values()))  # stored as is
    with pytest.raises(ValueError, match=f"accepted: {accepted}"):
        model.fit(history_events(), line_grids(), pd.Timestamp("2024-03-11", tz=TZ))


def test_unknown_baseline_name_lists_the_accepted_names():
    with pytest.raises(ValueError, match="accepted: \\['historical_rate', 'recent_30d', 'kde'"):
        make_baseline("oracle2")


def test_naive_issue_times_are_refused():
    model = HistoricalRate().fit(history_events(), line_grids(), pd.Timestamp("2024-03-11", tz=TZ))
    with pytest.raises(ValueError, match="timezone-aware"):
        model.predict_count(history_events(), pd.DatetimeIndex(["2024-03-11 08:00"]))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000), hours=st.lists(st.integers(0, 24 * 100), min_size=1, max_size=6)
)
def test_window_counts_match_a_brute_force_known_at_t_count(seed, hours):
    # recent_30d with horizon 30 days returns the raw known count in (t - 30d, t]
    events = random_events(seed, n=60, days=100)
    issue = pd.Timestamp("2024-01-01 08:00", tz=TZ) + pd.to_timedelta(hours, unit="h")
    model = Recent30d().fit(events, line_grids(), issue.min())
    counts = model.predict_count(events, pd.DatetimeIndex(issue), horizon_hours=30 * 24)
    for row, t in enumerate(issue):
        known = (events["occurred_at"] <= t) & (events["reported_at"] <= t)
        recent = known & (events["occurred_at"] > t - pd.Timedelta(days=30))
        expected = [int((recent & (events["grid_id"] == f"g{g}")).sum()) for g in range(3)]
        np.testing.assert_allclose(counts[row], expected, atol=1e-9)
