"""How errors leave the HTTP interface: always ``{"code": ..., "error": ..., "detail": ...}``.

``code`` is stable and machine-readable (a client branches on it, never on the
message); ``error`` says the same in words. :data:`ERROR_CODES` lists every code with
its status and meaning; the OpenAPI description carries the same table.

Bad input is never a 500: a 500 means a bug, and is logged with its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jarvis.api.schemas import ErrorOut
from jarvis.errors import (
    BadInputError,
    ConfigError,
    CourierError,
    DispatchError,
    DuplicateItemError,
    ElectionError,
    JarvisError,
    NotClaimedError,
    NotFoundError,
    PayloadTooLargeError,
    ServerError,
    StoreError,
    UnknownAssociateError,
    UnknownCourierError,
)

__all__ = [
    "ERROR_CODES",
    "ERROR_RESPONSES",
    "HTTP_CODES",
    "codes_table",
    "error_response",
    "install_error_handlers",
    "status_of",
]

log = logging.getLogger(__name__)

#: Every code an error answer may carry: (status, meaning).
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (422, "malformed JSON, a body or parameter that fails its schema"),
    "bad_input": (400, "a bad id or event, or input an enqueue rule refuses"),
    "duplicate_id": (400, "two tasks or two workers of one request share an id"),
    "invalid_estimate": (400, "an estimate is NaN, infinite or negative"),
    "unauthenticated": (401, "no bearer token, or a malformed Authorization header"),
    "forbidden": (403, "the bearer token is not valid"),
    "unknown_associate": (404, "the associate was never registered"),
    "not_found": (404, "no such route, or no such work item in the store"),
    "method_not_allowed": (405, "the route does not take this method"),
    "not_claimed": (409, "the item is not claimed (never, or no longer)"),
    "not_your_claim": (409, "the item is claimed by another associate"),
    "claim_replaced": (409, "the claim with this token is gone; the item was claimed again"),
    "claim_lapsed": (409, "the claim's lease ran out before this call"),
    "item_cancelled": (409, "the item was cancelled while claimed"),
    "duplicate_item": (409, "a work item with this id is queued, claimed or recently done"),
    "unknown_courier": (404, "the courier never came online in that city"),
    "not_offered": (409, "the order is not offered (accept) or held (decline) by the courier"),
    "courier_error": (409, "any other courier request the city refuses"),
    "bad_request": (400, "any other request the HTTP layer refuses"),
    "payload_too_large": (413, "the body or the batch is over its limit"),
    "unavailable": (503, "Redis or ZooKeeper cannot be reached, or failed"),
    "fenced": (503, "a newer owner of the partition has written; retry"),
    "not_replicated": (503, "replicas did not confirm the write in time: outcome unknown"),
    "config_error": (503, "the member's configuration is invalid"),
    "internal": (500, "a bug: logged with its traceback"),
}

_STATUS: list[tuple[type[JarvisError], int]] = [
    (PayloadTooLargeError, 413),
    (UnknownAssociateError, 404),
    (UnknownCourierError, 404),
    (CourierError, 409),
    (NotFoundError, 404),
    (NotClaimedError, 409),
    (DuplicateItemError, 409),
    (BadInputError, 400),
    (DispatchError, 400),
    (ServerError, 503),
    (StoreError, 503),
    (ElectionError, 503),
    (ConfigError, 503),
]

#: The documented error answers of every endpoint that takes input.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 409, 422, 503)
}


def status_of(exc: JarvisError) -> int:
    """The HTTP status a JarvisError is answered with."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 503


def codes_table() -> str:
    """:data:`ERROR_CODES` as a Markdown table (for the OpenAPI description)."""
    rows = [f"| `{code}` | {status} | {why} |" for code, (status, why) in ERROR_CODES.items()]
    return "\n".join(["| code | status | meaning |", "| --- | --- | --- |", *rows])


#: Codes of the answers starlette and the guard give by status alone.
HTTP_CODES: dict[int, str] = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "invalid_request",
}


def _http_code(status: int) -> str:
    return HTTP_CODES.get(status, "bad_request" if status < 500 else "unavailable")


def error_response(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content=ErrorOut(code=code, error=message, detail=detail).model_dump(mode="json"),
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(JarvisError)
    async def jarvis_error(request: Request, exc: JarvisError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return error_response(422, "invalid_request", "invalid request", detail)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Unknown routes (404), wrong methods (405, with its Allow header), and the like.
        headers = dict(exc.headers) if exc.headers else None
        status = exc.status_code
        return error_response(status, _http_code(status), str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal", "internal error")
