"""The comment and moderation flows, clicked through in Chromium as each role would.

Each test is one journey, moving between pages only by the links and buttons a person sees, and asserting
what that person sees (parsed from the page, not grepped). Every page answers without a server error and
without a JavaScript error in the console (``watch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.moderation.services import moderate
from app.posts.models import Post
from tests.support.browser import TIMEOUT_MS, screenshot, sign_in
from tests.support.comments import submit
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(comments_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The local Akismet (tests/support/comments.py); reader limits relaxed; as in production, a reader's
    comment is stored and answered at once, its checks left to the job (which tests run on commit); a
    test's own overrides (``parametrize("app_config", [{...}], indirect=True)``)."""
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0, **getattr(request, "param", {})}


class Watch:
    """What went wrong in a page that a person would not see as a page: console errors, server errors."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.request.method} {r.url}"),
        )
        return page

    def _console(self, message: Any) -> None:
        # Chromium logs every 4xx page as "Failed to load resource"; a refused form (422) is a page the
        # person reads, not an error. 5xx answers are caught from the responses instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text}")


@pytest.fixture
def watch(page: Page) -> Iterator[Watch]:
    seen = Watch()
    seen.attach(page)
    yield seen
    assert seen.errors == []


def _new_page(browser: Browser, live_server: str, watch: Watch, **kw: Any) -> Page:
    context = browser.new_context(
        base_url=live_server, locale="en-GB", timezone_id="UTC", viewport={"width": 1280, "height": 900}, **kw
    )
    context.set_default_timeout(TIMEOUT_MS)
    return watch.attach(context.new_page())


def _comment(session: Session, email: str) -> Comment:
    session.expire_all()
    return session.scalars(select(Comment).where(Comment.author_email == email).order_by(Comment.id)).all()[
        -1
    ]


def _see_it_published(page: Page, comment: Comment, text: str) -> None:
    """The status page the form led to says "Published"; its link shows the comment on the post."""
    expect(page.get_by_role("status")).to_contain_text("Published.")
    page.get_by_role("status").get_by_role("link", name="See it on the page").click()
    expect(page.locator(f"#comment-body-{comment.id}")).to_have_text(text)


def _post(make_post: Callable[..., Post], make_user: Callable[..., Any]) -> Post:
    author = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    return make_post(
        "published",
        author=author,
        title="How much sleep do adults need?",
        body="Adults need *seven hours* of sleep a night. Keep a regular bedtime and a dark, quiet room.",
    )


# --- the reader -----------------------------------------------------------------------------------------


def test_reader_first_time_then_returning_with_javascript(
    page: Page,
    watch: Watch,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    moderator: Any,
) -> None:
    post = _post(make_post, make_user)
    page.goto("/")
    page.get_by_role("link", name="How much sleep do adults need?").click()
    form = page.locator("#comment-form")
    expect(form.locator("input[name=form_token]")).not_to_have_value("")
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill(
        "Does a short nap in the afternoon count towards the seven hours?"
    )
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").dblclick()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your comment")
    expect(page.get_by_role("status")).to_contain_text("awaits review by a moderator")
    expect(page.locator("blockquote.comment-source")).to_have_text(
        "Does a short nap in the afternoon count towards the seven hours?"
    )
    session.expire_all()
    [mine] = session.scalars(select(Comment)).all()
    assert mine.status == "held" and mine.post_id == post.id
    screenshot(page, "walk-reader-first-comment-status")

    # Not on the post yet; once a moderator approves it, the same status page says so and links to it.
    page.get_by_role("main").get_by_role("link", name="How much sleep do adults need?").click()
    expect(page.locator(f"#comment-body-{mine.id}")).to_have_count(0)
    page.go_back()
    moderate(session, moderator, mine, "approve")
    session.commit()
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("Published.")
    page.get_by_role("status").get_by_role("link", name="See it on the page").click()
    expect(page.locator(f"#comment-body-{mine.id}")).to_have_text(
        "Does a short nap in the afternoon count towards the seven hours?"
    )

    # Returning: the next comment is published at once, and the status page the form leads to says so.
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill("Thanks: I will keep naps short and early.")
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").dblclick()
    newest = _comment(session, "ada@example.net")
    assert newest.id != mine.id and newest.status == "published"
    _see_it_published(page, newest, "Thanks: I will keep naps short and early.")
    assert len(session.scalars(select(Comment)).all()) == 2


def test_reader_without_javascript_returning_and_hostile_input(
    browser: Browser,
    live_server: str,
    watch: Watch,
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
) -> None:
    post = _post(make_post, make_user)
    make_user("moderator", name="Malik Reyes")
    publish_reader(post, email="ada@example.net", name="Ada Reader")
    page = _new_page(browser, live_server, watch, java_script_enabled=False)
    page.goto("/")
    page.get_by_role("link", name="How much sleep do adults need?").click()
    form = page.locator("#comment-form")
    # A returning reader, no script: published at once, and shown on the page.
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill("Back again: the dark room helped, thank you.")
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    mine = _comment(session, "ada@example.net")
    assert mine.status == "published"
    _see_it_published(page, mine, "Back again: the dark room helped, thank you.")

    # Huge text past the form's limit (maxlength taken off, as a script could): told, not a 500.
    page.locator("#comment-body").evaluate("el => el.removeAttribute('maxlength')")
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill("sleep " * 40_000)
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(page.locator("#reply-body-error")).to_contain_text("the limit is 5,000")

    # A right-to-left mark in the name is refused, in the form's words (not "author_name").
    page.get_by_role("main").get_by_role("link", name="How much sleep do adults need?").click()
    form.get_by_label("Name").fill("Malik Re\u200fyes")
    form.get_by_label("E-mail", exact=True).fill("fake@example.net")
    form.get_by_label("Comment", exact=True).fill("As the moderator, I say naps count double.")
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(page.locator("#reply-author_name-error")).to_have_text(
        "Error: Name contains bidirectional control characters."
    )
    # A look-alike of a staff name (Cyrillic letters, a zero-width joiner): held, never published.
    reply_form = page.locator("#reply-form")
    reply_form.get_by_label("Name").fill("\u041c\u0430lik\u200d Reyes")
    with page.expect_navigation():
        reply_form.get_by_role("button", name="Post comment").click()
    expect(page.get_by_role("status")).to_contain_text("awaits review")
    assert _comment(session, "fake@example.net").status == "held"
    screenshot(page, "walk-reader-no-js-lookalike")

    # Held for something the reader can fix (a phone number): the status page says why and offers the
    # text back; the corrected version (sent twice) replaces the held one.
    page.get_by_role("main").get_by_role("link", name="How much sleep do adults need?").click()
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill("Call me on (507) 284-2511 to talk about naps.")
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(page.locator("#fixable-heading")).to_have_text("Why it is held, and what you can do")
    held = _comment(session, "ada@example.net")
    assert held.status == "held" and "privacy:phone" in held.reasons
    fix = page.locator("#fix-form")
    expect(fix.get_by_label("Comment", exact=True)).to_have_value(
        "Call me on (507) 284-2511 to talk about naps."
    )
    fix.get_by_label("Comment", exact=True).fill("Happy to talk about naps here instead.")
    with page.expect_navigation():
        fix.get_by_role("button", name="Post comment").dblclick()
    fixed = _comment(session, "ada@example.net")
    _see_it_published(page, fixed, "Happy to talk about naps here instead.")
    # Back to the first status page: it says the reader replaced it (not that a moderator removed it).
    page.go_back()
    page.go_back()
    expect(page.get_by_role("status")).to_contain_text("You replaced this comment with a corrected version")
    page.get_by_role("status").get_by_role("link", name="See the corrected version").click()
    _see_it_published(page, fixed, "Happy to talk about naps here instead.")
    session.expire_all()
    assert session.get(Comment, held.id).status == "deleted"
    assert [c.body for c in session.scalars(select(Comment).where(Comment.body.contains("naps here")))] == [
        "Happy to talk about naps here instead."
    ]


@pytest.mark.parametrize("app_config", [{"JOBS_MODE": "thread"}], indirect=True)
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_reader_waits_on_the_status_page_until_the_checks_land(
    browser: Browser,
    live_server: str,
    watch: Watch,
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    javascript: bool,
) -> None:
    """The checks run as a job: the reader's page says so and reloads by itself (no script needed) until
    the verdict lands. The job runner is held back here, so the test decides when the job runs."""
    app.extensions["candor.consumer"] = "held back by the test"  # the in-process consumer never starts
    post = _post(make_post, make_user)
    page = _new_page(browser, live_server, watch, java_script_enabled=javascript)
    page.goto("/")
    page.get_by_role("link", name="How much sleep do adults need?").click()
    form = page.locator("#comment-form")
    form.get_by_label("Name").fill("Ada Reader")
    form.get_by_label("E-mail", exact=True).fill("ada@example.net")
    form.get_by_label("Comment", exact=True).fill("Is a regular bedtime more important than the hours?")
    with page.expect_navigation():
        form.get_by_role("button", name="Post comment").dblclick()
    expect(page.locator("#comment-checking")).to_contain_text("your comment is being checked")
    mine = _comment(session, "ada@example.net")
    assert len(session.scalars(select(Comment)).all()) == 1
    page.get_by_role("main").get_by_role("link", name="How much sleep do adults need?").click()
    expect(page.locator(f"#comment-body-{mine.id}")).to_have_count(0)
    page.go_back()
    # The job runs; the page, left alone, reloads and shows the verdict.
    with app.app_context():
        app.extensions["candor.tasks"].check_comment.call_local(mine.id)
    expect(page.get_by_role("status")).to_contain_text("awaits review by a moderator", timeout=15_000)
    expect(page.locator("#comment-checking")).to_have_count(0)
    session.expire_all()
    judged = session.get(Comment, mine.id)
    assert judged.reasons == ["first_comment"] and judged.post_id == post.id


# --- the moderator --------------------------------------------------------------------------------------


def _held(app: Flask, session: Session, post: Post, n: int) -> list[Comment]:
    bodies = [
        "Anyone know a good plumber for a leaking boiler in the north end?",
        "Does the seven hours include time spent falling asleep?",
        "Best crypto trading signals, earn $500 a day, DM me on telegram.",
        "My teenager sleeps ten hours; is that too much for a sixteen year old?",
    ]
    return [
        submit(
            app, session, post, author_name=f"Reader {i}", author_email=f"r{i}@example.net", body=bodies[i]
        )
        for i in range(n)
    ]


def _card(page: Page, comment: Comment) -> Any:
    return page.locator(f"#mod-comment-{comment.id}")


def test_moderator_queue_tabs_filters_decisions_and_overrules(
    page: Page,
    browser: Browser,
    live_server: str,
    watch: Watch,
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    moderator: Any,
) -> None:
    post = _post(make_post, make_user)
    plumber, question, crypto, teen = _held(app, session, post, 4)
    assert {c.status for c in (plumber, question, crypto, teen)} == {"held"}

    sign_in(page, moderator.email, PASSWORD)
    page.get_by_role("banner").get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Comments", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Comments: held")
    expect(page.locator(".mod-item")).to_have_count(4)

    # Each tab, then a reason filter and a search, by their links and the search form.
    tabs = page.get_by_role("navigation", name="Comment status")
    for label, heading in [
        ("Published", "published"),
        ("Spam", "spam"),
        ("Deleted", "deleted"),
        ("All", "all"),
    ]:
        tabs.get_by_role("link", name=label).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Comments: {heading}")
    tabs.get_by_role("link", name="Held").click()
    page.get_by_role("navigation", name="Held for").get_by_role("link", name="Off-topic (2)").click()
    expect(page.locator(".mod-item")).to_have_count(2)
    page.get_by_label("Search name, e-mail or text").fill("plumber")
    page.get_by_role("button", name="Search").last.click()
    expect(page.locator(".mod-item")).to_have_count(1)
    page.get_by_label("Search name, e-mail or text").fill("\u202e\u200b<script>")
    page.get_by_role("button", name="Search").last.click()
    expect(page.locator("#queue-empty")).to_be_visible()
    tabs.get_by_role("link", name="Held").click()

    # Decide one: a double-click approves once.
    with page.expect_navigation():
        _card(page, question).get_by_role("button", name="Approve").dblclick()
    expect(page.get_by_role("status")).to_contain_text(f"Comment {question.id} by Reader 1: approved.")
    expect(_card(page, question)).to_have_count(0)

    # The back button does not bring the decided comment back: the queue is fetched afresh, not cached.
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Comments: held")
    expect(page.locator(".mod-item")).to_have_count(3)
    expect(_card(page, question)).to_have_count(0)

    # Two more tabs on the same queue; the first tab approves the teenager's question. The stale tabs are
    # told it was decided meanwhile, and cannot overturn it without seeing it: not spam, not off-topic.
    page.get_by_role("navigation", name="Comment status").get_by_role("link", name="Held").click()
    stale = [_new_page(browser, live_server, watch, storage_state=page.context.storage_state()) for _ in "ab"]
    for tab in stale:
        tab.goto(page.url)
    with page.expect_navigation():
        _card(page, teen).get_by_role("button", name="Approve").click()
    with stale[0].expect_navigation():
        _card(stale[0], teen).get_by_role("button", name="Spam", exact=True).click()
    expect(stale[0].locator("#confirm-notice")).to_have_text(
        f"Comment {teen.id} is published now: it was decided on since your page was loaded."
    )
    expect(stale[0].locator("#confirm-form")).to_have_count(0)
    with stale[1].expect_navigation():
        _card(stale[1], teen).get_by_role("button", name="Off-topic").click()
    expect(stale[1].get_by_role("status")).to_contain_text(f"Comment {teen.id} is published now, not held")
    expect(stale[1].get_by_role("heading", level=1)).to_have_text("Comments: held")
    expect(_card(stale[1], teen)).to_have_count(0)
    session.expire_all()
    assert session.get(Comment, teen.id).status == "published"

    # Several at once: the plumber and the crypto seller are sent away as off-topic.
    page.get_by_role("navigation", name="Comment status").get_by_role("link", name="Held").click()
    page.get_by_label(f"Select comment {plumber.id}").check()
    page.get_by_label(f"Select comment {crypto.id}").check()
    page.get_by_label("With the selected comments").select_option(label="Off-topic")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply to selected").dblclick()
    page.wait_for_load_state("networkidle")  # the second click's request, if one went, has answered too
    expect(page.get_by_role("status")).to_contain_text("2 comments")
    expect(page.locator("#queue-empty")).to_be_visible()

    # Undo: the plumber was fine after all; restored from the Deleted tab.
    page.get_by_role("navigation", name="Comment status").get_by_role("link", name="Deleted").click()
    with page.expect_navigation():
        _card(page, plumber).get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("approved")

    # Spam after all for the crypto seller (confirmed on a page), then undone from the Spam tab.
    with page.expect_navigation():
        _card(page, crypto).get_by_role("button", name="Spam", exact=True).click()
    with page.expect_navigation():
        page.locator("#confirm-form button").dblclick()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("status")).to_contain_text(f"Comment {crypto.id} by Reader 2: marked spam.")
    page.get_by_role("navigation", name="Comment status").get_by_role("link", name="Spam (1)").click()
    with page.expect_navigation():
        _card(page, crypto).get_by_role("button", name="Not spam").click()
    expect(page.get_by_role("status")).to_contain_text(f"Comment {crypto.id} by Reader 2: marked not spam.")
    expect(page.locator("#queue-empty")).to_be_visible()

    # The filter's overruled figures.
    page.get_by_role("navigation", name="Moderation").get_by_role("link", name="Off-topic filter").click()
    expect(page.locator("#filter-overall")).to_have_text(
        "Overruled 2 of 6 decisions (33\u00a0%): 2 held but approved, 0 let through but removed."
    )
    row = page.locator(f"#filter-per-post tr[data-post='{post.id}']")
    assert [row.locator("th, td").nth(i).inner_text() for i in range(5)] == [
        "How much sleep do adults need?",
        "6",
        "2",
        "0",
        "33\u00a0%",
    ]
    session.expire_all()
    statuses = {c.id: c.status for c in session.scalars(select(Comment))}
    assert statuses == {
        plumber.id: "published",
        question.id: "published",
        crypto.id: "published",
        teen.id: "published",
    }
    screenshot(page, "walk-moderator-filter")


# --- staff ----------------------------------------------------------------------------------------------


def test_blogger_replies_under_their_verified_name_and_a_lookalike_is_held(
    page: Page,
    browser: Browser,
    live_server: str,
    watch: Watch,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
) -> None:
    blogger = make_user("author", name="Dr Ada Okafor", title="Sleep physician", department="Sleep Medicine")
    post = make_post(
        "published",
        author=blogger,
        title="How much sleep do adults need?",
        body="Adults need *seven hours* of sleep a night. Keep a regular bedtime and a dark, quiet room.",
    )
    question = publish_reader(
        post, email="bo@example.net", name="Bo Reader", body="Is seven hours a minimum?"
    )

    sign_in(page, blogger.email, PASSWORD)
    page.get_by_role("link", name="Posts", exact=True).first.click()
    page.get_by_role("link", name="How much sleep do adults need?").click()
    page.locator(f"#comment-{question.id}").get_by_role("link", name="Reply").first.click()
    expect(page.locator(".staff-writer")).to_contain_text("Dr Ada Okafor")
    page.get_by_label("Your reply").fill("Seven hours is the least most adults need; some need nine.")
    with page.expect_navigation():
        page.get_by_role("button", name="Post reply").dblclick()
    session.expire_all()
    replies = session.scalars(select(Comment).where(Comment.staff_user_id == blogger.id)).all()
    assert [c.status for c in replies] == ["published"]
    reply = page.locator(f"#comment-{question.id} .comment-staff")
    expect(reply.locator(".staff-badge")).to_contain_text("Staff")
    expect(reply).to_contain_text("Dr Ada Okafor")
    expect(page.locator(f"#comment-body-{replies[0].id}")).to_have_text(
        "Seven hours is the least most adults need; some need nine."
    )

    # A reader borrowing the blogger's name in look-alike letters (Cyrillic a, fullwidth O, zero-width
    # space): held for a moderator, never shown with the name it imitates.
    reader = _new_page(browser, live_server, watch)
    reader.goto("/")
    reader.get_by_role("link", name="How much sleep do adults need?").click()
    form = reader.locator("#comment-form")
    form.get_by_label("Name").fill("Dr \u0410da \uff2fka\u200bfor")
    form.get_by_label("E-mail", exact=True).fill("fake@example.net")
    form.get_by_label("Comment", exact=True).fill("Officially: sleep is optional.")
    with reader.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(reader.get_by_role("status")).to_contain_text("awaits review")
    fake = _comment(session, "fake@example.net")
    assert fake.status == "held" and any(r.startswith("impersonat") for r in fake.reasons), fake.reasons


def test_a_moderator_deactivated_mid_session_can_decide_nothing_more(
    page: Page,
    browser: Browser,
    live_server: str,
    watch: Watch,
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    moderator: Any,
) -> None:
    post = _post(make_post, make_user)
    plumber, question = _held(app, session, post, 2)
    admin = make_user("admin", name="Ava Admin")
    sign_in(page, moderator.email, PASSWORD)
    page.get_by_role("banner").get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Comments", exact=True).first.click()
    expect(page.locator(".mod-item")).to_have_count(2)

    desk = _new_page(browser, live_server, watch)
    sign_in(desk, admin.email, PASSWORD)
    desk.get_by_role("banner").get_by_role("link", name="Staff").click()
    desk.get_by_role("navigation", name="Staff").get_by_role("link", name="Staff accounts").click()
    desk.get_by_role("link", name="Malik Reyes").click()
    desk.get_by_role("link", name="Deactivate this account…").click()
    with desk.expect_navigation():
        desk.get_by_role("button", name="Deactivate Malik Reyes").dblclick()
    expect(desk.locator("#account-status")).to_contain_text("Deactivated")

    # The moderator's open queue: approving now signs them out, it decides nothing.
    with page.expect_navigation():
        _card(page, question).get_by_role("button", name="Approve").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("banner")).not_to_contain_text("Malik Reyes")
    session.expire_all()
    assert {session.get(Comment, c.id).status for c in (plumber, question)} == {"held"}
    # Signing in again is refused.
    page.goto("/login")
    page.get_by_label("E-mail").fill(moderator.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("banner")).not_to_contain_text("Malik Reyes")


def test_admin_changes_the_off_topic_threshold_and_mode(
    page: Page,
    browser: Browser,
    live_server: str,
    watch: Watch,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., Any],
    publish_reader: Callable[..., Comment],
) -> None:
    post = _post(make_post, make_user)
    publish_reader(post, email="pat@example.net", name="Pat Reader")
    admin = make_user("admin", name="Ava Admin")
    sign_in(page, admin.email, PASSWORD)
    page.get_by_role("banner").get_by_role("link", name="Staff").click()
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Site settings").click()
    threshold = page.get_by_label("Off-topic threshold")
    expect(threshold).to_have_value("52")
    expect(page.get_by_label("Hold suspected off-topic comments")).to_be_checked()
    for bad in ("0", "100", "52.5", "\uff15\uff12", "9" * 400):
        threshold.fill(bad)
        with page.expect_navigation():
            page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("alert")).to_contain_text("Not saved")
        expect(page.locator("#offtopic_threshold-error")).to_contain_text("whole number from 1 to 99")
    threshold.fill("60")
    page.get_by_label("Log only: hold nothing for it").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").dblclick()
    expect(page.locator("#settings-saved")).to_be_visible()
    expect(page.get_by_label("Log only: hold nothing for it")).to_be_checked()
    expect(threshold).to_have_value("60")
    history = page.locator("#settings-history tbody tr")
    assert sorted(history.nth(i).get_attribute("data-key") for i in range(history.count())) == [
        "offtopic_mode",
        "offtopic_threshold",
    ]

    # A returning reader's off-topic comment: published in log mode, its checks say it would have been held.
    reader = _new_page(browser, live_server, watch)
    reader.goto("/")
    reader.get_by_role("link", name="How much sleep do adults need?").click()
    form = reader.locator("#comment-form")
    form.get_by_label("Name").fill("Pat Reader")
    form.get_by_label("E-mail", exact=True).fill("pat@example.net")
    form.get_by_label("Comment", exact=True).fill(
        "Anyone know a good plumber for a leaking boiler in the north end?"
    )
    with reader.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    logged = _comment(session, "pat@example.net")
    assert logged.status == "published" and "off_topic" not in logged.reasons
    assert any("log only" in c["detail"] for c in logged.checks if c["check"] == "off_topic")
    _see_it_published(reader, logged, "Anyone know a good plumber for a leaking boiler in the north end?")

    # Back to hold: the next one waits for a moderator.
    page.get_by_label("Hold suspected off-topic comments").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-saved")).to_have_text("Saved: 1 setting changed.")
    form.get_by_label("Name").fill("Pat Reader")
    form.get_by_label("E-mail", exact=True).fill("pat@example.net")
    form.get_by_label("Comment", exact=True).fill(
        "Can anyone recommend a plumber? My boiler is leaking again."
    )
    with reader.expect_navigation():
        form.get_by_role("button", name="Post comment").click()
    expect(reader.get_by_role("status")).to_contain_text("awaits review")
    held = _comment(session, "pat@example.net")
    assert held.status == "held" and "off_topic" in held.reasons
