"""Staff single sign-on through a real OpenID provider (oidc-provider-mock) on loopback, over real HTTP.

The test client is the browser: it starts at /login/oidc, the provider's real authorization endpoint
signs the subject in (``Provider.authorize`` posts its login form), and the client follows the redirect
back to /login/oidc/callback, from where the app itself calls the provider's token endpoint and JWKS.
Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

import config as candor_config
from app.accounts.models import ROLE_VALUES, Role, User
from app.audit.models import AuditEntry
from app.sso.models import UserIdentity
from app.sso.provider import OidcProvider, OidcSettings
from tests.support.oidc import (
    Provider,
    callback_path,
    oidc_config,
    query,
    running_provider,
    sign_in,
    start,
)
from tests.support.web import PASSWORD, form_csrf_token, parse, text_of

# The mock provider runs on Authlib's older server interfaces, which warn in its own threads (warning
# filters are process-wide, so the suite's "error" would turn them into the mock's 500s). Ours stay errors.
pytestmark = [
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture(scope="module")
def other_provider() -> Iterator[Provider]:
    """A second, independent issuer with its own key: for mix-ups."""
    with running_provider() as running:
        yield running


@pytest.fixture(autouse=True)
def untampered(provider: Provider) -> Iterator[None]:
    yield
    provider.tamper.resign_with = None
    provider.tamper.edit_claims = {}
    provider.tamper.discovery_issuer = None


@pytest.fixture
def sso_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def app_config(provider: Provider, sso_settings: dict[str, Any]) -> dict[str, Any]:
    return oidc_config(provider, **sso_settings)


def _sub() -> str:
    return f"sub-{uuid.uuid4().hex}"


def _claims(email: str, **extra: Any) -> dict[str, Any]:
    return {"email": email, "email_verified": True, "name": "Dr Quinn Sso", **extra}


def _refusal(response: Any) -> str:
    node = parse(response).select_one("#sso-refused")
    assert node is not None, response.get_data(as_text=True)[:2000]
    return str(node["data-reason"])


def _signed_in_as(client: FlaskClient) -> str | None:
    page = parse(client.get("/"))
    form = page.select_one("form[action$='/logout']")
    return None if form is None else text_of(page, "header")


def _identities(session: Session) -> list[UserIdentity]:
    session.expire_all()
    return list(session.scalars(select(UserIdentity)))


def _audit(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
    )


# --- the way in ---------------------------------------------------------------------------------------


def test_the_login_page_offers_the_provider_and_the_flow_uses_pkce_state_and_nonce(
    client: FlaskClient, provider: Provider
) -> None:
    page = parse(client.get("/login?next=/staff/reviews"))
    link = page.select_one("a#sso-sign-in")
    assert link is not None and link.get_text(strip=True) == "Sign in with Clinic Login"
    assert link["href"] == "/login/oidc?next=/staff/reviews"
    assert page.select_one("input[name=password]") is not None  # passwords still allowed

    url = start(client)
    params = query(url)
    assert url.startswith(provider.issuer + "/oauth2/authorize?")
    assert params["response_type"] == "code"
    assert params["client_id"] == "candor-blog"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert set(params["scope"].split()) == {"openid", "email", "profile"}
    # Built on CANDOR_PUBLIC_URL, not on the Host the request carried.
    assert params["redirect_uri"] == "http://127.0.0.1:5000/login/oidc/callback"
    evil = client.get("/login/oidc", headers={"Host": "localhost"})
    assert query(evil.headers["Location"])["redirect_uri"] == "http://127.0.0.1:5000/login/oidc/callback"
    assert "candor-test-client-secret" not in url


def test_a_verified_staff_email_links_the_identity_signs_in_and_lands_on_the_staff_area(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    user = make_user("author", name="Dr Quinn Sso", email="quinn@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("Quinn@Clinic.example"))

    response = sign_in(client, provider, sub)

    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    dashboard = client.get("/staff/")
    assert dashboard.status_code == 200
    assert "Dr Quinn Sso" in (_signed_in_as(client) or "")
    [identity] = _identities(session)
    assert (identity.issuer, identity.subject, identity.user_id) == (provider.issuer, sub, user.id)
    assert [e.data["user_id"] for e in _audit(session, "account.sso_linked")] == [user.id]

    # Later sign-ins match on (issuer, subject) first, even when the provider's e-mail has changed.
    provider.set_user(sub, _claims("quinn.new@clinic.example", email_verified=False))
    other = client.application.test_client()
    assert sign_in(other, provider, sub).status_code == 302
    assert len(_identities(session)) == 1


def test_next_is_kept_but_only_on_this_site(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User]
) -> None:
    make_user("editor", email="nora@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("nora@clinic.example"))
    assert sign_in(client, provider, sub, "/staff/reviews").headers["Location"] == "/staff/reviews"
    for hostile in (
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
    ):
        fresh = client.application.test_client()
        location = sign_in(fresh, provider, sub, hostile).headers["Location"]
        assert location.startswith("/") and not location.startswith("//") and "\\" not in location, hostile
        assert not urlsplit(location).netloc and not any(ord(c) < 0x20 for c in location), hostile


# --- refused identities -------------------------------------------------------------------------------


def test_an_unknown_email_gets_a_clear_page_saying_whom_to_ask(
    client: FlaskClient, provider: Provider, session: Session
) -> None:
    sub = _sub()
    provider.set_user(sub, _claims("stranger@clinic.example"))
    response = sign_in(client, provider, sub)
    assert response.status_code == 403
    assert _refusal(response) == "unknown"
    text = text_of(parse(response), "main")
    assert "stranger@clinic.example" in text and "blog-admins@clinic.example" in text
    assert _identities(session) == [] and _signed_in_as(client) is None


def test_an_unverified_email_links_nothing(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    make_user("author", email="vera@clinic.example")
    for verified in (False, "false", None, 1, "yes"):
        sub = _sub()
        provider.set_user(sub, _claims("vera@clinic.example", email_verified=verified))
        response = sign_in(client.application.test_client(), provider, sub)
        assert response.status_code == 403 and _refusal(response) == "unverified", verified
    assert _identities(session) == []


def test_a_deactivated_user_is_refused_before_and_after_linking(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    user = make_user("author", email="dee@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("dee@clinic.example"))
    assert sign_in(client.application.test_client(), provider, sub).status_code == 302
    user.is_active = False
    session.commit()
    response = sign_in(client, provider, sub)
    assert response.status_code == 403 and _refusal(response) == "deactivated"
    assert _signed_in_as(client) is None

    other = make_user("author", email="dee2@clinic.example")
    other.is_active = False
    session.commit()
    sub2 = _sub()
    provider.set_user(sub2, _claims("dee2@clinic.example"))
    response = sign_in(client, provider, sub2)
    assert response.status_code == 403 and _refusal(response) == "deactivated"
    assert len(_identities(session)) == 1


def test_a_second_subject_with_an_already_linked_email_is_refused(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    """A provider that hands a departed colleague's address to a new person does not hand over the
    colleague's account with it."""
    make_user("editor", email="ed@clinic.example")
    first, second = _sub(), _sub()
    provider.set_user(first, _claims("ed@clinic.example"))
    provider.set_user(second, _claims("ed@clinic.example"))
    assert sign_in(client.application.test_client(), provider, first).status_code == 302
    response = sign_in(client, provider, second)
    assert response.status_code == 403 and _refusal(response) == "linked_elsewhere"
    assert [i.subject for i in _identities(session)] == [first]


# --- tokens that must not be believed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "another-client"}, id="wrong audience"),
        pytest.param({"aud": ["candor-blog", "another-client"]}, id="shared audience"),
        pytest.param({"iss": "http://127.0.0.1:1"}, id="wrong issuer"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"iat": int(time.time()) + 3600}, id="issued in the future"),
        pytest.param({"iat": int(time.time()) - 7200}, id="issued long ago"),
        pytest.param({"nonce": "not-the-nonce-we-sent"}, id="wrong nonce"),
    ],
)
def test_an_id_token_with_bad_claims_is_refused(
    client: FlaskClient,
    provider: Provider,
    make_user: Callable[..., User],
    session: Session,
    claims: dict[str, Any],
) -> None:
    make_user("admin", email="ada@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("ada@clinic.example", **claims))
    response = sign_in(client, provider, sub)
    assert response.status_code == 403 and _refusal(response) == "rejected"
    assert _identities(session) == [] and _signed_in_as(client) is None


def test_a_token_signed_with_another_key_is_refused(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    make_user("admin", email="ada@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("ada@clinic.example"))
    provider.tamper.resign_with = RSAKey.generate_key(2048, private=True)
    response = sign_in(client, provider, sub)
    assert response.status_code == 403 and _refusal(response) == "rejected"
    assert _identities(session) == []


def test_a_tampered_token_is_refused(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    """The provider signed a token for a nobody; changing its e-mail to the admin's breaks the signature."""
    make_user("admin", email="ada@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("nobody@clinic.example"))
    provider.tamper.edit_claims = {"email": "ada@clinic.example"}
    response = sign_in(client, provider, sub)
    assert response.status_code == 403 and _refusal(response) == "rejected"
    assert _identities(session) == []


def test_an_unsigned_token_is_refused(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User]
) -> None:
    make_user("admin", email="ada@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("ada@clinic.example"))
    provider.tamper.edit_claims = {"email": "ada@clinic.example"}
    # alg "none" with an empty signature: the classic forgery.
    original = provider.tamper._change

    def unsigned(token: str) -> str:
        _, payload, _ = original(token).split(".")
        head = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
        return f"{head}.{payload}."

    provider.tamper._change = unsigned  # type: ignore[method-assign]
    try:
        response = sign_in(client, provider, sub)
    finally:
        del provider.tamper._change
    assert response.status_code == 403 and _refusal(response) == "rejected"


# --- state, nonce and issuer ---------------------------------------------------------------------------


def test_a_callback_url_works_once(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User]
) -> None:
    make_user("author", email="rita@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("rita@clinic.example"))
    location = provider.authorize(start(client), sub)
    assert client.get(callback_path(location)).status_code == 302
    client.post("/logout", data={"csrf_token": form_csrf_token(client, "/staff/")})

    again = client.get(callback_path(location))
    assert again.status_code == 400 and _refusal(again) == "expired"
    assert _signed_in_as(client) is None


def test_a_replayed_callback_with_the_old_cookie_is_refused_by_the_used_code(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User]
) -> None:
    """Even a copy of the browser's cookie from before the first use gets nowhere: the code is spent."""
    make_user("author", email="rita@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("rita@clinic.example"))
    location = provider.authorize(start(client), sub)
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert client.get(callback_path(location)).status_code == 302

    thief = client.application.test_client()
    thief.set_cookie("session", cookie.value)
    response = thief.get(callback_path(location))
    assert response.status_code == 403 and _refusal(response) == "rejected"
    assert _signed_in_as(thief) is None


def test_state_fixation_an_attackers_callback_does_not_sign_in_the_victim(
    app: Flask, provider: Provider, make_user: Callable[..., User]
) -> None:
    """Login CSRF: the attacker completes a sign-in as themselves and lures a colleague to the callback
    URL; the colleague's browser never started that sign-in, so nothing happens."""
    make_user("author", email="mallory@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("mallory@clinic.example"))
    attacker, victim = app.test_client(), app.test_client()
    location = provider.authorize(start(attacker), sub)

    start(victim)  # even with a sign-in of their own pending
    response = victim.get(callback_path(location))
    assert response.status_code == 400 and _refusal(response) == "expired"
    assert _signed_in_as(victim) is None


def test_a_nonce_from_an_earlier_sign_in_is_refused(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User]
) -> None:
    make_user("author", email="nina@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("nina@clinic.example"))
    first = start(client.application.test_client())
    old_nonce = query(first)["nonce"]
    provider.authorize(first, sub)

    provider.set_user(sub, _claims("nina@clinic.example", nonce=old_nonce))
    response = sign_in(client, provider, sub)
    assert response.status_code == 403 and _refusal(response) == "rejected"


def test_a_code_from_a_second_issuer_is_refused(
    client: FlaskClient, provider: Provider, other_provider: Provider, make_user: Callable[..., User]
) -> None:
    """The mix-up: our state, but a code (and an ``iss``) from another provider."""
    make_user("admin", email="ada@clinic.example")
    sub = _sub()
    other_provider.set_user(sub, _claims("ada@clinic.example"))
    ours = start(client)
    foreign = ours.replace(provider.issuer, other_provider.issuer)
    location = other_provider.authorize(foreign, sub)
    response = client.get(callback_path(location))
    assert response.status_code == 403 and _refusal(response) == "rejected"

    ours = start(client)
    location = other_provider.authorize(ours.replace(provider.issuer, other_provider.issuer), sub)
    response = client.get(callback_path(location) + "&iss=" + other_provider.issuer)
    assert response.status_code == 400 and _refusal(response) == "mixup"
    assert _signed_in_as(client) is None


def test_a_discovery_document_naming_another_issuer_is_refused(
    client: FlaskClient, provider: Provider, other_provider: Provider
) -> None:
    provider.tamper.discovery_issuer = other_provider.issuer
    response = client.get("/login/oidc")
    assert response.status_code == 502 and _refusal(response) == "unreachable"


def test_the_provider_cancelling_or_a_garbled_callback_signs_nobody_in(
    client: FlaskClient, provider: Provider
) -> None:
    state = query(start(client))["state"]
    response = client.get("/login/oidc/callback", query_string={"state": state, "error": "access_denied"})
    assert response.status_code == 403 and _refusal(response) == "denied"
    for params in (
        {},
        {"state": "", "code": "x"},
        {"state": "x" * 100_000, "code": "x"},
        {"state": "☃", "code": "☃"},
        {"code": "x", "state": query(start(client))["state"], "iss": "http://127.0.0.1:1"},
    ):
        response = client.get("/login/oidc/callback", query_string=params)
        assert response.status_code in (400, 403, 414), params
    state = query(start(client))["state"]
    response = client.get("/login/oidc/callback", query_string={"state": state, "code": "made-up"})
    assert response.status_code == 403 and _refusal(response) == "rejected"


def test_an_unreachable_provider_is_a_clear_page_not_an_error(app: Flask, client: FlaskClient) -> None:
    app.extensions["candor.oidc"] = OidcProvider(
        OidcSettings("http://127.0.0.1:1", "candor-blog", "secret", timeout=2.0)
    )
    response = client.get("/login/oidc")
    assert response.status_code == 502 and _refusal(response) == "unreachable"
    assert "secret" not in response.get_data(as_text=True)


# --- roles and accounts --------------------------------------------------------------------------------

ROLE_MAP = {"blog-editors": ["editor"], "blog-authors": ["author"]}


@pytest.mark.parametrize("sso_settings", [{"OIDC_ROLE_CLAIM": "groups", "OIDC_ROLE_MAP": ROLE_MAP}])
def test_roles_follow_the_groups_claim_at_each_sign_in_and_changes_are_audited(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    user = make_user("author", "moderator", email="gil@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("gil@clinic.example", groups=["blog-editors", "cafeteria"]))
    assert sign_in(client.application.test_client(), provider, sub).status_code == 302
    session.expire_all()
    # author is a mapped role the groups no longer grant; moderator is not mapped, so it stays.
    assert user.roles == {Role.EDITOR, Role.MODERATOR}
    [entry] = _audit(session, "account.roles_from_sso")
    assert entry.data["before"] == ["author", "moderator"] and entry.data["after"] == ["editor", "moderator"]

    assert sign_in(client.application.test_client(), provider, sub).status_code == 302
    assert len(_audit(session, "account.roles_from_sso")) == 1  # nothing changed, nothing audited

    provider.set_user(sub, _claims("gil@clinic.example", groups="blog-authors blog-editors"))
    assert sign_in(client.application.test_client(), provider, sub).status_code == 302
    session.expire_all()
    assert user.roles == {Role.AUTHOR, Role.EDITOR, Role.MODERATOR}
    assert len(_audit(session, "account.roles_from_sso")) == 2


@pytest.mark.parametrize("sso_settings", [{"OIDC_ROLE_CLAIM": "groups", "OIDC_ROLE_MAP": ROLE_MAP}])
def test_losing_every_group_withdraws_the_roles_and_refuses(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    user = make_user("editor", email="lou@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("lou@clinic.example", groups=[{"nested": ["blog-editors"]}, 7]))
    response = sign_in(client, provider, sub)
    assert response.status_code == 403 and _refusal(response) == "no_role"
    session.expire_all()
    assert user.roles == frozenset()  # kept: the provider withdrew it
    assert len(_audit(session, "account.roles_from_sso")) == 1


@pytest.mark.parametrize(
    "sso_settings",
    [{"OIDC_ROLE_CLAIM": "groups", "OIDC_ROLE_MAP": ROLE_MAP, "OIDC_AUTO_PROVISION": True}],
)
def test_auto_provisioning_creates_the_account_with_mapped_roles(
    client: FlaskClient, provider: Provider, session: Session
) -> None:
    sub = _sub()
    provider.set_user(
        sub,
        {
            "email": "new.person@clinic.example",
            "email_verified": True,
            "name": "New Person",
            "groups": ["blog-authors"],
        },
    )
    response = sign_in(client, provider, sub)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    user = session.scalar(select(User).where(User.email == "new.person@clinic.example"))
    assert user is not None and user.name == "New Person" and user.roles == {Role.AUTHOR}
    assert len(_audit(session, "account.sso_provisioned")) == 1
    assert [i.subject for i in _identities(session)] == [sub]
    # No password opens it.
    other = client.application.test_client()
    for password in ("", PASSWORD, user.password_hash):
        token = form_csrf_token(other, "/login")
        other.post("/login", data={"email": user.email, "password": password, "csrf_token": token})
        assert _signed_in_as(other) is None

    # Without a group that maps to a role, nobody is created.
    sub2 = _sub()
    provider.set_user(sub2, _claims("drifter@clinic.example", groups=["cafeteria"]))
    response = sign_in(client.application.test_client(), provider, sub2)
    assert response.status_code == 403 and _refusal(response) == "no_role"
    assert session.scalar(select(User).where(User.email == "drifter@clinic.example")) is None


@pytest.mark.parametrize("sso_settings", [{"OIDC_ONLY": True}])
def test_sso_only_hides_the_password_form_and_refuses_passwords(
    client: FlaskClient, provider: Provider, make_user: Callable[..., User]
) -> None:
    user = make_user("admin", email="pat@clinic.example")
    page = parse(client.get("/login"))
    assert page.select_one("input[name=password]") is None
    assert page.select_one("a#sso-sign-in") is not None
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert _signed_in_as(client) is None
    sub = _sub()
    provider.set_user(sub, _claims("pat@clinic.example"))
    assert sign_in(client, provider, sub).status_code == 302


def test_two_first_sign_ins_at_once_link_one_identity(
    app: Flask, provider: Provider, make_user: Callable[..., User], session: Session
) -> None:
    make_user("author", email="twin@clinic.example")
    sub = _sub()
    provider.set_user(sub, _claims("twin@clinic.example"))
    clients = [app.test_client(), app.test_client()]
    paths = [callback_path(provider.authorize(start(c), sub)) for c in clients]
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def go(c: FlaskClient, path: str) -> None:
        barrier.wait()
        statuses.append(c.get(path).status_code)

    threads = [threading.Thread(target=go, args=pair) for pair in zip(clients, paths, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # The second waits on the account's lock and then finds the identity the first linked: both sign in.
    assert statuses == [302, 302], statuses
    assert len(_identities(session)) == 1


def test_sso_off_has_no_routes_and_no_button(database_url: str, tmp_path: Any) -> None:
    from app import create_app

    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "OIDC_ISSUER": None})
    client = app.test_client()
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?state=x&code=y").status_code == 404
    assert parse(client.get("/login")).select_one("a#sso-sign-in") is None
    app.extensions["candor.engine"].dispose()


# --- configuration ------------------------------------------------------------------------------------


def test_config_reads_and_checks_the_settings(tmp_path: Any) -> None:
    base = {"SECRET_KEY": "k"}
    assert candor_config.load(tmp_path, base)["OIDC_ISSUER"] is None
    settings = candor_config.load(
        tmp_path,
        {
            **base,
            "CANDOR_OIDC_ISSUER": "https://login.clinic.example/realms/staff",
            "CANDOR_OIDC_CLIENT_ID": "blog",
            "CANDOR_OIDC_CLIENT_SECRET": "s3cret",
            "CANDOR_OIDC_ROLE_CLAIM": "groups",
            "CANDOR_OIDC_ROLE_MAP": (
                "blog-editors=editor, blog-authors=author,blog-editors=Author,compliance-office=compliance"
            ),
            "CANDOR_OIDC_AUTO_PROVISION": "1",
            "CANDOR_OIDC_ONLY": "1",
        },
    )
    assert settings["OIDC_ROLE_MAP"] == {
        "blog-editors": ["editor", "author"],
        "blog-authors": ["author"],
        "compliance-office": ["compliance"],
    }
    assert settings["OIDC_NAME"] == "login.clinic.example"
    assert settings["OIDC_AUTO_PROVISION"] and settings["OIDC_ONLY"]
    good = {**base, "CANDOR_OIDC_ISSUER": "https://idp.example", "CANDOR_OIDC_CLIENT_ID": "b"}
    for env in (
        {**base, "CANDOR_OIDC_ONLY": "1"},
        {**base, "CANDOR_OIDC_ISSUER": "https://idp.example"},
        {**good, "CANDOR_OIDC_CLIENT_SECRET": "s", "CANDOR_OIDC_ISSUER": "http://idp.example"},
        {**good, "CANDOR_OIDC_CLIENT_SECRET": "s", "CANDOR_OIDC_ISSUER": "ftp://idp.example"},
        {
            **good,
            "CANDOR_OIDC_CLIENT_SECRET": "s",
            "CANDOR_OIDC_ROLE_MAP": "x=superuser",
            "CANDOR_OIDC_ROLE_CLAIM": "g",
        },
        {**good, "CANDOR_OIDC_CLIENT_SECRET": "s", "CANDOR_OIDC_ROLE_MAP": "x=editor"},
        {**good, "CANDOR_OIDC_CLIENT_SECRET": "s", "CANDOR_OIDC_AUTO_PROVISION": "maybe"},
    ):
        with pytest.raises(candor_config.ConfigError):
            candor_config.load(tmp_path, env)


def test_config_knows_every_role() -> None:
    assert candor_config.ROLE_NAMES == ROLE_VALUES


# --- hostile claims -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sso_settings",
    [{"OIDC_ROLE_CLAIM": "groups", "OIDC_ROLE_MAP": ROLE_MAP, "OIDC_AUTO_PROVISION": True}],
)
@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"name": "No Mail"}, "unknown"),  # none in the ID token, none from userinfo either
        ({"email": ["ada@clinic.example"]}, "unknown"),
        ({"email": {"address": "ada@clinic.example"}}, "unknown"),
        ({"email": "not an address"}, "unknown"),
        ({"email": "x" * 5000 + "@clinic.example"}, "unknown"),
        ({"email": "\u0430da@clinic.example", "groups": ["blog-editors"]}, 302),  # Cyrillic а: someone else
        ({"email": "ada@clinic.example", "email_verified": "TRUE"}, "unverified"),
        ({"email": "ada@clinic.example", "email_verified": [True]}, "unverified"),
        ({"email": "new1@clinic.example", "name": "N" * 5000}, 302),
        ({"email": "new6@clinic.example", "name": "N" * 100_000}, "rejected"),  # a 100 kB ID token
        ({"email": "new2@clinic.example", "name": "\u202eevil\x00\x07"}, 302),
        ({"email": "new3@clinic.example", "name": ["a", "b"], "given_name": 7}, 302),
        ({"email": "new4@clinic.example", "groups": {"blog-authors": True}}, "no_role"),
        ({"email": "new5@clinic.example", "groups": ["cafeteria"] * 3000 + ["blog-authors"]}, 302),
    ],
)
def test_hostile_claims_are_refused_or_cleaned_never_a_crash(
    client: FlaskClient,
    provider: Provider,
    make_user: Callable[..., User],
    session: Session,
    claims: dict[str, Any],
    expected: int | str,
) -> None:
    admin = make_user("admin", email="ada@clinic.example")
    sub = _sub()
    provider.set_user(sub, {"email_verified": True, "groups": ["blog-authors"], **claims})
    response = sign_in(client, provider, sub)
    if expected == 302:
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        session.expire_all()
        linked = session.scalar(select(UserIdentity).where(UserIdentity.subject == sub))
        assert linked is not None and linked.user_id != admin.id
        assert len(linked.user.name) <= 200 and "\x00" not in linked.user.name
    else:
        assert response.status_code == 403 and _refusal(response) == expected
