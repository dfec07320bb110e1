"""Street and community outlines for the map: the grid polygons dissolved by community and
by street (`risk.geometry.dissolve`), computed once per set of grids and kept in memory.

The key is a digest of the grids given (ids, community, street and geometry text), so a
changed grid file, or another scope's subset of grids, is a different entry; nothing needs
invalidating. Only the grids in the caller's scope are dissolved: an outline never shows the
shape of grids the caller may not see.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import shapely

from risk.geometry import dissolve

CACHE_SIZE = 32
_cache: OrderedDict[str, dict[str, list[dict[str, Any]]]] = OrderedDict()
_lock = threading.Lock()


def _digest(grids: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for row in grids[["grid_id", "community_id", "street_id", "geometry"]].itertuples(index=False):
        h.update("\x1f".join("" if v is None else str(v) for v in row).encode())
        h.update(b"\x1e")
    return h.hexdigest()


def _features(shapes: dict[str, shapely.Geometry], props: dict[str, dict[str, Any]]):
    return [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": props[k]}
        for k, g in shapes.items()
    ]


def compute(grids: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """``{"streets": [...], "communities": [...]}`` GeoJSON features (properties street_id;
    community_id and street_id) from a grids frame whose ``geometry`` is GeoJSON text."""
    texts = np.asarray(grids["geometry"].to_numpy(dtype=object), dtype=object)
    texts = np.where([isinstance(t, str) and t != "" for t in texts], texts, None)
    geoms = shapely.from_geojson(texts, on_invalid="ignore") if len(texts) else texts
    streets = dissolve(geoms, grids["street_id"].astype(str).tolist())
    communities = dissolve(geoms, grids["community_id"].astype(str).tolist())
    street_of = dict(
        zip(grids["community_id"].astype(str), grids["street_id"].astype(str), strict=True)
    )
    return {
        "streets": _features(streets, {s: {"street_id": s} for s in streets}),
        "communities": _features(
            communities,
            {c: {"community_id": c, "street_id": street_of[c]} for c in communities},
        ),
    }


def outlines(grids: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """`compute`, cached by the digest of ``grids`` (the last `CACHE_SIZE` sets)."""
    key = _digest(grids)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    out = compute(grids)
    with _lock:
        _cache[key] = out
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return out


__all__ = ["compute", "outlines"]
