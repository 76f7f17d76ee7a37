"""The quick comment POST (``CANDOR_COMMENT_CHECK_BUDGET_MS=0``, the default outside tests): the request
validates, stores the comment as being checked, enqueues its job and answers 202 with the status URL;
every check (impersonation, links, privacy, Akismet, off-topic, first comment) and the subscription
e-mail run in the job. Jobs run in the caller in tests, right after the commit (app/web/tasks.py), so the
verdict has landed by the time the answer is read; a retry waits in Huey's schedule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.comments import closing, services
from app.comments.models import Comment, ModerationDecision
from app.posts.models import Post
from tests.support.akismet_server import AkismetServer
from tests.support.comments import READER, comment_api
from tests.support.web import parse


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0, "AKISMET_TIMEOUT": 3.0}


def _decisions(session: Session, comment_id: int) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(ModerationDecision.action)
            .where(ModerationDecision.comment_id == comment_id)
            .order_by(ModerationDecision.id)
        )
    )


def _count(session: Session, post: Post) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == post.id)) or 0


def test_the_answer_is_202_checking_and_the_job_runs_every_check(
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    answer = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    assert answer.status_code == 202
    body = answer.get_json()
    assert body["status"] == "held" and body["reasons"] == ["checking"]
    assert body["status_url"].startswith("http://blog.example.org/comments/status/")
    comment = session.get(Comment, body["id"])
    session.refresh(comment)
    assert comment.status == "published" and comment.akismet_verdict == "ham"
    checks = [c["check"] for c in comment.checks]
    assert checks == [
        "honeypot",
        "time_to_submit",
        "rate_limit",
        "impersonation",
        "link_count",
        "privacy",
        "akismet",
        "off_topic",
        "first_comment",
    ]
    assert _decisions(session, comment.id) == ["submit", "recheck"]
    page = client.get(body["status_url"].removeprefix("http://blog.example.org"))
    assert "Published." in page.get_data(as_text=True)
    assert parse(client.get(f"/posts/{post.slug}")).find(id=f"comment-body-{comment.id}") is not None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"body": "Call me on 0161 496 0000 about adult sleep please."}, "privacy:phone"),
        ({"author_name": "Malik Reyes"}, "impersonation"),
        ({"body": "Sleep: https://a.example/1 https://a.example/2 https://a.example/3"}, "link_count"),
    ],
)
def test_the_checks_moved_to_the_job_still_hold_and_nothing_is_published_unchecked(
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
    fields: dict[str, str],
    reason: str,
) -> None:
    post = returning_post
    answer = comment_api(client, post, **fields)
    assert answer.status_code == 202 and answer.get_json()["reasons"] == ["checking"]
    comment = session.get(Comment, answer.get_json()["id"])
    session.refresh(comment)
    assert comment.status == "held" and reason in comment.reasons
    assert parse(client.get(f"/posts/{post.slug}")).find(id=f"comment-body-{comment.id}") is None


def test_a_comment_whose_job_cannot_finish_is_kept_unseen_retried_and_held_after_an_hour(
    app: Flask,
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    akismet.set_mode("refusing", status=503)
    answer = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    assert answer.status_code == 202
    comment = session.get(Comment, answer.get_json()["id"])
    session.refresh(comment)
    # The job asked, got no answer and is waiting for its retry: stored, held, never shown.
    assert services.is_checking(comment) and comment.status == "held"
    assert app.extensions["candor.tasks"].huey.scheduled_count() >= 1
    assert parse(client.get(f"/posts/{post.slug}")).find(id=f"comment-body-{comment.id}") is None
    # No worker ever finishes it: after an hour the periodic job holds it for a moderator.
    akismet.set_mode("down")
    comment.created_at = utc_now() - timedelta(hours=2)
    session.commit()
    app.extensions["candor.tasks"].checks_overdue.call_local()
    session.refresh(comment)
    assert comment.status == "held" and comment.reasons == ["unchecked"]
    assert _count(session, post) == 2  # the returning reader's and this one: nothing lost


def test_a_double_click_makes_one_comment(
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    before = _count(session, post)
    first = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    second = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    assert first.status_code == 202
    assert second.status_code in (201, 202)  # 201: the first was judged (and published) meanwhile
    assert first.get_json()["id"] == second.get_json()["id"]
    assert _count(session, post) == before + 1
    other = comment_api(client, post, body="And a second, different thought on adult sleep.")
    assert other.get_json()["id"] != first.get_json()["id"]
    assert _count(session, post) == before + 2


def test_two_identical_posts_at_once_make_one_comment(
    app: Flask,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    before = _count(session, post)
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def click() -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(comment_api(client, post, body="Thanks, a helpful read about adult sleep."))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and all(a.status_code in (201, 202) for a in answers)
    assert len({a.get_json()["id"] for a in answers}) == 1
    assert _count(session, post) == before + 1


def test_the_form_stores_and_sends_the_writer_to_the_status_page_once(
    client: Any, session: Session, make_post: Callable[..., Post], akismet: AkismetServer
) -> None:
    post = make_post()
    answer = client.post(f"/posts/{post.slug}/comments", data=READER)
    assert answer.status_code == 303 and "/comments/status/" in answer.headers["Location"]
    again = client.post(f"/posts/{post.slug}/comments", data=READER)
    assert again.status_code == 303
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    stored = session.scalars(select(Comment).where(Comment.post_id == post.id)).all()
    assert len(stored) == 1 and stored[0].status == "held" and stored[0].reasons == ["first_comment"]


def test_a_bad_request_on_the_quick_path_is_refused_never_a_500(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    akismet: AkismetServer,
) -> None:
    post = make_post()
    assert client.post("/api/v1/posts/999999/comments", json=READER).status_code == 404
    assert comment_api(client, post, parent_id=999999).status_code == 422
    assert comment_api(client, post, body="").status_code == 422
    assert comment_api(client, post, author_email="not an address").status_code == 422
    assert comment_api(client, post, body="x" * 100_000).status_code in (413, 422)
    form = client.post(f"/posts/{post.slug}/comments", data={**READER, "parent_id": "999999"})
    assert form.status_code in (404, 422)
    closing.close(session, make_user("editor"), post, "enough")
    session.commit()
    assert comment_api(client, post).status_code == 409
    assert _count(session, post) == 0


def test_a_writer_corrects_a_comment_held_by_the_job_and_the_old_one_is_withdrawn(
    client: Any, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post()
    publish_reader(post)
    body = "I sleep badly, call me on (507) 284-2511 to discuss sleep."
    response = client.post(f"/posts/{post.slug}/comments", data={**READER, "body": body})
    assert response.status_code == 303 and "/comments/status/" in response.headers["Location"]
    soup = parse(client.get(response.headers["Location"]))  # the job has run: held for the phone number
    assert "phone number" in soup.select_one(".fixable").get_text()
    fix = soup.select_one("#fix-form")
    again = client.post(
        f"/posts/{post.slug}/comments",
        data={
            **READER,
            "body": "I sleep badly; is a regular bedtime the best first step?",
            "replaces": fix.select_one("input[name=replaces]")["value"],
            "form_token": fix.select_one("input[name=form_token]")["value"],
        },
    )
    assert again.status_code == 303
    session.expire_all()
    old = session.scalars(select(Comment).where(Comment.body == body)).one()
    new = session.scalars(select(Comment).where(Comment.body.like("%regular bedtime%"))).one()
    assert old.status == "deleted" and new.status == "published"
    assert _decisions(session, old.id)[-1] == "withdraw"


def test_a_comment_judged_after_its_post_was_retracted_is_held_never_published(
    app: Flask,
    client: Any,
    session: Session,
    make_user: Callable[..., Any],
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    from app.editorial.services import retract

    post = returning_post
    akismet.set_mode("refusing", status=503)
    answer = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    assert answer.status_code == 202
    comment = session.get(Comment, answer.get_json()["id"])
    session.refresh(comment)
    assert services.is_checking(comment)
    retract(session, make_user("editor"), post, "The study it reported was withdrawn.")
    session.commit()
    akismet.set_mode("normal")
    app.extensions["candor.tasks"].check_comment.call_local(comment.id)
    session.refresh(comment)
    assert comment.status == "held" and "post_retracted" in comment.reasons
    assert parse(client.get(f"/posts/{post.slug}")).find(id=f"comment-body-{comment.id}") is None


def test_words_of_a_withdrawn_comment_sent_again_make_a_new_comment(
    client: Any,
    session: Session,
    returning_post: Post,
    make_user: Callable[..., Any],
    akismet: AkismetServer,
) -> None:
    from app.moderation.services import moderate

    post = returning_post
    first = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    comment = session.get(Comment, first.get_json()["id"])
    moderate(session, make_user("moderator"), comment, "delete", reason="Sent by mistake, said the writer.")
    session.commit()
    again = comment_api(client, post, body="Thanks, a helpful read about adult sleep.")
    assert again.status_code in (201, 202)
    assert again.get_json()["id"] != comment.id and again.get_json()["status"] != "deleted"


@pytest.mark.parametrize("budget", [0, 2000], ids=["quick", "inline"])
def test_a_form_sent_to_a_post_whose_comments_closed_says_so_and_asks_no_resend(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    budget: int,
) -> None:
    """A reader fills the form of a cached post page; an editor closes the post's comments before it is
    sent. The 409 is no lost race: the page must say the comments are closed, not
    that the blog was busy, and must not ask for the comment again in 5 seconds. (Its Retry-After is the
    readers' rate limit's, which the library adds to every answer it counted.)"""
    app.config["COMMENT_CHECK_BUDGET_MS"] = budget
    post = make_post()
    closing.close(session, make_user("editor"), post, "The discussion moved to the newer post")
    session.commit()
    answer = client.post(f"/posts/{post.slug}/comments", data=READER)
    assert answer.status_code == 409
    page = parse(answer)
    notice = page.select_one("[role=alert]")
    assert notice is not None
    said = " ".join(notice.get_text(" ").split())
    assert notice.select("p")[0].get_text() == "Comments are closed on this post.", said
    assert "busy" not in said and "send it again" not in said.lower(), said
    assert page.select_one("textarea[name=body]").get_text() == READER["body"]  # kept in the form below
    assert page.title.get_text().startswith("Not sent:")
    assert _count(session, post) == 0
