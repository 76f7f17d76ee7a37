"""CDN (issue 15, item 4): reader pages a CDN may keep briefly, with surrogate keys, and a purge of every
URL that shows a change, POSTed after the commit (through the job queue, retried) to a local endpoint
that records it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments.models import Comment
from app.moderation.services import moderate
from app.posts.models import Post
from app.topics import services as topics
from tests.support.comments import submit
from tests.support.editorial import publish_change, retract
from tests.support.purge_server import PurgeServer


@pytest.fixture(scope="module")
def cdn() -> Iterator[PurgeServer]:
    server = PurgeServer()
    yield server
    server.close()


@pytest.fixture
def app_config(comments_config: dict[str, Any], cdn: PurgeServer) -> dict[str, Any]:
    cdn.clear()
    cdn.fail_next = 0
    return {**comments_config, "CDN_PURGE_URL": cdn.url, "CDN_MAX_AGE": 20, "CDN_STALE": 90}


def _public(app: Flask, path: str) -> str:
    return app.config["PUBLIC_URL"].rstrip("/") + path


def test_reader_pages_carry_cdn_headers_and_surrogate_keys(
    client: Any, make_post: Callable[..., Post]
) -> None:
    post = make_post("published")
    for path, key in (
        (f"/posts/{post.slug}", f"post-{post.slug}"),
        (f"/posts/{post.slug}/changes", f"post-{post.slug}"),
        (f"/posts/{post.slug}/history", f"post-{post.slug}"),
        ("/", "listing"),
        ("/feed.atom", "listing"),
        ("/corrections", "corrections"),
        ("/corrections.atom", "corrections"),
    ):
        for attempt in ("miss", "hit"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["Cache-Control"] == (
                "public, max-age=0, s-maxage=20, stale-while-revalidate=90"
            ), (path, attempt)
            assert response.headers["Last-Modified"] and response.headers["ETag"], path
            assert set(response.headers["Surrogate-Key"].split()) >= {"candor", key}, (path, attempt)


def test_signed_in_pages_carry_no_surrogate_keys(client: Any, make_user: Callable[..., User]) -> None:
    from tests.support.web import log_in

    editor = make_user("editor")
    log_in(client, editor.email)
    response = client.get("/")
    assert response.headers["Cache-Control"].startswith("private")
    assert "Surrogate-Key" not in response.headers


def test_a_correction_purges_every_url_that_shows_it(
    app: Flask,
    session: Session,
    cdn: PurgeServer,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    gate_settings: Any,
) -> None:
    post = make_post("published")  # before any topic exists: once one does, a post needs one
    editor = make_user("editor")
    topics.create_topic(session, editor, "Sleep")
    session.commit()
    cdn.clear()
    from app.posts import services as posts

    current = post.current_revision
    change = posts.RevisionInput(
        current.title,
        "Adults need *eight hours*.",
        list(current.references),
        "correction",
        "Was seven.",
        topics=("Sleep",),
    )
    revision, _ = posts.revise(session, post.author, post, change, current.number)
    from app.editorial import services as editorial

    editorial.submit(session, post.author, post, gate_settings)
    cdn.clear()  # submitting changes nothing a reader sees
    session.commit()
    assert cdn.purges == []
    editorial.approve(session, editor, post, revision.number, gate_settings)
    session.commit()
    assert len(cdn.purges) == 1, [(len(p["urls"]), p["keys"]) for p in cdn.purges]
    purge = cdn.purges[0]
    assert purge["type"] == "application/json"
    slug = post.slug
    expected = {
        _public(app, p)
        for p in (
            f"/posts/{slug}",
            f"/posts/{slug}/changes",
            f"/posts/{slug}/history",
            f"/posts/{slug}/comments",
            "/",
            "/feed.atom",
            "/feed.json",
            "/corrections",
            "/corrections.atom",
            "/corrections.json",
            "/topics/sleep",
            "/topics/sleep/feed.atom",
        )
    }
    assert set(purge["urls"]) == expected
    assert {f"post-{slug}", "listing", "corrections", "topic-sleep"} <= set(purge["keys"])


def test_a_retraction_and_a_published_comment_purge_too_and_a_rollback_nothing(
    app: Flask,
    session: Session,
    cdn: PurgeServer,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    gate_settings: Any,
) -> None:
    post = make_post("published")
    moderator = make_user("moderator", "editor")
    cdn.clear()
    comment = submit(app, session, post, author_email="reader@example.net", body="Is eight too many, though?")
    stored = session.get(Comment, comment.id)
    if stored.status != "published":
        moderate(session, moderator, stored, "approve")
        session.commit()
    assert _public(app, f"/posts/{post.slug}") in cdn.urls()
    assert _public(app, f"/posts/{post.slug}/comments") in cdn.urls()

    cdn.clear()
    publish_change(session, post, moderator, gate_settings, body="Adults need *eight hours*.")
    session.rollback()
    assert len(cdn.purges) == 1
    cdn.clear()
    from app.editorial import services as editorial

    editorial.retract(session, moderator, post, "The study was withdrawn.")
    session.rollback()  # never committed: nothing to purge
    assert cdn.purges == []
    retract(session, post, moderator, "The study was withdrawn.")
    assert len(cdn.purges) == 1 and _public(app, "/corrections") in cdn.purges[0]["urls"]


def test_a_failed_purge_is_retried(
    app: Flask,
    session: Session,
    cdn: PurgeServer,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    gate_settings: Any,
) -> None:
    post = make_post("published")
    editor = make_user("editor")
    cdn.clear()
    cdn.fail_next = 2
    publish_change(session, post, editor, gate_settings, body="Adults need *eight hours*.")
    huey = app.extensions["candor.tasks"].huey
    retries = []
    while pending := huey.read_schedule(datetime(2100, 1, 1)):  # noqa: DTZ001 - huey keeps naive UTC
        assert [task.name for task in pending] == ["candor.cdn_purge"] and cdn.purges == []
        retries.append(pending[0].retries)
        huey.execute(pending[0], timestamp=datetime(2100, 1, 1))  # noqa: DTZ001
        assert len(retries) < 5
    assert retries == [7, 6]  # two refusals, then through
    assert len(cdn.purges) == 1 and cdn.purges[0]["urls"][0].endswith(f"/posts/{post.slug}")
