"""Redaction: the one narrow path that may rewrite stored history, on SQLite and PostgreSQL.

After a redaction the identifier's bytes are nowhere in the database (every text column of every table
is read back), the audit log says who, why, where and how long, never what; the public history says
that it happened; and every other UPDATE or DELETE of history is still refused by the database.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.comments.models import Comment
from app.contact.models import ContactMessage
from app.corrections.models import ErrorReport
from app.editorial import services as editorial
from app.posts import services as posts
from app.posts.models import Post, Revision
from app.redaction.models import MARK
from tests.support.web import PASSWORD, log_in, parse

IDENT = "Jane Quigley"  # a patient's name the privacy scan does not know
BODY = f"A patient, {IDENT}, recovered well.\n\nWe thank the ward; {IDENT} agreed to this account."


def _dump(session: Session) -> str:
    """Every column of every table, as text, straight from the database."""
    session.expire_all()
    bind = session.connection()
    chunks = []
    for table in inspect(bind).get_table_names():
        for row in bind.execute(text(f'SELECT * FROM "{table}"')):
            chunks.append(f"{table}: " + " | ".join(str(v) for v in row))
    return "\n".join(chunks)


def _sqlite_files(session: Session) -> bytes:
    """On SQLite, the bytes of the database file and its write-ahead log after a checkpoint (what a copy of
    the files would hold); on PostgreSQL, nothing (its files are not ours to read)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return b""
    session.rollback()  # no snapshot of ours holds the log back
    with bind.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(str(bind.url.database))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture
def editors(make_user: Any) -> tuple[Any, Any, Any]:
    return (
        make_user("editor", name="Erin First"),
        make_user("editor", name="Femi Second"),
        make_user("editor", name="Gail Third"),
    )


@pytest.fixture
def corrected(session: Session, make_post: Any, make_user: Any, gate_settings: Any) -> Post:
    """A post whose revision 1 (published) names a patient; revision 2 (published) no longer does, so the
    stored diff 1 → 2 shows the identifier too."""
    post = make_post("published", body=BODY, title="A recovery")
    editor = make_user("editor", name="Corinne Corrector")
    change = posts.RevisionInput(
        "A recovery",
        "A patient recovered well.",
        ["https://example.org/sleep-study"],
        "correction",
        "Less detail.",
    )
    revision, _ = posts.revise(session, post.author, post, change, 1)
    editorial.submit(session, post.author, post, gate_settings)
    editorial.approve(session, editor, post, revision.number, gate_settings)
    session.commit()
    return post


def _ask(api: Any, editor: Any, post: Post, number: int = 1, needle: str = IDENT) -> Any:
    body = {
        "target": "revision",
        "post_id": post.id,
        "revision": number,
        "text": needle,
        "reason": "Names a patient.",
    }
    return api.post("/api/v1/redactions", body, as_=editor)


def test_published_text_needs_a_second_editor_then_the_bytes_are_gone(
    api: Any, client: Any, session: Session, corrected: Post, editors: Any
) -> None:
    first, second, _third = editors
    client.get(f"/posts/{corrected.slug}/changes?from=1&to=2")  # a reader page, cached
    assert IDENT in _dump(session)  # in the revision, its HTML and the stored diff
    if session.get_bind().dialect.name == "sqlite":
        assert IDENT.encode() in _sqlite_files(session)

    assert _ask(api, corrected.author, corrected).status_code == 403  # authors cannot redact
    asked = _ask(api, first, corrected)
    assert asked.status_code == 201, asked.get_json()
    pending = asked.get_json()
    assert pending["state"] == "pending" and pending["needs_confirmation"] and pending["span_count"] == 2
    assert IDENT in _dump(session)  # nothing happens before the second editor
    assert IDENT not in json.dumps(pending)

    assert api.post(f"/api/v1/redactions/{pending['id']}/confirm", as_=first).status_code == 403
    assert api.post(f"/api/v1/redactions/{pending['id']}/confirm", as_=corrected.author).status_code == 403
    done = api.post(f"/api/v1/redactions/{pending['id']}/confirm", as_=second)
    assert done.status_code == 200 and done.get_json()["state"] == "applied"
    assert api.post(f"/api/v1/redactions/{pending['id']}/confirm", as_=second).status_code == 409

    assert IDENT not in _dump(session)
    assert IDENT.encode() not in _sqlite_files(session)  # not even in free space or the log
    revision = session.query(Revision).filter_by(post_id=corrected.id, number=1).one()
    assert revision.body == BODY.replace(IDENT, MARK)
    assert MARK in revision.html and revision.redaction_count == 1
    other = session.query(Revision).filter_by(post_id=corrected.id, number=2).one()
    assert other.body == "A patient recovered well." and other.redaction_count == 0

    entries = session.query(AuditEntry).filter(AuditEntry.action.like("redaction.%")).all()
    applied = [e for e in entries if e.action == "redaction.applied"]
    assert len(applied) == 1 and applied[0].actor_id == second.id
    assert (
        applied[0].data["span_length"] == 2 * len(IDENT)
        and applied[0].data["target_table"] == "post_revisions"
    )
    assert applied[0].note == "Names a patient."
    assert all(IDENT not in json.dumps(e.data) + e.note for e in entries)

    # Readers see that it happened (the cached pages were refreshed), and the mark where the text was.
    history = parse(client.get(f"/posts/{corrected.slug}/history"))
    assert "Version 1: redacted on" in history.select_one("#redaction-notes").get_text(" ")
    page = client.get(f"/posts/{corrected.slug}/revisions/1").get_data(as_text=True)
    assert IDENT not in page and MARK in page
    assert parse(client.get(f"/posts/{corrected.slug}/revisions/1")).select_one("#redaction-note") is not None
    assert parse(client.get(f"/posts/{corrected.slug}/revisions/2")).select_one("#redaction-note") is None
    changes = client.get(f"/posts/{corrected.slug}/changes?from=1&to=2").get_data(as_text=True)
    assert IDENT not in changes
    assert (
        parse(client.get(f"/posts/{corrected.slug}")).select_one("#redaction-note") is None
    )  # rev 2 is current


def test_drafts_comments_reports_and_messages_need_one_editor(
    api: Any, session: Session, make_post: Any, editors: Any
) -> None:
    first = editors[0]
    draft = make_post("draft", body=BODY)
    live = make_post("published")
    comment = Comment(
        post_id=live.id,
        author_name="Reader",
        author_email="r@example.org",
        body=BODY,
        html="<p>x</p>",
        checks=[{"name": "privacy", "detail": IDENT}],
    )
    report = ErrorReport(post_id=live.id, revision_number=1, what=f"It names {IDENT}.", source="")
    message = ContactMessage(name="Reader", email="r@example.org", subject=IDENT, body=BODY)
    session.add_all([comment, report, message])
    session.commit()

    assert _ask(api, first, draft).get_json()["state"] == "applied"
    # A live post's current text, redacted: its page says so.
    current = make_post("published", body=BODY)
    pending = _ask(api, first, current).get_json()
    assert api.post(f"/api/v1/redactions/{pending['id']}/confirm", as_=editors[1]).status_code == 200
    page = parse(api.client.get(f"/posts/{current.slug}"))
    assert page.select_one("#redaction-note") is not None and IDENT not in page.get_text()
    for target, record in (("comment", comment), ("error_report", report), ("contact_message", message)):
        r = api.post(
            "/api/v1/redactions",
            {"target": target, "id": record.id, "text": IDENT, "reason": "Patient."},
            as_=first,
        )
        assert r.status_code == 201 and r.get_json()["state"] == "applied", r.get_json()
    assert IDENT not in _dump(session)
    session.expire_all()
    assert MARK in session.get(Comment, comment.id).html
    assert session.get(ContactMessage, message.id).subject == MARK


@pytest.mark.parametrize(
    "body",
    [
        {"target": "revision", "post_id": 1, "revision": 1, "text": "not in the text", "reason": "r"},
        {"target": "revision", "post_id": 1, "revision": 1, "text": IDENT, "reason": ""},
        {"target": "revision", "post_id": 1, "revision": 1, "text": IDENT, "reason": f"It says {IDENT}"},
        {
            "target": "revision",
            "post_id": 1,
            "revision": 1,
            "text": IDENT,
            "reason": f"It says {IDENT.upper()}",
        },
        {"target": "revision", "post_id": 1, "revision": 1, "text": "   ", "reason": "r"},
        {"target": "revision", "post_id": 1, "revision": 1, "text": ["x"], "reason": "r"},
        {"target": "revision", "post_id": 1, "revision": 1, "text": "x" * 5000, "reason": "r"},
        {"target": "revision", "post_id": 1, "revision": 1, "text": MARK, "reason": "r"},
        {"target": "revision", "post_id": 1, "revision": 1, "text": "\ud800", "reason": "r"},
        {"target": "nothing", "id": 1, "text": IDENT, "reason": "r"},
        {"target": "comment", "id": "1", "text": IDENT, "reason": "r"},
        {"target": "comment", "id": 10**12, "text": IDENT, "reason": "r"},
    ],
)
def test_bad_requests_are_refused_with_a_4xx(
    api: Any, make_post: Any, editors: Any, body: dict[str, Any]
) -> None:
    make_post("published", body=BODY)
    r = api.post("/api/v1/redactions", body, as_=editors[0])
    assert 400 <= r.status_code < 500 and "error" in r.get_json()


def test_a_second_redaction_after_the_first_works_and_a_stale_request_conflicts(
    api: Any, session: Session, corrected: Post, editors: Any
) -> None:
    first, second, third = editors
    one = _ask(api, first, corrected, needle="Jane").get_json()
    two = _ask(api, third, corrected, needle="Quigley").get_json()
    assert api.post(f"/api/v1/redactions/{one['id']}/confirm", as_=second).status_code == 200
    assert api.post(f"/api/v1/redactions/{two['id']}/confirm", as_=second).status_code == 409  # offsets moved
    again = _ask(api, third, corrected, needle="Quigley").get_json()
    assert api.post(f"/api/v1/redactions/{again['id']}/confirm", as_=first).status_code == 200
    revision = session.query(Revision).filter_by(post_id=corrected.id, number=1).one()
    session.refresh(revision)
    assert revision.redaction_count == 2 and "Jane" not in revision.body and "Quigley" not in revision.body


def test_two_confirmations_at_once_one_wins(
    app: Any, api: Any, session: Session, corrected: Post, editors: Any, make_token: Any
) -> None:
    first, second, third = editors
    pending = _ask(api, first, corrected).get_json()
    tokens = {second.id: make_token(second), third.id: make_token(third)}
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def confirm(user_id: int) -> None:
        with app.test_client() as c:
            barrier.wait()
            r = c.post(
                f"/api/v1/redactions/{pending['id']}/confirm",
                json={},
                headers={"Authorization": f"Bearer {tokens[user_id]}"},
            )
            codes.append(r.status_code)

    threads = [threading.Thread(target=confirm, args=(u,)) for u in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]
    count = session.execute(text("SELECT count(*) FROM redaction_applications")).scalar()
    assert count == 1


# --- the database still refuses every other change ---------------------------------------------------


def _refused(session: Session, statement: str, **params: Any) -> None:
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text(statement), params)
        session.flush()
    session.rollback()


def test_raw_changes_to_history_are_still_refused(
    api: Any, session: Session, corrected: Post, editors: Any
) -> None:
    first, second, _ = editors
    revision_id = session.query(Revision.id).filter_by(post_id=corrected.id, number=1).scalar()
    pretend = (
        "UPDATE post_revisions SET body = 'rewritten', redaction_count = redaction_count + 1 WHERE id = :id"
    )
    _refused(session, pretend, id=revision_id)
    _refused(session, "UPDATE post_revisions SET body = 'rewritten' WHERE id = :id", id=revision_id)
    _refused(session, "DELETE FROM post_revisions WHERE id = :id", id=revision_id)
    _refused(session, "DELETE FROM revision_diffs")  # none is stale yet

    pending = _ask(api, first, corrected).get_json()
    assert api.post(f"/api/v1/redactions/{pending['id']}/confirm", as_=second).status_code == 200
    # The application is used up: it cannot authorise a second rewrite, nor be replayed.
    _refused(session, pretend, id=revision_id)
    _refused(
        session, "UPDATE post_revisions SET body = 'x', redaction_count = 1 WHERE id = :id", id=revision_id
    )
    _refused(session, "DELETE FROM redactions")
    _refused(session, "UPDATE redactions SET reason = 'other'")
    _refused(session, "DELETE FROM redaction_applications")
    _refused(session, "UPDATE redaction_applications SET sequence = 5")
    _refused(session, "DELETE FROM audit_entries")

    # A forged ledger row with the wrong bookkeeping does not open the door either.
    row = session.execute(text("SELECT * FROM redactions")).mappings().one()
    new_id = session.execute(
        text(
            "INSERT INTO redactions (target_table, target_id, reason, requested_by_id, requested_at, spans, "
            "span_count, span_length, base_sequence, needs_confirmation) "
            "VALUES ('post_revisions', :t, 'x', :u, :at, '[]', 1, 3, 1, :f) RETURNING id"
        ),
        {"t": revision_id, "u": first.id, "at": row["requested_at"], "f": False},
    ).scalar()
    session.execute(
        text(
            "INSERT INTO redaction_applications (redaction_id, target_table, target_id, requested_by_id, "
            "needs_confirmation, applied_by_id, sequence, applied_at) "
            "VALUES (:r, 'post_revisions', :t, :u, :f, :u, 2, :at)"
        ),
        {"r": new_id, "t": revision_id, "u": first.id, "f": False, "at": row["requested_at"]},
    )
    _refused(
        session,
        "UPDATE post_revisions SET body = 'all new text', redaction_count = 2 WHERE id = :id",
        id=revision_id,
    )
    body = session.execute(
        text("SELECT body FROM post_revisions WHERE id = :id"), {"id": revision_id}
    ).scalar()
    assert body == BODY.replace(IDENT, MARK)


def test_the_four_eyes_check_is_in_the_data(
    session: Session, corrected: Post, api: Any, editors: Any
) -> None:
    first = editors[0]
    pending = _ask(api, first, corrected).get_json()
    revision_id = session.query(Revision.id).filter_by(post_id=corrected.id, number=1).scalar()
    with pytest.raises(DatabaseError):
        session.execute(
            text(
                "INSERT INTO redaction_applications (redaction_id, target_table, target_id, requested_by_id, "
                "needs_confirmation, applied_by_id, sequence, applied_at) "
                "VALUES (:r, 'post_revisions', :t, :u, :f, :u, 1, CURRENT_TIMESTAMP)"
            ),
            {"r": pending["id"], "t": revision_id, "u": first.id, "f": True},
        )
    session.rollback()


def test_the_migration_and_the_model_agree_on_the_mark() -> None:
    from importlib import import_module

    migration = import_module("migrations.versions.2026_12_03_0008_redactions")
    assert migration.MARK_LENGTH == len(MARK)


# --- the staff pages ----------------------------------------------------------------------------------


def _csrf(client: Any, path: str) -> str:
    return str(parse(client.get(path)).find("input", attrs={"name": "csrf_token"})["value"])


def test_two_editors_redact_through_the_staff_pages(
    app: Any, session: Session, corrected: Post, editors: Any
) -> None:
    first, second, _ = editors
    revision_id = session.query(Revision.id).filter_by(post_id=corrected.id, number=1).scalar()
    one = app.test_client()
    log_in(one, first.email, PASSWORD)
    diff = parse(one.get(f"/staff/posts/{corrected.id}/diff?from=1&to=2"))
    link = diff.select_one(".redact-links a")
    assert link is not None and link["href"] == f"/staff/redactions/new/revision/{revision_id}"
    form_path = str(link["href"])
    token = _csrf(one, form_path)
    preview = one.post(form_path, data={"csrf_token": token, "text": IDENT, "reason": "Names a patient."})
    assert preview.status_code == 200
    summary = parse(preview).select_one("#redaction-summary").get_text(" ")
    assert "2 occurrences" in summary
    assert IDENT in _dump(session)  # the preview changes nothing
    asked = one.post(
        form_path, data={"csrf_token": token, "text": IDENT, "reason": "Names a patient.", "confirmed": "1"}
    )
    assert asked.status_code == 303
    show_path = asked.headers["Location"]
    page = parse(one.get(show_path))
    assert "Waiting for a second editor" in page.select_one("#redaction-state").get_text()
    assert page.find("button", string="Confirm and redact") is None  # not for the one who asked

    two = app.test_client()
    log_in(two, second.email, PASSWORD)
    page = parse(two.get(show_path))
    assert page.find("mark").get_text() == IDENT
    done = two.post(f"{show_path}/confirm", data={"csrf_token": _csrf(two, show_path)})
    assert done.status_code == 303
    assert "Carried out by Femi Second" in parse(two.get(show_path)).select_one("#redaction-state").get_text()
    assert IDENT not in _dump(session)
    assert IDENT not in two.get("/staff/redactions/").get_data(as_text=True)


def test_the_form_offers_the_privacy_scans_findings(
    app: Any, make_post: Any, editors: Any, session: Session
) -> None:
    draft = make_post("draft", body="Seen in clinic, MRN 44172290, doing well.")
    revision_id = session.query(Revision.id).filter_by(post_id=draft.id, number=1).scalar()
    client = app.test_client()
    log_in(client, editors[0].email, PASSWORD)
    page = parse(client.get(f"/staff/redactions/new/revision/{revision_id}"))
    offered = [code.get_text() for code in page.select("#redaction-suggestions code")]
    assert any("44172290" in found for found in offered)


def test_only_editors_open_the_redaction_pages(
    app: Any, corrected: Post, make_user: Any, session: Session
) -> None:
    revision_id = session.query(Revision.id).filter_by(post_id=corrected.id, number=1).scalar()
    client = app.test_client()
    log_in(client, corrected.author.email, PASSWORD)
    assert client.get(f"/staff/redactions/new/revision/{revision_id}").status_code == 403
    assert client.get("/staff/redactions/").status_code == 403
    assert app.test_client().get("/staff/redactions/").status_code in (302, 401)


def test_the_staff_form_survives_hostile_text(
    app: Any, corrected: Post, editors: Any, session: Session
) -> None:
    from tests.support import hostile

    revision_id = session.query(Revision.id).filter_by(post_id=corrected.id, number=1).scalar()
    path = f"/staff/redactions/new/revision/{revision_id}"
    client = app.test_client()
    log_in(client, editors[0].email, PASSWORD)
    token = _csrf(client, path)
    values = {**hostile.TEXT, **hostile.SCRIPTS, "huge": "x" * 200_000}
    for name, value in values.items():
        if not isinstance(value, str) or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            continue  # a form post carries UTF-8 text only
        for field in ("text", "reason"):
            data = {"csrf_token": token, "text": IDENT, "reason": "Names a patient.", field: value}
            for confirmed in ("", "1"):
                r = client.post(path, data={**data, "confirmed": confirmed})
                assert r.status_code < 500, (name, field, confirmed, r.status_code)
    session.expire_all()
    assert session.get(Revision, revision_id).redaction_count == 0  # published: all still pending at most


def test_the_redact_links_on_comments_reports_and_messages(
    app: Any, session: Session, make_post: Any, make_user: Any
) -> None:
    staff = make_user("editor", "moderator", name="Mo Editor")
    live = make_post("published")
    comment = Comment(
        post_id=live.id, author_name="R", author_email="r@example.org", body=BODY, html="<p>x</p>"
    )
    report = ErrorReport(post_id=live.id, revision_number=1, what=f"It names {IDENT}.", source="")
    message = ContactMessage(name="R", email="r@example.org", subject="Hello", body=BODY)
    session.add_all([comment, report, message])
    session.commit()
    client = app.test_client()
    log_in(client, staff.email, PASSWORD)
    for page, target in (
        (f"/staff/comments/{comment.id}", f"/staff/redactions/new/comment/{comment.id}"),
        ("/staff/error-reports", f"/staff/redactions/new/error_report/{report.id}"),
        (f"/staff/contact/{message.id}", f"/staff/redactions/new/contact_message/{message.id}"),
    ):
        soup = parse(client.get(page))
        assert soup.find("a", href=target) is not None, page
        form = client.get(target)
        assert form.status_code == 200 and IDENT in form.get_data(as_text=True)


@pytest.mark.parametrize("redaction_id", [2**31, 2**40, 10**20])
def test_an_id_beyond_any_column_names_no_redaction(api: Any, editors: Any, redaction_id: int) -> None:
    """A path id too large for any column answers 404, never a 500."""
    assert api.get(f"/api/v1/redactions/{redaction_id}", as_=editors[0]).status_code == 404
    assert api.post(f"/api/v1/redactions/{redaction_id}/confirm", as_=editors[0]).status_code == 404


# --- copies: audit entries, slugs, staff replies, moderation decisions ------------------------------------

SLUGGED = "jane-quigley"  # the identifier as a URL spells it


@pytest.fixture
def titled(session: Session, make_post: Any, make_user: Any, gate_settings: Any) -> Post:
    """A post whose published title names the patient, so its address does; its published correction
    (revision 2) keeps the title, and its note for readers quotes the name."""
    post = make_post("published", title=f"How {IDENT} recovered", body=BODY)
    assert post.slug is not None and SLUGGED in post.slug
    change = posts.RevisionInput(
        f"How {IDENT} recovered",
        BODY + "\n\nShe was 61, not 16.",
        ["https://example.org/sleep-study"],
        "correction",
        f"Corrected the age of {IDENT}.",
    )
    revision, _ = posts.revise(session, post.author, post, change, 1)
    editorial.submit(session, post.author, post, gate_settings)
    editorial.approve(session, make_user("editor"), post, revision.number, gate_settings)
    session.commit()
    return post


def test_copies_of_the_text_and_the_address_that_spelled_it_go_too(
    app: Any,
    api: Any,
    client: Any,
    session: Session,
    titled: Post,
    make_post: Any,
    make_user: Any,
    editors: Any,
) -> None:
    from app.comments.models import ModerationDecision
    from app.contact import services as contact
    from app.contact.models import ContactReply
    from app.moderation.services import moderate
    from app.posts.models import PostSlug
    from app.web.outside import site

    first, second, _third = editors
    post = titled
    old_slug = post.slug
    # A comment a moderator turned down, quoting it; a contact message a staff member answered, quoting it.
    comment = Comment(
        post_id=post.id,
        author_name="Reader",
        author_email="r@example.org",
        body=f"Hi {IDENT}!",
        html="<p>x</p>",
        permalink=f"http://localhost/posts/{old_slug}",
    )
    session.add(comment)
    session.flush()
    moderator = make_user("moderator")
    moderate(session, moderator, comment, "off_topic", f"We do not name patients like {IDENT} here.")
    message = contact.submit(
        session, contact.ContactInput("Ada", "ada@example.net", "About my aunt", BODY), min_seconds=0
    )
    with app.test_request_context("/"):
        contact.reply(session, moderator, message, f"Thank you; {IDENT} is well.", site())
    session.commit()
    assert client.get(f"/posts/{old_slug}").status_code == 200
    dump = _dump(session)
    for where in ("audit_entries", "post_slugs", "contact_replies", "moderation_decisions"):
        assert any(IDENT in line or SLUGGED in line for line in dump.splitlines() if line.startswith(where))

    # Published revisions: asked by one editor, confirmed by another; the rest at once.
    for number in (1, 2):
        pending = _ask(api, first, post, number).get_json()
        done = api.post(f"/api/v1/redactions/{pending['id']}/confirm", as_=second)
        assert done.status_code == 200, done.get_json()
    for target, record in (("comment", comment), ("contact_message", message)):
        r = api.post(
            "/api/v1/redactions",
            {"target": target, "id": record.id, "text": IDENT, "reason": "Patient."},
            as_=first,
        )
        assert r.status_code == 201, r.get_json()

    dump = _dump(session)
    assert IDENT not in dump and SLUGGED not in dump.lower(), [
        line for line in dump.splitlines() if IDENT in line or SLUGGED in line.lower()
    ]
    assert IDENT.encode() not in _sqlite_files(session)
    session.expire_all()
    applied = session.query(AuditEntry).filter_by(action="redaction.applied").order_by(AuditEntry.id).all()
    assert [(e.data["copies_rewritten"], e.data["addresses_retired"]) for e in applied] == [
        (1, 1),  # revision 1: the post.revised entry quoting the name in revision 2's note; the address
        (0, 0),
        (1, 0),  # the comment: the moderator's reason
        (1, 0),  # the message: the staff reply
    ]
    post = session.get(Post, post.id)
    assert post.slug == "how-redacted-patient-identifier-recovered"
    assert [s.slug for s in session.query(PostSlug).filter_by(post_id=post.id)] == [post.slug]
    note = (
        session.query(AuditEntry).filter_by(post_id=post.id, action="post.revised", revision_number=2).one()
    )
    assert note.note == f"Corrected the age of {MARK}." and note.redaction_count == 1
    assert session.query(ContactReply).one().body == f"Thank you; {MARK} is well."
    decision = session.query(ModerationDecision).filter_by(comment_id=comment.id, action="off_topic").one()
    assert MARK in decision.reason
    assert session.get(Comment, comment.id).permalink == f"http://localhost/posts/{post.slug}"

    # The old address held the identifier: it answers 404, not a redirect; pages and feeds use the new one.
    assert client.get(f"/posts/{old_slug}").status_code == 404
    assert client.get(f"/posts/{post.slug}").status_code == 200
    feed = client.get("/feed.atom").get_data(as_text=True)
    assert f"/posts/{post.slug}" in feed and SLUGGED not in feed and IDENT not in feed
    assert f"/posts/{post.slug}" in client.get("/").get_data(as_text=True)

    # The doors are shut again: no raw UPDATE or DELETE of these rows, nor a replay of a rewrite.
    entry_id = note.id
    slug_id = session.query(PostSlug.id).filter_by(post_id=post.id).scalar()
    _refused(session, "UPDATE audit_entries SET note = 'x' WHERE id = :id", id=entry_id)
    _refused(session, "UPDATE audit_entries SET note = 'x', redaction_count = 2 WHERE id = :id", id=entry_id)
    _refused(session, "UPDATE audit_entries SET note = 'x', redaction_count = 1 WHERE id = :id", id=entry_id)
    _refused(session, "UPDATE audit_entries SET action = 'x' WHERE id = :id", id=entry_id)
    _refused(session, "DELETE FROM audit_entries WHERE id = :id", id=entry_id)
    _refused(session, "UPDATE post_slugs SET slug = 'other' WHERE id = :id", id=slug_id)
    _refused(session, "DELETE FROM post_slugs WHERE id = :id", id=slug_id)
    _refused(session, "UPDATE contact_replies SET body = 'x', redaction_count = 2")
    _refused(session, "UPDATE moderation_decisions SET reason = 'x', redaction_count = redaction_count + 1")
    _refused(session, "DELETE FROM redaction_rewrites")
    _refused(session, "UPDATE redaction_rewrites SET row_id = 1")
    # A forged rewrite row naming the current address does not let it go while the post uses it.
    application_id = session.execute(
        text("SELECT id FROM redaction_applications WHERE post_id = :p ORDER BY id LIMIT 1"), {"p": post.id}
    ).scalar()
    session.execute(
        text(
            "INSERT INTO redaction_rewrites (application_id, table_name, row_id, sequence) "
            "VALUES (:a, 'post_slugs', :s, 1)"
        ),
        {"a": application_id, "s": slug_id},
    )
    _refused(session, "DELETE FROM post_slugs WHERE id = :id", id=slug_id)
    # Nor a forged rewrite row of another post's application for an audit entry of this one.
    other = make_post("draft", body=BODY)
    assert _ask(api, first, other).get_json()["state"] == "applied"
    foreign = session.execute(
        text("SELECT id FROM redaction_applications WHERE post_id = :p"), {"p": other.id}
    ).scalar()
    session.execute(
        text(
            "INSERT INTO redaction_rewrites (application_id, table_name, row_id, sequence) "
            "VALUES (:a, 'audit_entries', :e, 2)"
        ),
        {"a": foreign, "e": entry_id},
    )
    _refused(session, "UPDATE audit_entries SET note = 'x', redaction_count = 2 WHERE id = :id", id=entry_id)


def test_two_redactions_of_one_post_at_once_both_apply(
    app: Any, api: Any, session: Session, titled: Post, editors: Any, make_token: Any
) -> None:
    """Both revisions' redactions rewrite the same audit entry and retire the same address: the second
    waits for the first, then finds them clean (no 500, no second rewrite)."""
    first, second, third = editors
    pending = {n: _ask(api, first, titled, n).get_json()["id"] for n in (1, 2)}
    who = {1: (second, make_token(second)), 2: (third, make_token(third))}
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def confirm(number: int) -> None:
        with app.test_client() as c:
            barrier.wait()
            r = c.post(
                f"/api/v1/redactions/{pending[number]}/confirm",
                json={},
                headers={"Authorization": f"Bearer {who[number][1]}"},
            )
            codes.append(r.status_code)
            bodies.append(r.get_json())

    bodies: list[Any] = []
    threads = [threading.Thread(target=confirm, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200], bodies
    dump = _dump(session)
    assert IDENT not in dump and SLUGGED not in dump.lower()
    rewrites = session.execute(
        text("SELECT table_name, row_id, count(*) FROM redaction_rewrites GROUP BY table_name, row_id")
    ).all()
    assert rewrites and all(n == 1 for _t, _r, n in rewrites)
    assert session.execute(text("SELECT count(*) FROM post_slugs")).scalar() == 1


def test_a_drafts_redaction_never_moves_the_address(
    api: Any, client: Any, session: Session, titled: Post, editors: Any
) -> None:
    """One editor may redact a draft at once; only a redaction of published text (two editors) moves the
    address, since only a published title ever gave one."""
    draft = posts.RevisionInput(
        f"How {IDENT} recovered, again", BODY, ["https://example.org/sleep-study"], "update", "More."
    )
    revision, _ = posts.revise(session, titled.author, titled, draft, 2)
    session.commit()
    slug = titled.slug
    assert _ask(api, editors[0], titled, revision.number).get_json()["state"] == "applied"
    session.expire_all()
    assert session.get(Post, titled.id).slug == slug
    assert client.get(f"/posts/{slug}").status_code == 200


def test_a_redaction_reaches_the_library_alt_text_and_name_of_the_posts_images(
    api: Any, client: Any, session: Session, make_user: Any, editors: Any
) -> None:
    """The identifier written in an image's library alt text (filled in on the page when the Markdown
    gives none) or in its name goes with the revision's text."""
    from app.media import services as media
    from app.media.models import Media
    from app.media.storage import DatabaseStore
    from tests.support.images import photo

    author = make_user("author")
    image, _ = media.upload(
        session,
        author,
        io.BytesIO(photo("PNG", (40, 30))),
        name=f"{IDENT} bed 3.png",
        alt=f"{IDENT} in bed 3",
        decorative=False,
        shows_patient=False,
        store=DatabaseStore(),
        limits=media.Limits(max_bytes=10_000_000, max_pixels=10_000_000),
    )
    untouched, _ = media.upload(
        session,
        author,
        io.BytesIO(photo("PNG", (50, 30))),
        name="ward.png",
        alt="The ward",
        decorative=False,
        shows_patient=False,
        store=DatabaseStore(),
        limits=media.Limits(max_bytes=10_000_000, max_pixels=10_000_000),
    )
    body = f"{IDENT} went home.\n\n![]({image.path})\n\n![]({untouched.path})"
    post = posts.create_draft(session, author, posts.RevisionInput("Home", body, ["https://example.org/a"]))
    session.commit()
    assert f'alt="{IDENT} in bed 3"' in post.current_revision.html

    done = _ask(api, editors[0], post)
    assert done.status_code == 201 and done.get_json()["state"] == "applied", done.get_json()
    session.expire_all()
    assert IDENT not in _dump(session)
    cleaned = session.get(Media, image.id)
    assert (cleaned.alt, cleaned.name) == (f"{MARK} in bed 3", f"{MARK} bed 3.png")
    assert (session.get(Media, untouched.id).alt, session.get(Media, untouched.id).name) == (
        "The ward",
        "ward.png",
    )
    revision = session.query(Revision).filter_by(post_id=post.id, number=1).one()
    assert f'alt="{MARK} in bed 3"' in revision.html
    applied = session.query(AuditEntry).filter_by(action="redaction.applied").one()
    assert applied.data["images_rewritten"] == 1


def test_a_redacted_comment_s_offtopic_example_is_reencoded_from_the_redacted_text(
    api: Any, session: Session, make_post: Any, make_user: Any, editors: Any
) -> None:
    """The example a moderator's decision kept is a vector of the comment's words: a redaction of the
    comment re-encodes it from the redacted text through the same application, and no other UPDATE."""
    from app.comments.learning import OffTopicExample
    from app.moderation.services import moderate
    from app.spam import embedding

    post = make_post("published")
    comment = Comment(
        post_id=post.id,
        author_name="Reader",
        author_email="r@example.org",
        body=f"My aunt {IDENT} slept badly on the ward.",
        html="<p>x</p>",
    )
    session.add(comment)
    session.flush()
    moderate(session, make_user("moderator"), comment, "approve")
    session.commit()

    def encoded(body: str) -> bytes:
        return embedding.to_bytes(embedding.encoder().encode(body, max_tokens=embedding.COMMENT_TOKENS))

    example = session.query(OffTopicExample).filter_by(comment_id=comment.id).one()
    assert example.vector == encoded(comment.body) and example.redaction_count == 0
    example_id = example.id
    # No way round the application: not a new vector, not one dressed as a redaction that never happened.
    _refused(session, "UPDATE offtopic_examples SET vector = vector || '' WHERE id = :id", id=example_id)
    _refused(
        session,
        "UPDATE offtopic_examples SET vector = :v, redaction_count = 1 WHERE id = :id",
        v=encoded("anything"),
        id=example_id,
    )

    r = api.post(
        "/api/v1/redactions",
        {"target": "comment", "id": comment.id, "text": IDENT, "reason": "Patient."},
        as_=editors[0],
    )
    assert r.status_code == 201, r.get_json()
    session.expire_all()
    redacted = session.get(Comment, comment.id).body
    assert IDENT not in redacted
    example = session.get(OffTopicExample, example_id)
    assert example.vector == encoded(redacted) != encoded(f"My aunt {IDENT} slept badly on the ward.")
    assert (example.redaction_count, example.on_topic, example.comment_id) == (1, True, comment.id)
    applied = session.query(AuditEntry).filter_by(action="redaction.applied").one()
    assert applied.data["offtopic_examples_reencoded"] == 1
    # The door shuts behind the application: replaying it, or flipping the label with it, is refused.
    _refused(
        session,
        "UPDATE offtopic_examples SET vector = :v, redaction_count = 1 WHERE id = :id",
        v=encoded("anything"),
        id=example_id,
    )
    _refused(session, "UPDATE offtopic_examples SET on_topic = NOT on_topic WHERE id = :id", id=example_id)
    _refused(session, "DELETE FROM offtopic_examples WHERE id = :id", id=example_id)
