"""History is sacred: stored revisions and publications refuse UPDATE and DELETE, in ORM and database."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app.posts.models import Revision


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE post_revisions SET body = 'rewritten' WHERE id = :id",
        "UPDATE post_revisions SET title = 'rewritten', html = '' WHERE id = :id",
        "DELETE FROM post_revisions WHERE id = :id",
    ],
)
def test_raw_sql_cannot_change_a_stored_revision(session, make_post, statement):
    post = make_post("published", body="The original words.")
    revision_id = post.published_revision_id
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text(statement), {"id": revision_id})
        session.flush()
    session.rollback()
    assert session.get(Revision, revision_id).body == "The original words."


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE publications SET approved_by_id = approved_by_id WHERE post_id = :id",
        "DELETE FROM publications WHERE post_id = :id",
    ],
)
def test_raw_sql_cannot_change_a_publication_record(session, make_post, statement):
    post = make_post("published")
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text(statement), {"id": post.id})
    session.rollback()
    count = session.execute(
        text("SELECT count(*) FROM publications WHERE post_id = :id"), {"id": post.id}
    ).scalar()
    assert count == 1


def test_the_orm_refuses_to_update_a_revision(session, make_post):
    post = make_post("draft")
    revision = session.get(Revision, post.current_revision_id)
    revision.body = "sneaky"
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()


def test_the_orm_refuses_to_delete_a_revision(session, make_post):
    post = make_post("draft")
    session.delete(session.get(Revision, post.current_revision_id))
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()


def test_inserting_new_revisions_still_works_after_a_refused_change(api, session, make_post):
    post = make_post("draft")
    with pytest.raises(DatabaseError):
        session.execute(text("DELETE FROM post_revisions WHERE post_id = :id"), {"id": post.id})
    session.rollback()
    r = api.post(f"/api/v1/posts/{post.id}/revisions", {"body": "Next.", "base_revision": 1}, as_=post.author)
    assert r.status_code == 201 and r.get_json()["revision"] == 2
