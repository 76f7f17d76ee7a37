"""A flood cannot queue more comments than the checks judge in time (``CANDOR_COMMENT_BACKLOG``).

While that many reader comments of the last minute are still being checked, a new reader comment is
refused with 503 ``busy`` and ``Retry-After`` (5 s), not counted by the readers' rate limit, and nothing
is stored: the API says so in JSON, the form comes back with what the reader wrote. Staff comments are never
refused; comments left being checked longer ago (an Akismet outage) do not count, so an outage alone
never closes the comment form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.comments.models import Comment
from app.posts.models import Post
from tests.support.comments import READER, assert_form_kept, checking_comment, comment_api

LIMIT = 2


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0, "COMMENT_BACKLOG": LIMIT}


def _stored(session: Session, post: Post) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == post.id)) or 0


def _waiting(app: Flask, session: Session, post: Post, n: int) -> list[int]:
    return [checking_comment(app, session, post, f"Is a nap of {k} minutes too long?") for k in range(n)]


def test_a_reader_comment_over_the_backlog_is_refused_with_503_and_nothing_is_stored(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    _waiting(app, session, post, LIMIT)
    answer = comment_api(client, post, body="Does a nap count towards the hours of sleep?")
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) >= 5
    error = answer.get_json()["error"]
    assert error["code"] == "busy" and "again in a few seconds" in error["message"]
    assert _stored(session, post) == LIMIT


def test_one_below_the_backlog_a_reader_comment_is_accepted_and_at_it_refused(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    _waiting(app, session, post, LIMIT - 1)
    answer = comment_api(client, post, body="Does a nap count towards the hours of sleep?")
    assert answer.status_code == 202, answer.get_json()
    assert _stored(session, post) == LIMIT
    # In tests the check job runs at once and judges every waiting comment; at the limit, refused.
    for k in range(LIMIT):
        checking_comment(app, session, post, f"Is a walk of {k} minutes after dinner too late?")
    again = comment_api(client, post, body="And does a nap after six spoil the night?")
    assert again.status_code == 503 and again.get_json()["error"]["code"] == "busy"
    assert _stored(session, post) == 2 * LIMIT


def test_comments_left_being_checked_over_a_minute_ago_do_not_count(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post]
) -> None:
    """An Akismet outage leaves comments being checked for up to an hour (retried with backoff): they
    must not keep the form closed once the flood, if any, is over."""
    post = make_post()
    ids = _waiting(app, session, post, LIMIT + 3)
    session.execute(
        update(Comment).where(Comment.id.in_(ids)).values(created_at=utc_now() - timedelta(seconds=61))
    )
    session.commit()
    answer = comment_api(client, post, body="Does a nap count towards the hours of sleep?")
    assert answer.status_code in (201, 202), answer.get_json()


def test_the_form_over_the_backlog_comes_back_with_what_the_reader_wrote(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    _waiting(app, session, post, LIMIT)
    words = "Does a nap count towards the <hours> of sleep?"
    answer = client.post(f"/posts/{post.slug}/comments", data={**READER, "body": words})
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) >= 5
    assert_form_kept(answer, words, says="again in a few seconds")
    assert _stored(session, post) == LIMIT


def test_staff_comments_are_never_refused(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    make_token: Callable[[Any], str],
) -> None:
    post = make_post()
    _waiting(app, session, post, LIMIT + 1)
    reader = comment_api(client, post, body="Does a nap count towards the hours of sleep?")
    assert reader.status_code == 503  # the backlog is full for readers at this moment
    staff = make_user("moderator")
    answer = client.post(
        f"/api/v1/posts/{post.id}/comments",
        json={"body": "A nap of twenty minutes does not count towards the night's hours."},
        headers={"Authorization": f"Bearer {make_token(staff)}"},
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "published"


def test_no_limit_when_the_backlog_setting_is_zero(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    _waiting(app, session, post, LIMIT + 2)
    refused = comment_api(client, post, body="And does a nap after six spoil the night?")
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "busy"
    app.config["COMMENT_BACKLOG"] = 0  # the same backlog without the limit
    answer = comment_api(client, post, body="Does a nap count towards the hours of sleep?")
    assert answer.status_code in (201, 202), answer.get_json()
