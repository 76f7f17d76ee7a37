"""The staff desk in Chromium, by keyboard: write a draft, meet the gates, submit, approve, publish.

Fields are reached with Tab and forms sent with Enter, as a keyboard user would; ``focus()`` stands in
for a run of Tabs only to jump to a control further down the page. axe checks the pages in the states
the reader-page registry does not reach (failing gates, a refused submit, a preview).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from app.accounts.models import User
from tests.support.browser import screenshot
from tests.support.html_checks import axe_violations, format_violations
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

TITLE = "Why night-shift workers need more sleep"
BODY = (
    "Night-shift workers sleep *less* than day workers.\n\n"
    "The [cohort study](https://example.org/cohort) shows it."
)
REFERENCE = "https://example.org/cohort"


def _sign_in_by_keyboard(page: Page, user: User) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").focus()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"Signed in as {user.name}")


def _press(page: Page, name: str, *, role: str = "button", within: Locator | None = None) -> None:
    """Move focus to a control and activate it with Enter, waiting for the page it leads to."""
    control = (within or page.locator("main")).get_by_role(role, name=name, exact=True)  # type: ignore[arg-type]
    control.focus()
    expect(control).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _no_axe_violations(page: Page, label: str) -> None:
    violations = axe_violations(page)
    assert not violations, format_violations(label, violations)


def test_an_author_and_an_editor_take_a_post_from_draft_to_published_by_keyboard(
    page: Page, browser: Browser, live_server: str, make_user: Callable[..., User]
) -> None:
    author = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    editor = make_user("editor", name="Edith Editor", title="Reviewer", department="Public Affairs")

    # The author writes a draft: Tab from field to field, Enter on Save.
    _sign_in_by_keyboard(page, author)
    page.get_by_role("banner").get_by_role("link", name="Staff").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    _press(page, "New post", role="link", within=page.locator("main > p"))
    page.get_by_label("Title").focus()
    page.keyboard.type(TITLE)
    page.keyboard.press("Tab")
    expect(page.locator("#body")).to_be_focused()
    page.keyboard.insert_text(BODY)
    # Preview first: rendered on the server, below the form, with the text kept.
    _press(page, "Preview")
    expect(page.locator("#preview em")).to_have_text("less")
    expect(page.locator("#body")).to_have_value(BODY)
    _no_axe_violations(page, "editor with a preview")
    _press(page, "Save")
    expect(page.get_by_role("status")).to_contain_text("Draft saved as revision 1")

    # The checklist says, in words, that two gates fail; submitting lists them both.
    expect(page.locator("#gate-references .gate-state")).to_have_text("✗ Fail")
    expect(page.locator("#gate-disclosure .gate-state")).to_have_text("✗ Fail")
    _press(page, "Submit for review")
    expect(page.locator("#blocked li")).to_have_count(2)
    expect(page.locator("#blocked")).to_contain_text("References")
    _no_axe_violations(page, "editor after a refused submit")
    screenshot(page, "staff-submit-blocked")

    # Fix both: a reference on the post, then a disclosure.
    page.get_by_label("References (one URL per line)").focus()
    page.keyboard.type(REFERENCE)
    _press(page, "Save")
    expect(page.get_by_role("status")).to_contain_text("Saved revision 2")
    _press(page, "My disclosure", role="link", within=page.get_by_role("navigation", name="Staff"))
    radio = page.get_by_label("I have no relevant financial relationships")
    radio.focus()
    page.keyboard.press("Space")
    expect(radio).to_be_checked()
    _no_axe_violations(page, "disclosure form")
    _press(page, "Record disclosure")
    expect(page.locator("#disclosure-status")).to_contain_text("Current.")

    _press(page, "Dashboard", role="link", within=page.get_by_role("navigation", name="Staff"))
    page.get_by_role("link", name=TITLE).first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".gate-list .gate-fail")).to_have_count(0)
    screenshot(page, "staff-editor-gates-pass")
    _press(page, "Submit for review")
    expect(page.get_by_role("status")).to_contain_text("Revision 2 is in review")
    expect(page.locator("#group-in_review")).to_contain_text(TITLE)

    # The editor, in their own browser, finds it in the queue and approves it.
    context = browser.new_context(
        base_url=live_server, locale="en-GB", timezone_id="UTC", viewport={"width": 1280, "height": 900}
    )
    try:
        desk = context.new_page()
        _sign_in_by_keyboard(desk, editor)
        desk.goto("/staff/")
        expect(desk.locator('[data-work="review_queue"]')).to_contain_text("1 Waiting for review")
        _press(desk, "Review queue", role="link", within=desk.get_by_role("navigation", name="Staff"))
        _press(desk, TITLE, role="link")
        expect(desk.locator("#review-body em")).to_have_text("less")
        _no_axe_violations(desk, "review page")
        screenshot(desk, "staff-review")
        _press(desk, "Approve revision 2…")
        expect(desk.locator("#confirm")).to_contain_text("is published now")
        _press(desk, "Approve revision 2")
        expect(desk.get_by_role("status")).to_contain_text(f"Approved and published “{TITLE}”")
        expect(desk.locator("#review-queue")).to_have_count(0)
    finally:
        context.close()

    # Readers see it; the author's dashboard has it under Published.
    page.goto("/staff/")
    expect(page.locator("#group-published")).to_contain_text(TITLE)
    page.locator("#group-published").get_by_role("link", name=f"Public page of “{TITLE}”").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator("#post-body em")).to_have_text("less")
    screenshot(page, "staff-published-post")
