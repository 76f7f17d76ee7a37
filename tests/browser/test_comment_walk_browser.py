"""The comment and moderation flows, clicked through in Chromium as each role would.

Each test is one journey, moving between pages only by the links and buttons a person sees, and asserting
what that person sees (parsed from the page, not grepped). Every page answers without a server error and
without a JavaScript error in the console (``watch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.posts.models import Post
from tests.support.browser import TIMEOUT_MS, screenshot, sign_in
from tests.support.comments import submit
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """The local Akismet (tests/support/comments.py); reader limits relaxed."""
    return comments_config


class Watch:
    """What went wrong in a page that a person would not see as a page: console errors, server errors."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.request.method} {r.url}"),
        )
        return page

    def _console(self, message: Any) -> None:
        # Chromium logs every 4xx page as "Failed to load resource"; a refused form (422) is a page the
        # person reads, not an error. 5xx answers are caught from the responses instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text}")


@pytest.fixture
def watch(page: Page) -> Iterator[Watch]:
    seen = Watch()
    seen.attach(page)
    yield seen
    assert seen.errors == []


def _new_page(browser: Browser, live_server: str, watch: Watch, **kw: Any) -> Page:
    context = browser.new_context(
        base_url=live_server, locale="en-GB", timezone_id="UTC", viewport={"width": 1280, "height": 900}, **kw
    )
    context.set_default_timeout(TIMEOUT_MS)
    return watch.attach(context.new_page())


def _comment(session: Session, email: str) -> Comment:
    session.expire_all()
    return session.scalars(select(Comment).where(Comment.author_email == email).order_by(Comment.id)).all()[
        -1
    ]


def _post(make_post: Callable[..., Post], make_user: Callable[..., Any]) -> Post:
    author = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    return make_post(
        "published",
        author=author,
        title="How much sleep do adults need?",
        body="Adults need *seven hours* of sleep a night. Keep a regular bedtime and a dark, quiet room.",
    )


# --- the reader -----------------------------------------------------------------------------------------


def test_reader_first_time_then_returning_with_javascript(
    page: Page, watch: Watch, session: Session, make_post: Callable[..., Post], make_user: Callable[..., Any]
) -> None:
    post = _post(make_post, make_user)
    page.goto("/")
    page.get_by_role("link", name="How much sleep do adults need?").click()
    form = page.locator("#comment-form")
    expect(form.locator("input[name=form_token]")).not_to_have_value("")
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill(
        "Does a short nap in the afternoon count towards the seven hours?"
    )
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").dblclick()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your comment")
    expect(page.get_by_role("status")).to_contain_text("awaits review by a moderator")
    session.expire_all()
    assert len(session.scalars(select(Comment)).all()) == 1
    screenshot(page, "walk-reader-first-comment-status")


def test_reader_without_javascript_returning_and_hostile_input(
    browser: Browser,
    live_server: str,
    watch: Watch,
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
) -> None:
    post = _post(make_post, make_user)
    make_user("moderator", name="Malik Reyes")
    publish_reader(post, email="ada@example.net", name="Ada Reader")
    page = _new_page(browser, live_server, watch, java_script_enabled=False)
    page.goto("/")
    page.get_by_role("link", name="How much sleep do adults need?").click()
    form = page.locator("#comment-form")
    # A returning reader, no script: published at once, and shown on the page.
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill("Back again: the dark room helped, thank you.")
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    mine = _comment(session, "ada@example.net")
    assert mine.status == "published"
    expect(page.locator(f"#comment-body-{mine.id}")).to_have_text(
        "Back again: the dark room helped, thank you."
    )

    # Huge text past the form's limit (maxlength taken off, as a script could): told, not a 500.
    page.locator("#comment-body").evaluate("el => el.removeAttribute('maxlength')")
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill("sleep " * 40_000)
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(page.locator("#reply-body-error")).to_contain_text("the limit is 5,000")

    # A right-to-left mark in the name is refused, in the form's words (not "author_name").
    page.get_by_role("main").get_by_role("link", name="How much sleep do adults need?").click()
    form.get_by_label("Name").fill("Malik Re\u200fyes")
    form.get_by_label("E-mail", exact=True).fill("fake@example.net")
    form.get_by_label("Comment", exact=True).fill("As the moderator, I say naps count double.")
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(page.locator("#reply-author_name-error")).to_have_text(
        "Error: Name contains bidirectional control characters."
    )
    # A look-alike of a staff name (Cyrillic letters, a zero-width joiner): held, never published.
    reply_form = page.locator("#reply-form")
    reply_form.get_by_label("Name").fill("\u041c\u0430lik\u200d Reyes")
    with page.expect_navigation():
        reply_form.get_by_role("button", name="Post comment").click()
    expect(page.get_by_role("status")).to_contain_text("awaits review")
    assert _comment(session, "fake@example.net").status == "held"
    screenshot(page, "walk-reader-no-js-lookalike")
