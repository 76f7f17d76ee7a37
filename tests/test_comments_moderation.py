"""Moderation: who may, what each decision does, that every decision is kept (append-only, in the database),
what it teaches the off-topic scorer and tells Akismet, the queue pages, bulk actions and needs-reply."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.clock import freeze, utc_now
from app.comments import learning, queries
from app.comments.learning import OffTopicExample
from app.comments.models import Comment, ModerationDecision
from app.contact import services as contact
from app.contact.models import ContactMessage
from app.moderation.models import AkismetSubmission
from app.moderation.services import moderate
from app.posts.models import Post
from app.spam import embedding, meaning
from tests.support.akismet_server import SUBMIT_HAM, SUBMIT_SPAM, AkismetServer
from tests.support.comments import submit
from tests.support.web import log_in, parse, text_of


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """This module's app talks to the local Akismet (tests/support/comments.py)."""
    return comments_config


ROLES = ["author", "editor", "admin", "moderator"]


@pytest.fixture
def held(app: Flask, session: Session, make_post: Callable[..., Post]) -> Comment:
    """A first comment: held for ``first_comment`` (Akismet says ham)."""
    return submit(app, session, make_post(), body="Thanks, is an afternoon nap bad for night sleep?")


# --- who may ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [None, *ROLES])
def test_only_moderators_see_the_queue_and_decide(
    api: Any, make_user: Callable[..., User], held: Comment, role: str | None
) -> None:
    user = make_user(role) if role else None
    listing = api.get("/api/v1/moderation/comments?status=held", as_=user)
    decide = api.post(f"/api/v1/comments/{held.id}/moderate", {"action": "approve"}, as_=user)
    expected = 200 if role == "moderator" else 401 if role is None else 403
    assert listing.status_code == decide.status_code == expected
    if expected != 200:
        assert decide.get_json()["error"]["message"]


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(
    "path", ["/staff/comments/", "/staff/comments/needs-reply", "/staff/comments/log", "/staff/contact/"]
)
def test_only_moderators_open_the_moderation_pages(
    client: Any, make_user: Callable[..., User], role: str | None, path: str
) -> None:
    if role:
        log_in(client, make_user(role).email)
    response = client.get(path)
    if role is None:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == (200 if role == "moderator" else 403)


# --- decisions ----------------------------------------------------------------------------------------


def test_a_decision_moves_the_comment_and_records_who_when_and_why(
    api: Any, session: Session, moderator: User, held: Comment
) -> None:
    queue = api.get("/api/v1/moderation/comments?status=held", as_=moderator).get_json()
    assert [(i["id"], i["status"], i["reasons"]) for i in queue["items"]] == [
        (held.id, "held", ["first_comment"])
    ]
    assert queue["next"] is None
    response = api.post(
        f"/api/v1/comments/{held.id}/moderate", {"action": "approve", "reason": "Welcome!"}, as_=moderator
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "published"
    assert body["decision"]["moderator"] == "Malik Reyes" and body["decision"]["reason"] == "Welcome!"
    decisions = queries.decisions_for(session, held.id)
    assert [(d.action, d.from_status, d.to_status) for d in decisions] == [
        ("submit", "", "held"),
        ("approve", "held", "published"),
    ]
    assert decisions[1].moderator_id == moderator.id and decisions[1].at is not None


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("approve", "published"),
        ("ham", "published"),
        ("spam", "spam"),
        ("off_topic", "deleted"),
        ("delete", "deleted"),
    ],
)
def test_each_action_on_a_held_comment(
    api: Any, moderator: User, held: Comment, action: str, status: str
) -> None:
    response = api.post(f"/api/v1/comments/{held.id}/moderate", {"action": action}, as_=moderator)
    assert response.status_code == 200 and response.get_json()["status"] == status


def test_impossible_and_unknown_actions_are_refused(api: Any, moderator: User, held: Comment) -> None:
    assert (
        api.post(f"/api/v1/comments/{held.id}/moderate", {"action": "approve"}, as_=moderator).status_code
        == 200
    )
    again = api.post(f"/api/v1/comments/{held.id}/moderate", {"action": "approve"}, as_=moderator)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"
    unknown = api.post(f"/api/v1/comments/{held.id}/moderate", {"action": "publish"}, as_=moderator)
    assert unknown.status_code == 422 and unknown.get_json()["error"]["field"] == "action"
    assert api.post(f"/api/v1/comments/{held.id}/moderate", {"action": 3}, as_=moderator).status_code == 422
    assert api.post("/api/v1/comments/999999/moderate", {"action": "spam"}, as_=moderator).status_code == 404
    bad_status = api.get("/api/v1/moderation/comments?status=maybe", as_=moderator)
    assert bad_status.status_code == 422


def test_a_deleted_comment_leaves_the_thread_and_stays_in_the_log(
    client: Any,
    api: Any,
    session: Session,
    make_post: Callable[..., Post],
    moderator: User,
    publish_reader: Callable[..., Comment],
) -> None:
    post = make_post()
    comment = publish_reader(post)
    before = session.get(Post, post.id).updated_at
    assert parse(client.get(f"/posts/{post.slug}")).select_one(f"#comment-body-{comment.id}") is not None
    api.post(
        f"/api/v1/comments/{comment.id}/moderate", {"action": "delete", "reason": "Duplicate."}, as_=moderator
    )
    session.expire_all()
    assert session.get(Post, post.id).updated_at > before
    assert parse(client.get(f"/posts/{post.slug}")).select_one(f"#comment-body-{comment.id}") is None
    log_in(client, moderator.email)
    log_page = parse(client.get("/staff/comments/log"))
    row = log_page.select_one("#moderation-log tbody tr[data-action=delete]")
    assert "Malik Reyes" in row.get_text() and "Duplicate." in row.get_text()
    deleted_tab = parse(client.get("/staff/comments/?status=deleted"))
    assert deleted_tab.select_one(f"#mod-comment-{comment.id}") is not None


def test_decisions_are_append_only_in_the_database(
    app: Flask, session: Session, held: Comment, moderator: User
) -> None:
    moderate(session, moderator, held, "approve", "ok")
    session.commit()
    engine = app.extensions["candor.engine"]
    for statement in (
        "UPDATE moderation_decisions SET reason = 'rewritten'",
        "DELETE FROM moderation_decisions",
    ):
        with engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(statement))
    decision = queries.decisions_for(session, held.id)[-1]
    decision.reason = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()
    session.delete(queries.decisions_for(session, held.id)[0])
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text("TRUNCATE moderation_decisions CASCADE"))


def test_contact_replies_are_append_only_in_the_database(
    app: Flask, session: Session, moderator: User
) -> None:
    from app.web.outside import site

    message = contact.submit(
        session, contact.ContactInput("Ada", "ada@example.net", "", "Hello?"), min_seconds=0
    )
    with app.test_request_context("/"):
        contact.reply(session, moderator, message, "Hello Ada.", site())
    session.commit()
    with app.extensions["candor.engine"].connect() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("UPDATE contact_replies SET body = 'something else'"))


# --- what decisions teach and tell -------------------------------------------------------------------


def test_a_comment_like_one_a_moderator_approved_is_then_not_held_and_a_new_process_knows_it(
    app: Flask, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    post = make_post(
        title="How much sleep do adults need?", body="Adults need seven to nine hours of sleep a night."
    )
    probe = "Is the hospital shop open on Sundays?"  # far from the post's words and meaning alike
    context = learning.post_context(post, post.published_revision)

    def probe_score() -> float:
        knowledge = learning.knowledge(session, post)
        assert knowledge is not None
        return meaning.score(probe, context, knowledge).score

    before = probe_score()
    for n in range(3):
        comment = submit(
            app,
            session,
            post,
            author_email=f"r{n}@example.net",
            body=f"What time does the hospital shop open at weekends ({n})?",
        )
        moderate(session, moderator, comment, "approve")
    spam = submit(
        app, session, post, author_email="s@example.net", body="Plumber needed for a leaking boiler."
    )
    moderate(session, moderator, spam, "off_topic")
    session.commit()
    examples = session.scalars(select(OffTopicExample).order_by(OffTopicExample.id)).all()
    assert [e.on_topic for e in examples] == [True, True, True, False]  # one example per teaching decision
    after = probe_score()
    assert after > before
    learning.forget_all()  # a new process: what was taught is read from the stored examples, not replayed
    assert probe_score() == pytest.approx(after)
    # With the threshold between the two scores, the probe would have been held before; now it is not.
    app.config["OFFTOPIC_THRESHOLD"] = int((before + after) * 50)
    assert before * 100 < app.config["OFFTOPIC_THRESHOLD"] < after * 100
    probed = submit(app, session, post, author_email="p@example.net", body=probe)
    assert "off_topic" not in probed.reasons


def test_a_question_approved_under_an_akin_post_counts_for_a_like_one_not_under_an_unrelated_post(
    app: Flask, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    hiring = make_post(
        title="We're recruiting pharmacy technicians",
        body="# The role\n\nDispense medicines on the wards.\n\n# Pay\n\nBand 5. Apply by 15 January.",
    )
    porters = make_post(
        title="Porters wanted: join our hospital team",
        body="# The job\n\nMove patients between the wards.\n\n# Pay\n\nBand 2. Apply online by 20 February.",
    )
    parking = make_post(
        title="The new parking ramp opens", body="# Rates and payment\n\nThe first hour is free."
    )
    probe = "Would I have to work weekends?"

    def kin(post: Post) -> tuple[float, str, float]:
        knowledge = learning.knowledge(session, post)
        assert knowledge is not None
        vector = embedding.encoder().encode(probe, max_tokens=embedding.COMMENT_TOKENS)
        values, labels = meaning.features(probe, vector, knowledge)
        context = learning.post_context(post, post.published_revision)
        return values["kin"], labels["kin"], meaning.score(probe, context, knowledge).score

    assert kin(porters)[:2] == (0.0, "")  # nothing decided yet
    before = kin(porters)[2]
    for n in range(3):
        body = f"Are there weekend shifts in this job? ({n})"
        comment = submit(app, session, hiring, author_email=f"r{n}@example.net", body=body)
        moderate(session, moderator, comment, "approve")
    session.commit()
    vote, label, after = kin(porters)
    assert vote > 0 and label.startswith("like 3 approved and 0 off-topic") and after > before
    assert kin(parking)[:2] == (0.0, "")  # a parking post is no kin of a job advertisement


def test_decisions_go_back_to_akismet_and_failures_are_retried(
    app: Flask,
    runner: Any,
    api: Any,
    session: Session,
    make_post: Callable[..., Post],
    moderator: User,
    akismet: AkismetServer,
) -> None:
    post = make_post()
    missed = submit(app, session, post, body="Thanks for the sleep advice.")  # Akismet said ham
    caught = submit(app, session, post, author_name="akismet-guaranteed-spam", body="Sleep advice, thanks.")
    assert (missed.akismet_verdict, caught.status) == ("ham", "spam")
    api.post(f"/api/v1/comments/{missed.id}/moderate", {"action": "spam"}, as_=moderator)
    assert len(akismet.requests_to(SUBMIT_SPAM)) == 1
    akismet.set_mode("down")
    api.post(f"/api/v1/comments/{caught.id}/moderate", {"action": "ham"}, as_=moderator)
    session.expire_all()
    owed = session.scalars(select(AkismetSubmission).order_by(AkismetSubmission.id)).all()
    assert [(s.kind, s.sent_at is not None, s.attempts) for s in owed] == [
        ("spam", True, 1),
        ("ham", False, 1),
    ]
    akismet.set_mode("normal")
    result = runner.invoke(args=["comments", "recheck"])
    assert result.exit_code == 0 and "1 sent" in result.output, result.output
    assert len(akismet.requests_to(SUBMIT_HAM)) == 1
    session.expire_all()
    assert all(s.sent_at is not None for s in session.scalars(select(AkismetSubmission)))


# --- the queue pages ----------------------------------------------------------------------------------


def test_the_queue_has_tabs_reasons_scores_search_and_actions(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    post = make_post()
    phone = submit(
        app, session, post, author_email="p@example.net", body="Call me on (507) 284-2511 about sleep."
    )
    first = submit(app, session, post, author_email="f@example.net", body="Thanks, sleep tips noted.")
    log_in(client, moderator.email)
    soup = parse(client.get("/staff/comments/"))
    tabs = soup.select_one("nav.mod-tabs")
    assert "Held (2)" in tabs.get_text(" ", strip=True)
    reasons = {a.get_text(" ", strip=True) for a in soup.select("nav.reason-tabs a")}
    assert "Privacy: phone number (1)" in reasons and "First comment (2)" in reasons
    item = soup.select_one(f"#mod-comment-{phone.id}")
    assert {li["data-reason"] for li in item.select(".reason")} == {"privacy:phone", "first_comment"}
    assert "Relevance to the post" in item.get_text()
    assert {b["value"] for b in item.select("button[name=action]")} == {
        "approve",
        "spam",
        "off_topic",
        "delete",
        "ham",
    }
    assert item.select_one("button[value=approve]")["aria-keyshortcuts"] == "a"
    assert item.select_one(f"label[for=reason-{phone.id}]") is not None
    # Oldest first in the held queue.
    assert [a["data-comment-id"] for a in soup.select(".mod-item")] == [str(phone.id), str(first.id)]
    filtered = parse(client.get("/staff/comments/?status=held&reason=privacy:phone"))
    assert [a["data-comment-id"] for a in filtered.select(".mod-item")] == [str(phone.id)]
    found = parse(client.get("/staff/comments/?status=held&q=TIPS"))
    assert [a["data-comment-id"] for a in found.select(".mod-item")] == [str(first.id)]
    assert client.get("/staff/comments/?status=bogus").status_code == 422
    assert parse(client.get("/staff/comments/?status=held&q=%25")).select(".mod-item") == []


def test_the_queue_search_finds_text_with_direction_marks_as_stored(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    """A comment may carry right-to-left overrides (bodies keep them); a moderator who pastes that text
    into the search gets the comment, not an error page about "q"."""
    post = make_post()
    tricky = submit(
        app, session, post, author_email="t@example.net", body="Great post \u202egnp.niw\u202c here"
    )
    submit(app, session, post, author_email="o@example.net", body="Thanks, sleep tips noted.")
    log_in(client, moderator.email)
    for q in ("\u202egnp.niw\u202c", "\u200fgnp", "tips\u200e"):
        response = client.get("/staff/comments/", query_string={"status": "held", "q": q})
        assert response.status_code == 200, q
    found = parse(client.get("/staff/comments/", query_string={"status": "held", "q": "\u202egnp.niw"}))
    assert [a["data-comment-id"] for a in found.select(".mod-item")] == [str(tricky.id)]


def test_a_decision_from_a_stale_page_does_not_overturn_one_made_since(
    client: Any, session: Session, moderator: User, make_user: Callable[..., User], held: Comment
) -> None:
    """Two tabs (or two moderators) had the queue open: one approves; the other's spam, off-topic or
    bulk click on what they saw as held is refused in words, and the approval stands."""
    log_in(client, moderator.email)
    soup = parse(client.get("/staff/comments/"))
    form = soup.select_one(f"#mod-comment-{held.id} form.mod-actions")
    data = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    assert data["seen"] == "held"
    bulk = {i["name"]: i.get("value", "") for i in soup.select("input[type=hidden][form=bulk-form]")}
    bulk["csrf_token"] = soup.select_one("#bulk-form input[name=csrf_token]")["value"]
    assert bulk["seen"] == f"{held.id}:held"
    other = make_user("moderator", name="Other Moderator")
    moderate(session, other, held, "approve")
    session.commit()

    stale_off_topic = client.post(form["action"], data={**data, "action": "off_topic"})
    assert stale_off_topic.status_code == 303
    notice = text_of(parse(client.get(stale_off_topic.headers["Location"])), ".flashes")
    assert f"Comment {held.id} is published now, not held" in notice
    to_confirm = client.post(form["action"], data={**data, "action": "spam"})
    page = parse(client.get(to_confirm.headers["Location"]))
    assert "decided on since your page was loaded" in text_of(page, "#confirm-notice")
    assert page.select_one("#confirm-form") is None
    confirmed = client.post(form["action"], data={**data, "action": "spam", "confirm": "yes"})
    assert confirmed.status_code == 303
    in_bulk = client.post(
        "/staff/comments/bulk", data={**bulk, "comment_ids": str(held.id), "action": "off_topic"}
    )
    assert in_bulk.status_code == 303
    assert "Removed as off-topic: 0 comments" in text_of(
        parse(client.get(in_bulk.headers["Location"])), ".flashes"
    )
    for seen in ("bogus", "x" * 5000):
        assert (
            client.post(form["action"], data={**data, "action": "off_topic", "seen": seen}).status_code == 422
        )
    session.expire_all()
    assert session.get(Comment, held.id).status == "published"
    assert [d.action for d in queries.decisions_for(session, held.id)][-1] == "approve"
    # Without ``seen`` (the JSON API, a script): deciding on what the comment is now, as before.
    assert client.post(form["action"], data={**data, "action": "off_topic", "seen": ""}).status_code == 303
    session.expire_all()
    assert session.get(Comment, held.id).status == "deleted"


def test_a_double_click_on_a_staff_reply_publishes_it_once(
    app: Flask,
    session: Session,
    moderator: User,
    make_user: Callable[..., User],
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
) -> None:
    """Staff skip the pipeline, so they skipped its duplicate check too: two clicks on "Post reply", from
    the moderation desk or the post page, at once or one after the other, published two replies."""
    blogger = make_user("author", name="Dr Ada Okafor")
    post = make_post("published", author=blogger)
    question = publish_reader(post, email="bo@example.net", body="Is seven hours a minimum?")
    desk, page = app.test_client(), app.test_client()
    log_in(desk, moderator.email)
    log_in(page, blogger.email)
    desk_token = parse(desk.get(f"/staff/comments/{question.id}")).select_one("input[name=csrf_token]")[
        "value"
    ]
    page_token = parse(page.get(f"/posts/{post.slug}")).select_one("#comment-form input[name=csrf_token]")[
        "value"
    ]
    answers: list[Any] = []

    def twice(client: Any, url: str, data: dict[str, str]) -> None:
        threads = [threading.Thread(target=lambda: answers.append(client.post(url, data=data))) for _ in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        answers.append(client.post(url, data=data))

    twice(desk, f"/staff/comments/{question.id}/reply", {"csrf_token": desk_token, "body": "At least, yes."})
    twice(
        page,
        f"/posts/{post.slug}/comments",
        {"csrf_token": page_token, "body": "Some need nine.", "parent_id": str(question.id)},
    )
    assert [a.status_code for a in answers] == [303] * 6
    assert len({a.headers["Location"] for a in answers[:3]}) == 1
    assert len({a.headers["Location"] for a in answers[3:]}) == 1
    session.expire_all()
    staff = session.scalars(select(Comment).where(Comment.staff_user_id.is_not(None))).all()
    assert sorted((c.staff_user_id, c.body) for c in staff) == sorted(
        [(blogger.id, "Some need nine."), (moderator.id, "At least, yes.")]
    )
    # The same words again later, to another comment, are a new reply.
    other = publish_reader(post, email="cy@example.net", body="And for teenagers?")
    desk.post(f"/staff/comments/{other.id}/reply", data={"csrf_token": desk_token, "body": "At least, yes."})
    session.expire_all()
    assert len(session.scalars(select(Comment).where(Comment.staff_user_id == moderator.id)).all()) == 2


def test_a_staff_comment_offers_only_the_actions_that_apply_to_staff(
    client: Any, session: Session, moderator: User, held: Comment
) -> None:
    """Staff comments are deleted or restored, never judged as spam or off-topic: the queue and the
    comment page offered those buttons anyway, and each click ended on a 403 page."""
    log_in(client, moderator.email)
    token = parse(client.get(f"/staff/comments/{held.id}")).select_one("input[name=csrf_token]")["value"]
    moderate(session, moderator, held, "approve")
    session.commit()
    client.post(f"/staff/comments/{held.id}/reply", data={"csrf_token": token, "body": "Naps are fine."})
    reply = session.scalars(select(Comment).where(Comment.staff_user_id == moderator.id)).one()
    for url in ("/staff/comments/?status=published", f"/staff/comments/{reply.id}"):
        soup = parse(client.get(url))
        card = soup.select_one(f"#mod-comment-{reply.id}") if "status" in url else soup
        assert {b["value"] for b in card.select("form.mod-actions button[name=action]")} == {"delete"}, url
    confirm = parse(client.get(f"/staff/comments/{reply.id}/confirm", query_string={"action": "spam"}))
    assert confirm.select_one("#confirm-form") is None
    assert "cannot be marked that way" in text_of(confirm, "#confirm-notice")
    # Deleted, it can be restored.
    form = parse(client.get(f"/staff/comments/{reply.id}")).select_one("form.mod-actions")
    data = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    client.post(form["action"], data={**data, "action": "delete", "confirm": "yes"})
    restore = parse(client.get(f"/staff/comments/{reply.id}")).select_one("form.mod-actions")
    assert {b["value"] for b in restore.select("button[name=action]")} == {"approve"}


def test_an_action_from_the_queue_page_with_a_reason(
    client: Any, session: Session, moderator: User, held: Comment
) -> None:
    log_in(client, moderator.email)
    soup = parse(client.get("/staff/comments/"))
    form = soup.select_one(f"#mod-comment-{held.id} form.mod-actions")
    data = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    response = client.post(
        form["action"], data={**data, "action": "off_topic", "reason": "Not about this post."}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/staff/comments/"
    session.expire_all()
    assert session.get(Comment, held.id).status == "deleted"
    assert queries.decisions_for(session, held.id)[-1].reason == "Not about this post."
    # A hostile "next" never leaves the site.
    other = client.post(form["action"], data={**data, "action": "approve", "next": "https://evil.example/"})
    assert other.headers["Location"] == "/staff/comments/"


@pytest.mark.parametrize(
    "bad_next",
    [
        "/staff/comments/\r\nSet-Cookie: x=1",
        "/staff/comments/\\evil.example",
        "/staff/comments/\t/evil.example",
        "/staff/comments/\x00",
        "/staff/comments/" + "a" * 5000,
        "/staff/comments/\u202e",
    ],
)
def test_a_malformed_next_after_a_decision_falls_back_to_the_queue(
    client: Any, session: Session, moderator: User, held: Comment, bad_next: str
) -> None:
    log_in(client, moderator.email)
    soup = parse(client.get("/staff/comments/"))
    form = soup.select_one(f"#mod-comment-{held.id} form.mod-actions")
    data = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    response = client.post(form["action"], data={**data, "action": "approve", "next": bad_next})
    assert response.status_code == 303 and response.headers["Location"] == "/staff/comments/"
    session.expire_all()
    assert session.get(Comment, held.id).status == "published"


def test_bulk_actions_apply_to_the_selected_and_report_the_rest(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    post = make_post()
    a = submit(app, session, post, author_email="a@example.net", body="Thanks, useful sleep advice.")
    b = submit(app, session, post, author_email="b@example.net", body="Thanks, good sleep tips.")
    log_in(client, moderator.email)
    soup = parse(client.get("/staff/comments/"))
    bulk = soup.select_one("#bulk-form")
    assert {box["form"] for box in soup.select("input[name=comment_ids]")} == {"bulk-form"}
    token = bulk.select_one("input[name=csrf_token]")["value"]
    response = client.post(
        bulk["action"],
        data={"csrf_token": token, "action": "approve", "comment_ids": [str(a.id), str(b.id)]},
        follow_redirects=True,
    )
    assert "Approved: 2 comments." in text_of(parse(response), "[role=status]")
    again = client.post(
        bulk["action"],
        data={"csrf_token": token, "action": "approve", "comment_ids": [str(a.id)]},
        follow_redirects=True,
    )
    assert "Not changed" in text_of(parse(again), "[role=status]")
    session.expire_all()
    assert {session.get(Comment, a.id).status, session.get(Comment, b.id).status} == {"published"}


def test_the_comment_page_shows_the_thread_the_post_and_the_log(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    moderator: User,
    app: Flask,
    publish_reader: Callable[..., Comment],
) -> None:
    post = make_post()
    parent = publish_reader(post, body="Does caffeine affect sleep?")
    reply = submit(
        app, session, post, parent_id=parent.id, author_email="z@example.net", body="Yes, it does."
    )
    log_in(client, moderator.email)
    soup = parse(client.get(f"/staff/comments/{reply.id}"))
    assert soup.select_one(f".thread-ancestor #comment-body-{parent.id}") is not None
    assert soup.select_one(f"#mod-comment-{reply.id} #comment-body-{reply.id}") is not None
    assert "seven hours" in soup.select_one(".post-excerpt").get_text()
    assert [tr["data-action"] for tr in soup.select("#decisions tbody tr")] == ["submit"]
    assert client.get("/staff/comments/999999").status_code == 404


# --- replies nobody forgets ---------------------------------------------------------------------------


def test_the_needs_reply_queue_lists_questions_and_contact_messages_oldest_first_with_age(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    moderator: User,
    publish_reader: Callable[..., Comment],
) -> None:
    post = make_post()
    start = utc_now()
    try:
        freeze(start - timedelta(days=3))
        old_question = publish_reader(post, body="Should I stop coffee after noon for better sleep?")
        freeze(start - timedelta(days=2))
        publish_reader(post, email="t@example.net", name="Tess", body="Thanks, great sleep article.")
        freeze(start - timedelta(hours=5))
        message = contact.submit(
            session,
            contact.ContactInput("Cy", "cy@example.net", "Hours", "Are you open Sundays?"),
            min_seconds=0,
        )
        session.commit()
        freeze(start - timedelta(hours=1))
        new_question = publish_reader(
            post, email="n@example.net", name="Nia", body="Can you recommend a sleep app?"
        )
        freeze(start - timedelta(minutes=30))
        held_question = submit(app, session, post, author_email="h@example.net", body="What about naps?")
    finally:
        freeze(None)
    assert held_question.status == "held"
    log_in(client, moderator.email)
    soup = parse(client.get("/staff/comments/needs-reply"))
    rows = [(tr["data-kind"], int(tr["data-id"])) for tr in soup.select("#needs-reply tbody tr")]
    assert rows == [("comment", old_question.id), ("contact", message.id), ("comment", new_question.id)]
    assert text_of(soup, "#needs-reply tbody tr:first-child .age") == "3 days"
    # A staff reply answers a question; "no reply needed" takes one off; a contact reply answers a message.
    token = soup.select_one("input[name=csrf_token]") or parse(
        client.get(f"/staff/comments/{old_question.id}")
    ).select_one("input[name=csrf_token]")
    csrf = token["value"]
    reply = client.post(
        f"/staff/comments/{old_question.id}/reply",
        data={"csrf_token": csrf, "body": "Yes: caffeine lasts hours."},
    )
    assert reply.status_code == 303
    client.post(f"/staff/comments/{new_question.id}/no-reply-needed", data={"csrf_token": csrf})
    client.post(f"/staff/contact/{message.id}/reply", data={"csrf_token": csrf, "body": "Yes, 9 to 5."})
    assert parse(client.get("/staff/comments/needs-reply")).select("#needs-reply tbody tr") == []
    session.expire_all()
    assert session.get(ContactMessage, message.id).status == "answered"
    dismissed = queries.decisions_for(session, new_question.id)[-1]
    assert (dismissed.action, dismissed.moderator_id) == ("no_reply_needed", moderator.id)
    staff_reply = session.scalars(select(Comment).where(Comment.parent_id == old_question.id)).one()
    assert staff_reply.staff_user_id == moderator.id


def test_contact_messages_are_listed_and_can_be_closed_or_reopened(
    client: Any, session: Session, moderator: User
) -> None:
    message = contact.submit(
        session, contact.ContactInput("Cy", "cy@example.net", "", "Thanks!"), min_seconds=0
    )
    session.commit()
    log_in(client, moderator.email)
    page = parse(client.get(f"/staff/contact/{message.id}"))
    assert "Thanks!" in text_of(page, ".contact-body")
    csrf = page.select_one("input[name=csrf_token]")["value"]
    client.post(f"/staff/contact/{message.id}/status", data={"csrf_token": csrf, "status": "closed"})
    session.expire_all()
    assert session.get(ContactMessage, message.id).status == "closed"
    assert parse(client.get("/staff/contact/?status=closed")).select_one("#contact-messages") is not None
    assert (
        client.post(
            f"/staff/contact/{message.id}/status", data={"csrf_token": csrf, "status": "closed"}
        ).status_code
        == 409
    )
    assert client.get("/staff/contact/?status=nope").status_code == 422
    empty = client.post(f"/staff/contact/{message.id}/reply", data={"csrf_token": csrf, "body": ""})
    assert empty.status_code == 422


def test_decision_log_rows_name_the_system_for_automatic_ones(
    client: Any, moderator: User, held: Comment
) -> None:
    log_in(client, moderator.email)
    row = parse(client.get("/staff/comments/log")).select_one("#moderation-log tbody tr[data-action=submit]")
    assert "Candor (automatic)" in row.get_text() and "First comment" in row.get_text()


def test_moderation_of_staff_comments_is_limited(
    api: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    moderator: User,
) -> None:
    post = make_post()
    doctor = make_user("author", name="Dr Who")
    created = api.post(
        f"/api/v1/posts/{post.id}/comments", {"body": "Staff note on sleep."}, as_=doctor
    ).get_json()
    assert (
        api.post(f"/api/v1/comments/{created['id']}/moderate", {"action": "spam"}, as_=moderator).status_code
        == 403
    )
    assert (
        api.post(
            f"/api/v1/comments/{created['id']}/moderate", {"action": "delete"}, as_=moderator
        ).status_code
        == 200
    )


def test_the_api_queue_pages_and_filters_by_reason(
    api: Any, app: Flask, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    post = make_post()
    ids = [
        submit(app, session, post, author_email=f"r{n}@example.net", body=f"Sleep tip {n}, thanks.").id
        for n in range(3)
    ]
    page = api.get("/api/v1/moderation/comments?status=held&per_page=2", as_=moderator).get_json()
    assert [i["id"] for i in page["items"]] == ids[:2] and page["next"]
    public = api.client.application.config["PUBLIC_URL"]
    assert page["next"].startswith(f"{public}/api/v1/moderation/comments?")
    rest = api.get(page["next"].removeprefix(public), as_=moderator).get_json()
    assert [i["id"] for i in rest["items"]] == ids[2:] and rest["next"] is None
    none = api.get("/api/v1/moderation/comments?status=held&reason=off_topic", as_=moderator).get_json()
    assert none["items"] == []
    item = page["items"][0]
    assert {"checks", "relevance", "author_ip", "body", "html"} <= item.keys()
    assert isinstance(session.get(ModerationDecision, 1), ModerationDecision)


def test_a_writer_replacing_a_comment_a_moderator_just_approved_leaves_the_approval_standing(
    app: Any, session: Any, api: Any, make_post: Any, moderator: Any
) -> None:
    """The writer's page still showed "held"; the moderator approved in between: the approval stands."""
    from app.comments import services as comment_services
    from app.comments.views import pipeline_settings
    from app.web.outside import akismet_checker
    from tests.support.comments import READER, submit

    post = make_post()
    held = submit(app, session, post)
    assert held.status == "held"
    approved = api.post(f"/api/v1/comments/{held.id}/moderate", {"action": "approve"}, as_=moderator)
    assert approved.status_code == 200
    data = comment_services.CommentInput(
        author_name=READER["author_name"],
        author_email=READER["author_email"],
        body="A corrected version of my comment.",
        parent_id=None,
        notify=False,
        ip="203.0.113.9",
        user_agent="test",
        referrer="",
        permalink="",
        honeypot="",
        form_age=None,
    )
    with app.test_request_context("/"):
        comment_services.submit_comment(
            session,
            post,
            data,
            actor=None,
            checker=akismet_checker(),
            settings=pipeline_settings(),
            replaces=held,
        )  # a stale "held"
    session.commit()
    session.expire_all()
    assert session.get(Comment, held.id).status == "published"
    actions = [
        d.action
        for d in session.scalars(select(ModerationDecision).where(ModerationDecision.comment_id == held.id))
    ]
    assert "withdraw" not in actions


def test_readers_waiting_past_the_cap_are_counted_no_further_and_read_more_than_it(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    moderator: User,
    publish_reader: Callable[..., Comment],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waiting comments are counted up to WAITING_CAP (a bounded count at any backlog); past it the desk
    says "more than" the cap (plus the open contact messages, counted whole)."""
    from app.moderation import queries as moderation_queries

    post = make_post()
    for n in range(3):
        publish_reader(post, email=f"q{n}@example.net", name=f"Q{n}", body=f"Question {n}: is a nap sleep?")
    contact.submit(session, contact.ContactInput("Cy", "cy@example.net", "Hours", "Open?"), min_seconds=0)
    session.commit()
    assert moderation_queries.waiting_count(session, cap=None) == 3
    assert moderation_queries.waiting_count(session, cap=1) == 2  # counted to one past the cap, no further
    log_in(client, moderator.email)
    for cap, says in ((3, "4 readers waiting for a staff reply"), (2, "more than 3 readers waiting")):
        monkeypatch.setattr(moderation_queries, "WAITING_CAP", cap)
        assert str(moderation_queries.waiting_total(session)) == says.split(" readers")[0]
        note = parse(client.get("/staff/comments/")).select_one(".waiting-note")
        assert note is not None and says in " ".join(note.get_text().split())
