"""The post editor in Chromium: the toolbar writes Markdown, the live preview (the server's renderer)
follows the text, the checklist is judged on the text as typed, autosave keeps the working copy and a
reload offers it back; leaving with unsaved text is warned about; images go through /staff/media.

/staff/media belongs to the media desk (issue 12, items 1-6). Here it is stood in for at the browser's
network layer by answers of its contract (201 ``{id, url, markdown}``, or a 404 where no media desk
exists), so the editor's side is tested on its own; ``pending_editor_paste_image.py`` runs the same paste
against the real endpoint once the media desk is merged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.posts.models import Post
from app.sites import services as sites
from tests.support.browser import screenshot, sign_in
from tests.support.html_checks import axe_violations, format_violations
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

# A 1x1 PNG, pasted as a file the way a screenshot tool puts one on the clipboard.
PASTE_IMAGE = """async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 4; canvas.height = 3;
  canvas.getContext("2d").fillRect(0, 0, 4, 3);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const data = new DataTransfer();
  data.items.add(new File([blob], "chart.png", { type: "image/png" }));
  const body = document.querySelector("textarea[name=body]");
  body.focus();
  body.setSelectionRange(body.value.length, body.value.length);
  body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def _open_editor(page: Page, user: User, post: Post) -> None:
    sign_in(page, user.email, PASSWORD)
    page.goto(f"/staff/posts/{post.id}/edit")
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()


def test_write_with_the_toolbar_watch_the_preview_and_find_the_autosave_after_a_reload(
    page: Page,
    session: Session,
    make_user: Callable[..., User],
    make_post: Callable[..., Post],
) -> None:
    author = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    sites.propose(session, author, name="Flickr", kind="photo", hosts="flickr.com", note="Clinic photos.")
    session.commit()
    post = make_post("draft", author=author, title="Naps", body="Old text.")
    _open_editor(page, author, post)
    body = page.get_by_label("Text (Markdown)")
    preview = page.locator("#live-preview")
    expect(preview.locator("p")).to_have_text("Old text.")  # the first preview, drawn on load

    body.fill("")
    body.press_sequentially("Naps help ")
    page.get_by_role("button", name="Bold").click()  # inserts **bold text**, the placeholder selected
    page.keyboard.type("shift workers")
    body.press("End")
    body.press_sequentially(" and ")
    body.press("Control+i")
    page.keyboard.type("nurses")
    expect(body).to_have_value("Naps help **shift workers** and *nurses*")
    expect(preview.locator("strong")).to_have_text("shift workers")  # rendered by the server
    expect(preview.locator("em")).to_have_text("nurses")
    expect(page.locator("#word-count")).to_have_text("6 words")

    body.press("End")
    body.press("Enter")
    body.press("Enter")
    page.get_by_role("button", name="Quote").click()
    page.keyboard.type("Sleep is medicine.")
    expect(preview.locator("blockquote")).to_contain_text("Sleep is medicine.")

    # The checklist follows the text as typed: a link to a registered but unapproved site fails it.
    body.press("End")
    body.press_sequentially("\n\nSee the [album](https://www.flickr.com/photos/clinic).")
    gate = page.locator('#checklist li[data-gate="external_sites"]')
    expect(gate).to_have_attribute("data-state", "fail")
    expect(gate).to_contain_text("Flickr")

    expect(page.locator("#editor-status")).to_contain_text("Autosaved")
    violations = axe_violations(page)
    assert not violations, format_violations("editor", violations)
    page.set_viewport_size({"width": 390, "height": 900})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the editor scrolls sideways by {overflow}px at 390px"
    screenshot(page, "editor-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.reload()  # everything was autosaved: no warning stands in the way
    expect(page.locator("#autosave-offer")).to_be_visible()
    expect(page.get_by_label("Text (Markdown)")).to_have_value("Old text.")  # offered, not imposed
    page.get_by_role("link", name="Restore the autosaved text").click()
    expect(page.get_by_label("Text (Markdown)")).to_contain_text("Naps help **shift workers** and *nurses*")
    expect(page.locator("#live-preview strong")).to_have_text("shift workers")
    with page.expect_navigation():
        page.keyboard.press("Control+s")  # the shortcut saves: a revision now, and the buffer is gone
    expect(page.locator(".flashes")).to_contain_text("Saved revision 2")
    expect(page.locator("#autosave-offer")).to_have_count(0)


def test_leaving_with_unsaved_text_is_warned_about(
    page: Page, make_user: Callable[..., User], make_post: Callable[..., Post]
) -> None:
    author = make_user("author")
    sign_in(page, author.email, PASSWORD)
    page.goto("/staff/posts/new")  # a new post has nothing to autosave into: its text exists only here
    page.get_by_label("Title").fill("Unsaved thoughts")
    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    page.reload()
    assert dialogs == ["beforeunload"]
    dialogs.clear()
    page.goto("/staff/posts/new")  # nothing typed: nothing to warn about
    page.goto("/staff/")
    assert dialogs == []


def _media_stand_in(page: Page, status: int, answer: dict[str, Any], seen: list[dict[str, str]]) -> None:
    def handle(route: Any) -> None:
        request = route.request
        seen.append(
            {
                "csrf": request.headers.get("x-csrftoken", ""),
                "body": request.post_data_buffer.decode("latin-1"),
            }
        )
        route.fulfill(status=status, content_type="application/json", body=json.dumps(answer))

    page.route("**/staff/media", handle)


def test_a_pasted_image_asks_for_alt_text_and_inserts_the_markdown(
    page: Page, make_user: Callable[..., User], make_post: Callable[..., Post]
) -> None:
    author = make_user("author")
    post = make_post("draft", author=author, body="A chart:")
    _open_editor(page, author, post)
    seen: list[dict[str, str]] = []
    markdown = "![Sleep hours by shift](/media/1/chart.png)"
    _media_stand_in(page, 201, {"id": 1, "url": "/media/1/chart.png", "markdown": markdown}, seen)
    page.evaluate(PASTE_IMAGE)
    dialog = page.get_by_role("dialog", name="Describe the image")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Upload and insert").click()
    expect(dialog.get_by_role("alert")).to_have_text("Describe the image, or mark it decorative.")
    assert seen == []  # no alt text, no upload
    dialog.get_by_label("Alt text").fill("Sleep hours by shift")
    dialog.get_by_role("button", name="Upload and insert").click()
    expect(page.get_by_label("Text (Markdown)")).to_have_value(f"A chart:\n\n{markdown}\n\n")
    assert len(seen) == 1 and seen[0]["csrf"]
    assert 'name="alt"' in seen[0]["body"] and "Sleep hours by shift" in seen[0]["body"]
    assert 'filename="chart.png"' in seen[0]["body"] and 'name="decorative"' not in seen[0]["body"]
    expect(page.locator("#live-preview img")).to_have_attribute("alt", "Sleep hours by shift")
    expect(page.locator("#editor-status")).to_have_text("Image uploaded and inserted.")


def test_without_a_media_desk_a_paste_says_so_and_inserts_nothing(
    page: Page, make_user: Callable[..., User], make_post: Callable[..., Post]
) -> None:
    author = make_user("author")
    post = make_post("draft", author=author, body="A chart:")
    _open_editor(page, author, post)
    seen: list[dict[str, str]] = []
    _media_stand_in(page, 404, {"error": {"code": "not_found", "message": "There is nothing here."}}, seen)
    page.evaluate(PASTE_IMAGE)
    dialog = page.get_by_role("dialog", name="Describe the image")
    dialog.get_by_label("Decorative").check()
    dialog.get_by_role("button", name="Upload and insert").click()
    expect(page.locator("#editor-status")).to_contain_text("Image upload is not available")
    expect(page.get_by_label("Text (Markdown)")).to_have_value("A chart:")
    assert 'name="decorative"' in seen[0]["body"]


def test_the_toolbar_is_one_tab_stop_after_the_text_and_the_arrow_keys_move_along_it(
    page: Page, make_user: Callable[..., User], make_post: Callable[..., Post]
) -> None:
    author = make_user("author")
    post = make_post("draft", author=author, body="Word")
    _open_editor(page, author, post)
    page.get_by_label("Title").focus()
    page.keyboard.press("Tab")
    body = page.get_by_label("Text (Markdown)")
    expect(body).to_be_focused()  # the toolbar does not stand between the title and the text
    body.press("End")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Bold")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("button", name="Italic")).to_be_focused()
    page.keyboard.press("Enter")
    expect(body).to_have_value("Word*italic text*")
    expect(body).to_be_focused()  # back in the text, the placeholder selected to type over
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Italic")).to_be_focused()  # the toolbar remembers its place
    page.keyboard.press("End")
    expect(page.get_by_role("button", name="Image…")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("References (one URL per line)")).to_be_focused()


def test_a_new_post_never_saved_is_autosaved_and_offered_back_after_a_reload(
    page: Page, session: Session, make_user: Callable[..., User]
) -> None:
    author = make_user("author", name="Dr Ada Okafor")
    sign_in(page, author.email, PASSWORD)
    page.goto("/staff/posts/new")
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    page.get_by_label("Title").fill("Night shifts")
    page.get_by_label("Text (Markdown)").press_sequentially("Sleep before the first night shift.")
    expect(page.locator("#editor-status")).to_contain_text("Autosaved")

    page.reload()  # autosaved: no warning stands in the way
    expect(page.locator("#autosave-offer")).to_be_visible()
    expect(page.get_by_label("Text (Markdown)")).to_have_value("")  # offered, not imposed
    page.get_by_role("link", name="Restore the autosaved text").click()
    expect(page.get_by_label("Text (Markdown)")).to_have_value("Sleep before the first night shift.")
    expect(page.get_by_label("Title")).to_have_value("Night shifts")
    expect(page.locator("#live-preview p")).to_have_text("Sleep before the first night shift.")
    with page.expect_navigation():
        page.keyboard.press("Control+s")  # the first Save makes the post; the buffer is gone
    expect(page.locator(".flashes")).to_contain_text("Draft saved as revision 1")
    page.goto("/staff/posts/new")
    expect(page.locator("#autosave-offer")).to_have_count(0)
