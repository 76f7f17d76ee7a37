"""An author adds a phone photo through the plain upload form in Chromium (no script needed), reaches
it from the staff navigation, describes it, and the page fits a phone's width. The browser then loads
the stored image: upright, and without the photo's GPS position."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot, sign_in
from tests.support.images import assert_no_metadata, photo
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser


def test_an_author_uploads_a_photo_and_describes_it(page: Page, live_server, make_user, tmp_path):
    author = make_user("author", name="Ada Author")
    file = tmp_path / "IMG_2040.jpg"
    file.write_bytes(photo("JPEG", (1200, 800)))
    sign_in(page, author.email, PASSWORD)
    with page.expect_navigation():
        page.locator("nav.staff-nav").get_by_role("link", name="Images").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Images")
    page.get_by_label("Image file").set_input_files(str(file))
    page.get_by_label("Shows a patient").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("no location")
    expect(page.locator("#consent-state")).to_contain_text("No consent for the web is in force")

    page.get_by_role("textbox", name="Alt text").fill("A nurse checks a patient's blood pressure")
    with page.expect_navigation():
        page.get_by_role("button", name="Save description").click()
    expect(page.get_by_role("textbox", name="Alt text")).to_have_value(
        "A nurse checks a patient's blood pressure"
    )
    assert (
        page.get_by_label("Markdown to show it in a post")
        .input_value()
        .startswith("![A nurse checks a patient's blood pressure](/media/")
    )

    # What the browser is served: upright (the photo said "rotate 90°") and without its metadata. It shows
    # a patient and no live post uses it yet, so staff see it unstored and nobody else sees it at all.
    src = page.locator("img.media-preview").get_attribute("src")
    served = page.request.get(src)
    assert served.ok and served.headers["cache-control"] == "private, no-store"
    stranger = page.context.browser.new_context()
    try:
        assert stranger.request.get(f"{live_server}{src}").status == 404
    finally:
        stranger.close()
    assert_no_metadata(served.body())
    with Image.open(io.BytesIO(served.body())) as image:
        assert image.size == (800, 1200)

    page.set_viewport_size({"width": 390, "height": 900})
    for path in ("/staff/media", page.url):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    screenshot(page, "media-item-390")
