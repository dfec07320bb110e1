"""The pieces that let the daily scoring run per partition (issue 18): the city's medians
computed once, and the partitions' results put back in row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.explain import city_medians
from models.predict_explain import Explained, join


def test_city_medians_are_per_column_over_the_whole_frame():
    t = pd.Timestamp("2025-01-01 08:00", tz="Asia/Shanghai")
    frame = pd.DataFrame(
        {
            "grid_id": ["a", "b", "c", "d"],
            "issue_time": [t] * 4,
            "events_7d_any": np.array([1, 5, np.nan, 2], dtype=np.float32),  # median of 1, 2, 5
            "grid_type": pd.Categorical(["x", "y", "x", "x"]),
        }
    )
    medians = city_medians(frame)
    assert medians["events_7d_any"] == 2.0
    assert np.isnan(medians["grid_type"]) and np.isnan(medians["grid_id"])


def test_city_medians_refuse_a_frame_of_two_issue_times():
    frame = pd.DataFrame(
        {"grid_id": ["a", "a"], "issue_time": pd.to_datetime(["2025-01-01", "2025-01-02"])}
    )
    with pytest.raises(ValueError, match="one issue time"):
        city_medians(frame)


def part(probs: list[float], reasons: list[list[dict]], error: float) -> Explained:
    p = np.array(probs)
    return Explained(
        {"any": p}, {"any": 2 * p}, {"any": reasons}, error, {"predict": 1.0, "explain": 2.0}
    )


def test_join_puts_partition_rows_back_in_frame_order():
    # rows 0 and 3 on one worker, rows 1, 2 and 4 on the other
    first = part([0.0, 0.3], [[{"rank": 1}], []], 1e-9)
    second = part([0.1, 0.2, 0.4], [[], [{"rank": 2}], []], 3e-9)
    joined = join([first, second], [np.array([0, 3]), np.array([1, 2, 4])], 5)
    assert joined.probs["any"].tolist() == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert joined.counts["any"].tolist() == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert joined.reasons["any"] == [[{"rank": 1}], [], [{"rank": 2}], [], []]
    assert joined.max_additivity_error == 3e-9
    assert joined.seconds == {"predict": 2.0, "explain": 4.0}
