"""Security headers on every response (a pure ASGI middleware: no body buffering).

* ``Content-Security-Policy``: scripts, styles, fetches and frames from this origin only — no
  inline script or style (but the model card's own ``<style>``, by its hash), no ``eval``, no
  plugins, and no framing (``frame-ancestors 'none'``).
  The pages keep every script in ``/static`` for this reason, the API docs page included
  (Swagger UI from local files, `serve.web.apidocs`).
* ``X-Frame-Options: DENY`` (older browsers' frame-ancestors), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: same-origin`` (browsers still send ``Origin`` on the pages'
  own changes, which `serve.api.csrf` checks).
* ``Strict-Transport-Security`` only when the request came over TLS: over plain HTTP it would
  be ignored, and it must never pin a host that is not served over HTTPS.

A header a route set itself is kept.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.card import CARD_CSS


def style_hash(css: str) -> str:
    """The CSP source that allows exactly this inline ``<style>`` text."""
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # the model card's <style>: the analyst page shows it in a srcdoc iframe, which
        # inherits this policy
        f"style-src 'self' {style_hash(CARD_CSS)}",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000"
COMMON = (
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
)


def headers_for(path: str, tls: bool) -> list[tuple[str, str]]:
    """The security headers of a response to ``path``, over TLS or not."""
    headers = [("content-security-policy", POLICY), *COMMON]
    if tls:
        headers.append(("strict-transport-security", HSTS))
    return headers


class SecurityHeaders:
    """Adds `headers_for` to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", ""), scope.get("scheme") == "https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["POLICY", "SecurityHeaders", "headers_for"]
