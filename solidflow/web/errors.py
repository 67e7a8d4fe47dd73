"""Every failed request answers with one typed error object: {"error": {kind, message, errors}}."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

_STATUS = {
    "config": 400,
    "selection": 400,
    "bad_request": 400,
    "launch": 400,
    "user_code": 400,
    "forbidden": 403,
    "read_only": 403,
    "not_found": 404,
    "conflict": 409,
    "unavailable": 503,
}


class ApiError(Exception):
    """A request the API refuses; `errors` are (path, message) pairs."""

    def __init__(self, kind: str, message: str, errors: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = list(errors)

    @property
    def status_code(self) -> int:
        return _STATUS.get(self.kind, 400)


def error_response(error: ApiError) -> JSONResponse:
    body = {
        "error": {
            "kind": error.kind,
            "message": str(error),
            "errors": [{"path": path, "message": message} for path, message in error.errors],
        }
    }
    return JSONResponse(body, status_code=error.status_code)


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiErrors, unknown routes and malformed requests with typed error objects."""

    async def api_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(error)

    async def http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        kind = "not_found" if error.status_code == 404 else "bad_request"
        response = error_response(ApiError(kind, str(error.detail)))
        response.status_code = error.status_code
        return response

    async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        details = [
            (".".join(str(part) for part in problem["loc"]), problem["msg"])
            for problem in error.errors()
        ]
        return error_response(ApiError("bad_request", "the request is not valid", details))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
