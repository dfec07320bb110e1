"""benchmarks.bottom_up: the mix of `any`'s model with the sum of its categories', by hand."""

import pandas as pd
import pytest

from benchmarks.bottom_up import evaluate


def _rows(target, model, scores, counts):
    return [
        {
            "issue_time": pd.Timestamp("2025-01-01 08:00", tz="Asia/Shanghai"),
            "grid_id": g,
            "target": target,
            "model": model,
            "score": s,
            "label": int(c > 0),
            "count": c,
        }
        for g, s, c in zip(("g1", "g2", "g3"), scores, counts, strict=True)
    ]


def test_the_mix_ranks_by_the_categories_where_the_any_model_is_wrong():
    frame = pd.DataFrame(
        _rows("any", "lightgbm", (0.1, 0.5, 0.2), (1, 0, 0))
        + _rows("a", "lightgbm", (0.9, 0.1, 0.1), (1, 0, 0))
        + _rows("b", "lightgbm", (0.1, 0.1, 0.1), (0, 0, 0))
    )
    found = evaluate(frame)
    assert found["categories"] == ["a", "b"]
    assert found["any_is_the_sum_of_the_categories"] is True
    assert (found["issue_times"], found["grids"]) == (1, 3)
    # the any model ranks g1, the one grid with an event, last: AP 1/3, and the top grid
    # (5 % of 3 grids rounds up to one) holds none of it; the mix 0.55 / 0.35 / 0.2 ranks it first
    assert found["scores"]["w=0.0"]["pr_auc"] == pytest.approx(1 / 3)
    assert found["scores"]["w=0.0"]["pei@5"] == 0.0
    assert found["scores"]["w=0.5"]["pr_auc"] == pytest.approx(1.0)
    assert found["scores"]["w=0.5"]["pei@5"] == 1.0
    assert "miss_rate_true@10" not in found["scores"]["w=0.5"]  # no oracle in the file


def test_a_category_outside_any_is_seen():
    frame = pd.DataFrame(
        _rows("any", "lightgbm", (0.1, 0.5, 0.2), (1, 0, 0))
        + _rows("a", "lightgbm", (0.9, 0.1, 0.1), (0, 0, 0))
    )
    assert evaluate(frame)["any_is_the_sum_of_the_categories"] is False
