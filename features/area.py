"""Area features of each grid: its type, size, population density and any `attr_*` column.

Per grid, shape (1, G), except `grid_type`, a `pandas.Categorical` of length G. Its
categories are the contract's grid types plus any other value present, sorted — so the
codes stay the same whichever subset of grids is built, as long as no new type appears.
A column missing from the grids frame yields no feature (never zeros); NaN stays NaN.

* `grid_type` — categorical;
* `area_km2` — area in km²;
* `density_per_km2` — population / area; only when `population` is present; NaN where the
  area is missing or not positive;
* `attr_*` — every further area attribute as is, as float32.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.base import BuildContext, FeatureBlock, FeatureInfo
from risk.contract import ATTR_PREFIX, GRID_TYPES
from risk.errors import ContractError

FAMILY = "area"
# The grids columns each area feature is made from (an `attr_*` feature: its own column).
SOURCE_COLUMNS = {
    "grid_type": ("grid_type",),
    "area_km2": ("area_km2",),
    "density_per_km2": ("population", "area_km2"),
}


def source_columns(feature: str) -> tuple[str, ...]:
    """The grids columns an area feature is made from; () for a feature of another family."""
    if feature.startswith(ATTR_PREFIX):
        return (feature,)
    return SOURCE_COLUMNS.get(feature, ())


def grid_values(grids: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric grids column as float64 with NaN for missing values (nullable dtypes too)."""
    try:
        numbers = pd.to_numeric(grids[column], errors="raise")
    except (TypeError, ValueError) as exc:
        raise ContractError(
            f"grid column must be numeric: {exc}",
            field=column,
            fix=f"give numbers in '{column}' (leave a cell empty when unknown) or drop the column",
        ) from exc
    return pd.Series(numbers).to_numpy(dtype=np.float64, na_value=np.nan)


def per_grid(values: np.ndarray) -> np.ndarray:
    """Shape a length-G vector as the (1, G) float32 block the orchestrator broadcasts."""
    return np.asarray(values, dtype=np.float32).reshape(1, -1)


def grid_type_categorical(grids: pd.DataFrame) -> pd.Categorical:
    """`grid_type` with stable, sorted categories (contract types plus any others present)."""
    values = grids["grid_type"].astype("string")
    present = set(values.dropna().unique())
    categories = sorted(set(GRID_TYPES) | present)
    return pd.Categorical(values.to_numpy(dtype=object, na_value=None), categories=categories)


def build(ctx: BuildContext) -> FeatureBlock:
    """Grid type, area, density and `attr_*` columns of every grid in build order."""
    grids = ctx.grids
    block = FeatureBlock()
    if "grid_type" in grids:
        block.add(
            FeatureInfo("grid_type", FAMILY, "Grid type: {value}", "网格类型：{value}"),
            grid_type_categorical(grids),
        )
    if "area_km2" in grids:
        area = grid_values(grids, "area_km2")
        block.add(
            FeatureInfo("area_km2", FAMILY, "Area: {value} km²", "面积：{value}平方公里"),
            per_grid(area),
        )
        if "population" in grids:
            population = grid_values(grids, "population")
            with np.errstate(divide="ignore", invalid="ignore"):
                density = np.where(area > 0, population / area, np.nan)
            block.add(
                FeatureInfo(
                    "density_per_km2",
                    FAMILY,
                    "Population density: {value} residents per km²",
                    "人口密度：每平方公里{value}人",
                ),
                per_grid(density),
            )
    for column in grids.columns:
        if isinstance(column, str) and column.startswith(ATTR_PREFIX):
            attribute = column.removeprefix(ATTR_PREFIX)
            block.add(
                FeatureInfo(
                    column,
                    FAMILY,
                    f"Area attribute '{attribute}': {{value}}",
                    f"区域属性“{attribute}”：{{value}}",
                ),
                per_grid(grid_values(grids, column)),
            )
    return block
