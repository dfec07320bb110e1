"""risk.lookup.positions: the grid lookup of the features and baselines."""

import numpy as np
import pandas as pd
import pytest

from risk.lookup import positions


def test_positions_of_text_ids_with_unknown_and_missing_values():
    ids = pd.Index(["g1", "g2", "g3"])
    got = positions(pd.Series(["g3", "gx", None, "g1", "g3"]), ids)
    assert got.dtype == np.int64
    assert got.tolist() == [2, -1, -1, 0, 2]


def test_positions_read_numbers_and_categories_as_text():
    ids = pd.Index(["1", "2"])
    assert positions(pd.Series([2, 1, 3]), ids).tolist() == [1, 0, -1]
    assert positions(pd.Series(["2", "1"], dtype="category"), ids).tolist() == [1, 0]
    assert positions(np.array(["1"], dtype=object), ids).tolist() == [0]


def test_positions_of_nothing_and_in_nothing():
    assert positions(pd.Series([], dtype=str), pd.Index(["a"])).tolist() == []
    assert positions(pd.Series(["a"]), pd.Index([], dtype=str)).tolist() == [-1]


def test_positions_falls_back_to_pandas_for_ids_that_are_not_text_or_not_unique():
    assert positions(pd.Series(["1", "2"]), pd.Index([1, 2])).tolist() == [-1, -1]
    with pytest.raises(pd.errors.InvalidIndexError):
        positions(pd.Series(["a"]), pd.Index(["a", "a"]))
