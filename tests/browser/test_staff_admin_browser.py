"""An admin manages a colleague's account in Chromium, reaching every page by its links: creates the
account, edits the profile, deactivates it (the colleague's copied session cookie stops working at once)
and has the password reset through the link e-mailed to a real (local) SMTP server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from email import policy
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from app.accounts.models import User
from tests.support.html_checks import axe_violations, format_violations
from tests.support.smtp import Inbox, serving
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "lanterns hum over quiet harbours"
LATER_PASSWORD = "seven copper kettles at noon"


class _Inbox(Inbox):
    def reset_path(self, to: str, count: int) -> str:
        """The path of the reset link in the ``count``-th e-mail to ``to`` (waiting for it to arrive)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            mine = [m for m in self.messages if m["To"] == to]
            if len(mine) >= count:
                body = mine[count - 1].get_content()
                return re.search(r"https?://[^/\s]+(/reset-password/\S+)", body).group(1)
            time.sleep(0.05)
        raise AssertionError(f"no e-mail number {count} to {to} arrived")


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox(policy=policy.default)
    with serving(inbox) as port:
        yield inbox, port


@pytest.fixture
def app_config(smtp: tuple[_Inbox, int]) -> dict[str, Any]:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp[1],
        "MAIL_FROM": "Clinic Blog <blog@clinic.example>",
    }


def _no_axe_violations(page: Page, label: str) -> None:
    violations = axe_violations(page)
    assert not violations, format_violations(label, violations)


def _sign_in(page: Page, email_address: str, password: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Staff sign-in").click()
    page.get_by_label("E-mail").fill(email_address)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_an_admin_creates_edits_deactivates_and_resets_a_colleague_by_links(
    page: Page,
    browser: Browser,
    live_server: str,
    make_user: Callable[..., User],
    smtp: tuple[_Inbox, int],
) -> None:
    inbox = smtp[0]
    admin = make_user("admin", "editor", name="Ada Admin")
    _sign_in(page, admin.email, PASSWORD)
    page.get_by_role("link", name="Staff", exact=True).click()

    # From the staff desk to the staff accounts, by links only.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Staff accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff accounts")
    page.get_by_role("link", name="Add a member of staff").click()
    page.get_by_label("E-mail").fill("nia.lee@clinic.example")
    page.get_by_label("Name").fill("Nia Lee")
    page.get_by_label("Job title").fill("Nurse")
    page.get_by_label("Author: writes posts and corrections").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nia Lee")
    _no_axe_violations(page, "a staff account")

    # Edit the profile.
    page.get_by_label("Department").fill("Cardiology")
    page.get_by_label("Photo description (alt text)").fill("Nia smiling at the nurses' station")
    with page.expect_navigation():
        page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("department")
    expect(page.get_by_label("Department")).to_have_value("Cardiology")

    # Nia sets her password from the welcome e-mail and signs in, in her own browser.
    nia_context = browser.new_context(base_url=live_server)
    nia = nia_context.new_page()
    nia.goto(inbox.reset_path("nia.lee@clinic.example", 1))
    nia.get_by_label("New password").fill(NEW_PASSWORD)
    with nia.expect_navigation():
        nia.get_by_role("button", name="Set password").click()
    _sign_in(nia, "nia.lee@clinic.example", NEW_PASSWORD)
    expect(nia.locator(".signed-in")).to_have_text("Nia Lee")
    copied = [c for c in nia_context.cookies() if c["name"] == "session"]
    assert copied

    # Deactivate, after the page that says what will happen.
    page.get_by_role("link", name="Deactivate this account…").click()
    expect(page.locator("#consequences")).to_contain_text("sign them out of every browser")
    _no_axe_violations(page, "deactivation confirmation")
    with page.expect_navigation():
        page.get_by_role("button", name="Deactivate Nia Lee").click()
    expect(page.locator("#account-status")).to_contain_text("Deactivated")

    # The session cookie copied before is refused on its next request.
    thief = browser.new_context(base_url=live_server)
    thief.add_cookies([copied[0]])  # type: ignore[list-item]
    stolen = thief.new_page()
    stolen.goto("/staff/")
    expect(stolen).to_have_url(re.compile(r"/login\?next="))
    thief.close()

    # Reactivate and send a reset link; Nia chooses a new password through it.
    with page.expect_navigation():
        page.get_by_role("button", name="Reactivate this account").click()
    with page.expect_navigation():
        page.get_by_role("button", name="E-mail a password reset link").click()
    expect(page.get_by_role("status")).to_contain_text("E-mailed nia.lee@clinic.example")
    nia.goto(inbox.reset_path("nia.lee@clinic.example", 2))
    nia.get_by_label("New password").fill(LATER_PASSWORD)
    with nia.expect_navigation():
        nia.get_by_role("button", name="Set password").click()
    _sign_in(nia, "nia.lee@clinic.example", LATER_PASSWORD)
    expect(nia.locator(".signed-in")).to_have_text("Nia Lee")
    nia_context.close()
