import numpy as np
import pandas as pd
import pytest

from risk.precision_bounds import (
    cluster_counts,
    cluster_precision_lower_bound,
    clusters_of,
    precision_lower_bound,
)


def test_cluster_bound_by_hand_on_three_issue_days():
    # Flagged rows of 3 issue days: 4 of 4, 2 of 4 and 2 of 2 saw an event; p̂ = 8/10 = 0.8.
    # Residuals e_c = h_c − 0.8 n_c: 0.8, −1.2, 0.4; Σe² = 2.24; variance 3/2 · 2.24 / 10² =
    # 0.0336, se 0.18330; t(0.9, 2 df) = 1.88562: bound 0.8 − 0.34564 = 0.45436.
    got = cluster_precision_lower_bound([[4], [2], [2]], [[4], [4], [2]], 0.9)
    assert got.tolist() == pytest.approx([0.45436], abs=1e-5)
    # Wilson, rows as independent: (0.8 + z²/20 − z·sqrt(0.016 + z²/400)) / (1 + z²/10),
    # z = 1.28155 — 0.60160, far less cautious than the days' spread allows
    assert precision_lower_bound(8, 10, 0.9) == pytest.approx(0.60160, abs=1e-5)
    # one more day like these (a prediction bound): se · sqrt(3 + 1), 0.8 − 0.69128 = 0.10872
    week = cluster_precision_lower_bound([[4], [2], [2]], [[4], [4], [2]], 0.9, coming_week=True)
    assert week.tolist() == pytest.approx([0.10872], abs=1e-5)
    # confidence 0.5 gives the estimate itself; one cut per column
    both = cluster_precision_lower_bound([[4, 4], [2, 2], [2, 2]], [[4, 6], [4, 6], [2, 4]], 0.5)
    assert both.tolist() == pytest.approx([0.8, 0.5])


def test_without_two_clusters_holding_flagged_rows_nothing_is_claimed():
    assert cluster_precision_lower_bound([[9]], [[10]], 0.9).tolist() == [-np.inf]
    # three clusters, but the flagged rows all in one: no spread to go by
    assert cluster_precision_lower_bound([[9], [0], [0]], [[10], [0], [0]], 0.9).tolist() == [
        -np.inf
    ]


def test_a_strongly_clustered_sample_gets_a_wider_bound_than_wilson():
    # 10 weeks of 140 flagged rows; the weeks alternate between 133 and 98 hits (0.95, 0.70):
    # 1,155 of 1,400, p̂ 0.825. Wilson sees 1,400 independent rows: (0.825 + z²/2800 −
    # z·sqrt(0.825·0.175/1400 + z²/(4·1400²))) / (1 + z²/1400) = 0.81161. The weeks say
    # more: e_c = ±17.5, variance 10/9 · 10 · 17.5² / 1400² = 0.0017361, se 0.041667,
    # t(0.9, 9 df) = 1.38303: 0.825 − 0.05763 = 0.76737.
    hits = np.array([[133], [98]] * 5)
    flagged = np.full((10, 1), 140)
    clustered = cluster_precision_lower_bound(hits, flagged, 0.9)[0]
    wilson = precision_lower_bound(1155, 1400, 0.9)
    assert wilson == pytest.approx(0.81161, abs=1e-5)
    assert clustered == pytest.approx(0.76737, abs=1e-5)
    # the same rows with every week at 0.825 (115.5 hits) have no spread: the estimate itself
    even = cluster_precision_lower_bound(np.full((10, 1), 115.5), flagged, 0.9)[0]
    assert even == pytest.approx(0.825)


def test_clusters_are_weeks_counted_from_the_first_issue_day():
    # daily 08:00 Chicago times across the end of daylight saving (3 Nov 2024): the UTC
    # hour moves, the day count does not
    times = pd.date_range("2024-10-28 08:00", periods=15, freq="D", tz="America/Chicago")
    assert clusters_of(times, 7).tolist() == [0] * 7 + [1] * 7 + [2]
    assert clusters_of(times.as_unit("ns").asi8, 7).tolist() == [0] * 7 + [1] * 7 + [2]
    # clusters without a row are not counted: days 0 and 15 are clusters 0 and 1
    assert clusters_of(times[[0, 14]], 7).tolist() == [0, 1]
    assert clusters_of(times[:3], 1).tolist() == [0, 1, 2]


def test_cluster_counts_at_cuts_of_a_ranking():
    label = np.array([1, 1, 0, 1, 0, 0], dtype=float)
    cluster = np.array([0, 1, 1, 0, 2, 0])
    # cuts after rows 1, 3 and 5 (2, 4 and 6 rows flagged)
    hits, flagged = cluster_counts(label, cluster, np.array([1, 3, 5]))
    assert flagged.tolist() == [[1, 2, 3], [1, 2, 2], [0, 0, 1]]
    assert hits.tolist() == [[1, 2, 2], [1, 1, 1], [0, 0, 0]]
