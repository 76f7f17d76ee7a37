"""How cached reader pages are delivered: one round trip for a hit, gzip, validators and 304, query
parameters that do not change the page sharing one entry, Cache-Control, and a page cache in Redis
shared by several apps (workers or servers) with the same never-stale rule."""

from __future__ import annotations

import gzip
import os
import uuid
from typing import Any

import pytest
import redis
from sqlalchemy import event

from app import create_app
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.posts import services
from tests.support.databases import postgresql_only
from tests.support.require_all import require_redis
from tests.support.web import log_in, parse, text_of

REDIS_URL = "redis://127.0.0.1:6379/12"


def _correct(session: Any, post: Any, body: str, editor: Any) -> None:
    current = post.current_revision
    services.revise(
        session,
        post.author,
        post,
        services.RevisionInput(
            current.title, body, list(current.references), "correction", "Fixed the dose."
        ),
        current.number,
    )
    editorial.submit(session, post.author, post, GateSettings())
    editorial.approve(session, editor, post, post.current_revision.number, GateSettings())
    session.commit()


def test_a_page_is_gzipped_for_a_client_that_accepts_it_and_only_then(client, make_post):
    post = make_post("published", body="Adults need sleep. " * 200)
    plain = client.get(f"/posts/{post.slug}")
    for _ in range(2):  # the miss inside Flask, then the hit before it
        packed = client.get(f"/posts/{post.slug}", headers={"Accept-Encoding": "gzip, deflate"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.get_data()) == plain.get_data()
        assert int(packed.headers["Content-Length"]) == len(packed.get_data()) < len(plain.get_data())
    assert "Content-Encoding" not in client.get(f"/posts/{post.slug}").headers
    refused = client.get(f"/posts/{post.slug}", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.get_data() == plain.get_data()


def test_feeds_and_json_are_compressed_too(client, make_post):
    for n in range(3):
        make_post("published", title=f"Sleep {n}", body="Adults need sleep. " * 50)
    for path in ("/feed.atom", "/api/v1/posts", "/corrections"):
        plain = client.get(path)
        packed = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert packed.status_code == 200 and packed.headers.get("Content-Encoding") == "gzip", path
        assert gzip.decompress(packed.get_data()) == plain.get_data(), path


def test_a_conditional_get_of_the_current_page_is_answered_304_and_a_correction_ends_that(
    client, session, make_post, make_user
):
    post = make_post("published", body="Take 50 mg.")
    first = client.get(f"/posts/{post.slug}")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Last-Modified"]
    for _ in range(2):  # answered inside Flask, then by the fast path
        again = client.get(f"/posts/{post.slug}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b""
        assert again.headers["ETag"] == etag
    assert client.get(f"/posts/{post.slug}", headers={"If-None-Match": 'W/"other"'}).status_code == 200
    _correct(session, post, "Take 5 mg.", make_user("editor"))
    after = client.get(f"/posts/{post.slug}", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert text_of(parse(after), "#post-body") == "Take 5 mg."


def test_if_modified_since_alone_never_hides_a_correction(client, session, make_post, make_user):
    post = make_post("published", body="Take 50 mg.")
    stamp = client.get(f"/posts/{post.slug}").headers["Last-Modified"]
    _correct(session, post, "Take 5 mg.", make_user("editor"))
    after = client.get(f"/posts/{post.slug}", headers={"If-Modified-Since": stamp})
    assert after.status_code == 200 and text_of(parse(after), "#post-body") == "Take 5 mg."


def test_parameters_a_page_does_not_read_share_its_entry(app, client, make_post):
    post = make_post("published")
    pages = app.extensions["candor.pagecache"].local
    assert client.get(f"/posts/{post.slug}").headers["X-Candor-Cache"] == "miss"
    for n in range(40):
        answer = client.get(f"/posts/{post.slug}?utm_source=n{n}&fbclid={uuid.uuid4()}")
        assert answer.status_code == 200 and answer.headers["X-Candor-Cache"] == "hit"
    assert len(pages) == 1


def test_parameters_a_page_reads_still_choose_the_page(client, make_post):
    for n in range(25):
        make_post("published", title=f"Post number {n}")
    first = parse(client.get("/?utm_source=x"))
    cursor = first.select_one('a[rel="next"]')["href"].split("after=", 1)[1]
    second = parse(client.get(f"/?after={cursor}&utm_source=y"))
    again = parse(client.get(f"/?utm_medium=z&after={cursor}"))

    def titles(soup: Any) -> list[str]:
        return [a.get_text() for a in soup.select("article h2")]

    assert titles(first) and titles(first) != titles(second)
    assert titles(second) == titles(again)


def test_reader_pages_may_be_kept_briefly_by_a_cdn_but_a_signed_in_page_is_private(
    client, make_post, make_user
):
    post = make_post("published")
    control = client.get(f"/posts/{post.slug}").headers["Cache-Control"]
    assert "public" in control and "s-maxage=10" in control and "stale-while-revalidate=30" in control
    assert "max-age=0" in control  # a browser asks again (cheaply: 304) rather than trusting its copy
    editor = make_user("editor")
    log_in(client, editor.email)
    mine = client.get(f"/posts/{post.slug}")
    assert "private" in mine.headers["Cache-Control"] and "X-Candor-Cache" not in mine.headers


@postgresql_only
def test_a_cached_hit_on_postgresql_is_one_round_trip(app, client, make_post, tmp_path):
    """What libpq sends, traced: a hit is one statement; no pre-ping, no BEGIN, no ROLLBACK."""
    engine = app.extensions["candor.engine"]
    import psycopg

    trace = tmp_path / "libpq.trace"
    handle = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def traced(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.pgconn.trace(handle)
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    engine.dispose()
    event.listen(engine, "connect", traced)
    try:
        post = make_post("published")
        client.get(f"/posts/{post.slug}")
        client.get(f"/posts/{post.slug}")
        before = trace.stat().st_size
        answer = client.get(f"/posts/{post.slug}")
        sent = [line.split("\t") for line in trace.read_text()[before:].splitlines()]
    finally:
        event.remove(engine, "connect", traced)
        engine.dispose()
        os.close(handle)
    assert answer.headers["X-Candor-Cache"] == "hit"
    frontend = [fields[2].strip() for fields in sent if fields[0] == "F"]
    round_trips = [m for m in frontend if m in ("Query", "Sync")]
    assert len(round_trips) == 1, frontend
    assert not any("BEGIN" in line or "ROLLBACK" in line for line in map(str, sent))


@pytest.fixture
def shared_apps(database_url: str, tmp_path: Any) -> Any:
    require_redis()
    queue = f"candor-test-{uuid.uuid4().hex[:12]}"
    config = {
        "DATABASE_URL": database_url,
        "TESTING": True,
        "REDIS_URL": REDIS_URL,
        "JOBS_QUEUE": queue,
        "DEMO_ACCOUNTS_DIR": str(tmp_path),
    }
    apps = [create_app(config), create_app(config)]
    yield apps
    for one in apps:
        one.extensions["candor.engine"].dispose()
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{queue}:*"):
        client.delete(key)


def test_a_page_rendered_by_one_server_is_served_by_the_other_from_redis_and_never_stale(
    shared_apps, session, make_post, make_user
):
    a, b = (one.test_client() for one in shared_apps)
    post = make_post("published", body="Take 50 mg.")
    assert a.get(f"/posts/{post.slug}").headers["X-Candor-Cache"] == "miss"
    from_b = b.get(f"/posts/{post.slug}", headers={"Accept-Encoding": "gzip"})
    assert from_b.headers["X-Candor-Cache"] == "hit"  # rendered once, by a, for both
    assert "Take 50 mg." in gzip.decompress(from_b.get_data()).decode()
    _correct(session, post, "Take 5 mg.", make_user("editor"))
    for client in (b, a, b, a):
        assert text_of(parse(client.get(f"/posts/{post.slug}")), "#post-body") == "Take 5 mg."


def test_redis_going_away_costs_a_render_not_an_error(database_url, tmp_path, make_post):
    broken = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "DEMO_ACCOUNTS_DIR": str(tmp_path),
        }
    )
    try:
        post = make_post("published", body="Take 50 mg.")
        page = broken.test_client().get(f"/posts/{post.slug}")
        assert page.status_code == 200 and text_of(parse(page), "#post-body") == "Take 50 mg."
    finally:
        broken.extensions["candor.engine"].dispose()
