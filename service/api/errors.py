"""Every failure -> JSON `{"error": {"code": "...", "message": "..."}}` with its HTTP status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.runtime.batching import BatchFailed, DeadlineExceeded, Overloaded
from service.runtime.images import ImageError

log = logging.getLogger("boxpose.api")

RETRY_AFTER_S = 1

# Status -> error code when a framework exception carries only a status.
HTTP_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
    503: "unavailable",
}  # fmt: skip

# Worker refusal reason -> API error code (all 503 with Retry-After).
OVERLOAD_CODES: dict[str, str] = {
    "queue_full": "overloaded", "deadline": "deadline_exceeded", "not_ready": "not_ready",
}  # fmt: skip


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def unavailable(code: str, message: str) -> ApiError:
    return ApiError(503, code, message, {"Retry-After": str(RETRY_AFTER_S)})


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _image_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImageError)
    return error_response(exc.status, exc.code, str(exc))


async def _overloaded(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Overloaded)
    error = unavailable(OVERLOAD_CODES.get(exc.reason, "overloaded"), str(exc))
    return error_response(error.status, error.code, error.message, error.headers)


async def _batch_failed(_: Request, exc: Exception) -> JSONResponse:
    return error_response(500, "inference_failed", str(exc))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, str(exc.detail), headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    return error_response(422, "invalid_request", details or "invalid request")


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", f"{type(exc).__name__}: {exc}")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ImageError, _image_error)
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_exception_handler(DeadlineExceeded, _overloaded)
    app.add_exception_handler(BatchFailed, _batch_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
