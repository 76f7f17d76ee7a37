"""Every rate-limited HTML form answers its 429 with the form again: what the person typed is kept (never
a password), the answer says when to try again, and nothing is stored. The plain 429 page used to lose
the reader's message (issue 15; the comment form's own test is in tests/test_comments_limits.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.contact.models import ContactMessage
from app.corrections.models import ErrorReport
from app.mail.models import OutboxMessage
from app.posts.models import Post
from tests.support.web import PASSWORD, form_csrf_token, log_in, parse, text_of


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


def _retry_said(page: Any, selector: str) -> None:
    said = text_of(page, selector)
    assert "Too many attempts" in said and "try again in" in said, said


def test_the_contact_form_over_the_limit_comes_back_with_the_message(
    app: Any, client: Any, session: Session
) -> None:
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    letter = {
        "name": "Ada Reader",
        "email": "ada@example.net",
        "subject": "Visiting <hours>",
        "body": "When can I visit the sleep lab?\nAnd may I bring my daughter?",
    }
    for n in range(2):
        assert client.post("/contact", data={**letter, "subject": f"Try {n}"}).status_code == 201
    refused = client.post("/contact", data=letter)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    page = parse(refused)
    assert page.select_one("#contact-body").get_text() == letter["body"]
    for name in ("name", "email", "subject"):
        assert page.select_one(f"#contact-{name}")["value"] == letter[name]
    _retry_said(page, ".error-summary")
    assert "(2 per minute)" in text_of(page, ".error-summary")  # not the library's "2 per 1 minute"
    assert "Nothing you wrote is lost" in text_of(page, ".error-summary")
    assert "Comments and contact messages sent from one connection count together." in text_of(
        page, ".error-summary"
    )
    assert page.select_one("form[action='/contact'] input[name=form_token]")["value"]
    assert session.scalar(select(func.count(ContactMessage.id))) == 2
    assert client.get("/contact").status_code == 200  # reading the form is never limited


def test_the_error_report_form_over_the_limit_comes_back_with_the_report(
    client: Any, session: Session, make_post: Callable[..., Post]
) -> None:
    post = make_post("published")
    report = {
        "what": "The dose should be 5 mg, not 50.",
        "source": "https://example.org/label",
        "email": "r@example.com",
    }
    for n in range(5):
        sent = client.post(f"/posts/{post.slug}/report", data={**report, "what": f"Typo {n}"})
        assert sent.status_code == 201
    refused = client.post(f"/posts/{post.slug}/report", data=report)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    page = parse(refused)
    assert page.select_one("#report-what").get_text() == report["what"]
    assert page.select_one("#report-source")["value"] == report["source"]
    assert page.select_one("#report-email")["value"] == report["email"]
    _retry_said(page, "#report-what-error")
    assert page.select_one("#report-error").has_attr("open")
    assert session.scalar(select(func.count(ErrorReport.id))) == 5
    assert client.post("/posts/no-such-post/report", data=report).status_code in (404, 429)


def test_sign_in_over_the_limit_keeps_the_address_but_never_the_password(
    client: Any, make_user: Callable[..., Any]
) -> None:
    user = make_user("author")
    for _ in range(5):
        token = form_csrf_token(client, "/login")
        failed = client.post(
            "/login", data={"email": user.email, "password": "wrong guess!", "csrf_token": token}
        )
        assert failed.status_code == 422
    token = form_csrf_token(client, "/login")
    refused = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 429
    page = parse(refused)
    assert page.select_one("input[name=email]")["value"] == user.email
    password = page.select_one("input[name=password]")
    assert password["type"] == "password" and not password.get("value")
    assert PASSWORD not in refused.get_data(as_text=True)
    _retry_said(page, "#password-error")
    assert "(5 per 15 minutes)" in text_of(page, "#password-error")  # not the library's "5 per 15 minute"
    assert page.select_one("input[name=csrf_token]")["value"]


def test_forgot_password_over_the_limit_keeps_the_address(client: Any, make_user: Callable[..., Any]) -> None:
    user = make_user("author")
    for _ in range(3):
        token = form_csrf_token(client, "/forgot-password")
        assert (
            client.post("/forgot-password", data={"csrf_token": token, "email": user.email}).status_code
            == 200
        )
    token = form_csrf_token(client, "/forgot-password")
    refused = client.post("/forgot-password", data={"csrf_token": token, "email": user.email})
    assert refused.status_code == 429
    page = parse(refused)
    assert page.select_one("input[name=email]")["value"] == user.email
    assert page.select_one("#reset-sent") is None
    _retry_said(page, "form .error")


def test_changing_your_password_over_the_limit_shows_the_form_again_empty(
    client: Any, make_user: Callable[..., Any]
) -> None:
    user = make_user("author")
    log_in(client, user.email)
    guess = "not the one at all"
    answers = []
    for _ in range(11):
        token = form_csrf_token(client, "/staff/password")
        answers.append(
            client.post(
                "/staff/password",
                data={"csrf_token": token, "current_password": guess, "password": "new words here now"},
            )
        )
    assert [a.status_code for a in answers] == [422] * 10 + [429]
    page = parse(answers[-1])
    assert page.select_one("form[action='/staff/password']") is not None
    for field in page.select("input[type=password]"):
        assert not field.get("value")
    assert guess not in answers[-1].get_data(as_text=True)
    _retry_said(page, "form .error")


def test_a_reset_link_over_the_limit_shows_its_form_again_without_the_password(
    client: Any, session: Session, make_user: Callable[..., Any]
) -> None:
    user = make_user("author")
    token = form_csrf_token(client, "/forgot-password")
    assert client.post("/forgot-password", data={"csrf_token": token, "email": user.email}).status_code == 200
    session.expire_all()
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == user.email)).one()
    link = "/reset-password/" + re.search(r"/reset-password/(\S+)", mail.body).group(1)
    weak = "password123!"
    answers = []
    for _ in range(11):
        token = form_csrf_token(client, link)
        answers.append(client.post(link, data={"csrf_token": token, "password": weak}))
    assert [a.status_code for a in answers] == [422] * 10 + [429]
    page = parse(answers[-1])
    assert not page.select_one("input[name=password]").get("value")
    assert weak not in answers[-1].get_data(as_text=True)
    assert page.select_one("input[name=username]")["value"] == user.email
    _retry_said(page, "form .error")
