"""A flood cannot queue more comments than the checks judge in time (``CANDOR_COMMENT_BACKLOG``).

While that many reader comments of the last minute are still being checked, a new reader comment is
refused with 503 ``busy`` and ``Retry-After`` (5 s), not counted by the readers' rate limit, and nothing
is stored: the API says so in JSON, the form comes back with what the reader wrote. Staff comments are never
refused; comments left being checked longer ago (an Akismet outage) do not count, so an outage alone
never closes the comment form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.clock import utc_now
from app.comments.models import Comment
from app.posts.models import Post
from app.web.errors import FAILURE_RETRY_SECONDS, wait_words
from tests.support.comments import READER, assert_form_refused, checking_comment, comment_api
from tests.support.web import log_in, parse

LIMIT = 2


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    # The statement timeout (PostgreSQL only) ends a request waiting on a lock the test holds.
    return {
        **comments_config,
        "COMMENT_CHECK_BUDGET_MS": 0,
        "COMMENT_BACKLOG": LIMIT,
        "STATEMENT_TIMEOUT_MS": 1500,
    }


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
    assert answer.headers["Retry-After"] == "5"
    assert_form_refused(answer, words, says="waiting for their checks", wait="5 seconds")
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


@contextmanager
def _lock_held(database_url: str, post_id: int | None = None) -> Iterator[tuple[int, str, str]]:
    """Another connection holds the lock a comment's write needs, until the block ends: SQLite's write
    lock (a request waits its busy timeout, then "database is locked": 409), or on PostgreSQL the comments
    table, locked whole (a request's statement times out: 503), or given ``post_id`` only that post's row
    (the same 503, but the database still answers reads). Yields the status, what the form says and when
    it asks to be sent again."""
    other = create_engine(database_url, poolclass=NullPool)
    raw = other.raw_connection()
    try:
        cursor = raw.cursor()
        if database_url.startswith("sqlite"):
            cursor.execute("BEGIN IMMEDIATE")
            yield 409, "busy saving something else", "5 seconds"
        else:
            cursor.execute("BEGIN")
            if post_id is None:
                cursor.execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
            else:
                cursor.execute("SELECT id FROM posts WHERE id = %s FOR UPDATE", (post_id,))
            yield 503, "not answering", "1 minute"
    finally:
        raw.rollback()
        raw.close()
        other.dispose()


@pytest.mark.parametrize("reply", [False, True])
def test_the_form_comes_back_with_what_the_reader_wrote_when_the_database_is_locked_or_does_not_answer(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    database_url: str,
    publish_reader: Callable[..., Comment],
    reply: bool,
) -> None:
    """Another connection really holds the lock: SQLite's write lock (the request waits its busy
    timeout, then "database is locked": a 409), or on PostgreSQL the comments table, locked whole (the
    request's statement times out: a 503). Either way the reader gets the form back with their name,
    address and text (the reply still a reply), told it was not posted; nothing is stored."""
    post = make_post()
    parent_id = publish_reader(post, "ben@example.net", "Ben Reader").id if reply else None
    before = _stored(session, post)
    session.close()
    words = "Does a nap count towards the <hours> of sleep?"
    form = {**READER, "body": words, **({"parent_id": str(parent_id)} if parent_id else {})}
    with _lock_held(database_url) as (expected, said, wait):
        answer = client.post(f"/posts/{post.slug}/comments", data=form)
    assert answer.status_code == expected
    # The page's wait, though the readers' rate limit counted this post and adds its own Retry-After.
    assert answer.headers["Retry-After"] == str(FAILURE_RETRY_SECONDS[expected])
    assert "X-RateLimit-Limit" in answer.headers
    page = assert_form_refused(answer, words, says=said, wait=wait)
    assert page.select_one("form.comment-form")["action"] == f"/posts/{post.slug}/comments"
    hidden = page.select_one("form.comment-form input[name=parent_id]")
    assert (hidden["value"] if hidden else None) == (str(parent_id) if parent_id else None)
    if reply and expected == 503:  # the comments table locked whole: the reply's parent cannot be read
        said_on = page.select_one("main > p")
        link = said_on.select_one(f'a[href="/posts/{post.slug}#comment-{parent_id}"]')
        assert link is not None and link.get_text() == f"comment {parent_id}"
        assert page.select_one(".in-reply-to") is None
    elif reply:  # a write lock: the parent is read again and shown, as on the reply form
        assert page.select_one(".in-reply-to .comment-author").get_text() == "Ben Reader"
    assert _stored(session, post) == before
    # Sent again once the lock is gone, it is posted.
    again = client.post(
        f"/posts/{post.slug}/comments",
        data={**form, "form_token": page.select_one("input[name=form_token]")["value"]},
    )
    assert again.status_code == 303, again.get_data(as_text=True)[:500]
    assert _stored(session, post) == before + 1


def test_a_staff_reply_comes_back_with_its_text_when_the_database_is_locked_or_does_not_answer(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    database_url: str,
    publish_reader: Callable[..., Comment],
) -> None:
    parent_id = publish_reader(make_post(), body="Is it fine to nap after lunch?").id
    staff = make_user("moderator")
    session.close()
    log_in(client, staff.email)
    csrf = parse(client.get(f"/staff/comments/{parent_id}")).select_one("input[name=csrf_token]")["value"]
    words = "Yes: keep it under <30> minutes."
    with _lock_held(database_url) as (expected, said, _wait):
        answer = client.post(f"/staff/comments/{parent_id}/reply", data={"csrf_token": csrf, "body": words})
    assert answer.status_code == expected
    assert answer.headers["Retry-After"] == str(FAILURE_RETRY_SECONDS[expected])
    page = parse(answer)
    notices = page.select('[role="alert"]')
    assert len(notices) == 1 and said in notices[0].get_text()
    assert "Nothing you wrote is lost" in notices[0].get_text()
    # The wait it names is the Retry-After's (5 seconds for a lock, 1 minute for no answer).
    assert f"publish it again in {wait_words(FAILURE_RETRY_SECONDS[expected])}." in notices[0].get_text()
    assert page.select_one(".error-summary") is None and page.select("[aria-invalid]") == []
    assert page.title.get_text().startswith("Not published:")
    form = page.select_one(f'form[action="/staff/comments/{parent_id}/reply"]')
    assert form.select_one("textarea[name=body]").get_text() == words
    again = client.post(
        form["action"], data={"csrf_token": form.select_one("input[name=csrf_token]")["value"], "body": words}
    )
    assert again.status_code == 303
    session.expire_all()
    assert (
        session.scalar(select(func.count()).select_from(Comment).where(Comment.parent_id == parent_id)) == 1
    )


def test_a_reply_refused_for_a_locked_post_shows_the_comment_it_answers(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    database_url: str,
    publish_reader: Callable[..., Comment],
) -> None:
    """The database failed the write but still answers reads (SQLite's write lock: 409; on PostgreSQL the
    post's row locked, the request's statement timing out: 503): the reply form comes back as the reply
    form is, with the comment it answers (author and text) and the post's title, not a bare number."""
    post = make_post()
    parent = publish_reader(post, "ben@example.net", "Ben Reader", body="Is a nap after lunch fine?")
    parent_id, post_id, slug = parent.id, post.id, post.slug
    shown = parse(client.get(f"/posts/{slug}/comments/{parent_id}/reply"))
    before = _stored(session, post)
    session.close()
    words = "Does a nap count towards the <hours> of sleep?"
    form = {**READER, "body": words, "parent_id": str(parent_id)}
    with _lock_held(database_url, post_id=post_id) as (expected, said, wait):
        answer = client.post(f"/posts/{slug}/comments", data=form)
    assert answer.status_code == expected
    page = assert_form_refused(answer, words, says=said, wait=wait)
    replying_to = page.select_one(".in-reply-to")
    assert replying_to.select_one(".comment-author").get_text() == "Ben Reader"
    assert replying_to.select_one(".comment-body").get_text() == "Is a nap after lunch fine?"
    assert replying_to.select_one(".comment-body") == shown.select_one(".in-reply-to .comment-body")
    assert page.select_one("h1").get_text() == shown.select_one("h1").get_text() == "Reply to Ben Reader"
    assert page.select_one("main > p a")["href"] == f"/posts/{slug}"
    assert page.select_one("form.comment-form input[name=parent_id]")["value"] == str(parent_id)
    assert _stored(session, post) == before


def test_a_staff_reply_on_a_post_whose_comments_closed_says_so_and_asks_no_second_try(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
) -> None:
    """A moderator opens a reader's question; an editor closes the post's comments before the reply is
    sent. That 409 is no locked database: the page says the comments are closed, keeps the text, and does
    not ask to publish it again in 5 seconds (nor says so in Retry-After)."""
    from app.comments import closing

    post = make_post()
    parent_id = publish_reader(post, body="Is it fine to nap after lunch?").id
    staff = make_user("moderator")
    closing.close(session, make_user("editor"), session.get(Post, post.id), "moved on")
    session.commit()
    session.close()
    log_in(client, staff.email)
    csrf = parse(client.get(f"/staff/comments/{parent_id}")).select_one("input[name=csrf_token]")["value"]
    words = "Yes: keep it under <30> minutes."
    answer = client.post(f"/staff/comments/{parent_id}/reply", data={"csrf_token": csrf, "body": words})
    assert answer.status_code == 409
    assert "Retry-After" not in answer.headers
    page = parse(answer)
    notices = page.select('[role="alert"]')
    assert len(notices) == 1
    assert [p.get_text() for p in notices[0].select("p")] == [
        "Comments are closed on this post.",
        "Nothing you wrote is lost: it is in the form below.",
    ]
    assert page.select_one("textarea[name=body]").get_text() == words
    assert _stored(session, post) == 1
