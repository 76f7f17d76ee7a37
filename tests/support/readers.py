"""A published post with returning readers, for the benchmarks that flood it with comments.

The sleep-hygiene post (an author with a disclosure, approved by an editor) and ``readers`` readers
whose earlier comment a moderator approved, each with the address 10.0.0.1: a new comment from one of
them is from a returning reader, so Akismet's answer decides it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.accounts.models import Role
from app.accounts.services import create_user
from app.clock import utc_now
from app.comments.models import Action, Comment, CommentStatus, ModerationDecision
from app.disclosures.services import record_disclosure
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.posts import services as posts
from app.posts.models import Post


def sleep_post_with_readers(session: Session, readers: int, earlier: Callable[[int], str]) -> Post:
    """Commit the post and the readers' approved comments (reader ``i`` wrote ``earlier(i)``)."""
    author = create_user(
        session,
        email="a@clinic.example",
        name="Ana Author",
        password="correct horse battery staple",
        roles={Role.AUTHOR},
        title="Physician",
        department="Sleep Medicine",
    )
    editor = create_user(
        session,
        email="e@clinic.example",
        name="Eli Editor",
        password="correct horse battery staple",
        roles={Role.EDITOR},
        title="Editor",
        department="Public Affairs",
    )
    record_disclosure(session, author, no_conflicts=True, interests=[])
    body = "Adults need seven to nine hours of sleep. Sleep hygiene: regular hours, a dark room.\n\n" * 40
    post = posts.create_draft(
        session, author, posts.RevisionInput("Sleep hygiene for adults", body, ["https://example.org/s"])
    )
    editorial.submit(session, author, post, GateSettings())
    editorial.approve(session, editor, post, 1, GateSettings())
    now = utc_now()
    for i in range(readers):
        comment = Comment(
            post_id=post.id,
            author_name=f"Reader {i}",
            author_email=f"reader{i}@example.net",
            author_ip="10.0.0.1",
            body=earlier(i),
            html=f"<p>{earlier(i)}</p>",
            status=CommentStatus.PUBLISHED.value,
            reasons=[],
            checks=[],
            created_at=now,
            status_changed_at=now,
        )
        session.add(comment)
        session.flush()
        session.add(
            ModerationDecision(
                comment_id=comment.id,
                moderator_id=editor.id,
                action=Action.APPROVE.value,
                from_status="held",
                to_status="published",
                reasons=[],
                at=now,
            )
        )
    session.commit()
    return post
