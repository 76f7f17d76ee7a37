"""Each role finds its work from the dashboard, by links only, in Chromium: an author writes and submits;
an editor finds the post from the dashboard and approves it through the confirmation page; a moderator
finds the comment queue from the dashboard. Every page is checked at 1280 px and at 390 px (a phone):
nothing may overflow sideways, and screenshots are kept in test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.posts.models import Post
from tests.support.browser import screenshot
from tests.support.html_checks import axe_violations, format_violations
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

TITLE = "Shift work and sleep"
WIDTHS = (1280, 390)


@contextmanager
def _browser_for(browser: Browser, live_server: str, user: User, width: int = 1280) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server, locale="en-GB", timezone_id="UTC", viewport={"width": width, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("E-mail").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        # Signing in lands on the dashboard.
        expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
        yield page
    finally:
        context.close()


def _follow(page: Page, name: str, within: str = "main") -> None:
    with page.expect_navigation():
        page.locator(within).get_by_role("link", name=name).first.click()


def _check_widths(page: Page, label: str) -> None:
    """The page at each width: no sideways scrolling, no axe violations, a screenshot to look at."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{label} scrolls sideways by {overflow}px at {width}px"
        screenshot(page, f"desk-{label}-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})
    violations = axe_violations(page)
    assert not violations, format_violations(label, violations)


def test_each_role_finds_its_work_from_the_dashboard_by_links(
    browser: Browser,
    live_server: str,
    session: Session,
    make_user: Callable[..., User],
    make_disclosure: Callable[..., Any],
    make_post: Callable[..., Post],
) -> None:
    author = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    editor = make_user("editor", name="Edith Editor", title="Reviewer", department="Public Affairs")
    moderator = make_user("moderator", name="Malik Reyes", title="Community", department="Communications")
    make_disclosure(author)
    published = make_post("published", title="Naps help, a little")
    _held_comment(session, published)

    # The author writes and submits, from the dashboard's own links.
    with _browser_for(browser, live_server, author) as page:
        _check_widths(page, "author-dashboard")
        _follow(page, "New post", 'nav[aria-label="Staff"]')
        page.get_by_label("Title").fill(TITLE)
        page.get_by_label("Text (Markdown)").fill("Night shifts cut sleep by *an hour*.")
        page.get_by_label("References (one URL per line)").fill("https://example.org/shift-study")
        with page.expect_navigation():
            page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Draft saved as revision 1")
        with page.expect_navigation():
            page.get_by_role("button", name="Submit for review").click()
        expect(page.get_by_role("status")).to_contain_text("Revision 1 is in review")
        expect(page.locator('[data-work="in_review"] .work-count')).to_have_text("1")

    # The editor: dashboard -> the review queue -> the post -> approve -> the confirmation -> published.
    with _browser_for(browser, live_server, editor) as page:
        expect(page.locator('[data-work="review_queue"] .work-count')).to_have_text("1")
        _check_widths(page, "editor-dashboard")
        _follow(page, "Waiting for review", "#work-editor")
        _follow(page, TITLE)
        page.get_by_label("Publish at (your time zone; leave empty to publish now)").fill("")
        with page.expect_navigation():
            page.get_by_role("button", name="Approve revision 1…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Approve “{TITLE}”?")
        expect(page.locator("#confirm")).to_contain_text("is published now")
        _check_widths(page, "approve-confirmation")
        with page.expect_navigation():
            page.get_by_role("button", name="Approve revision 1", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(f"Approved and published “{TITLE}”")
        # The post list finds it by state and title; its public page offers staff an Edit link.
        _follow(page, "All posts", 'nav[aria-label="Staff"]')
        page.get_by_label("State").select_option("published")
        page.get_by_label("Title contains").fill("shift")
        with page.expect_navigation():
            page.get_by_role("button", name="Show posts").click()
        expect(page.locator("#post-list tbody tr")).to_have_count(1)
        _check_widths(page, "post-list")
        _follow(page, f"Public page of “{TITLE}”", "#post-list")
        expect(page.locator("#staff-edit a")).to_have_attribute(
            "href", f"/staff/posts/{_post_id(session)}/edit"
        )

    # The moderator: dashboard -> held comments -> the comment is there.
    with _browser_for(browser, live_server, moderator) as page:
        expect(page.locator('[data-work="comment_queue"] .work-count')).to_have_text("1")
        _check_widths(page, "moderator-dashboard")
        _follow(page, "Held comments", "#work-moderator")
        expect(page.locator(".mod-item")).to_have_count(1)
        expect(page.locator(".mod-item")).to_contain_text("Rosa Reader")


def _post_id(session: Session) -> int:
    from sqlalchemy import select

    from app.posts.models import Revision

    session.expire_all()
    return session.scalars(select(Revision.post_id).where(Revision.title == TITLE)).one()


def _held_comment(session: Session, post: Post) -> None:
    from app.comments import services
    from app.spam.akismet_adapter import AkismetChecker, AkismetSettings
    from app.spam.pipeline import PipelineSettings

    services.submit_comment(
        session,
        post,
        services.CommentInput(
            author_name="Rosa Reader", author_email="rosa@example.org", body="Does a nap at work count?"
        ),
        actor=None,
        checker=AkismetChecker(AkismetSettings(api_key=None, blog_url="http://blog.example.org/")),
        settings=PipelineSettings(min_seconds=0),
    )
    session.commit()
