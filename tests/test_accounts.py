"""Staff accounts: Argon2 passwords, sign-in with CSRF and rate limits, the CLI, API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.accounts import passwords
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


def _attempt(client, email, password="wrong password!", ip="192.0.2.1"):
    token = form_csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_one_ip_spraying_many_accounts_is_throttled(client, make_user):
    users = [make_user("author") for _ in range(11)]
    answers = [_attempt(client, u.email) for u in users]
    assert [a.status_code for a in answers[:10]] == [422] * 10
    refused = answers[10]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "try again in" in text_of(parse(refused), "main")


def test_one_account_attacked_from_many_ips_is_throttled(client, make_user):
    """Five failures on one account within 15 minutes, whatever the IPs: the sixth attempt is refused,
    even with the right password, and the answer says when to try again."""
    user = make_user("author")
    failures = [_attempt(client, user.email.upper(), ip=f"198.51.100.{n}").status_code for n in range(1, 6)]
    assert failures == [422] * 5
    refused = _attempt(client, f"  {user.email} ", password=PASSWORD, ip="203.0.113.9")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    other = make_user("author")
    assert _attempt(client, other.email, password=PASSWORD, ip="203.0.113.9").status_code == 302


def test_successful_sign_ins_do_not_use_up_the_account_limit(client, make_user):
    user = make_user("author")
    for n in range(7):
        assert _attempt(client, user.email, password=PASSWORD, ip=f"198.51.100.{n + 1}").status_code == 302


def test_next_parameter_cannot_redirect_off_site(client, make_user):
    user = make_user("author")
    token = form_csrf_token(client, "/login")
    r = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert r.headers["Location"] == "/staff/"  # the dashboard, never the other site


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


# --- passwords (NIST SP 800-63B) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "password,reason",
    [
        ("short one", "at least 12"),
        ("            ", "only spaces"),
        ("x" * 1001, "too long"),
        ("password1234", "common"),
        ("qwertyuiop123", "common"),
        ("Password!!!!!!", "common"),
        ("abcabcabcabcabc", "common"),
        ("123456789012", "common"),
        ("1q2w3e4r5t6y", "common"),
        ("ada.okafor-rocks", "name or the first part"),
        ("my name is Okafor!", "name or the first part"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, reason):
    found = " ".join(passwords.problems(password, email="ada.okafor@clinic.example", name="Ada Okafor"))
    assert reason in found


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Tr0ub4dor&3 is long now",
        "zwölf äpfel im korb",
        "日本語のパスワードです十二",
        "x" * 11 + "é",
    ],
)
def test_long_uncommon_passwords_are_accepted_without_composition_rules(password):
    assert passwords.problems(password, email="ada.okafor@clinic.example", name="Ada Okafor") == [] or (
        password == "x" * 11 + "é"
    )


def test_length_counts_code_points_after_nfc():
    composed = "kafé tres bon"  # 13 code points
    decomposed = "kafe\u0301 tr bon!"  # 'é' as e + combining accent: 12 code points after NFC
    assert passwords.problems(composed) == []
    assert len(decomposed) == 13 and passwords.problems(decomposed) == []
    assert "at least 12" in " ".join(passwords.problems("cafe\u0301 ok ok"))  # 10 after NFC


def test_a_password_set_in_one_normal_form_signs_in_with_the_other(client, session, make_user):
    user = make_user("author")
    from app.accounts import services as accounts

    accounts.set_password(session, user, "un caf\u00e9 bien chaud")
    session.commit()
    assert log_in(client, user.email, "un cafe\u0301 bien chaud").status_code == 302


def test_cli_set_password_reads_stdin_checks_the_rules_and_ends_sessions(runner, client, make_user):
    user = make_user("author")
    log_in(client, user.email)
    assert client.get("/staff/").status_code == 200
    weak = runner.invoke(args=["users", "set-password", user.email], input="password1234\n")
    assert weak.exit_code != 0 and "common" in weak.output
    r = runner.invoke(args=["users", "set-password", user.email], input="a brand new pass phrase\n")
    assert r.exit_code == 0, r.output
    assert client.get("/staff/").status_code == 302  # the old session ended
    assert log_in(client, user.email, "a brand new pass phrase").status_code == 302


def test_changing_your_own_password_needs_the_current_one_and_ends_other_sessions(client, make_user):
    user = make_user("author")
    log_in(client, user.email)
    other = client.application.test_client()
    log_in(other, user.email)
    token = form_csrf_token(client, "/staff/password")
    wrong = client.post(
        "/staff/password",
        data={"csrf_token": token, "current_password": "not it at all", "password": "brand new words here"},
    )
    assert wrong.status_code == 422 and "not your current password" in text_of(parse(wrong), ".error")
    weak = client.post(
        "/staff/password",
        data={"csrf_token": token, "current_password": PASSWORD, "password": "password123!"},
    )
    assert weak.status_code == 422 and "common" in text_of(parse(weak), ".error")
    done = client.post(
        "/staff/password",
        data={"csrf_token": token, "current_password": PASSWORD, "password": "brand new words here"},
    )
    assert done.status_code == 302
    assert client.get("/staff/").status_code == 200  # this session goes on
    assert other.get("/staff/").status_code == 302  # the other one ended


# --- API tokens ----------------------------------------------------------------------------------------


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_named_listed_without_secret_and_revocable_by_their_owner(
    client, session, make_user, make_token
):
    user = make_user("author")
    bootstrap = make_token(user)
    created = client.post("/api/v1/me/tokens", json={"name": "CI publisher"}, headers=_bearer(bootstrap))
    assert created.status_code == 201
    secret = created.get_json()["token"]
    listed = client.get("/api/v1/me/tokens", headers=_bearer(secret)).get_json()
    assert listed["next"] is None and len(listed["items"]) == 2
    item = next(i for i in listed["items"] if i["name"] == "CI publisher")
    assert set(item) >= {"id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"}
    assert secret not in str(listed) and secret.startswith(item["prefix"])
    assert item["last_used_at"] is not None and item["revoked_at"] is None
    days = (clock_parse(item["expires_at"]) - clock_parse(item["created_at"])).days
    assert days == 90
    assert client.delete(f"/api/v1/me/tokens/{item['id']}", headers=_bearer(bootstrap)).status_code == 204
    assert client.get("/api/v1/me/tokens", headers=_bearer(secret)).status_code == 401  # refused at once
    assert client.delete("/api/v1/me/tokens/999999", headers=_bearer(bootstrap)).status_code == 404
    other = make_user("author")
    theirs = make_token(other)
    their_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == other.id))
    assert client.delete(f"/api/v1/me/tokens/{their_id}", headers=_bearer(bootstrap)).status_code == 404
    assert client.get("/api/v1/me/tokens", headers=_bearer(theirs)).status_code == 200


def clock_parse(value):
    from datetime import datetime

    return datetime.fromisoformat(value)


def test_an_expired_token_is_refused(client, make_user, make_token):
    user = make_user("author")
    token = make_token(user)
    assert client.get("/api/v1/me/tokens", headers=_bearer(token)).status_code == 200
    try:
        clock.freeze(clock.utc_now() + timedelta(days=91))
        assert client.get("/api/v1/me/tokens", headers=_bearer(token)).status_code == 401
    finally:
        clock.freeze(None)


def test_token_lifetime_is_configurable(app, client, make_user, make_token):
    app.config["CANDOR_TOKEN_DAYS"] = 7
    user = make_user("author")
    created = client.post("/api/v1/me/tokens", json={"name": "short"}, headers=_bearer(make_token(user)))
    body = created.get_json()
    assert (clock_parse(body["expires_at"]) - clock_parse(body["created_at"])).days == 7
    bad = client.post(
        "/api/v1/me/tokens", json={"name": "x", "days": "many"}, headers=_bearer(make_token(user))
    )
    assert bad.status_code == 422


def test_staff_tokens_page_shows_the_secret_once_and_revokes(client, session, make_user):
    user = make_user("author")
    log_in(client, user.email)
    token = form_csrf_token(client, "/staff/tokens")
    created = client.post("/staff/tokens", data={"csrf_token": token, "name": "Newsletter", "days": "30"})
    assert created.status_code == 303 and created.headers["Location"] == "/staff/tokens"  # reload: no 2nd
    shown = client.get("/staff/tokens")
    assert shown.headers["Cache-Control"] == "no-store"
    secret = text_of(parse(shown), "#token-secret")
    assert client.get("/api/v1/me/tokens", headers=_bearer(secret)).status_code == 200
    again = parse(client.get("/staff/tokens"))
    assert again.select_one("#token-secret") is None and secret not in str(again)
    row = again.select_one("#tokens tbody tr")
    assert row["data-status"] == "active" and "Newsletter" in row.get_text()
    client.post(f"/staff/tokens/{row['data-token-id']}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/me/tokens", headers=_bearer(secret)).status_code == 401
    assert parse(client.get("/staff/tokens")).select_one("#tokens tbody tr")["data-status"] == "revoked"


def test_cli_lists_and_revokes_tokens(runner, client, make_user, make_token):
    user = make_user("author")
    token = make_token(user)
    listed = runner.invoke(args=["tokens", "list", user.email])
    assert listed.exit_code == 0 and user.email in listed.output and token not in listed.output
    token_id = listed.output.split()[0]
    revoked = runner.invoke(args=["tokens", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/me/tokens", headers=_bearer(token)).status_code == 401
    assert runner.invoke(args=["tokens", "revoke", "424242"]).exit_code != 0


@pytest.fixture
def redis_url():
    from tests.support.require_all import require_redis

    require_redis()
    return "redis://127.0.0.1:6379"


def test_the_account_limit_lives_in_redis_for_every_worker(app, database_url, make_user, redis_url):
    """With Redis storage the per-account counter sits in Redis, where every worker process counts it:
    five failures, spread over two app instances and five IPs, refuse the sixth attempt on both."""
    import uuid

    import redis

    from app import create_app

    workers = [
        create_app({"DATABASE_URL": database_url, "TESTING": True, "RATELIMIT_STORAGE_URI": redis_url})
        for _ in range(2)
    ]
    try:
        email = f"{uuid.uuid4().hex}@clinic.example"  # a key no earlier run has counted
        make_user("author", email=email)
        clients = [w.test_client() for w in workers]
        statuses = [_attempt(clients[n % 2], email, ip=f"198.51.100.{n + 1}").status_code for n in range(5)]
        assert statuses == [422] * 5
        for client in clients:
            refused = _attempt(client, email, password=PASSWORD, ip="203.0.113.50")
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        keys = redis.Redis.from_url(redis_url).keys(f"*account:{email}*")
        assert keys, "the per-account counter is not in Redis"
    finally:
        for worker in workers:
            worker.extensions["candor.engine"].dispose()
