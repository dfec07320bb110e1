"""The halo of a partition: the grids a build needs besides its core to be exact.

Every feature of a core grid depends only on events of the core grid itself, its ring-1 and
ring-2 neighbours, and the grids of its community and its street (`unassigned` is not a
community, see `features.neighbourhood`). Building on core + halo and keeping the core rows
therefore equals the whole-city build restricted to the core — provided the grids have
polygons (centroid-only neighbour rings depend on the spacing of the frame) and the spec,
targets and `history_start` are the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from risk.contract import UNASSIGNED
from risk.errors import ContractError
from risk.geometry import ring1_matrix, ring2_matrix


def halo_grid_ids(grids: pd.DataFrame, core_ids: Iterable[str]) -> list[str]:
    """Grid ids outside `core_ids` that a core-only build needs, in `grids` order."""
    ids = grids["grid_id"].astype(str)
    core = ids.isin(pd.Index([str(g) for g in core_ids])).to_numpy()
    if not core.any():
        raise ContractError(
            "none of the core grid ids is in the grids frame",
            field="grid_id",
            fix="pass core ids taken from the grids file",
        )
    return ids[halo_rows(grids, [np.nonzero(core)[0]])[0]].tolist()


def halo_rows(grids: pd.DataFrame, cores: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The halo of each core (row positions in `grids`), sorted, from one neighbour matrix:
    many partitions of a large city cost one ring-1 / ring-2 computation, not one each."""
    ring1 = ring1_matrix(grids)
    reach = (ring1 + ring2_matrix(ring1)).tocsr()
    keys = {}  # column -> (code of each grid, code of `unassigned` or -1)
    for column in ("community_id", "street_id"):
        codes, uniques = pd.factorize(grids[column].astype(str))
        keys[column] = (codes, int(pd.Index(uniques).get_indexer([UNASSIGNED])[0]))
    halos = []
    for rows in cores:  # one sparse row-slice per partition
        rows = np.asarray(rows, dtype=np.int64)
        needed = np.asarray(reach[rows].sum(axis=0)).ravel() > 0
        for codes, unassigned in keys.values():
            wanted = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=bool)
            wanted[codes[rows]] = True
            if unassigned >= 0:
                wanted[unassigned] = False
            needed |= wanted[codes]
        needed[rows] = False
        halos.append(np.flatnonzero(needed))
    return halos
