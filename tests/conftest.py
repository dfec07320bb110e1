"""Suite-wide fixtures. Services (PostgreSQL, browser) are optional locally and required in CI."""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Free text is sealed at rest with the `fields` key (serve.repo.sealing). One key for the whole
# run, so sessions of any test (the app's, the CLI's, a bare repository session) open each
# other's values and no test writes a key file into ./data; tests/security/test_encryption.py
# covers the key file of a data directory.
os.environ.setdefault("RISK_KEY_FIELDS", "5e" * 32)
# Audit entries are HMAC-signed with the `audit` key (serve.audit_chain): one key for the run,
# so entries a test seeds with a bare session and those the app appends form one chain;
# tests/security/test_audit_chain.py covers key files, retired keys and a wrong key.
os.environ.setdefault("RISK_KEY_AUDIT", "a7" * 32)


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


@pytest.fixture(scope="session")
def dask_client():
    """A 2-worker LocalCluster (one thread each) for the partitioned paths (issue 18); the
    `dask` extra is installed by `make install`, so in CI a missing one fails."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        need("dask", False, "pip install -e '.[dask]'")
    from risk.cluster import dask_client as open_client

    with open_client("local", n_workers=2, memory_limit="3GiB", dashboard_address=":0") as client:
        yield client
