"""Going back by links, in Chromium, at desktop and phone widths (issue 15's leftovers): a reader pages
three deep through search results and back with "Previous results", with one search box on the page; a
reader whose comment the backlog limit refuses gets the form back with what they wrote."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.editorial import services as editorial
from app.posts import services as posts
from app.posts.models import Post
from app.search.views import PER_PAGE
from tests.support.browser import screenshot
from tests.support.comments import READER, checking_comment

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """The local Akismet; one comment being checked is the backlog's limit."""
    return {**comments_config, "COMMENT_BACKLOG": 1}


def _size(page: Page, width: str) -> None:
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))


def _fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _titles(page: Page) -> list[str]:
    return page.locator(".search-hit h2 a").all_inner_texts()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_reader_pages_three_deep_through_search_and_back_by_previous_links(
    page: Page,
    session: Session,
    make_user: Callable[..., Any],
    make_disclosure: Any,
    gate_settings: Any,
    width: str,
) -> None:
    author = make_user("author", name="Dr Ada Okafor")
    editor = make_user("editor", name="Erin Editor")
    make_disclosure(author)
    # Ranks tie in groups (the same words), so page boundaries fall inside ties.
    for n in range(PER_PAGE * 2 + 5):
        body = "Oxalate stones and water." if n % 3 else "Oxalate, oxalate and water."
        post = posts.create_draft(
            session, author, posts.RevisionInput(f"Kidney note {n:02d}", body, ["https://example.org/k"])
        )
        editorial.submit(session, author, post, gate_settings)
        editorial.approve(session, editor, post, 1, gate_settings)
    session.commit()
    _size(page, width)
    page.goto("/")
    page.get_by_role("banner").get_by_role("searchbox", name="Search the blog").fill("oxalate")
    page.get_by_role("banner").get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=oxalate")
    # One search box on the search page: its own, holding the words.
    expect(page.get_by_role("searchbox")).to_have_count(1)
    expect(page.get_by_role("searchbox")).to_have_value("oxalate")
    pages = [_titles(page)]
    for _ in range(2):
        with page.expect_navigation():
            page.get_by_role("link", name="More results", exact=True).click()
        pages.append(_titles(page))
        assert _fits(page), f"{page.url} scrolls sideways"  # three pager links on the middle page
        screenshot(page, f"search-page-{len(pages)}-{width}")
    expect(page.get_by_role("link", name="More results", exact=True)).to_have_count(0)
    assert [len(p) for p in pages] == [PER_PAGE, PER_PAGE, 5]
    assert len({t for p in pages for t in p}) == PER_PAGE * 2 + 5
    assert page.locator("ol.search-results").get_attribute("start") == str(PER_PAGE * 2 + 1)
    assert _fits(page), "the last page scrolls sideways"
    screenshot(page, f"search-third-page-{width}")
    back = []
    for _ in range(2):
        with page.expect_navigation():
            page.get_by_role("link", name="Previous results", exact=True).click()
        back.append(_titles(page))
    assert back == [pages[1], pages[0]]
    expect(page.get_by_role("link", name="Previous results", exact=True)).to_have_count(0)
    assert page.locator("ol.search-results").get_attribute("start") is None  # numbered from 1 again
    assert _fits(page), "the first page, reached back, scrolls sideways"
    screenshot(page, f"search-back-to-first-{width}")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_comment_refused_by_the_backlog_comes_back_in_the_form(
    page: Page, app: Flask, session: Session, make_post: Callable[..., Post], width: str
) -> None:
    post = make_post()
    checking_comment(app, session, post, "Is a nap of twenty minutes too long?")
    _size(page, width)
    page.goto(f"/posts/{post.slug}")
    form = page.locator("#comment-form")
    words = "Does a nap count towards the hours of sleep? I work nights."
    form.get_by_label("Name").fill(READER["author_name"])
    form.get_by_label("E-mail", exact=True).fill(READER["author_email"])
    form.get_by_role("textbox", name="Comment").fill(words)
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    # One notice for the page, above the form: nothing in the comment was wrong, so no field says so.
    notice = page.get_by_role("alert")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("was not sent")
    expect(notice).to_contain_text("Nothing you wrote is lost")
    expect(notice).to_contain_text("send it again in 5 seconds")
    expect(page.locator(".error-summary, [aria-invalid], .error")).to_have_count(0)
    assert not page.title().startswith("Error"), page.title()
    again = page.locator("form.comment-form")
    expect(again.locator("textarea[name=body]")).to_have_value(words)
    expect(again.locator("input[name=author_name]")).to_have_value(READER["author_name"])
    expect(again.locator("input[name=author_email]")).to_have_value(READER["author_email"])
    assert _fits(page), "the form page scrolls sideways"
    screenshot(page, f"comment-busy-{width}")
