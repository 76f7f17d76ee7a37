"""Attacks on s29's one-script count of a reader's comment POST (``reader_forms.count_at_once``): what the
decorator (Flask-Limiter) counted before must still be counted, Redis answering garbage must not be a
500, and the sender's burst counts comments, not posts refused before any comment existed. A real Redis
on 127.0.0.1:6379 and both databases, as tests/test_reader_limits_at_once.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.posts.models import Post
from app.web.extensions import limiter
from tests.support.comments import READER, fresh_ipv4

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


def _api(client: Any, post_id: int, ip: str, n: int, **extra: Any) -> Any:
    body = {**READER, "body": f"Question {n} about sleep at night?", **extra}
    return client.post(f"/api/v1/posts/{post_id}/comments", json=body, environ_base={"REMOTE_ADDR": ip})


def _counts(who: str, scope: str = "reader-posts") -> dict[str, int]:
    """The windows counted for ``who`` (an address: unique per test), as "amount/multiples/granularity"."""
    r = redis.Redis.from_url(REDIS_URL)
    return {
        k.decode().split(f"/{scope}/")[1]: int(r.get(k)) for k in r.keys(f"LIMITS:LIMITER/*/{who}/{scope}/*")
    }


def test_a_body_too_large_is_counted_as_every_refused_post_is(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post]
) -> None:
    """A body past MAX_CONTENT_LENGTH is refused 413 when it is read, which the decorator's count came
    before: a flood of oversized posts must use up the sender's budget as any refused input does."""
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="2 per minute", MAX_CONTENT_LENGTH=2048)
    post = make_post()
    client = app.test_client()
    ip = fresh_ipv4()
    big = [_api(client, post.id, ip, n, body="x" * 5000) for n in range(2)]
    assert [b.status_code for b in big] == [413, 413]
    assert [b.headers["X-RateLimit-Remaining"] for b in big] == ["1", "0"]
    refused = _api(client, post.id, ip, 3)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert _counts(ip) == {"2/1/minute": 3}


class _Garbage:
    """The readers' script as a confused Redis (or a proxy in front of one) answers it."""

    def __init__(self, client: Any, answer: Any) -> None:
        self.registered_client = client
        self.answer = answer

    def __call__(self, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        return self.answer


@pytest.mark.parametrize("answer", [None, b"OK", [b"x", b"y"], [1], [3, 60, 1, 2, 5]])
def test_redis_answering_garbage_is_no_500_and_the_post_is_still_counted(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post], session: Session, answer: Any
) -> None:
    """The one script's answer is not what it returns: the post is counted the decorator's way (as when
    Redis fails), never a 500, and every comment stored is held for its checks."""
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="2 per minute")
    post = make_post()
    client = app.test_client()
    app.extensions["candor.count_windows"] = _Garbage(limiter._storage.get_connection(), answer)
    ip = fresh_ipv4()
    answers = [_api(client, post.id, ip, n) for n in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    session.expire_all()
    for a in answers[:2]:
        assert session.get(Comment, a.get_json()["id"]).status == "held"


def test_posts_refused_for_no_post_are_no_comments_in_the_burst(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post], session: Session
) -> None:
    """Three posts to a post that does not exist (404: nothing stored) and then one real comment with
    COMMENT_BURST 1: the burst counts the comments the sender sent, none before this one, as it did
    before the one script (and as the database's count does: its marks roll back with the 404). The
    three posts are still counted by the rate limit."""
    app = make_redis_limited_app(COMMENT_BURST=1, COMMENT_RATE_LIMIT="10 per minute")
    post = make_post()
    client = app.test_client()
    ip = fresh_ipv4()
    assert [_api(client, 999_999, ip, n).status_code for n in range(3)] == [404] * 3
    answer = _api(client, post.id, ip, 10)
    assert answer.status_code == 202
    assert answer.headers["X-RateLimit-Remaining"] == "6"
    session.expire_all()
    comment = session.get(Comment, answer.get_json()["id"])
    check = next(c for c in comment.checks if c["check"] == "rate_limit")
    assert check["verdict"] != "hold"
    assert check["detail"].startswith("0 ")
    again = _api(client, post.id, ip, 11)  # a second comment is one past the burst of 1
    session.expire_all()
    check = next(c for c in session.get(Comment, again.get_json()["id"]).checks if c["check"] == "rate_limit")
    assert check["detail"].startswith("1 ")
