"""Single sign-on in Chromium: from the blog's sign-in page, through the provider's own login page (the
real oidc-provider-mock, on another site), back to the staff desk, by clicking."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, Route, expect

from app.accounts.models import User
from tests.support.oidc import Provider, oidc_config, running_provider

pytestmark = [
    pytest.mark.browser,
    # The mock provider's Authlib server interfaces warn in its own threads; see tests/test_oidc.py.
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider(host="localhost") as running:
        yield running


@pytest.fixture
def app_config(provider: Provider) -> dict[str, Any]:
    return oidc_config(provider)


def _offline(route: Route) -> None:
    # The mock's page asks a CDN for its stylesheet; the tests never leave the machine.
    route.abort()


def test_a_staff_member_signs_in_through_the_providers_login_page(
    page: Page, app: Flask, live_server: str, provider: Provider, make_user: Callable[..., User]
) -> None:
    # The callback must come back to this very server: CANDOR_PUBLIC_URL is where it listens.
    app.config["PUBLIC_URL"] = live_server
    user = make_user("editor", name="Dr Rowan Click", email="rowan@clinic.example")
    sub = f"rowan-{uuid.uuid4().hex[:8]}"
    provider.set_user(sub, {"email": "rowan@clinic.example", "email_verified": True, "name": "Rowan"})
    page.route(re.compile(r"^https://"), _offline)

    page.goto("/login?next=/staff/reviews")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with Clinic Login").click()
    assert page.url.startswith(provider.issuer + "/oauth2/authorize?")
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()

    page.get_by_placeholder("sub").fill(sub)
    with page.expect_navigation(url=re.compile(re.escape(live_server) + r"/staff/reviews$")):
        page.get_by_role("button", name="Authorize").click()

    expect(page.get_by_role("status")).to_contain_text(f"Signed in as {user.name}")
    expect(page.locator("header")).to_contain_text(user.name)
