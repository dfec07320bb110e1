"""The rules of what grid workers report (risk.field_reports): categories, times, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from risk.errors import ContractError
from risk.field_reports import (
    check_category,
    event_time,
    finding_category,
    patrol_event_id,
    reportable_categories,
    worker_event_id,
)

SIX = ("dispute", "theft", "fire_hazard", "safety_hazard", "fraud", "petition")
NOW = datetime(2024, 5, 1, 1, tzinfo=UTC)


def test_the_usual_six_then_the_forecasts_own_categories_then_other():
    assert reportable_categories() == (*SIX, "other")
    # Chicago's targets: any is no category, theft is one of the six already
    targets = ["any", "theft", "Criminal Damage", "battery", "other"]
    assert reportable_categories(targets) == (*SIX, "battery", "criminal_damage", "other")


def test_a_category_is_normalised_and_must_be_offered():
    allowed = reportable_categories()
    assert check_category("  Fire Hazard ", allowed) == "fire_hazard"
    with pytest.raises(ContractError, match="choose one of dispute, theft") as err:
        check_category("weather", allowed)
    assert err.value.field == "category"
    with pytest.raises(ContractError):
        check_category("any", allowed)


def test_event_time_within_the_clock_skew_and_30_days():
    assert event_time(NOW - timedelta(days=29), NOW) == NOW - timedelta(days=29)
    assert event_time(NOW + timedelta(minutes=4), NOW) == NOW  # a phone's clock ahead: now
    for at, words in ((NOW + timedelta(minutes=6), "after now"),
                      (NOW - timedelta(days=31), "more than 30 days")):  # fmt: skip
        with pytest.raises(ContractError, match=words) as err:
            event_time(at, NOW)
        assert err.value.field == "occurred_at"


def test_the_category_of_a_found_issue():
    allowed = reportable_categories()
    warnings = [("any", "red", 0.9), ("dispute", "orange", 0.3), ("theft", "orange", 0.4)]
    # the worker's pick wins; else the lead category warning (orange 0.4 theft over orange
    # 0.3 dispute; the red `any` is no category); else other
    assert finding_category("Petition", warnings, allowed) == "petition"
    assert finding_category(None, warnings, allowed) == "theft"
    assert finding_category(" ", [("dispute", "yellow", 0.2), ("fraud", "red", 0.1)],
                            allowed) == "fraud"  # fmt: skip
    assert finding_category(None, [("any", "red", 0.9)], allowed) == "other"
    assert finding_category(None, [], allowed) == "other"
    with pytest.raises(ContractError):
        finding_category("weather", warnings, allowed)


def test_ids_name_the_source_and_stay_within_the_store():
    assert worker_event_id("3f2a") == "grid_worker:3f2a"
    assert patrol_event_id("3f2a") == "patrol:3f2a"
    long = "x" * 200
    assert worker_event_id(long) == worker_event_id(long)  # the same on every retry
    assert worker_event_id(long).startswith("grid_worker:h") and len(worker_event_id(long)) == 53
    assert worker_event_id(long) != worker_event_id(long[:-1] + "y")
