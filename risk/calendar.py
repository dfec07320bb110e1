"""Official holidays and working days per date, for China (default) and other countries.

China: `chinese_calendar` knows official holidays and adjusted working days (调休) only for the
years it ships (up to 2026 in 1.11). Beyond those years we fall back to the `holidays`
package's estimate of the statutory holidays — which knows no adjusted working days — and
warn; a user override table (`date,is_workday[,holiday_name]`) fixes any day.
Other countries (`US`, `GB`, …) come from `holidays`; weekends are days off.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from pathlib import Path

import holidays as holidays_pkg
import numpy as np
import pandas as pd

from risk.errors import ConfigError, ContractError

DAY_COLUMNS = ("is_holiday", "is_workday", "is_adjusted_workday", "holiday_name", "source")


class CalendarFallbackWarning(UserWarning):
    """Some dates were beyond the official calendar and were estimated."""


@lru_cache(maxsize=1)
def _chinese_calendar_years() -> tuple[int, int]:
    import chinese_calendar.constants as cc_constants

    years = [d.year for d in cc_constants.holidays]
    return min(years), max(years)


def _cn_official(day: dt.date) -> tuple[bool, bool, str | None]:
    import chinese_calendar as cc

    on_holiday, name = cc.get_holiday_detail(day)
    workday = cc.is_workday(day)
    return (bool(on_holiday and name is not None), bool(workday), name)


def day_table(
    start: dt.date | str,
    end: dt.date | str,
    country: str = "CN",
    overrides: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per calendar date in `[start, end]`, indexed by a naive daily `DatetimeIndex`.

    Columns: `is_holiday` (an official day off for a named holiday), `is_workday`,
    `is_adjusted_workday` (a weekend day made a working day), `holiday_name`, and `source`
    (`chinese_calendar`, `holidays`, `holidays_estimate` or `override`).
    """
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    country = country.upper()
    try:
        country_days = holidays_pkg.country_holidays(
            country, years=range(days[0].year, days[-1].year + 1)
        )
    except NotImplementedError as exc:
        raise ConfigError(
            f"calendar country {country!r} is not known; use an ISO code such as CN, US, GB"
        ) from exc

    is_holiday = np.zeros(len(days), dtype=bool)
    is_workday = np.zeros(len(days), dtype=bool)
    names: list[str | None] = [None] * len(days)
    source = np.empty(len(days), dtype=object)
    first_cc, last_cc = _chinese_calendar_years() if country == "CN" else (0, -1)
    estimated_years: set[int] = set()

    for i, ts in enumerate(days):  # one iteration per calendar day, never per grid
        day = ts.date()
        if country == "CN" and first_cc <= day.year <= last_cc:
            is_holiday[i], is_workday[i], names[i] = _cn_official(day)
            source[i] = "chinese_calendar"
            continue
        name = country_days.get(day)
        is_holiday[i] = name is not None
        is_workday[i] = day.weekday() < 5 and name is None
        names[i] = name
        if country == "CN":
            source[i] = "holidays_estimate"
            estimated_years.add(day.year)
        else:
            source[i] = "holidays"

    table = pd.DataFrame(
        {
            "is_holiday": is_holiday,
            "is_workday": is_workday,
            "is_adjusted_workday": is_workday & (days.day_of_week >= 5),
            "holiday_name": pd.array(names, dtype="string"),
            "source": source.astype(str),
        },
        index=days,
    )
    if overrides is not None and len(overrides):
        table = _apply_overrides(table, overrides)
        estimated_years -= set(pd.to_datetime(overrides["date"]).dt.year)
    if estimated_years:
        warnings.warn(
            f"chinese_calendar has no official holidays for {sorted(estimated_years)}; "
            "using the `holidays` package's estimate without adjusted working days. "
            "Supply an override table (date,is_workday[,holiday_name]) once the State "
            "Council publishes the schedule.",
            CalendarFallbackWarning,
            stacklevel=2,
        )
    return table


def _apply_overrides(table: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    dates = pd.to_datetime(overrides["date"]).dt.normalize()
    workday = overrides["is_workday"].astype(bool).to_numpy()
    name = (
        overrides["holiday_name"].astype("string")
        if "holiday_name" in overrides
        else pd.Series(pd.NA, index=overrides.index, dtype="string")
    )
    inside = dates.isin(table.index).to_numpy()
    for d, w, n in zip(dates[inside], workday[inside], name[inside], strict=True):
        table.loc[d, "is_workday"] = w
        table.loc[d, "is_holiday"] = (not w) and pd.notna(n)
        table.loc[d, "holiday_name"] = n if not w else pd.NA
        table.loc[d, "is_adjusted_workday"] = w and d.day_of_week >= 5
        table.loc[d, "source"] = "override"
    return table


def read_overrides(path: str | Path) -> pd.DataFrame:
    """Read a user override table: CSV with `date`, `is_workday` and optional `holiday_name`."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ContractError(
            f"cannot read the calendar override table: {exc}",
            file=str(path),
            fix="give a CSV with columns date,is_workday[,holiday_name]",
        ) from exc
    for column in ("date", "is_workday"):
        if column not in frame:
            raise ContractError(
                "required column is missing",
                file=str(path),
                field=column,
                fix="give a CSV with columns date,is_workday[,holiday_name]",
            )
    return frame
