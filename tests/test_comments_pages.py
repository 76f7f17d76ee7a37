"""Comments as readers and staff meet them on the site: the thread and form under a post, posting through
the form, the writer's status page, replies, staff badges, and the contact form. HTML is parsed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments import services
from app.comments.models import Comment, ModerationDecision
from app.comments.queries import REPLIES_PER_THREAD
from app.contact.models import ContactMessage
from app.posts.models import Post
from tests.support.comments import READER, submit
from tests.support.web import form_csrf_token, log_in, parse, text_of


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """This module's app talks to the local Akismet (tests/support/comments.py)."""
    return comments_config


FORM = {"author_name": READER["author_name"], "author_email": READER["author_email"], "body": READER["body"]}


def _page(client: Any, post: Post) -> Any:
    return client.get(f"/posts/{post.slug}")


def test_the_post_page_shows_published_comments_threaded_with_their_text_in_comment_body(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
    app: Flask,
) -> None:
    post = make_post()
    first = publish_reader(
        post, body="Thanks, *seven hours* is my target.\n\nSee https://example.org/sleep-study"
    )
    reply = publish_reader(
        post,
        email="bo@example.net",
        name="Bo Reader",
        parent_id=first.id,
        body="Same here, thanks for the sleep tips.",
    )
    held = submit(
        app, session, post, author_email="new@example.net", body="A brand new reader's sleep question?"
    )
    assert held.status == "held"
    soup = parse(_page(client, post))
    body = soup.select_one(f"#comment-body-{first.id}")
    assert body is not None and body.select_one("em").get_text() == "seven hours"
    assert body.select_one("a")["rel"] == ["nofollow", "ugc", "noopener"]
    # The reply sits inside its parent's list item.
    assert soup.select_one(f"#comment-{first.id} #comment-{reply.id} #comment-body-{reply.id}") is not None
    assert soup.select_one(f"#comment-body-{held.id}") is None
    assert text_of(soup, "#comments-heading") == "Comments (2)"
    assert soup.select_one(f"#comment-{first.id} a[href$='/comments/{first.id}/reply']") is not None


def test_the_comment_form_on_a_cached_page_carries_nothing_per_request(
    client: Any, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    first, second = _page(client, post), _page(client, post)
    assert second.headers["X-Candor-Cache"] == "hit"
    assert first.get_data() == second.get_data()
    form = parse(second).select_one("#comment-form")
    assert form is not None and form["method"] == "post"
    names = {field.get("name") for field in form.select("input, textarea")}
    assert {"author_name", "author_email", "body", "notify", "website", "form_token"} <= names
    assert "csrf_token" not in names
    assert form.select_one("input[name=form_token]")["value"] == ""
    assert form["data-token-url"] == "/api/v1/comment-form-token"
    assert parse(second).select_one("script[src$='comments.js']") is not None
    for field_id in ("comment-name", "comment-email", "comment-body", "comment-notify"):
        assert form.select_one(f"label[for={field_id}]") is not None


def test_the_form_token_endpoint_is_not_cacheable_and_its_token_times_the_form(
    app: Flask,
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    publish_reader: Callable[..., Comment],
) -> None:
    from app.clock import freeze, utc_now

    response = client.get("/api/v1/comment-form-token")
    assert response.headers["Cache-Control"] == "no-store"
    post = make_post()
    publish_reader(post)
    app.config["COMMENT_MIN_SECONDS"] = 3.0
    token = client.get("/api/v1/comment-form-token").get_json()["token"]
    fast = client.post(f"/posts/{post.slug}/comments", data={**FORM, "form_token": token})
    assert fast.status_code == 303
    assert session.scalars(select(Comment).order_by(Comment.id.desc())).first().reasons == ["too_fast"]
    later = utc_now()
    try:
        from datetime import timedelta

        freeze(later + timedelta(seconds=20))
        ok = client.post(f"/posts/{post.slug}/comments", data={**FORM, "form_token": token})
    finally:
        freeze(None)
    assert ok.status_code == 303 and "#comment-" in ok.headers["Location"]


def test_a_published_comment_changes_the_cached_page(
    client: Any, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post()
    publish_reader(post)
    _page(client, post)
    assert _page(client, post).headers["X-Candor-Cache"] == "hit"
    response = client.post(
        f"/posts/{post.slug}/comments", data={**FORM, "body": "Thanks, the sleep schedule tips help."}
    )
    assert response.status_code == 303
    fragment = urlsplit(response.headers["Location"]).fragment
    page = _page(client, post)
    assert page.headers["X-Candor-Cache"] == "miss"
    assert parse(page).select_one(f"#{fragment}") is not None


def test_a_held_comment_tells_its_writer_why_when_they_can_fix_it_and_takes_a_corrected_version(
    client: Any, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post()
    publish_reader(post)
    body = "I sleep badly, call me on (507) 284-2511 to discuss sleep."
    response = client.post(f"/posts/{post.slug}/comments", data={**FORM, "body": body})
    assert response.status_code == 303
    status_page = client.get(response.headers["Location"])
    soup = parse(status_page)
    assert "awaits review" in text_of(soup, "[role=status]")
    assert "phone number" in text_of(soup, ".fixable")
    fix = soup.select_one("#fix-form")
    assert fix.select_one("textarea").get_text() == body
    replaces = fix.select_one("input[name=replaces]")["value"]
    token = fix.select_one("input[name=form_token]")["value"]
    assert token  # the status page is not cached: its form carries a time token
    again = client.post(
        f"/posts/{post.slug}/comments",
        data={
            **FORM,
            "body": "I sleep badly; is a regular bedtime the best first step?",
            "replaces": replaces,
            "form_token": token,
        },
    )
    assert again.status_code == 303 and "#comment-" in again.headers["Location"]
    session.expire_all()
    old = session.scalars(select(Comment).where(Comment.body == body)).one()
    assert old.status == "deleted"
    withdraw = session.scalars(
        select(ModerationDecision).where(
            ModerationDecision.comment_id == old.id, ModerationDecision.action == "withdraw"
        )
    ).one()
    assert withdraw.moderator_id is None and "replaced by its writer" in withdraw.reason
    # The old status page (the browser's back button) says the writer replaced it, not that a moderator
    # removed it, and leads to the corrected version.
    again_shown = client.get(response.headers["Location"])
    assert again_shown.headers["Cache-Control"] == "no-store"  # the back button asks again
    replaced = parse(again_shown)
    said = text_of(replaced, "[role=status]")
    assert "moderator" not in said and "You replaced this comment with a corrected version" in said
    new = session.scalars(select(Comment).where(Comment.body.startswith("I sleep badly;"))).one()
    link = replaced.select_one("[role=status] a")
    assert link.get_text(strip=True) == "See the corrected version"
    corrected = parse(client.get(link["href"]))
    assert "Published." in text_of(corrected, "[role=status]")
    assert corrected.select_one(f"[role=status] a[href$='#comment-{new.id}']") is not None


def test_a_held_comment_for_a_moderators_reason_only_says_it_awaits_review(
    client: Any, make_post: Callable[..., Post]
) -> None:
    response = client.post(
        f"/posts/{make_post().slug}/comments", data=FORM
    )  # first comment: a moderator's call
    soup = parse(client.get(response.headers["Location"]))
    assert "awaits review" in text_of(soup, "[role=status]")
    assert soup.select_one(".fixable") is None
    assert "first" not in soup.get_text().lower()


def test_status_links_are_signed_for_their_purpose(client: Any, app: Flask) -> None:
    from app.comments import tokens

    assert client.get("/comments/status/not-a-token").status_code == 404
    other = tokens.sign(app.config["SECRET_KEY"], tokens.Purpose.UNSUBSCRIBE, s=1, e="a@example.net", c=1)
    assert client.get(f"/comments/status/{other}").status_code == 404


def test_form_errors_are_shown_with_the_text_kept(
    client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    post = make_post()
    response = client.post(
        f"/posts/{post.slug}/comments",
        data={"author_name": "", "author_email": "not-an-address", "body": "My text stays."},
    )
    assert response.status_code == 422
    soup = parse(response)
    summary = text_of(soup, ".error-summary")
    assert "Name is required" in summary and "e-mail address" in summary
    assert soup.select_one("#reply-body").get_text() == "My text stays."
    assert soup.select_one("#reply-email")["aria-invalid"] == "true"
    assert session.scalars(select(Comment)).all() == []


def test_form_errors_name_each_field_by_its_label_not_its_json_key(
    client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """A reader never reads "author_name" or "body": the messages use the labels they see on the form."""
    post = make_post()
    response = client.post(
        f"/posts/{post.slug}/comments",
        data={"author_name": "Malik\u200f Reyes", "author_email": "a@example.net", "body": "x" * 6000},
    )
    assert response.status_code == 422
    soup = parse(response)
    assert (
        text_of(soup, "#reply-author_name-error") == "Error: Name contains bidirectional control characters."
    )
    assert (
        text_of(soup, "#reply-body-error")
        == "Error: Comment is too long: 6,000 characters, the limit is 5,000."
    )
    summary = [li.get_text(" ", strip=True) for li in soup.select(".error-summary li")]
    assert summary and not any(key in line for line in summary for key in ("author_", "body"))
    assert session.scalars(select(Comment)).all() == []


def test_the_reply_page_works_without_javascript(
    client: Any, session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    post = make_post()
    parent = publish_reader(post)
    publish_reader(post, email="bo@example.net", name="Bo Reader")
    page = parse(client.get(f"/posts/{post.slug}/comments/{parent.id}/reply"))
    form = page.select_one("#reply-form")
    assert form.select_one("input[name=parent_id]")["value"] == str(parent.id)
    assert form.select_one("input[name=form_token]")["value"]
    assert page.select_one(f"#comment-body-{parent.id}") is not None
    response = client.post(
        form["action"],
        data={
            "author_name": "Bo Reader",
            "author_email": "bo@example.net",
            "body": "Thanks, agreed about sleep.",
            "parent_id": str(parent.id),
            "form_token": form.select_one("input[name=form_token]")["value"],
        },
    )
    assert response.status_code == 303
    session.expire_all()
    reply = session.scalars(select(Comment).order_by(Comment.id.desc())).first()
    assert reply.parent_id == parent.id
    assert client.get(f"/posts/{post.slug}/comments/999999/reply").status_code == 404


def test_staff_comment_only_signed_in_under_their_real_name_with_a_badge_and_role(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
) -> None:
    post = make_post()
    question = publish_reader(post, body="Is seven hours enough for teenagers?")
    doctor = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    log_in(client, doctor.email)
    page = parse(_page(client, post))
    form = page.select_one("#comment-form")
    names = {field.get("name") for field in form.select("input, textarea")}
    assert "author_name" not in names and "csrf_token" in names
    assert "Dr Ada Okafor" in text_of(page, ".staff-writer")
    # Without the CSRF token a signed-in staff member's comment is refused.
    refused = client.post(f"/posts/{post.slug}/comments", data={"body": "Staff reply"})
    assert refused.status_code == 400
    token = form.select_one("input[name=csrf_token]")["value"]
    response = client.post(
        f"/posts/{post.slug}/comments",
        data={
            "body": "Teenagers need more: eight to ten hours.",
            "parent_id": str(question.id),
            "csrf_token": token,
            "author_name": "Somebody Else",
        },
    )
    assert response.status_code == 303
    session.expire_all()
    reply = session.scalars(select(Comment).where(Comment.staff_user_id == doctor.id)).one()
    assert (
        reply.status == "published"
        and reply.author_name == "Dr Ada Okafor"
        and reply.checks[0]["check"] == "staff"
    )
    logged = session.scalars(
        select(ModerationDecision).where(ModerationDecision.comment_id == reply.id)
    ).one()
    assert logged.action == "staff" and logged.moderator_id == doctor.id  # skips the pipeline, not the log
    assert session.get(Comment, question.id).needs_reply is False
    item = parse(client.get(f"/posts/{post.slug}")).select_one(f"#comment-{reply.id}")
    assert "Staff" in text_of(item, ".staff-badge")
    assert text_of(item, ".staff-role") == "Sleep physician, Sleep Medicine"
    assert item.select_one(f"a.comment-author[href='/people/{doctor.id}']").get_text() == "Dr Ada Okafor"


def test_staff_comment_through_the_api_with_a_token(
    api: Any, make_post: Callable[..., Post], make_user: Callable[..., Any], session: Session
) -> None:
    post = make_post()
    nurse = make_user("moderator", name="Ben Lindqvist")
    response = api.post(f"/api/v1/posts/{post.id}/comments", {"body": "Thanks for reading, all."}, as_=nurse)
    assert response.status_code == 201
    comment = session.get(Comment, response.get_json()["id"])
    assert comment.staff_user_id == nurse.id and comment.author_name == "Ben Lindqvist"
    listed = api.get(f"/api/v1/posts/{post.id}/comments").get_json()["items"]
    assert listed[0]["staff"]["name"] == "Ben Lindqvist" and listed[0]["staff"]["roles"] == ["moderator"]


def test_a_retracted_post_shows_its_comments_but_takes_no_more(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
    gate_settings: Any,
) -> None:
    from app.editorial import services as editorial

    post = make_post()
    kept = publish_reader(post)
    editor = make_user("editor")
    editorial.retract(session, editor, post, "The advice was withdrawn.")
    session.commit()
    soup = parse(_page(client, post))
    assert soup.select_one(f"#comment-body-{kept.id}") is not None
    assert soup.select_one("#comment-form") is None
    assert client.post(f"/posts/{post.slug}/comments", data=FORM).status_code == 409


@pytest.mark.parametrize("field", ["author_name", "author_email", "body"])
def test_the_api_requires_each_reader_field(client: Any, make_post: Callable[..., Post], field: str) -> None:
    post = make_post()
    body = {**READER}
    del body[field]
    response = client.post(f"/api/v1/posts/{post.id}/comments", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field


def test_the_api_refuses_a_parent_on_another_post_and_too_long_text(
    client: Any, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> None:
    one, two = make_post(), make_post(title="Another post about sleep")
    parent = publish_reader(one)
    wrong = client.post(f"/api/v1/posts/{two.id}/comments", json={**READER, "parent_id": parent.id})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["field"] == "parent_id"
    long = client.post(f"/api/v1/posts/{one.id}/comments", json={**READER, "body": "x" * 5001})
    assert long.status_code == 422
    draft = client.post("/api/v1/posts/999999/comments", json=READER)
    assert draft.status_code == 404


def test_the_contact_form_stores_the_message_for_the_needs_reply_queue(client: Any, session: Session) -> None:
    page = parse(client.get("/contact"))
    token = page.select_one("input[name=form_token]")["value"]
    assert token and page.select_one("input[name=csrf_token]") is None
    bad = client.post("/contact", data={"name": "Ada", "email": "nope", "body": ""})
    assert bad.status_code == 422
    assert parse(bad).select_one("#contact-email")["aria-invalid"] == "true"
    sent = client.post(
        "/contact",
        data={
            "name": "Ada Reader",
            "email": "Ada@Example.net",
            "subject": "Visiting hours",
            "body": "When can I visit the sleep lab?",
            "form_token": token,
        },
    )
    assert sent.status_code == 201
    message = session.scalars(select(ContactMessage)).one()
    assert (message.email, message.status, message.flags) == ("ada@example.net", "open", [])
    trap = client.post(
        "/contact", data={"name": "Bot", "email": "bot@example.net", "body": "Buy", "website": "x"}
    )
    assert trap.status_code == 201  # answered like any other, kept for a moderator, flagged
    flagged = session.scalars(select(ContactMessage).where(ContactMessage.name == "Bot")).one()
    assert flagged.status == "spam" and flagged.flags == ["honeypot"]


def test_asks_staff_recognises_questions_and_requests() -> None:
    assert services.asks_staff("Is this safe during pregnancy?")
    assert services.asks_staff("Could you explain the dosage for children")
    assert services.asks_staff("Please advise on the dose.")
    assert not services.asks_staff("Thanks, this was helpful.")


def test_the_csrf_of_staff_forms_still_applies_elsewhere(client: Any, make_user: Callable[..., Any]) -> None:
    user = make_user("moderator")
    log_in(client, user.email)
    assert form_csrf_token(client, "/staff/comments/")


def test_a_reply_chain_hundreds_deep_renders_flat_past_six_levels(
    client: Any, api: Any, make_post: Callable[..., Post], make_user: Callable[..., Any]
) -> None:
    """Each reply to the one before: the page must render (no recursion error), nested at most six deep."""
    post = make_post()
    staff = make_user("moderator", name="Malik Reyes")
    parent = None
    for n in range(300):
        body = {"body": f"Reply number {n} in a long chain.", **({"parent_id": parent} if parent else {})}
        made = api.post(f"/api/v1/posts/{post.id}/comments", body, as_=staff)
        assert made.status_code == 201, made.get_json()
        parent = made.get_json()["id"]
    page = _page(client, post)
    assert page.status_code == 200
    tree = parse(page)
    # The post page shows the thread's first replies (bounded), nested at most six deep ...
    assert len(tree.select("div.comment-body[id^=comment-body-]")) == 1 + REPLIES_PER_THREAD
    deepest = max(len(li.find_parents("ol")) for li in tree.select("li.comment"))
    assert deepest <= 7  # the top list and six levels of replies
    # ... and "More replies" links lead through the rest, a bounded page at a time, each exactly once.
    seen = [el["id"] for el in tree.select("div.comment-body[id^=comment-body-]")]
    link = tree.select_one("p.more-comments a:not([rel=prev])")
    while link is not None:
        more = client.get(link["href"])
        assert more.status_code == 200
        more_tree = parse(more)
        bodies = more_tree.select("li.comment div.comment-body[id^=comment-body-]")
        assert 0 < len(bodies) <= 100
        seen += [el["id"] for el in bodies]
        link = more_tree.select_one("p.more-comments a:not([rel=prev])")
    assert len(seen) == len(set(seen)) == 300
