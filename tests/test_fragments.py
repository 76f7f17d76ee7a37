"""Fragments cached by immutable key (issue 15, item 4): a post page re-rendered after a change draws only
what changed; a redaction or an edit of a comment's text is never served from an old fragment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments.models import Comment, CommentStatus
from app.posts.models import Post
from tests.support.editorial import publish_change
from tests.support.web import parse

PATIENT = "Mrs Jane Quill"


@pytest.fixture
def published_comment(session: Session) -> Callable[..., Comment]:
    def _make(post: Post, body: str, name: str = "Reader") -> Comment:
        comment = Comment(
            post_id=post.id,
            author_name=name,
            author_email="reader@example.org",
            body=body,
            html=f"<p>{body}</p>",
            status=CommentStatus.PUBLISHED.value,
        )
        session.add(comment)
        session.commit()
        return comment

    return _make


def _counts(app: Flask) -> tuple[int, int]:
    local = app.extensions["candor.fragments"].local
    return local.hits, local.misses


def test_a_new_comment_redraws_only_itself(
    app: Flask, client: Any, make_post: Callable[..., Post], published_comment: Callable[..., Comment]
) -> None:
    post = make_post("published")
    for n in range(5):
        published_comment(post, f"Comment number {n}.")
    first = client.get(f"/posts/{post.slug}")
    assert first.status_code == 200 and first.headers["X-Candor-Cache"] == "miss"
    hits, misses = _counts(app)
    published_comment(post, "A sixth comment.")
    second = client.get(f"/posts/{post.slug}")
    assert second.headers["X-Candor-Cache"] == "miss"  # the page's key moved with the comment
    new_hits, new_misses = _counts(app)
    assert (new_hits - hits, new_misses - misses) == (6, 1)  # five comments and the body; one drawn
    shown = [p.get_text() for p in parse(second).select(".comment-body")]
    assert shown == [f"Comment number {n}." for n in range(5)] + ["A sixth comment."]
    # The fragments are exactly what drawing them afresh gives.
    app.extensions["candor.fragments"].clear()
    app.extensions["candor.pagecache"].clear()
    fresh = client.get(f"/posts/{post.slug}")
    assert fresh.get_data() == second.get_data()


def test_a_redacted_comment_is_never_shown_from_its_old_fragment(
    app: Flask,
    api: Any,
    client: Any,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    published_comment: Callable[..., Comment],
) -> None:
    post = make_post("published")
    comment = published_comment(post, f"I saw {PATIENT} at the clinic.")
    published_comment(post, "Thanks for the post.")
    assert PATIENT in parse(client.get(f"/posts/{post.slug}")).get_text()
    editor = make_user("editor")
    answer = api.post(
        "/api/v1/redactions",
        {"target": "comment", "id": comment.id, "text": PATIENT, "reason": "A patient's name."},
        as_=editor,
    )
    assert answer.status_code == 201 and answer.get_json()["state"] == "applied"
    page = parse(client.get(f"/posts/{post.slug}"))
    assert PATIENT not in page.get_text()
    assert "Thanks for the post." in page.get_text()
    assert PATIENT not in parse(client.get(f"/posts/{post.slug}/comments")).get_text()


def test_a_staff_members_new_title_is_shown_on_their_old_comments(
    app: Flask,
    session: Session,
    client: Any,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
) -> None:
    post = make_post("published")
    nurse = make_user("moderator", name="Nia Nurse", title="Staff nurse")
    comment = Comment(
        post_id=post.id,
        author_name=nurse.name,
        author_email=nurse.email,
        body="Ask us.",
        html="<p>Ask us.</p>",
        status=CommentStatus.PUBLISHED.value,
        staff_user_id=nurse.id,
    )
    session.add(comment)
    session.commit()
    assert "Staff nurse" in parse(client.get(f"/posts/{post.slug}")).select_one(".staff-role").get_text()
    nurse = session.get(User, nurse.id)
    nurse.title = "Charge nurse"
    session.commit()
    # The page's own key holds the byline of the post, not of commenters: a comment is what moves it here.
    session.add(
        Comment(
            post_id=post.id,
            author_name="R",
            author_email="r@example.org",
            body="x",
            html="<p>x</p>",
            status=CommentStatus.PUBLISHED.value,
        )
    )
    session.commit()
    assert "Charge nurse" in parse(client.get(f"/posts/{post.slug}")).select_one(".staff-role").get_text()


def test_a_diff_is_drawn_once_and_a_redaction_of_either_side_draws_it_again(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    published_comment: Callable[..., Comment],
    gate_settings: Any,
) -> None:
    post = make_post("published", body="Take two tablets.")
    editor = make_user("editor")
    publish_change(session, post, editor, gate_settings, body="Take one tablet.")
    fragments = app.extensions["candor.fragments"]
    page = client.get(f"/posts/{post.slug}/changes")
    assert page.status_code == 200
    diff_keys = [k for k in fragments.local._entries if k[0] == "diff"]
    assert len(diff_keys) == 1
    published_comment(post, "Which one?")  # the changes page's key moves; the diff does not
    hits = fragments.local.hits
    assert client.get(f"/posts/{post.slug}/changes").get_data() == page.get_data()
    assert fragments.local.hits > hits
    assert [k for k in fragments.local._entries if k[0] == "diff"] == diff_keys
