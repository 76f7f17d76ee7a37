"""A reader's replies, in Chromium, by links and buttons only (issue 15, session 28): back from a thread's
further replies to the thread on the post page; a reply refused because the database is locked comes
back showing the comment it answers, one notice above the form, and is sent by pressing the button again."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.comments import queries
from app.comments.models import Comment
from app.posts.models import Post
from tests.support.comments import READER
from tests.support.html_checks import (
    axe_violations,
    format_messages,
    format_violations,
    validate,
    vnu_command,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    # The statement timeout (PostgreSQL only) ends a request waiting on the row lock the test holds.
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0, "STATEMENT_TIMEOUT_MS": 1500}


@contextmanager
def _post_locked(database_url: str, post_id: int) -> Iterator[None]:
    """Another connection holds what a comment's write needs, but reads go on: SQLite's write lock (the
    request answers 409 after its busy timeout), or on PostgreSQL the post's row (its statement times
    out: 503)."""
    other = create_engine(database_url, poolclass=NullPool)
    raw = other.raw_connection()
    try:
        cursor = raw.cursor()
        if database_url.startswith("sqlite"):
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("BEGIN")
            cursor.execute("SELECT id FROM posts WHERE id = %s FOR UPDATE", (post_id,))
        yield
    finally:
        raw.rollback()
        raw.close()
        other.dispose()


def test_back_from_a_threads_further_replies_is_the_thread_on_the_post(
    page: Page, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post()
    root = publish_reader(post, "ben@example.net", "Ben Reader", body="How long should a nap be?")
    for n in range(queries.REPLIES_PER_THREAD + 2):
        publish_reader(
            post, f"r{n}@example.net", f"Reader {n}", body=f"Answer {n}: twenty minutes.", parent_id=root.id
        )
    slug, root_id = post.slug, root.id
    page.goto(f"/posts/{slug}")
    with page.expect_navigation():
        page.get_by_role("link", name="More replies to Ben Reader").click()
    expect(page.locator("div.comment-body")).to_have_count(2 + 1)  # the thread's start, and the last two
    with page.expect_navigation():
        page.get_by_role("link", name="Earlier replies").click()
    expect(page).to_have_url(re.compile(rf"/posts/{slug}#comment-{root_id}$"))
    thread = page.locator(f"#comment-{root_id}")
    expect(thread).to_be_in_viewport()
    expect(thread.locator("div.comment-body")).to_have_count(1 + queries.REPLIES_PER_THREAD)


def test_a_reply_refused_while_the_post_is_locked_shows_what_it_answers_and_is_sent_again(
    page: Page,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    database_url: str,
    tmp_path: Path,
) -> None:
    post = make_post()
    parent = publish_reader(post, "ben@example.net", "Ben Reader", body="Is a nap after lunch fine?")
    slug, post_id, parent_id = post.slug, post.id, parent.id
    session.close()
    page.goto(f"/posts/{slug}")
    with page.expect_navigation():
        page.get_by_role("link", name="Reply to Ben Reader").click()
    form = page.locator("form.comment-form")
    words = "Does a nap count towards the hours of sleep? I work nights."
    form.get_by_label("Name").fill(READER["author_name"])
    form.get_by_label("E-mail", exact=True).fill(READER["author_email"])
    form.get_by_role("textbox", name="Your reply").fill(words)
    # The request waits out the lock (SQLite's busy timeout, 5 s, or the statement timeout) before it answers.
    with _post_locked(database_url, post_id), page.expect_navigation(timeout=30_000):
        form.get_by_role("button", name="Post reply").click(timeout=30_000)
    notice = page.get_by_role("alert")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("Your reply was not sent")
    expect(notice).to_contain_text("Nothing you wrote is lost")
    expect(notice).to_contain_text(re.compile(r"send it again in (5 seconds|1 minute)\."))
    expect(page.locator(".error-summary, [aria-invalid], p.error")).to_have_count(0)
    assert page.title().startswith("Not sent:"), page.title()
    replying_to = page.locator(".in-reply-to")
    expect(replying_to.locator(".comment-author")).to_have_text("Ben Reader")
    expect(replying_to.locator(".comment-body")).to_have_text("Is a nap after lunch fine?")
    violations = axe_violations(page)
    assert violations == [], format_violations("the refused reply", violations)
    problems = validate({"the refused reply": page.content()}, tmp_path / "vnu", command=vnu_command())
    assert problems == [], format_messages(problems)
    again = page.locator("form.comment-form")
    expect(again.locator("textarea[name=body]")).to_have_value(words)
    expect(again.locator("input[name=author_name]")).to_have_value(READER["author_name"])
    with page.expect_navigation():
        again.get_by_role("button", name="Post reply").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    stored = session.scalars(select(Comment).where(Comment.parent_id == parent_id)).all()
    assert [c.body for c in stored] == [words]
    assert session.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == post_id)) == 2
