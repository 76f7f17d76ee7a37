"""What readers are held to: one real mailbox per comment, and a burst limit that holds under concurrency.

The burst limit (``COMMENT_BURST`` comments from one address within ten minutes, then the next is
held) is raced here for real: ten comments from one address at the same moment, through a threaded
HTTP server, on SQLite and PostgreSQL, with and without Redis (a real server on 127.0.0.1:6379).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from app.comments.models import Comment
from app.posts.models import Post
from tests.support.comments import READER, assert_form_refused, comment_api

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


@pytest.mark.parametrize(
    "address",
    [
        "allstaff,victim@evil.example",
        "allstaff@clinic.example, victim@evil.example",
        '"<script>alert(1)</script>"@example.org',
        "Victim <victim@example.org>",
        "victim@[127.0.0.1]",
        "victim@localhost",
        "victim@example..org",
        "vic..tim@example.org",
        "victim@example.org\nBcc: all@clinic.example",
        "ünïcode@exämple.org",
        "@example.org",
        "victim@",
    ],
)
def test_anything_but_one_plain_mailbox_is_refused_with_the_field_named(
    client: Any, make_post: Callable[..., Post], session: Session, address: str
) -> None:
    answer = comment_api(client, make_post(), author_email=address)
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["field"] == "author_email"
    assert "e-mail address" in error["message"] or "single line" in error["message"]
    assert session.scalars(select(Comment)).all() == []


def test_a_valid_address_is_kept_lower_cased_with_an_ascii_domain(
    client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    answer = comment_api(client, make_post(), author_email="Ada.Reader+blog@Exämple.ORG")
    assert answer.status_code in (201, 202), answer.get_json()
    assert session.scalars(select(Comment)).one().author_email == "ada.reader+blog@xn--exmple-cua.org"


def test_the_contact_form_uses_the_same_rule(client: Any) -> None:
    answer = client.post(
        "/contact",
        data={
            "name": "Cy Reader",
            "email": "a@example.org,b@example.org",
            "subject": "Visiting",
            "message": "When are visiting hours?",
        },
    )
    assert answer.status_code == 422
    assert "e-mail address" in answer.get_data(as_text=True)


# --- the burst limit under concurrency ------------------------------------------------------------------


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def _ten_at_once(url: str) -> list[int]:
    barrier = threading.Barrier(10)
    codes = [0] * 10

    def send(i: int) -> None:
        body = {**READER, "author_email": f"reader{i}@example.net", "body": f"Question {i} about sleep?"}
        barrier.wait()
        codes[i] = httpx.post(url, json=body, timeout=30).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return codes


@pytest.mark.parametrize("redis", ["database", "redis", "redis-down"])
def test_ten_comments_at_once_from_one_address_hold_all_past_the_burst(
    app: Any, server: str, make_post: Callable[..., Post], session: Session, redis: str
) -> None:
    app.config["COMMENT_BURST"] = 3
    if redis == "redis":
        app.config["REDIS_URL"] = REDIS_URL
        app.config["JOBS_QUEUE"] = f"candor-test-{uuid.uuid4().hex}"  # its own burst counts in Redis
    elif redis == "redis-down":
        app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"  # nothing listens: the database counts instead
    post = make_post()
    codes = _ten_at_once(f"{server}/api/v1/posts/{post.id}/comments")
    assert set(codes) <= {201, 202}, codes
    session.expire_all()
    comments = session.scalars(select(Comment)).all()
    assert len(comments) == 10  # none lost
    limited = [c for c in comments if "rate_limit" in c.reasons]
    assert len(limited) == 7, [(c.id, c.status, c.reasons) for c in comments]
    assert all(c.status != "published" for c in limited)


def test_the_reader_limit_is_counted_in_redis_for_every_server_and_its_headers_follow_the_count(
    app_config: dict[str, Any], database_url: str, make_post: Callable[..., Post]
) -> None:
    """Two app servers share the reader's limit in Redis: 3 a minute from one address, spread over both,
    then 429 on either with Retry-After. Each answer's X-RateLimit headers are what Redis holds (the
    count its increment returned, its window's expiry), though nothing but the increment is asked."""
    import time

    import redis

    from app import create_app

    # An address no earlier run has counted (the limiter's key prefix is set once per process).
    n = uuid.uuid4().int
    ip = f"10.{n % 256}.{(n >> 8) % 256}.{(n >> 16) % 256}"
    config = {
        **app_config,
        "DATABASE_URL": database_url,
        "TESTING": True,
        "COMMENT_CHECK_BUDGET_MS": 0,
        "COMMENT_RATE_LIMIT": "3 per minute; 100 per day",
        "RATELIMIT_STORAGE_URI": REDIS_URL,
    }
    servers = [create_app(config) for _ in range(2)]
    try:
        post = make_post()
        clients = [s.test_client() for s in servers]
        answers = [
            clients[n % 2].post(
                f"/api/v1/posts/{post.id}/comments",
                json={**READER, "body": f"Question {n} about sleep?"},
                environ_base={"REMOTE_ADDR": ip},
            )
            for n in range(4)
        ]
        assert [a.status_code for a in answers] == [202, 202, 202, 429], [a.get_json() for a in answers]
        assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3"] * 4
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        for answer in answers:
            assert time.time() < int(answer.headers["X-RateLimit-Reset"]) <= time.time() + 61
        assert 0 < int(answers[-1].headers["Retry-After"]) <= 60
        client = redis.Redis.from_url(REDIS_URL)
        keys = client.keys(f"*/{ip}/reader-posts/*")
        assert keys, "the reader's counters are not in Redis"
        assert all(0 < client.ttl(k) <= 86400 for k in keys)  # every window expires
        # The minute's window counted all four; Flask-Limiter stops at the first limit refused.
        assert max(int(client.get(k)) for k in keys) == 4
        client.delete(*keys)
        client.close()
    finally:
        for server in servers:
            server.extensions["candor.engine"].dispose()


def test_a_reader_over_the_rate_limit_gets_the_form_back_with_what_they_wrote(
    app: Any, client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """The form's 429 used to be the plain error page: the reader's comment was gone. Now the form comes
    back with their name, address and text, says when to try again, and stores nothing; a reply keeps the
    comment it answers. The API's 429 stays the plain JSON error."""
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    post = make_post()
    for n in range(2):
        sent = client.post(f"/posts/{post.slug}/comments", data={**READER, "body": f"Question {n}?"})
        assert sent.status_code == 303
    parent = session.scalars(select(Comment).where(Comment.post_id == post.id)).first()
    parent.status = "published"
    session.commit()
    words = "Does a nap count towards the <hours> of sleep?"
    for extra in ({}, {"parent_id": str(parent.id)}, {"parent_id": "99999999999"}):
        answer = client.post(f"/posts/{post.slug}/comments", data={**READER, "body": words, **extra})
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) >= 1
        page = assert_form_refused(answer, words, says="Too many attempts")
        assert "count together" in page.select_one('[role="alert"]').get_text()
        replying_to = page.select_one(".in-reply-to")
        assert (replying_to is not None) == (extra.get("parent_id") == str(parent.id))
    assert len(session.scalars(select(Comment).where(Comment.post_id == post.id)).all()) == 2
    api = comment_api(client, post)
    assert api.status_code == 429 and api.get_json()["error"]["code"] == "too_many_requests"
    missing = client.post("/posts/no-such-post/comments", data={**READER, "body": words})
    assert missing.status_code in (404, 429)


def test_every_rate_limit_is_checked_by_its_decorator_without_the_per_request_hook(
    app: Any, client: Any, make_post: Callable[..., Post]
) -> None:
    """Flask-Limiter's check of every request is dropped (it serves default, application and blueprint
    limits, which Candor does not set): the decorated limits still hold, the readers' one and the
    sign-in form's."""
    from app.web.extensions import limiter

    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    post = make_post()
    answers = [
        client.post(
            f"/api/v1/posts/{post.id}/comments",
            json={**READER, "body": f"Question {n} about sleep?"},
            environ_base={"REMOTE_ADDR": "198.51.100.31"},
        ).status_code
        for n in range(3)
    ]
    assert answers[0] in (201, 202) and answers[1] in (201, 202) and answers[2] == 429, answers
    sign_ins = [
        client.post(
            "/login", data={"email": "nobody@example.org"}, environ_base={"REMOTE_ADDR": "198.51.100.32"}
        ).status_code
        for _ in range(12)
    ]
    assert sign_ins[0] != 429 and sign_ins[-1] == 429, sign_ins


@pytest.mark.parametrize("redis", ["database", "redis"])
@pytest.mark.parametrize(
    ("addresses", "other"),
    [
        # One IPv6 customer's /64, a fresh address for every comment (how the limiter counts them too).
        (["2001:db8:7:8::1", "2001:db8:7:8:aaaa::2", "2001:DB8:7:8:ffff:ffff:ffff:ffff"], "2001:db8:7:9::1"),
        # An IPv4 reader, once through an IPv4-mapped IPv6 socket.
        (["198.51.100.7", "::ffff:198.51.100.7", "198.51.100.7"], "198.51.100.8"),
        # 198.51.100.7's 6to4 /48: two of its 65,536 /64s, and the address itself; 198.51.100.8's is other.
        (["2002:c633:6407:1::1", "2002:c633:6407:2::5", "198.51.100.7"], "2002:c633:6408::1"),
        # Teredo clients of one server share a /64: 198.51.100.7 on two ports, and 198.51.100.8 (other)
        # in the same /64, its own reader.
        (
            ["2001:0:c000:201:8000:f227:39cc:9bf8", "2001:0:c000:201:8000:f228:39cc:9bf8", "198.51.100.7"],
            "2001:0:c000:201:8000:f227:39cc:9bf7",
        ),
    ],
)
def test_the_burst_counts_an_ipv6_slash_64_and_an_ipv4_mapped_address_as_the_rate_limit_does(
    app: Any,
    client: Any,
    make_post: Callable[..., Post],
    session: Session,
    redis: str,
    addresses: list[str],
    other: str,
) -> None:
    """COMMENT_BURST keyed on the whole address while the rate limits key on the IPv6 /64: one machine
    taking a fresh address of its /64 for each comment was never held. Now both use one rule."""
    app.config["COMMENT_BURST"] = 2
    if redis == "redis":
        app.config["REDIS_URL"] = REDIS_URL
        app.config["JOBS_QUEUE"] = f"candor-test-{uuid.uuid4().hex}"
    post = make_post()
    for n, ip in enumerate([*addresses, other]):
        answer = client.post(
            f"/api/v1/posts/{post.id}/comments",
            json={**READER, "author_email": f"reader{n}@example.net", "body": f"Question {n} about sleep?"},
            environ_base={"REMOTE_ADDR": ip},
        )
        assert answer.status_code in (201, 202), answer.get_json()
    session.expire_all()
    comments = session.scalars(select(Comment).order_by(Comment.id)).all()
    assert [c.author_ip for c in comments] == [*addresses, other]  # moderators still see each address
    assert ["rate_limit" in c.reasons for c in comments] == [False, False, True, False], [
        (c.author_ip, c.status, c.reasons) for c in comments
    ]


def test_burst_marks_past_the_window_are_deleted_and_recent_ones_kept(
    app: Any, client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """Without Redis the burst is counted from marks: a sender who never comes back must not leave them
    forever. The 5-minute job deletes those past the window; a sender's next comment, its own."""
    from datetime import timedelta

    from app.clock import utc_now
    from app.comments.models import BurstMark

    app.config["COMMENT_BURST"] = 2
    post = make_post()
    old = utc_now() - timedelta(minutes=11)
    session.add_all([BurstMark(sender=f"{n:032x}", member=f"m{n}", at=old) for n in range(5)])
    session.commit()
    for n in range(2):
        answer = client.post(
            f"/api/v1/posts/{post.id}/comments",
            json={**READER, "author_email": f"reader{n}@example.net", "body": f"Question {n} about sleep?"},
            environ_base={"REMOTE_ADDR": "2001:db8:5::1"},
        )
        assert answer.status_code in (201, 202), answer.get_json()
    session.expire_all()
    assert len(session.scalars(select(BurstMark)).all()) == 7
    app.extensions["candor.tasks"].checks_overdue.call_local()
    session.expire_all()
    kept = session.scalars(select(BurstMark)).all()
    assert len(kept) == 2 and all(m.at > old for m in kept)  # this sender's two comments, still counted
