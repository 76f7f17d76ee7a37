"""Readers find things, in Chromium: search from the header, topics and pages, at desktop and phone widths;
an editor closes a post's comments from the staff editor."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.editorial import services as editorial
from app.posts import services as posts
from app.topics import services as topics
from tests.support.browser import screenshot, sign_in
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def _fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def published(session, make_user, make_disclosure, gate_settings):
    author = make_user("author", name="Dr Ada Okafor")
    editor = make_user("editor", name="Erin Editor")
    make_disclosure(author)
    topics.create_topic(session, editor, "Kidney health and long-named topics for narrow screens")
    data = posts.RevisionInput(
        "Kidney stones: what to drink",
        "Drink water against oxalate stones; "
        + "a very long unbroken word " * 30
        + "supercalifragilistic" * 8,
        ["https://example.org/kidney"],
        topics=("Kidney health and long-named topics for narrow screens",),
    )
    post = posts.create_draft(session, author, data)
    editorial.submit(session, author, post, gate_settings)
    editorial.approve(session, editor, post, 1, gate_settings)
    page = posts.create_draft(session, author, posts.RevisionInput("About", "Who we are.", []), type="page")
    editorial.submit(session, author, page, gate_settings)
    editorial.approve(session, editor, page, 1, gate_settings)
    session.commit()
    return {"post": post, "editor": editor}


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_reader_searches_from_the_header_and_pages_fit_the_screen(page: Page, published, width) -> None:
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    page.goto("/")
    header = page.get_by_role("banner")
    header.get_by_role("searchbox", name="Search the blog").fill("oxalate")
    header.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=oxalate")
    hit = page.locator(".search-hit").first
    expect(hit.locator("mark").first).to_have_text("oxalate")
    assert _fits(page), "the search page scrolls sideways"
    screenshot(page, f"search-{width}")
    hit.get_by_role("link", name="Kidney stones: what to drink").click()
    page.wait_for_url("**/posts/kidney-stones-what-to-drink")
    for path in ("/topics", "/topics/kidney-health-and-long-named-topics-for-narrow-screens", "/pages/about"):
        page.goto(path)
        assert _fits(page), f"{path} scrolls sideways at {width}"
        screenshot(page, f"readers{path.replace('/', '-')}-{width}")


def test_an_editor_closes_comments_from_the_editor_page(page: Page, published) -> None:
    post = published["post"]
    sign_in(page, published["editor"].email, PASSWORD)
    page.goto(f"/staff/posts/{post.id}/edit")
    page.get_by_label("Why (optional, for the audit log)").fill("Too many off-topic replies.")
    page.get_by_role("button", name="Close comments").click()
    expect(page.locator("#comments-state")).to_contain_text("Too many off-topic replies.")
    page.goto(f"/posts/{post.slug}")
    expect(page.locator("#comments-closed")).to_have_text("Comments are closed on this post.")
    expect(page.get_by_role("heading", name="Leave a comment")).to_have_count(0)
    screenshot(page, "comments-closed")
