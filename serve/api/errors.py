"""The one place where domain errors become HTTP responses, all in one JSON shape::

    {"error": {"code": "stale_version", "message": "…", "fields": [{"field": "…", "message": "…"}]}}

| error | status |
|---|---|
| `Unauthenticated` (no, revoked or expired token) | 401 |
| `Forbidden` (role may not take the action) | 403 |
| `CrossSiteRequest` (cookie-authenticated change from another origin) | 403 |
| `NotInScope` | 404, exactly like a missing object (reads and actions: ids cannot be probed) |
| `NotFound`, `ItemNotFound` | 404 |
| `StaleVersion`, `LeaseHeld`, `InvalidTransition`, `Conflict`, `RegistryError` | 409 |
| `NotRenewable` (renewing a session token) | 409 |
| `PromotionRefused` | 409, one ``fields`` entry per failed gate |
| `ReviewInputError`, `FieldError`, `IdentityRefused`, `ContractError`, `ConfigError`, request validation | 422 |
| `LoginThrottled` (too many failed logins) | 429 with ``Retry-After`` |
| a body over the cap (`serve.api.body_limit`) | 413 |
| anything else | 500, with no internals in the body |

Routes raise domain errors and never build error responses themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.registry import PromotionRefused, RegistryError
from risk.errors import ConfigError, ContractError, InvalidTransition, NotInScope, RiskError
from risk.four_eyes import IdentityRefused
from risk.review import LeaseHeld, ReviewInputError, StaleVersion
from risk.scopes import Forbidden
from serve.api.csrf import CrossSiteRequest
from serve.repo.reviews import ItemNotFound
from serve.repo.users import NotRenewable
from serve.throttle import LoginThrottled

log = logging.getLogger("serve.api")

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


# --------------------------------------------------------------------------- errors of the API


class Unauthenticated(RiskError):
    """No valid credentials: missing, unknown, revoked or expired token (HTTP 401)."""


class NotFound(RiskError, LookupError):
    """No such object — or one the caller may not know exists (HTTP 404)."""

    def __init__(self, kind: str, object_id: object) -> None:
        self.kind, self.object_id = kind, object_id
        super().__init__(f"no {kind} {object_id!r}")


class Conflict(RiskError):
    """The request clashes with what is stored (HTTP 409)."""


class FieldError(RiskError):
    """Invalid input, naming the request field (HTTP 422)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# --------------------------------------------------------------------------- response shape


class FieldMessage(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldMessage] = []


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "not authenticated"),
        (403, "role or scope does not allow this"),
        (404, "not found"),
        (409, "conflict: stale version, lease held, invalid transition"),
        (422, "invalid input, with field-level messages"),
        (429, "too many failed logins; retry after the Retry-After seconds"),
    )
}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Sequence[tuple[str, str]] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "fields": [{"field": f, "message": m} for f, m in fields],
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


# --------------------------------------------------------------------------- mapping


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _json_message(exc: RequestValidationError, error: dict[str, Any]) -> str:
    """The parse error in words, at line L column C (FastAPI gives a character offset)."""
    why = str((error.get("ctx") or {}).get("error") or "cannot be parsed")
    loc = error.get("loc", ())
    pos = loc[-1] if loc and isinstance(loc[-1], int) else None
    doc = exc.body if isinstance(exc.body, str) else None
    if pos is None or doc is None:
        return f"the body is not valid JSON: {why}"
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"the body is not valid JSON: {why} at line {line} column {column}"


def _field_message(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field: this request does not take it; remove it (names are exact)"
    return str(error.get("msg", "invalid"))


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if broken is not None:
        message = _json_message(exc, broken)
        return error_response(422, "invalid_json", message, [("body", message)])
    fields = [(_field_name(e.get("loc", ())), _field_message(e)) for e in exc.errors()]
    names = ", ".join(dict.fromkeys(f for f, _ in fields))
    return error_response(422, "invalid_input", f"invalid request: check {names}", fields)


def _domain(request: Request, exc: Exception) -> JSONResponse:
    """Every `RiskError` the routes let through."""
    if isinstance(exc, Unauthenticated):
        return error_response(
            401, "unauthenticated", str(exc), headers={"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, Forbidden):
        return error_response(403, "forbidden", str(exc))
    if isinstance(exc, CrossSiteRequest):
        return error_response(403, "cross_site", str(exc))
    if isinstance(exc, LoginThrottled):
        return error_response(
            429, "too_many_attempts", str(exc), headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, NotInScope):  # never reveal that the object exists
        return error_response(404, "not_found", "not found")
    if isinstance(exc, NotFound | ItemNotFound):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, PromotionRefused):
        fields = [(g.name, g.detail) for g in exc.failed]
        return error_response(409, "promotion_refused", str(exc), fields)
    conflicts = {
        StaleVersion: "stale_version",
        LeaseHeld: "lease_held",
        InvalidTransition: "invalid_transition",
        Conflict: "conflict",
        RegistryError: "registry_conflict",
        NotRenewable: "not_renewable",
    }
    for cls, code in conflicts.items():
        if isinstance(exc, cls):
            return error_response(409, code, str(exc))
    if isinstance(exc, FieldError | IdentityRefused):
        return error_response(422, "invalid_input", str(exc), [(exc.field, str(exc))])
    if isinstance(exc, ContractError):
        fields = [(exc.field, str(exc))] if exc.field else []
        return error_response(422, "invalid_input", str(exc), fields)
    if isinstance(exc, ReviewInputError | ConfigError):
        return error_response(422, "invalid_input", str(exc))
    return _unexpected(request, exc)


def _http(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown path, wrong method) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "http_error"),
        str(exc.detail),
        headers=getattr(exc, "headers", None),
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: log it server-side (path and type only, never headers), answer without internals."""
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return error_response(500, "internal_error", "internal error; the incident was logged")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(RiskError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


__all__ = [
    "ERROR_RESPONSES",
    "Conflict",
    "ErrorBody",
    "FieldError",
    "NotFound",
    "Unauthenticated",
    "error_response",
    "install",
]
