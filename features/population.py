"""Population-type features of each grid, shape (1, G).

Absent input columns produce absent features — never zeros pretending to be data — and a
missing value (NaN) in an input stays NaN. Counts of vulnerable residents become rates per
1,000 residents, so grids of different size compare; a rate is NaN where the population is
0 or missing (there is no meaningful rate), likewise persons per household where households
are 0 or missing. Nothing here is about an individual: all inputs are grid-level counts.

* `population`, `households`, `elderly_share`, `floating_share`, `rental_share` — as given;
* `elderly_alone_per_1000` — elderly living alone per 1,000 residents (needs `elderly_alone`
  and `population`);
* `special_care_per_1000` — special-care residents per 1,000 (needs `special_care` and
  `population`);
* `persons_per_household` — population / households (needs both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.area import grid_values, per_grid
from features.base import BuildContext, FeatureBlock, FeatureInfo

FAMILY = "population"

# column -> (English label, Chinese label)
_AS_GIVEN = {
    "population": ("Residents: {value}", "常住人口：{value}人"),
    "households": ("Households: {value}", "户数：{value}户"),
    "elderly_share": ("Share of elderly residents: {value}", "老年人口占比：{value}"),
    "floating_share": ("Share of floating population: {value}", "流动人口占比：{value}"),
    "rental_share": ("Share of rented homes: {value}", "出租房屋占比：{value}"),
}
# feature -> (numerator column, denominator column, scale, English label, Chinese label)
_RATIOS = {
    "elderly_alone_per_1000": (
        "elderly_alone",
        "population",
        1000.0,
        "Elderly living alone per 1,000 residents: {value}",
        "每千名居民中独居老人数：{value}",
    ),
    "special_care_per_1000": (
        "special_care",
        "population",
        1000.0,
        "Special-care residents per 1,000 residents: {value}",
        "每千名居民中特殊关爱人员数：{value}",
    ),
    "persons_per_household": (
        "population",
        "households",
        1.0,
        "Persons per household: {value}",
        "户均人口：{value}",
    ),
}
# every feature this family can make, in the order it makes them
FEATURES = (*_AS_GIVEN, *_RATIOS)


def ratio(numerator: np.ndarray, denominator: np.ndarray, scale: float) -> np.ndarray:
    """`scale * numerator / denominator`, NaN where the denominator is 0 or NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, scale * numerator / denominator, np.nan)


def build(ctx: BuildContext) -> FeatureBlock:
    """The population columns present, and the rates they allow."""
    grids: pd.DataFrame = ctx.grids
    block = FeatureBlock()
    for column, (label_en, label_zh) in _AS_GIVEN.items():
        if column in grids:
            block.add(
                FeatureInfo(column, FAMILY, label_en, label_zh),
                per_grid(grid_values(grids, column)),
            )
    for name, (top, bottom, scale, label_en, label_zh) in _RATIOS.items():
        if top in grids and bottom in grids:
            values = ratio(grid_values(grids, top), grid_values(grids, bottom), scale)
            block.add(FeatureInfo(name, FAMILY, label_en, label_zh), per_grid(values))
    return block
