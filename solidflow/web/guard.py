"""Mutations are refused when they come from another site (a page the user has open must not
launch runs here) or when the server is read-only; requests naming a foreign Host are refused
(DNS rebinding)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from solidflow.web.errors import ApiError, error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def _host_name(host: str) -> str:
    return urlsplit(f"//{host}").hostname or ""


class RequestGuard:
    """ASGI middleware: checks Host on every request and Origin (or Referer) on mutations.

    Args:
        allowed_hosts: host names besides the local ones that the server answers to (the
            address it is bound to); "*" allows any.
        read_only: refuse every mutation.
        queries: path endings of POST requests that change nothing (allowed when read-only).
    """

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: set[str],
        read_only: bool,
        queries: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.allowed_hosts = _LOCAL_NAMES | allowed_hosts
        self.read_only = read_only
        self.queries = queries

    def _refusal(self, scope: Scope) -> ApiError | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if "*" not in self.allowed_hosts and _host_name(host) not in self.allowed_hosts:
            return ApiError("forbidden", f"requests for host '{host}' are refused")
        if scope["method"] in SAFE_METHODS or not scope["path"].startswith("/api/"):
            return None
        if self.read_only and not scope["path"].endswith(self.queries):
            return ApiError("read_only", "the server is read-only: it changes nothing")
        origin = headers.get("origin") or headers.get("referer")
        if origin is not None and urlsplit(origin).netloc != host:
            return ApiError("forbidden", f"cross-site request from '{origin}' refused")
        if headers.get("sec-fetch-site") == "cross-site":
            return ApiError("forbidden", "cross-site request refused")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope) if scope["type"] == "http" else None
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)
