"""Drift of a scoring run against the training window (risk.drift): PSI, bins, the reference
of one quantity, and a run's drift — every number worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from risk.drift import (
    EPSILON,
    DriftReference,
    QuantityReference,
    bins_for,
    category_shares,
    family_psi,
    numeric_shares,
    psi,
    quantile_edges,
    reference_of,
    run_drift,
)

NAN = float("nan")


def test_psi_of_identical_distributions_is_zero_empty_bins_included():
    assert psi([0.2, 0.3, 0.5, 0.0], [0.2, 0.3, 0.5, 0.0]) == 0.0


def test_psi_of_a_two_bin_shift_by_hand():
    # (0.9 − 0.5)·ln(0.9/0.5) + (0.1 − 0.5)·ln(0.1/0.5) = 0.4·ln 1.8 + 0.4·ln 5 = 0.4·ln 9
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * math.log(9), abs=1e-12)
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.878890, abs=1e-6)
    # symmetric in the two distributions
    assert psi([0.9, 0.1], [0.5, 0.5]) == pytest.approx(psi([0.5, 0.5], [0.9, 0.1]))


def test_an_empty_reference_bin_is_floored_at_epsilon():
    # (0.5 − 1)·ln(0.5/1) + (0.5 − ε)·ln(0.5/ε), ε = 1e-4
    expected = 0.5 * math.log(2) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert psi([1.0, 0.0], [0.5, 0.5]) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(4.604318, abs=1e-6)
    with pytest.raises(ValueError, match="2 reference bins but 3 actual"):
        psi([0.5, 0.5], [0.2, 0.3, 0.5])


def test_bins_follow_the_city_size():
    assert [bins_for(n) for n in (10, 49, 50, 100, 249, 250, 2000)] == [2, 2, 2, 4, 9, 10, 10]


def test_quantile_edges_keep_a_mass_point_whole_and_merge_hair_thin_bins():
    # 70 zeros and 1..30: deciles 0 (×7), 10, 20 → the zeros' edge becomes 0 + 1 % of 30
    assert quantile_edges(np.r_[np.zeros(70), np.arange(1, 31)], 10).tolist() == [0.3, 10, 20]
    assert quantile_edges(np.arange(100), 4).tolist() == [24, 49, 74]
    # "events per day of the record": 1/100 … 1/103 sit within 1 % of the range: one bin
    values = np.r_[np.zeros(10), 1 / np.arange(100, 104).repeat(5), np.linspace(0.02, 1, 70)]
    edges = quantile_edges(values, 10)
    assert edges[0] == pytest.approx(0.01) and np.all(np.diff(edges) > 0.01)
    assert quantile_edges([NAN, NAN], 4).size == 0
    assert quantile_edges(np.zeros(10), 4).size == 0  # one value: one bin
    assert quantile_edges([0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0], 4).tolist() == [0.01]


def test_numeric_shares_are_right_closed_with_a_nan_bin():
    values = [0, 0.3, 5, 10, 11, 25, NAN]
    # ≤ 0.3: 0, 0.3 | (0.3, 10]: 5, 10 | (10, 20]: 11 | > 20: 25 | NaN
    assert numeric_shares(values, [0.3, 10, 20]).tolist() == pytest.approx(
        [2 / 7, 2 / 7, 1 / 7, 1 / 7, 1 / 7]
    )
    assert numeric_shares([], [1.0]).tolist() == [0, 0, 0]


def test_category_shares_have_an_unseen_and_a_missing_bin():
    shares = category_shares(["a", "b", "a", None, "z"], ["a", "b"])
    assert shares.tolist() == pytest.approx([0.4, 0.2, 0.2, 0.2])


def test_reference_of_a_numeric_feature_and_its_baseline():
    # Two issue times of two grids: all 0, then all 1. Edges [0.01]: shares ½, ½, NaN 0.
    ref = reference_of("x", "history", [0, 0, 1, 1], 2, issue_times=2)
    assert (ref.kind, ref.edges, ref.shares) == ("numeric", (0.01,), (0.5, 0.5, 0.0))
    assert (ref.low, ref.high, ref.nan_seen, ref.per_issue_time) == (0.0, 1.0, False, True)
    # each issue time against the pool: (1 − ½)·ln 2 + (ε − ½)·ln(ε/½)
    one_day = 0.5 * math.log(2) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert ref.baseline == pytest.approx(one_day)
    # a per-grid feature that does not change over time: baseline 0
    steady = reference_of("y", "area", [1, 2, 3, 1, 2, 3], 3, issue_times=2)
    assert (steady.per_issue_time, steady.baseline) == (False, 0.0)
    # the range and NaN from more rows than the sample, when given
    wide = reference_of("z", "history", [1, 2, NAN, 4], 2, low=-5.0, high=9.0, nan_seen=False)
    assert (wide.low, wide.high, wide.nan_seen) == (-5.0, 9.0, False)


def test_reference_of_a_categorical_feature():
    values = pd.Series(pd.Categorical(["old", "new", "old", "new"]))
    ref = reference_of("grid_type", "area", values, 4, issue_times=2)
    assert (ref.kind, ref.categories, ref.shares) == ("category", ("new", "old"), (0.5, 0.5, 0, 0))
    assert ref.baseline == 0.0
    assert ref.out_of_range(["old", "mall", None]).tolist() == [False, True, False]
    assert ref.missing(["old", None]).tolist() == [False, True]


def test_range_check_is_widened_by_the_margin():
    ref = QuantityReference("x", "f", "numeric", (0.5, 0.5, 0.0), (5.0,), low=0.0, high=10.0)
    values = [-1.5, -0.5, 5, 10.9, 11.5, NAN]
    assert ref.out_of_range(values, 0.1).tolist() == [True, False, False, False, True, False]
    assert ref.out_of_range(values).tolist() == [True, True, False, True, True, False]
    assert ref.missing(values).tolist() == [False] * 5 + [True]
    seen = QuantityReference("x", "f", "numeric", (1.0, 0.0), (), low=0.0, high=1.0, nan_seen=True)
    assert not seen.missing([NAN]).any()  # NaN was normal in training


def test_family_psi_is_the_largest_of_its_features():
    found = family_psi({"a": 0.1, "b": 0.3, "c": 0.05, "d": 0.2}, {"a": "h", "b": "h", "c": "n"})
    assert found == {"h": 0.3, "n": 0.05, "other": 0.2}


def reference() -> DriftReference:
    """x (history): edges [1], shares ½ ≤ 1, ½ > 1, range [0, 2]; cal (calendar): the same
    for every grid; coarse (neighbourhood): baseline 0.5; score of target any: edges [0.5]."""
    q = QuantityReference
    return DriftReference(
        features={
            "x": q("x", "history", "numeric", (0.5, 0.5, 0.0), (1.0,), low=0.0, high=2.0),
            "cal": q(
                "cal", "calendar", "numeric", (1.0, 0.0), (), low=3.0, high=3.0, per_issue_time=True
            ),
            "coarse": q(
                "coarse",
                "neighbourhood",
                "numeric",
                (0.5, 0.5, 0.0),
                (1.0,),
                low=0.0,
                high=2.0,
                baseline=0.5,
            ),
        },  # fmt: skip
        scores={"any": q("any", "score", "numeric", (0.5, 0.5, 0.0), (0.5,), low=0.0, high=1.0)},
        n_bins=2,
        rows=8,
        sample_rows=4,
        issue_times=("a", "b"),
    )


def test_run_drift_by_hand():
    frame = pd.DataFrame(
        {
            "x": [0.5, 0.5, 0.5, 1.5, 3.0, NAN, 0.5, 0.5, 0.5, 0.5],  # 3.0 > 2 + 10 % · 2
            "cal": [9.0] * 10,  # far outside its range: not checked
            "coarse": [5.0] * 10,  # too coarse to check: no PSI, no range
            "extra": [1.0] * 10,  # unknown to the reference: ignored
        }
    )
    scores = {"any": np.r_[np.full(9, 0.2), 0.9], "theft": np.zeros(10)}
    drift = run_drift(frame, scores, reference())
    # x: ≤ 1: 7/10, > 1: 2/10, NaN 1/10 against ½, ½, 0
    expected_x = psi([0.5, 0.5, 0.0], [0.7, 0.2, 0.1])
    assert drift.feature_psi == {"x": pytest.approx(expected_x)}
    assert drift.family_psi == {"history": pytest.approx(expected_x)}
    # score: 9/10 ≤ 0.5, 1/10 above; theft has no reference
    assert drift.score_psi == {"any": pytest.approx(psi([0.5, 0.5, 0], [0.9, 0.1, 0]))}
    assert drift.score_psi["any"] == pytest.approx(0.4 * math.log(9))
    assert (drift.missing_share, drift.out_of_range_share) == (0.1, 0.1)
    assert (drift.grids, drift.unchecked) == (10, 2)
    assert drift.as_dict()["features_checked"] == 1
    # a known feature absent from the frame is missing for every grid
    assert run_drift(frame.drop(columns="x"), {}, reference()).missing_share == 1.0


def test_reference_round_trips_through_json():
    import json

    ref = reference()
    again = DriftReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again == ref
