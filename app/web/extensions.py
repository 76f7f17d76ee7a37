"""Third-party Flask extensions: CSRF on every form, rate limits keyed on the reader's real IP, and
compression (Flask-Compress: brotli or gzip, as the client accepts) of HTML, feeds and JSON."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from flask_compress import Compress
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
compress = Compress()

COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/xml",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/atom+xml",
    "application/xml",
    "image/svg+xml",
]


def client_ip() -> str:
    """The reader's IP. ProxyFix (see security.py) has already peeled exactly the trusted hops."""
    return request.remote_addr or "unknown"


def normalised_email_key() -> str:
    """The account a sign-in or reset form names, as its owner would be found: so "Ann@X.org " and
    "ann@x.org" count against one account, from however many IPs they come."""
    raw = request.form.get("email", "")
    return "account:" + " ".join(raw.split()).lower()[:320]


limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)


def init_app(app: Flask) -> None:
    # The limiter first: a flood of forged or expired forms still counts against the sender.
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 4)
    app.config.setdefault("COMPRESS_REGISTER", False)
    # Never its conditional-request handling: it would trust If-Modified-Since (see app/web/pagecache.py).
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    # Never a streamed body (static files, the media files): Flask-Compress would read the file through
    # and leave it open. Pages, feeds and JSON are not streamed; a reverse proxy compresses static files.
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress.init_app(app)
    app.after_request(_compress)


def _compress(response: Response) -> Response:
    """Compress what the page cache has not already compressed once (it marks its answers)."""
    if g.get("candor_cached_page"):
        return response
    return compress.after_request(response)


def retry_message() -> str:
    """What a 429 page says: which limit, and when to try again (also in the Retry-After header)."""
    limit = limiter.current_limit
    if limit is None:
        return "Too many requests; please wait a moment and try again."
    seconds = max(1, int(limit.reset_at - time.time()))
    minutes, rest = divmod(seconds, 60)
    wait = (
        f"{minutes} minute{'s' if minutes != 1 else ''}"
        if minutes
        else f"{rest} second{'s' if rest != 1 else ''}"
    )
    if minutes and rest:
        wait = f"{minutes + 1} minutes"
    return f"Too many attempts ({limit.limit}). Please try again in {wait}."
