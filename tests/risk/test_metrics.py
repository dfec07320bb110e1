import json
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from risk.metrics import (
    brier,
    ece,
    evaluate,
    hit_rate_at,
    json_ready,
    k_grids,
    log_loss,
    miss_rate_at,
    miss_rate_true_at,
    pai_at,
    paired_bootstrap_difference,
    paired_to_baselines,
    pei_at,
    per_issue_time,
    pr_auc,
    roc_auc,
    segment_metrics,
    top_k_mask,
    truly_high_risk,
)

# Shared 3-day × 4-grid panel; k = 25% → K = ceil(0.25 · 4) = 1.
# top-1 by score: day 0 grid 0 (c=2), day 1 grid 3 (c=0, no events that day), day 2 grid 3 (c=1).
SCORE = np.array([[4, 3, 2, 1], [1, 2, 3, 4], [1, 2, 3, 4]], dtype=float)
COUNT = np.array([[2, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 1]], dtype=float)


def test_k_is_ceiling_of_percent_of_grids():
    # ceil(0.10·25)=3, ceil(0.01·2000)=20, 7·100/100=7 exactly (no float creep to 8), ceil(0.05·1)=1
    assert [k_grids(10, 25), k_grids(1, 2000), k_grids(7, 100), k_grids(5, 1)] == [3, 20, 7, 1]
    with pytest.raises(ValueError, match="k_percent"):
        k_grids(0, 10)


def test_top_k_mask_picks_highest_scores_per_issue_time():
    # K = ceil(0.5·4) = 2: day 0 → grids 0 and 2 (scores 3, 2); day 1 → grids 1 and 3.
    mask = top_k_mask([[3, 1, 2, 0], [0, 5, 1, 4]], 50)
    assert mask.tolist() == [[True, False, True, False], [False, True, False, True]]


def test_tie_at_k_boundary_is_broken_at_random_with_a_seed():
    # K = 2: grid 0 (score 5) always; grids 1 and 2 tie at 1 for the second place.
    score = [[5, 1, 1, 0]]
    picks = [top_k_mask(score, 50, seed=s)[0] for s in range(40)]
    assert all(p[0] and not p[3] and p[1] != p[2] for p in picks)
    assert any(p[1] for p in picks) and any(p[2] for p in picks)  # each tied grid wins sometimes
    assert (top_k_mask(score, 50, seed=7) == top_k_mask(score, 50, seed=7)).all()  # reproducible


def test_tie_breaking_does_not_follow_grid_order():
    # K = 2; grid A (score 2, c=1) always in; tie between B (c=4) and C (c=0) for the 2nd place.
    # hit rate is (1+4)/5 = 1.0 when B wins, 1/5 = 0.2 when C wins: expected 0.6 in any column order.
    score, count = np.array([[2.0, 1.0, 1.0, 0.0]]), np.array([[1.0, 4.0, 0.0, 0.0]])
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        rates = [hit_rate_at(score[:, perm], count[:, perm], 50, seed=s) for s in range(400)]
        assert set(np.round(rates, 9)) == {0.2, 1.0}
        assert abs(np.mean(rates) - 0.6) < 0.06  # sd of the mean over 400 seeds ≈ 0.02


def test_hit_rate_pools_over_issue_times_and_event_free_days_add_nothing():
    # numerator 2 + 0 + 1 = 3; denominator 3 + 0 + 4 = 7
    assert hit_rate_at(SCORE, COUNT, 25) == pytest.approx(3 / 7)
    assert hit_rate_at(SCORE[[0, 2]], COUNT[[0, 2]], 25) == pytest.approx(3 / 7)


def test_hit_rate_is_nan_without_any_event():
    assert math.isnan(hit_rate_at(SCORE, np.zeros_like(COUNT), 25))


def test_pai_with_equal_areas_divides_by_k_over_n():
    # (3/7) / (1/4) = 12/7
    assert pai_at(SCORE, COUNT, 25) == pytest.approx(12 / 7)


def test_pai_with_unequal_areas_uses_pooled_area_share():
    # areas [1, 1, 1, 5], total 8. Flagged areas: day 0 grid 0 → 1, days 1 and 2 grid 3 → 5 + 5.
    # share = 11 / (3 · 8) = 11/24; pai = (3/7) / (11/24) = 72/77
    assert pai_at(SCORE, COUNT, 25, area=[1, 1, 1, 5]) == pytest.approx(72 / 77)


def test_pei_compares_with_hindsight_best_not_total():
    # K = 2. Day 0: top = grids 2, 1 → 0 + 1 = 1; best = 3 + 2 = 5.
    # Day 1: top = grids 0, 1 → 1 + 1 = 2; best = 2.  pei = (1 + 2) / (5 + 2) = 3/7.
    # (hit rate differs: 3 / (6 + 4) = 0.3)
    score = [[1, 2, 3, 0], [4, 3, 2, 1]]
    count = [[3, 1, 0, 2], [1, 1, 1, 1]]
    assert pei_at(score, count, 50) == pytest.approx(3 / 7)
    assert hit_rate_at(score, count, 50) == pytest.approx(0.3)


def test_truly_high_risk_includes_all_grids_tied_at_the_kth_count():
    # 10 grids → K = 1; largest count 3 is shared by grids 1 and 2 → both truly high-risk.
    count = [[0, 3, 3, 1, 0, 0, 0, 0, 0, 0]]
    assert np.flatnonzero(truly_high_risk(count)[0]).tolist() == [1, 2]


def test_miss_rate_pools_truth_with_ties_and_skips_event_free_days():
    # K = 1 per day. Day 0: truth {1, 2} (tie at 3), predicted {1} → 1 caught of 2.
    # Day 1: no events → threshold max(1, 0) = 1 → no truth, contributes nothing.
    # Day 2: truth {9} (count 2), predicted {0} → 0 of 1.  miss = 1 − 1/3 = 2/3.
    count = np.zeros((3, 10))
    count[0, [1, 2, 3]] = [3, 3, 1]
    count[2, 9] = 2
    score = np.zeros((3, 10))
    score[0, 1] = score[1, 5] = score[2, 0] = 1.0
    assert miss_rate_at(score, count) == pytest.approx(2 / 3)
    assert math.isnan(miss_rate_at(score[[1]], count[[1]]))


def test_miss_rate_true_uses_oracle_top_k():
    # K = 1. Day 0: oracle top grid 1, predicted grid 1 → caught. Day 1: oracle top grid 4,
    # predicted grid 0 → missed. miss = 1 − 1/2 = 0.5
    expected = np.full((2, 10), 0.1)
    expected[0, 1] = expected[1, 4] = 0.9
    score = np.zeros((2, 10))
    score[0, 1] = score[1, 0] = 1.0
    assert miss_rate_true_at(score, expected) == pytest.approx(0.5)


def test_oracle_scored_by_its_own_tied_expected_counts_misses_nothing():
    # All 10 expected counts tie: the seeded tie-break picks the same grid for truth and forecast.
    expected = np.ones((4, 10))
    assert [miss_rate_true_at(expected, expected, seed=s) for s in range(5)] == [0.0] * 5


def test_pr_auc_and_roc_auc_by_hand():
    # labels (count >= 1) [1, 0, 1, 0] by descending score: AP = (1/1 + 2/3) / 2 = 5/6.
    # ROC: pos {0.9, 0.7} vs neg {0.8, 0.6}: 0.9>0.8, 0.9>0.6, 0.7<0.8, 0.7>0.6 → 3/4.
    score, count = [[0.9, 0.8, 0.7, 0.6]], [[2, 0, 1, 0]]
    assert pr_auc(score, count) == pytest.approx(5 / 6)
    assert roc_auc(score, count) == pytest.approx(3 / 4)


def test_pr_auc_and_roc_auc_treat_tied_scores_as_one_threshold():
    # scores [1, 1, 0], labels [1, 0, 1]. AP: at score ≥ 1 P = 1/2, R = 1/2; at ≥ 0 P = 2/3, R = 1
    # → 1/2·1/2 + 1/2·2/3 = 7/12. ROC: (pos 1 vs neg 1 = tie 0.5) + (pos 0 vs neg 1 = 0) → 0.5/2.
    score, count = [[1, 1, 0]], [[1, 0, 1]]
    assert pr_auc(score, count) == pytest.approx(7 / 12)
    assert roc_auc(score, count) == pytest.approx(0.25)


def test_ranking_metrics_are_nan_for_a_single_class():
    zeros = np.zeros((2, 3))
    assert math.isnan(pr_auc([[1, 2, 3], [4, 5, 6]], zeros))
    assert math.isnan(roc_auc([[1, 2, 3], [4, 5, 6]], zeros))
    assert pr_auc([[1, 2, 3]], [[1, 1, 1]]) == 1.0  # AP defined without negatives
    assert math.isnan(roc_auc([[1, 2, 3]], [[1, 1, 1]]))


def test_row_ranking_metrics_match_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    score = rng.integers(0, 4, (30, 25)).astype(float)  # many ties
    count = (rng.random((30, 25)) < 0.3).astype(float)
    daily = per_issue_time(score, count)
    for t in range(30):
        assert daily["pr_auc"][t] == pytest.approx(average_precision_score(count[t], score[t]))
        assert daily["roc_auc"][t] == pytest.approx(roc_auc_score(count[t], score[t]))
    y = count.ravel()
    assert pr_auc(score, count) == pytest.approx(average_precision_score(y, score.ravel()))
    assert roc_auc(score, count) == pytest.approx(roc_auc_score(y, score.ravel()))


def test_brier_by_hand():
    # labels [1, 0, 0, 1]: (0.2² + 0.2² + 0.5² + 0²) / 4 = (0.04 + 0.04 + 0.25) / 4 = 0.0825
    assert brier([[0.8, 0.2, 0.5, 1.0]], [[2, 0, 0, 1]]) == pytest.approx(0.0825)


def test_log_loss_by_hand_and_clipped():
    # −(ln 0.8 + ln 0.8 + ln 0.5 + ln(1 − 1e-6)) / 4
    expected = -(2 * math.log(0.8) + math.log(0.5) + math.log(1 - 1e-6)) / 4
    assert log_loss([[0.8, 0.2, 0.5, 1.0]], [[2, 0, 0, 1]]) == pytest.approx(expected)
    # p = 0 with an event is clipped to 1e-6: −ln(1e-6) = 6 ln 10 ≈ 13.8155, not infinity
    assert log_loss([[0.0]], [[1]]) == pytest.approx(6 * math.log(10))


def test_ece_two_bins_by_hand():
    # sorted p [0.1, 0.2, 0.3 | 0.4, 0.8, 0.9], labels [0, 1, 0 | 1, 1, 1]
    # bin 1: |0.2 − 1/3| = 2/15; bin 2: |0.7 − 1| = 0.3; ECE = (3·2/15 + 3·0.3) / 6 = 1/15 + 0.15
    prob = [[0.9, 0.1, 0.4, 0.3, 0.8, 0.2]]
    count = [[1, 0, 1, 0, 1, 1]]
    assert ece(prob, count, n_bins=2) == pytest.approx(1 / 15 + 0.15)


def test_ece_fifteen_equal_count_bins():
    # 30 rows → 15 bins of 2. Bin b holds two rows at p = b/14 with labels 1 and 0 (mean 0.5):
    # ECE = (1/15) Σ_b |b/14 − 1/2| = (1/15) · 2·(1+…+7)/14 = (1/15) · 4 = 4/15
    prob = np.repeat(np.arange(15) / 14, 2).reshape(3, 10)
    count = np.tile([1, 0], 15).reshape(3, 10)
    assert ece(prob, count) == pytest.approx(4 / 15)


def test_ece_ties_across_a_bin_edge_follow_the_seeded_order():
    # four rows at p = 0.5, labels [1, 1, 0, 0], 2 bins: {1,1}|{0,0} → ECE 0.5; {1,0}|{1,0} → 0.
    values = {ece([[0.5, 0.5, 0.5, 0.5]], [[1, 1, 0, 0]], n_bins=2, seed=s) for s in range(30)}
    assert values == {0.0, 0.5}


def test_evaluate_returns_the_schema_keys():
    rng = np.random.default_rng(0)
    count = rng.poisson(0.3, (5, 20)).astype(float)
    score = count + rng.random((5, 20))
    out = evaluate(score, count, prob=np.clip(score / 4, 0, 1), expected=score)
    assert set(out) == {
        "pr_auc", "roc_auc", "brier", "log_loss", "ece",
        "hit_rate@1", "hit_rate@5", "hit_rate@10", "pai@1", "pai@5", "pai@10",
        "pei@1", "pei@5", "pei@10", "miss_rate@10", "miss_rate_true@10", "by_segment",
    }  # fmt: skip
    assert out["miss_rate_true@10"] == 0.0  # scored by its own "expected"


def test_evaluate_without_prob_or_expected_marks_calibration_not_applicable():
    out = evaluate(SCORE, COUNT)
    assert out["brier"] is None and out["log_loss"] is None and out["ece"] is None
    assert "miss_rate_true@10" not in out
    assert out["pai@5"] == pytest.approx(12 / 7)  # K = ceil(0.05 · 4) = 1, as in the PAI test


def test_by_segment_uses_the_city_wide_ranking():
    # 10 grids, K = 1. City-wide top = grid 0 (type a, score 9, count 1).
    # Truth: largest count 3 at grid 5 (type b). Within b the best score is grid 5 (5), but
    # the city-wide top K holds no b grid: b's hit rate 0/4 and miss rate 1 (would be 3/4 and 0
    # if b were ranked on its own). a: hit 1/1; no truly high-risk a grid → miss rate NaN.
    score = np.array([[9, 0, 0, 0, 0, 5, 4, 3, 2, 1]], dtype=float)
    count = np.array([[1, 0, 0, 0, 0, 3, 1, 0, 0, 0]], dtype=float)
    types = np.array(["a"] * 5 + ["b"] * 5)
    streets = np.array(["s1", "s2"] * 5)
    out = evaluate(score, count, segments={"grid_type": types, "street": streets})
    a, b = out["by_segment"]["a"], out["by_segment"]["b"]
    assert (a["rows"], a["hit_rate@10"]) == (5, 1.0) and math.isnan(a["miss_rate@10"])
    assert (b["rows"], b["hit_rate@10"], b["miss_rate@10"]) == (5, 0.0, 1.0)
    assert b["pr_auc"] == 1.0  # within b, the two event grids (5, 6) hold the top scores
    assert b["ece"] is None and b["brier"] is None
    assert set(out["by_street"]) == {"s1", "s2"}
    # s2 = grids 1, 3, 5, 7, 9: events 3 (grid 5) + 0 → hit 0/3; s1 holds grid 0 → 1/2
    assert out["by_street"]["s2"]["hit_rate@10"] == 0.0
    assert out["by_street"]["s1"]["hit_rate@10"] == pytest.approx(0.5)


def test_segment_metrics_by_hand():
    # 2 days × 4 grids; segments a = grids 0, 1 (area 1 each), b = grids 2, 3 (area 2 each).
    # k = 25 → K = 1, k = 50 → K = 2 city-wide (miss_rate@10: K = ceil(0.4) = 1).
    # day 0 order by score: g0, g3, g2, g1 → top1 {g0}, top2 {g0, g3}
    # day 1 order:          g3, g2, g1, g0 → top1 {g3}, top2 {g3, g2}
    score = [[4, 1, 2, 3], [1, 2, 3, 4]]
    count = [[1, 0, 2, 0], [0, 1, 0, 3]]
    prob = [[0.8, 0.2, 0.6, 0.4], [0.2, 0.6, 0.4, 0.8]]
    expected = [[0.1, 0.2, 3.0, 0.3], [0.1, 0.2, 0.3, 3.0]]  # the oracle's top 1: g2, then g3
    out = segment_metrics(
        score, count, ["a", "a", "b", "b"], prob=prob, area=[1, 1, 2, 2],
        expected=expected, ks=(25, 50),
    )  # fmt: skip
    a, b = out["a"], out["b"]
    # a: events 1 (d0 g0) + 1 (d1 g1) = 2 in 4 rows, 2 with an event
    assert (a["rows"], a["events"], a["base_rate"]) == (4, 2.0, 0.5)
    # top1 and top2 both hold g0 on day 0 only: flagged 1 of 4 rows, caught 1 of 2 events;
    # area flagged 1 of 2 days × 2 → 1/4, pai (1/2)/(1/4) = 2; pei: day 0 one grid flagged,
    # the best one a-grid catches is 1 → 1/1
    for k in (25, 50):
        assert (a[f"flag_rate@{k}"], a[f"hit_rate@{k}"], a[f"pai@{k}"], a[f"pei@{k}"]) == (
            0.25,
            0.5,
            2.0,
            1.0,
        )
    # b: events 2 (d0 g2) + 3 (d1 g3) = 5; top1: d1 g3 → flagged 1/4, hit 3/5, area 2/(2·4),
    # pai 0.6/0.25 = 2.4, pei 3/3. top2: d0 g3 (0 events) and d1 g3, g2 → flagged 3/4, caught
    # 3, hit 3/5; area (2 + 4)/8 = 0.75 → pai 0.8; pei: the best 1 b-grid on d0 catches 2, the
    # best 2 on d1 catch 3 → 3/5
    assert (b["flag_rate@25"], b["hit_rate@25"], b["pei@25"]) == (0.25, 0.6, 1.0)
    assert b["pai@25"] == pytest.approx(2.4)
    assert (b["flag_rate@50"], b["hit_rate@50"], b["pei@50"]) == (0.75, 0.6, 0.6)
    assert b["pai@50"] == pytest.approx(0.8)
    # truly high-risk: d0 g2 (count 2), d1 g3 (count 3), both b; the top1 catches d1 g3 only
    assert math.isnan(a["miss_rate@10"]) and b["miss_rate@10"] == 0.5
    assert math.isnan(a["miss_rate_true@10"]) and b["miss_rate_true@10"] == 0.5
    # a's rows (score, label): (4, 1), (1, 0), (1, 0), (2, 1) → the two positives lead: AP 1
    assert (a["pr_auc"], a["roc_auc"]) == (1.0, 1.0)
    # b's rows: (2, 1), (3, 0), (3, 0), (4, 1): precision 1/1 at 4, then 2/4 at 2 → AP 0.75;
    # the positive 4 beats both 3s, the positive 2 neither → AUC 2/4
    assert (b["pr_auc"], b["roc_auc"]) == (0.75, 0.5)
    # calibration: a's (p, y) (0.8, 1), (0.2, 0), (0.2, 0), (0.6, 1) → brier (3·0.04 + 0.16)/4;
    # 4 rows, 15 bins → one row per bin: ECE = mean |p − y| = (0.2 + 0.2 + 0.2 + 0.4)/4
    assert a["brier"] == pytest.approx(0.07) and a["ece"] == pytest.approx(0.25)
    # b's (0.6, 1), (0.4, 0), (0.4, 0), (0.8, 1): brier (3·0.16 + 0.04)/4, ECE 1.4/4
    assert b["brier"] == pytest.approx(0.13) and b["ece"] == pytest.approx(0.35)
    assert a["log_loss"] == pytest.approx(-(math.log(0.8) + 2 * math.log(0.8) + math.log(0.6)) / 4)


def test_segments_of_evaluate_partition_the_city_wide_numbers():
    rng = np.random.default_rng(5)
    count = rng.poisson(0.4, (6, 30)).astype(float)
    score = count + rng.random((6, 30))
    labels = np.array(["x", "y", "z"] * 10)
    out = evaluate(score, count, prob=np.clip(score / 5, 0, 1), segments={"floating": labels})
    seg = out["by_floating"]
    assert sum(s["rows"] for s in seg.values()) == count.size
    assert sum(s["events"] for s in seg.values()) == count.sum()
    # the segments' flagged shares, weighted by rows, add up to the city-wide K / n = 3/30
    assert sum(s["flag_rate@10"] * s["rows"] for s in seg.values()) == pytest.approx(6 * 3)
    # and their caught events to the city-wide hit rate's numerator
    caught = sum(s["hit_rate@10"] * s["events"] for s in seg.values())
    assert caught == pytest.approx(out["hit_rate@10"] * count.sum())


def test_one_segment_holding_every_grid_has_the_city_wide_metrics():
    rng = np.random.default_rng(11)
    count = rng.poisson(0.5, (7, 40)).astype(float)
    score = np.round(count + rng.random((7, 40)), 1)  # rounded: ties in score and prob
    prob = np.clip(score / 4, 0, 1)
    out = evaluate(score, count, prob=prob, expected=score + 0.05,
                   area=rng.uniform(0.5, 2, 40), segments={"all": ["city"] * 40})  # fmt: skip
    city = out["by_all"]["city"]
    for key, value in out.items():
        if not key.startswith("by_"):
            assert city[key] == pytest.approx(value, nan_ok=True), key
    # the overall numbers themselves are those of the single-metric functions
    assert out["ece"] == ece(prob, count) and out["pr_auc"] == pr_auc(score, count)
    assert city["flag_rate@10"] == pytest.approx(4 / 40)  # K = ceil(0.1 · 40) = 4


def test_per_issue_time_hit_rate_is_nan_on_event_free_days():
    # day 0: 2/3; day 1: no events; day 2: 1/4
    daily = per_issue_time(SCORE, COUNT, ks=(25,))
    assert daily["hit_rate@25"][[0, 2]] == pytest.approx([2 / 3, 1 / 4])
    assert math.isnan(daily["hit_rate@25"][1])
    assert daily["pai@25"][0] == pytest.approx(8 / 3)  # (2/3) / (1/4)


def test_bootstrap_of_a_constant_difference_has_a_point_interval():
    a = np.array([0.5, 0.6, 0.7])
    out = paired_bootstrap_difference(a, a - 0.1, n_boot=200)
    assert out["mean_diff"] == pytest.approx(0.1)
    assert (out["low"], out["high"]) == pytest.approx((0.1, 0.1))
    assert out["n_days"] == 3


def test_bootstrap_drops_nan_days_and_spans_the_resampled_means():
    # single days: differences [0, 1] after dropping the NaN day; resampled means ∈ {0, 0.5,
    # 1} with probabilities 1/4, 1/2, 1/4 → the 5% and 95% quantiles are 0 and 1.
    out = paired_bootstrap_difference([0.0, 1.0, np.nan], [0.0, 0.0, 0.3], block_days=1)
    assert (out["mean_diff"], out["low"], out["high"], out["n_days"]) == (0.5, 0.0, 1.0, 2)
    # a block as long as the data always redraws the same two days: a point interval
    out = paired_bootstrap_difference([0.0, 1.0, np.nan], [0.0, 0.0, 0.3], block_days=7)
    assert (out["low"], out["high"], out["block_days"]) == (0.5, 0.5, 2)


def test_block_bootstrap_widens_the_interval_of_correlated_days():
    # 12 weeks whose daily differences move together within a week (+1 all week, then -1):
    # the days are 84 but the independent pieces only 12, so day resampling is overconfident.
    d = np.repeat(np.tile([1.0, -1.0], 6), 7)
    days = paired_bootstrap_difference(d, np.zeros_like(d), block_days=1)
    weeks = paired_bootstrap_difference(d, np.zeros_like(d), block_days=7)
    assert days["mean_diff"] == weeks["mean_diff"] == 0.0
    # sd of a mean of 84 iid ±1 days: 1/sqrt(84) = 0.11 -> a 90 % interval ~0.36 wide; moving
    # 7-day blocks mostly straddle two weeks, so they keep part of the dependence: ~0.57
    assert days["high"] - days["low"] == pytest.approx(0.36, abs=0.06)
    assert weeks["high"] - weeks["low"] > 1.4 * (days["high"] - days["low"])


def test_json_ready_turns_nan_into_null():
    out = json_ready({"a": math.nan, "b": [np.float64(1.5), np.nan], "c": np.int64(3)})
    assert out == {"a": None, "b": [1.5, None], "c": 3}
    assert json.dumps(json_ready(evaluate(SCORE, np.zeros_like(COUNT))), allow_nan=False)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="differs from count"):
        hit_rate_at(np.zeros((2, 3)), np.zeros((2, 4)), 10)
    with pytest.raises(ValueError, match="NaN"):
        hit_rate_at([[np.nan, 1.0]], [[0.0, 1.0]], 10)


def test_by_segment_calibration_uses_only_the_segment_rows():
    # grids [a, a, b, b], labels [1, 0, 0, 1], prob [0.9, 0.1, 0.6, 0.2]
    # a: brier (0.1² + 0.1²)/2 = 0.01; b: (0.6² + 0.8²)/2 = 0.5
    # b ECE with 15 bins → 2 rows, one per bin: (|0.2 − 1| + |0.6 − 0|)/2 = 0.7
    out = evaluate(
        [[4, 3, 2, 1]],
        [[1, 0, 0, 1]],
        prob=[[0.9, 0.1, 0.6, 0.2]],
        segments={"grid_type": ["a", "a", "b", "b"]},
    )
    seg = out["by_segment"]
    assert seg["a"]["brier"] == pytest.approx(0.01)
    assert seg["b"]["brier"] == pytest.approx(0.5)
    assert seg["b"]["ece"] == pytest.approx(0.7)


def test_paired_to_baselines_by_hand():
    # 2 days x 4 grids, k = 5 % -> the top 1 grid. "a" puts each day's only event grid first,
    # "b" last: pr_auc 1 vs 1/4 (the positive at rank 4), pei@5 1 vs 0, on both days.
    count = np.array([[2, 0, 0, 0], [0, 1, 0, 0]], dtype=float)
    a = count * 10 + np.array([0.4, 0.3, 0.2, 0.1])
    scores = {"a": a, "b": -a, "oracle": a}
    out = paired_to_baselines(scores, count, "a", block_days=7, n_boot=50)
    assert set(out) == {"pr_auc", "pei@5"}
    assert set(out["pr_auc"]) == {"b"}  # the oracle is not a baseline
    pr, pei = out["pr_auc"]["b"], out["pei@5"]["b"]
    assert (pr["mean_diff"], pr["low"], pr["high"], pr["n_days"]) == (0.75, 0.75, 0.75, 2)
    assert (pei["mean_diff"], pei["low"], pei["high"]) == (1.0, 1.0, 1.0)
    assert pr["block_days"] == 2  # a block never longer than the days there are
    assert paired_to_baselines({"b": a}, count, "a") == {}
