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


MAX_THREAD_DEPTH = 6
"""Replies nest at most this deep on the page; deeper ones line up under the last level shown."""


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
    depth: dict[int, int] = {}
    # Where replies to a comment go: the comment itself, or past MAX_THREAD_DEPTH its deepest ancestor
    # shown, so a chain of replies thousands long renders as a flat run, never a recursion a page dies in.
    receiver: dict[int, Node] = {}
    for c in comments:
        node = nodes[c.id]
        parent = receiver.get(c.parent_id) if c.parent_id is not None else None
        if parent is None:
            roots.append(node)
            depth[c.id] = 0
        else:
            parent.children.append(node)
            depth[c.id] = depth[parent.comment.id] + 1
        receiver[c.id] = node if depth[c.id] < MAX_THREAD_DEPTH else (parent or node)
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
