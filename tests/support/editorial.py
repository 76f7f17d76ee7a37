"""Editorial steps for tests that need a corrected or retracted post without going through HTTP."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.accounts.models import User
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.posts import services as posts
from app.posts.models import Post, Retraction, Revision


def publish_change(
    session: Session,
    post: Post,
    editor: User,
    settings: GateSettings,
    *,
    body: str,
    kind: str = "correction",
    note: str = "The dose was wrong.",
) -> Revision:
    """Revise ``post`` as its author, submit it, have ``editor`` approve it (as the API would), commit."""
    current = post.current_revision
    assert current is not None
    change = posts.RevisionInput(current.title, body, list(current.references), kind, note)
    revision, _ = posts.revise(session, post.author, post, change, current.number)
    editorial.submit(session, post.author, post, settings)
    editorial.approve(session, editor, post, revision.number, settings)
    session.commit()
    return revision


def retract(session: Session, post: Post, editor: User, reason: str) -> Retraction:
    retraction = editorial.retract(session, editor, post, reason)
    session.commit()
    return retraction
