"""What a reader and a staff member do, in a real browser: open a post; sign in and out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot, sign_in
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser


def test_a_reader_opens_a_post_from_the_home_page(page: Page, make_post, make_user) -> None:
    author = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    post = make_post(
        "published",
        author=author,
        title="Why adults need more sleep",
        body="Adults need *seven hours* of sleep a night.",
    )
    make_post("published", title="Another post entirely", body="Something else.")

    page.goto("/")
    page.get_by_role("link", name="Why adults need more sleep").click()

    page.wait_for_url(f"**/posts/{post.slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Why adults need more sleep")
    expect(page.locator("#post-body")).to_have_text("Adults need seven hours of sleep a night.")
    expect(page.locator("#post-body em")).to_have_text("seven hours")
    expect(page.locator(".byline")).to_contain_text("Dr Ada Okafor")
    screenshot(page, "reader-opens-post")


def test_staff_sign_in_through_the_form_and_sign_out(page: Page, make_user) -> None:
    staff = make_user("editor", name="Edith Editor")
    header = page.get_by_role("banner")

    page.goto("/")
    header.get_by_role("link", name="Staff sign-in").click()
    page.wait_for_url("**/login")
    page.get_by_label("E-mail").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(header).to_contain_text("Edith Editor")
    expect(page.get_by_role("status")).to_contain_text("Signed in as Edith Editor")
    expect(header.get_by_role("link", name="Staff sign-in")).to_have_count(0)

    header.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("status")).to_contain_text("Signed out")
    expect(header).not_to_contain_text("Edith Editor")
    expect(header.get_by_role("link", name="Staff sign-in")).to_be_visible()


def test_a_wrong_password_is_refused_on_the_form(page: Page, make_user) -> None:
    staff = make_user("author", name="Arthur Author")
    sign_in(page, staff.email, "not the password at all")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password-error")).to_contain_text("do not match")
    expect(page.get_by_role("banner")).not_to_contain_text("Arthur Author")
