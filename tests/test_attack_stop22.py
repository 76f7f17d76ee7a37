"""Attacks on this stop's comment changes (issue 15) that broke something; each fixed, each a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.comments import states
from app.comments.models import TALLY_SHARDS, Comment
from app.comments.views import pipeline_settings
from app.posts.models import Post
from app.spam.akismet_adapter import AkismetResult, Verdict
from tests.support.comments import batch_thread, checking_comment
from tests.support.databases import postgresql_only, wait_for_lock_waiters


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0}


@postgresql_only  # row locks: SQLite has one writer at a time
def test_a_batch_never_waits_for_a_post_row_while_holding_tally_rows(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
) -> None:
    """Every other writer takes a post's row, then tally rows (``states._apply``). A batch that
    published a comment on post P (holding its tally rows) and then waits for post Q's row, held by a
    writer publishing a comment on Q who next needs those tally rows, deadlocks: PostgreSQL aborts
    one of them (a reader's comment answered 500, or the whole batch thrown away)."""
    engine = app.extensions["candor.engine"]
    first, second = make_post(), make_post()
    publish_reader(first)
    publish_reader(second)  # a returning commenter: the checks publish its comments on both posts
    on_first = checking_comment(app, session, first, "Thanks, a helpful read about adult sleep.")
    on_second = checking_comment(app, session, second, "Thanks, and the dark room advice helped me.")
    assert on_first < on_second
    with app.test_request_context("/"):
        settings = pipeline_settings()
    ham = AkismetResult(Verdict.HAM, "Akismet: not spam")
    failures: list[BaseException] = []
    gate = engine.connect()
    gate_tx = gate.begin()
    # Another writer publishing a comment on the second post: it has that post's row ...
    gate.execute(text("SELECT id FROM posts WHERE id = :id FOR UPDATE"), {"id": second.id})

    worker = batch_thread(app, {on_first: ham, on_second: ham}, settings, failures)
    worker.start()
    try:
        wait_for_lock_waiters(engine, 1, worker)  # until the batch waits for a lock the writer holds
        # ... and next its comment's tally rows, in the shard of the batch's first comment.
        gate.execute(text("SET LOCAL lock_timeout = '20s'"))
        gate.execute(
            text("UPDATE comment_tallies SET n = n WHERE status = 'held' AND reason = '' AND shard = :s"),
            {"s": on_first % TALLY_SHARDS},
        )
        gate_tx.commit()
    finally:
        if gate_tx.is_active:
            gate_tx.rollback()
        gate.close()
        worker.join()
    assert failures == []
    session.expire_all()
    assert {session.get(Comment, i).status for i in (on_first, on_second)} == {"published"}
    assert states.tally(session)[("published", "")] == 4


def test_rate_limited_posts_while_redis_is_down_are_counted_in_memory_never_a_500(
    app_config: dict[str, Any], database_url: str, make_post: Callable[..., Post]
) -> None:
    """The rate-limit Redis refusing connections: every limited POST answered 500. Now each process
    counts in memory until Redis is back: the reader's limit still holds, with its headers."""
    from app import create_app
    from app.web.extensions import limiter
    from tests.support.comments import READER

    config = {
        **app_config,
        "DATABASE_URL": database_url,
        "TESTING": True,
        "COMMENT_RATE_LIMIT": "3 per minute; 100 per day",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",  # nothing listens there
    }
    server = create_app(config)
    try:
        post = make_post()
        client = server.test_client()
        answers = [
            client.post(
                f"/api/v1/posts/{post.id}/comments",
                json={**READER, "body": f"Question {n} about sleep?"},
                environ_base={"REMOTE_ADDR": "198.51.100.77"},
            )
            for n in range(4)
        ]
        assert [a.status_code for a in answers] == [202, 202, 202, 429], [a.get_json() for a in answers]
        assert answers[-1].headers["X-RateLimit-Remaining"] == "0"
    finally:
        server.extensions["candor.engine"].dispose()
        limiter._storage_dead = False  # the limiter is one per process: later apps start with theirs alive
