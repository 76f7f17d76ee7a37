"""Closing a post's comments: by an editor's act (audited), or by age after first publication.

Closed means no new comment or reply is taken (the API and the form answer 409 with the reason) and the
form gives way to "Comments are closed"; published comments stay. Age is counted from the first
publication, ``CANDOR_COMMENTS_CLOSE_AFTER_DAYS`` (0 or unset: never), and needs no stored row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, or_
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.audit.services import record
from app.clock import utc_now
from app.comments.models import CommentClosure
from app.errors import CommentsClosed, InvalidTransition
from app.posts.models import Post


def closed_by_age(first_published_at: datetime | None, days: int, now: datetime | None = None) -> bool:
    if not days or first_published_at is None:
        return False
    return first_published_at + timedelta(days=days) <= (now or utc_now())


def closure(session: Session, post: Post) -> CommentClosure | None:
    return session.get(CommentClosure, post.id)


def closed_reason(session: Session, post: Post, days: int) -> str | None:
    """Why ``post`` takes no new comments, in words for readers, or None if it takes them."""
    if post.is_page:
        return reason_for(is_page=True, closed=False, first_published_at=None, days=days)
    closed = closure(session, post) is not None
    return reason_for(is_page=False, closed=closed, first_published_at=post.first_published_at, days=days)


def reason_for(*, is_page: bool, closed: bool, first_published_at: datetime | None, days: int) -> str | None:
    """``closed_reason`` from facts already read (a page? closed by an editor? first published when?)."""
    if is_page:
        return "Pages take no comments."
    if closed:
        return "Comments are closed on this post."
    if closed_by_age(first_published_at, days):
        return f"Comments are closed on this post: they close {days} days after publication."
    return None


def require_open(session: Session, post: Post, days: int) -> None:
    reason = closed_reason(session, post, days)
    if reason is not None:
        raise CommentsClosed(reason)


def closed_condition(days: int, now: datetime | None = None) -> ColumnElement[bool]:
    """SQL: the post (``Post``, joined) takes no new comments. For lists that stop when comments close."""
    by_editor = exists().where(CommentClosure.post_id == Post.id)
    if not days:
        return or_(by_editor, false())
    cutoff = (now or utc_now()) - timedelta(days=days)
    return or_(by_editor, and_(Post.first_published_at.is_not(None), Post.first_published_at <= cutoff))


def _lock(session: Session, post: Post) -> None:
    """Two editors closing at once take turns on the post's row: the second sees the first's closure."""
    session.refresh(post, with_for_update={"of": Post})


def close(session: Session, actor: User, post: Post, reason: str = "") -> CommentClosure:
    require(actor, "comments.close", post)
    if post.published_revision_id is None:
        raise InvalidTransition("Only a published post has comments to close.")
    _lock(session, post)
    existing = session.get(CommentClosure, post.id)
    if existing is not None:
        raise InvalidTransition("Comments on this post are already closed.")
    row = CommentClosure(post_id=post.id, closed_by_id=actor.id, closed_at=utc_now(), reason=reason.strip())
    session.add(row)
    session.flush()
    record(session, actor, "comments.closed", post_id=post.id, note=row.reason)
    return row


def reopen(session: Session, actor: User, post: Post) -> None:
    require(actor, "comments.close", post)
    _lock(session, post)
    existing = session.get(CommentClosure, post.id)
    if existing is None:
        raise InvalidTransition("Comments on this post are not closed by an editor.")
    session.delete(existing)
    session.flush()
    record(session, actor, "comments.reopened", post_id=post.id)
