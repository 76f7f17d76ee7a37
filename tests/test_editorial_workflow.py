"""The editorial workflow: permission matrix, review, scheduling, disclosures frozen at approval, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app import clock
from tests.support.web import parse, text_of

ACTORS = ("anonymous", "owner", "other_author", "editor", "owner_editor", "moderator", "admin")
# Who may attempt each action at all (before the state is considered).
PERMITTED = {
    "revise": {"owner", "editor", "owner_editor"},
    "submit": {"owner", "editor", "owner_editor"},
    "withdraw": {"owner", "owner_editor"},
    "approve": {"editor"},
    "request_changes": {"editor", "owner_editor"},
    "retract": {"editor", "owner_editor"},
}
# In which states each action is a possible move.
POSSIBLE = {
    "revise": {"draft", "in_review", "published"},
    "submit": {"draft"},
    "withdraw": {"in_review"},
    "approve": {"in_review"},
    "request_changes": {"in_review"},
    "retract": {"published"},
}


@pytest.fixture
def cast(make_user, make_disclosure):
    users = {
        "owner": make_user("author"),
        "other_author": make_user("author"),
        "editor": make_user("editor"),
        "owner_editor": make_user("author", "editor"),
        "moderator": make_user("moderator"),
        "admin": make_user("admin"),
    }
    for user in users.values():
        make_disclosure(user)
    return users


def _call(api, action, post, actor):
    url = f"/api/v1/posts/{post.id}"
    number = post.current_revision.number
    if action == "revise":
        kind = {"kind": "minor"} if post.published_revision_id else {}
        return api.post(
            f"{url}/revisions", {"body": "Changed text.", "base_revision": number} | kind, as_=actor
        )
    if action == "approve":
        return api.post(f"{url}/approve", {"revision": number}, as_=actor)
    if action == "request_changes":
        return api.post(f"{url}/request-changes", {"note": "Please cite the trial."}, as_=actor)
    if action == "retract":
        return api.post(f"{url}/retract", {"reason": "The study was withdrawn."}, as_=actor)
    return api.post(f"{url}/{action}", as_=actor)


@pytest.mark.parametrize("state", ["draft", "in_review", "published"])
@pytest.mark.parametrize("action", sorted(PERMITTED))
def test_permission_matrix(api, make_post, cast, action, state):
    for name in ACTORS:
        author = cast["owner_editor"] if name == "owner_editor" else cast["owner"]
        post = make_post(state, author=author)
        actor = None if name == "anonymous" else cast[name]
        r = _call(api, action, post, actor)
        if actor is None:
            expected = 401
        elif name not in PERMITTED[action]:
            expected = 403
        elif state not in POSSIBLE[action]:
            expected = 409
        else:
            expected = 201 if action == "revise" else 200
        assert r.status_code == expected, (action, state, name, r.get_json())


def test_only_one_open_review_per_post_is_enforced_by_the_database(session, make_post):
    post = make_post("in_review")
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO reviews (post_id, revision_number, submitted_by_id, submitted_at, "
                "touches_interests, interest_statement, state, note) "
                "VALUES (:p, 1, :u, CURRENT_TIMESTAMP, false, '', 'open', '')"
            ),
            {"p": post.id, "u": post.author_id},
        )
        session.flush()
    session.rollback()


def test_request_changes_then_revise_and_resubmit(api, make_post, cast):
    post = make_post("in_review", author=cast["owner"])
    api.post(f"/api/v1/posts/{post.id}/request-changes", {"note": "Add the dose."}, as_=cast["editor"])
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "With the dose: 5 mg.", "base_revision": 1},
        as_=cast["owner"],
    )
    assert r.get_json()["status"] == "changes_requested"
    assert api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"]).get_json()["status"] == "in_review"
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["editor"])
    assert r.get_json()["status"] == "published" and r.get_json()["published_revision"] == 2


def test_a_correction_goes_through_review_and_is_published_with_its_note(api, client, make_post, cast):
    post = make_post("published", author=cast["owner"], body="Take 50 mg.")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Take 5 mg.", "base_revision": 1, "kind": "correction", "note": "The dose was wrong."},
        as_=cast["owner"],
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    assert text_of(parse(client.get(f"/posts/{post.slug}")), "#post-body") == "Take 50 mg."
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["editor"])
    assert text_of(parse(client.get(f"/posts/{post.slug}")), "#post-body") == "Take 5 mg."
    revisions = api.get(f"/api/v1/posts/{post.id}/revisions").get_json()["items"]
    assert [(r["revision"], r["kind"], r["note"]) for r in revisions] == [
        (1, "original", ""),
        (2, "correction", "The dose was wrong."),
    ]


def test_the_one_step_editor_correction_is_withdrawn(api, make_post, cast):
    post = make_post("published", author=cast["owner"], body="Take 50 mg.")
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {
            "body": "Take 5 mg.",
            "base_revision": 1,
            "kind": "correction",
            "note": "Dose fixed by the editor.",
            "publish": True,
        },
        as_=cast["editor"],
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "publish"
    assert api.get(f"/api/v1/posts/{post.id}", as_=cast["editor"]).get_json()["revision"] == 1


def test_scheduled_post_is_private_until_due_then_published_by_the_periodic_job(
    api, client, app, make_post, cast
):
    post = make_post("in_review", author=cast["owner"])
    when = (clock.utc_now() + timedelta(hours=2)).isoformat()
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1, "publish_at": when}, as_=cast["editor"])
    assert r.get_json()["status"] == "scheduled" and r.get_json()["publish_at"]
    assert r.get_json()["slug"] is None  # no public address before publication
    assert client.get("/posts/a-post-about-sleep").status_code == 404
    clock.freeze(clock.utc_now() + timedelta(hours=3))
    try:
        app.extensions["candor.tasks"].publish_due()  # what the worker runs every minute (app/web/tasks.py)
        page = client.get("/posts/a-post-about-sleep")
    finally:
        clock.freeze(None)
    assert page.status_code == 200
    assert api.get(f"/api/v1/posts/{post.id}").get_json()["status"] == "published"


def test_flask_publish_due_publishes_scheduled_posts(api, runner, make_post, cast):
    post = make_post("in_review", author=cast["owner"])
    when = (clock.utc_now() + timedelta(minutes=5)).isoformat()
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1, "publish_at": when}, as_=cast["editor"])
    assert "0 scheduled" in runner.invoke(args=["publish-due"]).output
    clock.freeze(clock.utc_now() + timedelta(minutes=6))
    try:
        out = runner.invoke(args=["publish-due"]).output
    finally:
        clock.freeze(None)
    assert "Published a-post-about-sleep" in out


def test_an_edit_after_approval_needs_approval_again(api, make_post, cast):
    post = make_post("in_review", author=cast["owner"])
    when = (clock.utc_now() + timedelta(days=1)).isoformat()
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1, "publish_at": when}, as_=cast["editor"])
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Sneaky late edit.", "base_revision": 1},
        as_=cast["owner"],
    )
    assert r.get_json()["status"] == "draft"
    assert api.get(f"/api/v1/posts/{post.id}", as_=cast["owner"]).get_json()["status"] == "draft"


@pytest.mark.parametrize("publish_at", ["tomorrow", "2026-13-01T00:00:00Z", "2026-12-01T09:00:00", 5])
def test_bad_publish_at_is_explained(api, make_post, cast, publish_at):
    post = make_post("in_review", author=cast["owner"])
    r = api.post(
        f"/api/v1/posts/{post.id}/approve", {"revision": 1, "publish_at": publish_at}, as_=cast["editor"]
    )
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "publish_at"


def test_disclosures_are_versioned_and_never_edited(api, make_user):
    author = make_user("author")
    first = api.put("/api/v1/me/disclosure", {"no_conflicts": True, "interests": []}, as_=author)
    second = api.put(
        "/api/v1/me/disclosure",
        {
            "no_conflicts": False,
            "interests": [
                {"entity": "HeartCo", "relationship": "speaking", "paid": True, "since": "2024-05"}
            ],
        },
        as_=author,
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]
    latest = api.get("/api/v1/me/disclosure", as_=author).get_json()
    assert latest["interests"][0]["entity"] == "HeartCo" and latest["current"] is True


@pytest.mark.parametrize(
    "body,field",
    [
        ({"no_conflicts": "yes", "interests": []}, "no_conflicts"),
        ({"no_conflicts": True, "interests": [{"entity": "X", "relationship": "equity"}]}, "interests"),
        ({"no_conflicts": False, "interests": []}, "interests"),
        ({"no_conflicts": False, "interests": [{"entity": "X", "relationship": "bribery"}]}, "interests"),
        (
            {"no_conflicts": False, "interests": [{"entity": "", "relationship": "equity"}]},
            "interests[0].entity",
        ),
        (
            {
                "no_conflicts": False,
                "interests": [{"entity": "X", "relationship": "equity", "since": "last year"}],
            },
            "interests",
        ),
    ],
)
def test_bad_disclosures_are_refused_with_the_field(api, make_user, body, field):
    r = api.put("/api/v1/me/disclosure", body, as_=make_user("author"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == field


def test_published_page_keeps_the_disclosure_in_force_at_approval(api, client, make_post, cast):
    post = make_post("published", author=cast["owner"], body="Take 50 mg.")
    api.put(
        "/api/v1/me/disclosure",
        {
            "no_conflicts": False,
            "interests": [{"entity": "PillCo", "relationship": "consulting", "paid": True}],
        },
        as_=cast["owner"],
    )
    page = parse(client.get(f"/posts/{post.slug}"))
    assert "No relevant financial relationships" in text_of(page, ".disclosure")
    assert "PillCo" not in text_of(page, ".disclosure")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Take 5 mg.", "base_revision": 1, "kind": "correction", "note": "Dose."},
        as_=cast["owner"],
    )
    api.post(f"/api/v1/posts/{post.id}/submit", {"touches_interests": False}, as_=cast["owner"])
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["editor"])
    corrected = parse(client.get(f"/posts/{post.slug}"))
    assert "PillCo" in text_of(corrected, ".disclosure")
    original = parse(client.get(f"/posts/{post.slug}/revisions/1"))
    assert "PillCo" not in text_of(original, ".disclosure")


def test_byline_links_to_a_profile_with_the_current_disclosure(client, make_post, cast):
    post = make_post("published", author=cast["owner"])
    page = parse(client.get(f"/posts/{post.slug}"))
    profile_url = page.select_one(".byline a.author")["href"]
    profile = parse(client.get(profile_url))
    assert text_of(profile, "h1") == cast["owner"].name
    assert "No relevant financial relationships" in text_of(profile, "#current-disclosure + p")
    assert [a.get_text(strip=True) for a in profile.select("#person-posts + ul a")] == ["A post about sleep"]
    assert client.get("/people/999999").status_code == 404


def test_a_personal_perspective_carries_the_first_person_disclaimer(api, client, make_post, cast):
    post = make_post("published", author=cast["owner"])
    assert parse(client.get(f"/posts/{post.slug}")).select_one(".personal-view") is None
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": post.current_revision.body, "base_revision": 1, "personal_view": True, "kind": "minor"},
        as_=cast["owner"],
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["editor"])
    note = text_of(parse(client.get(f"/posts/{post.slug}")), ".personal-view")
    assert "my own and do not reflect the views of my employer" in note


def test_every_transition_is_in_the_audit_log_visible_to_staff_only(api, make_post, cast):
    post = make_post("in_review", author=cast["owner"])
    api.post(f"/api/v1/posts/{post.id}/request-changes", {"note": "Needs a source."}, as_=cast["editor"])
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=cast["editor"])
    entries = api.get(f"/api/v1/posts/{post.id}/audit", as_=cast["moderator"]).get_json()["items"]
    actions = [e["action"] for e in reversed(entries)]
    assert actions == ["post.created", "post.submit", "post.request_changes", "post.submit", "post.approve"]
    assert entries[2]["note"] == "Needs a source." and entries[2]["actor"] == cast["editor"].name
    assert api.get(f"/api/v1/posts/{post.id}/audit").status_code == 401
    assert any(
        e["post_id"] == post.id for e in api.get("/api/v1/audit", as_=cast["admin"]).get_json()["items"]
    )


def test_retraction_keeps_the_post_at_its_address_with_the_reason(api, client, make_post, cast):
    post = make_post("published", author=cast["owner"])
    assert api.post(f"/api/v1/posts/{post.id}/retract", {"reason": ""}, as_=cast["editor"]).status_code == 422
    r = api.post(
        f"/api/v1/posts/{post.id}/retract", {"reason": "The study was withdrawn."}, as_=cast["editor"]
    )
    assert r.get_json()["status"] == "retracted"
    assert client.get(f"/posts/{post.slug}").status_code == 200
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "x", "base_revision": 1, "kind": "minor"},
        as_=cast["owner"],
    )
    assert r.status_code == 409
