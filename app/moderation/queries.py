"""Reading comments as moderators do: the queue by status, reason and search, counts, the log, a comment's
context, and who waits for a staff reply.

Queries only (no verbs, nothing written); those only moderators may see check with ``require`` first.
No Flask here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.comments import closing
from app.comments.models import Comment, CommentStatus, ModerationDecision
from app.errors import InvalidInput
from app.posts.models import Post
from app.spam import pipeline
from app.text import clean_text

S = CommentStatus


def moderation_queue(
    session: Session,
    actor: User,
    *,
    status: str | None = "held",
    reason: str | None = None,
    search: str = "",
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[Comment], bool]:
    """Comments for moderators: held ones oldest first (a queue), the others newest first."""
    require(actor, "comments.moderate")
    query = select(Comment)
    if status:
        if status not in {s.value for s in CommentStatus}:
            raise InvalidInput(
                f"status must be one of {', '.join(s.value for s in CommentStatus)}.", field="status"
            )
        query = query.where(Comment.status == status)
    if reason:
        pattern = f'%"{reason}%' if reason.endswith(":") else f'%"{reason}"%'
        query = query.where(cast(Comment.reasons, Text).like(pattern))
    # The same text rules as any input: a NUL cannot even be compared with a PostgreSQL text column.
    search = clean_text(search[:200], "q", max_chars=200, required=False)
    if search.strip():
        needle = search.strip().lower()
        query = query.where(
            or_(
                *(
                    func.lower(col).contains(needle, autoescape=True)
                    for col in (Comment.body, Comment.author_name, Comment.author_email)
                )
            )
        )
    order = (
        (Comment.created_at, Comment.id)
        if status == "held"
        else (Comment.created_at.desc(), Comment.id.desc())
    )
    rows = session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page + 1)).all()
    return list(rows[:per_page]), len(rows) > per_page


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Comment.status, func.count(Comment.id)).group_by(Comment.status)).all()
    return {s.value: 0 for s in CommentStatus} | {status: n for status, n in rows}


def held_reason_counts(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reasons in session.scalars(select(Comment.reasons).where(Comment.status == S.HELD)):
        for reason in reasons or ():
            counts[reason] = counts.get(reason, 0) + 1
    return {r: counts[r] for r in pipeline.sorted_reasons(list(counts))}


def moderation_log(
    session: Session, actor: User, *, page: int = 1, per_page: int = 50
) -> tuple[list[tuple[ModerationDecision, Comment]], bool]:
    """Every decision, newest first, with its comment: nothing a moderator did is ever out of sight."""
    require(actor, "comments.moderate")
    rows = session.execute(
        select(ModerationDecision, Comment)
        .join(Comment, Comment.id == ModerationDecision.comment_id)
        .order_by(ModerationDecision.at.desc(), ModerationDecision.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return [(d, c) for d, c in rows[:per_page]], len(rows) > per_page


def ancestors(session: Session, comment: Comment, limit: int = 10) -> list[Comment]:
    """The comments above ``comment`` in its thread, oldest first: the context a moderator needs."""
    chain: list[Comment] = []
    current = comment
    while current.parent_id is not None and len(chain) < limit:
        parent = session.get(Comment, current.parent_id)
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return list(reversed(chain))


def replies_to(session: Session, comment: Comment) -> list[Comment]:
    return list(
        session.scalars(
            select(Comment).where(Comment.parent_id == comment.id).order_by(Comment.created_at, Comment.id)
        )
    )


def posts_by_id(session: Session, post_ids: set[int]) -> dict[int, Post]:
    if not post_ids:
        return {}
    return {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(post_ids)))}


def waiting_for_reply(session: Session, close_after_days: int = 0) -> list[Comment]:
    """Published reader comments that ask something of staff and have no staff reply yet, oldest first.

    Not on posts whose comments are closed (by an editor, or by age): nobody can reply there, so the
    duty ends with them.
    """
    return list(
        session.scalars(
            select(Comment)
            .join(Post, Post.id == Comment.post_id)
            .where(
                Comment.status == S.PUBLISHED,
                Comment.needs_reply.is_(True),
                Comment.staff_user_id.is_(None),
                ~closing.closed_condition(close_after_days),
            )
            .order_by(Comment.created_at, Comment.id)
        )
    )


def summary(comment: Comment) -> dict[str, Any]:
    """The comment as the moderation API shows it."""
    return {
        "id": comment.id,
        "post_id": comment.post_id,
        "parent_id": comment.parent_id,
        "status": comment.status,
        "reasons": list(comment.reasons),
        "author_name": comment.author_name,
        "author_email": comment.author_email,
        "author_ip": comment.author_ip,
        "body": comment.body,
        "html": comment.html,
        "created_at": comment.created_at.isoformat(),
        "staff": comment.is_staff,
        "relevance": {"score": comment.relevance_score, "drivers": comment.relevance_drivers},
        "checks": list(comment.checks),
        "akismet": comment.akismet_verdict or None,
        "needs_reply": comment.needs_reply,
    }
