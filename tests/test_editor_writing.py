"""The editor's helpers: live preview (same renderer, checklist on the working copy, read-only) and
autosave to a draft buffer that is never a revision; the plain form keeps working without them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.posts.models import Post, Revision
from app.sites import services as sites
from tests.support.web import form_csrf_token, log_in, parse


class Writer:
    """A signed-in member of staff, sending the editor page's JSON calls with the page's CSRF token."""

    def __init__(self, app: Flask, user: User) -> None:
        self.client = app.test_client()
        assert log_in(self.client, user.email).status_code == 302
        self.token = form_csrf_token(self.client, "/staff/")

    def json(self, path: str, body: Any) -> Any:
        return self.client.post(path, json=body, headers={"X-CSRFToken": self.token})

    def form(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **data})


def _revisions(session: Session, post: Post) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Revision).where(Revision.post_id == post.id)) or 0


@pytest.fixture
def draft(make_post: Callable[..., Post]) -> Post:
    return make_post("draft", title="Sleep", body="Adults need sleep.")


def test_preview_renders_with_the_server_renderer_and_judges_the_working_copy(
    app: Flask, session: Session, draft: Post, make_user: Callable[..., User]
) -> None:
    me = Writer(app, draft.author)
    answer = me.json(
        "/staff/writing/preview",
        {
            "title": "Sleep",
            "body": "Some *text* <script>alert(1)</script>",
            "references": "",
            "post_id": draft.id,
        },
    )
    assert answer.status_code == 200
    data = answer.get_json()
    html = parse_fragment(data["html"])
    assert html.select_one("em").get_text() == "text" and html.select("script") == []
    checklist = parse_fragment(data["checklist"])
    states = {li["data-gate"]: li["data-state"] for li in checklist.select("li[data-gate]")}
    assert states["references"] == "fail"  # the working copy has none, the saved revision has one
    assert states["external_sites"] == "pass"
    assert _revisions(session, draft) == 1  # nothing stored

    sites.propose(session, make_user("author"), name="Flickr", kind="photo", hosts="flickr.com", note="x")
    session.commit()
    data = me.json(
        "/staff/writing/preview",
        {
            "body": "[album](https://www.flickr.com/photos/x)",
            "references": "https://e.org/a",
            "post_id": draft.id,
        },
    ).get_json()
    checklist = parse_fragment(data["checklist"])
    failing = checklist.select_one('li[data-gate="external_sites"]')
    assert failing["data-state"] == "fail" and "Flickr" in failing.get_text()


def parse_fragment(html: str) -> Any:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html5lib")


def test_preview_refuses_what_it_cannot_render_and_what_is_not_json(app: Flask, draft: Post) -> None:
    me = Writer(app, draft.author)
    too_long = me.json("/staff/writing/preview", {"body": "x" * 200_001})
    assert too_long.status_code == 422 and "too long" in too_long.get_json()["error"]["message"]
    for body in (
        None,
        [],
        "text",
        {"body": 5},
        {"body": "x", "post_id": "1"},
        {"body": "x", "personal_view": "yes"},
    ):
        answer = (
            me.client.post("/staff/writing/preview", json=body, headers={"X-CSRFToken": me.token})
            if body is not None
            else me.client.post(
                "/staff/writing/preview",
                data="{",
                headers={"X-CSRFToken": me.token, "Content-Type": "application/json"},
            )
        )
        assert answer.status_code == 422 and answer.is_json, body
    no_token = me.client.post("/staff/writing/preview", json={"body": "x"})
    assert no_token.status_code == 400 and no_token.is_json
    assert me.json("/staff/writing/preview", {"body": "x", "post_id": 999999}).status_code == 404


def test_the_helpers_answer_json_to_nobody_signed_in(app: Flask, draft: Post) -> None:
    anonymous = app.test_client()
    token = form_csrf_token(anonymous, "/login")
    for path in ("/staff/writing/preview", f"/staff/writing/{draft.id}/autosave"):
        refused = anonymous.post(path, json={"body": "x", "base_revision": 1}, headers={"X-CSRFToken": token})
        assert refused.status_code == 401 and refused.is_json


def test_preview_of_another_authors_post_is_refused(
    app: Flask, draft: Post, make_user: Callable[..., User]
) -> None:
    other = Writer(app, make_user("author"))
    assert other.json("/staff/writing/preview", {"body": "x", "post_id": draft.id}).status_code == 403
    assert (
        other.json(f"/staff/writing/{draft.id}/autosave", {"body": "x", "base_revision": 1}).status_code
        == 403
    )
    assert (
        Writer(app, make_user("moderator")).json("/staff/writing/preview", {"body": "*x*"}).status_code == 200
    )


def test_preview_is_rate_limited_per_writer(app: Flask, draft: Post) -> None:
    me = Writer(app, draft.author)
    statuses = [me.json("/staff/writing/preview", {"body": "x"}).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429


def test_autosave_keeps_a_buffer_not_a_revision_and_the_page_offers_it_back(
    app: Flask, session: Session, draft: Post
) -> None:
    me = Writer(app, draft.author)
    path = f"/staff/posts/{draft.id}/edit"
    assert parse(me.client.get(path)).select_one("#autosave-offer") is None
    for words in ("First thoughts.", "Second thoughts, better."):
        saved = me.json(
            f"/staff/writing/{draft.id}/autosave",
            {
                "title": "Sleep, again",
                "body": words,
                "references": "https://example.org/s",
                "base_revision": 1,
            },
        )
        assert saved.status_code == 200 and "saved_at" in saved.get_json()
    assert _revisions(session, draft) == 1
    assert session.execute(text("SELECT count(*) FROM draft_buffers")).scalar_one() == 1  # overwritten

    page = parse(me.client.get(path))
    assert page.select_one("#autosave-offer") is not None
    assert page.select_one("textarea[name=body]").get_text() == "Adults need sleep."  # offered, not imposed
    restored = parse(me.client.get(path + "?restore=1"))
    assert restored.select_one("textarea[name=body]").get_text() == "Second thoughts, better."
    assert restored.select_one("input[name=title]")["value"] == "Sleep, again"
    assert restored.select_one("input[name=base_revision]")["value"] == "1"

    # Save makes the revision and drops the buffer.
    saved = me.form(
        path,
        {
            "title": "Sleep, again",
            "body": "Second thoughts, better.",
            "references": "https://example.org/s",
            "base_revision": "1",
            "action": "save",
        },
    )
    assert saved.status_code == 303 and _revisions(session, draft) == 2
    assert session.execute(text("SELECT count(*) FROM draft_buffers")).scalar_one() == 0
    assert parse(me.client.get(path)).select_one("#autosave-offer") is None


def test_a_buffer_can_be_discarded_and_hostile_autosaves_are_refused(
    app: Flask, session: Session, draft: Post
) -> None:
    me = Writer(app, draft.author)
    url = f"/staff/writing/{draft.id}/autosave"
    for body in (
        {"body": "x", "base_revision": "1"},
        {"body": "x", "base_revision": True},
        {"body": "x", "base_revision": -1},
        {"body": 5, "base_revision": 1},
        {"body": "a\x00b", "base_revision": 1},
        {"title": "x" * 301, "base_revision": 1},
        {"body": "x" * 200_001, "base_revision": 1},
    ):
        assert me.json(url, body).status_code == 422, body
    assert me.json(url, {"body": "Keep?", "base_revision": 1}).status_code == 200
    assert me.form(f"/staff/posts/{draft.id}/autosave/discard", {}).status_code == 303
    assert session.execute(text("SELECT count(*) FROM draft_buffers")).scalar_one() == 0


def test_two_autosaves_at_once_leave_one_buffer(app: Flask, session: Session, draft: Post) -> None:
    """Two tabs autosaving the same post at the same moment: one row, no 500."""
    import threading

    tabs = [Writer(app, draft.author) for _ in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def save(i: int) -> None:
        barrier.wait()
        statuses.append(
            tabs[i]
            .json(f"/staff/writing/{draft.id}/autosave", {"body": f"tab {i}", "base_revision": 1})
            .status_code
        )

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200, 200]
    assert session.execute(text("SELECT count(*) FROM draft_buffers")).scalar_one() == 1


def test_the_editor_page_carries_the_toolbar_and_script_and_still_works_as_a_plain_form(
    app: Flask, draft: Post
) -> None:
    me = Writer(app, draft.author)
    page = parse(me.client.get(f"/staff/posts/{draft.id}/edit"))
    assert page.select_one('script[src="/static/editor.js"]') is not None
    toolbar = page.select_one('[role="toolbar"]')
    assert toolbar.has_attr("hidden")  # shown by the script; without it the form is the whole editor
    names = [b.get_text(" ", strip=True) for b in toolbar.select("button")]
    assert all(b["type"] == "button" for b in toolbar.select("button"))
    assert [n.split()[-1] for n in names] == ["Bold", "Italic", "Heading", "Link", "List", "Quote", "Image…"]
    assert page.select_one("#live-preview")["aria-live"] == "polite"
    assert page.select_one("#editor-status")["aria-live"] == "polite"
    assert page.select_one("#word-count").get_text() == "3 words"
    form = page.select_one("#editor-form")
    assert form["method"] == "post" and form.select_one("button[value=save]") is not None


def test_a_new_post_never_saved_is_autosaved_too_and_offered_back(
    app: Flask, session: Session, make_user: Callable[..., User]
) -> None:
    author = make_user("author")
    me = Writer(app, author)
    assert parse(me.client.get("/staff/posts/new")).select_one("#autosave-offer") is None
    for words in ("A first line.", "A first line, and a second."):
        saved = me.json(
            "/staff/writing/new/autosave", {"title": "Night shifts", "body": words, "references": ""}
        )
        assert saved.status_code == 200 and "saved_at" in saved.get_json()
    assert session.execute(text("SELECT count(*) FROM draft_buffers WHERE post_id IS NULL")).scalar_one() == 1
    assert session.execute(text("SELECT count(*) FROM posts")).scalar_one() == 0  # no post, no revision

    page = parse(me.client.get("/staff/posts/new"))
    assert page.select_one("#autosave-offer") is not None
    assert page.select_one("textarea[name=body]").get_text() == ""  # offered, not imposed
    restored = parse(me.client.get("/staff/posts/new?restore=1"))
    assert restored.select_one("#autosave-restored") is not None
    assert restored.select_one("textarea[name=body]").get_text() == "A first line, and a second."
    assert restored.select_one("input[name=title]")["value"] == "Night shifts"
    # Another writer sees nothing of it; an editor without the author role cannot autosave a new post.
    other = Writer(app, make_user("author"))
    assert parse(other.client.get("/staff/posts/new")).select_one("#autosave-offer") is None
    editor = Writer(app, make_user("editor"))
    assert editor.json("/staff/writing/new/autosave", {"body": "x"}).status_code == 403
    for hostile in ({"body": 5}, {"body": "a\x00b"}, {"title": "x" * 301}, {"body": "x" * 200_001}):
        assert me.json("/staff/writing/new/autosave", hostile).status_code == 422, hostile

    # The first Save makes the post and drops the buffer.
    created = me.form(
        "/staff/posts/new",
        {"title": "Night shifts", "body": "A first line, and a second.", "references": "", "action": "save"},
    )
    assert created.status_code == 303, created.get_data(as_text=True)[:500]
    assert session.execute(text("SELECT count(*) FROM draft_buffers")).scalar_one() == 0
    assert parse(me.client.get("/staff/posts/new")).select_one("#autosave-offer") is None

    # Discarding forgets it.
    assert me.json("/staff/writing/new/autosave", {"body": "Another start."}).status_code == 200
    assert me.form("/staff/posts/new/autosave/discard", {}).status_code == 303
    assert session.execute(text("SELECT count(*) FROM draft_buffers")).scalar_one() == 0


def test_two_first_autosaves_of_a_new_post_at_once_leave_one_buffer(
    app: Flask, session: Session, make_user: Callable[..., User]
) -> None:
    import threading

    author = make_user("author")
    tabs = [Writer(app, author) for _ in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def save(i: int) -> None:
        barrier.wait()
        statuses.append(tabs[i].json("/staff/writing/new/autosave", {"body": f"tab {i}"}).status_code)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200, 200]
    assert session.execute(text("SELECT count(*) FROM draft_buffers")).scalar_one() == 1
