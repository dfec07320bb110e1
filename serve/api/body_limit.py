"""A cap on request bodies, enforced before the body is read (issue 14, item 2).

`BodyLimit` is pure ASGI, in front of everything else:

* a request whose ``Content-Length`` exceeds the cap of its path gets 413 at once — the app is
  never called and not a byte of the body is read (the server discards what the client still
  sends);
* a body without a length (chunked) is counted as the app reads it; past the cap the read
  raises `BodyTooLarge` (an HTTP 413), so no more of it is ever buffered.

The cap is ``Settings.max_body_bytes`` (64 KiB by default: every JSON body of the API is far
smaller), raised only for the paths in ``larger`` — the bulk review action, whose 500 entries
can reach a few hundred KiB.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve.api.errors import error_response

DEFAULT_MAX_BODY_BYTES = 64 * 1024
BULK_MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE_CODE = "too_large"


def too_large_message(limit: int, length: int | None = None) -> str:
    sent = f" (Content-Length {length:,})" if length is not None else ""
    return (
        f"the request body is larger than the {limit:,} bytes this endpoint accepts{sent}; "
        "send a smaller body"
    )


class BodyTooLarge(HTTPException):
    """The body read so far passed the cap (HTTP 413; FastAPI lets HTTP errors through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(limit))


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` (``larger`` maps exact paths to their own cap)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1 (got {max_bytes})")
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    def limit_for(self, path: str) -> int:
        return max(self.max_bytes, self.larger.get(path.rstrip("/") or "/", 0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = _content_length(scope)
        if length is not None and length > limit:
            await _refuse(scope, receive, send, limit, length)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:  # too late for a status: let the server drop the connection
                raise
            await _refuse(scope, receive, send, limit, None)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, limit: int, length: int | None
) -> None:
    response = error_response(
        413,
        TOO_LARGE_CODE,
        too_large_message(limit, length),
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # the server refuses a malformed length before we see it


__all__ = [
    "BULK_MAX_BODY_BYTES",
    "DEFAULT_MAX_BODY_BYTES",
    "BodyLimit",
    "BodyTooLarge",
    "too_large_message",
]
