"""Four eyes in Chromium, using only links: an editor who rewrote an author's draft finds it in the review
queue but is not offered approval; a second editor approves it; readers see who wrote and who approved.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from app.accounts.models import User
from tests.support.browser import screenshot
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

TITLE = "Flu clinic opening hours"


def _sign_in(page: Page, user: User) -> None:
    page.goto("/")
    page.get_by_role("link", name="Staff sign-in").click()
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text(f"Signed in as {user.name}")


def _open_from_queue(page: Page) -> None:
    page.get_by_role("banner").get_by_role("link", name="Staff").click()
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Review queue").click()
    page.locator("main").get_by_role("link", name=TITLE).click()


def test_the_editor_who_wrote_part_is_not_offered_approval_and_a_second_editor_approves(
    page: Page,
    browser: Browser,
    live_server: str,
    api,
    make_user: Callable[..., User],
    make_disclosure: Callable[..., object],
) -> None:
    author = make_user("author", name="Dr Ada Okafor", title="Nurse lead", department="Primary Care")
    first = make_user("editor", name="Edith First", title="Editor", department="Public Affairs")
    second = make_user("editor", name="Sam Second", title="Editor", department="Public Affairs")
    make_disclosure(author)
    created = api.post(
        "/api/v1/posts",
        {"title": TITLE, "body": "Open 9 to 5.", "references": ["https://example.org/flu"]},
        as_=author,
    ).get_json()
    # The first editor rewrites the author's draft; the author submits it.
    api.post(
        f"/api/v1/posts/{created['id']}/revisions",
        {"body": "Open 8 to 6 on weekdays.", "base_revision": 1},
        as_=first,
    )
    assert api.post(f"/api/v1/posts/{created['id']}/submit", as_=author).status_code == 200

    _sign_in(page, first)
    _open_from_queue(page)
    expect(page.locator("#four-eyes")).to_contain_text("You wrote part of this text")
    expect(page.locator("#approve-form")).to_have_count(0)
    screenshot(page, "four-eyes-refused")

    context = browser.new_context(
        base_url=live_server, locale="en-GB", timezone_id="UTC", viewport={"width": 1280, "height": 900}
    )
    try:
        desk = context.new_page()
        _sign_in(desk, second)
        _open_from_queue(desk)
        expect(desk.locator(".writers")).to_contain_text("Edith First")
        desk.get_by_role("button", name="Approve revision 2…").click()
        desk.get_by_role("button", name="Approve revision 2", exact=True).click()
        expect(desk.get_by_role("status")).to_contain_text(f"Approved and published “{TITLE}”")
    finally:
        context.close()

    # A reader, by links from the home page, finds the post and its history: writer and approver differ.
    reader = browser.new_context(base_url=live_server, locale="en-GB", timezone_id="UTC")
    try:
        home = reader.new_page()
        home.goto("/")
        home.get_by_role("link", name=TITLE).first.click()
        expect(home.locator("#post-body")).to_contain_text("Open 8 to 6 on weekdays.")
        home.get_by_role("link", name="History").first.click()
        row = home.locator("table.history tbody tr").first
        expect(row).to_contain_text("Edith First")
        expect(row).to_contain_text("Sam Second")
        screenshot(home, "four-eyes-history")
        # On a phone the history is a card per version: writer and approver stay on screen.
        home.set_viewport_size({"width": 390, "height": 844})
        assert home.evaluate("document.documentElement.scrollWidth") <= 390
        expect(home.locator('table.history td[data-label="Approved by"]').first).to_be_in_viewport()
        screenshot(home, "four-eyes-history-phone")
    finally:
        reader.close()
