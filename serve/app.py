"""The FastAPI application: `create_app` builds it, `run` serves it with uvicorn (TLS optional).

Nothing happens at import: settings are read when the app is created, and the database is
migrated (`serve.db.upgrade`) and connected when the app starts (lifespan), then disposed of
when it stops.

    uvicorn serve.app:create_app --factory                       # settings from RISK_* env
    run(host="0.0.0.0", port=8443, certfile="c.pem", keyfile="k.pem")   # what `risk serve` calls
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI

from risk.settings import Settings
from serve.api import (
    analytics,
    audit,
    auth,
    dashboard,
    errors,
    events,
    forecasts,
    health,
    metrics,
    model_health,
    models,
    patrols,
    review,
    worker,
)
from serve.api.body_limit import BULK_MAX_BODY_BYTES, BodyLimit
from serve.api.deps import utc_now
from serve.audit_chain import AuditKeys, bind_keys
from serve.cache import PageCache
from serve.db import make_engine, session_factory, upgrade
from serve.security_headers import SecurityHeaders
from serve.throttle import LoginThrottle
from serve.web import apidocs, pages

API_PREFIX = "/api/v1"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def api_router() -> APIRouter:
    """Every route under `API_PREFIX`, documented with the one error shape."""
    api = APIRouter(prefix=API_PREFIX, responses=errors.ERROR_RESPONSES)
    for router in (
        health.router,
        auth.router,
        auth.me_router,
        forecasts.router,
        dashboard.router,
        analytics.router,  # /review/stats before /review/items/{id}
        review.router,
        patrols.router,
        worker.router,  # POST /worker/events (issue 16, item 2)
        events.router,
        models.router,
        model_health.router,
        audit.router,
    ):
        api.include_router(router)
    return api


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """The app for ``settings`` (default: from the ``RISK_*`` environment, read now).

    ``clock`` gives "now" to every route (tests pass a fixed one).
    """
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    settings = Settings() if settings is None else settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url()
        upgrade(url)
        engine = make_engine(url)
        # Audit entries are signed with the key of the data directory (outside the database).
        keys = AuditKeys.load(settings.data_dir)
        factory = session_factory(engine, data_dir=settings.data_dir)  # + fields key
        app.state.session_factory = bind_keys(factory, keys)
        scheduler = _scheduler(settings, app.state.session_factory) if settings.scheduler else None
        app.state.scheduler = scheduler
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            engine.dispose()

    app = FastAPI(
        title="Grid-risk early warning",
        version="1",
        description="72-hour grid risk forecasts, human review, patrol suggestions.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # serve.web.apidocs: the same page from local files
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.page_cache = PageCache()
    app.state.login_throttle = LoginThrottle.from_settings(settings)  # in memory, per process
    errors.install(app)
    bulk = {f"{API_PREFIX}/review/bulk": BULK_MAX_BODY_BYTES}  # 500 entries need more
    bulk[f"{API_PREFIX}/events"] = events.events_body_bytes(settings.events_batch_max)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, larger=bulk)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, 413 included
    app.include_router(api_router())
    metrics.install(app)  # GET /metrics for Prometheus (scrape token, admin or monitor)
    pages.install(app)  # web pages, /static and /sw.js (serve/web)
    apidocs.install(app)  # Swagger UI from local files at /api/v1/docs
    return app


def _scheduler(settings: Settings, factory):
    """Daily scoring (when the city's grids file is configured; events from RISK_CITY_EVENTS
    when set, else from the event store) and the escalation/expiry sweep."""
    from datetime import time as clock_time
    from datetime import timedelta

    from serve.jobs import Scheduler, city_score_job

    job = None
    if settings.city_grids:
        job = city_score_job(factory=factory, grids_path=settings.city_grids,
                             events_path=settings.city_events, data_dir=settings.data_dir,
                             tz=settings.tz, calendar=settings.calendar,
                             labels_file=settings.labels_file,
                             health_file=settings.health_file,
                             dask_scheduler=settings.dask_scheduler)  # fmt: skip
    return Scheduler(factory, job, tz=settings.tz, score_at=clock_time(settings.score_hour, 0),
                     response_target=timedelta(minutes=settings.response_target_minutes))  # fmt: skip


def run(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    settings: Settings | None = None,
) -> None:
    """Serve the app with uvicorn until interrupted; TLS when both a certificate and key are given.

    With TLS the session cookie is marked ``Secure``. Access logs keep paths only, never headers,
    so tokens are not logged.
    """
    import uvicorn

    from risk.errors import ConfigError
    from serve.startup import bind, check_tls

    check_tls(certfile, keyfile)  # a bad pair or a busy port: one line, exit 4 (serve.startup)
    sock = bind(host, port)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        ssl_certfile=None if certfile is None else str(certfile),
        ssl_keyfile=None if keyfile is None else str(keyfile),
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise ConfigError("the service did not start; the messages above say why")


__all__ = ["API_PREFIX", "api_router", "create_app", "run"]
