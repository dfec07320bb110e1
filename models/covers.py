"""Honest SHAP references: recount a LightGBM model's node covers on a reference sample.

TreeSHAP (`pred_contrib`) takes each tree's expected value and its conditional expectations
from the node "covers" — how many training rows reached each node. When the training rows
were down-sampled (negatives kept at a rate, weighted back), or bagged, those counts describe
the sampled rows, not the population the model forecasts for: with negatives kept at 25 %,
the base log-odds behind every explanation comes out as if events were four times as common
(−1.37 instead of −1.92 in the test's toy case). `recount_covers` replaces the counts with
those of a plain, unweighted reference sample (rows as they occur), so the base value is the
mean raw score over that sample and every contribution is measured from it. Predictions are
unchanged: covers take no part in them.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

_END = "end of trees"


def _counts(left: np.ndarray, right: np.ndarray, leaf_count: np.ndarray) -> np.ndarray:
    """Internal node counts from the leaf counts: children are numbered after their parent,
    so one pass from the last internal node back to the root sums them."""
    internal = np.zeros(len(left), dtype=np.int64)

    def of(child: int) -> int:
        return int(leaf_count[~child]) if child < 0 else int(internal[child])

    for node in range(len(left) - 1, -1, -1):
        internal[node] = of(int(left[node])) + of(int(right[node]))
    return internal


def recount_covers(booster: lgb.Booster, reference: pd.DataFrame | np.ndarray) -> lgb.Booster:
    """A copy of `booster` whose leaf and internal counts are those of `reference`."""
    leaves = np.asarray(booster.predict(reference, pred_leaf=True))
    if leaves.ndim == 1:
        leaves = leaves[:, None]
    text = booster.model_to_string()
    trees_part, _, tail = text.partition(_END)
    head, *trees = trees_part.split("\nTree=")
    # tree_sizes lists each tree's byte length; the counts change it, so let LightGBM re-read.
    head = "\n".join(line for line in head.split("\n") if not line.startswith("tree_sizes="))
    rebuilt = [head]
    for i, block in enumerate(trees):
        lines = block.split("\n")
        at = {line.split("=", 1)[0]: j for j, line in enumerate(lines) if "=" in line}
        n_leaves = int(lines[at["num_leaves"]].split("=", 1)[1])
        leaf_count = np.bincount(leaves[:, i], minlength=n_leaves).astype(np.int64)
        lines[at["leaf_count"]] = "leaf_count=" + " ".join(map(str, leaf_count))
        if n_leaves > 1:
            left = np.array(lines[at["left_child"]].split("=", 1)[1].split(), dtype=np.int64)
            right = np.array(lines[at["right_child"]].split("=", 1)[1].split(), dtype=np.int64)
            internal = _counts(left, right, leaf_count)
            lines[at["internal_count"]] = "internal_count=" + " ".join(map(str, internal))
        rebuilt.append("\n".join(lines))
    return lgb.Booster(model_str="\nTree=".join(rebuilt) + _END + tail)
