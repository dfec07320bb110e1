"""Login, logout and "who am I" (web pages use the cookie; scripts send a bearer token).

The session cookie is HttpOnly, SameSite=Strict, Path=/, and Secure whenever the request came
over TLS. Only the token's hash is stored; the token itself is never logged.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from risk.settings import Settings
from serve.api.deps import SESSION_COOKIE, CurrentUser, Now, SessionDep, SettingsDep
from serve.api.errors import Unauthenticated
from serve.api.schemas import LoginIn, Me, ScopeOut
from serve.repo import audit
from serve.repo.users import DEFAULT_SESSION_TTL, TokenKind, User, issue_token, revoke_token
from serve.repo.users import verify_password as check_password

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


@router.post("/login", response_model=Me)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
) -> Me:
    """Check the password, start a session (cookie) and audit the login."""
    user = check_password(session, body.username, body.password)
    if user is None:  # audited too: repeated failures are what an admin looks for
        audit.append(session, ANONYMOUS, "login_failed", "user", body.username, at=now)
        session.commit()
        raise Unauthenticated("wrong username or password")
    token = issue_token(session, user.username, TokenKind.SESSION, at=now)
    audit.append(session, user.username, "login", "user", user.username, at=now)
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


@me_router.get("/me", response_model=Me)
def me(user: CurrentUser, settings: SettingsDep) -> Me:
    return me_of(user, settings)
