"""Where each event's grid sits among the grids: one lookup shared by the features and the
baselines, which do it at every retrain.

`pandas.Index.get_indexer` on text copies every value out of Arrow into Python strings first;
Arrow's own `index_in` answers the same question on the Arrow buffers, several times faster
(docs/adr/012-training-cost.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def positions(values: pd.Series | np.ndarray, ids: pd.Index) -> np.ndarray:
    """(N,) int64 position of each value (as text) in `ids`; -1 where it is not there or
    missing. As `ids.get_indexer(values.astype(str))`, which it falls back to (and so raises
    the same way) when `ids` are not unique text."""
    text = pd.Series(values, copy=False).astype(str)
    if not ids.is_unique or not (len(ids) == 0 or pd.api.types.is_string_dtype(ids.dtype)):
        return ids.get_indexer(text)
    try:
        found = pc.index_in(
            pa.array(text, type=pa.large_string()),
            value_set=pa.array(ids.to_numpy(dtype=object), type=pa.large_string()),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return ids.get_indexer(text)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
