"""Login, logout, token renewal and "who am I" (web pages use the cookie; scripts a bearer token).

The session cookie is HttpOnly, SameSite=Strict, Path=/, and Secure whenever the request came
over TLS. Only the token's hash is stored; the token itself is never logged.

Logins are throttled per account and per client address (`serve.throttle`: 429 with
``Retry-After``, the password unchecked); a failed login costs one scrypt whether or not the
user exists, and its audit entry keeps the client address and a keyed pseudonym of the name
typed (`serve.pseudonyms`), never the name itself — it may be a password typed in the wrong
field.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from risk.settings import Settings
from serve.api.csrf import check_same_origin
from serve.api.deps import SESSION_COOKIE, CurrentUser, Now, SessionDep, SettingsDep
from serve.api.errors import Unauthenticated
from serve.api.schemas import LoginIn, Me, ScopeOut, TokenOut
from serve.pseudonyms import names_key, pseudonym
from serve.repo import audit
from serve.repo.users import (
    DEFAULT_SESSION_TTL,
    TokenKind,
    User,
    issue_token,
    renew_token,
    revoke_token,
)
from serve.repo.users import verify_password as check_password
from serve.throttle import LoginThrottle

router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(tags=["auth"])


def me_of(user: User, settings: Settings) -> Me:
    return Me(
        username=user.username,
        role=user.role.value,
        scope=ScopeOut(kind=user.scope.kind.value, values=sorted(user.scope.values)),
        tz=settings.tz,
        response_target_minutes=settings.response_target_minutes,
    )


ANONYMOUS = "anonymous"
NO_STORE = {"Cache-Control": "no-store"}


def client_address(request: Request) -> str:
    """The peer's address as the server sees it (no proxy headers are trusted)."""
    return request.client.host if request.client else "unknown"


def login_throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle


@router.post(
    "/login",
    response_model=Me,
    responses={429: {"description": "too many failed logins; wait Retry-After seconds"}},
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
) -> Me:
    """Check the password, start a session (cookie) and audit the login."""
    check_same_origin(request, settings.trusted_origins, required=False)  # login CSRF
    address = client_address(request)
    throttle = login_throttle(request)
    attempt = throttle.attempt(body.username, address, now)  # 429 before any password check
    user = check_password(session, body.username, body.password)
    if user is None:  # audited too: repeated failures are what an admin looks for
        after: dict[str, object] = {"client": address}
        if locked := throttle.locked(attempt):
            after["throttled"] = locked
        name = pseudonym(names_key(settings.data_dir), body.username)
        audit.append(session, ANONYMOUS, "login_failed", "user", name, after=after, at=now)
        session.commit()
        raise Unauthenticated("wrong username or password")
    throttle.succeeded(attempt)
    token = issue_token(session, user.username, TokenKind.SESSION, at=now)
    audit.append(session, user.username, "login", "user", user.username,
                 after={"client": address}, at=now)  # fmt: skip
    session.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(DEFAULT_SESSION_TTL.total_seconds()),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return me_of(user, settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, user: CurrentUser, session: SessionDep, now: Now) -> Response:
    """Revoke the token this request came with and clear the cookie."""
    revoke_token(session, request.state.token, at=now)
    audit.append(session, user.username, "logout", "user", user.username, at=now)
    session.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/tokens/renew", response_model=TokenOut)
def renew(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
) -> TokenOut:
    """Exchange the API token this request came with for a new one, valid for
    ``RISK_API_TOKEN_DAYS``; the old one stops working at once. Shown once: store it now."""
    ttl = timedelta(days=settings.api_token_days)
    new, old_id, old_expiry = renew_token(session, request.state.token, ttl, at=now)
    audit.append(session, user.username, "token.renew", "token", str(new.id),
                 before={"token_id": old_id, "expires_at": old_expiry},
                 after={"token_id": new.id, "expires_at": new.expires_at}, at=now)  # fmt: skip
    session.commit()
    response.headers.update(NO_STORE)
    return TokenOut(token=new.token, expires_at=new.expires_at)


@me_router.get("/me", response_model=Me)
def me(user: CurrentUser, settings: SettingsDep) -> Me:
    return me_of(user, settings)
