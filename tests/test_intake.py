"""A reader's comment POST taken without Flask (``app.web.intake``): the plain case answered by the intake
exactly as Flask answers it, and every other case left to Flask, counted once.

Production's layout: PostgreSQL, the readers' limits, the burst and the queue on the real Redis on
127.0.0.1:6379 (``make_redis_limited_app``), the budget 0. On SQLite the intake never answers (its
statements are PostgreSQL's), and the same tests hold Flask's answers to the same expectations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import closing, states
from app.comments.models import Comment, CommentStatus, ModerationDecision
from app.editorial import services as editorial
from app.posts.models import Post
from app.settings import services as settings
from tests.support.comments import READER, fresh_ipv4, recounted

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


def _on_postgresql(app: Flask) -> bool:
    return app.extensions["candor.engine"].dialect.name == "postgresql"


def _ready(app: Flask, **config: Any) -> Any:
    """A client of ``app`` whose process has read the settings (the intake's condition), as any worker
    has after its first request."""
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert app.extensions["candor.settings"].state[0] >= 0
    return client


def _post(client: Any, post_id: int, ip: str, body: str, path_suffix: str = "", **extra: Any) -> Any:
    """The answer to a comment POST, marked with whether the intake answered it (``taken``)."""
    intake = client.application.extensions["candor.intake"]
    before = intake.answered
    answer = client.post(
        f"/api/v1/posts/{post_id}/comments{path_suffix}",
        json={**READER, "body": body, **extra},
        environ_base={"REMOTE_ADDR": ip},
    )
    answer.taken = intake.answered - before
    return answer


def _taken_by_intake(answer: Any) -> bool:
    return bool(answer.taken)


def _counted(who: str) -> dict[str, int]:
    """The readers' windows counted in Redis for the address ``who`` (unique per test)."""
    r = redis.Redis.from_url(REDIS_URL)
    return {
        k.decode().split("/reader-posts/")[1]: int(r.get(k))
        for k in r.keys(f"LIMITS:LIMITER/*/{who}/reader-posts/*")
    }


def _queued(app: Flask) -> int:
    return int(app.extensions["candor.tasks"].huey.pending_count())


_PER_REQUEST = {"content-length", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after", "x-request-id"}


def test_a_plain_comment_is_answered_by_the_intake_as_flask_answers_it(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post], session: Session
) -> None:
    """The same 202, body shape, headers, stored rows, tallies, enqueued job and count, whether the intake
    or Flask took the comment (a query string sends it to Flask); the status page works for both."""
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="5 per minute")
    post = make_post()
    client = _ready(app)
    ip = fresh_ipv4()
    queued = _queued(app)
    by_intake = _post(client, post.id, ip, "Does a nap count towards the hours of sleep?")
    by_flask = _post(client, post.id, ip, "And a second question about naps?", path_suffix="?via=flask")
    assert not _taken_by_intake(by_flask)
    assert _taken_by_intake(by_intake) is _on_postgresql(app)
    for answer in (by_intake, by_flask):
        assert answer.status_code == 202
        data = answer.get_json()
        assert data["status"] == "held" and data["reasons"] == ["checking"]
        assert sorted(data) == ["id", "reasons", "status", "status_url"]
        page = client.get(data["status_url"].split("blog.example.org", 1)[1])
        assert page.status_code == 200
    assert by_intake.content_type == by_flask.content_type == "application/json"
    same = [(k, v) for k, v in by_intake.headers.items() if k.lower() not in _PER_REQUEST]
    assert same == [(k, v) for k, v in by_flask.headers.items() if k.lower() not in _PER_REQUEST]
    assert [a.headers["X-RateLimit-Remaining"] for a in (by_intake, by_flask)] == ["4", "3"]
    assert _counted(ip) == {"5/1/minute": 2}
    assert _queued(app) == queued + 2  # each comment's checks enqueued once, on Redis
    session.expire_all()
    stored = [session.get(Comment, a.get_json()["id"]) for a in (by_intake, by_flask)]
    for comment in stored:
        assert (
            comment is not None and comment.status == CommentStatus.HELD and comment.reasons == ["checking"]
        )
        assert comment.author_ip == ip and comment.post_id == post.id
        assert comment.permalink.endswith(f"/posts/{post.slug}") and comment.html.startswith("<p>")
        assert [c["check"] for c in comment.checks] == [c["check"] for c in stored[1].checks]
        decisions = session.scalars(
            select(ModerationDecision).where(ModerationDecision.comment_id == comment.id)
        )
        assert [d.action for d in decisions] == ["submit"]
    assert {k: n for k, n in states.tally(session).items() if n} == recounted(session)


def test_every_other_case_gets_flasks_own_answer_counted_once(
    make_redis_limited_app: Callable[..., Any],
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    session: Session,
) -> None:
    """No such post (404), closed comments (409), a reply to no published comment (422), input that is
    not plainly a comment (4xx), a double click (the first comment's id) and then the limit (429): each
    is Flask's answer, and each post is counted exactly once."""
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="9 per minute")
    post, closed = make_post(), make_post()
    editor = make_user("editor")
    closing.close(session, editor, closed)
    session.commit()
    client = _ready(app)
    ip = fresh_ipv4()
    first = _post(client, post.id, ip, "A first question about sleep?")
    twin = _post(client, post.id, ip, "A first question about sleep?")
    answers = [
        _post(client, 999_999, ip, "To no post?"),
        _post(client, closed.id, ip, "To a closed post?"),
        _post(
            client, post.id, ip, "A reply to nothing?", parent_id=first.get_json()["id"]
        ),  # held: unpublished
        _post(client, post.id, ip, ""),
        _post(client, post.id, ip, "Wrong notify", notify="yes"),
    ]
    assert [a.status_code for a in answers] == [404, 409, 422, 422, 422]
    assert first.status_code == twin.status_code == 202
    assert twin.get_json()["id"] == first.get_json()["id"]
    assert not any(_taken_by_intake(a) for a in [twin, *answers])
    over = [_post(client, post.id, ip, f"Question {n}?") for n in range(3)]
    assert [a.status_code for a in over] == [202, 202, 429]
    assert _taken_by_intake(over[0]) is _on_postgresql(app)
    assert not _taken_by_intake(over[2])  # counted by the intake, refused by Flask from that count
    assert over[2].get_json()["error"]["code"] == "too_many_requests"
    assert [a.headers["X-RateLimit-Remaining"] for a in [first, twin, *answers, *over[:2]]] == [
        str(n) for n in range(8, -1, -1)
    ]
    assert _counted(ip) == {"9/1/minute": 10}
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Comment).where(Comment.author_ip == ip)) == 3
    assert {k: n for k, n in states.tally(session).items() if n} == recounted(session)


def test_a_retracted_post_and_changed_settings_are_flasks_to_answer(
    make_redis_limited_app: Callable[..., Any],
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    session: Session,
) -> None:
    """A retraction (409), and an administrator's change to the settings since this process read them:
    the intake reads their version with the post's row and leaves the comment to Flask, which reads the
    new settings (here, a burst of 1, so a second comment from the address is held for it)."""
    app = make_redis_limited_app(COMMENT_BURST=5)
    post, retracted = make_post(), make_post()
    editorial.retract(session, make_user("editor"), retracted, "Wrong dosage table.")
    session.commit()
    client = _ready(app)
    ip = fresh_ipv4()
    refused = _post(client, retracted.id, ip, "On a retracted post?")
    assert refused.status_code == 409 and not _taken_by_intake(refused)
    first = _post(client, post.id, ip, "A first question?")
    assert _taken_by_intake(first) is _on_postgresql(app)
    settings.change(session, make_user("admin"), {"comment_burst": 1}, app.config)
    session.commit()
    second = _post(client, post.id, ip, "A second question?")
    assert second.status_code == 202 and not _taken_by_intake(second)
    third = _post(client, post.id, ip, "A third question?")  # the new settings read: the intake's again
    assert _taken_by_intake(third) is _on_postgresql(app)
    session.expire_all()
    verdicts = {
        n: next(c for c in session.get(Comment, a.get_json()["id"]).checks if c["check"] == "rate_limit")
        for n, a in (("first", first), ("second", second), ("third", third))
    }
    assert verdicts["first"]["verdict"] == "publish"
    assert verdicts["second"]["reasons"] == verdicts["third"]["reasons"] == ["rate_limit"]
    assert sum(_counted(ip).values()) == 4


def test_two_identical_posts_at_once_are_one_comment(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post], session: Session
) -> None:
    """A double click as two requests at once, both on the intake: one comment, both answered its id."""
    app = make_redis_limited_app()
    post = make_post()
    _ready(app)
    ip = fresh_ipv4()
    answers: list[Any] = [None] * 6
    start = threading.Barrier(len(answers))

    def click(i: int) -> None:
        client = app.test_client()
        start.wait()
        answers[i] = _post(client, post.id, ip, "Clicked twice: is a nap sleep?")

    threads = [threading.Thread(target=click, args=(i,)) for i in range(len(answers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_json()["id"] for a in answers}) == 1
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Comment).where(Comment.author_ip == ip)) == 1
    assert {k: n for k, n in states.tally(session).items() if n} == recounted(session)


@pytest.mark.parametrize(
    "how",
    [
        "not json",
        "short body",
        "odd length",
        "nested",
        "array",
        "text/plain",
        "query",
        "cookie",
        "token-shaped",
    ],
)
def test_hostile_or_odd_requests_go_to_flask_untouched(
    make_redis_limited_app: Callable[..., Any], make_post: Callable[..., Post], how: str
) -> None:
    """Whatever is not plainly a reader's JSON comment is Flask's: a 4xx (or Flask's own 202), never a 500,
    and counted once (by Flask)."""
    app = make_redis_limited_app(COMMENT_RATE_LIMIT="5 per minute")
    post = make_post()
    client = _ready(app)
    ip = fresh_ipv4()
    path = f"/api/v1/posts/{post.id}/comments"
    environ = {"REMOTE_ADDR": ip}
    json_type = "application/json"
    kinds: dict[str, dict[str, Any]] = {
        "not json": {"data": b"{nope", "content_type": json_type},
        "short body": {
            "data": b'{"body": "x"}',
            "content_type": json_type,
            "headers": {"Content-Length": "400"},
        },
        # "²" is a digit to str.isdigit, not to int(); gunicorn refuses it, Werkzeug's server passes it on
        "odd length": {
            "json": {**READER, "body": "Odd length?"},
            "environ_overrides": {"CONTENT_LENGTH": "\u00b2"},
        },
        "nested": {"data": b"[" * 50_000 + b"]" * 50_000, "content_type": json_type},
        "array": {"data": b'["a"]', "content_type": json_type},
        "text/plain": {"data": b'{"body": "x"}', "content_type": "text/plain"},
        "query": {"json": {**READER, "body": "With a query?"}, "query_string": "a=1"},
        "cookie": {"json": {**READER, "body": "With a session cookie?"}},
        "token-shaped": {
            "json": {**READER, "body": "With a token?"},
            "headers": {"Authorization": "Bearer cnd_x"},
        },
    }
    if how == "cookie":  # a signed-in browser's (or a forged) session: Flask reads it
        client.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), "abc")
    before = app.extensions["candor.intake"].answered
    answer = client.post(path, environ_base=environ, **kinds[how])
    assert answer.status_code < 500
    assert app.extensions["candor.intake"].answered == before
    if how not in ("short body", "odd length"):  # refused by Werkzeug before any count
        assert sum(_counted(ip).values()) == 1
