"""Whole-page caching for anonymous readers, correct across workers and hosts.

Each cached page is keyed by what it shows (for a post: its id, its ``version`` and its byline; for
every page, the run-time settings' version, since the site name is on it), read
from the database on every request with one indexed query. Any change a reader could see increments
the version (one rule, in app.posts.models), so a stale page is never served, whichever worker or
host rendered it: a worker holding an old entry simply never asks for that key again, and the LRU
lets it fall out.

What a page shows also depends on the query parameters it reads, and on nothing else in the query
string: a cached view declares its parameters with ``@reads_query("page")``; the view (and its render)
then sees only those, and only those are in the key. So ``?utm_source=`` and every other parameter a
reader appends share the entry of the plain page: memory is bounded whatever readers append. A view
that declares nothing keeps the whole query string in its key (correct, only unbounded).

An entry holds the page once as sent and once gzipped (compressed once, when stored), a weak ``ETag``
(a digest of the body) and the time it was rendered (``Last-Modified``). Answers carry ``Cache-Control``
for shared caches (a CDN may keep a reader page ``CANDOR_CDN_MAX_AGE`` seconds and serve it stale while
it revalidates for ``CANDOR_CDN_STALE`` more; browsers always revalidate, and a conditional GET whose
``If-None-Match`` names the current page is answered 304). ``If-Modified-Since`` alone is not trusted:
two versions rendered within the same second would share a ``Last-Modified``.

Where entries live: each worker keeps a bounded LRU (by bytes); with ``REDIS_URL`` set, entries are
also stored in Redis (``RedisPages``), shared by every worker and server, under the same keys, so a
busy post is rendered once per change, not once per worker. The never-stale rule is the key's, so it
holds in Redis too.

A hit on a post page is answered by ``FastPath`` before Flask is entered (see there for why and what
that skips); everything else goes through ``cached_page`` inside Flask.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request, session
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.http import http_date, parse_accept_header, parse_etags
from werkzeug.wrappers import Request

from app.comments.closing import closed_by_age
from app.posts.services import page_key_statement
from app.settings.services import version_column
from app.web import runtime
from app.web.database import replica_engine
from app.web.ops import ROUTE_KEY
from app.web.security import host_trusted

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# Bodies smaller than this are sent as they are: gzip would save less than its own headers cost.
MIN_GZIP = 500
REDIS_TTL = 24 * 3600  # an entry nobody asks for again (an old version's) leaves Redis within a day


@dataclass(frozen=True)
class Page:
    """One cached answer: its body as sent and gzipped, its validator and when it was rendered."""

    body: bytes
    gzipped: bytes | None
    etag: str  # opaque tag of a weak ETag
    last_modified: float

    @classmethod
    def of(cls, body: bytes, *, rendered_at: float | None = None) -> Page:
        packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= MIN_GZIP else None
        tag = hashlib.blake2b(body, digest_size=12).hexdigest()
        return cls(body, packed, tag, time.time() if rendered_at is None else rendered_at)

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")

    def encoded_for(self, accept_encoding: str | None) -> tuple[bytes, str | None]:
        """The body for a client sending ``accept_encoding``, and the Content-Encoding it is in."""
        if self.gzipped is not None and accepts_gzip(accept_encoding):
            return self.gzipped, "gzip"
        return self.body, None

    def not_modified(self, if_none_match: str | None) -> bool:
        return bool(if_none_match) and parse_etags(if_none_match).contains_weak(self.etag)

    def validators(self) -> list[tuple[str, str]]:
        return [("ETag", f'W/"{self.etag}"'), ("Last-Modified", http_date(self.last_modified))]


def accepts_gzip(accept_encoding: str | None) -> bool:
    return bool(accept_encoding) and parse_accept_header(accept_encoding).quality("gzip") > 0


class PageCache:
    """A thread-safe LRU bounded by entry count and by total bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int | None = None) -> None:
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return body

    def put(self, key: Hashable, body: Any) -> None:
        size = getattr(body, "size", 0)
        if self._max_bytes is not None and size > self._max_bytes:
            return  # larger than the whole cache: never kept
        with self._lock:
            old = self._entries.pop(key, None)
            self._bytes -= getattr(old, "size", 0)
            self._entries[key] = body
            self._bytes += size
            while len(self._entries) > self._max or (
                self._max_bytes is not None and self._bytes > self._max_bytes
            ):
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= getattr(dropped, "size", 0)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes


class RedisPages:
    """Pages in Redis, shared by every worker and server: the gzipped body (or the body when too small
    to compress), its tag and render time, under a digest of the full key. Any Redis failure is a miss."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix

    def _key(self, full_key: Hashable) -> str:
        return f"{self.prefix}:page:{hashlib.sha256(repr(full_key).encode()).hexdigest()}"

    def get(self, full_key: Hashable) -> Page | None:
        try:
            found = self.client.hmget(self._key(full_key), ["gz", "body", "etag", "at"])
        except Exception:  # noqa: BLE001 - Redis down: render instead, and say so once in a while
            log.warning("page cache: Redis unreadable", exc_info=True)
            return None
        packed, body, etag, at = found
        if etag is None or (packed is None and body is None):
            return None
        if body is None:
            body = gzip.decompress(packed)
        return Page(body, packed, etag.decode(), float(at))

    def put(self, full_key: Hashable, page: Page) -> None:
        mapping: dict[str, Any] = {"etag": page.etag, "at": repr(page.last_modified)}
        if page.gzipped is not None:
            mapping["gz"] = page.gzipped
        else:
            mapping["body"] = page.body
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(full_key), mapping=mapping)
                pipe.expire(self._key(full_key), REDIS_TTL)
                pipe.execute()
        except Exception:  # noqa: BLE001 - this worker still has it; others will render it once
            log.warning("page cache: Redis unwritable", exc_info=True)


class Pages:
    """The page store: this worker's LRU in front of Redis (when configured).

    Only pages without query parameters go to Redis. A page named by its parameters (``?after=`` a
    cursor, which anyone may forge for any position, ``?from=&to=``) is kept by the worker's LRU alone,
    which is bounded: in Redis each such key a reader makes up would stay a day, beside the job queue
    and the rate limits, and a loop of requests would fill it. Those pages are rarely hot; each worker
    draws them once per version."""

    def __init__(self, local: PageCache, shared: RedisPages | None) -> None:
        self.local = local
        self.shared = shared

    def _shared_for(self, full_key: Hashable) -> RedisPages | None:
        query = full_key[1] if isinstance(full_key, tuple) and len(full_key) > 1 else None
        return self.shared if not query else None

    def get(self, full_key: Hashable) -> Page | None:
        page = self.local.get(full_key)
        shared = self._shared_for(full_key)
        if page is None and shared is not None:
            page = shared.get(full_key)
            if page is not None:
                self.local.put(full_key, page)
        return page

    def put(self, full_key: Hashable, page: Page) -> None:
        self.local.put(full_key, page)
        shared = self._shared_for(full_key)
        if shared is not None:
            shared.put(full_key, page)

    def clear(self) -> None:
        self.local.clear()


def init_app(app: Flask) -> None:
    shared = None
    if app.config.get("REDIS_URL"):
        shared = RedisPages(app.config["REDIS_URL"], app.config.get("JOBS_QUEUE") or "candor")
    megabytes = app.config.get("PAGE_CACHE_MB", 64)
    app.extensions["candor.pagecache"] = Pages(PageCache(max_bytes=int(megabytes * 1024 * 1024)), shared)
    app.wsgi_app = FastPath(app, app.wsgi_app)  # type: ignore[method-assign]


def cache() -> Pages:
    return current_app.extensions["candor.pagecache"]


def reads_query(*names: str) -> Callable[[F], F]:
    """Declare the query parameters a cached page reads: the view sees only those, the cache keys only
    on those. Put it directly under the route decorator."""
    allowed = frozenset(names)

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            request.args = ImmutableMultiDict(  # type: ignore[misc]
                [(k, v) for k, v in request.args.items(multi=True) if k in allowed]
            )
            return view(*args, **kwargs)

        inner.candor_query = allowed  # type: ignore[attr-defined]
        return inner  # type: ignore[return-value]

    return wrap


def declared_query(app: Flask, endpoint: str | None) -> frozenset[str] | None:
    return getattr(app.view_functions.get(endpoint or ""), "candor_query", None)


def query_key(declared: frozenset[str] | None, args: Any, query_string: bytes) -> Hashable:
    """The query's part of a full key: the declared parameters, sorted; the raw string if none declared."""
    if declared is None:
        return query_string
    return tuple(sorted((k, v) for k, v in args.items(multi=True) if k in declared))


_RENDERING: weakref.WeakValueDictionary[Hashable, Any] = weakref.WeakValueDictionary()
_RENDERING_LOCK = threading.Lock()


def _render_lock(full_key: Hashable) -> Any:
    with _RENDERING_LOCK:
        lock = _RENDERING.get(full_key)
        if lock is None:
            lock = _RENDERING[full_key] = threading.Lock()
        return lock


def cacheable() -> bool:
    """Only anonymous GETs (and HEADs, answered from the same entry: a HEAD that drew the page each time
    let anyone make the busiest post render on every request) are shared: anything personal (a
    signed-in header, a staff Edit link, the viewer's own time zone, a flash) is not. No session cookie
    means no user; the user is checked too, so a page rendered for someone is never stored even if that
    ever stopped being true."""
    return (
        request.method in ("GET", "HEAD")
        and not session
        and not request.cookies.get(current_app.config.get("SESSION_COOKIE_NAME", "session"))
        and g.get("user") is None
    )


def shared_cache_control(config: Any) -> str:
    """For a page every anonymous reader shares: a CDN may keep it briefly; browsers revalidate."""
    seconds = int(config.get("CDN_MAX_AGE", 10))
    if seconds <= 0:
        return "public, no-cache"
    return f"public, max-age=0, s-maxage={seconds}, stale-while-revalidate={int(config.get('CDN_STALE', 30))}"


def cached_page(key: Hashable, render: Callable[[], str]) -> Response:
    if not cacheable():
        response = Response(render())
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    declared = declared_query(current_app, request.endpoint)
    full_key = (request.path, query_key(declared, request.args, request.query_string), runtime.version(), key)
    pages = cache()
    page = pages.get(full_key)
    hit = page is not None
    if page is None:
        # One render per page version per process: readers missing the same key at once wait for the
        # first one's render (a busy post is re-rendered after every comment) instead of each rendering.
        with _render_lock(full_key):
            page = pages.get(full_key)
            hit = page is not None
            if page is None:
                page = Page.of(render().encode())
                pages.put(full_key, page)
    g.candor_cached_page = True  # compressed here, once: the generic compressor leaves it alone
    headers = [
        *page.validators(),
        ("Cache-Control", shared_cache_control(current_app.config)),
        ("Vary", "Accept-Encoding"),
        ("X-Candor-Cache", "hit" if hit else "miss"),
    ]
    if page.not_modified(request.headers.get("If-None-Match")):
        return Response(status=304, headers=headers)
    body, encoding = page.encoded_for(request.headers.get("Accept-Encoding"))
    response = Response(body, mimetype="text/html", headers=headers)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    return response


class FastPath:
    """Answer a cached post page to an anonymous reader without entering Flask.

    Why: for a cached page, Flask's request context, the session interface, Flask-Limiter, CSRF and the
    request hooks cost several times what gunicorn and the cache lookup do (bench/bench_post_page.py).
    A hit needs none of them. Its key comes from one statement, the page key with the settings' version
    as an extra column, sent on an autocommit connection without a pre-ping: one round trip to the
    database, no BEGIN or ROLLBACK. It is exactly as fresh, across workers and hosts, as a hit inside
    Flask; the body is the one ``cached_page`` stored; the headers are the ones Flask sent with that same
    page, captured when Flask answered it. Anything else (a miss, a cookie, a HEAD, any other path, a
    Host the blog does not answer for, a query parameter the page has not declared) goes through Flask
    untouched, and Flask's answer to an eligible request is what fills this cache.

    What a hit skips, so the post page must not need it: rate limits (reader pages have none), the
    session (no session cookie was sent, so there is none) and request hooks. The key includes the
    run-time settings' version (app/web/runtime.py), so a new site name is never served stale.
    """

    # What Flask would route to posts.show with request.path equal to PATH_INFO: a plain ASCII slug.
    # ... and to corrections.changes for its default comparison (first publication against current).
    _POST_PAGE = re.compile(r"/posts/([a-z0-9][a-z0-9-]{0,199})(/changes)?")
    _ENDPOINTS = {"post": "posts.show", "changes": "corrections.changes"}
    _ROUTES = {"post": "/posts/<slug>", "changes": "/posts/<slug>/changes"}
    # Per request, not per page: each hit sets its own length, encoding, validators and cache marker.
    _SKIP = {"content-length", "content-encoding", "x-candor-cache", "etag", "last-modified"}
    _STATEMENT = page_key_statement(version_column())

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.headers = PageCache()  # full key -> the headers Flask sent with that page
        self._engines: dict[int, Engine] = {}

    def engine(self, environ: dict[str, Any] | None = None) -> Engine:
        """The primary's engine, or the replica's when this request may read it (as inside Flask)."""
        engine: Engine = (
            replica_engine(self.app, environ) if environ is not None else None
        ) or self.app.extensions["candor.engine"]
        known = self._engines.get(id(engine))
        if known is None:
            # One statement, nothing to roll back: on PostgreSQL no BEGIN/ROLLBACK around it. (SQLite's
            # driver sends no BEGIN before a SELECT anyway.)
            known = engine
            if engine.dialect.name == "postgresql":
                known = engine.execution_options(isolation_level="AUTOCOMMIT")
            self._engines[id(engine)] = known
        return known

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        full_key = self._eligible_key(environ)
        if full_key is None:
            return self.wsgi_app(environ, start_response)
        headers = self.headers.get(full_key)
        page = self.app.extensions["candor.pagecache"].get(full_key) if headers is not None else None
        if page is not None:
            environ[ROUTE_KEY] = self._ROUTES[full_key[3][0]]  # type: ignore[index]
            extra = [*page.validators(), ("X-Candor-Cache", "hit")]
            if page.not_modified(environ.get("HTTP_IF_NONE_MATCH")):
                start_response("304 Not Modified", [*headers, *extra])
                return []
            body, encoding = page.encoded_for(environ.get("HTTP_ACCEPT_ENCODING"))
            if encoding:
                extra.append(("Content-Encoding", encoding))
            start_response("200 OK", [*headers, *extra, ("Content-Length", str(len(body)))])
            return [body]
        return self._through_flask(full_key, environ, start_response)

    def _eligible_key(self, environ: dict[str, Any]) -> tuple[Hashable, ...] | None:
        """The page's full cache key (as ``cached_page`` builds it), or None to leave it all to Flask."""
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        match = self._POST_PAGE.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        if not host_trusted(self.app, environ):
            return None  # the host guard inside answers 400: never served from, nor filling, the cache
        cookie_name = self.app.config.get("SESSION_COOKIE_NAME", "session")
        if cookie_name + "=" in environ.get("HTTP_COOKIE", ""):
            return None
        kind = "changes" if match.group(2) else "post"
        declared = declared_query(self.app, self._ENDPOINTS[kind])
        query_string = environ.get("QUERY_STRING", "").encode("latin-1")
        if query_string and declared is None:
            return None
        args = Request(environ).args if query_string else ImmutableMultiDict()
        try:
            with self.engine(environ).connect() as connection:
                row = connection.execute(self._STATEMENT, {"slug": match.group(1), "type": "post"}).first()
        except SQLAlchemyError:
            return None  # Flask will answer, with a proper error page if the database is down
        if row is None:
            return None
        *key, version = tuple(row)
        if kind == "post":
            # As app.posts.views.post_page_key: whether comments have closed by age is part of the page.
            days = int(self.app.config.get("COMMENTS_CLOSE_AFTER_DAYS") or 0)
            key = [*key, closed_by_age(key[-1], days)]
        return (environ["PATH_INFO"], query_key(declared, args, query_string), version, (kind, tuple(key)))

    def _through_flask(
        self, full_key: Hashable, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        captured: list[tuple[str, str]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {k.lower() for k, _ in headers}
            # Never replay a cookie to other readers: a page that sets one is not stored.
            if status.startswith("200 ") and "x-candor-cache" in names and "set-cookie" not in names:
                captured.extend((k, v) for k, v in headers if k.lower() not in self._SKIP)
            return start_response(status, headers, exc_info)

        answer = self.wsgi_app(environ, capture)
        if captured:
            self.headers.put(full_key, captured)
        return answer
