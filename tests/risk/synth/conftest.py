"""Small synthetic cities shared by the synth tests (built once per session)."""

from __future__ import annotations

import pytest

from risk.synth import SynthCity, synthesise


@pytest.fixture(scope="session")
def spring_city() -> SynthCity:
    """1,000 grids over Jan–mid-March 2024: Spring Festival (days off 02-10..02-17) inside."""
    return synthesise(1000, 75, seed=0)


@pytest.fixture(scope="session")
def small_city() -> SynthCity:
    """400 grids × 150 days, for oracle and file tests."""
    return synthesise(400, 150, seed=3)
