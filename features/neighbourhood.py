"""Neighbourhood family: known history summed over the grids around each grid, per target.

Scopes: `nbr1` (ring-1 neighbours: polygons touching the grid), `nbr2` (exactly two steps
away), `community` and `street` (every grid of the grid's community / street, the grid itself
included). Per scope and target: `<scope>_events_<w>d_<t>` for w in 7, 28, 91 days and
`<scope>_decay_7d_<t>`; plus `community_share_91d_<t>`, the grid's share of its community's
known events over 91 days (NaN when the community has none).

Grids whose community (street) is `unassigned` get NaN community (street) features: a bag of
unassigned grids is not a community. A window the record does not cover (`t − w` before the
start of the record) is NaN, as in the history family. All sums are sparse matrix products on
(T, G) arrays.
Neighbour rings come from polygons (`risk.geometry.ring1_matrix`); with centroid-only grids
the ring depends on the grid spacing of the frame, so partitioned builds need polygons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.base import BuildContext, FeatureBlock, FeatureInfo
from features.binning import NS_PER_DAY, KnownCounter, context_events, decayed_counts, to_ns
from features.history import covered, resolve_history_start
from features.labels import days_en, target_en, target_zh
from risk.contract import UNASSIGNED
from risk.geometry import ring1_matrix, ring2_matrix

FAMILY = "neighbourhood"
WINDOWS_DAYS = (7, 28, 91)
HALF_LIFE_DAYS = 7.0
SHARE_WINDOW_DAYS = 91

_SCOPE_TEXT = {
    "nbr1": ("in the adjacent grids", "相邻网格"),
    "nbr2": ("in the grids two steps away", "二环网格"),
    "community": ("in the grid's community", "所在社区"),
    "street": ("in the grid's street", "所在街道"),
}


class Scope:
    """How to sum a (T, G) array over each grid's scope, and which grids the scope applies to.

    Either a symmetric sparse (G, G) neighbour matrix, or group codes (community, street):
    group sums are one sparse product to (T, groups) and a gather back to grids.
    """

    def __init__(
        self,
        applies: np.ndarray,
        matrix: sp.csr_matrix | None = None,
        codes: np.ndarray | None = None,
    ) -> None:
        self.applies = applies
        self.matrix = matrix
        self.codes = codes
        if codes is not None:
            rows = np.nonzero(applies)[0]
            n_groups = max(int(codes.max(initial=-1)) + 1, 1)
            self._member_t = sp.csr_matrix(
                (np.ones(len(rows)), (codes[rows], rows)), shape=(n_groups, len(codes))
            )

    def sum(self, values: np.ndarray) -> np.ndarray:
        """(T, G) -> (T, G): per grid, the sum of `values` over its scope; NaN where it does
        not apply."""
        columns = np.ascontiguousarray(values.T)
        if self.matrix is not None:
            summed = np.asarray(self.matrix @ columns).T
        else:
            summed = np.asarray(self._member_t @ columns).T[:, self.codes]
        summed = np.array(summed, dtype=np.float64, order="C")
        summed[:, ~self.applies] = np.nan
        return summed


def group_scope(keys: pd.Series) -> Scope:
    """Grids sharing a key (self included); `unassigned` grids are in no group."""
    values = keys.astype(str).to_numpy()
    codes, _ = pd.factorize(values)
    return Scope(applies=values != UNASSIGNED, codes=codes)


def scopes_of(grids: pd.DataFrame) -> dict[str, Scope]:
    everyone = np.ones(len(grids), dtype=bool)
    ring1 = ring1_matrix(grids)
    return {
        "nbr1": Scope(everyone, matrix=ring1),
        "nbr2": Scope(everyone, matrix=ring2_matrix(ring1)),
        "community": group_scope(grids["community_id"]),
        "street": group_scope(grids["street_id"]),
    }


def build(ctx: BuildContext, history_start: pd.Timestamp | str | None = None) -> FeatureBlock:
    queries = to_ns(ctx.issue_times)
    start = resolve_history_start(ctx.events, history_start)
    n_grids = len(ctx.grids)
    ev_all = context_events(ctx.events, ctx.grids["grid_id"])
    scopes = scopes_of(ctx.grids)
    block = FeatureBlock()
    f32 = np.float32
    for target in ctx.targets:
        en, zh = target_en(target), target_zh(target)
        ev = ev_all.for_target(target)
        counter = KnownCounter(ev, queries, n_grids)
        own = {w: counter.window(w) for w in WINDOWS_DAYS}
        decayed = decayed_counts(ev, queries, n_grids, HALF_LIFE_DAYS)
        community_share = None
        for scope, summer in scopes.items():
            where_en, where_zh = _SCOPE_TEXT[scope]
            for w in WINDOWS_DAYS:
                summed = summer.sum(own[w])
                if scope == "community" and w == SHARE_WINDOW_DAYS:
                    community_share = summed
                block.add(
                    FeatureInfo(
                        f"{scope}_events_{w}d_{target}",
                        FAMILY,
                        f"{{value}} {en} {where_en} in the last {days_en(w)}",
                        f"近{w}天{where_zh}{zh}事件{{value}}起",
                    ),
                    covered(summed, queries, w * NS_PER_DAY, start),
                )
            block.add(
                FeatureInfo(
                    f"{scope}_decay_{HALF_LIFE_DAYS:g}d_{target}",
                    FAMILY,
                    f"recency-weighted count of {en} {where_en} "
                    f"(half-life {HALF_LIFE_DAYS:g} days): {{value}}",
                    f"{where_zh}{zh}事件近期加权数(半衰期{HALF_LIFE_DAYS:g}天):{{value}}",
                ),
                summer.sum(decayed).astype(f32),
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(community_share > 0, own[SHARE_WINDOW_DAYS] / community_share, np.nan)
        block.add(
            FeatureInfo(
                f"community_share_{SHARE_WINDOW_DAYS}d_{target}",
                FAMILY,
                f"the grid holds {{value}} of its community's {en} "
                f"of the last {SHARE_WINDOW_DAYS} days",
                f"近{SHARE_WINDOW_DAYS}天本网格占所在社区{zh}事件的{{value}}",
            ),
            share.astype(f32),
        )
    return block
