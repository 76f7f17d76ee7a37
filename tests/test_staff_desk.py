"""The staff desk (issue 10): each role's dashboard and navigation, the post list, confirmation steps,
POST/redirect/GET on every staff form, and the Edit link on public pages (never cached for readers).

Pages are fetched over the test client and parsed; every form is posted with the page's CSRF token.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments.models import Comment
from app.contact import services as contact
from app.corrections import services as corrections
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.media import services as media
from app.media.storage import DatabaseStore
from app.posts import services as posts
from app.posts.models import Post
from app.topics import services as topics
from tests.support.web import PASSWORD, form_csrf_token, log_in, parse, text_of


class Desk:
    """One signed-in member of staff's browser."""

    def __init__(self, app: Flask, user: User) -> None:
        self.client = app.test_client()
        assert log_in(self.client, user.email).status_code == 302
        self.token = form_csrf_token(self.client, "/staff/")

    def get(self, path: str, status: int = 200) -> BeautifulSoup:
        response = self.client.get(path)
        assert response.status_code == status, parse(response).get_text(" ", strip=True)[:2000]
        return parse(response)

    def post(self, path: str, data: dict[str, Any], status: int = 303) -> Any:
        response = self.client.post(path, data={"csrf_token": self.token, **data})
        assert response.status_code == status, parse(response).get_text(" ", strip=True)[:2000]
        return response


def _nav(soup: BeautifulSoup) -> dict[str, str]:
    """The staff navigation: key -> href."""
    return {a["data-nav"]: a["href"] for a in soup.select('nav[aria-label="Staff"] a[data-nav]')}


def _work(soup: BeautifulSoup) -> dict[str, tuple[int | None, str]]:
    """The dashboard's work cards: key -> (count or None, href)."""
    found = {}
    for li in soup.select("#work li[data-work]"):
        count = li.select_one(".work-count")
        found[li["data-work"]] = (int(count.get_text()) if count else None, li.a["href"])
    return found


def _location(response: Any) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(response.headers["Location"])
    return parts.path, parse_qs(parts.query)


@pytest.fixture
def cast(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "author": make_user("author", name="Ada Author", title="Physician", department="Sleep"),
        "other": make_user("author", name="Ben Other", title="Nurse", department="Wards"),
        "editor": make_user("editor", name="Edith Editor", title="Reviewer", department="Public Affairs"),
        "moderator": make_user("moderator", name="Mo Moderator"),
        "admin": make_user("admin", name="Ann Admin"),
    }


def _png(size: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (size, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def desk_seed(
    session: Session, cast: dict[str, User], make_post: Callable[..., Post], gate_settings: GateSettings
) -> dict[str, Any]:
    """Ada: two drafts, one in review, one sent back, one published with a reader's error report.
    Ben: one in review. Readers: a held comment, a contact message."""
    from app.comments import services as comment_services
    from app.spam.akismet_adapter import AkismetChecker, AkismetSettings
    from app.spam.pipeline import PipelineSettings

    ada, ben, editor = cast["author"], cast["other"], cast["editor"]
    drafts = [make_post("draft", author=ada, title=f"Ada draft {n}") for n in (1, 2)]
    in_review = make_post("in_review", author=ada, title="Ada in review")
    sent_back = make_post("in_review", author=ada, title="Ada sent back")
    editorial.request_changes(session, editor, sent_back, "Add a source.")
    published = make_post("published", author=ada, title="Ada published 50% off")
    bens = make_post("in_review", author=ben, title="Ben in review")
    report = corrections.report_error(
        session, published, what="The dose is wrong.", source="", email="", ip="192.0.2.1"
    )
    held = comment_services.submit_comment(
        session,
        published,
        comment_services.CommentInput(
            author_name="Rosa Reader", author_email="rosa@example.org", body="Call me on (507) 284-2511."
        ),
        actor=None,
        checker=AkismetChecker(AkismetSettings(api_key=None, blog_url="http://blog.example.org/")),
        settings=PipelineSettings(min_seconds=0),
    )
    message = contact.submit(
        session,
        contact.ContactInput("Cy Reader", "cy@example.org", "Hours", "When are you open?"),
        min_seconds=0,
    )
    images = [
        media.upload(
            session,
            ada,
            io.BytesIO(_png(size)),
            name=f"{size}.png",
            alt="",
            decorative=False,
            shows_patient=True,
            store=DatabaseStore(),
            limits=media.Limits(10**7, 10**7),
        )[0]
        for size in (30, 40)
    ]
    session.commit()
    return {
        "images": images,
        "drafts": drafts,
        "in_review": in_review,
        "sent_back": sent_back,
        "published": published,
        "bens": bens,
        "report": report,
        "held": held,
        "message": message,
    }


# --- each role's desk ------------------------------------------------------------------------------------


def test_an_author_sees_their_drafts_reviews_sent_back_posts_and_error_reports(
    app: Flask, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    me = Desk(app, cast["author"])
    page = me.get("/staff/")
    assert set(_nav(page)) == {
        "dashboard",
        "new",
        "search",
        "errors",
        "media",
        "disclosure",
        "audit",
        "sites",
        "tokens",
        "password",
        "me",
    }
    work = _work(page)
    assert work["drafts"] == (2, "/staff/#group-draft")
    assert work["in_review"] == (1, "/staff/#group-in_review")
    assert work["changes_requested"] == (1, "/staff/#group-changes_requested")
    assert work["reports"] == (1, "/staff/error-reports")
    assert {"review_queue", "comment_queue", "users"}.isdisjoint(work)
    # The links lead somewhere real: each anchor is a section on the page, the reports page lists the report.
    for key in ("drafts", "in_review", "changes_requested"):
        assert page.select_one(work[key][1].split("/staff/")[1]) is not None
    assert "The dose is wrong." in text_of(me.get(work["reports"][1]), ".report")


def test_an_editor_sees_the_review_queue_all_posts_scheduled_posts_and_error_reports(
    app: Flask,
    session: Session,
    cast: dict[str, User],
    desk_seed: dict[str, Any],
    gate_settings: GateSettings,
) -> None:
    from datetime import UTC, datetime

    bens = desk_seed["bens"]
    editorial.approve(
        session, cast["editor"], bens, 1, gate_settings, publish_at=datetime(2999, 1, 1, tzinfo=UTC)
    )
    session.commit()
    ed = Desk(app, cast["editor"])
    page = ed.get("/staff/")
    assert set(_nav(page)) == {
        "dashboard",
        "reviews",
        "search",
        "topics",
        "posts",
        "due",
        "errors",
        "media",
        "disclosure",
        "audit",
        "sites",
        "tokens",
        "password",
        "me",
    }
    work = _work(page)
    assert work["review_queue"] == (1, "/staff/reviews")
    assert work["all_posts"] == (6, "/staff/posts")
    assert work["scheduled"] == (1, "/staff/posts?state=scheduled")
    assert work["reports"] == (1, "/staff/error-reports")
    assert "drafts" not in work  # an editor who does not write has no drafts card
    scheduled = ed.get(work["scheduled"][1])
    assert [int(r["data-post-id"]) for r in scheduled.select("#post-list tbody tr")] == [bens.id]


def test_a_moderator_sees_the_comment_queue_needs_reply_and_contact_messages(
    app: Flask, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    mod = Desk(app, cast["moderator"])
    page = mod.get("/staff/")
    assert set(_nav(page)) == {
        "dashboard",
        "search",
        "comments",
        "disclosure",
        "audit",
        "sites",
        "tokens",
        "password",
        "me",
    }
    work = _work(page)
    assert work["comment_queue"] == (1, "/staff/comments/")
    assert work["needs_reply"] == (1, "/staff/comments/needs-reply")
    assert work["contact"] == (1, "/staff/contact/")
    queue = mod.get(work["comment_queue"][1])
    assert queue.select_one(f"#mod-comment-{desk_seed['held'].id}") is not None
    assert "Cy Reader" in mod.get(work["contact"][1]).select_one("main").get_text()


def test_an_admin_is_linked_to_staff_administration_and_settings_and_others_are_not(
    app: Flask, cast: dict[str, User], make_user: Callable[..., User]
) -> None:
    admin_page = Desk(app, cast["admin"]).get("/staff/")
    nav = _nav(admin_page)
    assert nav["users"] == "/staff/users" and nav["settings"] == "/staff/settings"
    assert _work(admin_page)["users"] == (None, "/staff/users")
    assert _work(admin_page)["settings"] == (None, "/staff/settings")
    author = make_user("author", name="Ada Author")
    author_nav = _nav(Desk(app, author).get("/staff/"))
    assert {"users", "settings"}.isdisjoint(author_nav)
    assert author_nav["tokens"] == "/staff/tokens" and author_nav["password"] == "/staff/password"


def test_signing_in_lands_on_the_dashboard_unless_a_page_asked(app: Flask, cast: dict[str, User]) -> None:
    for target, lands in (
        (None, "/staff/"),
        ("/staff/reviews", "/staff/reviews"),
        ("/\\evil.example", "/staff/"),
        ("/\t/evil.example", "/staff/"),
        ("/\n/evil.example", "/staff/"),
        ("/staff/posts?q=a b", "/staff/"),
    ):
        client = app.test_client()
        token = form_csrf_token(client, "/login")
        response = client.post(
            "/login",
            query_string={"next": target} if target else {},
            data={"email": cast["editor"].email, "password": PASSWORD, "csrf_token": token},
        )
        assert response.headers["Location"] == lands


# --- the post list ----------------------------------------------------------------------------------------


def _listed(soup: BeautifulSoup) -> list[int]:
    return [int(r["data-post-id"]) for r in soup.select("#post-list tbody tr")]


def test_the_post_list_filters_by_state_author_and_title(
    app: Flask, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    ed = Desk(app, cast["editor"])
    s = desk_seed
    everything = _listed(ed.get("/staff/posts"))
    assert len(everything) == 6
    assert _listed(ed.get("/staff/posts?state=in_review")) == [s["bens"].id, s["in_review"].id]
    assert _listed(ed.get("/staff/posts?state=draft")) == [p.id for p in reversed(s["drafts"])]
    assert _listed(ed.get(f"/staff/posts?author={cast['other'].id}")) == [s["bens"].id]
    assert _listed(ed.get("/staff/posts?q=ADA+DRAFT")) == [p.id for p in reversed(s["drafts"])]
    # The search is literal: % and _ are characters, not wildcards.
    assert _listed(ed.get("/staff/posts?q=50%25")) == [s["published"].id]
    assert _listed(ed.get("/staff/posts?q=%25%25")) == []
    combined = ed.get(f"/staff/posts?state=in_review&author={cast['author'].id}&q=review")
    assert _listed(combined) == [s["in_review"].id]
    # The form shows the filters it applied.
    assert combined.select_one("#filter-state option[selected]")["value"] == "in_review"
    assert combined.select_one("#filter-author option[selected]")["value"] == str(cast["author"].id)
    assert combined.select_one("#filter-q")["value"] == "review"
    assert ed.get("/staff/posts?q=nothing+like+this").select_one("#no-posts") is not None


def test_the_post_list_is_paginated_keeping_its_filters(
    app: Flask, cast: dict[str, User], desk_seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.staff import views

    monkeypatch.setattr(views, "POSTS_PER_PAGE", 2)
    ed = Desk(app, cast["editor"])
    seen: list[int] = []
    path: str | None = f"/staff/posts?author={cast['author'].id}"
    while path:
        page = ed.get(path)
        seen += _listed(page)
        older = page.select_one('.pager a[rel="next"]')
        path = older["href"] if older else None
        if path:
            assert parse_qs(urlsplit(path).query)["author"] == [str(cast["author"].id)]
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    "query",
    ["state=nonsense", "author=abc", "author=-1", "author=99999999999999", "q=%00", "page=0", "page=x"],
)
def test_the_post_list_refuses_bad_filters_without_a_500(
    app: Flask, cast: dict[str, User], query: str
) -> None:
    response = Desk(app, cast["editor"]).client.get(f"/staff/posts?{query}")
    assert response.status_code in (404, 422)


def test_the_post_list_is_for_editors(app: Flask, cast: dict[str, User]) -> None:
    for role in ("author", "moderator", "admin"):
        Desk(app, cast[role]).get("/staff/posts", status=403)


def test_the_post_list_survives_hostile_search_text(app: Flask, cast: dict[str, User]) -> None:
    ed = Desk(app, cast["editor"])
    for q in ("x" * 5000, "ａｄａ", "\u202eada", "[[[", "' OR 1=1 --", "\\"):
        assert ed.client.get("/staff/posts", query_string={"q": q}).status_code in (200, 422)


# --- the Edit link on public pages ------------------------------------------------------------------------


def test_staff_who_may_revise_see_an_edit_link_that_is_never_cached_for_readers(
    app: Flask, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    post = desk_seed["published"]
    path = f"/posts/{post.slug}"
    reader = app.test_client()
    first = reader.get(path)
    assert parse(first).select_one("#staff-edit") is None
    author = Desk(app, cast["author"])
    mine = author.client.get(path)
    assert (
        "X-Candor-Cache" not in mine.headers
    )  # a signed-in page is neither served from nor put in the cache
    assert parse(mine).select_one("#staff-edit a")["href"] == f"/staff/posts/{post.id}/edit"
    assert parse(Desk(app, cast["editor"]).client.get(path)).select_one("#staff-edit a") is not None
    assert parse(Desk(app, cast["moderator"]).client.get(path)).select_one("#staff-edit") is None
    assert parse(Desk(app, cast["other"]).client.get(path)).select_one("#staff-edit") is None
    again = app.test_client().get(path)
    assert again.headers["X-Candor-Cache"] == "hit"
    assert parse(again).select_one("#staff-edit") is None
    assert parse(again).select_one(".signed-in") is None
    # Drafts stay unpublished for staff too: no address, so no page to put a link on.
    assert author.client.get("/posts/ada-draft-1").status_code == 404


# --- confirmation steps and POST/redirect/GET -------------------------------------------------------------


def test_approval_is_confirmed_on_a_page_that_says_what_will_happen(
    app: Flask, session: Session, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    post = desk_seed["bens"]
    ed = Desk(app, cast["editor"])
    review = ed.get(f"/staff/reviews/{post.id}")
    form = review.select_one("#approve-form")
    assert form["method"] == "get" and form["action"] == f"/staff/reviews/{post.id}/approve"
    confirm = ed.get(f"/staff/reviews/{post.id}/approve?revision=1&publish_at=")
    assert "is published now" in text_of(confirm, "#confirm")
    assert confirm.select_one('#confirm-form input[name="confirm"]')["value"] == "yes"
    # Posting without the confirmation changes nothing and leads to the question.
    unconfirmed = ed.post(f"/staff/reviews/{post.id}/approve", {"revision": "1", "publish_at": ""})
    assert _location(unconfirmed) == (f"/staff/reviews/{post.id}/approve", {"revision": ["1"]})
    session.expire_all()
    assert post.status == "in_review"
    hidden = {i["name"]: i["value"] for i in confirm.select("#confirm-form input[type=hidden]")}
    done = ed.client.post(confirm.select_one("#confirm-form")["action"], data=hidden)
    assert done.status_code == 303 and _location(done)[0] == "/staff/reviews"
    session.expire_all()
    assert post.status == "published"


def test_retraction_and_withdrawal_are_confirmed(
    app: Flask, session: Session, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    published, in_review = desk_seed["published"], desk_seed["in_review"]
    ed, me = Desk(app, cast["editor"]), Desk(app, cast["author"])
    assert ed.get(f"/staff/reviews/{published.id}").select_one("#retract-form")["method"] == "get"
    unconfirmed = ed.post(f"/staff/reviews/{published.id}/retract", {"reason": "The study was withdrawn."})
    path, query = _location(unconfirmed)
    assert path == f"/staff/reviews/{published.id}/retract" and query["reason"] == [
        "The study was withdrawn."
    ]
    confirm = ed.get(unconfirmed.headers["Location"])
    assert "cannot be revised or published again" in text_of(confirm, "#confirm")
    assert confirm.select_one("#confirm-form textarea#reason").get_text() == "The study was withdrawn."
    session.expire_all()
    assert not published.is_retracted
    ed.post(
        f"/staff/reviews/{published.id}/retract", {"reason": "The study was withdrawn.", "confirm": "yes"}
    )
    session.expire_all()
    assert published.is_retracted

    assert me.get(f"/staff/posts/{in_review.id}/edit").select_one("#withdraw-link") is not None
    assert "leaves the editors’ review queue" in text_of(
        me.get(f"/staff/posts/{in_review.id}/withdraw"), "#confirm"
    )
    assert (
        _location(me.post(f"/staff/posts/{in_review.id}/withdraw", {}))[0]
        == f"/staff/posts/{in_review.id}/withdraw"
    )
    session.expire_all()
    assert in_review.status == "in_review"
    me.post(f"/staff/posts/{in_review.id}/withdraw", {"confirm": "yes"})
    session.expire_all()
    assert in_review.status == "draft"


def test_spam_and_delete_are_confirmed_one_at_a_time_and_in_bulk(
    app: Flask, session: Session, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    held = desk_seed["held"]
    mod = Desk(app, cast["moderator"])
    step = mod.post(f"/staff/comments/{held.id}/moderate", {"action": "spam", "next": "/staff/comments/"})
    path, query = _location(step)
    assert path == f"/staff/comments/{held.id}/confirm" and query["action"] == ["spam"]
    confirm = mod.get(step.headers["Location"])
    assert "Akismet is told it was spam" in text_of(confirm, "#confirm")
    session.expire_all()
    assert session.get(Comment, held.id).status == "held"

    bulk = mod.post("/staff/comments/bulk", {"action": "delete", "comment_ids": [str(held.id)]})
    path, query = _location(bulk)
    assert path == "/staff/comments/bulk/confirm" and query["comment_ids"] == [str(held.id)]
    page = mod.get(bulk.headers["Location"])
    assert f"{held.id} by Rosa Reader" in text_of(page, "#confirm")
    data = {i["name"]: i["value"] for i in page.select("#confirm-form input[type=hidden]")}
    done = mod.client.post("/staff/comments/bulk", data=data)
    assert done.status_code == 303
    session.expire_all()
    assert session.get(Comment, held.id).status == "deleted"
    # Approving needs no question: it is undone by a later decision.
    assert (
        mod.post("/staff/comments/bulk", {"action": "approve", "comment_ids": [str(held.id)]}).status_code
        == 303
    )


def test_deciding_an_error_report_is_confirmed(
    app: Flask, session: Session, cast: dict[str, User], desk_seed: dict[str, Any]
) -> None:
    report = desk_seed["report"]
    me = Desk(app, cast["author"])
    step = me.post(f"/staff/error-reports/{report.id}/decline", {"reason": "The dose is right."})
    assert _location(step) == (
        f"/staff/error-reports/{report.id}/decline",
        {"reason": ["The dose is right."]},
    )
    assert "A decision on a report is final." in text_of(me.get(step.headers["Location"]), "#confirm")
    session.expire_all()
    assert report.state == "open"
    me.post(f"/staff/error-reports/{report.id}/decline", {"reason": "The dose is right.", "confirm": "yes"})
    session.expire_all()
    assert report.state == "declined"
    # Someone else's report is not theirs to decide, nor to see a confirmation for.
    Desk(app, cast["other"]).get(f"/staff/error-reports/{report.id}/decline?reason=x", status=403)


# Every staff POST route, with the form a browser would send on its success path. A staff POST answering
# 2xx with HTML would mean a reload re-sends it: each must redirect (or refuse with 4xx).
# The editor's preview is the one exception, on purpose: it changes nothing and its input (up to 200,000
# characters of Markdown) cannot travel in a redirect; reloading it only previews again.
# The redaction form's first step (what will be removed, before anything is) is a page answering a POST
# for the same reason, and one more: the text to remove is a patient identifier, which must never travel
# in a URL (access logs keep URLs). Its confirmed step redirects, and is walked below.
PREVIEW_EXEMPT = {"staff.new_post", "staff.edit_post", "redaction.new"}


def _a_word_of(post: Post) -> str:
    import re

    revision = post.published_revision
    assert revision is not None
    return re.findall(r"[A-Za-z]{6,}", revision.body)[0]


def _post_forms(s: dict[str, Any], cast: dict[str, User]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    published, bens, held = s["published"], s["bens"], s["held"]
    draft = s["drafts"][0]
    body = {"title": "A title", "body": "Some text.", "references": "https://example.org/x", "action": "save"}
    return {
        "staff.new_post": [("/staff/posts/new", body)],
        "staff.edit_post": [(f"/staff/posts/{draft.id}/edit", {**body, "base_revision": "1"})],
        "staff.submit_post": [(f"/staff/posts/{draft.id}/submit", {})],
        "staff.withdraw_post": [
            (f"/staff/posts/{s['in_review'].id}/withdraw", {}),
            (f"/staff/posts/{s['in_review'].id}/withdraw", {"confirm": "yes"}),
        ],
        "staff.approve_post": [
            (f"/staff/reviews/{bens.id}/approve", {"revision": "1"}),
            (f"/staff/reviews/{bens.id}/approve", {"revision": "1", "confirm": "yes"}),
        ],
        "staff.request_changes": [(f"/staff/reviews/{s['extra'].id}/request-changes", {"note": "More."})],
        "staff.override_gate": [
            (
                f"/staff/reviews/{bens.id}/override",
                {"revision": "1", "gate": "references", "justification": "Fine."},
            )
        ],
        "staff.disclosure": [("/staff/disclosure", {"no_conflicts": "yes"})],
        "staff.close_comments": [(f"/staff/posts/{published.id}/comments/close", {"reason": "Enough."})],
        "staff.reopen_comments": [(f"/staff/posts/{published.id}/comments/reopen", {})],
        "topics.staff_topics": [("/staff/topics", {"new-name": "Desk topic"})],
        "topics.rename_topic": [(f"/staff/topics/{s['topic'].id}", {f"t{s['topic'].id}-name": "Renamed"})],
        "staff.my_settings": [("/staff/me", {"timezone": "Europe/London"})],
        "medical.mark": [(f"/staff/posts/{published.id}/health", {"health": "yes"})],
        "medical.record": [
            (
                f"/staff/posts/{published.id}/medical-reviews",
                {"reviewer_id": str(cast["editor"].id), "reviewed_on": "2020-01-05", "due_on": "2021-01-05"},
            )
        ],
        "moderation.moderate": [
            (f"/staff/comments/{held.id}/moderate", {"action": "spam"}),
            (f"/staff/comments/{held.id}/moderate", {"action": "approve"}),
        ],
        "moderation.reply": [(f"/staff/comments/{held.id}/reply", {"body": "Thanks."})],
        "moderation.no_reply_needed": [(f"/staff/comments/{held.id}/no-reply-needed", {})],
        "moderation.bulk": [
            ("/staff/comments/bulk", {"action": "delete", "comment_ids": [str(held.id)]}),
            ("/staff/comments/bulk", {"action": "delete", "comment_ids": [str(held.id)], "confirm": "yes"}),
        ],
        "contact_desk.reply": [(f"/staff/contact/{s['message'].id}/reply", {"body": "We open at nine."})],
        "contact_desk.status": [(f"/staff/contact/{s['message'].id}/status", {"status": "closed"})],
        "corrections.accept": [
            (f"/staff/error-reports/{s['report'].id}/accept", {"correction_revision": "1"})
        ],
        "corrections.decline": [
            (f"/staff/error-reports/{s['report'].id}/decline", {"reason": "No."}),
            (f"/staff/error-reports/{s['report'].id}/decline", {"reason": "No.", "confirm": "yes"}),
        ],
        "staff.retract_post": [
            (f"/staff/reviews/{published.id}/retract", {"reason": "Wrong."}),
            (f"/staff/reviews/{published.id}/retract", {"reason": "Wrong.", "confirm": "yes"}),
        ],
        "people.password": [("/staff/password", {"current_password": PASSWORD, "password": "x"})],
        "people.create_token": [("/staff/tokens", {"name": "Newsletter", "days": "30"})],
        "people.revoke_token": [("/staff/tokens/999999/revoke", {})],
        "people.new_user": [
            (
                "/staff/users/new",
                {"email": "new.person@clinic.example", "name": "New Person", "roles": "author"},
            )
        ],
        "people.user": [
            (
                f"/staff/users/{cast['author'].id}",
                {"email": cast["author"].email, "name": "Ada Renamed", "title": "Nurse"},
            )
        ],
        "people.user_roles": [(f"/staff/users/{cast['other'].id}/roles", {"roles": ["author", "editor"]})],
        "people.deactivate": [
            (f"/staff/users/{cast['other'].id}/deactivate", {}),
            (f"/staff/users/{cast['other'].id}/deactivate", {"confirm": "yes"}),
        ],
        "people.reactivate": [(f"/staff/users/{cast['other'].id}/reactivate", {})],
        "people.send_reset": [(f"/staff/users/{cast['other'].id}/reset-link", {})],
        "people.revoke_user_token": [(f"/staff/users/{cast['other'].id}/tokens/999999/revoke", {})],
        "settings.edit": [
            (
                "/staff/settings",
                {
                    "site_name": "Candor Clinic Blog",
                    "organisation": "the Clinic",
                    "privacy_terms": "",
                    "privacy_allow": "",
                    "blocked_link_hosts": "",
                    "comment_rate_limit": "10 per minute",
                    "comment_burst": "3",
                    "comment_max_links": "2",
                    "offtopic_threshold": "70",
                    "offtopic_mode": "hold",
                    "offtopic_small_blog": "flag",
                },
            )
        ],
        "redaction.new": [
            (
                f"/staff/redactions/new/revision/{published.published_revision_id}",
                {"text": _a_word_of(published), "reason": "Names a patient.", "confirmed": "1"},
            )
        ],
        "redaction.confirm": [("/staff/redactions/999999/confirm", {})],
        "media.library": [("/staff/media", {"file": (io.BytesIO(_png(50)), "new.png"), "alt": "A chart"})],
        "media.item": [(f"/staff/media/{s['images'][0].id}", {"alt": "Described", "shows_patient": "1"})],
        "media.consent": [
            (
                f"/staff/media/{s['images'][0].id}/consents",
                {
                    "form_reference": "CF-1",
                    "consented_on": "2026-01-01",
                    "expires_on": "2027-01-01",
                    "scopes": "web",
                },
            )
        ],
        "media.delete": [
            (f"/staff/media/{s['images'][1].id}/delete", {}),
            (f"/staff/media/{s['images'][1].id}/delete", {"confirm": "yes"}),
        ],
        # Approved external sites (issue 12): the first site of a fresh database is number 1.
        "sites_desk.propose": [
            (
                "/staff/external-sites/new",
                {"name": "Vimeo", "kind": "video", "hosts": "vimeo.com", "note": "Talks."},
            )
        ],
        "sites_desk.decide": [
            (
                "/staff/external-sites/1/decide",
                {"capacity": "public_affairs", "verdict": "approve", "note": "Ok."},
            )
        ],
        # The editor's JSON helpers answer JSON (a form post is refused with 422); discarding redirects.
        "writing.preview": [("/staff/writing/preview", {"body": "Some *text*."})],
        "writing.autosave": [
            (f"/staff/writing/{draft.id}/autosave", {"body": "Typing.", "base_revision": "1"})
        ],
        "writing.discard": [(f"/staff/posts/{draft.id}/autosave/discard", {})],
        "writing.autosave_new": [("/staff/writing/new/autosave", {"title": "New", "body": "Typing."})],
        "writing.discard_new": [("/staff/posts/new/autosave/discard", {})],
        # Last: signing out ends every session of that user, the walker's own included.
        "accounts.logout": [("/logout", {})],
    }


def test_every_staff_post_redirects_or_refuses_never_answering_a_page(
    app: Flask,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    cast: dict[str, User],
    desk_seed: dict[str, Any],
    session: Session,
) -> None:
    staff_posts = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and (rule.rule.startswith("/staff/") or rule.rule == "/logout")
    }
    extra = make_post("in_review", author=cast["other"], title="Another in review")
    topic = topics.create_topic(session, cast["editor"], "Desk walk")
    session.commit()
    forms = _post_forms({**desk_seed, "extra": extra, "topic": topic}, cast)
    assert staff_posts == set(forms), f"list the new staff POST routes here: {staff_posts ^ set(forms)}"
    everyone = make_user(
        "author", "editor", "moderator", "admin", name="Sam Staff", title="Head", department="Comms"
    )
    answered = []
    desks = {"everyone": Desk(app, everyone), "author": Desk(app, cast["author"])}
    for endpoint, calls in forms.items():
        for path, data in calls:
            for sent in (data, {}):  # the success path, and an empty form
                if endpoint == "accounts.logout":
                    desk = Desk(app, everyone)  # signing out ends the session: a fresh one each time
                else:
                    desk = desks["author" if endpoint == "staff.withdraw_post" else "everyone"]
                response = desk.client.post(path, data={"csrf_token": desk.token, **sent})
                html = response.mimetype == "text/html"
                answered.append(
                    (endpoint, sent, response.status_code, parse(response).title.get_text() if html else "")
                )
                assert not (200 <= response.status_code < 300 and html), (
                    endpoint,
                    sent,
                    response.status_code,
                )
                if 300 <= response.status_code < 400:
                    assert response.status_code in (302, 303)
    # The success paths did run: at least one redirect per endpoint.
    redirected = {e for e, _sent, status, _body in answered if status in (302, 303)}
    # Sam has no disclosure, so submitting is a 422; the seeded comment asks nothing, so it is not
    # waiting for a reply (409). Both are refusals, as they should be.
    # A weak new password is refused (422; the change itself is walked in test_accounts); the ids 999999
    # name no token or redaction (404).
    refused = {
        "people.password",
        "people.revoke_token",
        "people.revoke_user_token",
        "redaction.confirm",
        "writing.preview",
        "writing.autosave",
        "writing.autosave_new",
    }
    assert set(forms) - redirected <= {"staff.submit_post", "moderation.no_reply_needed", *refused}, [
        f"{a[0]} {a[2]}" for a in answered if a[0] not in redirected and a[0] not in refused
    ]  # Sam has no disclosure: submitting is a 422


def test_the_preview_is_the_one_staff_post_that_answers_a_page(app: Flask, cast: dict[str, User]) -> None:
    me = Desk(app, cast["author"])
    preview = me.post(
        "/staff/posts/new", {"title": "T", "body": "Some *text*.", "action": "preview"}, status=200
    )
    assert parse(preview).select_one("#main em, main em") is not None
    assert _work(me.get("/staff/"))["drafts"][0] == 0  # a preview saves nothing: reloading it is harmless


# --- two at once ------------------------------------------------------------------------------------------


def test_two_editors_confirming_one_approval_at_once_publish_it_once(
    app: Flask, session: Session, make_user: Callable[..., User], make_post: Callable[..., Post]
) -> None:
    """Over a real threaded server: both confirmation forms are sent at the same moment; one publishes,
    the other meets a 409 page (or, arriving after, a 409 for the impossible move), never a second
    publication and never a 500."""
    import threading

    import httpx
    from sqlalchemy import func, select
    from werkzeug.serving import make_server

    from app.posts.models import Publication

    post = make_post("in_review")
    editors = [make_user("editor", name=f"Editor {n}") for n in (1, 2)]
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    try:
        clients = []
        for editor in editors:
            http = httpx.Client(base_url=base, timeout=30)
            token = _csrf(http.get("/login").text)
            signed = http.post(
                "/login", data={"email": editor.email, "password": PASSWORD, "csrf_token": token}
            )
            assert signed.status_code == 302
            token = _csrf(http.get(f"/staff/reviews/{post.id}/approve?revision=1").text)
            clients.append((http, token))
        barrier = threading.Barrier(2)
        codes = [0, 0]

        def confirm(i: int) -> None:
            http, token = clients[i]
            barrier.wait()
            codes[i] = http.post(
                f"/staff/reviews/{post.id}/approve",
                data={"revision": "1", "confirm": "yes", "csrf_token": token},
            ).status_code

        racers = [threading.Thread(target=confirm, args=(i,)) for i in (0, 1)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(30)
        assert sorted(codes) == [303, 409], codes
        for http, _token in clients:
            http.close()
    finally:
        httpd.shutdown()
        thread.join(5)
    session.expire_all()
    assert session.scalar(select(func.count(Publication.id)).where(Publication.post_id == post.id)) == 1


def _csrf(html: str) -> str:
    field = BeautifulSoup(html, "html5lib").find("input", attrs={"name": "csrf_token"})
    assert field is not None
    return str(field["value"])


def test_an_editor_who_wrote_part_of_the_text_is_not_offered_the_confirmation(
    app: Flask,
    session: Session,
    cast: dict[str, User],
    desk_seed: dict[str, Any],
    gate_settings: GateSettings,
) -> None:
    bens = desk_seed["bens"]
    editorial.withdraw(session, cast["other"], bens)
    other_editor = cast["editor"]
    change = posts.RevisionInput("Ben in review", "Edited.", ["https://example.org/x"])
    posts.revise(session, other_editor, bens, change, 1)
    editorial.submit(session, cast["other"], bens, gate_settings)
    session.commit()
    page = Desk(app, other_editor).get(f"/staff/reviews/{bens.id}/approve?revision=2")
    assert "another editor must approve it" in text_of(page, "#confirm-notice")
    assert page.select_one("#confirm-form") is None
