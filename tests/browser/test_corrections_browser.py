"""A reader opens a corrected post in Chromium and toggles between the clean text and the changes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def test_a_reader_toggles_the_changes_of_a_corrected_post(page: Page, api, make_post, make_user) -> None:
    editor = make_user("editor")
    post = make_post("published", title="Aspirin dosing", body="Take **50 mg** daily with food.")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {
            "body": "Take **5 mg** daily with food.",
            "base_revision": 1,
            "kind": "correction",
            "note": "The dose was wrong.",
        },
        as_=post.author,
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author)
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=editor)

    page.goto(f"/posts/{post.slug}")
    expect(page.locator(".corrections-notices")).to_contain_text("The dose was wrong.")
    expect(page.locator("#post-body")).to_have_text("Take 5 mg daily with food.")
    page.get_by_role("link", name="Show changes since first publication").click()
    page.wait_for_url(f"**/posts/{post.slug}/changes")
    expect(page.locator("#post-diff del")).to_have_text("50")
    expect(page.locator("#post-diff ins")).to_have_text("5")
    expect(page.locator("#post-diff del")).to_have_css("text-decoration-line", "line-through")
    screenshot(page, "reader-toggles-changes")
    page.get_by_role("link", name="Current text").click()
    page.wait_for_url(f"**/posts/{post.slug}")
    expect(page.locator("#post-diff")).to_have_count(0)
