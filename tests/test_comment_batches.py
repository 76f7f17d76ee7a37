"""The comment check job in batches (app/web/tasks.py ``CheckBatches``): the job for one comment also
judges the other comments still being checked, asks Akismet about them all and commits their verdicts
together; a comment Akismet did not answer is left to its own job (its retries, the one-hour hold).
Jobs run in the caller in tests, right after the commit of the comment that enqueued them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.comments import services, states
from app.comments.models import Action, Comment, CommentStatus, ModerationDecision
from app.comments.views import pipeline_settings
from app.db import commit, writing
from app.mail.models import OutboxMessage
from app.posts.models import Post
from app.spam.akismet_adapter import AkismetResult, Verdict
from app.web.tasks import CheckBatches
from tests.support.akismet_server import COMMENT_CHECK, AkismetServer
from tests.support.comments import READER, batch_thread, comment_api, recounted
from tests.support.web import parse


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0, "AKISMET_TIMEOUT": 3.0}


def _waiting(client: Any, post: Post, n: int) -> list[int]:
    """``n`` comments whose job asked Akismet (refusing) and is waiting for its retry."""
    ids = []
    for i in range(n):
        answer = comment_api(client, post, body=f"Thanks, a helpful read about adult sleep ({i}).")
        assert answer.status_code == 202
        ids.append(answer.get_json()["id"])
    return ids


def _rechecks(session: Session, ids: list[int]) -> dict[int, int]:
    session.expire_all()
    rows = session.scalars(
        select(ModerationDecision.comment_id).where(
            ModerationDecision.comment_id.in_(ids), ModerationDecision.action == "recheck"
        )
    ).all()
    return {i: rows.count(i) for i in ids}


def test_one_job_judges_every_comment_still_being_checked(
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    akismet.set_mode("refusing", status=503)
    waiting = _waiting(client, post, 3)
    session.expire_all()
    assert all(services.is_checking(session.get(Comment, i)) for i in waiting)
    akismet.set_mode("normal")
    akismet.clear()
    latest = comment_api(client, post, body="Thanks, and the dark room advice helped me.").get_json()["id"]
    # The latest comment's job took the three waiting ones too: Akismet asked about each, once.
    ids = [*waiting, latest]
    assert len([r for r in akismet.requests if r.path == COMMENT_CHECK]) == 4
    session.expire_all()
    assert {session.get(Comment, i).status for i in ids} == {"published"}
    assert _rechecks(session, ids) == dict.fromkeys(ids, 1)
    page = parse(client.get(f"/posts/{post.slug}"))
    assert all(page.find(id=f"comment-body-{i}") is not None for i in ids)
    # Their own jobs, run later (their retries), find them decided and change nothing.
    tasks = client.application.extensions["candor.tasks"]
    for i in waiting:
        tasks.check_comment.call_local(i)
    assert _rechecks(session, ids) == dict.fromkeys(ids, 1)


def test_a_comment_akismet_did_not_answer_is_left_to_its_own_job(
    app: Flask,
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    akismet.set_mode("refusing", status=503)
    first, second = _waiting(client, post, 2)
    # A batch (a fresh process's: it has not seen Akismet fail) asks about both, gets no answer for
    # either and decides neither: the first is not held "akismet:unavailable" by a job not its own.
    akismet.clear()
    with app.app_context():
        retry = CheckBatches(50, 0.0).run(app, second, retries_left=True)
    assert retry is not None  # its own job is retried later
    asked = [r.form["comment_content"] for r in akismet.requests if r.path == COMMENT_CHECK]
    assert sorted(text[-4:] for text in asked) == ["(0).", "(1)."]
    session.expire_all()
    for i in (first, second):
        comment = session.get(Comment, i)
        assert services.is_checking(comment) and comment.reasons == ["checking"]
    assert _rechecks(session, [first, second]) == {first: 0, second: 0}
    # Its own job's last try (no retries left) holds it as a request would have.
    tasks = client.application.extensions["candor.tasks"]
    last = tasks.check_comment.s(first)
    last.retries = 0
    tasks.huey.execute(last)
    session.expire_all()
    comment = session.get(Comment, first)
    assert comment.status == "held" and "akismet:unavailable" in comment.reasons
    assert services.is_checking(session.get(Comment, second))


def test_while_akismet_answers_nothing_a_batch_asks_about_its_own_comment_first(
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    akismet.set_mode("refusing", status=503)
    akismet.clear()
    _waiting(client, post, 4)
    # Each job after the first found Akismet down and asked about its own comment only: four calls,
    # not 1 + 2 + 3 + 4 (every waiting comment asked again by every batch).
    assert len(akismet.requests_to(COMMENT_CHECK)) == 4


def test_a_batch_takes_at_most_its_size_oldest_first_and_nothing_older_than_five_minutes(
    app: Flask,
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    akismet.set_mode("refusing", status=503)
    old, *recent = _waiting(client, post, 5)
    stale = session.get(Comment, old)
    stale.created_at = utc_now() - timedelta(minutes=6)  # checks_overdue's to enqueue again, not a batch's
    session.commit()
    akismet.set_mode("normal")
    with app.app_context():
        assert CheckBatches(3, 0.0).run(app, recent[-1], retries_left=True) is None
    session.expire_all()
    statuses = {i: session.get(Comment, i).status for i in [old, *recent]}
    # Its own comment and the two oldest others within the window; the rest wait for their jobs.
    assert statuses == {
        old: "held",
        recent[0]: "published",
        recent[1]: "published",
        recent[2]: "held",
        recent[3]: "published",
    }
    assert services.is_checking(session.get(Comment, old))
    assert services.is_checking(session.get(Comment, recent[2]))


def test_two_workers_judging_overlapping_batches_at_once_decide_each_comment_once(
    app: Flask,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    """Two processes may take the same comments: each batch locks its rows (in id order) before any
    post's row, so two overlapping batches on one post wait for one another, never deadlock."""
    post = returning_post
    ids = []
    with app.test_request_context("/"):
        settings = pipeline_settings()
        for i in range(30):
            data = services.CommentInput(
                author_name="Ada Reader",
                author_email="ada@example.net",
                body=f"Thanks, a helpful read about adult sleep ({i}).",
                ip="203.0.113.9",
            )
            ids.append(
                services.accept_comment(
                    session, services.Target(post.id, post.slug), data, settings=settings
                ).id
            )
    session.commit()
    ham = AkismetResult(Verdict.HAM, "Akismet: not spam")
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    threads = [
        batch_thread(app, dict.fromkeys(part, ham), settings, failures, start=start)
        for part in (ids[:20], ids[10:])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    session.expire_all()
    assert {session.get(Comment, i).status for i in ids} == {"published"}
    assert _rechecks(session, ids) == dict.fromkeys(ids, 1)


def _poison(session: Session, comment_id: int) -> None:
    """Stored check results this version cannot read (as a newer version, mid-deploy, would write)."""
    session.execute(
        update(Comment)
        .where(Comment.id == comment_id)
        .values(checks=[{"check": "honeypot", "verdict": "newer"}])
    )
    session.commit()


def test_a_comment_whose_checks_raise_does_not_hold_back_its_batch(
    app: Flask,
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    akismet.set_mode("refusing", status=503)
    first, poisoned, third = _waiting(client, post, 3)
    _poison(session, poisoned)
    akismet.set_mode("normal")
    with app.app_context():
        retry = CheckBatches(50, 0.0).run(app, first, retries_left=True)
    assert retry is None  # its own comment was judged
    session.expire_all()
    assert session.get(Comment, first).status == "published"
    assert session.get(Comment, third).status == "published"
    assert services.is_checking(session.get(Comment, poisoned))  # left for its own job, not lost
    assert _rechecks(session, [first, poisoned, third]) == {first: 1, poisoned: 0, third: 1}
    # Its own job is told to try again later (with its backoff) ...
    with app.app_context():
        assert CheckBatches(50, 0.0).run(app, poisoned, retries_left=True) is not None
        # ... and its last try ends without an error: the hourly job holds it for a moderator.
        assert CheckBatches(50, 0.0).run(app, poisoned, retries_left=False) is None
    assert services.is_checking(session.get(Comment, poisoned))


def test_an_hour_late_comment_whose_local_checks_raise_is_held_with_the_others(
    app: Flask, client: Any, session: Session, returning_post: Post, akismet: AkismetServer
) -> None:
    akismet.set_mode("refusing", status=503)
    ids = _waiting(client, returning_post, 3)
    session.execute(
        update(Comment).where(Comment.id.in_(ids)).values(created_at=utc_now() - timedelta(hours=2))
    )
    session.commit()
    _poison(session, ids[0])
    app.extensions["candor.tasks"].checks_overdue.call_local()
    session.expire_all()
    for i in ids:
        comment = session.get(Comment, i)
        assert comment.status == "held" and comment.reasons[-1] == "unchecked", (i, comment.reasons)


# --- one flush per batch: counts exact, few statements (issue 15) --------------------------------------


def _assert_counts_exact(session: Session) -> None:
    session.expire_all()
    assert {k: n for k, n in states.tally(session).items() if n} == recounted(session)
    for post in session.scalars(select(Post)):
        published = select(func.count()).where(Comment.post_id == post.id, Comment.status == "published")
        assert post.comment_count == session.scalar(published), post.id


def _run_batch(app: Flask, answers: dict[int, Any]) -> None:
    """Finish ``answers`` as one check batch, as the job worker does (a writing session of its own,
    committed), and fail the test if it raised."""
    with app.test_request_context("/"):
        settings = pipeline_settings()
    failures: list[BaseException] = []
    worker = batch_thread(app, answers, settings, failures)
    worker.start()
    worker.join()
    assert failures == []


def _mixed_batch(app: Flask, session: Session, posts: list[Post], n: int) -> dict[int, Any]:
    """``n`` comments still being checked on ``posts`` (several on each) and Akismet's answers, which
    with the writers make every kind of verdict: published (Ada, a returning reader), held (first-time
    writers; a phone number), spam."""
    ham = AkismetResult(Verdict.HAM, "Akismet: not spam")
    spam = AkismetResult(Verdict.SPAM, "Akismet: spam")
    answers: dict[int, Any] = {}
    with app.test_request_context("/"):
        settings = pipeline_settings()
        for i in range(n):
            post, kind = posts[i % len(posts)], i % 4
            returning = kind in (0, 2)
            body = f"Thanks, a helpful read about adult sleep ({i})."
            if kind == 2:
                body += " Call me on 0161 496 0733."
            data = services.CommentInput(
                author_name="Ada Reader" if returning else f"New Reader {i}",
                author_email="ada@example.net" if returning else f"new{i}@example.org",
                body=body,
                ip="203.0.113.9",
            )
            comment = services.accept_comment(
                session, services.Target(post.id, post.slug), data, settings=settings
            )
            assert services.is_checking(comment)
            answers[comment.id] = spam if kind == 3 else ham
    session.commit()
    return answers


def test_a_batch_of_mixed_verdicts_on_shared_posts_leaves_every_count_equal_to_a_recount(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    akismet: AkismetServer,
) -> None:
    posts = [make_post(), make_post()]
    for post in posts:
        publish_reader(post)
    answers = _mixed_batch(app, session, posts, 12)
    _assert_counts_exact(session)
    _run_batch(app, answers)
    session.expire_all()
    statuses = {session.get(Comment, i).status for i in answers}
    assert statuses == {"published", "held", "spam"}
    assert _rechecks(session, list(answers)) == dict.fromkeys(answers, 1)
    _assert_counts_exact(session)


def test_a_batch_whose_one_comment_raises_still_leaves_counts_equal_to_a_recount(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    akismet: AkismetServer,
) -> None:
    """The batch's savepoint rolled back, each comment is judged alone: the rows it read under its lock
    are read again (what the failed flush left in the session is not what is stored)."""
    post = make_post()
    publish_reader(post)
    answers = _mixed_batch(app, session, [post], 8)
    poisoned = sorted(answers)[5]
    _poison(session, poisoned)
    _run_batch(app, answers)
    session.expire_all()
    assert services.is_checking(session.get(Comment, poisoned))
    assert sum(not services.is_checking(session.get(Comment, i)) for i in answers) == 7
    _assert_counts_exact(session)


def test_a_batch_writes_its_comments_decisions_and_counts_in_a_few_statements(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    akismet: AkismetServer,
) -> None:
    """One flush for the batch: no flush, re-read of a locked row and count update per comment (the
    worker's CPU goes with its statements: about 8.4 a comment before, measured by bench_checks.py)."""
    posts = [make_post(), make_post()]
    for post in posts:
        publish_reader(post)
    answers = _mixed_batch(app, session, posts, 24)
    with app.test_request_context("/"):
        settings = pipeline_settings()
        own = app.extensions["candor.sessions"]()
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        engine = app.extensions["candor.engine"]
        event.listen(engine, "before_cursor_execute", count)
        try:
            writing(own)
            batch = services.finish_batch(own, answers, settings)
            commit(own)
        finally:
            event.remove(engine, "before_cursor_execute", count)
            own.close()
    assert len(batch.decided) == 24 and batch.failed == []
    # One UPDATE of all the comments (executemany), one INSERT of their decisions (SQLite: one a comment,
    # as it has no ordered RETURNING of many rows), and the batch's reads and count changes: measured, 34
    # statements on PostgreSQL and 57 on SQLite; before this stop's change, 8.4 a comment (over 200).
    one_by_one = 24 if session.get_bind().dialect.name == "sqlite" else 0
    assert len(statements) <= one_by_one + 40, "\n".join(statements)
    _assert_counts_exact(session)


def test_a_batch_asks_each_writer_who_ticked_the_box_to_confirm_and_nobody_else(
    client: Any, session: Session, returning_post: Post, akismet: AkismetServer
) -> None:
    """The subscriptions of a batch's comments are read at once: each writer who asked is asked to
    confirm, once; the one who did not, and spam, ask nobody."""
    post = returning_post
    akismet.set_mode("refusing", status=503)
    asked = [
        comment_api(client, post, body=f"Thanks, a helpful read about adult sleep ({i}).", notify=True)
        for i in range(2)
    ]
    quiet = comment_api(client, post, body="Thanks, the dark room advice helped me.")
    spam = comment_api(
        client,
        post,
        body="Cheap casino and viagra here, about sleep.",
        author_email="x@example.org",
        notify=True,
    )
    assert {a.status_code for a in [*asked, quiet, spam]} == {202}
    akismet.set_mode("normal")
    client.application.extensions["candor.tasks"].check_comment.call_local(asked[0].get_json()["id"])
    session.expire_all()
    ids = [a.get_json()["id"] for a in [*asked, quiet, spam]]
    assert [session.get(Comment, i).status for i in ids] == ["published", "published", "published", "spam"]
    sent = session.scalars(
        select(OutboxMessage.to_addr).where(OutboxMessage.purpose == "confirm_subscription")
    ).all()
    assert sent == [READER["author_email"]] * 2


def test_counts_stay_exact_when_a_savepoint_undoes_a_flush_of_locked_comments(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    akismet: AkismetServer,
) -> None:
    """What a transaction knows of the comments it locked (``states.locked_afresh``) is forgotten when a
    savepoint's rollback undoes a flush of them: the next change is counted from what is stored."""
    post = make_post()
    publish_reader(post)
    first = sorted(_mixed_batch(app, session, [post], 2))[0]
    own = app.extensions["candor.sessions"]()
    try:
        writing(own)
        (comment, *_) = services.lock_in_order(own, [first])
        with pytest.raises(RuntimeError), own.begin_nested():
            states.move(comment, Action.RECHECK, CommentStatus.PUBLISHED)
            own.flush()
            raise RuntimeError("undone")
        comment = own.get(Comment, first)
        assert comment.status == "held"
        states.move(comment, Action.RECHECK, CommentStatus.SPAM)
        own.flush()
        commit(own)
    finally:
        own.close()
    _assert_counts_exact(session)
