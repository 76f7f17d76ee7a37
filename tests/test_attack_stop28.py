"""Attacks on issue 15's caching and operations (stop 28): each test failed before its fix.

- A ``HEAD`` of a reader page was never served from the page cache (and never filled it): each one drew
  the page again, so a client sending HEADs to the busiest post cost a full render per request.
- ``/sitemap.xml`` and a topic's feed declared no query parameters, so every ``?utm_source=`` variant was
  an entry of its own: rendered again, and kept in Redis for a day.
- Pages with query parameters (forged ``?after=`` and ``?before=`` cursors) were stored in Redis, under
  keys a reader chooses without limit, for a day each: a loop of requests filled the Redis that also
  holds the job queue and the rate limits. They stay in each worker's bounded LRU now.
- Flask-Compress sent gzip (or brotli) to a client refusing every encoding we have (``gzip;q=0``).
- ``/metrics`` labelled latency by the request's method as sent: every invented method (``FOO1``,
  ``FOO2`` ...) was a new label set of 14 buckets in every process, forever.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.posts.models import Post, Topic
from tests.support.require_all import require_redis

REDIS_URL = "redis://127.0.0.1:6379/12"


def test_a_head_of_a_reader_page_is_answered_from_the_page_cache(client: Any, make_post: Any) -> None:
    post = make_post()
    first = client.head(f"/posts/{post.slug}")
    again = client.head(f"/posts/{post.slug}")
    assert first.status_code == again.status_code == 200
    assert again.get_data() == b""
    assert again.headers["X-Candor-Cache"] == "hit", again.headers
    assert again.headers["Cache-Control"].startswith("public")
    get = client.get(f"/posts/{post.slug}")
    assert get.headers["X-Candor-Cache"] == "hit"  # the HEAD's render is the GET's: one page, one entry
    assert get.headers["ETag"] == again.headers["ETag"]


@pytest.mark.parametrize("path", ["/sitemap.xml", "/topics/{topic}/feed.atom"])
def test_parameters_the_sitemap_and_a_topic_feed_do_not_read_share_their_entry(
    client: Any, make_post: Any, session: Any, path: str
) -> None:
    make_post()
    topic = Topic(name="Sleep", slug="sleep")
    session.add(topic)
    session.commit()
    url = path.format(topic=topic.slug)
    assert client.get(url).headers["X-Candor-Cache"] == "miss"
    for n in range(3):
        answer = client.get(f"{url}?utm_source=n{n}&fbclid={uuid.uuid4().hex}")
        assert answer.status_code == 200 and answer.headers["X-Candor-Cache"] == "hit", n


def _cursor(kind: str, *values: Any) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
def redis_app(database_url: str, tmp_path: Any) -> Iterator[tuple[Flask, str]]:
    require_redis()
    queue = f"candor-test-{uuid.uuid4().hex[:12]}"
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "REDIS_URL": REDIS_URL,
            "JOBS_QUEUE": queue,
            "DEMO_ACCOUNTS_DIR": str(tmp_path),
        }
    )
    yield app, queue
    app.extensions["candor.engine"].dispose()
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{queue}:*"):
        client.delete(key)
    client.close()


def test_pages_a_reader_names_by_query_parameters_are_not_kept_in_redis(
    redis_app: tuple[Flask, str], make_post: Callable[..., Post]
) -> None:
    """Any number of valid cursors (each a position a reader may forge): none is kept in Redis, where each
    would have stayed a day; each worker's LRU (bounded) still has them."""
    app, queue = redis_app
    post = make_post()
    client = app.test_client()
    shared = redis.Redis.from_url(REDIS_URL)
    assert client.get("/").headers["X-Candor-Cache"] == "miss"
    assert client.get(f"/posts/{post.slug}").headers["X-Candor-Cache"] == "miss"
    plain = set(shared.scan_iter(f"{queue}:page:*"))
    assert len(plain) == 2  # the pages without parameters are shared
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for n in range(20):
        moment = (start + timedelta(seconds=n)).isoformat()
        answer = client.get("/", query_string={"before": _cursor("posts", moment, n + 1)})
        assert answer.status_code in (200, 404), answer.status_code
        forged = _cursor("corrections", moment, "correction", n + 1)
        answer = client.get("/corrections", query_string={"after": forged})
        assert answer.status_code in (200, 404), answer.status_code
    assert set(shared.scan_iter(f"{queue}:page:*")) == plain
    shared.close()


def test_metrics_label_only_methods_http_knows(app: Flask, client: Any, make_post: Any) -> None:
    post = make_post()
    for n in range(12):
        answer = client.open(f"/posts/{post.slug}", method=f"FOO{n}")
        assert answer.status_code in (400, 405, 501)
        answer.close()
    metrics = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert metrics.status_code == 200
    methods = {
        sample.labels["method"]
        for family in text_string_to_metric_families(metrics.get_data(as_text=True))
        if family.name == "candor_request_duration_seconds"
        for sample in family.samples
    }
    assert methods, "no latency recorded"
    assert not {m for m in methods if m.startswith("FOO")}, methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods


@pytest.mark.parametrize(
    ("accept_encoding", "encoding"),
    [
        ("gzip;q=0", None),  # "anything but gzip": it was sent gzip all the same
        ("br;q=0, gzip;q=0", None),
        ("*;q=0, identity", None),
        ("gzip;q=0, br", "br"),
        ("gzip", "gzip"),
        ("", None),
    ],
)
def test_an_encoding_the_client_refuses_is_never_sent(
    client: Any, make_post: Any, accept_encoding: str, encoding: str | None
) -> None:
    """RFC 9110: ``q=0`` means not acceptable. Flask-Compress (1.25) picked a refused encoding when the
    client refused every one it supports; the answers it compresses (JSON, uncached pages) now go as
    they are then. The page cache's own gzip already asked the same question correctly."""
    for n in range(3):
        make_post(title=f"A post about sleep, part {n}", body="Adults need *seven hours* of sleep. " * 40)
    for path in ("/api/v1/posts", "/topics", "/"):
        answer = client.get(path, headers={"Accept-Encoding": accept_encoding})
        assert answer.status_code == 200
        cached_gzip_only = path == "/" and encoding == "br"  # the page cache keeps gzip alone
        assert answer.headers.get("Content-Encoding") == (None if cached_gzip_only else encoding)
        assert "Accept-Encoding" in answer.headers.get("Vary", "")
