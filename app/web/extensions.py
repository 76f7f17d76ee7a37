"""Third-party Flask extensions: CSRF on every form, rate limits keyed on the reader's real IP, and
compression (Flask-Compress: brotli or gzip, as the client accepts) of HTML, feeds and JSON."""

from __future__ import annotations

import functools
import ipaddress
import time
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_compress import Compress
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from limits.storage import RedisStorage
from werkzeug.http import parse_accept_header

from app.comments.burst import sender_key
from app.outbound import embedded_ipv4

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


def network_key() -> str:
    """The IPv6 /48 the reader's address belongs to (a site's network, which may route 65,536 /64s, each
    a reader's budget under ``limit_key``); "" for an IPv4 reader or an IPv6 address carrying one
    (IPv4-mapped, NAT64, 6to4, Teredo: ``app.outbound.embedded_ipv4``), whom ``limit_key`` already
    counts by their one address."""
    return network_of(client_ip())


@functools.lru_cache(maxsize=4096)
def network_of(ip: str) -> str:
    """``network_key`` of the address ``ip``."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if not isinstance(address, ipaddress.IPv6Address) or embedded_ipv4(address) is not None:
        return ""
    return str(ipaddress.IPv6Network((address, 48), strict=False))


def limit_key() -> str:
    """Whom a rate limit counts: the reader's IPv4 address, or their IPv6 /64. Every IPv6 customer is
    given at least a /64 and may use any address in it, so counting single IPv6 addresses limited no
    one (one machine could take a fresh address for every POST). An IPv4-mapped IPv6 address is the
    IPv4 reader it maps. Akismet and the moderators still see the whole address (``client_ip``)."""
    return sender_key(client_ip())  # the comment burst counts with the same rule


limiter = Limiter(key_func=limit_key, default_limits=[], headers_enabled=True)

_COUNTED = "candor_limit_counts"  # in flask.g: {key: (count, expires at)} from this request's increments


class CountingRedisStorage(RedisStorage):
    """limits' Redis storage, whose increment also answers the window's expiry, in the same script.

    Flask-Limiter counts a request (one script per limit), then reads the count and expiry of one of
    them back for the ``X-RateLimit-*`` headers: a GET and a TTL, two more round trips on every limited
    POST. Here the increment returns both, kept for the rest of the request (in ``flask.g``, so never
    read by another request), and the header's reads are answered from them. Counting is unchanged:
    the same keys, the same atomic INCRBY with its expiry set on the first hit, shared by every worker
    and server. ``redis://`` and ``rediss://`` rate-limit URIs use it (``init_app``)."""

    STORAGE_SCHEME = ["candor+redis", "candor+rediss"]
    SCRIPT_INCR_TTL = """
local current = redis.call("incrby", KEYS[1], tonumber(ARGV[2]))
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri.removeprefix("candor+"), **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_incr_ttl = self.get_connection().register_script(self.SCRIPT_INCR_TTL)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        current, ttl = self.lua_incr_ttl([self.prefixed_key(key)], [expiry, amount])
        if has_request_context():
            g.setdefault(_COUNTED, {})[key] = (int(current), max(int(ttl), 0) + time.time())
        return int(current)

    def _counted(self, key: str) -> tuple[int, float] | None:
        return g.get(_COUNTED, {}).get(key) if has_request_context() else None

    def get(self, key: str) -> int:
        counted = self._counted(key)
        return counted[0] if counted is not None else super().get(key)

    def get_expiry(self, key: str) -> float:
        counted = self._counted(key)
        return counted[1] if counted is not None else super().get_expiry(key)


def skip_empty_limit_check(app: Flask) -> None:
    """Drop Flask-Limiter's check of every request (a ``before_request``) while it has nothing to check.

    That check serves default, application and blueprint limits; Candor sets none: every limit is a
    view's decorator, and the decorator checks its own limit when the view is called. So the check
    found nothing on every request, at about a tenth of a millisecond of CPU each (a comment POST, an
    uncached page). Called once the blueprints are registered (``create_app``); should any such limit
    be set, the check stays."""
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or manager._blueprint_limits:
        return
    hooks = app.before_request_funcs.get(None, [])
    app.before_request_funcs[None] = [hook for hook in hooks if hook != limiter._check_request_limit]


def _failure_retry_after(response: Response) -> Response:
    """A form page answering a 409 or 503 says when to send again, and so does its ``Retry-After``
    (app.web.errors.failure_response). Flask-Limiter adds its own to every answer it counted, the
    window's reset when later: registered before the limiter, this runs after it and puts the page's
    back, so the header and the page agree."""
    retry_after = g.get("candor_retry_after")
    if retry_after is not None and response.status_code in (409, 503):
        response.headers["Retry-After"] = retry_after
    return response


def init_app(app: Flask) -> None:
    app.after_request(_failure_retry_after)  # registered first: runs after the limiter's headers
    # The limiter first: a flood of forged or expired forms still counts against the sender.
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://")):
        app.config["RATELIMIT_STORAGE_URI"] = "candor+" + app.config["RATELIMIT_STORAGE_URI"]
    # Redis down is never a 500: each process counts in memory until Redis answers again (limits then
    # per process, not shared), and an error reading the counts for the headers is logged, not raised.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
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
    """Compress what the page cache has not already compressed once (it marks its answers), in an
    encoding the client accepts. Flask-Compress (1.25) chose an encoding the client refused (``q=0``)
    when it refused every one we have: the answer then goes as it is."""
    if g.get("candor_cached_page"):
        return response
    accepted = parse_accept_header(request.headers.get("Accept-Encoding", ""))
    if not any(accepted.quality(name) > 0 for name in current_app.config["COMPRESS_ALGORITHM"]):
        response.vary.add("Accept-Encoding")
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
    return f"Too many attempts ({per(limit.limit)}). Please try again in {wait}."


def per(item: Any) -> str:
    """A rate limit in words: "4 per minute", "5 per 15 minutes" (the library's own text says "4 per 1
    minute" and "5 per 15 minute")."""
    unit = item.GRANULARITY.name
    if item.multiples == 1:
        return f"{item.amount} per {unit}"
    return f"{item.amount} per {item.multiples} {unit}s"
