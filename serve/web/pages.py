"""Page routes, `/static` and `/sw.js` — the web shell around the JSON API.

Every page is a static HTML file from ``templates/`` that fetches ``/api/v1`` itself. The
page routes only decide *whether* the page is shown, on the server, with the same session
cookie and the same token check as the API (`serve.api.deps.current_user`):

* no valid session → 303 to ``/login?next=<path>``;
* a role the page is not for → 403 with ``forbidden.html``;
* ``/`` → the user's home page by role, or ``/login``.

The API still checks role and scope on every call; the page check only avoids showing an
empty shell to someone who may not use it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from risk.scopes import Role
from serve.api.deps import SESSION_COOKIE, Now, SessionDep, current_user
from serve.api.errors import Unauthenticated, error_response
from serve.repo.users import User

WEB_DIR = Path(__file__).parent
TEMPLATES = WEB_DIR / "templates"
STATIC = WEB_DIR / "static"

_A, _R, _C, _W, _ADM = Role.ANALYST, Role.REVIEWER, Role.COMMANDER, Role.GRID_WORKER, Role.ADMIN

# page → roles that may open it (the API decides what each role then sees).
PAGE_ROLES: dict[str, frozenset[Role]] = {
    "commander": frozenset({_C, _ADM, _A}),
    "grid": frozenset({_C, _A, _ADM, _R}),
    "reviewer": frozenset({_R, _ADM}),
    "worker": frozenset({_W, _ADM}),
    "analyst": frozenset({_A, _ADM}),
}
HOME: dict[Role, str] = {
    _C: "/commander",
    _R: "/reviewer",
    _W: "/worker",
    _A: "/analyst",
    _ADM: "/analyst",
    Role.INTEGRATION: "/api/v1/docs",  # no page of its own (and no web login: risk.scopes)
    Role.MONITOR: "/api/v1/docs",  # reads /metrics only (no web login either)
}
NO_STORE = {"Cache-Control": "no-store"}
TZ_PLACEHOLDER = "__RISK_TZ__"

router = APIRouter(include_in_schema=False)


def page_user(request: Request, session: SessionDep, now: Now) -> User | None:
    """The user behind the session cookie, or None (pages redirect instead of answering 401)."""
    token = request.cookies.get(SESSION_COOKIE)
    try:
        return current_user(request, session, token, now)
    except Unauthenticated:
        return None


PageUser = Annotated[User | None, Depends(page_user)]


def safe_next(target: str | None) -> str | None:
    """A same-site path to return to after login, or None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 0x20 or c == "\x7f" for c in target):
        return None
    return target


def template(request: Request, name: str, status_code: int = 200) -> Response:
    """``templates/<name>.html`` as-is, but for ``__RISK_TZ__`` → the city's time zone (which
    `Risk.fmtTime` reads from ``<html data-tz>``)."""
    path = TEMPLATES / f"{name}.html"
    if not path.is_file():
        return error_response(404, "not_found", f"page {name!r} is not built yet")
    text = path.read_text(encoding="utf-8")
    text = text.replace(TZ_PLACEHOLDER, html.escape(request.app.state.settings.tz))
    return HTMLResponse(text, status_code=status_code, headers=NO_STORE)


def _to_login(request: Request) -> RedirectResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(path, safe='')}", status_code=303)


def _page(name: str) -> Callable[[Request, User | None], Response]:
    roles = PAGE_ROLES[name]

    def show(request: Request, user: PageUser) -> Response:
        if user is None:
            return _to_login(request)
        if user.role not in roles:
            return template(request, "forbidden", status_code=403)
        return template(request, name)

    show.__name__ = f"{name}_page"
    return show


@router.get("/")
def home(user: PageUser) -> RedirectResponse:
    """The user's home page by role, or the login page."""
    return RedirectResponse(HOME[user.role] if user else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, user: PageUser, next: str | None = None) -> Response:
    """The login form; a user already logged in goes on to ``next`` or home."""
    if user is not None:
        return RedirectResponse(safe_next(next) or HOME[user.role], status_code=303)
    return template(request, "login")


for _name in ("commander", "reviewer", "worker", "analyst"):
    router.add_api_route(f"/{_name}", _page(_name), methods=["GET"])
router.add_api_route("/grid/{grid_id}", _page("grid"), methods=["GET"])


@router.get("/sw.js")
def service_worker() -> Response:
    """The worker page's service worker, served from the root so it may control ``/worker``."""
    if not (STATIC / "sw.js").is_file():
        return error_response(404, "not_found", "no service worker file sw.js")
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


def install(app: FastAPI) -> None:
    """Add the page routes and mount ``/static`` on ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


__all__ = ["HOME", "PAGE_ROLES", "install", "page_user", "router", "safe_next"]
