"""Reading comments: one comment, the public thread, and a comment's decisions.

Queries only (no verbs, nothing written); what only moderators see is app.moderation.queries.
No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from app import cursors
from app.comments.models import Comment, CommentStatus, ModerationDecision
from app.errors import NotFound
from app.posts.models import Post

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

THREADS_PER_PAGE = 50
"""Top-level comments (each with its first replies) on a post page or a page of its comments."""

REPLIES_PER_THREAD = 10
"""Replies shown under a top-level comment on such a page; a link leads to the rest, a page at a time."""

REPLIES_PER_PAGE = 100
"""Replies on a page of one thread's replies."""


@dataclass
class ThreadPage:
    """One page of a post's comments: top-level threads with their first replies, and where more are."""

    roots: list[Node]
    count: int  # the post's published comments, all pages (posts.comment_count: stored, not counted)
    next_cursor: str | None  # more threads after these
    more_replies: dict[int, str] = field(default_factory=dict)  # root id -> cursor of its further replies
    previous_cursor: str | None = None  # the threads before these (``?before=``), when read from a cursor


def _tree(roots: list[Comment], replies: list[Comment]) -> list[Node]:
    """Nest ``replies`` (oldest first) under ``roots``; a reply whose parent is not shown (removed, or on
    another page) joins its thread's top level rather than disappearing."""
    nodes = {c.id: Node(c) for c in (*roots, *replies)}
    depth = {r.id: 0 for r in roots}
    # Where replies to a comment go: the comment itself, or past MAX_THREAD_DEPTH its deepest ancestor
    # shown, so a chain of replies thousands long renders as a flat run, never a recursion a page dies in.
    receiver: dict[int, Node] = {r.id: nodes[r.id] for r in roots}
    for c in replies:
        node = nodes[c.id]
        parent = receiver.get(c.parent_id) if c.parent_id is not None else None
        if parent is None:
            parent = receiver.get(c.thread_id) if c.thread_id is not None else None
        if parent is None:
            continue
        parent.children.append(node)
        depth[c.id] = depth[parent.comment.id] + 1
        receiver[c.id] = node if depth[c.id] < MAX_THREAD_DEPTH else parent
    return [nodes[r.id] for r in roots]


def _replies(session: Session, thread_ids: list[int], limit: int) -> dict[int, list[Comment]]:
    """The first ``limit`` published replies of each thread, oldest first: one indexed seek per thread,
    in one statement (a UNION ALL of limited selects), whatever the threads' sizes."""
    if not thread_ids:
        return {}
    arms = [
        select(Comment.id)
        .where(Comment.thread_id == t, Comment.status == S.PUBLISHED)
        .order_by(Comment.created_at, Comment.id)
        .limit(limit)
        .subquery()
        .select()
        for t in thread_ids
    ]
    ids = select(union_all(*arms).subquery().c.id)
    found: dict[int, list[Comment]] = {t: [] for t in thread_ids}
    for c in session.scalars(
        select(Comment).where(Comment.id.in_(ids)).order_by(Comment.created_at, Comment.id)
    ):
        found[c.thread_id].append(c)  # type: ignore[index]
    return found


def thread(
    session: Session,
    post: Post,
    *,
    after: str | None = None,
    before: str | None = None,
    newest_first: bool = False,
) -> ThreadPage:
    """A page of ``post``'s published comments as threads: ``THREADS_PER_PAGE`` top-level comments (oldest
    first, or newest first) from the cursor ``after``, each with its first ``REPLIES_PER_THREAD`` replies.

    Keyset on the partial index ix_comments_post_roots, replies from ix_comments_thread_status_created:
    page 1,000 costs what page 1 does, and a thread of 20,000 replies what a thread of 20 does.
    """
    kind = f"threads:{post.id}:{'new' if newest_first else 'old'}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    query = select(Comment).where(
        Comment.post_id == post.id, Comment.parent_id.is_(None), Comment.status == S.PUBLISHED
    )
    query = cursors.after(
        query, (Comment.created_at, Comment.id), key, descending=newest_first, backward=backward
    )
    rows = session.scalars(query.limit(THREADS_PER_PAGE + 1)).all()
    found = cursors.page(
        rows, THREADS_PER_PAGE, kind, lambda c: (c.created_at, c.id), key=key, backward=backward
    )
    roots, next_cursor = found
    replies = _replies(session, [r.id for r in roots], REPLIES_PER_THREAD + 1)
    more = {}
    shown: list[Comment] = []
    for root in roots:
        mine = replies[root.id]
        if len(mine) > REPLIES_PER_THREAD:
            last = mine[REPLIES_PER_THREAD - 1]
            more[root.id] = cursors.encode(f"replies:{root.id}", (last.created_at, last.id))
        shown.extend(mine[:REPLIES_PER_THREAD])
    shown.sort(key=lambda c: (c.created_at, c.id))
    return ThreadPage(_tree(roots, shown), post.comment_count, next_cursor, more, found.previous)


def thread_replies(
    session: Session, post: Post, root: Comment, *, after: str | None = None, before: str | None = None
) -> cursors.Page:
    """A page of one thread's replies, oldest first, after the cursor ``after``, nested among themselves."""
    kind = f"replies:{root.id}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    query = select(Comment).where(Comment.thread_id == root.id, Comment.status == S.PUBLISHED)
    query = cursors.after(query, (Comment.created_at, Comment.id), key, descending=False, backward=backward)
    rows = session.scalars(query.limit(REPLIES_PER_PAGE + 1)).all()
    found = cursors.page(
        rows, REPLIES_PER_PAGE, kind, lambda c: (c.created_at, c.id), key=key, backward=backward
    )
    replies, next_cursor = found
    # Each reply whose parent is on this page nests under it; the others start a run of their own.
    nodes = {c.id: Node(c) for c in replies}
    top: list[Node] = []
    for c in replies:
        parent = nodes.get(c.parent_id) if c.parent_id is not None else None
        (parent.children if parent is not None else top).append(nodes[c.id])
    return cursors.Page(top, next_cursor, found.previous)


def public_comments(
    session: Session, post_id: int, *, after: str | None = None, per_page: int = 50
) -> tuple[list[Comment], str | None]:
    """A post's published comments, oldest first, a page at a time (the comments API)."""
    kind = f"comments:{post_id}"
    key = cursors.decode(after, kind, (datetime, int))
    query = select(Comment).where(Comment.post_id == post_id, Comment.status == S.PUBLISHED)
    query = cursors.after(query, (Comment.created_at, Comment.id), key, descending=False)
    rows = session.scalars(query.limit(per_page + 1)).all()
    return cursors.page(rows, per_page, kind, lambda c: (c.created_at, c.id))


def decisions_for(session: Session, comment_id: int) -> list[ModerationDecision]:
    return list(
        session.scalars(
            select(ModerationDecision)
            .where(ModerationDecision.comment_id == comment_id)
            .order_by(ModerationDecision.at, ModerationDecision.id)
        )
    )
