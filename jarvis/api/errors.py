"""How errors leave the HTTP interface: always ``{"error": ..., "detail": ...}``.

=====================================  ======
what                                   status
=====================================  ======
malformed JSON or body, bad parameter  422
bad id, bad event, refused by a rule   400
unknown associate, unknown route       404
item not claimed by you / lapsed       409
duplicate work item                    409
body or batch over its limit           413
no bearer token / a wrong one          401 / 403
Redis or ZooKeeper unreachable         503
=====================================  ======

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
    DispatchError,
    ElectionError,
    JarvisError,
    NotClaimedError,
    PayloadTooLargeError,
    ServerError,
    StoreError,
    UnknownAssociateError,
)

__all__ = ["ERROR_RESPONSES", "error_response", "install_error_handlers", "status_of"]

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[JarvisError], int]] = [
    (PayloadTooLargeError, 413),
    (UnknownAssociateError, 404),
    (NotClaimedError, 409),
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


def error_response(
    status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content=ErrorOut(error=message, detail=detail).model_dump(mode="json"),
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(JarvisError)
    async def jarvis_error(request: Request, exc: JarvisError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return error_response(422, "invalid request", detail)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Unknown routes (404), wrong methods (405, with its Allow header), and the like.
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error")
