"""The readers' limits and the comment burst counted in one Redis script (``reader_forms.count_at_once``).

A reader's comment POST to the API, with the limits in Redis, is counted by one script: both of the
reader's windows, their IPv6 /48's, and (when the burst counts on the same Redis) the sender's burst.
The contact form and the HTML comment form are still counted by Flask-Limiter's decorator, on the same
keys. These tests hold the two ways to one budget, one set of headers and one burst count, and check
what happens when Redis cannot count (the decorator's in-memory fallback takes over, never a 500).
A real Redis on 127.0.0.1:6379 and both databases.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.posts.models import Post
from tests.support.comments import READER, WRONG_FIELDS, fresh_ipv4

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


def _api(client: Any, post: Post, ip: str, n: int, **extra: Any) -> Any:
    body = {**READER, "body": f"Question {n} about sleep at night?", **extra}
    return client.post(f"/api/v1/posts/{post.id}/comments", json=body, environ_base={"REMOTE_ADDR": ip})


def _form(client: Any, post: Post, ip: str, n: int) -> Any:
    body = {**READER, "body": f"A form question {n} about sleep?"}
    return client.post(f"/posts/{post.slug}/comments", data=body, environ_base={"REMOTE_ADDR": ip})


def test_the_api_and_the_form_count_one_budget_with_the_same_headers(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post]
) -> None:
    """API posts (one script) and form posts (the decorator) alternate from one address: one count, the
    same X-RateLimit-* on both, and the fifth post of "4 per minute" refused on either."""
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="4 per minute; 100 per day")
    post = make_post()
    client = app.test_client()
    ip = fresh_ipv4()
    answers = [(_api if n % 2 == 0 else _form)(client, post, ip, n) for n in range(4)]
    assert [a.status_code for a in answers] == [202, 303, 202, 303]
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["4"] * 4
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["3", "2", "1", "0"]
    resets = {int(a.headers["X-RateLimit-Reset"]) for a in answers}
    assert max(resets) - min(resets) <= 1  # one window
    refused = [_api(client, post, ip, 10), _form(client, post, ip, 11)]
    assert [r.status_code for r in refused] == [429, 429]
    assert "4 per minute" in refused[0].get_json()["error"]["message"]
    assert 0 < int(refused[0].headers["Retry-After"]) <= 60
    assert refused[0].headers["X-RateLimit-Remaining"] == "0"
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*/{ip}/reader-posts/*")
    assert len(keys) == 2  # the minute's and the day's windows, as Flask-Limiter names them


def test_an_ipv6_network_is_counted_by_the_same_script(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post]
) -> None:
    """Four /64s of one /48: the network's "3 per minute" refuses the fourth, through the API and the form
    alike; another /48 is untouched."""
    app = make_redis_limited_app(COMMENT_NETWORK_RATE_LIMIT="3 per minute; 100 per day")
    post = make_post()
    client = app.test_client()
    prefix = f"2001:db8:{uuid.uuid4().int % 65536:x}"
    codes = [
        _api(client, post, f"{prefix}:1::1", 0).status_code,
        _form(client, post, f"{prefix}:2::1", 1).status_code,
        _api(client, post, f"{prefix}:3::1", 2).status_code,
        _api(client, post, f"{prefix}:4::1", 3).status_code,
        _form(client, post, f"{prefix}:5::1", 4).status_code,
    ]
    assert codes == [202, 303, 202, 429, 429]
    elsewhere = f"2001:db8:{(int(prefix.split(':')[2], 16) + 1) % 65536:x}:1::1"  # the next /48
    assert _api(client, post, elsewhere, 5).status_code == 202


def test_the_burst_counted_with_the_limits_holds_every_comment_past_it_even_at_once(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post], session: Session
) -> None:
    """Ten comments at the same moment from one address with COMMENT_BURST 3: seven held for the burst,
    none lost, a double click (the same comment again) counted once."""
    app = make_redis_limited_app(COMMENT_BURST=3, COMMENT_RATE_LIMIT="100 per minute")
    post = make_post()
    ip = fresh_ipv4()
    barrier = threading.Barrier(10)
    codes: list[int] = [0] * 10

    def send(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        codes[i] = _api(client, post, ip, i).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes == [202] * 10
    session.expire_all()
    comments = session.scalars(select(Comment).where(Comment.post_id == post.id)).all()
    assert len(comments) == 10  # none lost
    counted = sorted(int(_rate_check(c)["detail"].split()[0]) for c in comments)
    assert counted == list(range(10))  # each saw every comment counted before it, exactly once
    held = [c for c in comments if _rate_check(c)["verdict"] == "hold"]
    assert len(held) == 7


def _rate_check(comment: Comment) -> dict[str, Any]:
    return next(check for check in comment.checks if check["check"] == "rate_limit")


def test_a_double_click_is_one_comment_and_one_burst_mark(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post]
) -> None:
    app = make_redis_limited_app(COMMENT_BURST=1)
    post = make_post()
    client = app.test_client()
    ip = fresh_ipv4()
    first, again = _api(client, post, ip, 1), _api(client, post, ip, 1)
    assert first.status_code == again.status_code == 202
    assert first.get_json()["id"] == again.get_json()["id"]
    burst_keys = redis.Redis.from_url(REDIS_URL).keys(f"{app.config['JOBS_QUEUE']}:burst:*")
    assert len(burst_keys) == 1
    assert redis.Redis.from_url(REDIS_URL).zcard(burst_keys[0]) == 1


def test_a_post_refused_for_its_input_is_counted_and_one_refused_busy_is_not(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post]
) -> None:
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="2 per minute")
    post = make_post()
    client = app.test_client()
    ip = fresh_ipv4()
    bad = [_api(client, post, ip, n, author_email="not an address") for n in range(2)]
    assert [b.status_code for b in bad] == [422, 422]
    assert _api(client, post, ip, 3).status_code == 429  # the two refused posts used the budget
    app.config["COMMENT_BACKLOG"] = 1
    other = fresh_ipv4()
    busy_app_first = _api(client, post, other, 4)  # fills the backlog (one comment being checked)
    assert busy_app_first.status_code == 202
    import time

    time.sleep(0.3)  # past the backlog count's freshness
    busy = [_api(client, post, other, 5 + n) for n in range(3)]
    assert [b.status_code for b in busy] == [503, 503, 503]
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*/{other}/reader-posts/*")
    assert keys and all(int(redis.Redis.from_url(REDIS_URL).get(k)) == 1 for k in keys)  # only the first


def test_redis_gone_the_decorator_counts_in_memory_and_nothing_fails(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post]
) -> None:
    """The limits' Redis does not answer: the one script fails, the decorated view counts (Flask-Limiter's
    in-memory fallback), every comment is stored or refused by the limit, never a 500."""
    app = make_redis_limited_app(
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0", COMMENT_RATE_LIMIT="2 per minute"
    )
    post = make_post()
    client = app.test_client()
    ip = fresh_ipv4()
    codes = [_api(client, post, ip, n).status_code for n in range(3)]
    assert codes == [202, 202, 429]


@pytest.mark.parametrize("whole_table", [False, True])
def test_a_locked_database_answers_the_api_with_when_to_send_again_and_stores_nothing(
    make_redis_limited_app: Callable[..., Any],
    make_post: Callable[..., Post],
    database_url: str,
    session: Session,
    whole_table: bool,
) -> None:
    """Another connection holds the lock the comment's write needs (SQLite's write lock: 409; on
    PostgreSQL the post's row or the comments table, the statement timing out: 503). The statements of
    the quick path run on the driver's cursor (``app.db.Prepared``): their failure is still answered as
    the database's failure, with Retry-After, never a 500; nothing is stored."""
    from tests.test_comments_backlog import _lock_held

    app = make_redis_limited_app(STATEMENT_TIMEOUT_MS=1500)
    post = make_post()
    post_id = post.id
    session.close()
    with _lock_held(database_url, post_id=None if whole_table else post_id) as (expected, _said, _wait):
        answer = _api(app.test_client(), post, fresh_ipv4(), 1)
    assert answer.status_code == expected, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] in ("conflict", "unavailable")
    assert int(answer.headers["Retry-After"]) >= 1
    assert session.scalars(select(Comment).where(Comment.post_id == post_id)).all() == []


def test_hostile_fields_get_a_4xx_naming_them_and_store_nothing_on_the_one_script_path(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post], session: Session
) -> None:
    """The quick path checks its input itself when it plainly conforms (three texts, ``parent_id`` a
    whole number in range or absent, ``notify`` a boolean) and asks the schema otherwise: every other
    shape still gets the schema's 4xx naming the field, and nothing is stored."""
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="1000 per minute")
    post = make_post()
    client = app.test_client()
    for fields in WRONG_FIELDS:
        answer = _api(client, post, fresh_ipv4(), 1, **fields)
        assert answer.status_code in (400, 422), (fields, answer.status_code)
        error = answer.get_json()["error"]
        assert error.get("field") == next(iter(fields)), (fields, error)
    ok = _api(client, post, fresh_ipv4(), 2, parent_id=None, notify=False)
    assert ok.status_code == 202
    session.expire_all()
    assert len(session.scalars(select(Comment).where(Comment.post_id == post.id)).all()) == 1
