"""E-mail through the outbox to a real (local) SMTP server: staff-reply notifications with their signed,
purpose-bound, expiring unsubscribe link, contact replies, moderation notices, the moderators' digest, and
an SMTP failure retried rather than lost."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.clock import freeze, utc_now
from app.comments import services, tokens
from app.comments.models import Comment, Subscription
from app.contact import services as contact
from app.contact.models import ContactReply
from app.mail.models import OutboxMessage
from app.posts.models import Post
from tests.support.comments import submit
from tests.support.smtp import Inbox, free_port, serving
from tests.support.web import form_csrf_token, log_in, parse


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with serving(inbox) as port:
        yield inbox, port


@pytest.fixture
def app_config(comments_config: dict[str, Any], smtp: tuple[Inbox, int]) -> dict[str, Any]:
    """The local Akismet (tests/support/comments.py) and a local SMTP server."""
    return {
        **comments_config,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp[1],
        "MAIL_FROM": "Clinic Blog <blog@clinic.example>",
    }


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _unsubscribe_path(message: Message) -> str:
    match = re.search(r"http://blog\.example\.org(/unsubscribe/\S+)", _text(message))
    assert match, _text(message)
    return match.group(1)


def confirm_by_link(client: Any, runner: Any, inbox: Inbox, email_address: str) -> None:
    """Deliver the double opt-in request to the local SMTP server, follow its link, empty the inbox."""
    assert "sent" in runner.invoke(args=["mail", "send"]).output
    asks = [m for m in inbox.messages if m["To"] == email_address and "Confirm" in m["Subject"]]
    assert asks, [m["Subject"] for m in inbox.messages]
    match = re.search(r"http://blog\.example\.org(/subscriptions/confirm/\S+)", _text(asks[-1]))
    assert match, _text(asks[-1])
    assert client.post(match.group(1)).status_code == 303
    inbox.messages.clear()


@pytest.fixture
def question(
    client: Any,
    runner: Any,
    inbox: Inbox,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
) -> Comment:
    comment = publish_reader(make_post(), body="Is it fine to nap after lunch?", notify=True)
    confirm_by_link(client, runner, inbox, "ada@example.net")
    return comment


def _staff_reply(
    client: Any, session: Session, staff: User, parent: Comment, body: str = "Yes, keep it short."
) -> None:
    log_in(client, staff.email)
    csrf = parse(client.get(f"/staff/comments/{parent.id}")).select_one("input[name=csrf_token]")["value"]
    assert (
        client.post(f"/staff/comments/{parent.id}/reply", data={"csrf_token": csrf, "body": body}).status_code
        == 303
    )
    client.post("/logout", data={"csrf_token": csrf})


def test_an_opted_in_commenter_is_emailed_when_staff_reply(
    client: Any, session: Session, inbox: Inbox, moderator: User, question: Comment
) -> None:
    assert session.scalars(select(Subscription)).one().email == "ada@example.net"
    _staff_reply(client, session, moderator, question)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ada@example.net" and message["From"] == "Clinic Blog <blog@clinic.example>"
    assert "Malik Reyes replied" in message["Subject"]
    body = _text(message)
    assert "Yes, keep it short." in body and "Malik Reyes (Community Moderator, Public Affairs)" in body
    assert message["List-Unsubscribe"].startswith("<http://blog.example.org/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"  # no vacation replies to the blog
    assert message["Message-ID"].endswith("@clinic.example>")
    assert (
        session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "staff_reply")).one().status
        == "sent"
    )


def test_no_email_without_the_opt_in(
    client: Any,
    session: Session,
    inbox: Inbox,
    moderator: User,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
) -> None:
    quiet = publish_reader(make_post(), body="Is a nap fine?")
    _staff_reply(client, session, moderator, quiet)
    assert inbox.messages == []


def test_the_unsubscribe_link_asks_then_stops_the_emails(
    client: Any, session: Session, inbox: Inbox, moderator: User, question: Comment
) -> None:
    _staff_reply(client, session, moderator, question)
    path = _unsubscribe_path(inbox.messages[0])
    page = parse(client.get(path))
    assert page.select_one("main form button").get_text().startswith("Unsubscribe ada@example.net")
    session.expire_all()
    assert session.scalars(select(Subscription)).one().unsubscribed_at is None  # a GET changes nothing
    done = client.post(path)  # also what a mail client's one-click POST does
    assert done.status_code == 200 and "no more e-mails" in parse(done).select_one("[role=status]").get_text()
    _staff_reply(client, session, moderator, question, body="A second reply.")
    assert len(inbox.messages) == 1


def test_the_unsubscribe_link_is_signed_for_that_purpose_only_and_expires(
    app: Flask, client: Any, session: Session, inbox: Inbox, moderator: User, question: Comment
) -> None:
    _staff_reply(client, session, moderator, question)
    path = _unsubscribe_path(inbox.messages[0])
    token = path.rsplit("/", 1)[1]
    secret = app.config["SECRET_KEY"]
    data = tokens.verify(secret, tokens.Purpose.UNSUBSCRIBE, token)
    # The same payload signed for another purpose is refused here, and this token is refused elsewhere.
    other = tokens.sign(secret, tokens.Purpose.COMMENT_STATUS, s=data["s"], e=data["e"], c=question.id)
    assert client.get(f"/unsubscribe/{other}").status_code == 404
    assert client.post(f"/unsubscribe/{other}").status_code == 404
    assert client.get(f"/comments/status/{token}").status_code == 404
    assert client.get(f"/unsubscribe/{token[:-2]}xx").status_code == 404
    forged = tokens.sign("another-secret", tokens.Purpose.UNSUBSCRIBE, s=data["s"], e=data["e"])
    assert client.post(f"/unsubscribe/{forged}").status_code == 404
    try:
        freeze(utc_now() + tokens.MAX_AGE[tokens.Purpose.UNSUBSCRIBE] + timedelta(minutes=1))
        expired = client.post(path)
    finally:
        freeze(None)
    assert expired.status_code == 404 and "expired" in expired.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(Subscription)).one().unsubscribed_at is None
    assert client.post(path).status_code == 200  # still valid today


def test_an_smtp_failure_is_retried_not_lost(
    app: Flask,
    client: Any,
    runner: Any,
    session: Session,
    inbox: Inbox,
    smtp: tuple[Inbox, int],
    moderator: User,
    question: Comment,
) -> None:
    app.config["MAIL_PORT"] = free_port()  # nothing listens there: connection refused
    _staff_reply(client, session, moderator, question)
    session.expire_all()
    queued = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "staff_reply")).one()
    assert (queued.status, queued.attempts) == ("queued", 1)
    assert "ConnectionRefused" in queued.last_error and queued.next_attempt_at > utc_now()
    result = runner.invoke(args=["mail", "send"])  # not due yet: left alone
    assert "0 sent" in result.output
    app.config["MAIL_PORT"] = smtp[1]
    try:
        freeze(utc_now() + timedelta(minutes=2))
        result = runner.invoke(args=["mail", "send"])
    finally:
        freeze(None)
    assert result.exit_code == 0 and "1 sent" in result.output, result.output
    assert len(inbox.messages) == 1 and "Yes, keep it short." in _text(inbox.messages[0])
    session.expire_all()
    sent = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "staff_reply")).one()
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, "")
    assert inbox.messages[0]["Message-ID"] == sent.headers["Message-ID"]


def test_without_mail_server_messages_are_logged_not_sent(
    app: Flask,
    client: Any,
    session: Session,
    inbox: Inbox,
    moderator: User,
    question: Comment,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app.config["MAIL_SERVER"] = None
    with caplog.at_level("INFO", logger="app.mail.services"):
        _staff_reply(client, session, moderator, question)
    assert inbox.messages == []
    session.expire_all()
    reply = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "staff_reply")).one()
    assert reply.status == "logged"
    assert any("MAIL_SERVER is unset" in r.getMessage() for r in caplog.records)


def test_a_contact_message_is_answered_by_email_and_the_reply_kept(
    client: Any, session: Session, inbox: Inbox, moderator: User
) -> None:
    message = contact.submit(
        session,
        contact.ContactInput("Cy Reader", "cy@example.net", "Sleep lab", "How do I book the sleep lab?"),
        min_seconds=0,
    )
    session.commit()
    log_in(client, moderator.email)
    csrf = parse(client.get(f"/staff/contact/{message.id}")).select_one("input[name=csrf_token]")["value"]
    client.post(
        f"/staff/contact/{message.id}/reply", data={"csrf_token": csrf, "body": "Ask your GP for a referral."}
    )
    assert len(inbox.messages) == 1
    sent = inbox.messages[0]
    assert sent["To"] == "cy@example.net" and sent["Subject"] == "Re: Sleep lab"
    assert "Ask your GP for a referral." in _text(sent) and "Malik Reyes" in _text(sent)
    assert sent["Auto-Submitted"] is None  # a person's reply: answering it is welcome
    stored = session.scalars(select(ContactReply)).one()
    assert stored.body == "Ask your GP for a referral." and stored.staff_id == moderator.id
    page = parse(client.get(f"/staff/contact/{message.id}"))
    assert "Ask your GP for a referral." in page.select_one(".contact-replies").get_text()


def test_a_moderators_reason_is_emailed_to_the_commenter_but_never_for_spam(
    app: Flask, api: Any, session: Session, inbox: Inbox, moderator: User, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    one = submit(app, session, post, author_email="one@example.net", body="Is melatonin safe every night?")
    two = submit(app, session, post, author_email="two@example.net", body="Cheap pills here.")
    api.post(
        f"/api/v1/comments/{one.id}/moderate",
        {"action": "approve", "reason": "Thanks for asking!"},
        as_=moderator,
    )
    api.post(
        f"/api/v1/comments/{two.id}/moderate", {"action": "spam", "reason": "Advertising."}, as_=moderator
    )
    assert [m["To"] for m in inbox.messages] == ["one@example.net"]
    assert "is now published" in _text(inbox.messages[0]) and "Thanks for asking!" in _text(inbox.messages[0])
    assert inbox.messages[0]["Auto-Submitted"] == "auto-generated"


def test_the_digest_lists_held_comments_for_each_moderator(
    app: Flask,
    runner: Any,
    session: Session,
    inbox: Inbox,
    moderator: User,
    make_user: Callable[..., User],
    make_post: Callable[..., Post],
) -> None:
    assert "No comments are held" in runner.invoke(args=["comments", "digest"]).output
    second = make_user("moderator", "author", name="Second Moderator")
    make_user("editor")
    post = make_post()
    held = [
        submit(app, session, post, author_email=f"r{n}@example.net", body=f"Sleep question {n}?")
        for n in range(2)
    ]
    result = runner.invoke(args=["comments", "digest"])
    assert result.exit_code == 0 and "2 sent" in result.output, result.output
    assert sorted(m["To"] for m in inbox.messages) == sorted([moderator.email, second.email])
    assert {m["Auto-Submitted"] for m in inbox.messages} == {"auto-generated"}
    body = _text(inbox.messages[0])
    assert "2 comment(s)" in body and "First comment" not in body and "first_comment" in body
    assert all(f"http://blog.example.org/staff/comments/{c.id}" in body for c in held)


def test_mail_send_reports_failures_with_a_non_zero_exit(app: Flask, runner: Any, session: Session) -> None:
    from app.mail.services import queue

    queue(session, to="x@example.net", subject="Hello", body="Hi", purpose="test")
    session.commit()
    app.config["MAIL_PORT"] = free_port()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1 and "1 failed" in result.output
    session.expire_all()
    assert session.scalars(select(OutboxMessage)).one().status == "queued"


def test_only_the_comment_services_subscribe(session: Session, question: Comment) -> None:
    assert (
        services.unsubscribe(session, session.scalars(select(Subscription)).one().id, "ada@example.net") == 1
    )


# --- after the commit, whoever queued it (app/web/jobs.py) ---------------------------------------------


def test_mail_a_request_queued_goes_out_after_its_commit_and_never_after_a_rollback(
    app: Flask, client: Any, session: Session, inbox: Inbox
) -> None:
    from flask import request

    from app.mail.services import queue
    from app.web.database import db, keep_on_error
    from app.web.extensions import csrf

    def queue_one() -> tuple[str, int]:
        queue(db(), to=f"{request.args['to']}@example.net", subject="Hello", body="Hi", purpose="test")
        if request.args.get("keep"):
            keep_on_error()
        return "", int(request.args["status"])

    app.add_url_rule("/test/queue-mail", view_func=csrf.exempt(queue_one), methods=["POST"])
    for to, status, keep in (("committed", 201, ""), ("rolled-back", 422, ""), ("kept", 429, "1")):
        assert client.post(f"/test/queue-mail?to={to}&status={status}&keep={keep}").status_code == status
    assert sorted(m["To"] for m in inbox.messages) == ["committed@example.net", "kept@example.net"]
    stored = sorted(session.scalars(select(OutboxMessage.to_addr)))
    assert stored == ["committed@example.net", "kept@example.net"]


def test_an_error_reporter_is_emailed_the_decision_at_once_not_at_the_next_cron_run(
    client: Any,
    session: Session,
    inbox: Inbox,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
) -> None:
    """A service outside comments (app.corrections) queues this one; no view has to remember to send it."""
    editor = make_user("editor")
    post = make_post()
    client.post(f"/posts/{post.slug}/report", data={"what": "I disagree.", "email": "reader@example.com"})
    log_in(client, editor.email)
    report_id = int(parse(client.get("/staff/error-reports")).select_one(".report h2")["id"].split("-")[1])
    client.post(
        f"/staff/error-reports/{report_id}/decline",
        data={
            "reason": "The post is accurate.",
            "csrf_token": form_csrf_token(client, "/staff/error-reports"),
            "confirm": "yes",
        },
    )
    assert [m["To"] for m in inbox.messages] == ["reader@example.com"]
    assert "The post is accurate." in _text(inbox.messages[0])


# --- double opt-in -------------------------------------------------------------------------------------


def _confirm_path(message: Message) -> str:
    match = re.search(r"http://blog\.example\.org(/subscriptions/confirm/\S+)", _text(message))
    assert match, _text(message)
    return match.group(1)


def test_ticking_the_box_only_asks_and_replies_are_sent_once_the_owner_confirms(
    client: Any,
    session: Session,
    inbox: Inbox,
    moderator: User,
    make_post: Callable[..., Post],
) -> None:
    post = make_post()
    sent = client.post(
        f"/posts/{post.slug}/comments",
        data={
            "author_name": "Vic Tim",
            "author_email": "Vic@Example.NET",
            "body": "Does a short nap after lunch help with sleep at night?",
            "notify": "1",
        },
    )
    assert sent.status_code == 303
    # The request's commit sent the confirmation request, and nothing else, to the address given.
    assert [m["To"] for m in inbox.messages] == ["vic@example.net"]
    assert inbox.messages[0]["Auto-Submitted"] == "auto-generated"
    path = _confirm_path(inbox.messages[0])
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.confirmed_at is None
    comment = session.get(Comment, subscription.comment_id)
    assert comment is not None
    if comment.status != "published":
        from app.moderation.services import moderate

        moderate(session, moderator, comment, "approve")
        session.commit()
    inbox.messages.clear()

    _staff_reply(client, session, moderator, comment, "Yes, twenty minutes at most.")
    assert inbox.messages == []  # not confirmed: no reply e-mail

    page = parse(client.get(path))  # opening the link (a mail scanner does) confirms nothing
    assert page.select_one("main form button").get_text().startswith("Yes, e-mail vic@example.net")
    session.expire_all()
    assert session.scalars(select(Subscription)).one().confirmed_at is None
    answer = client.post(path)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(path)
    assert "Confirmed" in parse(client.get(path)).select_one("[role=status]").get_text()
    assert client.post(path).status_code == 303  # a second click changes nothing
    session.expire_all()
    assert session.scalars(select(Subscription)).one().confirmed_at is not None

    _staff_reply(client, session, moderator, comment, "And not after 3 pm.")
    assert [m["To"] for m in inbox.messages] == ["vic@example.net"]
    assert "And not after 3 pm." in _text(inbox.messages[0])


def test_one_address_is_asked_at_most_three_times_a_day(
    client: Any, session: Session, inbox: Inbox, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    for n in range(5):
        client.post(
            f"/posts/{post.slug}/comments",
            data={
                "author_name": "Someone",
                "author_email": "victim@example.net",
                "body": f"Is napping after lunch good for sleep, question {n}?",
                "notify": "1",
            },
        )
    assert len(inbox.messages) == 3
    session.expire_all()
    assert len(session.scalars(select(Subscription)).all()) == 5  # the wish is kept; it is just not asked
    freeze(utc_now() + timedelta(days=1, minutes=1))
    try:
        client.post(
            f"/posts/{post.slug}/comments",
            data={
                "author_name": "Someone",
                "author_email": "victim@example.net",
                "body": "Is napping after lunch good for sleep, one more?",
                "notify": "1",
            },
        )
    finally:
        freeze(None)
    assert len(inbox.messages) == 4


def test_spam_asks_nobody(
    client: Any, session: Session, inbox: Inbox, make_post: Callable[..., Post]
) -> None:
    from tests.support.akismet_server import GUARANTEED_SPAM_AUTHOR

    post = make_post()
    client.post(
        f"/posts/{post.slug}/comments",
        data={
            "author_name": GUARANTEED_SPAM_AUTHOR,
            "author_email": "stranger@example.net",
            "body": "Does napping help sleep?",
            "notify": "1",
        },
    )
    session.expire_all()
    assert session.scalars(select(Comment)).one().status == "spam"
    assert inbox.messages == []


def test_confirmation_links_expire_and_are_bound_to_their_purpose(
    client: Any, session: Session, inbox: Inbox, question: Comment, app: Flask
) -> None:
    subscription = session.scalars(select(Subscription)).one()
    secret = app.config["SECRET_KEY"]
    unsubscribe = tokens.sign(secret, tokens.Purpose.UNSUBSCRIBE, s=subscription.id, e=subscription.email)
    assert client.get(f"/subscriptions/confirm/{unsubscribe}").status_code == 404
    assert client.post(f"/subscriptions/confirm/{unsubscribe}").status_code == 404
    other = tokens.sign(secret, tokens.Purpose.CONFIRM_SUBSCRIPTION, s=subscription.id, e="x@example.net")
    assert client.post(f"/subscriptions/confirm/{other}").status_code == 404
    old = tokens.sign(secret, tokens.Purpose.CONFIRM_SUBSCRIPTION, s=subscription.id, e=subscription.email)
    freeze(utc_now() + timedelta(days=8))
    try:
        expired = client.post(f"/subscriptions/confirm/{old}")
    finally:
        freeze(None)
    assert expired.status_code == 404 and "expired" in expired.get_data(as_text=True)
