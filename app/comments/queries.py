"""Reading comments: one comment, the public thread, and a comment's decisions.

Queries only (no verbs, nothing written); what only moderators see is app.moderation.queries.
No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments.models import Comment, CommentStatus, ModerationDecision
from app.errors import NotFound

S = CommentStatus


def get_comment(session: Session, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound(f"No comment {comment_id}.")
    return comment


@dataclass
class Node:
    comment: Comment
    children: list[Node] = field(default_factory=list)


def thread(session: Session, post_id: int) -> tuple[list[Node], int]:
    """The published comments of a post as a tree, oldest first, and how many there are.

    A reply whose parent is no longer public (deleted, say) moves up to the top level rather than
    disappearing with it.
    """
    comments = list(
        session.scalars(
            select(Comment)
            .where(Comment.post_id == post_id, Comment.status == S.PUBLISHED)
            .order_by(Comment.created_at, Comment.id)
        )
    )
    nodes = {c.id: Node(c) for c in comments}
    roots: list[Node] = []
    for c in comments:
        parent = nodes.get(c.parent_id) if c.parent_id is not None else None
        (parent.children if parent is not None else roots).append(nodes[c.id])
    return roots, len(comments)


def public_comments(session: Session, post_id: int) -> list[Comment]:
    return list(
        session.scalars(
            select(Comment)
            .where(Comment.post_id == post_id, Comment.status == S.PUBLISHED)
            .order_by(Comment.created_at, Comment.id)
        )
    )


def decisions_for(session: Session, comment_id: int) -> list[ModerationDecision]:
    return list(
        session.scalars(
            select(ModerationDecision)
            .where(ModerationDecision.comment_id == comment_id)
            .order_by(ModerationDecision.at, ModerationDecision.id)
        )
    )
