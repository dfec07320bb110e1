"""Suite-wide fixtures. Services (PostgreSQL, browser) are optional locally and required in CI."""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def services_required() -> bool:
    """CI sets RISK_REQUIRE_SERVICES=1: a missing service is then a failure, not a skip."""
    return os.environ.get("RISK_REQUIRE_SERVICES") == "1"


def need(service: str, available: bool, how: str) -> None:
    if available:
        return
    message = f"{service} is not available ({how})"
    if services_required():
        pytest.fail(f"{message}; required because RISK_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a PostgreSQL database for storage tests (RISK_TEST_DATABASE_URL)."""
    url = os.environ.get("RISK_TEST_DATABASE_URL", "")
    need("PostgreSQL", bool(url), "set RISK_TEST_DATABASE_URL")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's chromium for browser tests."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    need("chromium", os.path.exists(path), "apt-get install -y chromium")
    return path
