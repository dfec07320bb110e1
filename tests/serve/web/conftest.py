"""Browser-test fixtures: Debian chromium through Playwright, and the app served live.

* ``browser`` (session) — headless chromium (`chromium_path` from tests/conftest.py: a skip
  locally when it is missing, a failure in CI). Never ``playwright install``.
* ``live_server`` (module) — a SQLite database seeded with `tests.serve.api_seed.seed`
  (every user's password is `PASSWORD`), each grid given a square polygon (`SQUARES`), served
  by uvicorn in a background thread on a free 127.0.0.1 port with the clock fixed at
  `api_seed.NOW`. Yields a `LiveServer` (``url``, ``seed``, ``data_dir``).
  A module that needs other data overrides ``live_data_dir`` (a model registry) or
  ``live_extra`` (a function of the database URL run after seeding, e.g. `add_history`).
* ``page`` — a fresh browser context and page (1280×900, Chinese by default).
  Test contexts bypass the Content-Security-Policy (`BYPASS_CSP`): Playwright's
  ``wait_for_function`` evaluates its expression with ``eval``, which the policy refuses.
  test_csp.py opens the pages under the policy.
* ``open_as(username, path)`` — a page already logged in (one session per user and module,
  through the login API) showing ``path``: quicker than the form.
* ``login(page, base_url, username)`` logs in through the form; ``shot(page, name)`` saves
  ``test-artifacts/screenshots/<name>.png``.

Mark browser tests ``@pytest.mark.browser`` (``pytestmark`` per module).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
import shapely

from risk.settings import Settings
from serve.app import create_app
from serve.db import make_engine, session_factory, transaction, upgrade
from serve.repo.activity import replace_event_counts
from serve.repo.grids import upsert_grids
from serve.repo.runs import RunInfo, store_run
from tests.serve.api_seed import GRIDS, NOW, PASSWORD, T0, Seed, seed

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HALF = 0.005  # half the side of each grid's square, degrees
BYPASS_CSP = {"bypass_csp": True}  # see the module docstring
PHONE_VIEWPORT = {"width": 360, "height": 740}  # the worker pages' phone tests


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs Debian chromium (Playwright)")


def square(lon: float, lat: float) -> shapely.Polygon:
    return shapely.box(lon - HALF, lat - HALF, lon + HALF, lat + HALF)


# g1 (121.40, 31.20) and g2 (121.41, 31.20) share an edge; g4/g5 likewise, further north-east.
SQUARES = GRIDS.assign(
    geometry=[
        square(x, y) for x, y in zip(GRIDS["centroid_lon"], GRIDS["centroid_lat"], strict=True)
    ]
)


# Run r0, a day before r1: the previous probability of some (grid, any) forecasts.
R0 = {"g3": 0.20, "g4": 0.40, "g5": 0.60}
# Events of g3 known at T0: (city-local time, category).
G3_EVENTS = [
    ("2024-04-20 10:00", "theft"),
    ("2024-04-28 09:00", "theft"),
    ("2024-04-28 21:30", "theft"),
    ("2024-04-30 15:00", "dispute"),
]


def add_history(url: str) -> None:
    """A run r0 before r1 (`R0`, target any; levels yellow) and g3's events (`G3_EVENTS`)."""
    r0 = pd.DataFrame(
        {
            "grid_id": list(R0),
            "target": "any",
            "prob": list(R0.values()),
            "expected_count": None,
            "level": "yellow",
            "reasons": [[] for _ in R0],
        }
    )
    events = pd.DataFrame(
        {
            "grid_id": "g3",
            "occurred_at": pd.to_datetime([t for t, _ in G3_EVENTS]).tz_localize("Asia/Shanghai"),
            "category": [c for _, c in G3_EVENTS],
        }
    )
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            earlier = T0 - timedelta(days=1)
            store_run(s, RunInfo("r0", earlier, "m1", "fp0", earlier), r0)
            replace_event_counts(s, events, pd.Timestamp(T0))
    finally:
        engine.dispose()


@dataclass
class LiveServer:
    url: str
    seed: Seed
    data_dir: Path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", **BYPASS_CSP
    )
    p = context.new_page()
    p.set_default_timeout(10_000)
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def phone(browser):
    """A phone-sized context (its own service workers, caches and IndexedDB)."""
    context = browser.new_context(
        viewport=PHONE_VIEWPORT, locale="zh-CN", is_mobile=True, has_touch=True, **BYPASS_CSP
    )
    context.set_default_timeout(10_000)
    # The phone's clock agrees with the service's (fixed at NOW): a report is dated by the
    # phone, and the service refuses one dated after its now (issue 14).
    context.clock.set_system_time(NOW)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def _sessions() -> dict:
    """username → Playwright storage state (the session cookie), per module's server."""
    return {}


@pytest.fixture
def open_as(browser, live_server, _sessions):
    """``open_as(username, path, width=1280)`` → a page logged in as ``username`` (a session
    made once per module through the login API) showing ``path``; closed after the test."""
    contexts = []

    def open_page(username: str, path: str, width: int = 1280, lang: str | None = None):
        if username not in _sessions:
            ctx = browser.new_context()
            r = ctx.request.post(
                f"{live_server.url}/api/v1/auth/login",
                data={"username": username, "password": PASSWORD},
            )
            assert r.status == 200, r.text()
            _sessions[username] = ctx.storage_state()
            ctx.close()
        ctx = browser.new_context(
            viewport={"width": width, "height": 900},
            locale="zh-CN",
            storage_state=_sessions[username],
            **BYPASS_CSP,
        )
        contexts.append(ctx)
        if lang:
            ctx.add_init_script(f"localStorage.setItem('risk.lang', '{lang}')")
        p = ctx.new_page()
        p.set_default_timeout(10_000)
        p.goto(live_server.url + path)
        return p

    yield open_page
    for ctx in contexts:
        ctx.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seeded_url(folder: Path) -> tuple[str, Seed]:
    """A migrated SQLite database in ``folder`` with the API seed and grid squares."""
    url = f"sqlite:///{folder / 'web.db'}"
    upgrade(url)
    out = seed(url, passwords=True)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            upsert_grids(s, SQUARES)
    finally:
        engine.dispose()
    return url, out


@pytest.fixture(scope="module")
def live_data_dir(tmp_path_factory) -> Path:
    """The app's data directory (MLflow registry); override in a module to provide one."""
    return tmp_path_factory.mktemp("live-data")


@pytest.fixture(scope="module")
def live_extra() -> Callable[[str], None] | None:
    """Run on the seeded database before the server starts; override in a module."""
    return None


@contextmanager
def served(app, name: str, **config) -> Iterator[int]:
    """Serve ``app`` with uvicorn in a background thread on a free 127.0.0.1 port (extra
    ``config`` goes to `uvicorn.Config`, e.g. TLS files); yields the port.

    Stops gracefully: requests still running finish first. (Forcing the exit would leave,
    say, MLflow's first-use migration running in a worker thread while the next module
    migrates its database: alembic's global context is not thread-safe.)"""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **config
        )
    )
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the {name} server did not start within 20 s")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, live_data_dir: Path, live_extra) -> Iterator[LiveServer]:
    url, out = seeded_url(tmp_path_factory.mktemp("live-db"))
    if live_extra is not None:
        live_extra(url)
    settings = Settings(data_dir=live_data_dir, database_url=url, scheduler=False)
    with served(create_app(settings, clock=lambda: NOW), "live") as port:
        yield LiveServer(f"http://127.0.0.1:{port}", out, live_data_dir)


def login(page, base_url: str, username: str, to: str | None = None, password: str = PASSWORD):
    """Log in through the form and wait for the page it leads to: ``to`` (a path such as
    ``/grid/g3``) or else the user's home page. Returns the page."""
    page.goto(f"{base_url}/login" + (f"?next={quote(to, safe='')}" if to else ""))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(lambda u: "/login" not in u)
    return page


def shot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot to ``test-artifacts/screenshots/<name>.png`` and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def no_horizontal_scroll(page) -> bool:
    """Whether the page fits its viewport's width (nothing to scroll sideways)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


__all__ = [
    "G3_EVENTS",
    "R0",
    "SQUARES",
    "LiveServer",
    "add_history",
    "login",
    "no_horizontal_scroll",
    "shot",
]
