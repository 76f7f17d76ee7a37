"""Races on the comment checks found by this stop's attack on its own work; each fixed, each a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import services
from app.comments.models import TALLY_SHARDS, Comment
from app.comments.views import pipeline_settings
from app.moderation.services import moderate_many
from app.posts.models import Post
from app.spam.akismet_adapter import AkismetResult, Verdict
from tests.support.comments import batch_thread, checking_comment, session_thread
from tests.support.databases import postgresql_only, wait_for_lock_waiters


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0}


@postgresql_only  # row locks: SQLite has one writer at a time
def test_a_moderators_bulk_decision_and_a_check_batch_never_deadlock(
    app: Flask, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    """A bulk decision locked its comments in the order the moderator ticked them; a check batch locks
    the same comments in id order. The batch holding the lower one and the moderator the higher, each
    waited for the other: PostgreSQL aborted one (the moderator's decision answered 409, or the batch's
    verdicts thrown away). Now both lock in id order, and the second simply waits."""
    engine = app.extensions["candor.engine"]
    post = make_post()
    low = checking_comment(app, session, post, "Thanks, a helpful read about adult sleep.")
    high = checking_comment(app, session, post, "Thanks, and the dark room advice helped me.")
    with app.test_request_context("/"):
        settings = pipeline_settings()
    ham = AkismetResult(Verdict.HAM, "Akismet: not spam")
    failures: list[BaseException] = []

    def bulk(own: Session) -> None:
        actor = own.get(User, moderator.id)
        done, skipped = moderate_many(own, actor, [high, low], "approve", "Welcome.")
        assert (done, skipped) == (2, [])

    gate = engine.connect()
    gate_tx = gate.begin()
    gate.execute(text("SELECT id FROM comments WHERE id = :id FOR UPDATE"), {"id": low})
    batch = batch_thread(app, {low: ham, high: ham}, settings, failures)
    moderator_thread = session_thread(app, bulk, failures)
    try:
        batch.start()
        wait_for_lock_waiters(engine, 1, batch)  # the batch waits for the lower comment, holding nothing
        moderator_thread.start()
        wait_for_lock_waiters(engine, 2, batch, moderator_thread)  # the moderator waits too
        gate_tx.commit()  # the batch goes first: the lower comment, then the higher
    finally:
        if gate_tx.is_active:
            gate_tx.rollback()
        gate.close()
        batch.join()
        moderator_thread.join()
    assert failures == []
    session.expire_all()
    # The batch published both; the moderator's approval then found them published, not held.
    assert {session.get(Comment, i).status for i in (low, high)} == {"published"}


@postgresql_only  # row locks: SQLite has one writer at a time
def test_a_writer_replacing_a_comment_a_batch_is_checking_never_deadlocks(
    app: Flask, session: Session, make_post: Callable[..., Post]
) -> None:
    """A reader replacing their held comment (the signed edit link) stored the new one first, which
    takes the post's row and tally rows, and only then locked the old one to withdraw it; a check batch
    locks the old one, then the post's row. Each waited for the other: PostgreSQL aborted one (the
    reader's edit answered 409, or the batch's verdicts thrown away). Now the old comment is locked
    first, as the batch does."""
    engine = app.extensions["candor.engine"]
    post = make_post()
    old = checking_comment(app, session, post, "Is seven hours of sleep enough for adults?")
    with app.test_request_context("/"):
        settings = pipeline_settings()
    ham = AkismetResult(Verdict.HAM, "Akismet: not spam")
    failures: list[BaseException] = []
    replaced: list[int] = []

    def edit(own: Session) -> None:
        data = services.CommentInput(
            author_name="Ada Reader",
            author_email="ada@example.net",
            body="Is seven hours of sleep enough for adults over sixty?",
            ip="203.0.113.9",
        )
        with app.test_request_context("/"):
            comment = services.accept_comment(
                own,
                services.Target(post.id, post.slug),
                data,
                settings=settings,
                replaces=own.get(Comment, old),
            )
        replaced.append(comment.id)

    gate = engine.connect()
    gate_tx = gate.begin()
    gate.execute(text("SELECT id FROM posts WHERE id = :id FOR UPDATE"), {"id": post.id})
    writer = session_thread(app, edit, failures)
    batch = batch_thread(app, {old: ham}, settings, failures)
    try:
        writer.start()
        wait_for_lock_waiters(engine, 1, writer)  # the edit waits for the post's row
        batch.start()
        wait_for_lock_waiters(engine, 2, writer, batch)  # and the batch too
        gate_tx.commit()  # the edit goes first
    finally:
        if gate_tx.is_active:
            gate_tx.rollback()
        gate.close()
        writer.join()
        batch.join()
    assert failures == []
    session.expire_all()
    assert session.get(Comment, old).status == "deleted"  # withdrawn: the batch then found it decided
    assert services.is_checking(session.get(Comment, replaced[0]))


@postgresql_only  # row locks: SQLite has one writer at a time
def test_a_comment_arriving_while_a_batch_holds_its_post_never_deadlocks(
    app: Flask, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    """A comment arriving while a check batch holds its post's row and waits for a tally row: the
    arrival must not hold that tally row while it waits for the post. (A single-statement arrival that
    wrote its tally rows before its foreign-key check share-locked the post did: a deadlock, 409s in the
    flood bench.) The arrival share-locks the post first, and a batch's lock (FOR NO KEY UPDATE) lets it
    through, so the reader is not held up by a batch either."""
    engine = app.extensions["candor.engine"]
    post, elsewhere = make_post(), make_post()
    publish_reader(post)  # a returning writer: the batch publishes the comments (held -> published)
    batch_ids = [checking_comment(app, session, post, f"Thanks, a helpful read ({i}).") for i in range(16)]
    checking_comment(app, session, elsewhere, "Thanks, a helpful read on another post.")
    # The next comment's tally shard is the second of the batch's: a row the batch needs.
    with app.test_request_context("/"):
        settings = pipeline_settings()
    ham = AkismetResult(Verdict.HAM, "Akismet: not spam")
    failures: list[BaseException] = []

    def arrive(own: Session) -> None:
        data = services.clean(
            services.CommentInput(
                author_name="Bo Reader",
                author_email="bo@example.net",
                body="Is a nap after lunch wise?",
                ip="203.0.113.7",
            )
        )
        with app.test_request_context("/"):
            target = services.comment_target(own, post.id, twin_of=data)
            services.accept_comment(own, target, data, settings=settings)

    gate = engine.connect()
    gate_tx = gate.begin()
    # The batch's first tally row is held, so the batch waits holding the post's row ...
    gate.execute(
        text("UPDATE comment_tallies SET n = n WHERE status = 'held' AND reason = '' AND shard = :s"),
        {"s": min(batch_ids) % TALLY_SHARDS},
    )
    batch = batch_thread(app, dict.fromkeys(batch_ids, ham), settings, failures)
    arrival = session_thread(app, arrive, failures)
    try:
        batch.start()
        wait_for_lock_waiters(engine, 1, batch)
        arrival.start()  # ... while a reader's comment arrives on that post
        arrival.join(timeout=10)  # it is not held up (before: it waited for the post's row)
        gate_tx.commit()
    finally:
        if gate_tx.is_active:
            gate_tx.rollback()
        gate.close()
        arrival.join()
        batch.join()
    assert failures == []
    session.expire_all()
    assert {session.get(Comment, i).status for i in batch_ids} == {"published"}
