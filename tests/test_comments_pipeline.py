"""The comment pipeline: each ordered check passing and failing, and Akismet's failures never losing or
publishing a comment.

Akismet is exercised through the real akismet client against tests/support/akismet_server.py, over a
socket, in every fault mode (STYLE.md, convention 10).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.comments.models import Comment, ModerationDecision
from app.posts.models import Post
from tests.support.akismet_server import COMMENT_CHECK, GUARANTEED_SPAM_AUTHOR, AkismetServer
from tests.support.comments import READER, comment_api, submit


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """This module's app talks to the local Akismet (tests/support/comments.py)."""
    return comments_config


TIMEOUT = 1.0  # AKISMET_TIMEOUT in app_config
MARGIN = 2.0  # scheduling slack on a busy machine


def _reasons(comment: Comment) -> list[str]:
    return list(comment.reasons)


def _check(comment: Comment, name: str) -> dict[str, Any]:
    return next(c for c in comment.checks if c["check"] == name)


# --- Akismet down, slow, refusing, talking nonsense --------------------------------------------------

FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("down", {}),
    ("slow", {}),
    ("refusing", {"status": 503}),
    ("refusing", {"status": 500}),
    ("nonsense", {"body": "maybe"}),
    ("nonsense", {"body": "<html><body>Gateway error</body></html>"}),
]


@pytest.mark.parametrize(("mode", "options"), FAULTS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(FAULTS)])
def test_every_comment_is_held_none_published_none_lost_when_akismet_fails(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    akismet: AkismetServer,
    mode: str,
    options: dict[str, Any],
) -> None:
    post = make_post()
    # A returning commenter with clean, on-topic comments: Akismet is the only check that can hold them.
    publish_reader(post)
    before = session.scalar(select(func.count(Comment.id)))
    akismet.set_mode(mode, **options)
    answers = []
    for n in range(3):
        started = time.monotonic()
        response = comment_api(client, post, body=f"Thanks, a helpful read about adult sleep ({n}).")
        answers.append((response, time.monotonic() - started))
    for response, took in answers:
        assert took < TIMEOUT + MARGIN, f"the reader waited {took:.1f} s"
        assert response.status_code == 202, response.get_json()
        body = response.get_json()
        assert body["status"] == "held" and body["reasons"] == []  # nothing the writer can fix
        assert session.get(Comment, body["id"]).reasons == ["akismet:unavailable"]
    session.expire_all()
    stored = session.scalars(
        select(Comment).where(Comment.id.in_([r.get_json()["id"] for r, _ in answers]))
    ).all()
    assert len(stored) == 3 and session.scalar(select(func.count(Comment.id))) == before + 3  # none lost
    assert all(c.status == "held" for c in stored)  # none published
    assert all(_check(c, "akismet")["verdict"] == "hold" and _check(c, "akismet")["detail"] for c in stored)
    if mode != "down":
        assert len(akismet.requests_to(COMMENT_CHECK)) >= 3  # really asked, through the real client


def test_recheck_publishes_held_comments_once_akismet_answers_and_keeps_other_reasons(
    app: Flask,
    runner: Any,
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    app.config["OFFTOPIC_SMALL_BLOG"] = "hold"  # the off-topic hold is the other reason kept (one post)
    akismet.set_mode("down")
    clean = comment_api(client, post, body="Thanks, helpful advice on sleep for adults.").get_json()
    spam = comment_api(
        client, post, body="Cheap viagra and casino bonuses, order at pills-now.biz."
    ).get_json()
    newcomer = comment_api(
        client, post, author_email="new@example.net", body="Thanks, useful sleep advice."
    ).get_json()
    reasons = {
        name: session.get(Comment, body["id"]).reasons
        for name, body in (("clean", clean), ("spam", spam), ("newcomer", newcomer))
    }
    assert reasons["clean"] == ["akismet:unavailable"]
    assert reasons["spam"] == ["akismet:unavailable", "off_topic"]  # an advertisement: off-topic, held
    assert reasons["newcomer"] == ["akismet:unavailable", "first_comment"]

    result = runner.invoke(args=["comments", "recheck"])  # still down: nothing changes, nothing lost
    assert result.exit_code == 0, result.output
    assert "3 still unanswered" in result.output

    akismet.set_mode("normal")
    result = runner.invoke(args=["comments", "recheck"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    got = {c.id: c for c in session.scalars(select(Comment))}
    assert got[clean["id"]].status == "published" and got[clean["id"]].reasons == []
    assert got[spam["id"]].status == "spam" and got[spam["id"]].reasons == ["akismet:spam", "off_topic"]
    assert got[newcomer["id"]].status == "held" and got[newcomer["id"]].reasons == ["first_comment"]
    rechecks = session.scalars(select(ModerationDecision).where(ModerationDecision.action == "recheck")).all()
    assert {d.comment_id for d in rechecks} == {clean["id"], spam["id"], newcomer["id"]}
    assert all(d.moderator_id is None for d in rechecks)
    assert all(
        r.form.get("recheck_reason") == "recheck_queue" for r in akismet.requests_to(COMMENT_CHECK)[-3:]
    )
    # Run again: nothing left to do.
    assert "Re-checked 0" in runner.invoke(args=["comments", "recheck"]).output


# --- each check, passing and failing -----------------------------------------------------------------


def test_a_clean_comment_from_a_returning_reader_is_published_with_every_check_recorded(
    client: Any,
    session: Session,
    returning_post: Post,
    akismet: AkismetServer,
) -> None:
    post = returning_post
    response = comment_api(client, post)
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"id": response.get_json()["id"], "status": "published", "reasons": []}
    comment = session.get(Comment, response.get_json()["id"])
    assert [c["check"] for c in comment.checks] == [
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
    assert all(c["verdict"] == "publish" for c in comment.checks)
    assert comment.relevance_score is not None and comment.relevance_drivers
    assert comment.akismet_verdict == "ham"
    sent = akismet.requests_to(COMMENT_CHECK)[-1].form
    # Every signal Akismet uses, and is_test outside production.
    for name in (
        "user_ip",
        "user_agent",
        "referrer",
        "permalink",
        "comment_type",
        "comment_author",
        "comment_author_email",
        "comment_content",
        "blog_lang",
        "comment_date_gmt",
        "is_test",
    ):
        assert sent.get(name), name
    assert sent["comment_type"] == "comment" and sent["blog_lang"] == "en"
    assert sent["permalink"] == f"http://blog.example.org/posts/{post.slug}"


def test_a_first_comment_is_held(client: Any, session: Session, make_post: Callable[..., Post]) -> None:
    response = comment_api(client, make_post())
    assert response.status_code == 202
    assert session.get(Comment, response.get_json()["id"]).reasons == ["first_comment"]


def test_the_writer_is_told_only_reasons_they_can_fix(
    client: Any, session: Session, make_post: Callable[..., Post]
) -> None:
    """Impersonation, Akismet's state and "first comment" would tell a spammer which check caught them."""
    post = make_post()
    body = "Call me on 0207 946 0000 about http://a.example http://b.example http://c.example"
    response = comment_api(client, post, author_name="Edith Editor", body=body)
    told = response.get_json()["reasons"]
    stored = session.get(Comment, response.get_json()["id"]).reasons
    assert "first_comment" in stored and "first_comment" not in told
    assert told and all(
        r in ("link_count", "too_fast", "off_topic") or r.startswith("privacy:") for r in told
    )
    assert set(told) <= set(stored)


def test_the_honeypot_marks_spam_and_skips_akismet(
    app: Flask, session: Session, make_post: Callable[..., Post], akismet: AkismetServer
) -> None:
    comment = submit(app, session, make_post(), honeypot="http://spam.example")
    assert comment.status == "spam" and "honeypot" in _reasons(comment)
    assert _check(comment, "akismet")["verdict"] == "skipped"
    assert akismet.requests_to(COMMENT_CHECK) == []


@pytest.mark.parametrize(
    ("age", "held"), [(timedelta(seconds=0.5), True), (timedelta(seconds=30), False), (None, False)]
)
def test_time_to_submit_holds_only_what_is_too_fast_and_unknown_is_no_evidence(
    app: Flask,
    session: Session,
    returning_post: Post,
    age: timedelta | None,
    held: bool,
) -> None:
    app.config["COMMENT_MIN_SECONDS"] = 3.0
    post = returning_post
    comment = submit(app, session, post, form_age=age)
    assert ("too_fast" in _reasons(comment)) is held
    assert comment.status == ("held" if held else "published")
    if age is None:
        assert "unknown" in _check(comment, "time_to_submit")["detail"]


def test_a_burst_from_one_ip_is_held(
    app: Flask, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    app.config["COMMENT_BURST"] = 2
    post = make_post()
    publish_reader(post, ip="198.51.100.1")
    first = submit(app, session, post, ip="198.51.100.7")
    second = submit(app, session, post, ip="198.51.100.7")
    third = submit(app, session, post, ip="198.51.100.7")
    other = submit(app, session, post, ip="198.51.100.8")
    assert [first.status, second.status, third.status, other.status] == [
        "published",
        "published",
        "held",
        "published",
    ]
    assert _reasons(third) == ["rate_limit"]


def test_the_hard_rate_limit_answers_429_per_reader_ip(
    app: Flask, client: Any, make_post: Callable[..., Post]
) -> None:
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    post = make_post()
    codes = [comment_api(client, post).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert (
        client.post(
            f"/api/v1/posts/{post.id}/comments", json=READER, environ_base={"REMOTE_ADDR": "192.0.2.55"}
        ).status_code
        == 202
    )


@pytest.mark.parametrize("name", ["Edith Editor", "Dr Edith Edit0r", "The CIinic", "the clinic official"])
def test_a_name_passing_for_staff_or_the_organisation_is_held(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    name: str,
) -> None:
    post = make_post()  # published by an editor called Edith Editor
    publish_reader(post)
    comment = submit(app, session, post, author_name=name)
    assert comment.status == "held" and _reasons(comment) == ["impersonation"]


@pytest.mark.parametrize(
    "name",
    [
        "\u1d07rin Shah",  # small capital E
        "Erin Sh\u0251h",  # Latin alpha
        "Shah, Erin",
        "Er\u200din Sh\u0430h",  # zero-width joiner and Cyrillic a
        "Candor Clinic B\u029fog",  # the blog's name with a small capital L
        "J\u043ehn Doe",  # Cyrillic o in a name that resembles nobody
    ],
)
def test_a_disguised_name_is_held_and_the_reader_is_not_told_why(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
    name: str,
) -> None:
    make_user("author", name="Dr Erin Shah")
    post = make_post()
    publish_reader(post)
    response = comment_api(client, post, author_name=name)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "held" and body["reasons"] == []  # nothing to fix, nothing to learn from
    assert "impersonation" not in response.get_data(as_text=True)
    comment = session.scalars(select(Comment).order_by(Comment.id.desc())).first()
    assert comment is not None and comment.author_name == name
    assert "impersonation" in _reasons(comment)  # the moderator sees it


def test_a_staff_email_address_is_held(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
) -> None:
    staff = make_user("author", name="Noor Haddad", email="noor@clinic.example")
    post = make_post()
    publish_reader(post, email=staff.email, name="N. H.")
    comment = submit(app, session, post, author_email="Noor@Clinic.example", author_name="Someone")
    assert "impersonation" in _reasons(comment)


def test_more_links_than_allowed_are_held(
    app: Flask, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post()
    publish_reader(post)
    two = submit(
        app, session, post, body="Sleep study: https://example.org/a and https://example.org/b thanks"
    )
    three = submit(
        app, session, post, body="Sleep: https://example.org/a https://example.org/b https://example.org/c"
    )
    assert "link_count" not in _reasons(two)
    assert "link_count" in _reasons(three)


def test_a_phone_number_is_held_with_its_kind(
    app: Flask,
    client: Any,
    session: Session,
    returning_post: Post,
) -> None:
    post = returning_post
    comment = submit(app, session, post, body="My sleep is poor, call me at (507) 284-2511 to talk about it.")
    assert comment.status == "held" and _reasons(comment) == ["privacy:phone"]
    assert "2511" not in _check(comment, "privacy")["detail"]  # the finding is masked, never repeated


def test_akismet_spam_goes_to_spam(
    app: Flask, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post()
    publish_reader(post)
    comment = submit(app, session, post, author_name=GUARANTEED_SPAM_AUTHOR)
    assert comment.status == "spam" and _reasons(comment) == ["akismet:spam"]


def test_without_an_akismet_key_every_comment_is_held(
    app: Flask,
    session: Session,
    client: Any,
    returning_post: Post,
) -> None:
    from app.spam.akismet_adapter import AkismetChecker, AkismetSettings

    post = returning_post
    app.extensions["candor.akismet"] = AkismetChecker(
        AkismetSettings.from_config({**app.config, "AKISMET_API_KEY": None})
    )
    response = comment_api(client, post)
    assert response.status_code == 202
    assert session.get(Comment, response.get_json()["id"]).reasons == ["akismet:no_key"]


def test_an_off_topic_comment_is_held_with_its_score_and_drivers(
    app: Flask, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post(
        title="How much sleep do adults need?",
        body="Adults need seven to nine hours of sleep a night. Keep a regular bedtime.",
    )
    publish_reader(post)
    app.config["OFFTOPIC_SMALL_BLOG"] = "hold"  # a blog of one post: flagged only by default
    comment = submit(
        app, session, post, body="Best crypto trading signals, earn $500 a day from home, DM me."
    )
    assert comment.status == "held" and "off_topic" in _reasons(comment)
    assert comment.relevance_score is not None and comment.relevance_score < 0.3
    assert any(weight < 0 for _, weight in comment.relevance_drivers)
    on_topic = submit(app, session, post, body="Does a nap count towards the hours of sleep?")
    assert "off_topic" not in _reasons(on_topic)


def test_every_reason_is_kept_not_just_the_first(
    app: Flask, session: Session, make_post: Callable[..., Post]
) -> None:
    comment = submit(
        app,
        session,
        make_post(),
        author_name="The CIinic",
        body="Call (507) 284-2511 https://a.example/1 https://a.example/2 https://a.example/3",
    )
    assert {"impersonation", "link_count", "privacy:phone", "first_comment"} <= set(_reasons(comment))


def test_a_reply_is_sent_to_akismet_as_a_reply(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    akismet: AkismetServer,
) -> None:
    post = make_post()
    parent = publish_reader(post)
    reply = submit(app, session, post, parent_id=parent.id, body="Agreed, sleep hours matter.")
    assert reply.parent_id == parent.id
    assert akismet.requests_to(COMMENT_CHECK)[-1].form["comment_type"] == "reply"
