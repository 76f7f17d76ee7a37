"""Headers on every response, the reader's real IP, the hosts we answer for, the size of what we accept."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import NotFound, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect
from werkzeug.wsgi import get_host

import config as candor_config
from app.errors import InvalidInput

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the signer built once per key: Flask builds a new one (and derives
    its key) on every request, a signed-in page's or an anonymous comment POST's alike."""

    _signer: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._signer is None or self._signer[0] != key:
            self._signer = (key, super().get_signing_serializer(app))
        return self._signer[1]


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = candor_config.trusted_hosts(app.config)
    proxies = app.config["CANDOR_TRUSTED_PROXIES"]
    if proxies > 0:
        # Trust exactly as many X-Forwarded-For hops as there are proxies; a reader cannot forge more.
        # Never X-Forwarded-Host or -Prefix: URLs come from CANDOR_PUBLIC_URL (app/web/urls.py), and the
        # Host checked below is the one the proxy passed on.
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=proxies,
            x_proto=proxies,  # type: ignore[method-assign]
            x_host=0,
            x_port=0,
            x_prefix=0,
        )
    app.wsgi_app = HostGuard(app, app.wsgi_app)  # type: ignore[method-assign]
    # First of all request hooks, whatever registers after: no rate limit, CSRF check or scheduler runs.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_marked_host)
    app.url_value_preprocessor(_refuse_unstorable_url_values)
    app.after_request(_headers)


def host_trusted(app: Flask, environ: dict[str, Any]) -> bool:
    """Whether the request's Host is one the blog answers for (TRUSTED_HOSTS, by Werkzeug's own rules).

    Host names are case-insensitive, but Werkzeug compares them as given: the Host is lowercased first,
    in the environ itself, so that Flask's own TRUSTED_HOSTS check further in agrees with this one.
    """
    if "HTTP_HOST" in environ:
        environ["HTTP_HOST"] = environ["HTTP_HOST"].lower()
    try:
        return bool(get_host(environ, app.config["TRUSTED_HOSTS"]))
    except SecurityError:
        return False


class HostGuard:
    """Refuse a request for a host the blog is not: 400, before any view, hook or cache has run.

    Flask's TRUSTED_HOSTS check alone comes too late: it fails the request only at dispatch, after the
    request hooks, and with no URL adapter, so not even the error page can be built. Here the request is
    marked and its Host replaced by the public one, so the first request hook (``_refuse_marked_host``)
    answers it with the usual error page or JSON error, and nothing further in ever sees the forged Host.
    URLs never come from the Host anyway (app/web/urls.py): this is the second of two locks. The page
    cache's fast path, which runs before this, asks ``host_trusted`` too.
    """

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not host_trusted(self.app, environ):
            environ[REFUSED_HOST] = environ.get("HTTP_HOST", "")
            environ["HTTP_HOST"] = urlsplit(self.app.config["PUBLIC_URL"]).netloc
        return self.wsgi_app(environ, start_response)


REFUSED_HOST = "candor.refused_host"


def _refuse_marked_host() -> Response | None:
    if REFUSED_HOST not in request.environ:
        return None
    from app.web.errors import error_response

    address = current_app.config["PUBLIC_URL"] + "/"
    return error_response(
        400,
        "bad_host",
        f"This blog does not answer for the host name this request was sent to. Its address is {address}",
    )


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
    if isinstance(request.routing_exception, RequestRedirect) and "Location" in h:
        # Werkzeug's own redirects (a missing trailing slash) are absolute, built from the request's Host
        # and scheme: answer them as a path, which the browser resolves against the address it used.
        parts = urlsplit(h["Location"])
        h["Location"] = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    # Each header the view did not set itself; the names present read once (Headers' own setdefault
    # scans every header for each of the six, on every answer the app gives).
    present = {name.lower() for name, _ in h.items()}
    h.extend([(name, value) for name, value in SECURITY_HEADERS if name.lower() not in present])
    return response


SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
