"""Staff administration (issue 10.1): admins list, create, edit, grant roles, deactivate, reactivate and
reset passwords, through the staff pages, the JSON API and the CLI; every change audited; an active admin
always remains, even when two admins remove each other at the same moment."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.accounts.models import ApiToken, Role, User
from app.audit.models import AuditEntry
from app.importer.people import importer_account
from app.mail.models import OutboxMessage
from tests.support.web import form_csrf_token, log_in, parse, text_of


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _actions(session, user_id):
    session.expire_all()
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    return [e.action for e in entries if e.data.get("user_id") == user_id]


def _reset_link(session, email):
    session.expire_all()
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.to_addr == email).order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None and message.purpose == "password_reset"
    return re.search(r"https?://\S+/reset-password/\S+", message.body).group(0)


def _path(url):
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def admin(make_user):
    return make_user("admin", name="Ada Admin")


@pytest.fixture
def signed_in(client, admin):
    log_in(client, admin.email)
    return client


def test_admin_lists_and_searches_staff(signed_in, make_user):
    make_user("author", name="Priya Patel", department="Pharmacy")
    make_user("editor", name="Omar Reyes", department="Communications")
    page = parse(signed_in.get("/staff/users?q=pharm"))
    names = [a.get_text() for a in page.select("#users tbody th a")]
    assert names == ["Priya Patel"]
    editors = parse(signed_in.get("/staff/users?role=editor"))
    assert [a.get_text() for a in editors.select("#users tbody th a")] == ["Omar Reyes"]
    assert parse(signed_in.get("/staff/users?q=%25")).select("#users tbody tr") == []  # % is literal


def test_a_user_page_links_a_public_profile_only_where_there_is_one(signed_in, session, make_user):
    """An account with no role (the WordPress import's own, an author whose roles were all removed) has
    no public profile: its admin page said "Public profile" and linked to a 404."""
    author = make_user("author", name="Priya Patel")
    nobody = importer_account(session)
    session.commit()
    for user, has_profile in ((author, True), (nobody, False)):
        page = parse(signed_in.get(f"/staff/users/{user.id}"))
        links = [a["href"] for a in page.select("main a") if a.get_text() == "Public profile"]
        assert links == ([f"/people/{user.id}"] if has_profile else []), user.name
        for href in links:
            assert signed_in.get(href).status_code == 200


@pytest.mark.parametrize("roles", [("author",), ("editor", "moderator")])
def test_non_admins_cannot_manage_staff(client, api, make_user, roles):
    user = make_user(*roles)
    log_in(client, user.email)
    assert client.get("/staff/users").status_code == 403
    assert client.get(f"/staff/users/{user.id}").status_code == 403
    assert api.get("/api/v1/users", as_=user).status_code == 403
    assert client.get("/api/v1/users").status_code == 401


def test_admin_creates_a_user_who_sets_a_password_through_the_emailed_link(signed_in, session, client):
    token = form_csrf_token(signed_in, "/staff/users/new")
    created = signed_in.post(
        "/staff/users/new",
        data={
            "csrf_token": token,
            "email": "Nia.Lee@Clinic.example",
            "name": "Nia Lee",
            "title": "Nurse",
            "department": "Cardiology",
            "bio": "Twenty years on the ward.",
            "photo_alt": "Nia smiling in scrubs",
            "roles": ["author", "moderator"],
        },
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    user = session.scalar(select(User).where(User.email == "nia.lee@clinic.example"))
    assert {r.value for r in user.roles} == {
        "author",
        "moderator",
    } and user.photo_alt == "Nia smiling in scrubs"
    assert _actions(session, user.id) == ["user.created", "user.reset_link_sent"]
    link = _path(_reset_link(session, user.email))
    fresh = client.application.test_client()
    form = parse(fresh.get(link))
    csrf = form.select_one("input[name=csrf_token]")["value"]
    weak = fresh.post(link, data={"csrf_token": csrf, "password": "nialee123456"})
    assert weak.status_code == 422
    done = fresh.post(link, data={"csrf_token": csrf, "password": "blue kettles sing at dawn"})
    assert done.status_code == 302
    assert fresh.post(link, data={"csrf_token": csrf, "password": "another fine phrase"}).status_code == 404
    assert "already been used" in text_of(parse(fresh.get(link)), "#reset-problem")
    assert log_in(fresh, user.email, "blue kettles sing at dawn").status_code == 302
    assert "user.password_reset" in _actions(session, user.id)


def test_a_reset_link_expires_after_an_hour(signed_in, session, make_user):
    user = make_user("author")
    signed_in.post(
        f"/staff/users/{user.id}/reset-link", data={"csrf_token": form_csrf_token(signed_in, "/staff/")}
    )
    link = _path(_reset_link(session, user.email))
    try:
        clock.freeze(clock.utc_now() + timedelta(minutes=61))
        refused = signed_in.get(link)
        assert refused.status_code == 404 and "expired" in text_of(parse(refused), "#reset-problem")
    finally:
        clock.freeze(None)
    assert signed_in.get(link + "x").status_code == 404


def test_forgot_password_answers_the_same_for_unknown_addresses(client, session, make_user):
    user = make_user("author")
    login = parse(client.get("/login"))
    assert login.select_one("#forgot-password")["href"] == "/forgot-password"
    answers = []
    for email in (user.email, "nobody@clinic.example"):
        token = form_csrf_token(client, "/forgot-password")
        r = client.post("/forgot-password", data={"csrf_token": token, "email": email})
        answers.append((r.status_code, text_of(parse(r), "#reset-sent")))
    assert answers[0] == answers[1] and answers[0][0] == 200
    session.expire_all()
    assert session.scalars(select(OutboxMessage.to_addr)).all() == [user.email]


def test_forgot_password_is_rate_limited(client, make_user):
    user = make_user("author")
    statuses = []
    for _ in range(4):
        token = form_csrf_token(client, "/forgot-password")
        statuses.append(
            client.post("/forgot-password", data={"csrf_token": token, "email": user.email}).status_code
        )
    assert statuses == [200, 200, 200, 429]


def test_admin_edits_the_profile_and_roles_and_every_change_is_audited(signed_in, session, make_user):
    user = make_user("author", name="Sam Old")
    token = form_csrf_token(signed_in, f"/staff/users/{user.id}")
    r = signed_in.post(
        f"/staff/users/{user.id}",
        data={
            "csrf_token": token,
            "email": user.email,
            "name": "Sam New",
            "title": "Surgeon",
            "department": "Surgery",
            "bio": "",
            "photo_alt": "Sam in theatre",
        },
    )
    assert r.status_code == 302
    r = signed_in.post(f"/staff/users/{user.id}/roles", data={"csrf_token": token, "roles": ["editor"]})
    assert r.status_code == 302
    session.expire_all()
    fresh = session.get(User, user.id)
    assert fresh.name == "Sam New" and {r.value for r in fresh.roles} == {"editor"}
    assert _actions(session, user.id) == ["user.updated", "user.roles"]
    assert "Staff profile edited" in parse(signed_in.get("/staff/audit")).select_one("#audit-log").get_text()


def test_deactivation_ends_sessions_and_tokens_at_once_and_keeps_the_work(
    signed_in, client, session, make_user, make_token, make_post
):
    post = make_post("published")
    author = post.author
    token = make_token(author)
    theirs = client.application.test_client()
    log_in(theirs, author.email)
    assert theirs.get("/staff/").status_code == 200
    confirm = parse(signed_in.get(f"/staff/users/{author.id}/deactivate"))
    assert "revoke their 1 active API token" in text_of(confirm, "#consequences")
    csrf = confirm.select_one("input[name=csrf_token]")["value"]
    assert (
        signed_in.post(f"/staff/users/{author.id}/deactivate", data={"csrf_token": csrf}).status_code == 302
    )
    assert theirs.get("/staff/").status_code == 302
    assert client.get("/api/v1/me/tokens", headers=_bearer(token)).status_code == 401
    assert log_in(theirs, author.email).status_code == 422
    assert author.name in text_of(parse(client.get(f"/posts/{post.slug}")), "main")  # still attributed
    assert (
        signed_in.post(f"/staff/users/{author.id}/reactivate", data={"csrf_token": csrf}).status_code == 302
    )
    assert log_in(theirs, author.email).status_code == 302
    assert client.get("/api/v1/me/tokens", headers=_bearer(token)).status_code == 401  # stays revoked
    assert _actions(session, author.id)[-2:] == ["user.deactivated", "user.reactivated"]


def test_the_last_active_admin_cannot_remove_their_own_admin_role_nor_be_deactivated(signed_in, admin):
    csrf = form_csrf_token(signed_in, "/staff/")
    r = signed_in.post(f"/staff/users/{admin.id}/roles", data={"csrf_token": csrf, "roles": ["author"]})
    assert r.status_code == 409
    assert signed_in.post(f"/staff/users/{admin.id}/deactivate", data={"csrf_token": csrf}).status_code == 409
    assert signed_in.get("/staff/users").status_code == 200  # still an admin


def test_api_users_contract(client, session, admin, make_token, make_user):
    token = make_token(admin)
    created = client.post(
        "/api/v1/users",
        json={
            "email": "kai@clinic.example",
            "name": "Kai",
            "roles": ["author"],
            "password": "seven blue herons fly",
        },
        headers=_bearer(token),
    )
    assert created.status_code == 201
    body = created.get_json()
    assert {"id", "email", "name", "title", "department", "roles", "active"} <= set(body)
    assert body["roles"] == ["author"] and body["active"] is True
    listed = client.get("/api/v1/users?per_page=1", headers=_bearer(token)).get_json()
    assert len(listed["items"]) == 1 and listed["next"].startswith("http")
    kai_token = make_token(session.get(User, body["id"]))
    patched = client.patch(
        f"/api/v1/users/{body['id']}",
        json={"title": "Physio", "roles": ["author", "editor"], "active": False},
        headers=_bearer(token),
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["roles"] == ["author", "editor"] and patched.get_json()["active"] is False
    assert client.get("/api/v1/me/tokens", headers=_bearer(kai_token)).status_code == 401
    assert client.get(f"/api/v1/users/{body['id']}", headers=_bearer(token)).get_json()["title"] == "Physio"
    for bad in (
        {"roles": "admin"},
        {"active": "no"},
        {"email": "not-an-address"},
        {"nonsense": 1},
        {"name": ""},
    ):
        assert (
            client.patch(f"/api/v1/users/{body['id']}", json=bad, headers=_bearer(token)).status_code == 422
        )
    assert client.get("/api/v1/users/99999", headers=_bearer(token)).status_code == 404
    weak = client.post(
        "/api/v1/users",
        json={"email": "lu@clinic.example", "name": "Lu", "roles": ["author"], "password": "password12345"},
        headers=_bearer(token),
    )
    assert weak.status_code == 422 and weak.get_json()["error"]["code"]
    dup = client.post(
        "/api/v1/users",
        json={"email": "KAI@clinic.example", "name": "K", "roles": ["author"]},
        headers=_bearer(token),
    )
    assert dup.status_code == 409
    me = client.patch(f"/api/v1/users/{admin.id}", json={"active": False}, headers=_bearer(token))
    assert me.status_code == 409


def test_api_users_query_is_checked(client, session, admin, make_token, make_user):
    """An ``active`` other than true/false, or an empty ``role``, is refused (it was silently ignored,
    which the document's boolean and role name do not allow)."""
    make_user("author", name="Ina Inactive").is_active = False
    session.commit()
    token = make_token(admin)
    for query in ("active=maybe", "active=", "active=1", "role=", "role=cook"):
        answer = client.get(f"/api/v1/users?{query}", headers=_bearer(token))
        assert answer.status_code == 422, query
        assert answer.get_json()["error"]["field"] == query.partition("=")[0]
    inactive = client.get("/api/v1/users?active=false", headers=_bearer(token)).get_json()["items"]
    assert [u["name"] for u in inactive] == ["Ina Inactive"]
    assert client.get("/api/v1/users?role=%20Admin%20", headers=_bearer(token)).status_code == 200


def test_api_token_revocation_answers_no_content(client, admin, make_token):
    token = make_token(admin)
    created = client.post("/api/v1/me/tokens", json={"name": None, "days": 7}, headers=_bearer(token))
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    gone = client.delete(f"/api/v1/me/tokens/{created.get_json()['id']}", headers=_bearer(token))
    assert (gone.status_code, gone.data) == (204, b"")


def test_cli_administers_users(runner, session, admin, make_user):
    user = make_user("author", name="Lee Cli")
    listed = runner.invoke(args=["users", "list", "--search", "lee"])
    assert listed.exit_code == 0 and user.email in listed.output and admin.email not in listed.output
    edited = runner.invoke(
        args=["users", "edit", user.email, "--title", "Dietitian", "--role", "author,editor"]
    )
    assert edited.exit_code == 0, edited.output
    assert runner.invoke(args=["users", "deactivate", user.email]).exit_code == 0
    assert runner.invoke(args=["users", "reactivate", user.email]).exit_code == 0
    last = runner.invoke(args=["users", "deactivate", admin.email])
    assert last.exit_code != 0 and "without an active admin" in last.output
    session.expire_all()
    fresh = session.get(User, user.id)
    assert (
        fresh.title == "Dietitian"
        and fresh.is_active
        and {r.value for r in fresh.roles} == {"author", "editor"}
    )
    actions = _actions(session, user.id)
    assert actions == ["user.updated", "user.roles", "user.deactivated", "user.reactivated"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.deactivated")).first()
    assert entry.actor_id is None and entry.data["via"] == "command line"


@pytest.mark.parametrize("change", [{"active": False}, {"roles": ["author"]}], ids=["deactivate", "demote"])
def test_two_admins_removing_each_other_at_once_leave_one(app, client, make_user, make_token, change):
    """On PostgreSQL the two requests really overlap; both lock every admin's row before counting."""
    first = make_user("admin")
    second = make_user("admin")
    tokens = {first.id: make_token(first), second.id: make_token(second)}
    pairs = [(first.id, second.id), (second.id, first.id)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def remove(actor_id, target_id):
        barrier.wait()
        r = app.test_client().patch(
            f"/api/v1/users/{target_id}", json=change, headers=_bearer(tokens[actor_id])
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=remove, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    session = app.extensions["candor.sessions"]()
    try:
        active = session.scalars(select(User).where(User.is_active.is_(True))).all()
        assert any(u.has_role(Role.ADMIN) for u in active)
        assert _actions(session, first.id) + _actions(session, second.id)  # the winner's change is audited
    finally:
        session.close()
    assert sorted(statuses)[0] == 200 and all(s in (200, 401, 403, 409) for s in statuses)


def test_admin_page_lists_a_users_tokens_and_revokes_them(signed_in, client, session, make_user, make_token):
    user = make_user("author")
    other = make_user("author")
    token = make_token(user)
    others = make_token(other)
    page = parse(signed_in.get(f"/staff/users/{user.id}"))
    row = page.select_one("#tokens tbody tr")
    assert row["data-status"] == "active" and token not in str(page)
    csrf = page.select_one("input[name=csrf_token]")["value"]
    other_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == other.id))
    wrong = signed_in.post(f"/staff/users/{user.id}/tokens/{other_id}/revoke", data={"csrf_token": csrf})
    assert wrong.status_code == 404
    assert client.get("/api/v1/me/tokens", headers=_bearer(others)).status_code == 200
    done = signed_in.post(
        f"/staff/users/{user.id}/tokens/{row['data-token-id']}/revoke", data={"csrf_token": csrf}
    )
    assert done.status_code == 302
    assert client.get("/api/v1/me/tokens", headers=_bearer(token)).status_code == 401
    assert _actions(session, user.id)[-1] == "token.revoked"
