"""The posts JSON API: drafts, revisions, review and publication, per the contract."""

from __future__ import annotations

import pytest


def test_author_creates_a_draft_that_is_revision_1(api, make_user):
    author = make_user("author")
    r = api.post(
        "/api/v1/posts",
        {"title": "Sleep and the heart", "body": "Sleep *matters*.", "references": ["https://example.org/a"]},
        as_=author,
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["status"] == "draft" and body["revision"] == 1 and body["slug"] is None
    assert body["publication_state"] == "never_published" and body["review_state"] == "none"
    assert isinstance(body["id"], int)


def test_slugs_stay_unique_when_published_titles_repeat(make_post):
    first = make_post("published", title="Same title")
    second = make_post("published", title="Same title")
    assert first.slug == "same-title" and second.slug == "same-title-2"


@pytest.mark.parametrize("roles", [(), ("editor",), ("moderator",), ("admin",)])
def test_only_authors_create_posts(api, make_user, roles):
    user = make_user(*roles) if roles else None
    r = api.post("/api/v1/posts", {"title": "T", "body": "b"}, as_=user)
    assert r.status_code == (401 if user is None else 403)
    assert r.get_json()["error"]["code"] in ("not_authenticated", "forbidden")


def test_a_draft_is_invisible_to_readers_and_visible_to_staff(api, make_post, make_user, client):
    post = make_post("draft")
    assert api.get(f"/api/v1/posts/{post.id}").status_code == 404
    assert api.get(f"/api/v1/posts/{post.id}/revisions").status_code == 404
    assert client.get(f"/posts/{post.slug}").status_code == 404
    staff = make_user("moderator")
    assert api.get(f"/api/v1/posts/{post.id}", as_=staff).get_json()["status"] == "draft"


def test_revising_appends_a_numbered_revision(api, make_post):
    post = make_post("draft")
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions", {"body": "New text.", "base_revision": 1}, as_=post.author
    )
    assert r.status_code == 201
    assert r.get_json()["revision"] == 2 and r.get_json()["created"] is True
    revisions = api.get(f"/api/v1/posts/{post.id}/revisions", as_=post.author).get_json()["items"]
    assert [x["revision"] for x in revisions] == [1, 2]
    assert revisions[0]["title"] == revisions[1]["title"] == "A post about sleep"


def test_saving_unchanged_text_makes_no_revision(api, make_post):
    post = make_post("draft")
    current = post.current_revision
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": current.body, "title": current.title, "references": current.references, "base_revision": 1},
        as_=post.author,
    )
    assert r.status_code == 200
    assert r.get_json()["created"] is False and r.get_json()["revision"] == 1
    assert len(api.get(f"/api/v1/posts/{post.id}/revisions", as_=post.author).get_json()["items"]) == 1


def test_a_stale_base_revision_is_refused_with_the_newer_one(api, make_post):
    post = make_post("draft")
    api.post(f"/api/v1/posts/{post.id}/revisions", {"body": "Second.", "base_revision": 1}, as_=post.author)
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions", {"body": "Lost update?", "base_revision": 1}, as_=post.author
    )
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert error["code"] == "stale_revision" and error["current_revision"] == 2


def test_another_author_cannot_revise_but_an_editor_can(api, make_post, make_user):
    post = make_post("draft")
    other = make_user("author")
    r = api.post(f"/api/v1/posts/{post.id}/revisions", {"body": "Mine now", "base_revision": 1}, as_=other)
    assert r.status_code == 403
    editor = make_user("editor")
    r = api.post(f"/api/v1/posts/{post.id}/revisions", {"body": "Edited", "base_revision": 1}, as_=editor)
    assert r.status_code == 201


def test_submit_then_approve_publishes_that_exact_revision(
    api, make_post, make_user, make_disclosure, client
):
    post = make_post("draft")
    make_disclosure(post.author)
    assert api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author).get_json()["status"] == "in_review"
    editor = make_user("editor")
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=editor)
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    assert r.get_json()["slug"] == "a-post-about-sleep"
    assert client.get(f"/posts/{r.get_json()['slug']}").status_code == 200
    listed = api.get("/api/v1/posts").get_json()
    assert [p["id"] for p in listed["items"]] == [post.id] and listed["next"] is None


def test_approving_a_revision_that_is_no_longer_current_is_refused(api, make_post, make_user):
    post = make_post("in_review")
    api.post(f"/api/v1/posts/{post.id}/revisions", {"body": "Late edit", "base_revision": 1}, as_=post.author)
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=make_user("editor"))
    assert r.status_code == 409 and r.get_json()["error"]["current_revision"] == 2


def test_nobody_approves_their_own_post(api, make_user, make_disclosure):
    writer = make_user("author", "editor")
    make_disclosure(writer)
    post_id = api.post(
        "/api/v1/posts", {"title": "Own", "body": "x", "references": ["https://example.org/r"]}, as_=writer
    ).get_json()["id"]
    assert api.post(f"/api/v1/posts/{post_id}/submit", as_=writer).get_json()["status"] == "in_review"
    r = api.post(f"/api/v1/posts/{post_id}/approve", {"revision": 1}, as_=writer)
    assert r.status_code == 403


def test_approving_a_draft_is_an_invalid_transition_not_a_permission_error(api, make_post, make_user):
    post = make_post("draft")
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=make_user("editor"))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"


def test_a_published_post_needs_a_kind_and_note_for_changes(api, make_post):
    post = make_post("published")
    url = f"/api/v1/posts/{post.id}/revisions"
    r = api.post(url, {"body": "Changed", "base_revision": 1}, as_=post.author)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "kind"
    r = api.post(url, {"body": "Changed", "base_revision": 1, "kind": "correction"}, as_=post.author)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "note"
    r = api.post(url, {"body": "Changed", "base_revision": 1, "kind": "minor"}, as_=post.author)
    assert r.status_code == 201 and r.get_json()["kind"] == "minor"


def test_readers_see_the_published_revision_while_a_correction_is_pending(api, make_post, client):
    post = make_post("published", body="Original words.")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Corrected words.", "base_revision": 1, "kind": "correction", "note": "Fixed a word."},
        as_=post.author,
    )
    public = api.get(f"/api/v1/posts/{post.id}").get_json()
    assert public["revision"] == 1 and "Original" in public["body"]
    assert [r["revision"] for r in api.get(f"/api/v1/posts/{post.id}/revisions").get_json()["items"]] == [1]
    staff = api.get(f"/api/v1/posts/{post.id}", as_=post.author).get_json()
    assert staff["revision"] == 2 and staff["published_revision"] == 1


def test_request_changes_sends_the_post_back(api, make_post, make_user):
    post = make_post("in_review")
    editor = make_user("editor")
    assert api.post(f"/api/v1/posts/{post.id}/request-changes", {"note": ""}, as_=editor).status_code == 422
    r = api.post(f"/api/v1/posts/{post.id}/request-changes", {"note": "Cite the trial."}, as_=editor)
    assert r.get_json()["status"] == "changes_requested"


def test_the_post_list_pages_with_a_next_link(api, make_post):
    for i in range(3):
        make_post("published", title=f"Post {i}")
    page = api.get("/api/v1/posts?per_page=2").get_json()
    assert len(page["items"]) == 2 and page["next"]
    public = api.client.application.config["PUBLIC_URL"]
    assert page["next"].startswith(f"{public}/api/v1/posts?after=") and page["next"].endswith("&per_page=2")
    second = api.get(page["next"].removeprefix(public)).get_json()
    assert len(second["items"]) == 1 and second["next"] is None
    assert [p["title"] for p in page["items"] + second["items"]] == ["Post 2", "Post 1", "Post 0"]


@pytest.mark.parametrize(
    "body,status",
    [
        (None, 422),
        ("[]", 422),
        ("not json", 422),
        ('{"title": 5, "body": "x"}', 422),
        ('{"title": "", "body": "x"}', 422),
        ('{"title": "t"}', 422),
        ('{"title": "t", "body": "x", "references": ["ftp://x"]}', 422),
    ],
)
def test_bad_create_bodies_get_a_4xx_json_error(client, make_user, make_token, body, status):
    token = make_token(make_user("author"))
    r = client.post(
        "/api/v1/posts",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status_code == status
    assert r.get_json()["error"]["message"]


def test_an_invalid_token_is_not_authenticated(client):
    r = client.post(
        "/api/v1/posts", json={"title": "t", "body": "b"}, headers={"Authorization": "Bearer cnd_nope"}
    )
    assert r.status_code == 401
