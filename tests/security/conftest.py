"""Security probes run against a live service, on SQLite and on PostgreSQL.

* ``backend`` — "sqlite" or "postgresql" (each test that uses it runs once per backend; the
  PostgreSQL run fails in CI and skips locally without ``RISK_TEST_DATABASE_URL``).
* ``live`` (module) — a fresh database on ``backend`` seeded with `tests.serve.api_seed.seed`
  (every user's password is `PASSWORD`, tokens in ``live.seed.tokens``), served by uvicorn
  in a background thread on a free 127.0.0.1 port, clock fixed at `api_seed.NOW`. Yields a
  `Live` (``url``, ``db_url``, ``seed``, ``data_dir``). A module that needs other settings
  overrides ``live_settings`` (keyword arguments for `Settings`).
"""

from __future__ import annotations

import threading
import time
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
from tests.serve.web.conftest import free_port


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
    import uvicorn

    folder = tmp_path_factory.mktemp("security")
    for url in _fresh(request, backend, folder):
        upgrade(url)
        out = seed(url, passwords=True)
        data_dir = folder / "data"
        data_dir.mkdir()
        settings = Settings(data_dir=data_dir, database_url=url, scheduler=False, **live_settings)
        app = create_app(settings, clock=lambda: NOW)
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="security-live", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start within 20 s")
            time.sleep(0.02)
        try:
            yield Live(f"http://127.0.0.1:{port}", url, out, data_dir)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
