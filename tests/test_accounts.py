"""Staff accounts: Argon2 passwords, sign-in with CSRF and rate limits, the CLI, API tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import ApiToken, User
from tests.support.web import PASSWORD, form_csrf_token, log_in, parse, text_of


def test_passwords_are_stored_as_argon2_hashes(session, make_user):
    user = make_user("author")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_staff_sign_in_and_out(client, make_user):
    user = make_user("editor", name="Erin Shah")
    r = log_in(client, user.email)
    assert r.status_code == 302
    assert text_of(parse(client.get("/login")), ".signed-in") == "Erin Shah"
    token = form_csrf_token(client, "/login")
    client.post("/logout", data={"csrf_token": token})
    assert parse(client.get("/login")).select_one(".signed-in") is None


def test_a_session_cookie_copied_before_sign_out_is_refused_after_it(client, make_user):
    """Signing out ends the session on the server: a copy of the cookie (another tab, a thief) is dead too."""
    user = make_user("editor", name="Erin Shah")
    log_in(client, user.email)
    copied = client.get_cookie("session")
    assert copied is not None
    other = client.application.test_client()
    other.set_cookie("session", copied.value)
    assert other.get("/staff/").status_code == 200  # the copy works while the session lives
    client.post("/logout", data={"csrf_token": form_csrf_token(client, "/login")})
    refused = other.get("/staff/")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert log_in(client, user.email).status_code == 302  # signing in again starts a new session


def test_a_wrong_password_is_refused_with_a_message(client, make_user):
    user = make_user("author")
    r = log_in(client, user.email, "not the password")
    assert r.status_code == 422
    assert "do not match" in text_of(parse(r), ".error")


def test_sign_in_without_a_csrf_token_is_refused(client, make_user):
    user = make_user("author")
    r = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 422 and "form expired" in text_of(parse(r), ".error")
    assert parse(client.get("/")).select_one(".signed-in") is None


def test_sign_out_without_a_csrf_token_does_not_sign_out(client, make_user):
    user = make_user("author")
    log_in(client, user.email)
    client.post("/logout", data={})
    assert parse(client.get("/")).select_one(".signed-in") is not None


def test_sign_in_is_rate_limited_per_ip(client, make_user):
    user = make_user("author")
    statuses = [log_in(client, user.email, "wrong password!").status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429


def test_next_parameter_cannot_redirect_off_site(client, make_user):
    user = make_user("author")
    token = form_csrf_token(client, "/login")
    r = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert r.headers["Location"] == "/"


def test_cli_creates_a_user_reading_the_password_from_stdin(runner, session):
    r = runner.invoke(
        args=[
            "users",
            "create",
            "new@clinic.example",
            "--name",
            "New Person",
            "--role",
            "author",
            "--role",
            "moderator",
        ],
        input="a long enough password\n",
    )
    assert r.exit_code == 0, r.output
    user = session.scalar(select(User).where(User.email == "new@clinic.example"))
    assert {role.value for role in user.roles} == {"author", "moderator"}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--role", "wizard"], "Unknown role"),
        (["--role", "author"], "at least 12"),
    ],
)
def test_cli_user_creation_explains_bad_input(runner, args, message):
    r = runner.invoke(args=["users", "create", "x@clinic.example", "--name", "X", *args], input="short\n")
    assert r.exit_code != 0 and message in r.output


def test_cli_token_is_printed_last_and_stored_hashed(runner, session, make_user, client):
    user = make_user("author")
    r = runner.invoke(args=["tokens", "create", user.email])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1
    created = client.post(
        "/api/v1/posts",
        json={"title": "Via token", "body": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201


def test_cli_demo_seeds_once_and_prints_accounts(runner, session):
    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and "Seeded" in first.output
    assert "already present" in second.output
    emails = [line.split()[0] for line in first.output.splitlines() if "@" in line]
    assert emails and all(e in second.output for e in emails)
    assert session.scalar(select(User).where(User.email == emails[0])) is not None


def test_the_json_api_ignores_the_session_cookie(client, make_post, make_user):
    """A cross-site form post rides on the browser's cookie: the API must not take it as the staff member."""
    post = make_post("draft")
    log_in(client, post.author.email)
    refused = client.post(f"/api/v1/posts/{post.id}/submit", data={})
    assert refused.status_code == 401
    assert client.get(f"/api/v1/posts/{post.id}").status_code == 404  # a draft, and nobody is signed in here
