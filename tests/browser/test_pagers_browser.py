"""Keyset pagers (issue 15), walked in Chromium by their links only.

Each list gets enough rows for three pages or more, made with the services (not the UI), under a frozen
clock that moves only every few rows, so that many rows share an instant and page boundaries fall
inside those ties: the ``?after=`` cursor must break them by id. A reader, moderator or admin then opens
the list's first page and clicks "Older posts", "Later publications", "More comments", "Next page"...
until there is none. Every row must be seen exactly once, in the list's order, every page but the last
full, and the last page without a next link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.accounts.models import User
from app.audit.models import AuditEntry
from app.comments.models import Comment, ModerationDecision
from app.comments.queries import THREADS_PER_PAGE
from app.contact import services as contact
from app.corrections.services import HISTORY_PER_PAGE
from app.corrections.views import PER_PAGE as CORRECTIONS_PER_PAGE
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.moderation.queries import NEEDS_REPLY_PER_PAGE
from app.moderation.services import moderate
from app.moderation.views import PER_PAGE as QUEUE_PER_PAGE
from app.posts import services as posts
from app.posts.models import Post
from app.posts.views import PER_PAGE as HOME_PER_PAGE
from app.staff.views import AUDIT_PER_PAGE
from app.topics import services as topics
from app.topics.views import PER_PAGE as TOPIC_PER_PAGE
from tests.support.browser import sign_in
from tests.support.comments import submit
from tests.support.editorial import publish_change, retract
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TIE = 7
"""Rows per frozen instant: no page size (10, 20, 25, 50) is a multiple, so ties straddle pages."""
MAX_PAGES = 30
MODERATION_LOG_PER_PAGE = 50  # app.moderation.queries.moderation_log's default, which its view uses


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """The local Akismet, reader rate limits relaxed (tests/support/comments.py)."""
    return comments_config


@pytest.fixture
def tick() -> Iterator[Callable[[int], None]]:
    """``tick(n)``: the clock frozen at START plus one second per TIE rows; released after the test."""

    def _tick(n: int) -> None:
        clock.freeze(START + timedelta(seconds=n // TIE))

    try:
        yield _tick
    finally:
        clock.freeze(None)


@pytest.fixture
def staff(make_user: Callable[..., User], make_disclosure: Callable[..., Any]) -> dict[str, User]:
    author = make_user("author", name="Dr Ada Okafor")
    make_disclosure(author)
    return {
        "author": author,
        "editor": make_user("editor", "admin", name="Erin Editor"),
        "moderator": make_user("moderator", name="Malik Reyes"),
    }


def walk(
    page: Page, start: str, keys: Callable[[Page], list[str]], next_name: str, back_name: str | None
) -> list[list[str]]:
    """Open ``start``, then click the one link named ``next_name`` until there is none: each page's keys.
    Then back, by the one link named ``back_name`` on each page (no browser back button): the same pages
    again in reverse, each exactly as it was, until the first, which has no such link."""
    page.goto(start)
    pages: list[list[str]] = []
    for _ in range(MAX_PAGES):
        pages.append(keys(page))
        nxt = page.get_by_role("link", name=next_name, exact=True)
        if nxt.count() == 0:
            break
        assert nxt.count() == 1, f"two “{next_name}” links on {page.url}"
        with page.expect_navigation():
            nxt.click()
    else:
        raise AssertionError(f"more than {MAX_PAGES} pages from {start}: the pager goes round in circles")
    if back_name is None:
        return pages
    back = [pages[-1]]
    for _ in range(MAX_PAGES):
        prev = page.get_by_role("link", name=back_name, exact=True)
        if prev.count() == 0:
            break
        assert prev.count() == 1, f"two “{back_name}” links on {page.url}"
        with page.expect_navigation():
            prev.click()
        back.append(keys(page))
    assert back == pages[::-1], f"“{back_name}” from the last page of {start} did not retrace the pages"
    return pages


def attr(selector: str, name: str) -> Callable[[Page], list[str]]:
    def _keys(page: Page) -> list[str]:
        found = page.locator(selector)
        return [str(found.nth(i).get_attribute(name)) for i in range(found.count())]

    return _keys


def assert_walked(pages: list[list[str]], expected: list[str], per_page: int) -> None:
    """Every row once, in order; every page but the last full; three pages at least."""
    assert len(pages) >= 3, [len(p) for p in pages]
    seen = [k for p in pages for k in p]
    assert len(seen) == len(set(seen)), "a row shown twice"
    assert seen == expected
    assert [len(p) for p in pages[:-1]] == [per_page] * (len(pages) - 1)
    assert 0 < len(pages[-1]) <= per_page


def _publish(session: Session, staff: dict[str, User], settings: GateSettings, title: str) -> Post:
    data = posts.RevisionInput(title, f"About {title}.", ["https://example.org/study"], topics=("Sleep",))
    post = posts.create_draft(session, staff["author"], data)
    editorial.submit(session, staff["author"], post, settings)
    editorial.approve(session, staff["editor"], post, 1, settings)
    return post


# --- readers ----------------------------------------------------------------------------------------------


def test_a_reader_pages_through_home_and_a_topic_by_older_posts(
    page: Page, session: Session, staff: dict[str, User], gate_settings: GateSettings, tick: Any
) -> None:
    topics.create_topic(session, staff["editor"], "Sleep")
    made = []
    for n in range(2 * HOME_PER_PAGE + 5):
        tick(n)
        made.append(_publish(session, staff, gate_settings, f"Post number {n}"))
    session.commit()
    assert len({p.first_published_at for p in made}) < len(made) / 2  # ties, on the page boundaries
    newest_first = [
        f"/posts/{p.slug}" for p in sorted(made, key=lambda p: (p.first_published_at, p.id), reverse=True)
    ]
    titles = attr("article.post-summary h2 a", "href")
    assert_walked(walk(page, "/", titles, "Older posts", "Newer posts"), newest_first, HOME_PER_PAGE)
    assert_walked(
        walk(page, "/topics/sleep", titles, "Older posts", "Newer posts"), newest_first, TOPIC_PER_PAGE
    )


def test_a_reader_pages_through_corrections_and_a_long_history_and_an_admin_the_audit_log(
    page: Page, session: Session, staff: dict[str, User], gate_settings: GateSettings, tick: Any
) -> None:
    topics.create_topic(session, staff["editor"], "Sleep")
    tick(0)
    post = _publish(session, staff, gate_settings, "Often corrected")
    session.commit()
    others = [_publish(session, staff, gate_settings, f"Retracted {n}") for n in range(5)]
    session.commit()
    changes = 2 * HISTORY_PER_PAGE + 3
    log: list[tuple[datetime, str, int, str]] = []  # /corrections' order: (at, source, id), newest first
    for n in range(1, changes + 1):
        tick(n)
        revision = publish_change(
            session, post, staff["editor"], gate_settings, body=f"Version {n}.", note=f"Change number {n}."
        )
        publication = posts.publication_of(session, revision)
        assert publication is not None
        log.append((publication.published_at, "correction", publication.id, f"Change number {n}."))
        if n % 25 == 3:  # a retraction in the same instant as corrections, near a page boundary
            gone = retract(session, others.pop(), staff["editor"], f"Retracted at change {n}.")
            log.append((gone.at, "retraction", gone.id, gone.reason))

    compare: list[str] = []

    def versions(p: Page) -> list[str]:
        compare.extend(p.locator("#history-table td[data-label=Compare]").all_inner_texts())
        return p.locator("#history-table td[data-label=Version]").all_inner_texts()

    history = walk(
        page, f"/posts/{post.slug}/history", versions, "Later publications", "Earlier publications"
    )
    assert_walked(history, [str(n) for n in range(1, changes + 2)], HISTORY_PER_PAGE)
    # Each version compares with the one before, the first of a later page too (it was a bare "—").
    # (Read forward first; the walk back reads the same pages again, checked by walk itself.)
    assert compare[: changes + 1] == ["—"] + [f"Compare with version {n}" for n in range(1, changes + 1)]

    notes = walk(
        page,
        "/corrections",
        lambda p: p.locator("ol.corrections-log li .reason").all_inner_texts(),
        "Older",
        "Newer",
    )
    assert_walked(notes, [row[3] for row in sorted(log, reverse=True)], CORRECTIONS_PER_PAGE)

    sign_in(page, staff["editor"].email, PASSWORD)
    session.expire_all()
    newest_first = [
        str(i)
        for i in session.scalars(select(AuditEntry.id).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    ]
    entries = attr("#audit-log tbody tr", "data-entry-id")
    assert_walked(
        walk(page, "/staff/audit", entries, "Older entries", "Newer entries"), newest_first, AUDIT_PER_PAGE
    )
    post_entries = [
        str(i)
        for i in session.scalars(
            select(AuditEntry.id)
            .where(AuditEntry.post_id == post.id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        )
    ]
    assert_walked(
        walk(page, f"/staff/posts/{post.id}/audit", entries, "Older entries", "Newer entries"),
        post_entries,
        AUDIT_PER_PAGE,
    )


# --- comments: the queue, needs-reply, and a post's threads -------------------------------------------------


def test_comments_page_through_the_queue_needs_reply_and_the_post(
    page: Page,
    app: Flask,
    session: Session,
    staff: dict[str, User],
    gate_settings: GateSettings,
    tick: Any,
) -> None:
    topics.create_topic(session, staff["editor"], "Sleep")
    tick(0)
    post = _publish(session, staff, gate_settings, "Questions welcome")
    session.commit()
    readers = 2 * THREADS_PER_PAGE + 4
    made: list[Comment] = []
    for n in range(readers):
        tick(n)
        made.append(
            submit(
                app,
                session,
                post,
                author_name=f"Reader {n}",
                author_email=f"reader{n}@example.net",
                body=f"Question {n}: can a doctor tell me how long I should sleep after a night shift?",
            )
        )
        if n % 5 == 0:  # contact messages at the very same instants, to interleave with the comments
            contact.submit(
                session,
                contact.ContactInput(f"Writer {n}", f"writer{n}@example.net", "A question", f"Message {n}?"),
                min_seconds=0,
            )
            session.commit()
    assert {c.status for c in made} == {"held"}
    assert len({c.created_at for c in made}) < len(made) / 2

    sign_in(page, staff["moderator"].email, PASSWORD)
    oldest_first = [str(c.id) for c in sorted(made, key=lambda c: (c.created_at, c.id))]
    queue = walk(page, "/staff/comments/", attr(".mod-item", "data-comment-id"), "Next page", "Previous page")
    assert_walked(queue, oldest_first, QUEUE_PER_PAGE)

    for comment in made:
        moderate(session, staff["moderator"], comment, "approve")
    session.commit()
    published = walk(
        page,
        "/staff/comments/?status=published",
        attr(".mod-item", "data-comment-id"),
        "Next page",
        "Previous page",
    )
    assert_walked(published, oldest_first[::-1], QUEUE_PER_PAGE)

    session.expire_all()
    assert all(c.needs_reply for c in made)
    waiting = contact.waiting(session, limit=1000)
    expected = sorted(
        [(c.created_at, 0, c.id, f"comment:{c.id}") for c in made]
        + [(m.created_at, 1, m.id, f"contact:{m.id}") for m in waiting],
        key=lambda row: row[:3],
    )

    def needs_reply(p: Page) -> list[str]:
        rows = p.locator("#needs-reply tbody tr")
        return [
            f"{rows.nth(i).get_attribute('data-kind')}:{rows.nth(i).get_attribute('data-id')}"
            for i in range(rows.count())
        ]

    assert_walked(
        walk(page, "/staff/comments/needs-reply", needs_reply, "Next page", "Previous page"),
        [row[3] for row in expected],
        NEEDS_REPLY_PER_PAGE,
    )

    # The moderation log: every decision (arrivals at their instants, all approvals in one), newest first.
    decisions = [
        str(i)
        for i in session.scalars(
            select(ModerationDecision.id).order_by(ModerationDecision.at.desc(), ModerationDecision.id.desc())
        )
    ]
    log = walk(
        page, "/staff/comments/log", attr("#moderation-log tbody tr", "data-decision-id"), "Older", "Newer"
    )
    assert_walked(log, decisions, MODERATION_LOG_PER_PAGE)

    # A reader: the post shows fifty threads, then "More comments" pages, server-rendered.
    page.context.clear_cookies()
    threads = walk(
        page,
        f"/posts/{post.slug}",
        lambda p: [i.removeprefix("comment-body-") for i in attr("div.comment-body", "id")(p)],
        "More comments",
        "Earlier comments",  # back to the first threads: the post page's own, at its comments
    )
    assert_walked(threads, oldest_first, THREADS_PER_PAGE)
    assert page.url.endswith(f"/posts/{post.slug}#comments"), page.url
