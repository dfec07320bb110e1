"""``GET /metrics``: the service's numbers in Prometheus' text format (`serve.metrics`), for an
operator's Prometheus/Grafana (issue 17, item 5). Never public.

Who may scrape, checked on every request:

* the **scrape token** ``RISK_METRICS_TOKEN`` as ``Authorization: Bearer <token>``. The
  service keeps only its SHA-256 (the variable may hold ``sha256:<hex>`` so that the clear
  token is never in the service's environment) and compares digests in constant time
  (`hmac.compare_digest`);
* or the API token (or web session) of an account whose role may `Action.VIEW_METRICS`:
  ``admin``, or ``monitor`` — an account whose token reads ``/metrics`` and nothing else.

No credentials, or an unknown, revoked or expired token: 401. Another role's token: 403.

The body is rendered from the database at scrape time and kept for `METRICS_TTL` (or until
an audited change, `serve.cache`), so frequent scrapes by several Prometheus servers cost one
set of queries per interval.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from risk.errors import ConfigError
from risk.scopes import Action
from risk.settings import Settings
from serve.api.access import check
from serve.api.deps import Now, SessionDep, Token, current_user
from serve.api.errors import Unauthenticated
from serve.cache import PageCache
from serve.metrics import read_snapshot, render
from serve.repo import audit

METRICS_PATH = "/metrics"
METRICS_TTL = timedelta(seconds=5)
MIN_TOKEN_CHARS = 32
CACHE_KEY = ("metrics",)
_SHA256_HEX = re.compile(r"sha256:([0-9a-fA-F]{64})")

router = APIRouter(tags=["monitoring"])


def scrape_token_digest(configured: str | None) -> bytes | None:
    """The SHA-256 of the configured scrape token (None: no scrape token); `ConfigError` for a
    short token or a malformed ``sha256:`` form, so the service does not start with it."""
    if not configured:
        return None
    hashed = _SHA256_HEX.fullmatch(configured)
    if hashed is not None:
        return bytes.fromhex(hashed.group(1))
    if configured.startswith("sha256:"):
        raise ConfigError(
            "RISK_METRICS_TOKEN 'sha256:…' needs the 64 hex digits of the token's SHA-256; "
            'fix: printf %s "$TOKEN" | sha256sum'
        )
    if len(configured) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"RISK_METRICS_TOKEN needs at least {MIN_TOKEN_CHARS} characters "
            f"(got {len(configured)}); fix: openssl rand -hex 32"
        )
    return hashlib.sha256(configured.encode("utf-8")).digest()


def _is_scrape_token(request: Request, token: str) -> bool:
    digest: bytes | None = request.app.state.metrics_token_sha256
    if digest is None:
        return False
    presented = hashlib.sha256(token.encode("utf-8")).digest()
    return hmac.compare_digest(presented, digest)


@router.get(METRICS_PATH, include_in_schema=False)
def metrics(request: Request, session: SessionDep, token: Token, now: Now) -> Response:
    """Every metric of `serve.metrics`, city-wide, for the scrape token or an admin/monitor."""
    if not token:
        raise Unauthenticated(
            "not authenticated: send 'Authorization: Bearer <token>' with the scrape token "
            "(RISK_METRICS_TOKEN) or a monitor or admin account's API token"
        )
    if not _is_scrape_token(request, token):
        check(current_user(request, session, token, now), Action.VIEW_METRICS)
    cache: PageCache = request.app.state.metrics_cache
    generation = audit.generation(session)
    body = cache.get(CACHE_KEY, generation, now)
    if body is None:
        settings: Settings = request.app.state.settings
        response = timedelta(minutes=settings.response_target_minutes)
        body = render(lambda: read_snapshot(session, now, response))
        cache.put(CACHE_KEY, generation, now, body, until=now + METRICS_TTL)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def install(app: FastAPI) -> None:
    """Check the scrape token setting (a bad one stops the app here) and add the route."""
    settings: Settings = app.state.settings
    secret = settings.metrics_token
    app.state.metrics_token_sha256 = scrape_token_digest(
        None if secret is None else secret.get_secret_value()
    )
    app.state.metrics_cache = PageCache(size=1, ttl=METRICS_TTL)
    app.include_router(router)


__all__ = ["METRICS_PATH", "METRICS_TTL", "install", "router", "scrape_token_digest"]
