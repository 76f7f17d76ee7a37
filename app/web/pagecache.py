"""Whole-page caching for anonymous readers, correct across workers and hosts.

Each cached page is keyed by what it shows (for a post: its id, its ``version`` and its byline; for
every page, the run-time settings' version, since the site name is on it), read
from the database on every request with one indexed query. Any change a reader could see increments
the version (one rule, in app.posts.models), so a stale page is never served, whichever worker or
host rendered it: a worker holding an old entry simply never asks for that key again, and the LRU
lets it fall out.

A hit on a post page is answered by ``FastPath`` before Flask is entered (see there for why and what
that skips); everything else goes through ``cached_page`` inside Flask.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from sqlalchemy.exc import SQLAlchemyError

from app.comments.closing import closed_by_age
from app.posts.services import page_key
from app.settings.services import version as settings_version
from app.web import runtime
from app.web.security import host_trusted


class PageCache:
    def __init__(self, max_entries: int = 512) -> None:
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._max = max_entries
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
        with self._lock:
            self._entries[key] = body
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def init_app(app: Flask) -> None:
    app.extensions["candor.pagecache"] = PageCache()
    app.wsgi_app = FastPath(app, app.wsgi_app)  # type: ignore[method-assign]


def cache() -> PageCache:
    return current_app.extensions["candor.pagecache"]


def cacheable() -> bool:
    """Only anonymous GETs are shared: anything personal (a signed-in header, a staff Edit link, the
    viewer's own time zone, a flash) is not. No session cookie means no user; the user is checked too,
    so a page rendered for someone is never stored even if that ever stopped being true."""
    return (
        request.method == "GET"
        and not session
        and not request.cookies.get(current_app.config.get("SESSION_COOKIE_NAME", "session"))
        and g.get("user") is None
    )


def cached_page(key: Hashable, render: Callable[[], str]) -> Response:
    if not cacheable():
        return Response(render())
    full_key = (request.path, request.query_string, runtime.version(), key)
    body = cache().get(full_key)
    hit = body is not None
    if body is None:
        body = render().encode()
        cache().put(full_key, body)
    response = Response(body, mimetype="text/html")
    response.headers["X-Candor-Cache"] = "hit" if hit else "miss"
    return response


class FastPath:
    """Answer a cached post page to an anonymous reader without entering Flask.

    Why: for a cached page, Flask's request context, the session interface, Flask-Limiter, CSRF and the
    request hooks cost several times what gunicorn and the cache lookup do (bench/bench_post_page.py).
    A hit needs none of them. Its key comes from the same one indexed query (``page_key``), so it is
    exactly as fresh, across workers and hosts, as a hit inside Flask; the body is the one
    ``cached_page`` stored; the headers are the ones Flask sent with that same page, captured when
    Flask answered it. Anything else (a miss, a query string, a cookie, a HEAD, any other path, a Host
    the blog does not answer for) goes through Flask untouched, and Flask's answer to an eligible request
    is what fills this cache.

    What a hit skips, so the post page must not need it: rate limits (reader pages have none), the
    session (no session cookie was sent, so there is none) and request hooks. The key includes the
    run-time settings' version (app/web/runtime.py), so a new site name is never served stale.
    """

    # What Flask would route to posts.show with request.path equal to PATH_INFO: a plain ASCII slug.
    # ... and to corrections.changes for its default comparison (first publication against current).
    _POST_PAGE = re.compile(r"/posts/([a-z0-9][a-z0-9-]{0,199})(/changes)?")
    _SKIP = {"content-length", "x-candor-cache"}

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.headers = PageCache()  # full key -> the headers Flask sent with that page

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        full_key = self._eligible_key(environ)
        if full_key is None:
            return self.wsgi_app(environ, start_response)
        headers = self.headers.get(full_key)
        body = self.app.extensions["candor.pagecache"].get(full_key) if headers is not None else None
        if body is not None:
            start_response(
                "200 OK", [*headers, ("Content-Length", str(len(body))), ("X-Candor-Cache", "hit")]
            )
            return [body]
        return self._through_flask(full_key, environ, start_response)

    def _eligible_key(self, environ: dict[str, Any]) -> tuple[Hashable, ...] | None:
        """The page's full cache key (as ``cached_page`` builds it), or None to leave it all to Flask."""
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
            return None
        if not host_trusted(self.app, environ):
            return None  # the host guard inside answers 400: never served from, nor filling, the cache
        cookie_name = self.app.config.get("SESSION_COOKIE_NAME", "session")
        if cookie_name + "=" in environ.get("HTTP_COOKIE", ""):
            return None
        match = self._POST_PAGE.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        try:
            with self.app.extensions["candor.engine"].connect() as connection:
                key = page_key(connection, match.group(1))
                version = settings_version(connection)
        except SQLAlchemyError:
            return None  # Flask will answer, with a proper error page if the database is down
        if key is None:
            return None
        if match.group(2):
            return (environ["PATH_INFO"], b"", version, ("changes", key))
        # As app.posts.views.post_page_key: whether comments have closed by age is part of the page.
        days = int(self.app.config.get("COMMENTS_CLOSE_AFTER_DAYS") or 0)
        return (environ["PATH_INFO"], b"", version, ("post", (*key, closed_by_age(key[-1], days))))

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
