"""Guarantees held by the shape of the data: approval binds exact text, four eyes, races answer 409, slugs.

Races run against a real threaded HTTP server (werkzeug) on both databases: two requests released by
one barrier, many rounds. Each answer must be a success or a 409, never a 5xx, and the stored state
must match exactly one winner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from werkzeug.serving import make_server

from app import clock
from app.audit.models import AuditEntry
from app.editorial import services as editorial
from app.posts.models import Approval, Post, Publication
from tests.support.web import parse

ROUNDS = 40


@pytest.fixture
def cast(make_user, make_disclosure):
    users = {
        "owner": make_user("author"),
        "editor": make_user("editor", name="Edith First"),
        "second_editor": make_user("editor", name="Sam Second"),
        "owner_editor": make_user("author", "editor"),
    }
    for user in users.values():
        make_disclosure(user)
    return users


@pytest.fixture
def server(app) -> Iterator[str]:
    """The app behind a real threaded HTTP server on loopback (several requests truly at once)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


@pytest.fixture
def gunicorn(database_url: str, tmp_path: Any) -> Iterator[str]:
    """The app under gunicorn with 4 sync workers (4 processes, 4 connections), on the test's database."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "CANDOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("CANDOR_ENV", None)
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 - closed below, after the server
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "wsgi:app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Four workers each import the app: on a loaded 2-core machine that once took over 30 s.
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def _together(*calls: Callable[[], httpx.Response]) -> list[int]:
    """Run the calls at the same moment (one barrier) and return their status codes in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[int] = [0] * len(calls)

    def run(i: int, call: Callable[[], httpx.Response]) -> None:
        barrier.wait()
        results[i] = call().status_code

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _bearer(make_token, user) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user)}"}


def _publish_change(api, post, cast, number: int, **fields: Any) -> Any:
    """The owner saves revision ``number`` (on top of the one before), submits it; the editor approves it."""
    saved = api.post(
        f"/api/v1/posts/{post.id}/revisions", {"base_revision": number - 1, **fields}, as_=cast["owner"]
    )
    assert saved.status_code == 201, saved.get_json()
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    return api.post(f"/api/v1/posts/{post.id}/approve", {"revision": number}, as_=cast["editor"])


# --- four eyes ------------------------------------------------------------------------------------


def test_an_author_never_approves_their_own_post(api, make_post, cast):
    post = make_post("in_review", author=cast["owner_editor"])
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=cast["owner_editor"])
    assert r.status_code == 403


def test_an_editor_who_rewrote_a_draft_cannot_approve_it_but_a_second_editor_can(api, make_post, cast):
    post = make_post("draft", author=cast["owner"])
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "The editor's own words.", "base_revision": 1},
        as_=cast["editor"],
    )
    assert r.status_code == 201
    assert api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["editor"]).status_code == 200
    refused = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["editor"])
    assert refused.status_code == 403 and refused.get_json()["error"]["rule"] == "four_eyes"
    ok = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["second_editor"])
    assert ok.status_code == 200 and ok.get_json()["status"] == "published"


def test_an_author_editor_never_approves_their_correction_to_someone_elses_post(api, make_post, cast):
    post = make_post("published", author=cast["owner"])
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Fixed.", "base_revision": 1, "kind": "correction", "note": "Fixed a dose."},
        as_=cast["owner_editor"],
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["owner_editor"])
    assert r.status_code == 403 and r.get_json()["error"]["rule"] == "four_eyes"


def test_any_text_written_since_the_last_publication_counts(api, make_post, cast):
    """The editor wrote revision 2, the author revision 3 on top of it: the editor's words may remain."""
    post = make_post("published", author=cast["owner"])
    url = f"/api/v1/posts/{post.id}"
    api.post(
        f"{url}/revisions",
        {"body": "Editor's sentence.", "base_revision": 1, "kind": "correction", "note": "n"},
        as_=cast["editor"],
    )
    api.post(
        f"{url}/revisions",
        {
            "body": "Editor's sentence. Author's sentence.",
            "base_revision": 2,
            "kind": "correction",
            "note": "n",
        },
        as_=cast["owner"],
    )
    api.post(f"{url}/submit", as_=cast["owner"])
    assert api.post(f"{url}/approve", {"revision": 3}, as_=cast["editor"]).status_code == 403
    assert api.post(f"{url}/approve", {"revision": 3}, as_=cast["second_editor"]).status_code == 200


def test_the_public_history_names_writer_and_approver_and_they_differ(api, client, make_post, cast):
    post = make_post("draft", author=cast["owner"])
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    slug = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=cast["editor"]).get_json()[
        "slug"
    ]
    row = parse(client.get(f"/posts/{slug}/history")).select_one("table.history tbody tr")
    cells = row.get_text(" ")
    assert cast["owner"].name in cells and cast["editor"].name in cells


def _refused_raw_approval(session, post, *, writer_id: int, approver_id: int) -> None:
    """Insert an approval of ``post``'s current revision as given and expect the database to refuse it."""
    session.add(
        Approval(
            post_id=post.id,
            revision_id=post.current_revision.id,
            revision_author_id=writer_id,
            approved_by_id=approver_id,
            gates=[],
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_the_database_refuses_an_approval_by_the_texts_writer(session, make_post, cast):
    post = make_post("in_review", author=cast["owner"])
    writer = post.current_revision.author_id
    _refused_raw_approval(session, post, writer_id=writer, approver_id=writer)


def test_the_database_refuses_a_publication_of_other_text_than_approved(session, make_post, cast):
    post = make_post("published", author=cast["owner"])
    approval = session.scalars(select(Approval).where(Approval.post_id == post.id)).one()
    other = make_post("draft", author=cast["owner"]).current_revision
    session.add(
        Publication(
            post_id=post.id,
            revision_id=other.id,
            approval_id=approval.id,
            approved_by_id=approval.approved_by_id,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


# --- approval binds what was approved -------------------------------------------------------------


def _schedule(api, post, editor, hours: int = 2):
    when = (clock.utc_now() + timedelta(hours=hours)).isoformat()
    r = api.post(
        f"/api/v1/posts/{post.id}/approve",
        {"revision": post.current_revision.number, "publish_at": when},
        as_=editor,
    )
    assert r.status_code == 200 and r.get_json()["review_state"] == "scheduled"


def _publish_due_later(session, gate_settings, hours: int = 3) -> list[Post]:
    clock.freeze(clock.utc_now() + timedelta(hours=hours))
    try:
        done = editorial.publish_due(session, gate_settings)
        session.commit()
    finally:
        clock.freeze(None)
    return done


def test_an_edit_after_a_scheduled_approval_withdraws_it_and_nothing_is_published(
    api, session, make_post, cast, gate_settings
):
    post = make_post("in_review", author=cast["owner"])
    _schedule(api, post, cast["editor"])
    r = api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Unapproved words.", "base_revision": 1},
        as_=cast["owner"],
    )
    assert r.status_code == 201
    assert _publish_due_later(session, gate_settings) == []
    fresh = api.get(f"/api/v1/posts/{post.id}", as_=cast["editor"]).get_json()
    assert fresh["publication_state"] == "never_published" and fresh["review_state"] == "none"
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.post_id == post.id)).all()
    assert "post.edit" in actions


def test_a_disclosure_changed_after_approval_sends_the_post_back_and_the_page_shows_the_approved_one(
    api, client, session, make_post, cast, gate_settings
):
    post = make_post("in_review", author=cast["owner"])
    _schedule(api, post, cast["editor"])
    assert (
        api.put(
            "/api/v1/me/disclosure",
            {"no_conflicts": False, "interests": [{"entity": "Acme Pharma", "relationship": "consulting"}]},
            as_=cast["owner"],
        ).status_code
        == 201
    )
    fresh = api.get(f"/api/v1/posts/{post.id}", as_=cast["editor"]).get_json()
    assert fresh["review_state"] == "in_review"  # back in the editor's queue
    assert _publish_due_later(session, gate_settings) == []
    # Approved again, now with the new disclosure: the page shows it, frozen with this approval.
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=cast["editor"])
    assert r.status_code == 200
    page = parse(client.get(f"/posts/{r.get_json()['slug']}"))
    assert "Acme Pharma" in page.get_text(" ")


def test_scheduled_publication_publishes_the_approved_revision_and_its_frozen_disclosure(
    api, session, make_post, cast, gate_settings
):
    post = make_post("in_review", author=cast["owner"])
    _schedule(api, post, cast["editor"])
    approval = session.scalars(select(Approval).where(Approval.post_id == post.id)).one()
    done = _publish_due_later(session, gate_settings)
    assert [p.id for p in done] == [post.id]
    publication = session.scalars(select(Publication).where(Publication.post_id == post.id)).one()
    assert (publication.revision_id, publication.disclosure_id, publication.approval_id) == (
        approval.revision_id,
        approval.disclosure_id,
        approval.id,
    )


# --- races ------------------------------------------------------------------------------------------


def test_two_editors_saving_on_one_base_get_one_201_and_one_409_every_round(
    server, make_post, make_token, cast
):
    post = make_post("published", author=cast["owner"])
    first, second = _bearer(make_token, cast["editor"]), _bearer(make_token, cast["second_editor"])
    url = f"{server}/api/v1/posts/{post.id}/revisions"
    with httpx.Client(timeout=30) as http:
        for base in range(1, ROUNDS + 1):

            def save(headers: dict[str, str], who: str, base: int = base) -> httpx.Response:
                return http.post(
                    url,
                    headers=headers,
                    json={"body": f"Round {base} by {who}.", "base_revision": base, "kind": "minor"},
                )

            codes = _together(lambda: save(first, "first"), lambda: save(second, "second"))
            assert sorted(codes) == [201, 409], (base, codes)
        current = http.get(f"{server}/api/v1/posts/{post.id}", headers=first).json()
    assert current["revision"] == ROUNDS + 1


def test_two_editors_racing_behind_four_gunicorn_workers_get_one_201_and_one_409(
    gunicorn, make_post, make_token, cast, tmp_path
):
    post = make_post("published", author=cast["owner"])
    first, second = _bearer(make_token, cast["editor"]), _bearer(make_token, cast["second_editor"])
    url = f"{gunicorn}/api/v1/posts/{post.id}/revisions"
    with httpx.Client(timeout=60) as http:
        for base in range(1, ROUNDS + 1):
            bodies = [
                {"body": f"Round {base} by {who}.", "base_revision": base, "kind": "minor"}
                for who in ("first", "second")
            ]
            codes = _together(
                partial(http.post, url, headers=first, json=bodies[0]),
                partial(http.post, url, headers=second, json=bodies[1]),
            )
            assert sorted(codes) == [201, 409], (base, codes, (tmp_path / "gunicorn.log").read_text()[-2000:])


@pytest.mark.parametrize("action", ["approve", "submit"])
def test_a_double_click_answers_once_and_then_409(server, make_post, make_token, cast, action):
    for _ in range(10):
        post = make_post("in_review" if action == "approve" else "draft", author=cast["owner"])
        who = cast["editor"] if action == "approve" else cast["owner"]
        headers = _bearer(make_token, who)
        url = f"{server}/api/v1/posts/{post.id}/{action}"
        body: dict[str, Any] = {"revision": 1} if action == "approve" else {}
        with httpx.Client(timeout=30) as http:
            click = partial(http.post, url, headers=headers, json=body)
            codes = _together(click, click)
        assert sorted(codes) == [200, 409], codes


@pytest.mark.parametrize("scheduled", [False, True])
def test_approve_racing_revise_publishes_exactly_the_approved_revision(
    server, session, make_post, make_token, cast, gate_settings, scheduled
):
    editor, author = _bearer(make_token, cast["editor"]), _bearer(make_token, cast["owner"])
    for _ in range(10):
        post = make_post("in_review", author=cast["owner"], body="Approved words.")
        body: dict[str, Any] = {"revision": 1}
        if scheduled:
            body["publish_at"] = (clock.utc_now() + timedelta(hours=1)).isoformat()
        with httpx.Client(timeout=30) as http:
            codes = _together(
                partial(http.post, f"{server}/api/v1/posts/{post.id}/approve", headers=editor, json=body),
                partial(
                    http.post,
                    f"{server}/api/v1/posts/{post.id}/revisions",
                    headers=author,
                    json={"body": "Words nobody approved.", "base_revision": 1},
                ),
            )
        assert all(c in (200, 201, 409, 422) for c in codes), codes  # 422: a correction needs a kind
    _publish_due_later(session, gate_settings)
    session.expire_all()
    for publication in session.scalars(select(Publication)):
        assert publication.revision.body == "Approved words."
        approval = session.get(Approval, publication.approval_id)
        assert approval is not None and approval.revision_id == publication.revision_id


# --- slugs --------------------------------------------------------------------------------------------


def test_a_retitled_drafts_first_title_appears_nowhere_public(api, client, make_post, cast):
    post = make_post("draft", author=cast["owner"], title="Confidential cardiology layoffs planned for March")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"title": "New heart clinic hours", "body": "Open late.", "base_revision": 1},
        as_=cast["owner"],
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=cast["editor"])
    assert r.get_json()["slug"] == "new-heart-clinic-hours"
    for path in (
        "/",
        "/feed.atom",
        "/corrections",
        f"/posts/{r.get_json()['slug']}",
        "/api/v1/posts",
        f"/api/v1/posts/{post.id}",
        f"/api/v1/posts/{post.id}/revisions",
    ):
        body = client.get(path).get_data(as_text=True).lower()
        assert "layoffs" not in body and "confidential" not in body, path
    assert client.get("/posts/confidential-cardiology-layoffs-planned-for-march").status_code == 404


def test_an_old_slug_answers_301_to_the_current_one(api, client, make_post, cast):
    post = make_post("published", author=cast["owner"], title="Old title")
    assert post.slug == "old-title"
    assert (
        _publish_change(api, post, cast, 2, title="New title", body="Same.", kind="minor").status_code == 200
    )
    for suffix in ("", "/history", "/changes", "/revisions/1"):
        moved = client.get(f"/posts/old-title{suffix}")
        assert moved.status_code == 301 and moved.headers["Location"].endswith(f"/posts/new-title{suffix}")
        assert client.get(f"/posts/new-title{suffix}").status_code == 200
    # The old address never passes to another post.
    assert make_post("published", author=cast["owner"], title="Old title").slug == "old-title-2"


def test_history_tables_still_refuse_raw_updates(session, make_post):
    """The new history tables (approvals, slugs) refuse a raw UPDATE and DELETE like the old ones."""
    make_post("published")  # one approval and one slug to refuse changes to
    with pytest.raises(Exception):  # noqa: B017 - sqlite and psycopg raise different classes
        session.execute(text("UPDATE approvals SET gates = '[]'"))
        session.flush()
    session.rollback()
    with pytest.raises(Exception):  # noqa: B017
        session.execute(text("DELETE FROM post_slugs"))
    session.rollback()


def test_an_error_report_cannot_be_answered_by_a_correction_published_before_it(
    api, session, make_post, cast, gate_settings
):
    from app.corrections import services as corrections
    from app.errors import InvalidInput

    post = make_post("published", author=cast["owner"], body="Take 50 mg.")
    _publish_change(api, post, cast, 2, body="Take 5 mg.", kind="correction", note="Dose.")
    session.expire_all()
    fresh = session.get(Post, post.id)
    clock.freeze(clock.utc_now() + timedelta(minutes=5))
    try:
        report = corrections.report_error(
            session, fresh, what="Wrong dose", source="", email="", ip="192.0.2.1"
        )
        session.commit()
        with pytest.raises(InvalidInput):
            corrections.accept_report(session, cast["owner"], report.id, 2)
    finally:
        clock.freeze(None)
    session.rollback()


def test_the_review_page_offers_approval_only_to_an_editor_who_wrote_none_of_it(client, api, make_post, cast):
    from tests.support.web import log_in

    post = make_post("draft", author=cast["owner"])
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Editor's words.", "base_revision": 1},
        as_=cast["editor"],
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=cast["owner"])
    log_in(client, cast["editor"].email)
    page = parse(client.get(f"/staff/reviews/{post.id}"))
    assert page.select_one("#approve-form") is None and page.select_one("#four-eyes") is not None
    second = client.application.test_client()
    log_in(second, cast["second_editor"].email)
    page = parse(second.get(f"/staff/reviews/{post.id}"))
    assert page.select_one("#approve-form") is not None
    assert cast["editor"].name in page.select_one(".writers").get_text()


# --- found by attacking the above ---------------------------------------------------------------------


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_publish_at_past_the_calendar_is_refused_not_a_500(api, make_post, cast, when):
    post = make_post("in_review", author=cast["owner"])
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1, "publish_at": when}, as_=cast["editor"])
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "publish_at"


def test_an_interests_answer_given_against_an_older_disclosure_does_not_count(api, make_post, cast):
    post = make_post("in_review", author=cast["owner"])  # submitted under "no relevant relationships"
    assert (
        api.put(
            "/api/v1/me/disclosure",
            {"no_conflicts": False, "interests": [{"entity": "StatinCorp", "relationship": "consulting"}]},
            as_=cast["owner"],
        ).status_code
        == 201
    )
    r = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 1}, as_=cast["editor"])
    assert r.status_code == 422 and "disclosure" in [g["gate"] for g in r.get_json()["error"]["gates"]]


def test_a_retitle_that_drops_a_trailing_number_gets_a_new_address(api, client, make_post, cast):
    post = make_post("published", author=cast["owner"], title="Vitamin D dose 4000")
    r = _publish_change(
        api,
        post,
        cast,
        2,
        title="Vitamin D dose",
        body="Same.",
        kind="correction",
        note="The number was wrong.",
    )
    assert r.get_json()["slug"] == "vitamin-d-dose"
    assert client.get("/posts/vitamin-d-dose-4000").headers["Location"].endswith("/posts/vitamin-d-dose")


def test_every_route_under_an_old_slug_redirects(api, client, make_post, cast):
    post = make_post("published", author=cast["owner"], title="Alpha title")
    _publish_change(api, post, cast, 2, title="Beta title", body="Same.", kind="minor")
    report = client.get("/posts/alpha-title/report")
    assert report.status_code == 301 and report.headers["Location"].endswith("/posts/beta-title/report")
    comment = client.post("/posts/alpha-title/comments", data={"body": "Hello"})
    assert comment.status_code == 308 and comment.headers["Location"].endswith("/posts/beta-title/comments")


def test_a_scheduled_approval_lapses_when_its_editor_can_no_longer_approve(
    api, session, make_post, cast, gate_settings
):
    from app.accounts.models import User

    post = make_post("in_review", author=cast["owner"])
    _schedule(api, post, cast["editor"])
    editor = session.get(User, cast["editor"].id)
    editor.is_active = False
    session.commit()
    assert _publish_due_later(session, gate_settings) == []
    fresh = api.get(f"/api/v1/posts/{post.id}", as_=cast["second_editor"]).get_json()
    assert fresh["publication_state"] == "never_published" and fresh["review_state"] == "in_review"


def test_only_the_author_or_the_approving_editor_withdraws(api, make_post, cast):
    post = make_post("in_review", author=cast["owner"])
    assert api.post(f"/api/v1/posts/{post.id}/withdraw", as_=cast["second_editor"]).status_code == 403
    _schedule(api, post, cast["editor"])
    assert api.post(f"/api/v1/posts/{post.id}/withdraw", as_=cast["second_editor"]).status_code == 403
    assert api.post(f"/api/v1/posts/{post.id}/withdraw", as_=cast["editor"]).status_code == 200


def test_the_index_changes_even_when_a_later_commit_carries_an_earlier_stamp(api, client, make_post, cast):
    """Two publications may commit in the other order than they were stamped: the key must still move."""
    first = make_post("published", author=cast["owner"], title="First post")
    second = make_post("published", author=cast["owner"], title="Second post")
    assert "Second post" in client.get("/").get_data(as_text=True)
    api.post(
        f"/api/v1/posts/{first.id}/revisions",
        {"title": "First post, renamed", "body": "x", "base_revision": 1, "kind": "minor"},
        as_=cast["owner"],
    )
    api.post(f"/api/v1/posts/{first.id}/submit", as_=cast["owner"])
    clock.freeze(clock.utc_now() - timedelta(hours=1))  # this commit's stamp is older than the newest one
    try:
        assert (
            api.post(f"/api/v1/posts/{first.id}/approve", {"revision": 2}, as_=cast["editor"]).status_code
            == 200
        )
    finally:
        clock.freeze(None)
    assert "First post, renamed" in client.get("/").get_data(as_text=True)
    assert second.slug == "second-post"


def test_the_database_refuses_an_approval_that_names_the_wrong_writer(session, make_post, cast):
    post = make_post("in_review", author=cast["owner"])
    writer = post.current_revision.author_id  # the real writer approves, naming someone else as writer
    _refused_raw_approval(session, post, writer_id=cast["editor"].id, approver_id=writer)


def test_two_moderators_deciding_one_comment_at_once_get_one_decision_and_one_409(
    server, make_post, make_user, make_token
):
    from tests.support.comments import READER

    post = make_post("published")
    first = _bearer(make_token, make_user("moderator"))
    second = _bearer(make_token, make_user("moderator"))
    with httpx.Client(timeout=30) as http:
        for i in range(10):
            body = {**READER, "body": f"Does the sleep advice apply to night shifts, question {i}?"}
            made = http.post(f"{server}/api/v1/posts/{post.id}/comments", json=body)
            assert made.status_code in (201, 202), made.text
            url = f"{server}/api/v1/comments/{made.json()['id']}/moderate"
            codes = _together(
                partial(http.post, url, headers=first, json={"action": "approve"}),
                partial(http.post, url, headers=second, json={"action": "approve"}),
            )
            if made.status_code == 202:
                assert sorted(codes) == [200, 409], codes
            else:
                assert codes == [409, 409], codes
