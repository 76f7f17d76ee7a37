"""Headers on every response, the reader's real IP, and the size of what we accept."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from app.errors import InvalidInput

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' https:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def init_app(app: Flask) -> None:
    proxies = app.config["CANDOR_TRUSTED_PROXIES"]
    if proxies > 0:
        # Trust exactly as many X-Forwarded-For hops as there are proxies; a reader cannot forge more.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0)  # type: ignore[method-assign]
    app.url_value_preprocessor(_refuse_unstorable_url_values)
    app.after_request(_headers)


# The widest integer column; a path number beyond it names nothing.
MAX_PATH_INT = 2**31 - 1


def _refuse_unstorable_url_values(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Refuse URL values no column can hold, before they reach the database and fail there.

    PostgreSQL refuses NUL in text ("/posts/%00", "?q=%00"), and an id past 64 bits overflows the SQLite
    driver and PostgreSQL's integer ("/api/v1/posts/99999999999999999999"): all used to answer 500.
    Such a path names nothing (404); such a query is malformed (422).
    """
    for value in (values or {}).values():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound()
        if isinstance(value, int) and abs(value) > MAX_PATH_INT:
            raise NotFound()
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        raise InvalidInput("The address contains a NUL character.")


def _headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    return response
