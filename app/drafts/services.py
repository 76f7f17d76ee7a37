"""Keep, offer and drop a writer's autosaved working copy of a post.

The buffer is not a revision: autosave overwrites it as often as the editor likes, and only Save makes a
revision (and drops the buffer). It is offered back when it is newer than the post's current revision,
so a closed tab or a crash loses at most the last few seconds of typing.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.clock import utc_now
from app.drafts.models import DraftBuffer
from app.errors import InvalidInput
from app.posts.models import Post
from app.posts.rendering import MAX_SOURCE_CHARS
from app.text import clean_text

MAX_TITLE = 300
MAX_BODY = MAX_SOURCE_CHARS
MAX_REFERENCES = 100_000


def save(
    session: Session, user: User, post: Post, *, title: object, body: object, references: object, base: int
) -> DraftBuffer:
    """Store ``user``'s working copy of ``post``, replacing the previous one."""
    require(user, "post.revise", post)
    title_text = clean_text(title, "title", max_chars=MAX_TITLE, required=False)
    body_text = clean_text(body, "body", max_chars=MAX_BODY, required=False, multiline=True)
    refs = clean_text(references, "references", max_chars=MAX_REFERENCES, required=False, multiline=True)
    query = select(DraftBuffer).where(DraftBuffer.post_id == post.id, DraftBuffer.user_id == user.id)
    if session.get_bind().dialect.name == "postgresql":
        # The row, or for a first autosave the post: two tabs autosaving at once take turns.
        session.execute(select(Post.id).where(Post.id == post.id).with_for_update())
        query = query.with_for_update()
    buffer = session.scalars(query).first()
    if buffer is None:
        buffer = DraftBuffer(post_id=post.id, user_id=user.id)
        session.add(buffer)
    buffer.base_revision, buffer.title, buffer.body, buffer.references = base, title_text, body_text, refs
    buffer.saved_at = utc_now()
    session.flush()
    return buffer


def offered(session: Session, user: User, post: Post) -> DraftBuffer | None:
    """The buffer to offer back, when it differs from and is newer than the current revision."""
    buffer = session.scalars(
        select(DraftBuffer).where(DraftBuffer.post_id == post.id, DraftBuffer.user_id == user.id)
    ).first()
    revision = post.current_revision
    if buffer is None or revision is None:
        return None
    same = (buffer.title, buffer.body, buffer.references) == (
        revision.title,
        revision.body,
        "\n".join(revision.references),
    )
    if same or buffer.saved_at <= revision.created_at:
        return None
    return buffer


def save_new(session: Session, user: User, *, title: object, body: object, references: object) -> DraftBuffer:
    """Store ``user``'s working copy of a post they have not saved yet (one per writer), replacing the
    previous one: the first minutes of a new post are kept like any other."""
    require(user, "post.create")
    title_text = clean_text(title, "title", max_chars=MAX_TITLE, required=False)
    body_text = clean_text(body, "body", max_chars=MAX_BODY, required=False, multiline=True)
    refs = clean_text(references, "references", max_chars=MAX_REFERENCES, required=False, multiline=True)
    query = select(DraftBuffer).where(DraftBuffer.post_id.is_(None), DraftBuffer.user_id == user.id)
    if session.get_bind().dialect.name == "postgresql":
        # Two tabs' first autosaves at once: the writer's row orders them (the partial unique index
        # would refuse the second insert).
        session.execute(select(User.id).where(User.id == user.id).with_for_update())
        query = query.with_for_update()
    buffer = session.scalars(query).first()
    if buffer is None:
        buffer = DraftBuffer(post_id=None, user_id=user.id)
        session.add(buffer)
    buffer.base_revision, buffer.title, buffer.body, buffer.references = 0, title_text, body_text, refs
    buffer.saved_at = utc_now()
    session.flush()
    return buffer


def offered_new(session: Session, user: User) -> DraftBuffer | None:
    """``user``'s autosaved text of a post never saved, if it holds any words."""
    buffer = session.scalars(
        select(DraftBuffer).where(DraftBuffer.post_id.is_(None), DraftBuffer.user_id == user.id)
    ).first()
    if buffer is None or not (buffer.title.strip() or buffer.body.strip() or buffer.references.strip()):
        return None
    return buffer


def drop_new(session: Session, user: User) -> None:
    """Forget ``user``'s new-post working copy (the post was saved, or they discarded it)."""
    session.execute(delete(DraftBuffer).where(DraftBuffer.post_id.is_(None), DraftBuffer.user_id == user.id))


def drop(session: Session, user: User, post: Post) -> None:
    """Forget ``user``'s working copy (after a Save made it a revision, or when they discard it)."""
    session.execute(delete(DraftBuffer).where(DraftBuffer.post_id == post.id, DraftBuffer.user_id == user.id))


def base_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise InvalidInput("base_revision must be a revision number.", field="base_revision")
    return value
