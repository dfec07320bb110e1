"""Request dependencies as `Annotated` aliases: the session, the clock, the caller.

* `SessionDep` — one SQLAlchemy session per request, closed (and so rolled back unless a route
  committed) when the request ends. Routes that change state commit once, after the change
  and its audit entry, so both land or neither does.
* `CurrentUser` — the user behind ``Authorization: Bearer <token>`` or the HTTP-only session
  cookie; `Unauthenticated` (401, saying why: unknown, revoked, expired) otherwise. A change
  (POST, PUT, PATCH, DELETE) made with the cookie must come from the service's own origin
  (`serve.api.csrf`; 403 otherwise). Requests do not record ``last_used_at`` (login does), so
  authentication never takes a write lock.
* `Now` — the app's clock (``app.state.clock``), replaceable in tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from risk.settings import Settings
from serve.api.csrf import check_cookie_request
from serve.api.errors import Unauthenticated
from serve.repo.users import TokenRefused, User, check_token

SESSION_COOKIE = "risk_session"

_bearer = HTTPBearer(auto_error=False, description="an API or session token")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="web session")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for one request, closed (uncommitted work rolled back) when it ends.

    Async on purpose: FastAPI runs a sync dependency's exit in its thread pool, so under load
    a request that failed after taking SQLite's write lock (a 409 after its UPDATE) would wait
    for a free thread to roll back, while every thread waits for that lock — a stall until the
    busy timeout. On the event loop the rollback runs at once."""
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Now = Annotated[datetime, Depends(get_now)]


def presented_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> str | None:
    """The bearer token if one was sent, else the session cookie's."""
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return cookie or None


Token = Annotated[str | None, Depends(presented_token)]


def current_user(request: Request, session: SessionDep, token: Token, now: Now) -> User:
    if not token:
        raise Unauthenticated("not authenticated: send 'Authorization: Bearer <token>' or log in")
    # No `last_used_at` write here: it would lock the token row for the whole request, so all
    # requests of one token would queue behind each other (and could starve the thread pool).
    try:
        user = check_token(session, token, at=now, touch=False)
    except TokenRefused as refused:
        raise Unauthenticated(str(refused)) from None
    check_cookie_request(request, request.app.state.settings.trusted_origins)
    request.state.token = token  # logout revokes exactly this token
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def utc_now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "SESSION_COOKIE",
    "CurrentUser",
    "Now",
    "SessionDep",
    "SettingsDep",
    "Token",
    "utc_now",
]
