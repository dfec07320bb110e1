"""Security probes run against a live service, on SQLite and on PostgreSQL.

* ``backend`` — "sqlite" or "postgresql" (each test that uses it runs once per backend; the
  PostgreSQL run fails in CI and skips locally without ``RISK_TEST_DATABASE_URL``).
* ``live`` (module) — a fresh database on ``backend`` seeded with `tests.serve.api_seed.seed`
  (every user's password is `PASSWORD`, tokens in ``live.seed.tokens``), served by uvicorn
  in a background thread on a free 127.0.0.1 port, clock fixed at `api_seed.NOW`. Yields a
  `Live` (``url``, ``db_url``, ``seed``, ``data_dir``). A module that needs other settings
  overrides ``live_settings`` (keyword arguments for `Settings`).
* `self_signed(folder)` — a certificate and key for TLS tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from risk.settings import Settings
from serve.app import create_app
from serve.db import upgrade
from tests.serve.api_seed import NOW, Seed, seed
from tests.serve.conftest import BACKENDS, _fresh
from tests.serve.web.conftest import served


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@dataclass
class Live:
    url: str
    db_url: str
    seed: Seed
    data_dir: Path

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.seed.tokens[user]}"}


@pytest.fixture(scope="module")
def live_settings() -> dict[str, Any]:
    """Extra `Settings` for the live service; override in a module."""
    return {}


@pytest.fixture(scope="module")
def live(request, backend: str, tmp_path_factory, live_settings) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("security")
    for url in _fresh(request, backend, folder):
        upgrade(url)
        out = seed(url, passwords=True)
        data_dir = folder / "data"
        data_dir.mkdir()
        settings = Settings(data_dir=data_dir, database_url=url, scheduler=False, **live_settings)
        with served(create_app(settings, clock=lambda: NOW), "security-live") as port:
            yield Live(f"http://127.0.0.1:{port}", url, out, data_dir)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost) and its key, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile
