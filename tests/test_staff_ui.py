"""The staff desk in the test client: write, check the gates, submit, review, publish and correct.

Pages are parsed, never substring-matched; every form is posted with the CSRF token the page gave out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from app.accounts.models import User
from app.posts import rendering
from app.posts import services as posts
from app.posts.models import Post
from tests.support.web import form_csrf_token, log_in, parse, text_of

BODY = "Adults need *seven hours* of sleep a night, most studies agree."
REFERENCE = "https://example.org/sleep-study"


# --- helpers -----------------------------------------------------------------------------------------


class Desk:
    """One signed-in staff member's browser: GET pages, POST forms with the page's CSRF token."""

    def __init__(self, app: Flask, user: User) -> None:
        self.client: FlaskClient = app.test_client()
        self.user = user
        assert log_in(self.client, user.email).status_code == 302
        self.token = form_csrf_token(self.client, "/staff/")
        self.last_html = ""  # the last page as served, for the HTML validator

    def get(self, path: str, status: int = 200) -> BeautifulSoup:
        response = self.client.get(path)
        assert response.status_code == status, response.get_data(as_text=True)[:2000]
        self.last_html = response.get_data(as_text=True)
        return parse(response)

    def post(self, path: str, data: dict[str, Any], status: int = 303) -> Any:
        response = self.client.post(path, data={"csrf_token": self.token, **data})
        assert response.status_code == status, parse(response).get_text(" ", strip=True)[:3000]
        self.last_html = response.get_data(as_text=True)
        return response


def _editor_data(soup: BeautifulSoup, **changes: Any) -> dict[str, Any]:
    """The editor form's current values (what a browser would send), with ``changes`` applied."""
    form = soup.select_one("form.editor-form")
    assert form is not None
    data: dict[str, Any] = {"action": "save"}
    for field in form.select("input[name], textarea[name], select[name]"):
        name = field["name"]
        if name in ("csrf_token",):
            continue
        if field.name == "textarea":
            data[name] = field.get_text()
        elif field.name == "select":
            chosen = field.select_one("option[selected]")
            data[name] = chosen["value"] if chosen else ""
        elif field.get("type") == "checkbox":
            if field.has_attr("checked"):
                data[name] = field.get("value", "y")
        else:
            data[name] = field.get("value", "")
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _gate_states(soup: BeautifulSoup) -> dict[str, str]:
    return {li["data-gate"]: li["data-state"] for li in soup.select(".gate-list > li[data-gate]")}


def _post_id(response: Any) -> int:
    path = urlsplit(response.headers["Location"]).path
    return int(path.split("/")[3])


def _assert_controls_labelled(soup: BeautifulSoup) -> None:
    """Every visible control has a label; every invalid one points at its error message."""
    for control in soup.select("main input, main textarea, main select"):
        if control.get("type") in ("hidden", "submit"):
            continue
        cid = control.get("id")
        labelled = (cid and soup.select_one(f'label[for="{cid}"]')) or control.find_parent("label")
        assert labelled, f"no label for {control}"
        if control.get("aria-invalid") == "true":
            described = control.get("aria-describedby", "").split()
            assert any(
                (node := soup.find(id=i)) is not None and "error" in node.get("class", []) for i in described
            ), f"error not tied to {control}"


@pytest.fixture
def author(make_user: Callable[..., User]) -> User:
    return make_user("author", name="Ada Author", title="Sleep physician", department="Sleep Medicine")


@pytest.fixture
def editor(make_user: Callable[..., User]) -> User:
    return make_user("editor", name="Edith Editor", title="Reviewer", department="Public Affairs")


# --- the whole path -----------------------------------------------------------------------------------


def test_draft_to_published_and_corrected_through_the_staff_pages(
    app: Flask, author: User, editor: User
) -> None:
    me, ed = Desk(app, author), Desk(app, editor)

    # A new draft: no references, no disclosure yet.
    new = me.get("/staff/posts/new")
    assert text_of(new, "h1") == "New post"
    _assert_controls_labelled(new)
    saved = me.post(
        "/staff/posts/new",
        {"title": "Sleep and the working week", "body": BODY, "references": "", "action": "save"},
    )
    post_id = _post_id(saved)
    edit_path = f"/staff/posts/{post_id}/edit"

    page = me.get(edit_path)
    assert _gate_states(page) == {
        "identity": "pass",
        "disclosure": "fail",
        "references": "fail",
        "direct_links": "pass",
        "privacy": "pass",
        "media_alt": "pass",
        "media_consent": "pass",
        "topics": "pass",  # no topics defined yet: nothing to choose from
        "external_sites": "pass",
    }
    assert "Fail" in text_of(page, "#gate-references .gate-state")  # said in words, not only in colour

    # Submitting is refused with every failing gate listed.
    blocked = parse(me.post(f"/staff/posts/{post_id}/submit", {}, status=422))
    assert {li["data-gate"] for li in blocked.select("#blocked li")} == {"disclosure", "references"}
    assert blocked.select_one("#blocked")["role"] == "alert"

    # Fix both: add a reference, record a disclosure.
    me.post(edit_path, _editor_data(page, references=REFERENCE))
    me.post("/staff/disclosure", {"no_conflicts": "yes", "statement": ""})
    page = me.get(edit_path)
    assert set(_gate_states(page).values()) == {"pass"}

    me.post(f"/staff/posts/{post_id}/submit", {})
    dashboard = me.get("/staff/")
    assert dashboard.select_one(f'#group-in_review tr[data-post-id="{post_id}"]') is not None

    # The editor sees it in the queue and sends it back with a note.
    assert text_of(ed.get("/staff/"), '[data-work="review_queue"] .work-count') == "1"
    queue = ed.get("/staff/reviews")
    row = queue.select_one(f'#review-queue tr[data-post-id="{post_id}"]')
    assert row is not None and "Sleep and the working week" in row.get_text()
    assert row.select_one("td.age").get_text(strip=True)
    ed.post(
        f"/staff/reviews/{post_id}/request-changes", {"note": "Cite the trial itself, not the press release."}
    )

    dashboard = me.get("/staff/")
    note = dashboard.select_one(f'#group-changes_requested tr[data-post-id="{post_id}"] .editor-note')
    assert note is not None and "Cite the trial itself" in note.get_text()
    page = me.get(edit_path)
    assert "Cite the trial itself" in text_of(page, "#editor-note")

    # The author revises and resubmits; the editor approves the exact revision.
    me.post(
        edit_path,
        _editor_data(
            page,
            body=BODY + "\n\nA 2024 trial found the same.",
            references=REFERENCE + "\nhttps://example.org/the-trial",
        ),
    )
    me.post(f"/staff/posts/{post_id}/submit", {})
    review = ed.get(f"/staff/reviews/{post_id}")
    assert "A 2024 trial found the same." in text_of(review, "#review-body")
    revision = review.select_one('#approve-form input[name="revision"]')["value"]
    assert revision == "3"
    ed.post(f"/staff/reviews/{post_id}/approve", {"revision": revision, "publish_at": "", "confirm": "yes"})

    with app.app_context():
        from app.web.database import db

        slug = posts.get_post(db(), post_id).slug
    public = parse(app.test_client().get(f"/posts/{slug}"))
    assert "A 2024 trial found the same." in text_of(public, "#post-body")
    assert me.get("/staff/").select_one(f'#group-published tr[data-post-id="{post_id}"]') is not None

    # A correction: the published post's editor asks what kind of change, and a note for readers.
    page = me.get(edit_path)
    assert page.select_one("select#kind") is not None
    refused = me.post(edit_path, _editor_data(page, body=BODY.replace("seven", "eight")), status=422)
    assert "kind" in parse(refused).select_one("#kind")["aria-describedby"]
    corrected = BODY.replace("seven", "eight") + "\n\nA 2024 trial found the same."
    me.post(
        edit_path,
        _editor_data(
            page, body=corrected, kind="correction", note="We misquoted the study: it says eight hours."
        ),
    )
    row = me.get("/staff/").select_one(f'#group-published tr[data-post-id="{post_id}"]')
    flagged = row.select_one(".pending-correction")
    assert flagged is not None and "4" in flagged.get_text()
    me.post(f"/staff/posts/{post_id}/submit", {})

    review = ed.get(f"/staff/reviews/{post_id}")
    assert [d.get_text() for d in review.select("#review-diff del")] == ["seven"]
    assert [i.get_text() for i in review.select("#review-diff ins")] == ["eight"]
    assert "Correction" in text_of(review, ".review-facts")
    ed.post(f"/staff/reviews/{post_id}/approve", {"revision": "4", "publish_at": "", "confirm": "yes"})

    public = parse(app.test_client().get(f"/posts/{slug}"))
    assert "eight hours" in text_of(public, "#post-body")
    assert "We misquoted the study: it says eight hours." in public.get_text(" ")

    # The audit log tells the story, newest first.
    log = me.get(f"/staff/posts/{post_id}/audit")
    actions = [tr["data-action"] for tr in log.select("#audit-log tbody tr")]
    assert actions[0] == "post.approve" and actions[-1] == "post.created"
    assert actions.count("post.submit") == 3 and "post.request_changes" in actions
    whole = me.get("/staff/audit")
    assert whole.select_one('#audit-log tr[data-action="disclosure.recorded"]') is not None


# --- the editor -----------------------------------------------------------------------------------------


def test_a_stale_edit_keeps_the_writers_text_and_shows_the_newer_one(
    app: Flask, session, author: User, editor: User, make_post: Callable[..., Post]
) -> None:
    post = make_post("draft", author=author, title="Night shifts", body="Original text.")
    me = Desk(app, author)
    page = me.get(f"/staff/posts/{post.id}/edit")
    assert page.select_one('input[name="base_revision"]')["value"] == "1"

    # Meanwhile an editor saves revision 2.
    posts.revise(session, editor, post, posts.RevisionInput("Night shifts", "The editor's text.", []), 1)
    session.commit()

    mine = "My careful rewrite, which must not be lost."
    stale = parse(me.post(f"/staff/posts/{post.id}/edit", _editor_data(page, body=mine), status=409))
    assert stale.select_one("textarea#body").get_text() == mine
    assert "revision 2" in text_of(stale, "#stale-notice")
    assert "The editor's text." in text_of(stale, "#newer-revision .newer-body")
    assert stale.select_one('input[name="base_revision"]')["value"] == "2"

    # Having seen revision 2, the writer saves on top of it.
    me.post(f"/staff/posts/{post.id}/edit", _editor_data(stale, body=mine + " Merged."))
    session.expire_all()
    assert post.current_revision.number == 3 and post.current_revision.body == mine + " Merged."


def test_preview_renders_below_the_form_without_saving(
    app: Flask, session, author: User, make_post: Callable[..., Post]
) -> None:
    post = make_post("draft", author=author, body="Saved text.")
    me = Desk(app, author)
    page = me.get(f"/staff/posts/{post.id}/edit")
    data = _editor_data(page, body="Unsaved *emphasis* here.", action="preview")
    preview = parse(me.post(f"/staff/posts/{post.id}/edit", data, status=200))
    assert text_of(preview, "#preview em") == "emphasis"
    assert preview.select_one("textarea#body").get_text() == "Unsaved *emphasis* here."
    assert preview.select_one("form.editor-form") is not None
    session.expire_all()
    assert post.current_revision.number == 1

    data = {"title": "T", "body": "# Hello", "references": "", "action": "preview"}
    new = parse(me.post("/staff/posts/new", data, status=200))
    assert text_of(new, "#preview h1") == "Hello"
    assert len(posts.all_posts_by(session, author)) == 1


def test_text_that_cannot_render_is_a_form_error(
    app: Flask, author: User, make_post: Callable[..., Post]
) -> None:
    post = make_post("draft", author=author)
    me = Desk(app, author)
    page = me.get(f"/staff/posts/{post.id}/edit")
    nested = ">" * 40 + " too deep"
    for action in ("preview", "save"):
        data = _editor_data(page, body=nested, action=action)
        refused = parse(me.post(f"/staff/posts/{post.id}/edit", data, status=422))
        body = refused.select_one("textarea#body")
        assert body["aria-invalid"] == "true" and body.get_text() == nested
        assert "nested too deeply" in text_of(refused, "#body-error")
        _assert_controls_labelled(refused)


def test_text_that_overruns_the_render_budget_is_a_form_error(
    app: Flask, author: User, make_post: Callable[..., Post], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Preview and save both render under the budget (0.5 s here); "[" * 15900 takes ~46 s unbudgeted."""
    monkeypatch.setattr(rendering, "RENDER_BUDGET_SECONDS", 0.5)
    post = make_post("draft", author=author)
    me = Desk(app, author)
    page = me.get(f"/staff/posts/{post.id}/edit")
    for action in ("preview", "save"):
        data = _editor_data(page, body="[" * 15_900, action=action)
        refused = parse(me.post(f"/staff/posts/{post.id}/edit", data, status=422))
        assert "took too long" in text_of(refused, "#body-error")


def test_bad_reference_is_a_field_error_and_nothing_is_saved(app: Flask, session, author: User) -> None:
    me = Desk(app, author)
    data = {"title": "Links", "body": "Text.", "references": "not a link", "action": "save"}
    refused = parse(me.post("/staff/posts/new", data, status=422))
    assert "http(s)" in text_of(refused, "#references-error")
    assert refused.select_one("textarea#references")["aria-describedby"].split()[-1] == "references-error"
    assert posts.all_posts_by(session, author) == []


def test_an_editor_overrides_the_privacy_gate_with_a_justification(
    app: Flask, author: User, editor: User, make_post: Callable[..., Post], make_disclosure
) -> None:
    make_disclosure(author)
    post = make_post("draft", author=author, body="Our patient said: call me on (507) 284-2511 any time.")
    me, ed = Desk(app, author), Desk(app, editor)
    page = me.get(f"/staff/posts/{post.id}/edit")
    assert _gate_states(page)["privacy"] == "fail"
    details = text_of(page, "#gate-privacy .gate-details")
    assert "line 1, column" in details and "284-2511" not in details

    review = ed.get(f"/staff/reviews/{post.id}")
    gates = [o["value"] for o in review.select("#override-form select#gate option")]
    assert gates == ["privacy", "references"]
    missing = parse(
        ed.post(
            f"/staff/reviews/{post.id}/override",
            {"gate": "privacy", "justification": "", "revision": "1"},
            status=422,
        )
    )
    assert missing.select_one("textarea#justification")["aria-invalid"] == "true"
    ed.post(
        f"/staff/reviews/{post.id}/override",
        {"gate": "privacy", "justification": "Written consent from the patient is on file.", "revision": "1"},
    )

    for soup in (ed.get(f"/staff/reviews/{post.id}"), me.get(f"/staff/posts/{post.id}/edit")):
        assert _gate_states(soup)["privacy"] == "overridden"
        gate = text_of(soup, "#gate-privacy")
        assert "Overridden" in gate and "Written consent from the patient is on file." in gate
        assert "Edith Editor" in gate
    me.post(f"/staff/posts/{post.id}/submit", {})


def test_the_interest_question_is_asked_when_the_disclosure_lists_interests(
    app: Flask, author: User, editor: User, make_post: Callable[..., Post]
) -> None:
    post = make_post("draft", author=author)
    me = Desk(app, author)
    me.post(
        "/staff/disclosure",
        {
            "no_conflicts": "no",
            "interests-0-entity": "Acme Sleep Devices",
            "interests-0-relationship": "consulting",
            "interests-0-paid": "yes",
            "interests-0-since": "2023-04",
            "statement": "I advise Acme on trials.",
        },
    )
    page = me.get("/staff/disclosure")
    assert text_of(page, "#disclosure-status")  # current
    assert page.select_one("#disclosure-status")["data-state"] == "current"
    assert "Acme Sleep Devices (consulting, paid, since 2023-04)" in text_of(page, "#disclosure-history")
    # The form starts from the latest version: renewing it is one click.
    assert page.select_one('input[name="interests-0-entity"]')["value"] == "Acme Sleep Devices"

    edit = me.get(f"/staff/posts/{post.id}/edit")
    assert len(edit.select('input[name="touches_interests"]')) == 2
    unanswered = parse(me.post(f"/staff/posts/{post.id}/submit", {}, status=422))
    assert "Say whether" in text_of(unanswered, "#touches_interests-error")
    me.post(
        f"/staff/posts/{post.id}/submit",
        {"touches_interests": "yes", "interest_statement": "Acme makes one of the devices discussed."},
    )
    review = Desk(app, editor).get(f"/staff/reviews/{post.id}")
    assert "Yes: Acme makes one of the devices discussed." in text_of(review, ".review-facts")


def test_disclosure_form_refuses_contradictions_with_field_errors(app: Flask, author: User) -> None:
    me = Desk(app, author)
    both = parse(
        me.post(
            "/staff/disclosure",
            {"no_conflicts": "yes", "interests-0-entity": "Acme", "interests-0-relationship": "equity"},
            status=422,
        )
    )
    assert "listed some" in text_of(both, "#no_conflicts-error")
    no_relationship = parse(
        me.post(
            "/staff/disclosure",
            {
                "no_conflicts": "no",
                "interests-0-entity": "Acme",
                "interests-0-relationship": "",
                "interests-0-since": "last year",
            },
            status=422,
        )
    )
    assert "Choose the relationship." in text_of(no_relationship, "#interests-0-relationship-error")
    assert "2024" in text_of(no_relationship, "#interests-0-since-error")
    _assert_controls_labelled(no_relationship)
    assert me.get("/staff/disclosure").select_one("#disclosure-status")["data-state"] == "missing"


def test_withdraw_and_scheduling(
    app: Flask, session, author: User, editor: User, make_post: Callable[..., Post]
) -> None:
    post = make_post("in_review", author=author)
    me, ed = Desk(app, author), Desk(app, editor)
    edit = me.get(f"/staff/posts/{post.id}/edit")
    assert edit.select_one("#withdraw-link")["href"] == f"/staff/posts/{post.id}/withdraw"
    me.post(f"/staff/posts/{post.id}/withdraw", {"confirm": "yes"})
    assert me.get("/staff/").select_one(f'#group-draft tr[data-post-id="{post.id}"]') is not None

    me.post(f"/staff/posts/{post.id}/submit", {})
    ed.post(
        f"/staff/reviews/{post.id}/approve",
        {"revision": "1", "publish_at": "2999-01-01T09:30", "confirm": "yes"},
    )
    session.expire_all()
    assert post.status == "scheduled" and post.publish_at.isoformat() == "2999-01-01T09:30:00+00:00"
    row = me.get("/staff/").select_one(f'#group-scheduled tr[data-post-id="{post.id}"]')
    assert "2999" in row.get_text()


# --- who may do what ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/staff/", "/staff/posts/new", "/staff/reviews", "/staff/disclosure", "/staff/audit?page=2"]
)
def test_anonymous_visitors_are_sent_to_sign_in_and_back(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == [path]


def test_a_moderator_cannot_open_the_editor_for_someone_elses_post(
    app: Flask, make_user: Callable[..., User], make_post: Callable[..., Post]
) -> None:
    post = make_post("draft")
    mod = Desk(app, make_user("moderator", name="Mo Moderator"))
    refused = mod.get(f"/staff/posts/{post.id}/edit", status=403)
    assert text_of(refused, "h1") == "Only the post's author or an editor can revise it."
    assert mod.get("/staff/reviews", status=403) is not None
    mod.post(f"/staff/posts/{post.id}/submit", {}, status=403)
    mod.get("/staff/posts/new", status=403)
    mod.get("/staff/")  # the dashboard and disclosure are every staff member's
    mod.get("/staff/disclosure")


def test_an_editor_cannot_approve_their_own_post(
    app: Flask, make_user: Callable[..., User], make_post: Callable[..., Post]
) -> None:
    both = make_user("author", "editor", name="Eve Both")
    post = make_post("in_review", author=both)
    desk = Desk(app, both)
    review = desk.get(f"/staff/reviews/{post.id}")
    assert review.select_one("#approve-form") is None
    refused = parse(desk.post(f"/staff/reviews/{post.id}/approve", {"revision": "1"}, status=403))
    assert text_of(refused, "h1") == "Only an editor who did not write the post can approve it."


def test_an_impossible_move_is_a_409_page(app: Flask, author: User, make_post: Callable[..., Post]) -> None:
    post = make_post("draft", author=author)
    refused = parse(
        Desk(app, author).post(f"/staff/posts/{post.id}/withdraw", {"confirm": "yes"}, status=409)
    )
    assert "cannot be withdrawn" in text_of(refused, "h1")


def test_a_form_without_its_csrf_token_is_refused(app: Flask, session, author: User) -> None:
    me = Desk(app, author)
    response = me.client.post("/staff/posts/new", data={"title": "Forged", "body": "Text.", "action": "save"})
    assert response.status_code == 400
    assert "expired or came from elsewhere" in text_of(parse(response), "h1")
    response = me.client.post(
        "/staff/posts/new", data={"title": "Forged", "body": "Text.", "csrf_token": "nope"}
    )
    assert response.status_code == 400
    assert posts.all_posts_by(session, author) == []


def test_every_staff_form_carries_a_csrf_token_and_labels(
    app: Flask, author: User, editor: User, make_post: Callable[..., Post]
) -> None:
    post = make_post("published", author=author)
    me, ed = Desk(app, author), Desk(app, editor)
    for soup in (
        me.get("/staff/"),
        me.get("/staff/posts/new"),
        me.get(f"/staff/posts/{post.id}/edit"),
        me.get("/staff/disclosure"),
        ed.get(f"/staff/reviews/{post.id}"),
        ed.get("/staff/reviews"),
        me.get("/staff/audit"),
        me.get(f"/staff/posts/{post.id}/audit"),
    ):
        assert soup.select_one("h1") is not None
        for form in soup.select('form[method="post"]'):
            assert form.select_one('input[name="csrf_token"]') is not None, form
        _assert_controls_labelled(soup)
        for table in soup.select("main table"):
            assert all(th.has_attr("scope") for th in table.select("th"))
    header = me.get("/staff/").select_one("header nav")
    assert header.find("a", string="Staff")["href"] == "/staff/"


def test_the_audit_log_is_paginated(app: Flask, author: User, make_post: Callable[..., Post]) -> None:
    for n in range(17):
        make_post("published", author=author, title=f"Post {n}")  # 3 entries each + a disclosure = 52
    me = Desk(app, author)
    first = me.get("/staff/audit")
    assert len(first.select("#audit-log tbody tr")) == 50
    older = first.select_one('a[rel="next"]')["href"]
    second = me.get(older)
    assert 0 < len(second.select("#audit-log tbody tr")) < 50
    assert second.select_one('nav.pager a[href="/staff/audit"]') is not None
    assert second.select_one('a[rel="next"]') is None
    me.get("/staff/audit?after=zero", status=400)
    me.get("/staff/audit?after=" + older.split("after=")[1].replace("&", ""), status=200)


# --- every state of every page is valid HTML ---------------------------------------------------------


def test_staff_pages_are_valid_html_in_every_state(
    app: Flask,
    session,
    author: User,
    editor: User,
    make_post: Callable[..., Post],
    make_disclosure,
    gate_settings,
    tmp_path: Any,
) -> None:
    """The page registry sees each page once, in a calm state; here are the error and review states."""
    from datetime import UTC, datetime

    from app.editorial import services as editorial
    from tests.support.html_checks import format_messages, validate, vnu_command

    command = vnu_command()
    leaky = make_post("draft", author=author, body="Call me on (507) 284-2511.", references=[])
    corrected = make_post("published", author=author, title="Corrected", body="Sleep *seven* hours.")
    sent_back = make_post("in_review", author=author, title="Sent back")
    scheduled = make_post("in_review", author=author, title="Scheduled")
    retracted = make_post("published", author=author, title="Retracted")
    # Approved before the disclosure below changes: an answer given against an older one no longer counts.
    editorial.approve(
        session, editor, scheduled, 1, gate_settings, publish_at=datetime(2999, 1, 1, tzinfo=UTC)
    )
    # Now the disclosure lists an interest, so the submit form asks about it.
    make_disclosure(
        author,
        interests=[
            {"entity": "Acme Sleep Devices", "relationship": "consulting", "paid": True, "since": "2023"}
        ],
    )
    posts.revise(
        session,
        author,
        corrected,
        posts.RevisionInput(
            "Corrected",
            "Sleep *eight* hours.",
            list(corrected.current_revision.references),
            "correction",
            "It is eight.",
        ),
        1,
    )
    editorial.submit(session, author, corrected, gate_settings, touches_interests=False)
    editorial.request_changes(session, editor, sent_back, "Add the trial.")
    editorial.retract(session, editor, retracted, "The study was withdrawn.")
    session.commit()

    me, ed = Desk(app, author), Desk(app, editor)
    edit = f"/staff/posts/{leaky.id}/edit"
    form = me.get(edit)
    documents: dict[str, str] = {}

    def keep(label: str, desk: Desk, soup_or_response: Any) -> None:
        soup = soup_or_response if isinstance(soup_or_response, BeautifulSoup) else parse(soup_or_response)
        _assert_controls_labelled(soup)
        documents[label] = desk.last_html

    keep("dashboard, every group", me, me.get("/staff/"))
    keep("editor, failing gates", me, form)
    keep(
        "editor, refused submit",
        me,
        me.post(f"/staff/posts/{leaky.id}/submit", {"touches_interests": "no"}, status=422),
    )
    keep(
        "editor, unanswered interest question", me, me.post(f"/staff/posts/{leaky.id}/submit", {}, status=422)
    )
    keep("editor, preview", me, me.post(edit, _editor_data(form, action="preview"), status=200))
    keep("editor, render error", me, me.post(edit, _editor_data(form, body=">" * 40), status=422))
    keep("editor, published post", me, me.get(f"/staff/posts/{corrected.id}/edit"))
    keep("editor, changes requested", me, me.get(f"/staff/posts/{sent_back.id}/edit"))
    keep("editor, scheduled", me, me.get(f"/staff/posts/{scheduled.id}/edit"))
    keep("editor, retracted", me, me.get(f"/staff/posts/{retracted.id}/edit"))
    keep("review queue", ed, ed.get("/staff/reviews"))
    keep("review, correction with diff", ed, ed.get(f"/staff/reviews/{corrected.id}"))
    keep("review, failing gates", ed, ed.get(f"/staff/reviews/{leaky.id}"))
    keep(
        "review, form errors",
        ed,
        ed.post(f"/staff/reviews/{corrected.id}/request-changes", {"note": ""}, status=422),
    )
    keep(
        "review, stale approval",
        ed,
        ed.post(f"/staff/reviews/{corrected.id}/approve", {"revision": "1", "confirm": "yes"}, status=409),
    )
    keep(
        "disclosure, errors",
        me,
        me.post(
            "/staff/disclosure",
            {"no_conflicts": "no", "interests-0-entity": "X", "interests-0-since": "soon"},
            status=422,
        ),
    )
    posts.revise(session, editor, leaky, posts.RevisionInput("Leaky", "Newer text.", []), 1)
    session.commit()
    keep("editor, stale edit", me, me.post(edit, _editor_data(form, body="Mine."), status=409))
    problems = validate(documents, tmp_path / "vnu", command=command)
    assert not problems, format_messages(problems)


def test_an_anonymous_form_post_is_sent_to_sign_in_then_the_dashboard(client: FlaskClient) -> None:
    """E.g. a session that expired while the form was open (CSRF is checked first, so a token is needed)."""
    token = form_csrf_token(client, "/login")
    response = client.post("/staff/posts/new", data={"title": "T", "body": "B", "csrf_token": token})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == ["/staff/"]


def test_a_disclosure_row_numbered_with_a_look_alike_digit_is_refused_not_a_500(client, make_user):
    from tests.support.web import form_csrf_token, log_in

    user = make_user("author")
    log_in(client, user.email)
    token = form_csrf_token(client, "/staff/disclosure")
    r = client.post(
        "/staff/disclosure",
        data={
            "csrf_token": token,
            "no_conflicts": "no",
            "interests-²-entity": "Acme",
            "interests-0-entity": "Acme",
            "interests-0-relationship": "consulting",
        },
    )
    assert r.status_code == 422
