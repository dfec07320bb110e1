"""The grids the service knows (for scope and street/community filters, and the map)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from risk.errors import ContractError
from serve.tables import GridRow

GRIDS = GridRow.__table__
COLUMNS = ("grid_id", "community_id", "street_id", "grid_type", "centroid_lon", "centroid_lat")


def _geojson(values: pd.Series) -> list[str | None]:
    """Shapely geometries → GeoJSON text; strings are taken as GeoJSON already."""
    out: list[str | None] = [None] * len(values)
    arr = values.to_numpy(dtype=object)
    is_geom = np.array([isinstance(v, shapely.Geometry) for v in arr], dtype=bool)
    if is_geom.any():
        for i, text in zip(np.flatnonzero(is_geom), shapely.to_geojson(arr[is_geom]), strict=True):
            out[i] = str(text)
    for i in np.flatnonzero(~is_geom):
        out[i] = arr[i] if isinstance(arr[i], str) else None
    return out


def upsert_grids(session: Session, grids: pd.DataFrame) -> int:
    """Store a validated grids frame (risk.contract GRID_COLUMNS), replacing rows with the
    same grid ids. Returns the number of grids written."""
    missing = [c for c in ("grid_id", "community_id", "street_id") if c not in grids.columns]
    if missing:
        raise ContractError(
            "grids frame lacks a column",
            field=missing[0],
            fix="pass the frame risk validation returns",
        )
    frame = pd.DataFrame(
        {c: grids[c] if c in grids.columns else None for c in COLUMNS}, index=grids.index
    )
    frame["geometry"] = _geojson(grids["geometry"]) if "geometry" in grids.columns else None
    rows: list[dict[str, Any]] = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        for key in ("grid_id", "community_id", "street_id"):
            row[key] = str(row[key])
    ids = [row["grid_id"] for row in rows]
    session.execute(delete(GRIDS).where(GRIDS.c.grid_id.in_(ids)))
    if rows:
        session.execute(insert(GRIDS), rows)
    return len(rows)


def load_grids(session: Session) -> pd.DataFrame:
    """Every stored grid, by grid id; ``geometry`` stays GeoJSON text."""
    rows = session.execute(select(GRIDS).order_by(GRIDS.c.grid_id)).all()
    columns = [*COLUMNS, "geometry"]
    return pd.DataFrame([tuple(getattr(r, c) for c in columns) for r in rows], columns=columns)


def load_places(session: Session) -> pd.DataFrame:
    """Every stored grid's id, community and street (no geometry), by grid id."""
    columns = ("grid_id", "community_id", "street_id")
    rows = session.execute(select(*(GRIDS.c[c] for c in columns)).order_by(GRIDS.c.grid_id)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def get_grid(session: Session, grid_id: str) -> dict[str, Any] | None:
    """One grid's row (without geometry) as a dict, or None if it is not stored."""
    row = session.execute(
        select(*(GRIDS.c[c] for c in COLUMNS)).where(GRIDS.c.grid_id == grid_id)
    ).first()
    return None if row is None else dict(row._mapping)


__all__ = ["get_grid", "load_grids", "load_places", "upsert_grids"]
