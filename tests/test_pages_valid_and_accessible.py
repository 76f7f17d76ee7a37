"""Every page is valid HTML and meets WCAG 2.1 AA, for readers and for signed-in staff.

The pages come from one registry, tests/support/pages.py; a new page is added there, and a test below
fails while any HTML route is missing from it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page as BrowserPage

from tests.support.browser import (  # noqa: F401
    browser_fixture,
    chromium_fixture,
    live_server_fixture,
    page_fixture,
    sign_in,
)
from tests.support.html_checks import (
    axe_violations,
    format_messages,
    format_violations,
    validate,
    vnu_command,
)
from tests.support.pages import PAGES_APP_CONFIG, Page, Site, every_page, is_html_endpoint, seed_site
from tests.support.web import PASSWORD, log_in


@pytest.fixture
def app_config() -> dict[str, Any]:
    return dict(PAGES_APP_CONFIG)


@pytest.fixture
def site(session, make_user, make_post, gate_settings) -> Site:
    return seed_site(session, make_user, make_post, gate_settings)


@pytest.fixture(scope="session")
def vnu() -> list[str]:
    """Resolved first (session scope), so a missing checker skips before any seeding is done."""
    return vnu_command()


def test_the_registry_lists_every_html_route(app: Flask, site: Site) -> None:
    """A page nobody listed would never be checked: every GET route outside the API must be there."""
    adapter = app.url_map.bind("localhost")
    listed = {
        adapter.match(urlsplit(page.path).path, method="GET")[0]
        for page in every_page(site)
        if page.status == 200 or page.covers_route
    }
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and is_html_endpoint(rule.endpoint)
    }
    unlisted = {
        rule.rule: rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint in routes - listed
    }
    assert not unlisted, (
        f"HTML routes missing from every_page() in tests/support/pages.py: {unlisted}; "
        "add each page there (or to NOT_HTML if it does not answer HTML)"
    )


def test_every_page_is_valid_html(vnu: list[str], app: Flask, site: Site, tmp_path: Any) -> None:
    """All pages go to the Nu HTML Checker in one run: the JVM takes seconds to start."""
    anonymous, staff = app.test_client(), app.test_client()
    assert log_in(staff, site.staff.email).status_code == 302
    documents: dict[str, str] = {}
    for page in every_page(site):
        response = (staff if page.signed_in else anonymous).get(page.path)
        assert response.status_code == page.status, page.label
        assert response.mimetype == "text/html", page.label
        documents[page.label] = response.get_data(as_text=True)
    problems = validate(documents, tmp_path / "vnu", command=vnu)
    assert not problems, format_messages(problems)


@pytest.mark.browser
def test_every_page_meets_wcag_21_aa(page: BrowserPage, site: Site, subtests: Any) -> None:
    """One browser tab walks every page (seeding the site is the slow part), reporting each page apart."""
    pages = every_page(site)
    anonymous = [p for p in pages if not p.signed_in]
    signed_in = [p for p in pages if p.signed_in]
    for entry in anonymous:
        _check(page, entry, subtests)
    sign_in(page, site.staff.email, PASSWORD)
    for entry in signed_in:
        _check(page, entry, subtests)


def _check(page: BrowserPage, entry: Page, subtests: Any) -> None:
    with subtests.test(msg=entry.label):
        response = page.goto(entry.path)
        assert response is not None and response.status == entry.status, entry.label
        if entry.signed_in:
            assert page.get_by_role("button", name="Sign out").count() == 1, f"not signed in on {entry.label}"
        violations = axe_violations(page)
        assert not violations, format_violations(entry.label, violations)


def test_reading_every_page_writes_nothing(app: Flask, site: Site, session: Any) -> None:
    """GETs write nothing: every page, anonymous and signed in, leaves every table exactly as it was."""
    from sqlalchemy import func, select

    from app.models import Base

    def snapshot() -> dict[str, tuple[Any, ...]]:
        session.expire_all()
        counts = {}
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if c.name in ("id", "updated_at", "version", "status")]
            counts[table.name] = tuple(
                session.execute(select(func.count(), *(func.max(c) for c in columns))).one()
            )
        session.rollback()
        return counts

    anonymous, staff = app.test_client(), app.test_client()
    assert log_in(staff, site.staff.email).status_code == 302
    before = snapshot()
    for page in every_page(site):
        for client in (
            (staff, anonymous)
            if page.also_signed_in and not page.signed_in
            else ((staff,) if page.signed_in else (anonymous,))
        ):
            client.get(page.path)
    assert snapshot() == before
