"""Replies by readers (on PostgreSQL written by the quick POST's one-statement arrival,
services._arrive_at_once): the rows a reply writes (comment, decision, subscription, exact counts), a reply
racing its parent's deletion refused and never stored under a deleted comment, identical replies sent at
once stored once, and the form's reply path."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import states
from app.comments.models import Comment, ModerationDecision, Subscription
from app.moderation.services import moderate
from app.posts.models import Post
from tests.support.comments import READER, comment_api, session_thread
from tests.support.databases import postgresql_only, wait_for_lock_waiters


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0}


def _exact(session: Session) -> dict[str, int]:
    """Each status's count, after checking the tallies equal the comments stored (per status and, for
    held comments, per reason)."""
    session.expire_all()
    counted = states.tally(session)
    comments = session.scalars(select(Comment)).all()
    statuses = {c.status for c in comments} | {s for s, _ in counted}
    for status in statuses:
        assert counted.get((status, ""), 0) == sum(c.status == status for c in comments), status
    held = [c for c in comments if c.status == "held"]
    for reason in {r for c in held for r in c.reasons}:
        assert counted.get(("held", reason), 0) == sum(reason in c.reasons for c in held), reason
    return {s: counted.get((s, ""), 0) for s in statuses}


def test_a_reply_writes_the_comment_its_decision_subscription_and_counts(
    client: Any, session: Session, returning_post: Post
) -> None:
    post = returning_post
    parent = session.scalars(select(Comment).where(Comment.post_id == post.id)).one()
    before = sum(_exact(session).values())
    fields = {"body": "Does a nap count towards the hours?", "parent_id": parent.id, "notify": True}
    answer = comment_api(client, post, **fields)
    assert answer.status_code == 202 and answer.get_json()["reasons"] == ["checking"]
    again = comment_api(client, post, **fields)  # the job may have judged it meanwhile: 201 then
    assert again.status_code in (201, 202) and again.get_json()["id"] == answer.get_json()["id"]
    session.expire_all()
    reply = session.get(Comment, answer.get_json()["id"])
    assert reply is not None and reply.post_id == post.id
    assert (reply.parent_id, reply.thread_id, reply.staff_user_id) == (parent.id, parent.id, None)
    assert [c["check"] for c in reply.checks][:3] == ["honeypot", "time_to_submit", "rate_limit"]
    assert reply.html.startswith("<p>Does a nap") and reply.author_ip and reply.notify
    decisions = session.scalars(
        select(ModerationDecision)
        .where(ModerationDecision.comment_id == reply.id)
        .order_by(ModerationDecision.id)
    ).all()
    first = decisions[0]
    assert (first.action, first.from_status, first.to_status, first.reasons, first.moderator_id) == (
        "submit",
        "",
        "held",
        ["checking"],
        None,
    )
    assert first.redaction_count == 0 and first.at == reply.created_at
    subscriptions = session.scalars(select(Subscription).where(Subscription.comment_id == reply.id)).all()
    assert [s.email for s in subscriptions] == ["ada@example.net"]
    assert sum(_exact(session).values()) == before + 1
    # A reply to no comment of this post is refused, and nothing is written.
    refused = comment_api(client, post, body="And a reply to nothing.", parent_id=999_999)
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "parent_id"
    assert sum(_exact(session).values()) == before + 1


@postgresql_only  # row locks: SQLite has one writer at a time
def test_a_reply_racing_its_parents_deletion_is_refused_never_stored_under_a_deleted_comment(
    app: Flask, session: Session, returning_post: Post, moderator: User
) -> None:
    """A moderator deletes a comment while a reader's reply to it arrives. The reply used to read the
    parent as it was before the deletion committed and be stored under a deleted comment; now it
    share-locks the parent, waits for the deletion, reads it again and is refused (422)."""
    engine = app.extensions["candor.engine"]
    post = returning_post
    parent_id = session.scalars(select(Comment.id).where(Comment.post_id == post.id)).one()
    decided, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    answers: list[Any] = []

    def delete(own: Session) -> None:
        moderate(own, own.get(User, moderator.id), own.get(Comment, parent_id), "delete")
        own.flush()
        decided.set()
        assert release.wait(30)

    def reply() -> None:
        answers.append(comment_api(app.test_client(), post, body="I agree with this.", parent_id=parent_id))

    deleting = session_thread(app, delete, failures)
    replying = threading.Thread(target=reply)
    deleting.start()
    try:
        assert decided.wait(30)
        replying.start()
        wait_for_lock_waiters(engine, 1, replying)  # the reply waits for the parent's row
    finally:
        release.set()
        deleting.join()
        replying.join()
    assert failures == []
    assert [a.status_code for a in answers] == [422]
    session.expire_all()
    assert session.get(Comment, parent_id).status == "deleted"
    assert session.scalars(select(Comment.id).where(Comment.parent_id == parent_id)).all() == []


def test_two_identical_replies_at_once_make_one_comment(
    app: Flask, session: Session, returning_post: Post, make_post: Callable[..., Post]
) -> None:
    post = returning_post
    parent_id = session.scalars(select(Comment.id).where(Comment.post_id == post.id)).one()
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def click() -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(comment_api(client, post, body="Same words, four clicks.", parent_id=parent_id))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and all(a.status_code in (201, 202) for a in answers)  # 201: judged already
    assert len({a.get_json()["id"] for a in answers}) == 1
    stored = session.scalars(select(Comment.id).where(Comment.parent_id == parent_id)).all()
    assert len(stored) == 1


def test_the_form_stores_a_reply_once_with_its_subscription_and_exact_counts(
    client: Any, session: Session, returning_post: Post
) -> None:
    post = returning_post
    parent_id = session.scalars(select(Comment.id).where(Comment.post_id == post.id)).one()
    before = sum(_exact(session).values())
    form = {**READER, "body": "A reply through the form.", "parent_id": str(parent_id), "notify": "on"}
    first = client.post(f"/posts/{post.slug}/comments", data=form)
    again = client.post(f"/posts/{post.slug}/comments", data=form)
    assert first.status_code == again.status_code == 303
    replies = session.scalars(select(Comment).where(Comment.parent_id == parent_id)).all()
    assert len(replies) == 1 and replies[0].thread_id == parent_id and replies[0].notify
    subscriptions = session.scalars(
        select(Subscription).where(Subscription.comment_id == replies[0].id)
    ).all()
    assert len(subscriptions) == 1
    assert sum(_exact(session).values()) == before + 1
    refused = client.post(f"/posts/{post.slug}/comments", data={**form, "parent_id": "999999"})
    assert refused.status_code == 422
    assert sum(_exact(session).values()) == before + 1
