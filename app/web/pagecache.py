"""Whole-page caching for anonymous readers, correct across workers and hosts.

Each cached page is keyed by what it shows (for a post: its id, its updated_at stamp and its byline),
read from the database on every request with one indexed query. Any change a reader could see bumps
the stamp, so a stale page is never served, whichever worker or host rendered it: a worker holding an
old entry simply never asks for that key again, and the LRU lets it fall out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, Response, current_app, request, session


class PageCache:
    def __init__(self, max_entries: int = 512) -> None:
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return body

    def put(self, key: Hashable, body: bytes) -> None:
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


def cache() -> PageCache:
    return current_app.extensions["candor.pagecache"]


def cacheable() -> bool:
    """Only anonymous GETs are shared: anything personal (a signed-in header, a flash) is not."""
    return request.method == "GET" and not session and not request.cookies.get(
        current_app.config.get("SESSION_COOKIE_NAME", "session")
    )


def cached_page(key: Hashable, render: Callable[[], str]) -> Response:
    if not cacheable():
        return Response(render())
    full_key = (request.path, request.query_string, key)
    body = cache().get(full_key)
    hit = body is not None
    if body is None:
        body = render().encode()
        cache().put(full_key, body)
    response = Response(body, mimetype="text/html")
    response.headers["X-Candor-Cache"] = "hit" if hit else "miss"
    return response
