"""A reader's comment off the request path: answered at once, checked by the job, never published
unchecked, never lost when Akismet or the worker is away.

The app here gives a comment 2 s to be judged (``COMMENT_CHECK_BUDGET_MS``: ample on a loaded CI machine,
where 100 ms was sometimes missed); the local Akismet (tests/support/akismet_server.py) is made slower
than that. Jobs run in the caller in tests, right after the commit (app/web/tasks.py), so the verdict
has landed by the time the answer is read; a retry waits in Huey's schedule and is run here by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.comments import services
from app.comments.models import Comment, ModerationDecision
from app.comments.views import pipeline_settings
from app.moderation.services import moderate
from app.posts.models import Post
from app.web.outside import WithinBudget, akismet_checker, site
from tests.support.akismet_server import COMMENT_CHECK, AkismetServer
from tests.support.comments import READER, comment_api
from tests.support.web import parse


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 2000, "AKISMET_TIMEOUT": 6.0}


@pytest.fixture
def slow_akismet(akismet: AkismetServer) -> Iterator[AkismetServer]:
    """Akismet answering after 3 s: past the request's budget, within the job's timeout."""
    before = akismet.slow_seconds
    akismet.slow_seconds = 3.0
    akismet.set_mode("slow")
    yield akismet
    akismet.slow_seconds = before


def _decisions(session: Session, comment_id: int) -> list[ModerationDecision]:
    session.expire_all()
    return list(
        session.scalars(
            select(ModerationDecision)
            .where(ModerationDecision.comment_id == comment_id)
            .order_by(ModerationDecision.id)
        )
    )


def _checking(app: Flask, session: Session, post: Post, **fields: Any) -> Comment:
    """A comment stored as being checked, its job not run (as if the worker were down)."""
    values = {**READER, **fields}
    with app.test_request_context("/"):
        comment = services.submit_comment(
            session,
            post,
            services.CommentInput(
                author_name=values["author_name"],
                author_email=values["author_email"],
                body=values["body"],
                ip="203.0.113.9",
                permalink=f"http://blog.example.org/posts/{post.slug}",
            ),
            actor=None,
            checker=WithinBudget(akismet_checker(), 0),
            settings=pipeline_settings(),
            site=site(),
        )
    session.commit()
    assert services.is_checking(comment)
    return comment


def test_a_comment_slower_to_judge_than_the_budget_is_answered_202_checking_and_judged_by_the_job(
    client: Any,
    session: Session,
    returning_post: Post,
    slow_akismet: AkismetServer,
) -> None:
    post = returning_post
    slow_akismet.set_mode("slow")
    answer = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    assert answer.status_code == 202
    body = answer.get_json()
    assert body["status"] == "held" and body["reasons"] == ["checking"]
    assert body["status_url"].startswith("http://blog.example.org/comments/status/")
    # The job ran after the commit: Akismet was asked twice (the request gave up), the verdict landed.
    comment = session.get(Comment, body["id"])
    session.refresh(comment)
    assert comment.status == "published" and comment.reasons == [] and comment.akismet_verdict == "ham"
    assert [d.action for d in _decisions(session, comment.id)] == ["submit", "recheck"]
    assert {c["check"] for c in comment.checks} >= {"honeypot", "privacy", "akismet", "off_topic"}
    page = client.get(body["status_url"].removeprefix("http://blog.example.org"))
    assert "Published." in page.get_data(as_text=True)
    assert parse(page).find("meta", attrs={"http-equiv": "refresh"}) is None


def test_within_the_budget_the_answer_carries_the_verdict(
    client: Any,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    answer = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    assert answer.status_code == 201 and answer.get_json()["status"] == "published"


def test_a_comment_being_checked_is_never_shown_and_its_status_page_reloads_until_judged(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], akismet: AkismetServer
) -> None:
    post = make_post()
    comment = _checking(app, session, post)
    page = client.get(f"/posts/{post.slug}")
    assert parse(page).find(id=f"comment-body-{comment.id}") is None
    with app.test_request_context("/"):
        from app.comments.views import status_token

        token = status_token(comment)
    status = parse(client.get(f"/comments/status/{token}"))
    assert status.find(id="comment-checking") is not None
    assert status.find("meta", attrs={"http-equiv": "refresh"}) is not None
    app.extensions["candor.tasks"].check_comment.call_local(comment.id)
    status = parse(client.get(f"/comments/status/{token}"))
    assert status.find(id="comment-checking") is None
    assert status.find("meta", attrs={"http-equiv": "refresh"}) is None


def test_while_akismet_cannot_answer_the_job_retries_and_finally_holds_nothing_published(
    app: Flask,
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    comment = _checking(app, session, post)
    akismet.set_mode("refusing", status=503)
    task = app.extensions["candor.tasks"].check_comment.s(comment.id)
    huey = app.extensions["candor.tasks"].huey
    huey.execute(task)  # Akismet refuses: retried later (Huey's schedule), the comment still checking
    session.refresh(comment)
    assert services.is_checking(comment) and comment.status == "held"
    assert huey.scheduled_count() >= 1
    akismet.set_mode("normal")
    app.extensions["candor.tasks"].check_comment.call_local(comment.id)  # the retry, with an answer
    session.refresh(comment)
    assert comment.status == "published" and not services.is_checking(comment)
    # A last attempt that still gets no answer holds it, as a request would have.
    other = _checking(app, session, post, body="Another helpful note on adult sleep.")
    akismet.set_mode("down")
    app.extensions["candor.tasks"].check_comment.call_local(other.id)
    session.refresh(other)
    assert other.status == "held" and other.reasons == ["akismet:unavailable"]


def test_checks_lost_with_a_process_are_enqueued_again_and_an_hour_late_is_held_for_a_moderator(
    app: Flask, session: Session, make_post: Callable[..., Post], akismet: AkismetServer
) -> None:
    post = make_post()
    lost = _checking(app, session, post)
    stale = _checking(app, session, post, body="An older note on adult sleep.")
    fresh = _checking(app, session, post, body="A note sent a moment ago on adult sleep.")
    lost.created_at = utc_now() - timedelta(minutes=10)
    stale.created_at = utc_now() - timedelta(hours=2)
    session.commit()
    app.extensions["candor.tasks"].checks_overdue.call_local()
    for comment in (lost, stale, fresh):
        session.refresh(comment)
    assert not services.is_checking(lost) and lost.akismet_verdict == "ham"  # judged by the re-enqueued job
    assert stale.status == "held" and stale.reasons == ["unchecked"]  # a moderator decides
    assert _decisions(session, stale.id)[-1].reason == "its checks did not finish within an hour"
    # Not overdue, so never held "unchecked"; the re-enqueued job's batch judged it with the lost one
    # (app.web.tasks.CheckBatches: a job takes the other comments still being checked).
    assert "unchecked" not in fresh.reasons and fresh.akismet_verdict == "ham"


def test_a_moderator_deciding_first_wins_and_a_second_run_changes_nothing(
    app: Flask, session: Session, make_post: Callable[..., Post], moderator: Any, akismet: AkismetServer
) -> None:
    post = make_post()
    comment = _checking(app, session, post)
    moderate(session, moderator, comment, "delete")
    session.commit()
    app.extensions["candor.tasks"].check_comment.call_local(comment.id)
    session.refresh(comment)
    assert comment.status == "deleted"
    judged = _checking(app, session, post, body="Another note on adult sleep.")
    for _ in range(2):
        app.extensions["candor.tasks"].check_comment.call_local(judged.id)
    assert [d.action for d in _decisions(session, judged.id)] == ["submit", "recheck"]
    assert len(akismet.requests_to(COMMENT_CHECK)) == 1


def test_the_html_form_sends_the_writer_to_the_status_page(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    slow_akismet: AkismetServer,
) -> None:
    post = make_post()
    answer = client.post(f"/posts/{post.slug}/comments", data=READER)
    assert answer.status_code == 303 and "/comments/status/" in answer.headers["Location"]
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    stored = session.scalars(select(Comment).where(Comment.post_id == post.id)).all()
    assert len(stored) == 1 and stored[0].status == "held" and stored[0].reasons == ["first_comment"]
