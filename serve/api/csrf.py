"""Cross-site request refusal for cookie-authenticated changes (CSRF).

The session cookie is SameSite=Strict, but "site" ignores the port and scheme: a page on
another port of the same host could still make the browser send it. So a state-changing
request (POST, PUT, PATCH, DELETE) that authenticates with the cookie must show where it
came from: its ``Origin`` header (or, without one, its ``Referer``) must be the service's own
origin — the scheme and ``Host`` the request was made to — or one of the configured trusted
origins. Browsers send ``Origin`` on every such ``fetch``, so the pages work unchanged.

A bearer token is never sent by a browser on its own, so requests carrying one are not
checked; neither are safe methods (GET, HEAD, OPTIONS), which change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request

from risk.errors import RiskError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


class CrossSiteRequest(RiskError):
    """A cookie-authenticated change from another origin, or from nowhere (HTTP 403)."""


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an origin or URL, ports made explicit; None if not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def own_origin(request: Request) -> Origin | None:
    """The origin this request was addressed to: its scheme and ``Host`` header."""
    host = request.headers.get("host")
    return origin_of(f"{request.url.scheme}://{host}") if host else None


def check_same_origin(request: Request, trusted: Iterable[str] = (), required: bool = True) -> None:
    """Refuse a request whose ``Origin`` (or ``Referer``) is not the service's own.

    ``required`` False lets a request that names no origin at all through (the login form
    from scripts); one that names a foreign origin is refused either way.
    """
    origin = request.headers.get("origin")
    header, sent = ("Origin", origin) if origin is not None else ("Referer", None)
    if origin is None:
        sent = request.headers.get("referer")
    if sent is None:
        if not required:
            return
        raise CrossSiteRequest(
            "refused: a change made with the session cookie must carry an Origin or Referer "
            "header naming this service; send the request from the service's own pages, or "
            "use an API token (Authorization: Bearer) from scripts"
        )
    allowed = {own_origin(request), *(origin_of(o) for o in trusted)} - {None}
    if origin_of(sent) not in allowed:
        raise CrossSiteRequest(
            f"refused: the {header} header {sent[:100]!r} is not this service's origin, and a "
            "change made with the session cookie must come from the service's own pages; "
            "scripts should use an API token (Authorization: Bearer)"
        )


def has_bearer(request: Request) -> bool:
    """True when the request authenticates with ``Authorization: Bearer``."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())


def check_cookie_request(request: Request, trusted: Iterable[str] = ()) -> None:
    """`check_same_origin` for a state-changing request that is not bearer-authenticated."""
    if request.method in SAFE_METHODS or has_bearer(request):
        return
    check_same_origin(request, trusted)


__all__ = [
    "CrossSiteRequest",
    "check_cookie_request",
    "check_same_origin",
    "has_bearer",
    "origin_of",
    "own_origin",
]
