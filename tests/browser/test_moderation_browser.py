"""A reader posts a comment in Chromium; a moderator triages the queue with the keyboard.

The reader's comment goes through the real pipeline (the local Akismet server answers ham), is held as
a first comment and told so; the moderator, signed in, moves with j/k, approves with a, sends an
off-topic comment away with o and marks spam with s, opens the help with ?, and replies with r, with
no mouse. The post page then shows the approved comment and the staff reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.comments.queries import decisions_for
from app.posts.models import Post
from tests.support.browser import screenshot, sign_in
from tests.support.comments import submit
from tests.support.html_checks import axe_violations, format_violations
from tests.support.web import PASSWORD


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """This module's app talks to the local Akismet (tests/support/comments.py)."""
    return comments_config


pytestmark = pytest.mark.browser

COMMENT = "Thank you. Does a short nap in the afternoon count towards the seven hours?"


def _focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_a_reader_comments_and_a_moderator_triages_by_keyboard(
    page: Page, app: Flask, session: Session, make_post: Callable[..., Post], make_user: Callable[..., Any]
) -> None:
    post = make_post(
        title="How much sleep do adults need?",
        body="Adults need *seven hours* of sleep a night. Keep a regular bedtime.",
    )
    moderator = make_user(
        "moderator", name="Malik Reyes", title="Community Moderator", department="Public Affairs"
    )
    # Two held comments already wait, older than the reader's: one off-topic, one spam-like.
    off_topic = submit(
        app,
        session,
        post,
        author_name="Pat",
        author_email="pat@example.net",
        body="Anyone know a good plumber for a leaking boiler in the north end?",
    )
    spammy = submit(
        app,
        session,
        post,
        author_name="Deals",
        author_email="deals@example.net",
        body="Best crypto trading signals, earn $500 a day, DM me on telegram.",
    )

    # The reader: the form's time token arrives by script, then they type and send.
    page.goto(f"/posts/{post.slug}")
    form = page.locator("#comment-form")
    expect(form.locator("input[name=form_token]")).not_to_have_value("")
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill(COMMENT)
    form.get_by_label("E-mail me when staff reply to my comment").check()
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(page.get_by_role("status")).to_contain_text("awaits review by a moderator")
    session.expire_all()
    mine = session.scalars(select(Comment).where(Comment.author_email == "ada@example.net")).one()
    assert mine.status == "held" and mine.reasons == ["first_comment"]
    assert next(c for c in mine.checks if c["check"] == "time_to_submit")["detail"].startswith("sent")

    # The moderator, by keyboard only.
    sign_in(page, moderator.email, PASSWORD)
    page.goto("/staff/comments/")
    items = page.locator(".mod-item")
    expect(items).to_have_count(3)
    assert [items.nth(i).get_attribute("data-comment-id") for i in range(3)] == [
        str(off_topic.id),
        str(spammy.id),
        str(mine.id),
    ]
    violations = axe_violations(page)
    assert not violations, format_violations("moderation queue", violations)

    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_have_attribute("open", "")
    page.keyboard.press("?")
    page.keyboard.press("j")
    assert _focused_id(page) == f"mod-comment-{off_topic.id}"
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert _focused_id(page) == f"mod-comment-{mine.id}"
    page.keyboard.press("k")
    page.keyboard.press("k")
    assert _focused_id(page) == f"mod-comment-{off_topic.id}"

    with page.expect_navigation():
        page.keyboard.press("o")  # off-topic
    expect(page.get_by_role("status")).to_contain_text("removed as off-topic")
    expect(items).to_have_count(2)
    # Focus came back to the same place in the queue: now the spam-like comment.
    expect(page.locator(f"#mod-comment-{spammy.id}")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("s")
    # Spam is reported to Akismet: a page says so first, its button focused, so Enter confirms.
    expect(page.locator("#confirm")).to_contain_text("Akismet is told it was spam")
    expect(page.locator("#confirm-form button")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("marked spam")
    expect(page.locator(f"#mod-comment-{mine.id}")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("a")
    expect(page.get_by_role("status")).to_contain_text("approved")
    expect(page.locator("#queue-empty")).to_be_visible()

    # Reply to the reader from the published tab: r opens the comment at its reply form.
    page.goto("/staff/comments/?status=published")
    page.keyboard.press("j")
    assert _focused_id(page) == f"mod-comment-{mine.id}"
    with page.expect_navigation():
        page.keyboard.press("r")
    expect(page.locator("#reply-body")).to_be_focused()
    page.keyboard.type("Yes: a short nap counts, but keep it before 3 pm.")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    session.expire_all()
    statuses = {c.id: c.status for c in session.scalars(select(Comment))}
    staff_reply = session.scalars(select(Comment).where(Comment.staff_user_id == moderator.id)).one()
    assert statuses == {
        off_topic.id: "deleted",
        spammy.id: "spam",
        mine.id: "published",
        staff_reply.id: "published",
    }
    assert [decisions_for(session, c.id)[-1].action for c in (off_topic, spammy, mine)] == [
        "off_topic",
        "spam",
        "approve",
    ]
    assert all(
        decisions_for(session, c.id)[-1].moderator_id == moderator.id for c in (off_topic, spammy, mine)
    )
    expect(page.locator(f"#comment-body-{mine.id}")).to_have_text(COMMENT)
    reply = page.locator(f"#comment-{mine.id} .comment-staff")
    expect(reply.locator(".staff-badge")).to_contain_text("Staff")
    expect(reply).to_contain_text("Malik Reyes")
    expect(reply).to_contain_text("Community Moderator, Public Affairs")
    screenshot(page, "moderation-reply-published")
